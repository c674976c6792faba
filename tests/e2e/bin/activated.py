#!/usr/bin/env python3
"""A socket-activated test service: takes its listening sockets from fd 3
on (LISTEN_FDS, LISTEN_PID, LISTEN_FDNAMES, as systemd passes them) and
answers every line with "pid=PID fds=N names=NAMES got=LINE".

  activated.py [--idle-exit SECONDS]

With --idle-exit it exits 0 after that long without a connection (the
socket-activation way of going idle).  Refuses to run (exit 3) when the
variables are missing or LISTEN_PID is not its own pid."""
import os
import selectors
import socket
import sys


def main():
    idle = None
    if len(sys.argv) > 2 and sys.argv[1] == "--idle-exit":
        idle = float(sys.argv[2])
    n = int(os.environ.get("LISTEN_FDS", "0"))
    if n < 1 or os.environ.get("LISTEN_PID") != str(os.getpid()):
        print("bad activation: LISTEN_FDS=%r LISTEN_PID=%r pid=%d" % (
            os.environ.get("LISTEN_FDS"), os.environ.get("LISTEN_PID"),
            os.getpid()), file=sys.stderr)
        sys.exit(3)
    names = os.environ.get("LISTEN_FDNAMES", "")
    sel = selectors.DefaultSelector()
    for fd in range(3, 3 + n):
        s = socket.socket(fileno=fd)
        s.setblocking(True)   # tend passes them as systemd does
        sel.register(s, selectors.EVENT_READ)
    while True:
        ready = sel.select(idle)
        if not ready:
            sys.exit(0)
        for key, _ in ready:
            conn, _ = key.fileobj.accept()
            with conn:
                f = conn.makefile("rb")
                line = f.readline().decode().strip()
                conn.sendall(("pid=%d fds=%d names=%s got=%s\n" % (
                    os.getpid(), n, names, line)).encode())


main()
