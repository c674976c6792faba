"""tend status: why a unit is not up (reason), listen addresses, next run,
clients, the table fitted to the terminal's width, and the shapes of
--json (version 2, and the deprecated old array of --json=1) and of the
status request (docs/protocol.md)."""
import json
import os
import sys
import socket

from conftest import (T_LONG, T_SHORT, ctl_ask as ask, faketime_env,
                      faketime_set, wait_until)


REASONS_INI = """\
[service web]
exec = sleep 600

[service lazy]
exec = sleep 600
start = on-demand
listen = tcp:127.0.0.1:{port}

[service napper]
exec = {py} -m http.server {back} --bind 127.0.0.1
start = on-demand
listen = tcp:127.0.0.1:{front}
backend = tcp:127.0.0.1:{back}
idle-stop = 1s

[service crashy]
exec = sh -c 'exit 3'
backoff = 0
max-crashes = 2/1m

[service once]
exec = sh -c 'exit 4'
restart = never

[job tick]
exec = true
every = 1h
"""


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_reasons_listen_next_run(project):
    p = project(REASONS_INI.format(port=free_port(), front=free_port(),
                                   back=free_port(), py=sys.executable))
    p.up()
    p.ok("stop", "web")
    p.ok("start", "napper")
    wait_until(lambda: p.unit("crashy")["state"] == "failed", T_LONG,
               what="crashy to give up")
    wait_until(lambda: p.unit("once")["state"] == "failed", T_LONG,
               what="once to fail")
    p.wait_unit("napper", T_LONG, state="idle")
    by = {u["name"]: u for u in p.status()}

    assert by["web"]["reason"] == "stopped", by["web"]
    assert by["web"]["reason_text"] == "stopped by tend stop"
    lazy = by["lazy"]
    assert lazy["state"] == "stopped" and lazy["reason"] == "on-demand", lazy
    assert lazy["reason_text"] == "waiting (on-demand)"
    assert lazy["listen"] == [lazy["listen"][0]] and \
        lazy["listen"][0].startswith("tcp:127.0.0.1:"), lazy
    assert lazy["clients"] == 0, lazy
    assert by["napper"]["reason"] == "idle", by["napper"]
    assert by["crashy"]["reason"] == "gave-up", by["crashy"]
    assert by["crashy"]["reason_text"] == "failed: gave up after 2 crashes in 1m"
    assert by["once"]["reason"] == "failed", by["once"]
    assert by["once"]["reason_text"] == "failed: crash (code 4), not restarted"
    tick = by["tick"]
    assert tick["every_ms"] == 3600000, tick
    assert 0 < tick["next_run_in_ms"] <= 3600000, tick
    assert tick["reason"] is None, tick
    assert "listen" not in by["web"] and "next_run_in_ms" not in by["web"]

    # The table says the same, in words.
    out = p.ok("status").stdout
    rows = {l.split()[0]: l for l in out.splitlines()[1:] if l and l[0] != " "}
    assert "WHY / LAST EXIT" in out.splitlines()[0] and "CLIENTS" in out
    assert "stopped by tend stop" in rows["web"] and " ago" in rows["web"]
    assert "waiting (on-demand)" in rows["lazy"], out
    assert "idle-stopped " in rows["napper"] and rows["napper"].endswith(" ago"), out
    assert "failed: gave up after 2 crashes in 1m" in rows["crashy"], out
    assert "listen: " + lazy["listen"][0] in out, out
    assert "next run: in 5" in out or "next run: in 6" in out, out   # 59m59s, 1h0m


def test_waiting_for_descriptors_is_not_backoff(tend, project):
    """Under a descriptor limit too low for every service, the ones that
    wait for descriptors say so: reason no-fds, STATE waiting."""
    ini = "".join("[service s%02d]\nexec = sleep 600\n\n" % i for i in range(24))
    p = project(ini)
    w = tend.start_wrapped(["prlimit", "--nofile=48:48"], "-c", str(p.ini),
                           "up", "-d", env=p.env)
    # up -d says so, and exits 1; the daemon runs on
    assert w.wait(T_LONG) == 1, w.describe()
    assert "out of file descriptors" in w.stderr, w.describe()

    def waiting():
        us = [u for u in p.status() if u["reason"] == "no-fds"]
        return us or None
    us = wait_until(waiting, T_LONG, what="a service to wait for descriptors")
    assert all(u["state"] == "backoff" and u["pid"] is None for u in us), us
    assert "out of file descriptors" in us[0]["reason_text"], us
    out = p.ok("status").stdout
    row = [l for l in out.splitlines() if l.startswith(us[0]["name"] + " ")][0]
    assert row.split()[2] == "waiting", out
    assert "not started: tend is out of file descriptors" in row, out


LONG = "a-service-whose-name-is-much-longer-than-a-column-wants"


def test_table_fits_the_width(project):
    p = project("[service %s]\nexec = sleep 600\nmemory-max = 100M\n\n"
                "[service web]\nexec = sleep 600\n" % LONG)
    p.up()
    # A pipe, no COLUMNS: whole lines, as always (scripts use --json).
    env = {k: v for k, v in p.env.items()
           if k not in ("COLUMNS", "LC_ALL", "LC_CTYPE", "LANG")}
    whole = p.tend.run("-c", str(p.ini), "status", env=env).stdout
    assert LONG in whole and max(map(len, whole.splitlines())) > 100, whole
    for cols in (100, 60, 40):
        t = p.tend.run("-c", str(p.ini), "status", env=dict(env, COLUMNS=str(cols),
                                                           LANG="C.UTF-8"))
        assert t.rc == 0, t.describe()
        lines = t.stdout.splitlines()
        assert all(len(l) <= cols for l in lines), (cols, t.stdout)
        assert LONG not in t.stdout and "\u2026" in t.stdout, t.stdout
        head = lines[0].split()
        assert head[0] == "NAME" and "STATE" in head, t.stdout
        row = [l for l in lines if l.startswith("web ")][0]
        assert "running" in row.split(), t.stdout
    # The documented order: PROCS and KIND go first, then names are cut
    # to 24 columns; only then RESTARTS, CLIENTS, PID, UPTIME go.
    t = p.tend.run("-c", str(p.ini), "status", env=dict(env, COLUMNS="100"))
    head = t.stdout.splitlines()[0].split()
    assert "PROCS" not in head and "KIND" not in head, head
    assert "PID" in head and "UPTIME" in head and "RESTARTS" in head, head
    cut = t.stdout.splitlines()[1].split()[0]
    assert cut.endswith("...") and LONG.startswith(cut[:-3]), t.stdout
    assert 24 <= len(cut) < len(LONG), t.stdout   # no UTF-8 locale: "..."
    t = p.tend.run("-c", str(p.ini), "status", env=dict(env, COLUMNS="40"))
    head = t.stdout.splitlines()[0]
    for gone in ("PROCS", "KIND", "RESTARTS", "CLIENTS", "PID", "UPTIME"):
        assert gone not in head.split(), head


def test_json_shapes(project):
    p = project("[service web]\nexec = sleep 600\n\n[service b]\nexec = sleep 600\n")
    p.up()
    doc = json.loads(p.ok("status", "--json").stdout)
    assert sorted(doc) == ["daemon", "units", "version"] and doc["version"] == 2
    assert doc["daemon"]["kind"] == "daemon"
    assert [u["name"] for u in doc["units"]] == ["web", "b"]
    one = json.loads(p.ok("status", "web", "--json").stdout)
    assert [u["name"] for u in one["units"]] == ["web"] and one["daemon"]["pid"]
    # the deprecated shape: the daemon first, then the units
    old = json.loads(p.ok("status", "--json=1").stdout)
    assert isinstance(old, list) and old[0]["kind"] == "daemon", old
    assert [u["name"] for u in old[1:]] == ["web", "b"]
    assert old[0]["pid"] == doc["daemon"]["pid"]
    old1 = json.loads(p.ok("status", "web", "--json=1").stdout)
    assert [u["name"] for u in old1] == ["web"], old1
    assert "--json=1" in p.ok("status", "--help").stdout
    # The request: version 2 on asking, the old reply without.
    r2 = ask(p.sock, {"cmd": "status", "version": 2})
    assert r2["ok"] and r2["version"] == 2 and r2["daemon"]["kind"] == "daemon"
    assert [u["name"] for u in r2["units"]] == ["web", "b"]
    r1 = ask(p.sock, {"cmd": "status"})
    assert r1["units"][0]["kind"] == "daemon" and "daemon" not in r1, r1
    assert "reason" not in r1["units"][1], "version 1 is as it was"
    bad = ask(p.sock, {"cmd": "status", "version": 3})
    assert not bad["ok"] and bad["exit"] == 2 and "version" in bad["error"], bad
    bad = ask(p.sock, {"cmd": "status", "history": 1})
    assert not bad["ok"] and "history" in bad["error"], bad


def test_history_while_watched(project):
    """A status request with history arms the sampling: every unit that is
    up gets a memory history, spaced by memory-interval, bounded."""
    p = project("[tend]\nmemory-interval = 100ms\n\n"
                "[service web]\nexec = sleep 600\n\n"
                "[service capped]\nexec = sleep 600\nmemory-max = 100M\n")
    p.up()
    assert p.unit("web")["mem_history"] == []
    r = ask(p.sock, {"cmd": "status", "version": 2, "history": True})
    assert r["daemon"]["mem_interval_ms"] == 100, r["daemon"]

    def grown():
        u = {x["name"]: x for x in ask(p.sock, {"cmd": "status", "version": 2})
             ["units"]}
        return u if len(u["web"]["mem_history"]) >= 5 else None
    u = wait_until(grown, T_SHORT * 2, what="web's history to grow")
    assert all(type(b) is int and b > 0 for b in u["web"]["mem_history"]), u
    assert len(u["capped"]["mem_history"]) >= 5, u["capped"]
    # bounded: never more than 120 samples
    wait_until(lambda: len(p.unit("web")["mem_history"]) >= 120, 30,
               interval=0.5, what="120 samples")
    assert len(p.unit("web")["mem_history"]) == 120


def test_history_goes_a_minute_after_the_last_watcher(project, tend, tmp_path):
    """SUP_WATCH_MS (a minute) after the last status request with history,
    the histories of units without memory-max are dropped and their
    sampling stops; a unit with memory-max keeps its own.  The minute is
    passed by moving the daemon's monotonic clock (libfaketime) forward."""
    rc = tmp_path / "faketime.rc"
    p = project("[tend]\nmemory-interval = 100ms\n\n"
                "[service web]\nexec = sleep 600\nenv = LD_PRELOAD=\n\n"
                "[service capped]\nexec = sleep 600\nenv = LD_PRELOAD=\n"
                "memory-max = 100M\n")
    fake = faketime_env(p.env, rc, monotonic=True)
    t = tend.run("-c", str(p.ini), "up", "-d", env=fake, timeout=T_LONG)
    assert t.rc == 0, t.describe()
    with open("/proc/%d/maps" % p.daemon_pid()) as f:
        assert "libfaketime" in f.read(), "the preload did not reach the daemon"
    ask(p.sock, {"cmd": "status", "version": 2, "history": True})

    def hist(name):
        return len(p.unit(name)["mem_history"])
    wait_until(lambda: hist("web") >= 5, T_SHORT * 2, what="web's history")
    # Seconds later (less than a minute) it is still kept and growing.
    n = hist("web")
    wait_until(lambda: hist("web") > n + 3, T_SHORT, what="web's history grows")
    faketime_set(rc, "+61")      # the minute of the watch has passed
    wait_until(lambda: hist("web") == 0, T_SHORT,
               what="web's history dropped once no one watches")
    m = hist("capped")
    assert m >= 5, "a unit with memory-max keeps its history"
    wait_until(lambda: hist("capped") > m, T_SHORT,
               what="capped still sampled")
    assert hist("web") == 0, "web is no longer sampled"


def test_an_older_daemon_is_asked_again_in_the_old_shape(project):
    """A daemon keeps running across an upgrade of tend: one from before
    status version 2 refuses the version field, and tend status asks again
    without it and shows its answer in the new shape.  The older daemon is
    played by this test on the daemon's socket, holding its lock."""
    import fcntl
    import threading
    p = project("[service web]\nexec = sleep 600\n")
    p.up()
    sock_path, lock_path = p.sock, p.lock_file
    p.ok("down")
    wait_until(lambda: p.lock_holder() is None or not sock_path.exists(),
               what="the daemon to go")
    lock = open(lock_path, "a+")
    fcntl.lockf(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
    lock.seek(0)
    lock.truncate()
    lock.write("%d\n" % os.getpid())
    lock.flush()
    if sock_path.exists():
        sock_path.unlink()
    srv = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    srv.bind(str(sock_path))
    srv.listen(8)
    asked = []
    old = {"ok": True, "units": [
        {"name": "tend", "kind": "daemon", "pid": 4242, "state": "running"},
        {"name": "web", "kind": "service", "state": "running", "pid": 4343}]}

    def serve():
        while True:
            try:
                c, _ = srv.accept()
            except OSError:
                return
            with c:
                data = b""
                while b"\n" not in data:
                    chunk = c.recv(65536)
                    if not chunk:
                        break
                    data += chunk
                if not data:
                    continue
                req = json.loads(data.split(b"\n")[0])
                asked.append(req)
                if "version" in req:
                    r = {"ok": False, "exit": 2, "error": 'cmd "status" takes '
                         'no field "version"; see docs/protocol.md'}
                else:
                    r = old
                c.sendall(json.dumps(r).encode() + b"\n")
    th = threading.Thread(target=serve, daemon=True)
    th.start()
    try:
        t = p.run("status", "--json", timeout=T_SHORT)
        assert t.rc == 0, t.describe()
        doc = json.loads(t.stdout)
        assert doc["version"] == 2 and doc["daemon"]["pid"] == 4242, doc
        assert [u["name"] for u in doc["units"]] == ["web"], doc
        assert [("version" in r) for r in asked if r.get("cmd") == "status"] \
            == [True, False], asked
    finally:
        srv.close()
        lock.close()
