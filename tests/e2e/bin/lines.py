"""A line service on stdin/stdout, for tend connect tests.

Every line it reads gets one answer line, by what the line says:
  exit:CODE     answers "bye", then exits with CODE
  tree          starts a child and a setsid grandchild (sleep 600) and
                answers "pid=P child=C grandchild=G"
  echo:TEXT     answers the line itself, whole (any length)
  anything else answers "pid=P n=N got=LINE" (N counts lines from 1)
Options: --delay S sleeps S seconds before reading (a slow start);
--ignore-eof keeps running after stdin ends.
"""
import os
import subprocess
import sys
import time

args = sys.argv[1:]
if "--delay" in args:
    time.sleep(float(args[args.index("--delay") + 1]))
out = sys.stdout.buffer
n = 0
for raw in sys.stdin.buffer:
    n += 1
    line = raw.rstrip(b"\n")
    if line.startswith(b"exit:"):
        out.write(b"bye\n")
        out.flush()
        sys.exit(int(line[5:]))
    elif line == b"tree":
        child = subprocess.Popen(["sleep", "600"], stdout=subprocess.DEVNULL)
        gc = subprocess.Popen(["setsid", "sleep", "600"], stdout=subprocess.DEVNULL)
        out.write(b"pid=%d child=%d grandchild=%d\n" % (os.getpid(), child.pid, gc.pid))
    elif line.startswith(b"echo:"):
        out.write(line + b"\n")
    else:
        out.write(b"pid=%d n=%d got=%s\n" % (os.getpid(), n, line))
    out.flush()
if "--ignore-eof" in args:
    while True:
        time.sleep(600)
