#!/usr/bin/python3
"""Starts N children and exits 0 without waiting for them.

usage: forkmany.py DIR N

The children are /bin/sleep (every other one in a session of its own),
started with posix_spawn.  Their "PID STARTTIME" lines go to
DIR/children.list, then DIR/forkmany.done is written, then the main
process exits: the children are orphans of its run."""
import os
import sys


def starttime(pid):
    with open("/proc/%d/stat" % pid) as f:
        data = f.read()
    return int(data[data.rindex(")") + 2:].split()[19])


def main():
    d, n = sys.argv[1], int(sys.argv[2])
    lines = []
    for i in range(n):
        pid = os.posix_spawn("/bin/sleep", ["sleep", "600"], os.environ,
                             setsid=bool(i % 2))
        lines.append("%d %d\n" % (pid, starttime(pid)))
    with open(os.path.join(d, "children.list"), "w") as f:
        f.writelines(lines)
    open(os.path.join(d, "forkmany.done"), "w").close()


if __name__ == "__main__":
    main()
