#!/usr/bin/env python3
"""Figures for tend's on-demand TCP proxy (`listen` / `backend`): the wake
of an idle service, and the relay's throughput and round trip against a
direct connection and against socat as the proxy.

Wake: connect() to tend's listening port -> first byte of the answer, the
service idle (stopped by `idle-stop = 100ms`); the same program started
directly, spawn -> first byte of its answer, is its own start time, and
the difference (paired, per wake) is what tend adds: the spawn through its
shim, the readiness polling of the backend (after 5, 10, 20.. ms), the
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

Every round runs every variant, in an order that turns from round to round,
so that drift hits them all alike.  Before the rounds, 8 MiB of random
bytes go through each path to an echo and must come back the same.

Usage: bench/relay.py [TEND_BIN] [--quick]   (from `make bench-relay`;
needs socat: `scripts/deps.sh bench`)
Runs in a temporary XDG_RUNTIME_DIR / XDG_STATE_HOME; the daemon is
stopped with `tend down` or killed by pid, every other process it starts
is killed by pid, and at the end nothing that names the temporary directory
in its command line or environment may be left.
"""
import hashlib
import math
import os
import random
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

def spawn(root, argv, **kw):
    env = dict(os.environ, TEND_BENCH_ROOT=root)
    p = subprocess.Popen(argv, env=env, stdin=subprocess.DEVNULL, **kw)
    SPAWNED.append(p)
    return p


def kill(p):
    if p.poll() is None:
        try:
            os.kill(p.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
    p.wait()
    if p.stdout:
        p.stdout.close()
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


def pingpong(port, n, warm=200):
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


# --- figures ---------------------------------------------------------------

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
              port["b_srv"]))
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
    report(*measure(root, d, proxy, hello, port), time.monotonic() - t_start)
    kill(proxy)


def measure(root, d, proxy, hello, port):
    paths = [("direct", port["b_srv"]), ("tend", port["l_srv"]),
             ("socat", port["socat"])]
    wake = {"py-tend": lambda: wake_tend(d, "hello-py", port["l_py"]),
            "py-direct": lambda: start_direct_py(root, port["d_py"]),
            "so-tend": lambda: wake_tend(d, "hello-socat", port["l_so"]),
            "so-direct": lambda: start_direct_socat(root, port["d_so"], hello)}

    # First wakes, from never started; they also warm the caches.
    first = {"py": wake["py-tend"]()[0], "so": wake["so-tend"]()[0]}
    wake["py-direct"]()
    wake["so-direct"]()
    # The serve service wakes on this first connection through tend.
    for _, p in (paths[1], paths[0], paths[2]):
        same_bytes(p, CHECK_BYTES)

    wakes = {k: [] for k in ("py-tend", "py-direct", "so-tend", "so-direct")}
    after = {"py": [], "so": []}
    rate = {name: [] for name, _ in paths}
    rtt = {name: [] for name, _ in paths}
    rtt_med = {name: [] for name, _ in paths}
    cpu = {"tend": [], "socat": []}
    for r in range(ROUNDS):
        for w in range(WAKES):
            keys = ["py-tend", "py-direct", "so-tend", "so-direct"]
            if (r * WAKES + w) % 2:
                keys = ["py-direct", "py-tend", "so-direct", "so-tend"]
            for key in keys:
                got = wake[key]()
                if key.endswith("tend"):
                    ms, after_ms, _ = got
                    after[key[:2]].append(after_ms)
                else:
                    ms = got
                wakes[key].append(ms)
        order = paths[r % 3:] + paths[:r % 3]
        for name, p in order:
            c0 = tendbench.cpu_ns(d.pid), reaped_children_ns(proxy.pid)
            rate[name].append(stream(p, STREAM_MIB))
            if name == "tend":
                cpu[name].append(tendbench.cpu_ns(d.pid) - c0[0])
            elif name == "socat":
                cpu[name].append(reaped_children_ns(proxy.pid) - c0[1])
        for name, p in reversed(order):
            xs = pingpong(p, PINGS)
            rtt[name] += xs
            rtt_med[name].append(statistics.median(xs))
    return wakes, after, first, rate, cpu, rtt, rtt_med


def report(wakes, after, first, rate, cpu, rtt, rtt_med, took):
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


def socat_version():
    r = subprocess.run([SOCAT, "-V"], capture_output=True, text=True)
    for line in r.stdout.splitlines():
        if line.startswith("socat version"):
            return line.split()[2]
    return "?"


if __name__ == "__main__":
    main()
