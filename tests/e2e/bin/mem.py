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
  mem.py shared DIR MB N  main maps MB MiB MAP_SHARED|MAP_ANONYMOUS and
                          writes every page, then forks N children that
                          read every page (one segment, N+1 mappers);
                          once all did, writes DIR/<main pid>.ready ("MAIN
                          CHILD..."); all wait for ever
  mem.py cow DIR MB N     like shared, but main fills MB MiB of private
                          anonymous memory and the N children only read it
                          (copy-on-write pages, never copied: shared from
                          the fork on, not page by page as they are read)
  mem.py shared|cow DIR MB N SECS
                          the same, then main exits SECS seconds after the
                          ready file (its children killed first)
  mem.py churn DIR MB N SECS
                          main fills MB MiB of private anonymous memory,
                          then for SECS seconds forks N children that share
                          it copy-on-write and touch nothing, and after a
                          moment (a few ms to 40 ms, varied) kills them in
                          a burst (SIGKILL to each, then reaps each); writes
                          DIR/<main pid>.ready ("MAIN CYCLES") at the end
                          and exits 0: the tree never holds more than the
                          block and its pythons, while processes that share
                          it exit again and again
  mem.py vfork DIR MB     main fills MB MiB of private anonymous memory,
                          writes DIR/<main pid>.ready, then posix_spawns
                          /bin/true with a file action that opens the FIFO
                          DIR/gate for reading: the child (CLONE_VM, its
                          parent's memory, before its exec) blocks there
                          until the test opens the gate for writing; then
                          main waits for ever
"""
import mmap
import os
import signal
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


def sharers(d, mb, n, shared, secs=None):
    """One MB MiB block in N+1 processes: a shared segment all of them map,
    or the main's private memory its children only read."""
    size = mb << 20
    if shared:
        block = mmap.mmap(-1, size, flags=mmap.MAP_SHARED | mmap.MAP_ANONYMOUS)
        mib = b"\x01" * (1 << 20)
        for _ in range(mb):   # 1 MiB at a time: no private copy of it all
            block.write(mib)
    else:
        block = b"\x01" * size   # written: every page is resident
    r, w = os.pipe()
    kids = []
    for _ in range(n):
        pid = os.fork()
        if pid == 0:
            os.close(r)
            # reads every page (maps each page of the segment; copies
            # none of the private block)
            if shared:
                block.find(b"\x02", 0)
            else:
                block.count(b"\x02")
            os.write(w, b"x")
            os.close(w)
            forever()
        kids.append(pid)
    os.close(w)
    got = 0
    while got < n:
        b = os.read(r, n)
        if not b:
            sys.exit("a child died before it touched the block")
        got += len(b)
    ready(d, " ".join(str(p) for p in [os.getpid()] + kids))
    if secs is None:
        forever()
    time.sleep(secs)
    for pid in kids:
        os.kill(pid, 9)
        os.waitpid(pid, 0)


def churn(d, mb, n, secs):
    block = b"\x01" * (mb << 20)   # written: every page is resident
    end = time.monotonic() + secs
    cycles = 0
    while time.monotonic() < end:
        kids = []
        for _ in range(n):
            pid = os.fork()
            if pid == 0:
                while True:      # touches nothing of the block
                    signal.pause()
            kids.append(pid)
        time.sleep(0.002 + 0.038 * ((cycles * 7) % 11) / 10)
        for pid in kids:
            os.kill(pid, signal.SIGKILL)
        for pid in kids:
            os.waitpid(pid, 0)
        cycles += 1
    ready(d, "%d %d" % (os.getpid(), cycles))
    del block


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


def vfork(d, mb):
    keep = anon(mb)
    gate = os.path.join(d, "gate")
    os.mkfifo(gate)
    ready(d, f"{os.getpid()}")
    # glibc's posix_spawn clones with CLONE_VM | CLONE_VFORK: the child
    # runs in this process's memory until its exec, which waits for the
    # gate's writer in the open below.
    pid = os.posix_spawn("/bin/true", ["true"], os.environ,
                         file_actions=[(os.POSIX_SPAWN_OPEN, 3, gate,
                                        os.O_RDONLY, 0)])
    os.waitpid(pid, 0)
    forever()
    del keep


def main():
    mode, d = sys.argv[1], sys.argv[2]
    if mode == "anon":
        tree(d, lambda: anon(int(sys.argv[3])))
    elif mode == "shm":
        tree(d, lambda: shm(int(sys.argv[3])))
    elif mode in ("shared", "cow"):
        sharers(d, int(sys.argv[3]), int(sys.argv[4]), mode == "shared",
                float(sys.argv[5]) if len(sys.argv) > 5 else None)
    elif mode == "churn":
        churn(d, int(sys.argv[3]), int(sys.argv[4]), float(sys.argv[5]))
    elif mode == "map":
        mapfile(d, sys.argv[3])
    elif mode == "vfork":
        vfork(d, int(sys.argv[3]))
    else:
        sys.exit(f"unknown mode {mode}")


main()
