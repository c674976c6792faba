#!/usr/bin/env python3
"""Figures for tend's on-demand TCP proxy (`listen` / `backend`) and for
`tend connect` (stdio = exclusive / per-client): the wake of an idle
service, and the relay's throughput and round trip against a direct
connection and against socat in the middle.

Wake: connect() to tend's listening port -> first byte of the answer, the
service idle (stopped by `idle-stop = 100ms`); the same program started
directly, spawn -> first byte of its answer, is its own start time, and
the difference (paired, per wake) is what tend adds: the spawn through its
keeper, the readiness polling of the backend (after 5, 10, 20.. ms), the
relay.  Two services: a Python one (bench/relay_backend.py hello; started
directly, it says "ready" on stdout once it listens, then the bench
connects) and socat handing out a file (started directly, the bench
connects every 0.2 ms until it is answered).

Relay: one Python service (relay_backend.py serve) under tend, reached
three ways: directly on its own port, through tend's proxy, and through
`socat TCP-LISTEN:P,bind=127.0.0.1,reuseaddr,fork TCP:127.0.0.1:BACKEND`
(socat's defaults: 8 KiB buffer); the CPU time of the proxy in the
stream: tend's daemon (schedstat), socat's child for the connection
(reaped: the parent's cutime + cstime, in ticks).  Stream: N MiB one way into a sink that answers
the count of bytes at EOF (checked), MB/s = 10^6 bytes/s from connect()
to the count.  Round trip: 64-byte numbered lines echoed over one
connection (each answer checked), TCP_NODELAY on both ends.

tend connect: the client's stdin and stdout are the bench's pipes, on
programs of relay_backend.py that talk on their stdin and stdout (nothing
imported but os and sys), reached four ways: started directly (direct),
`tend connect` to a stdio = per-client service (a fresh instance per
session; tend splices) and to a stdio = exclusive one (the service,
running, shared; tend copies through 64 KiB to find line ends), and
`socat - EXEC:"prog"` (socat's defaults: 8 KiB buffer, a socketpair to the
program).  Wake: spawn of `tend connect` -> first byte of the answer to
one 64-byte line, the exclusive echo idle (`idle-stop = 100ms`; the bench
waits until `tend status` says idle), minus the echo's own start (spawned
directly, the same line, the same first byte), paired per wake; the same
for a fresh per-client instance; once, cold: no daemon running for that
file (tend connect starts the daemon, which starts the service), after the
rounds.  Stream: the sink reads a line "N", says "go", counts N bytes (1 KiB
lines: an exclusive session must end at a line's end) and answers the
count (checked); MB/s from the "go" to the count, so the start of each
path (a fresh Python sink for all but exclusive) is left out and shown on
its own.  CPU of the middle, from before the spawn to the count: tend's
daemon (schedstat) + the tend connect process (it only waits for the
session's final line), or socat's (schedstat, not its child's).  Round
trip: 64-byte numbered lines through a line echo, one session each; then
the time from closing its stdin to the exit of what the bench started (an
exclusive session ends 25 ms after the service's last answer).  For scale,
a fifth variant, direct with the bench and the program bound to one CPU:
with few CPUs a wakeup across CPUs weighs as much as a middle's work, so
a middle can even beat "direct".

Every round runs every variant, in an order that turns from round to round,
so that drift hits them all alike.  Before the rounds, 8 MiB of random
bytes go through each path to an echo and must come back the same.

Usage: bench/relay.py [TEND_BIN] [--quick]   (from `make bench-relay`;
needs socat: `scripts/deps.sh bench`)
Runs in a temporary XDG_RUNTIME_DIR / XDG_STATE_HOME (the cold daemon in
one of its own under it); the daemons are stopped with `tend down` or
killed by pid, every other process it starts is killed by pid (tend
connect and the programs once they have ended their session and exited),
and at the end nothing that names the temporary directory in its command
line or environment may be left.
"""
import hashlib
import math
import os
import random
import select
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time

import tendbench

ARGS = [a for a in sys.argv[1:] if not a.startswith("--")]
QUICK = "--quick" in sys.argv[1:]
TEND = os.path.abspath(ARGS[0] if ARGS else "build/tend")
PY = "/usr/bin/python3"
BACKEND = os.path.join(os.path.dirname(os.path.abspath(__file__)),
                       "relay_backend.py")
SOCAT = shutil.which("socat")

if QUICK:
    ROUNDS, WAKES, STREAM_MIB, PINGS = 3, 2, 256, 1000
else:
    ROUNDS, WAKES, STREAM_MIB, PINGS = 9, 2, 1024, 2000
IDLE_STOP = "100ms"
MSG = 64
CHECK_BYTES = 8 << 20
HOST = "127.0.0.1"

SPAWNED = []   # Popen of every process started here, not through tend
LIVE = []      # the daemon, once started


# --- processes and ports ---------------------------------------------------

def spawn(root, argv, env=None, **kw):
    env = dict(env or os.environ, TEND_BENCH_ROOT=root)
    kw.setdefault("stdin", subprocess.DEVNULL)
    p = subprocess.Popen(argv, env=env, **kw)
    SPAWNED.append(p)
    return p


def kill(p):
    if p.poll() is None:
        try:
            os.kill(p.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
    p.wait()
    for f in (p.stdin, p.stdout):
        if f:
            f.close()
    SPAWNED.remove(p)


def free_ports(n):
    """N free ports below the ephemeral range, so that no outgoing
    connection holds one while its service is down."""
    with open("/proc/sys/net/ipv4/ip_local_port_range") as f:
        lo = int(f.read().split()[0])
    ports = []
    while len(ports) < n:
        p = random.randrange(max(1024, lo - 10000), lo)
        if p in ports:
            continue
        s = socket.socket()
        try:
            s.bind((HOST, p))
            ports.append(p)
        except OSError:
            pass
        finally:
            s.close()
    return ports


def connect(port, timeout=30):
    s = socket.create_connection((HOST, port), timeout=timeout)
    s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    return s


def listening(port):
    """Is there a TCP socket listening on HOST:PORT?  From /proc/net/tcp,
    without connecting (a connection would wake an on-demand service)."""
    want = "0100007F:%04X" % port
    with open("/proc/net/tcp") as f:
        next(f)
        return any(line.split()[1] == want and line.split()[3] == "0A"
                   for line in f)


def wait_listening(ports, what, timeout=5):
    end = time.monotonic() + timeout
    while not all(listening(p) for p in ports):
        if time.monotonic() > end:
            raise RuntimeError("nothing listens on %s:%s after %d s: %s"
                               % (HOST, ",".join(str(p) for p in ports
                                                 if not listening(p)),
                                  timeout, what))
        time.sleep(0.01)


def reaped_children_ns(pid, timeout=5):
    """CPU time of the children PID has reaped so far (cutime + cstime, in
    ticks), once it has no child left: socat's, one per connection."""
    end = time.monotonic() + timeout
    while True:
        with open("/proc/%d/task/%d/children" % (pid, pid)) as f:
            if not f.read().split() or time.monotonic() > end:
                break
        time.sleep(0.005)
    with open("/proc/%d/stat" % pid) as f:
        fields = f.read().rsplit(") ", 1)[1].split()
    return (int(fields[13]) + int(fields[14])) * 1_000_000_000 // tendbench.TICK


# --- the measures ----------------------------------------------------------

def first_byte(s, t0):
    """Reads the whole answer (must be hi\\n); ms from T0 to its first byte."""
    b = s.recv(1)
    t1 = time.perf_counter()
    rest = b""
    while True:
        k = s.recv(64)
        if not k:
            break
        rest += k
    s.close()
    if b + rest != b"hi\n":
        raise RuntimeError("wrong answer: %r" % (b + rest))
    return (t1 - t0) * 1000


def wait_events(d, pred, n0, timeout=10):
    end = time.monotonic() + timeout
    while True:
        evs = d.events()[n0:]
        if pred(evs):
            return evs
        if time.monotonic() > end:
            raise RuntimeError("no such events: %r" % evs)
        time.sleep(0.005)


def wake_tend(d, unit, port):
    """connect() -> first byte through tend, the unit stopped or idle;
    (ms, the ready event's after_ms, the state it woke from); returns once
    the unit is idle again."""
    state = d.status(unit)[0]["state"]
    if state not in ("idle", "stopped"):
        raise RuntimeError("%s is %s, not idle" % (unit, state))
    n0 = len(d.events())
    t0 = time.perf_counter()
    ms = first_byte(connect(port), t0)

    def stopped(evs):
        return any(e["unit"] == unit and e["event"] == "exited" for e in evs)
    evs = wait_events(d, stopped, n0)
    mine = [e for e in evs if e["unit"] == unit]
    woke = [e for e in mine if e["event"] == "woke"]
    ready = [e for e in mine if e["event"] == "ready"]
    if len(woke) != 1 or len(ready) != 1 or woke[0]["from"] != state \
            or not any(e["event"] == "idle_stop" for e in mine):
        raise RuntimeError("%s: unexpected events %r" % (unit, mine))
    return ms, ready[0]["after_ms"], state


def start_direct_py(root, port):
    """Spawn -> first byte of the Python service started directly, once it
    says it listens."""
    t0 = time.perf_counter()
    p = spawn(root, [PY, BACKEND, "hello", str(port)], stdout=subprocess.PIPE)
    try:
        if p.stdout.readline() != b"ready\n":
            raise RuntimeError("hello backend did not start")
        return first_byte(connect(port), t0)
    finally:
        kill(p)


def start_direct_socat(root, port, hello):
    """Spawn -> first byte of socat started directly, connecting every
    0.2 ms until it listens."""
    t0 = time.perf_counter()
    p = spawn(root, socat_hello(port, hello), stderr=subprocess.DEVNULL)
    try:
        while True:
            try:
                s = connect(port)
                break
            except ConnectionRefusedError:
                if p.poll() is not None or time.perf_counter() - t0 > 10:
                    raise RuntimeError("socat did not start")
                time.sleep(0.0002)
        return first_byte(s, t0)
    finally:
        kill(p)


def socat_hello(port, hello):
    return [SOCAT, "TCP-LISTEN:%d,bind=%s,reuseaddr,fork" % (port, HOST),
            "OPEN:%s,rdonly" % hello]


def stream(port, mib):
    """MB/s of MIB MiB one way into the sink, connect() to its count."""
    chunk = memoryview(bytes(1 << 20))
    t0 = time.perf_counter()
    s = connect(port, timeout=120)
    s.sendall(b"s")
    for _ in range(mib):
        s.sendall(chunk)
    s.shutdown(socket.SHUT_WR)
    answer = s.makefile("rb").readline()
    t1 = time.perf_counter()
    s.close()
    if answer != b"%d\n" % (mib << 20):
        raise RuntimeError("port %d: the sink counted %r, sent %d"
                           % (port, answer, mib << 20))
    return (mib << 20) / 1e6 / (t1 - t0)


PING_WARM = 200


def pingpong(port, n, warm=PING_WARM):
    """µs of each of N round trips of a numbered 64-byte line."""
    s = connect(port)
    s.sendall(b"e")
    out = []
    for i in range(warm + n):
        msg = b"%0*d\n" % (MSG - 1, i)
        t0 = time.perf_counter_ns()
        s.sendall(msg)
        got = b""
        while len(got) < MSG:
            k = s.recv(MSG - len(got))
            if not k:
                raise RuntimeError("port %d: EOF in round trip %d" % (port, i))
            got += k
        t1 = time.perf_counter_ns()
        if got != msg:
            raise RuntimeError("port %d: sent %r, got %r" % (port, msg, got))
        if i >= warm:
            out.append((t1 - t0) / 1000)
    s.close()
    return out


def same_bytes(port, nbytes):
    """NBYTES of random bytes to the echo come back the same."""
    data = os.urandom(nbytes)
    s = connect(port, timeout=60)
    s.sendall(b"e")

    def send():
        s.sendall(data)
        s.shutdown(socket.SHUT_WR)
    t = threading.Thread(target=send)
    t.start()
    h, n = hashlib.sha256(), 0
    while True:
        k = s.recv(1 << 20)
        if not k:
            break
        h.update(k)
        n += len(k)
    t.join()
    s.close()
    if n != nbytes or h.digest() != hashlib.sha256(data).digest():
        raise RuntimeError("port %d: %d random bytes came back as %d "
                           "different ones" % (port, nbytes, n))


# --- tend connect: the same on stdin and stdout -----------------------------

STDIO = ("direct", "per-client", "exclusive", "socat")
# The same as direct with the bench and the program on one CPU, for scale:
# on few CPUs where the scheduler puts the processes weighs as much as the
# middle's work (a wakeup across CPUs).
ONE_CPU = "one CPU"
UNIT = {"per-client": "pc", "exclusive": "x"}
LINES = (b"." * 1023 + b"\n") * 1024   # 1 MiB of 1 KiB lines


def stdio_start(root, how, prog, d=None, unit=None):
    """PROG (relay_backend.py sink or echo) with the bench's pipes as its
    stdin and stdout, HOW: started directly, through `tend connect` to
    UNIT (default PROG-pc or PROG-x) of daemon D, or with socat in the
    middle (`socat - EXEC:...`, its defaults)."""
    if how == "direct":
        argv, env = [PY, BACKEND, prog], None
    elif how == "socat":
        argv, env = [SOCAT, "-", "EXEC:%s %s %s" % (PY, BACKEND, prog)], None
    else:
        argv = [TEND, "-c", d.ini, "connect",
                unit or "%s-%s" % (prog, UNIT[how])]
        env = d.env
    return spawn(root, argv, env=env, stdin=subprocess.PIPE,
                 stdout=subprocess.PIPE, bufsize=0)


def put(fd, b):
    b = memoryview(b)
    while b:
        b = b[os.write(fd, b):]


def take(fd, n, what, timeout=60):
    """Up to N bytes from FD (b"" at EOF), waiting at most TIMEOUT s."""
    if not select.select([fd], [], [], timeout)[0]:
        raise RuntimeError("%s: nothing to read for %d s" % (what, timeout))
    return os.read(fd, n)


def take_exact(fd, n, what):
    got = b""
    while len(got) < n:
        k = take(fd, n - len(got), what)
        if not k:
            raise RuntimeError("%s: EOF after %r" % (what, got))
        got += k
    return got


def take_line(fd, what):
    got = b""
    while not got.endswith(b"\n"):
        got += take_exact(fd, 1, what)
    return got


def stdio_end(p, what):
    """Closes P's stdin: its stdout must then end with nothing more, and P
    exit 0 (tend connect: the session's final line said ok).  Returns ms
    from the close to P's exit."""
    t0 = time.perf_counter()
    p.stdin.close()
    rest = b""
    while True:
        k = take(p.stdout.fileno(), 65536, what, 10)
        if not k:
            break
        rest += k
    try:
        rc = p.wait(10)
    except subprocess.TimeoutExpired:
        rc = None
    t1 = time.perf_counter()
    kill(p)
    if rest or rc != 0:
        raise RuntimeError("%s: after its EOF: %r more, exit %s"
                           % (what, rest[:80], rc))
    return (t1 - t0) * 1000


def stdio_first(p, t0, what):
    """Writes one numbered line to P; ms from T0 to the first byte of the
    answer (must be the same line); ends the session."""
    msg = b"%0*d\n" % (MSG - 1, 1)
    put(p.stdin.fileno(), msg)
    b = take_exact(p.stdout.fileno(), 1, what)
    t1 = time.perf_counter()
    got = b + take_exact(p.stdout.fileno(), MSG - 1, what)
    stdio_end(p, what)
    if got != msg:
        raise RuntimeError("%s: sent %r, got %r" % (what, msg, got))
    return (t1 - t0) * 1000


def start_stdio(root, how, d=None):
    """Spawn -> first answer byte of the echo: started directly (its own
    start), or a fresh per-client instance through tend connect."""
    t0 = time.perf_counter()
    return stdio_first(stdio_start(root, how, "echo", d), t0, how + " echo")


def wait_state(d, unit, want, timeout=10):
    end = time.monotonic() + timeout
    while True:
        st = d.status(unit)[0]["state"]
        if st == want:
            return
        if time.monotonic() > end:
            raise RuntimeError("%s is %s, not %s, after %d s"
                               % (unit, st, want, timeout))
        time.sleep(0.01)


def wake_stdio(root, d, unit):
    """tend connect -> first answer byte, the exclusive UNIT stopped or
    idle; (ms, the state it woke from); returns once it is idle again."""
    state = d.status(unit)[0]["state"]
    if state not in ("idle", "stopped"):
        raise RuntimeError("%s is %s, not idle" % (unit, state))
    n0 = len(d.events())
    t0 = time.perf_counter()
    ms = stdio_first(stdio_start(root, "exclusive", "echo", d, unit), t0,
                     "tend connect " + unit)

    def stopped(evs):
        return any(e["unit"] == unit and e["event"] == "exited" for e in evs)
    mine = [e for e in wait_events(d, stopped, n0) if e["unit"] == unit]
    woke = [e for e in mine if e["event"] == "woke"]
    if len(woke) != 1 or woke[0]["from"] != state \
            or woke[0].get("by") != "connect" \
            or [e["event"] for e in mine].count("spawned") != 1 \
            or not any(e["event"] == "idle_stop" for e in mine):
        raise RuntimeError("%s: unexpected events %r" % (unit, mine))
    wait_state(d, unit, "idle")
    return ms, state


def cold_wake(root):
    """tend connect with no daemon running (it starts the daemon, which
    starts the service) -> first answer byte, in a daemon of its own; then
    the echo started directly; (ms, ms)."""
    croot = os.path.join(root, "cold")
    os.makedirs(croot)
    c = tendbench.Daemon(TEND, croot, "[service echo-x]\nexec = %s %s echo\n"
                         "stdio = exclusive\n" % (PY, BACKEND))
    LIVE.append(c)
    t0 = time.perf_counter()
    p = stdio_start(root, "exclusive", "echo", c)
    try:
        ms = stdio_first(p, t0, "cold tend connect")
    finally:
        try:   # the daemon tend connect started, to be stopped
            c.pid = c.daemon()["pid"]
        except (RuntimeError, ValueError, IndexError, KeyError):
            pass
    c.down()
    LIVE.remove(c)
    return ms, start_stdio(root, "direct")


def stdio_stream(root, d, how, mib):
    """MIB MiB of 1 KiB lines one way into the sink: (MB/s from the sink's
    "go" to its count, ms from the spawn to the "go", CPU ns of the middle
    from before the spawn to the count: tend's daemon and tend connect, or
    socat; None directly)."""
    nbytes = mib << 20
    what = "%s sink" % how
    chunk = memoryview(LINES)
    c0 = tendbench.cpu_ns(d.pid)
    ts = time.perf_counter()
    p = stdio_start(root, how, "sink", d)
    w, r = p.stdin.fileno(), p.stdout.fileno()
    put(w, b"%d\n" % nbytes)
    go = take_line(r, what)
    t0 = time.perf_counter()
    for _ in range(mib):
        put(w, chunk)
    answer = take_line(r, what)
    t1 = time.perf_counter()
    cpu = None
    if how in UNIT:
        cpu = tendbench.cpu_ns(d.pid) - c0 + tendbench.cpu_ns(p.pid)
    elif how == "socat":
        cpu = tendbench.cpu_ns(p.pid)
    stdio_end(p, what)
    if go != b"go\n" or answer != b"%d\n" % nbytes:
        raise RuntimeError("%s: the sink said %r, then counted %r, sent %d"
                           % (what, go, answer, nbytes))
    return nbytes / 1e6 / (t1 - t0), (t0 - ts) * 1000, cpu


def stdio_pingpong(root, d, how, n, warm=200):
    """µs of each of N round trips of a numbered 64-byte line through the
    echo, over one session; and the ms from its stdin's close to the exit
    of what the bench started (the session's end)."""
    p = stdio_start(root, how, "echo", d)
    w, r = p.stdin.fileno(), p.stdout.fileno()
    what = "%s echo" % how
    out = []
    for i in range(warm + n):
        msg = b"%0*d\n" % (MSG - 1, i)
        t0 = time.perf_counter_ns()
        put(w, msg)
        got = take_exact(r, MSG, what)
        t1 = time.perf_counter_ns()
        if got != msg:
            raise RuntimeError("%s: sent %r, got %r" % (what, msg, got))
        if i >= warm:
            out.append((t1 - t0) / 1000)
    return out, stdio_end(p, what)


def stdio_run(fn, root, d, how, *args):
    """FN(root, d, how, *args); ONE_CPU: direct, the bench and what it
    spawns bound to the first CPU it may use, for that call."""
    if how != ONE_CPU:
        return fn(root, d, how, *args)
    cpus = os.sched_getaffinity(0)
    os.sched_setaffinity(0, {min(cpus)})
    try:
        return fn(root, d, "direct", *args)
    finally:
        os.sched_setaffinity(0, cpus)


def stdio_same_bytes(root, d, how, nbytes):
    """NBYTES of random bytes (the last a newline) to the echo come back the
    same."""
    data = os.urandom(nbytes - 1) + b"\n"
    p = stdio_start(root, how, "echo", d)

    def send():
        put(p.stdin.fileno(), data)
        p.stdin.close()
    t = threading.Thread(target=send)
    t.start()
    h, n = hashlib.sha256(), 0
    while True:
        k = take(p.stdout.fileno(), 1 << 20, how)
        if not k:
            break
        h.update(k)
        n += len(k)
    t.join()
    stdio_end(p, how + " echo")
    if n != nbytes or h.digest() != hashlib.sha256(data).digest():
        raise RuntimeError("%s: %d random bytes came back as %d different "
                           "ones" % (how, nbytes, n))


# --- figures ---------------------------------------------------------------

def ctx_switches(pid):
    """Context switches of every thread of PID so far: its wakeups, for a
    process that sleeps in one wait."""
    n = 0
    for tid in os.listdir("/proc/%d/task" % pid):
        try:
            with open("/proc/%d/task/%s/status" % (pid, tid)) as f:
                for line in f:
                    if line.startswith(("voluntary_ctxt", "nonvoluntary_ctxt")):
                        n += int(line.split()[1])
        except OSError:
            pass
    return n


def pct(xs, q):
    """Nearest-rank percentile."""
    xs = sorted(xs)
    return xs[max(0, math.ceil(q * len(xs)) - 1)]


def ms_row(xs):
    return "%.1f / %.1f (%.1f–%.1f)" % (statistics.median(xs), pct(xs, 0.9),
                                        min(xs), max(xs))


def main():
    if not os.access(TEND, os.X_OK):
        sys.exit("relay.py: no tend binary at %s" % TEND)
    if not SOCAT:
        sys.exit("relay.py: socat is missing (scripts/deps.sh bench)")
    root = tempfile.mkdtemp(prefix="tend-bench-relay-")
    try:
        run(root)
    finally:
        for d in LIVE:
            d.down()
        for p in list(SPAWNED):
            kill(p)
        left = tendbench.sweep(root)
        print("processes left behind (named %s): %d%s"
              % (root, len(left), " -- killed: %s" % left if left else ""))
        subprocess.run(["rm", "-rf", root])


def run(root):
    t_start = time.monotonic()
    hello = os.path.join(root, "hello.txt")
    with open(hello, "w") as f:
        f.write("hi\n")
    # Ports: l_* tend listens on, b_* its services' own, d_* the services
    # started directly, socat the comparison proxy.
    port = dict(zip(("l_py", "b_py", "d_py", "l_so", "b_so", "d_so", "l_srv",
                     "b_srv", "socat"), free_ports(9)))
    ini = ("[service hello-py]\nexec = %s %s hello %d\n"
           "listen = tcp:%s:%d\nbackend = tcp:%s:%d\nidle-stop = %s\n"
           % (PY, BACKEND, port["b_py"], HOST, port["l_py"], HOST,
              port["b_py"], IDLE_STOP) +
           "[service hello-socat]\nexec = %s\n"
           "listen = tcp:%s:%d\nbackend = tcp:%s:%d\nidle-stop = %s\n"
           % (" ".join(socat_hello(port["b_so"], hello)), HOST, port["l_so"],
              HOST, port["b_so"], IDLE_STOP) +
           "[service serve]\nexec = %s %s serve %d\n"
           "listen = tcp:%s:%d\nbackend = tcp:%s:%d\n"
           % (PY, BACKEND, port["b_srv"], HOST, port["l_srv"], HOST,
              port["b_srv"]) +
           "[service echo-wake]\nexec = %s %s echo\nstdio = exclusive\n"
           "idle-stop = %s\n" % (PY, BACKEND, IDLE_STOP) +
           "".join("[service %s-%s]\nexec = %s %s %s\nstdio = %s\n"
                   % (prog, UNIT[how], PY, BACKEND, prog, how)
                   for prog in ("sink", "echo") for how in UNIT))
    d = tendbench.Daemon(TEND, root, ini)
    LIVE.append(d)
    d.up()
    wait_listening((port["l_py"], port["l_so"], port["l_srv"]),
                   "is %s a tend with the on-demand proxy (`listen` / "
                   "`backend`)?" % TEND)
    proxy = spawn(root, [SOCAT, "TCP-LISTEN:%d,bind=%s,reuseaddr,fork"
                         % (port["socat"], HOST),
                         "TCP:%s:%d" % (HOST, port["b_srv"])],
                  stderr=subprocess.DEVNULL)
    wait_listening((port["socat"],), "socat, the comparison proxy")
    figures, stdio = measure(root, d, proxy, hello, port)
    kill(proxy)
    d.down()
    stdio["cold"] = cold_wake(root)
    report(*figures, time.monotonic() - t_start)
    report_stdio(**stdio)


def measure(root, d, proxy, hello, port):
    paths = [("direct", port["b_srv"]), ("tend", port["l_srv"]),
             ("socat", port["socat"])]
    wake = {"py-tend": lambda: wake_tend(d, "hello-py", port["l_py"]),
            "py-direct": lambda: start_direct_py(root, port["d_py"]),
            "so-tend": lambda: wake_tend(d, "hello-socat", port["l_so"]),
            "so-direct": lambda: start_direct_socat(root, port["d_so"], hello),
            "x-tend": lambda: wake_stdio(root, d, "echo-wake"),
            "x-direct": lambda: start_stdio(root, "direct"),
            "pc-tend": lambda: start_stdio(root, "per-client", d),
            "pc-direct": lambda: start_stdio(root, "direct")}

    # First wakes, from never started; they also warm the caches.
    first = {"py": wake["py-tend"]()[0], "so": wake["so-tend"]()[0],
             "x": wake["x-tend"]()[0]}
    for key in ("py-direct", "so-direct", "pc-tend", "x-direct"):
        wake[key]()
    # The serve service wakes on this first connection through tend, the
    # exclusive echo on its first session; the exclusive sink on its first
    # (short) stream.
    for _, p in (paths[1], paths[0], paths[2]):
        same_bytes(p, CHECK_BYTES)
    for how in STDIO:
        stdio_same_bytes(root, d, how, CHECK_BYTES)
        stdio_stream(root, d, how, 1)

    keys = ["py-tend", "py-direct", "so-tend", "so-direct",
            "x-tend", "x-direct", "pc-tend", "pc-direct"]
    wakes = {k: [] for k in keys}
    after = {"py": [], "so": []}
    rate = {name: [] for name, _ in paths}
    rtt = {name: [] for name, _ in paths}
    rtt_med = {name: [] for name, _ in paths}
    cpu = {"tend": [], "socat": []}
    wakeups = {"mib": [], "rt": []}   # tend's daemon, per MiB and per round trip
    variants = STDIO
    if hasattr(os, "sched_setaffinity") and len(os.sched_getaffinity(0)) > 1:
        variants += (ONE_CPU,)
    st = {k: {how: [] for how in variants}
          for k in ("rate", "setup", "rtt", "rtt_med", "end")}
    st["cpu"] = {k: [] for k in STDIO[1:]}
    for r in range(ROUNDS):
        for w in range(WAKES):
            turn = keys
            if (r * WAKES + w) % 2:   # direct first
                turn = [k for i in range(0, len(keys), 2)
                        for k in (keys[i + 1], keys[i])]
            for key in turn:
                got = wake[key]()
                if key in ("py-tend", "so-tend"):
                    ms, after_ms, _ = got
                    after[key[:2]].append(after_ms)
                elif key == "x-tend":
                    ms = got[0]
                else:
                    ms = got
                wakes[key].append(ms)
        order = paths[r % 3:] + paths[:r % 3]
        for name, p in order:
            c0 = tendbench.cpu_ns(d.pid), reaped_children_ns(proxy.pid)
            w0 = ctx_switches(d.pid)
            rate[name].append(stream(p, STREAM_MIB))
            if name == "tend":
                cpu[name].append(tendbench.cpu_ns(d.pid) - c0[0])
                wakeups["mib"].append((ctx_switches(d.pid) - w0) / STREAM_MIB)
            elif name == "socat":
                cpu[name].append(reaped_children_ns(proxy.pid) - c0[1])
        k = r % len(variants)
        sorder = variants[k:] + variants[:k]
        for how in sorder:
            mbs, setup, c = stdio_run(stdio_stream, root, d, how, STREAM_MIB)
            st["rate"][how].append(mbs)
            st["setup"][how].append(setup)
            if c is not None:
                st["cpu"][how].append(c)
        for name, p in reversed(order):
            w0 = ctx_switches(d.pid)
            xs = pingpong(p, PINGS, warm=PING_WARM)
            if name == "tend":
                wakeups["rt"].append((ctx_switches(d.pid) - w0) / (PINGS + PING_WARM))
            rtt[name] += xs
            rtt_med[name].append(statistics.median(xs))
        for how in reversed(sorder):
            xs, end = stdio_run(stdio_pingpong, root, d, how, PINGS)
            st["end"][how].append(end)
            st["rtt"][how] += xs
            st["rtt_med"][how].append(statistics.median(xs))
    st["wakes"] = {k: wakes.pop(k) for k in keys[4:]}
    st["first"] = first.pop("x")
    return (wakes, after, first, rate, cpu, wakeups, rtt, rtt_med), st


def report(wakes, after, first, rate, cpu, wakeups, rtt, rtt_med, took):
    print("tend %s; %d CPUs; socat %s; %s: %d rounds, each with every variant "
          "(order turned each round); %.0f s"
          % (TEND, os.cpu_count(), socat_version(),
             "quick" if QUICK else "full", ROUNDS, took))
    print()
    n_w = ROUNDS * WAKES
    print("| figure | direct | through tend | through socat | tend vs direct "
          "| socat vs direct | tend vs socat |")
    print("| --- | --- | --- | --- | --- | --- | --- |")
    for key, label in (("py", "Python service"), ("so", "socat service")):
        t, dr = wakes[key + "-tend"], wakes[key + "-direct"]
        diff = [a - b for a, b in zip(t, dr)]
        print("| wake of the idle %s, ms, median / p90 (min–max), n=%d "
              "| %s | %s | – | "
              "%+.1f / %+.1f ms | – | – |"
              % (label, n_w, ms_row(dr), ms_row(t), statistics.median(diff),
                 pct(diff, 0.9)))
    med = {k: statistics.median(v) for k, v in rate.items()}
    print("| stream %d MiB one way into a sink, MB/s, median (min–max), n=%d "
          "| %s | %s | %s | %.2f× | %.2f× | %.2f× |"
          % (STREAM_MIB, ROUNDS,
             *("%.0f (%.0f–%.0f)" % (med[k], min(rate[k]), max(rate[k]))
               for k in ("direct", "tend", "socat")),
             med["tend"] / med["direct"], med["socat"] / med["direct"],
             med["tend"] / med["socat"]))
    gib = STREAM_MIB / 1024
    per = {k: statistics.median(v) / 1e6 / gib for k, v in cpu.items()}
    print("| CPU of the proxy in that stream, ms per GiB, median (min–max) "
          "| – | %s | %s | – | – | %.2f× |"
          % (*("%.0f (%.0f–%.0f)" % (per[k], min(cpu[k]) / 1e6 / gib,
                                      max(cpu[k]) / 1e6 / gib)
               for k in ("tend", "socat")), per["tend"] / per["socat"]))
    print("| wakeups of tend's daemon (context switches), per MiB streamed / per "
          "round trip, median | – | %.1f / %.2f | – | – | – | – |"
          % (statistics.median(wakeups["mib"]), statistics.median(wakeups["rt"])))
    for q, label in ((0.5, "median"), (0.99, "p99")):
        v = {k: pct(x, q) for k, x in rtt.items()}
        cells = ["%.0f" % v[k] for k in ("direct", "tend", "socat")]
        if q == 0.5:
            cells = ["%s (rounds %.0f–%.0f)"
                     % (cell, min(rtt_med[k]), max(rtt_med[k]))
                     for cell, k in zip(cells, ("direct", "tend", "socat"))]
        print("| round trip of a %d-byte line, µs, %s of %d×%d | %s | %s | %s "
              "| %.2f× | %.2f× | %.2f× |"
              % (MSG, label, ROUNDS, PINGS, *cells, v["tend"] / v["direct"],
                 v["socat"] / v["direct"], v["tend"] / v["socat"]))
    print()

    def spread(xs):
        return "%.0f (%d–%d)" % (statistics.median(xs), min(xs), max(xs))
    print("Wake: the service stopped by `idle-stop = %s`; through tend: "
          "connect() to tend's port -> first byte of the answer; direct: "
          "the same program spawned by the bench -> first byte of its answer "
          "(its own start: the Python service says it listens on stdout, "
          "socat is tried every 0.2 ms); tend vs direct: median / p90 of the "
          "differences, one wake of each per turn.  after_ms of tend's `ready` "
          "event (from its `spawned` event): Python %s, socat %s.  First "
          "wakes, from never started: Python %.1f ms, socat %.1f ms."
          % (IDLE_STOP, spread(after["py"]), spread(after["so"]),
             first["py"], first["so"]))
    print("Stream and round trip: one Python service, reached directly, "
          "through tend's proxy and through socat (its child for the "
          "connection: the CPU row; socat's default 8 KiB buffer).  Ratios "
          "are of the figures themselves: for MB/s higher is better, for "
          "ms, µs and CPU lower.")
    print("%d MiB of random bytes through each path to an echo came back the "
          "same; every sink count and every echoed line was right."
          % (CHECK_BYTES >> 20))
    print()


def report_stdio(wakes, first, rate, setup, cpu, rtt, rtt_med, end, cold):
    n_w = ROUNDS * WAKES
    cols = ("direct", "per-client", "exclusive", "socat")
    print("`tend connect`, on stdin and stdout:")
    print()
    print("| figure | direct | tend connect, per-client "
          "| tend connect, exclusive | socat | per-client vs direct "
          "| exclusive vs direct | socat vs direct | per-client vs socat "
          "| exclusive vs socat |")
    print("| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |")
    for key, col, label in (
            ("x", 2, "wake of the idle exclusive echo"),
            ("pc", 1, "start of a per-client echo instance")):
        t, dr = wakes[key + "-tend"], wakes[key + "-direct"]
        diff = [a - b for a, b in zip(t, dr)]
        cells = ["–"] * 4
        cells[0], cells[col] = ms_row(dr), ms_row(t)
        rel = ["–"] * 5
        rel[col - 1] = "%+.1f / %+.1f ms" % (statistics.median(diff),
                                             pct(diff, 0.9))
        print("| %s, first answer, ms, median / p90 (min–max), n=%d | %s | %s "
              "|" % (label, n_w, " | ".join(cells), " | ".join(rel)))

    def ratios(v):
        return " | ".join("%.2f×" % (v[a] / v[b]) for a, b in (
            ("per-client", "direct"), ("exclusive", "direct"),
            ("socat", "direct"), ("per-client", "socat"),
            ("exclusive", "socat")))
    med = {k: statistics.median(v) for k, v in rate.items()}
    print("| stream %d MiB one way into a sink, MB/s, median (min–max), n=%d "
          "| %s | %s |"
          % (STREAM_MIB, ROUNDS,
             " | ".join("%.0f (%.0f–%.0f)" % (med[k], min(rate[k]),
                                              max(rate[k])) for k in cols),
             ratios(med)))
    gib = STREAM_MIB / 1024
    per = {k: statistics.median(v) / 1e6 / gib for k, v in cpu.items()}
    print("| CPU of the middle in that stream, ms per GiB, median (min–max) "
          "| – | %s | – | – | – | %.2f× | %.2f× |"
          % (" | ".join("%.0f (%.0f–%.0f)" % (per[k], min(cpu[k]) / 1e6 / gib,
                                              max(cpu[k]) / 1e6 / gib)
                        for k in cols[1:]),
             per["per-client"] / per["socat"], per["exclusive"] / per["socat"]))
    for q, label in ((0.5, "median"), (0.99, "p99")):
        v = {k: pct(x, q) for k, x in rtt.items()}
        cells = ["%.0f" % v[k] for k in cols]
        if q == 0.5:
            cells = ["%s (rounds %.0f–%.0f)"
                     % (cell, min(rtt_med[k]), max(rtt_med[k]))
                     for cell, k in zip(cells, cols)]
        print("| round trip of a %d-byte line, µs, %s of %d×%d | %s | %s |"
              % (MSG, label, ROUNDS, PINGS, " | ".join(cells), ratios(v)))
    print()
    print("Wake: the exclusive echo stopped by `idle-stop = %s` (tend status "
          "says idle); spawn of `tend connect` -> first byte of the answer to "
          "one 64-byte line; the per-client row: the same through a fresh "
          "instance (no idle-stop: each session starts its own); direct: the "
          "echo spawned by the bench, the same line, the same first byte; "
          "vs direct: median / p90 of the differences, one of each per turn.  "
          "First wake of the exclusive echo, from never started: %.1f ms.  "
          "Cold, once (no daemon: tend connect starts it, the daemon starts "
          "the service): %.1f ms; the echo started directly just after: "
          "%.1f ms (%+.1f ms)."
          % (IDLE_STOP, first, cold[0], cold[1], cold[0] - cold[1]))
    print("Stream: relay_backend.py sink reads \"N\\n\", says \"go\", counts N "
          "bytes (1 KiB lines) and answers the count; MB/s from its \"go\" to "
          "its count; before the \"go\", each path's start (spawn -> \"go\", "
          "median ms): %s.  The direct, per-client and socat sinks are fresh "
          "per stream, the exclusive one is the service, running.  CPU of the "
          "middle, from before the spawn to the count: tend's daemon "
          "(schedstat) + the tend connect process (it only waits), or socat "
          "(schedstat; not its child, the sink).  Round trip: 64-byte "
          "numbered lines through relay_backend.py echo, one session each; "
          "after it, stdin closed -> exit of what the bench started (median "
          "ms): %s.  socat: `socat - EXEC:...` (its defaults: 8 KiB buffer, "
          "a socketpair to the program); tend gives the program pipes; "
          "per-client splices, exclusive copies through 64 KiB to find line "
          "ends.  Ratios as above."
          % tuple(", ".join("%s %.1f" % (k, statistics.median(v[k]))
                            for k in cols) for v in (setup, end)))
    if ONE_CPU in rate:
        print("For scale, direct with the bench and the program bound to one "
              "CPU (sched_setaffinity), the same rounds: stream %.0f MB/s "
              "(%.0f–%.0f), round trip median %.0f µs, p99 %.0f µs.  Unbound, "
              "where the scheduler puts the processes (a wakeup across CPUs) "
              "weighs as much as what the middle does."
              % (statistics.median(rate[ONE_CPU]), min(rate[ONE_CPU]),
                 max(rate[ONE_CPU]), pct(rtt[ONE_CPU], 0.5),
                 pct(rtt[ONE_CPU], 0.99)))
    print("%d MiB of random bytes through each of the four to the echo came "
          "back the same; every sink count and every echoed line was right."
          % (CHECK_BYTES >> 20))
    print()


def socat_version():
    r = subprocess.run([SOCAT, "-V"], capture_output=True, text=True)
    for line in r.stdout.splitlines():
        if line.startswith("socat version"):
            return line.split()[2]
    return "?"


if __name__ == "__main__":
    main()
