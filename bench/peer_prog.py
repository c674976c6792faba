#!/usr/bin/python3
"""The Python services of bench/compare.py; each says one line to the
bench's FIFO when it is up ("TAG PID WHAT ..."), then works until killed.

  peer_prog.py map FIFO TAG FILE   maps FILE read-only and reads every page
                                   (file-backed RSS), again every 0.5 s;
                                   says "mapped", or "refused ERROR"
                                   and exits 1 when the mapping fails
  peer_prog.py anon FIFO TAG MB    forks a child that writes MB MiB of
                                   anonymous memory; says "allocated CHILD"
                                   once every page is written (or
                                   "refused CHILD" when the allocation
                                   fails: an rlimit); both then wait
  peer_prog.py serve FIFO TAG PORT listens on 127.0.0.1:PORT and answers
                                   every connection with its pid; says
                                   "listening" (or "bind-failed", exit 1)
  peer_prog.py stdio FIFO TAG      answers every line of stdin with
                                   "PID LINE"; says "started"
"""
import mmap
import os
import socket
import sys
import time


KEEP = []


def say(fifo, tag, *what):
    line = " ".join([tag, str(os.getpid())] + [str(w) for w in what]) + "\n"
    fd = os.open(fifo, os.O_WRONLY | os.O_APPEND)
    os.write(fd, line.encode())
    os.close(fd)


def forever():
    while True:
        time.sleep(3600)


def mapfile(fifo, tag, path):
    try:
        with open(path, "rb") as f:
            m = mmap.mmap(f.fileno(), 0, prot=mmap.PROT_READ)
    except (OSError, MemoryError) as e:
        say(fifo, tag, "refused", type(e).__name__)
        sys.exit(1)
    first = True
    while True:
        total = 0
        for off in range(0, len(m), mmap.PAGESIZE):
            total += m[off]
        if first:
            say(fifo, tag, "mapped")
            first = False
        time.sleep(0.5)


def anon(fifo, tag, mb):
    child = os.fork()
    if child == 0:
        try:
            KEEP.append(b"\x01" * (mb << 20))   # written: every page resident
            say(fifo, tag, "allocated", os.getpid())
        except MemoryError:
            say(fifo, tag, "refused", os.getpid())
    forever()


def serve(fifo, tag, port):
    s = socket.socket()
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        s.bind(("127.0.0.1", port))
    except OSError:
        say(fifo, tag, "bind-failed")
        sys.exit(1)
    s.listen(1024)
    say(fifo, tag, "listening")
    me = b"%d\n" % os.getpid()
    while True:
        c, _ = s.accept()
        try:
            c.sendall(me)
        except OSError:
            pass
        c.close()


def stdio(fifo, tag):
    say(fifo, tag, "started")
    me = b"%d " % os.getpid()
    out = sys.stdout.buffer
    for line in sys.stdin.buffer:
        out.write(me + line)
        out.flush()


def main():
    mode, fifo, tag = sys.argv[1:4]
    if mode == "map":
        mapfile(fifo, tag, sys.argv[4])
    elif mode == "anon":
        anon(fifo, tag, int(sys.argv[4]))
    elif mode == "serve":
        serve(fifo, tag, int(sys.argv[4]))
    elif mode == "stdio":
        stdio(fifo, tag)
    else:
        sys.exit("peer_prog.py: unknown mode %s" % mode)


main()
