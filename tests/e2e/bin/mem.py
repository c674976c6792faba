#!/usr/bin/python3
"""Memory shapes for tend's memory tests.

usage:
  mem.py anon DIR MB      main forks a child that forks a grandchild; the
                          grandchild allocates MB MiB of anonymous memory,
                          touches every page, writes DIR/<main pid>.ready
                          ("MAIN CHILD GRANDCHILD") and sleeps; all three
                          wait for ever
  mem.py map DIR FILE     maps FILE (file-backed, read-only) and reads every
                          page, again and again; writes DIR/<pid>.ready once
                          every page was read the first time
  mem.py shm DIR MB       like anon, but the grandchild fills MB MiB of
                          shared memory (a memfd, mapped shared): shmem
"""
import mmap
import os
import sys
import time

PAGE = mmap.PAGESIZE


def ready(d, text):
    tmp = os.path.join(d, f"{os.getpid()}.tmp")
    with open(tmp, "w") as f:
        f.write(text)
    os.rename(tmp, os.path.join(d, f"{os.getpid()}.ready"))


def forever():
    while True:
        time.sleep(3600)


def tree(d, fill):
    main = os.getpid()
    r, w = os.pipe()
    if os.fork() == 0:
        child = os.getpid()
        if os.fork() == 0:
            os.close(r)
            keep = fill()
            os.write(w, f"{main} {child} {os.getpid()}".encode())
            os.close(w)
            forever()
            del keep
        forever()
    os.close(w)
    line = os.read(r, 200).decode()
    ready(d, line)
    forever()


def anon(mb):
    return b"\x01" * (mb << 20)   # written: every page is resident


def shm(mb):
    # A memfd: shmem like /dev/shm, without /dev/shm's size limit (64 MB in
    # some containers).  Mapped shared and written: RssShmem.
    fd = os.memfd_create("tend-test")
    os.ftruncate(fd, mb << 20)
    m = mmap.mmap(fd, mb << 20)
    for off in range(0, mb << 20, PAGE):
        m[off] = 1
    return m


def mapfile(d, path):
    with open(path, "rb") as f:
        m = mmap.mmap(f.fileno(), 0, prot=mmap.PROT_READ)
    size = len(m)
    first = True
    while True:
        total = 0
        for off in range(0, size, PAGE):
            total += m[off]
        if first:
            ready(d, f"{os.getpid()} {total}")
            first = False
        time.sleep(0.2)


def main():
    mode, d = sys.argv[1], sys.argv[2]
    if mode == "anon":
        tree(d, lambda: anon(int(sys.argv[3])))
    elif mode == "shm":
        tree(d, lambda: shm(int(sys.argv[3])))
    elif mode == "map":
        mapfile(d, sys.argv[3])
    else:
        sys.exit(f"unknown mode {mode}")


main()
