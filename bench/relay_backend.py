#!/usr/bin/env python3
"""The services of bench/relay.py, listening on 127.0.0.1:PORT.

  relay_backend.py hello PORT   answers "hi\\n" to each connection and
                                closes it; one thread, nothing else imported
                                (a service whose start is to be timed)
  relay_backend.py serve PORT   a thread per connection, whose first byte
                                says what it is:
                                  "s" sink: reads to EOF, answers the count
                                      of bytes read as a decimal line
                                  "e" echo: sends back what it reads, to EOF

Both print "ready" on stdout once they listen (bench/relay.py times the
direct start of `hello` with it; under tend it goes to the service's log).

On stdin and stdout instead (pipes or a socket; the programs of `tend
connect`, nothing imported but os and sys, no "ready"):

  relay_backend.py sink         reads a line "N\n", answers "go\n", reads N
                                bytes and answers the count of bytes read as
                                a decimal line (fewer at EOF); again, to EOF
  relay_backend.py echo         sends back every complete line as soon as it
                                has it (and a last partial one at EOF), to EOF
"""
import os
import sys


def write_all(b):
    b = memoryview(b)
    while b:
        b = b[os.write(1, b):]


def stdio_sink():
    buf = bytearray(1 << 20)
    view = memoryview(buf)
    head = b""
    while True:
        while b"\n" not in head:
            k = os.read(0, 64)
            if not k:
                return
            head += k
        line, _, head = head.partition(b"\n")
        want = int(line)
        write_all(b"go\n")
        n = min(len(head), want)   # nothing comes before "go"; in case
        head = head[n:]
        while n < want:
            k = os.readv(0, [view[:min(len(buf), want - n)]])
            if not k:
                break
            n += k
        write_all(b"%d\n" % n)


def stdio_echo():
    held = b""
    while True:
        k = os.read(0, 65536)
        if not k:
            break
        held += k
        cut = held.rfind(b"\n") + 1
        if cut:
            write_all(held[:cut])
            held = held[cut:]
    write_all(held)


def listen(port):
    import socket
    s = socket.socket()
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind(("127.0.0.1", port))
    s.listen(128)
    sys.stdout.write("ready\n")
    sys.stdout.flush()
    return s


def hello(s):
    while True:
        c, _ = s.accept()
        try:
            c.sendall(b"hi\n")
        except OSError:
            pass
        c.close()


def sink(c):
    buf = bytearray(1 << 20)
    n = 0
    while True:
        k = c.recv_into(buf)
        if not k:
            break
        n += k
    c.sendall(b"%d\n" % n)


def echo(c):
    while True:
        b = c.recv(65536)
        if not b:
            break
        c.sendall(b)


def conn(c):
    import socket
    try:
        c.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        mode = c.recv(1)
        if mode == b"s":
            sink(c)
        elif mode == b"e":
            echo(c)
    except OSError:
        pass
    finally:
        c.close()


def serve(s):
    import threading
    while True:
        c, _ = s.accept()
        threading.Thread(target=conn, args=(c,), daemon=True).start()


def main():
    if sys.argv[1:] in (["sink"], ["echo"]):
        try:
            (stdio_sink if sys.argv[1] == "sink" else stdio_echo)()
        except (KeyboardInterrupt, BrokenPipeError):
            pass
        return
    if len(sys.argv) != 3 or sys.argv[1] not in ("hello", "serve"):
        sys.exit("usage: relay_backend.py hello|serve PORT | sink | echo")
    s = listen(int(sys.argv[2]))
    try:
        (hello if sys.argv[1] == "hello" else serve)(s)
    except KeyboardInterrupt:
        pass


if __name__ == "__main__":
    main()
