#!/usr/bin/python3
"""usage: argv_dump.py OUT [ARG ...]

Writes {"argv": [ARG ...], "cwd": ..., "env": {...}} to OUT as JSON (atomically)
and exits 0.  Used to see exactly which argv, working directory and
environment tend gave a command."""
import json
import os
import sys

out = sys.argv[1]
tmp = out + ".tmp%d" % os.getpid()
with open(tmp, "w") as f:
    json.dump({"argv": sys.argv[2:], "cwd": os.getcwd(),
               "env": dict(os.environ)}, f)
os.rename(tmp, out)
