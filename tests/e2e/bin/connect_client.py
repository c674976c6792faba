"""A client that runs `tend ARGS...` (a tend connect) as its child, the way
an MCP client runs its server: it sends each of its own stdin lines to the
child, copies the child's answers to its own stdout, and prints
"connect=PID" first and "server-eof" when the child's output ends.  It never closes the child's stdin by itself, so it
can be killed while the session is open."""
import subprocess
import sys
import threading

tend = subprocess.Popen(sys.argv[1:], stdin=subprocess.PIPE,
                        stdout=subprocess.PIPE)
sys.stdout.write("connect=%d\n" % tend.pid)
sys.stdout.flush()


def copy_out():
    for line in tend.stdout:
        sys.stdout.buffer.write(line)
        sys.stdout.flush()
    sys.stdout.write("server-eof\n")
    sys.stdout.flush()


threading.Thread(target=copy_out, daemon=True).start()
for line in sys.stdin.buffer:
    tend.stdin.write(line)
    tend.stdin.flush()
threading.Event().wait()
