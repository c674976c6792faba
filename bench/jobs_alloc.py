#!/usr/bin/env python3
"""The work of bench/jobs.py: MIB MiB allocated, every page written, then
freed, in one of four shapes (KIND):
  block  one bytearray, a byte written every 4096 (glibc serves it with mmap)
  small  256-byte bytes objects (CPython's own allocator, pymalloc)
  1k     1 KiB bytes objects (glibc malloc's heap)
  cache  as 1k, keeping 1 object in 100 alive across rounds (an indexer's
         cache)

Usage:
  jobs_alloc.py job KIND MIB HOLD_MS   one round, held HOLD_MS before the
                                       exit (a tend job: its peak is sampled)
  jobs_alloc.py rounds KIND MIB N      N rounds in one long-lived process;
                                       prints "start RSS ANON HWM", then per
                                       round "I MS RSS ANON HWM", then, 1 s
                                       later, "idle RSS ANON HWM" (KiB)
"""
import gc
import sys
import time

KEEP = []


def work(kind, mib):
    if kind == "block":
        b = bytearray(mib << 20)
        for i in range(0, len(b), 4096):
            b[i] = 1
        return b
    size = 256 if kind == "small" else 1024
    # bytes(n) is zero-filled: every page is written.  33: the object's header.
    objs = [bytes(size - 33) for _ in range((mib << 20) // size)]
    if kind == "cache":
        KEEP.extend(objs[::100])
    return objs


def mem():
    got = {}
    with open("/proc/self/status") as f:
        for line in f:
            k, _, v = line.partition(":")
            if k in ("VmRSS", "RssAnon", "VmHWM"):
                got[k] = v.split()[0]
    return "%s %s %s" % (got["VmRSS"], got["RssAnon"], got["VmHWM"])


def main():
    mode, kind, mib, n = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
    if mode == "job":
        held = work(kind, mib)
        time.sleep(n / 1000)
        del held
        return
    print("start", mem(), flush=True)
    for i in range(n):
        t0 = time.monotonic()
        held = work(kind, mib)
        del held
        gc.collect()
        print(i + 1, "%.0f" % ((time.monotonic() - t0) * 1000), mem(), flush=True)
    time.sleep(1)
    print("idle", mem(), flush=True)


if __name__ == "__main__":
    main()
