#!/usr/bin/python3
"""A service for tend's daemon tests.

usage: svc.py DIR NAME [options]

Once its signal handlers are in place it appends "PID STARTTIME" to
DIR/NAME.starts (one line per start: how many times it was started) and
writes DIR/NAME-PID.pid (for the tests' clean-up).  Then it prints its
lines, if any, and waits for signals forever unless told to exit.

Options:
  --term-sleep S  on SIGTERM: sleep S seconds, then exit 0
  --ignore-term   ignore SIGTERM
  --lines N       print N lines "NAME 000001" .. on stdout
  --batch K       K lines at a time (default: all), then
  --pause S       sleep S seconds between batches (default 0)
  --exit CODE     exit with CODE after the lines
"""
import os
import signal
import sys
import time


def starttime(pid):
    with open("/proc/%d/stat" % pid) as f:
        data = f.read()
    return int(data[data.rindex(")") + 2:].split()[19])


def main():
    args = sys.argv[1:]
    d, name = args.pop(0), args.pop(0)
    term_sleep = None
    ignore_term = False
    lines = 0
    batch = None
    pause = 0.0
    code = None
    while args:
        a = args.pop(0)
        if a == "--term-sleep":
            term_sleep = float(args.pop(0))
        elif a == "--ignore-term":
            ignore_term = True
        elif a == "--lines":
            lines = int(args.pop(0))
        elif a == "--batch":
            batch = int(args.pop(0))
        elif a == "--pause":
            pause = float(args.pop(0))
        elif a == "--exit":
            code = int(args.pop(0))
        else:
            sys.exit("svc.py: unknown option " + a)

    if ignore_term:
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
    elif term_sleep is not None:
        def on_term(signo, frame):
            time.sleep(term_sleep)
            os._exit(0)
        signal.signal(signal.SIGTERM, on_term)

    pid = os.getpid()
    rec = "%d %d\n" % (pid, starttime(pid))
    with open(os.path.join(d, "%s-%d.pid" % (name, pid)), "w") as f:
        f.write(rec)
    fd = os.open(os.path.join(d, name + ".starts"),
                 os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    os.write(fd, rec.encode())
    os.close(fd)

    i = 0
    while i < lines:
        k = batch or lines
        out = []
        for _ in range(min(k, lines - i)):
            i += 1
            out.append("%s %06d\n" % (name, i))
        sys.stdout.write("".join(out))
        sys.stdout.flush()
        if pause and i < lines:
            time.sleep(pause)

    if code is not None:
        sys.exit(code)
    while True:
        signal.pause()


if __name__ == "__main__":
    main()
