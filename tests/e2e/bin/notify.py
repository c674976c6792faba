#!/usr/bin/python3
"""A service that speaks sd_notify, for tend's readiness tests.

usage: notify.py DIR [options]

Writes DIR/<pid>.env (its NOTIFY_SOCKET and WATCHDOG_USEC) at start, then:
  --ready-after S    sends READY=1 after S seconds (default: never)
  --from-child       READY=1 (and STATUS) come from a forked grandchild
  --status TEXT      sends STATUS=TEXT with READY (or at start without it)
  --ping S           sends WATCHDOG=1 every S seconds...
  --ping-for S       ...for S seconds only, then goes quiet (default: for ever)
  --stopping-after S sends STOPPING=1 after S seconds, then keeps running
  --trigger-after S  sends WATCHDOG=trigger after S seconds
Then it sleeps for ever.
"""
import argparse
import os
import socket
import sys
import time


def send(msg):
    addr = os.environ["NOTIFY_SOCKET"]
    if addr.startswith("@"):
        addr = "\0" + addr[1:]
    s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    s.sendto(msg.encode(), addr)
    s.close()


def send_from_grandchild(msg):
    if os.fork() == 0:
        if os.fork() == 0:
            send(msg)
            os._exit(0)
        os._exit(0)
    os.wait()


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("dir")
    ap.add_argument("--ready-after", type=float)
    ap.add_argument("--from-child", action="store_true")
    ap.add_argument("--status")
    ap.add_argument("--ping", type=float)
    ap.add_argument("--ping-for", type=float)
    ap.add_argument("--stopping-after", type=float)
    ap.add_argument("--trigger-after", type=float)
    a = ap.parse_args()
    # whole or not at all: a reader that sees the file sees all of it
    env = os.path.join(a.dir, "%d.env" % os.getpid())
    with open(env + ".tmp", "w") as f:
        f.write("%s\n%s\n" % (os.environ.get("NOTIFY_SOCKET", ""),
                              os.environ.get("WATCHDOG_USEC", "")))
    os.rename(env + ".tmp", env)
    start = time.monotonic()
    todo = []   # (when, message)
    if a.ready_after is not None:
        msg = "READY=1" + ("\nSTATUS=%s" % a.status if a.status else "")
        todo.append((a.ready_after, msg))
    elif a.status:
        todo.append((0, "STATUS=%s" % a.status))
    if a.stopping_after is not None:
        todo.append((a.stopping_after, "STOPPING=1"))
    if a.trigger_after is not None:
        todo.append((a.trigger_after, "WATCHDOG=trigger"))
    if a.ping:
        end = a.ping_for if a.ping_for is not None else 1e9
        t = 0.0
        while t < min(end, 600):
            todo.append((t, "WATCHDOG=1"))
            t += a.ping
    todo.sort(key=lambda x: x[0])
    for when, msg in todo:
        delay = start + when - time.monotonic()
        if delay > 0:
            time.sleep(delay)
        if a.from_child and msg.startswith("READY"):
            send_from_grandchild(msg)
        else:
            send(msg)
    while True:
        time.sleep(3600)


sys.exit(main())
