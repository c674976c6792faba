#!/usr/bin/env python3
"""A backend for tend's proxy: after --delay seconds it listens on ADDR
(tcp:HOST:PORT or unix:PATH) and answers each connection.

  backend.py ADDR [--delay S] [--mode line|echo]

line: every line gets "pid=PID got=LINE" back; echo: bytes come back as
they are, until EOF (then the connection is shut down).  Each connection
is served in its own thread."""
import os
import socket
import sys
import threading
import time


def serve(conn, mode):
    with conn:
        if mode == "echo":
            while True:
                b = conn.recv(1 << 16)
                if not b:
                    conn.shutdown(socket.SHUT_WR)
                    return
                conn.sendall(b)
        f = conn.makefile("rb")
        for line in f:
            conn.sendall(("pid=%d got=%s\n" % (
                os.getpid(), line.decode().rstrip("\n"))).encode())


def main():
    addr = sys.argv[1]
    args = sys.argv[2:]
    delay = float(args[args.index("--delay") + 1]) if "--delay" in args else 0
    mode = args[args.index("--mode") + 1] if "--mode" in args else "line"
    time.sleep(delay)
    if addr.startswith("unix:"):
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        path = addr[5:]
        try:
            os.unlink(path)
        except FileNotFoundError:
            pass
        s.bind(path)
    else:
        host, port = addr[4:].rsplit(":", 1)
        s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        s.bind((host, int(port)))
    s.listen(1024)
    while True:
        conn, _ = s.accept()
        threading.Thread(target=serve, args=(conn, mode), daemon=True).start()


main()
