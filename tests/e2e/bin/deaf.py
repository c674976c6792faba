#!/usr/bin/python3
"""A service deaf to every signal it can ignore (everything but SIGKILL
and SIGSTOP), with a child that is just as deaf.

usage: deaf.py DIR

Both write DIR/deaf-ROLE.pid ("PID STARTTIME"; roles main, child), then
DIR/deaf.ready, and pause forever."""
import os
import signal
import sys


def starttime(pid):
    with open("/proc/%d/stat" % pid) as f:
        data = f.read()
    return int(data[data.rindex(")") + 2:].split()[19])


def write_atomic(path, text):
    tmp = path + ".tmp%d" % os.getpid()
    with open(tmp, "w") as f:
        f.write(text)
    os.rename(tmp, path)


def deafen():
    for s in range(1, signal.NSIG):
        if s in (signal.SIGKILL, signal.SIGSTOP, signal.SIGCHLD):
            continue
        try:
            signal.signal(s, signal.SIG_IGN)
        except (OSError, ValueError):
            pass


def record(d, role):
    pid = os.getpid()
    write_atomic(os.path.join(d, "deaf-%s.pid" % role),
                 "%d %d\n" % (pid, starttime(pid)))


def main():
    d = sys.argv[1]
    deafen()
    record(d, "main")
    if os.fork() == 0:
        record(d, "child")
        while True:
            signal.pause()
    write_atomic(os.path.join(d, "deaf.ready"), "")
    while True:
        signal.pause()


if __name__ == "__main__":
    main()
