"""Several units at once: names, shell-style globs and `all` for start,
stop, restart, run and status (expanded by the daemon: "names" in the
request), one outcome per unit and exit 1 when any failed; and tend logs
of several units merged by time, with -f, coloured labels on a terminal,
--timestamps and --since."""
import datetime
import json
import os
import pty
import re
import select
import subprocess
import time

from conftest import PY, T_LONG, T_SHORT, TEND_BIN, q, wait_until, ctl_ask

# A service that prints "NAME i" every PERIOD seconds, starting OFFSET
# seconds in: two of them, offset by half a period, write interleaved.
TICKER = """
import sys, time
name, offset, period = sys.argv[1], float(sys.argv[2]), float(sys.argv[3])
time.sleep(offset)
i = 0
while True:
    print("%s %d" % (name, i), flush=True)
    i += 1
    time.sleep(period)
"""

ESC = "\033["
STAMP = re.compile(r"^(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}[+-]\d\d:\d\d) ")


def units_ini(tmp_path):
    ticker = tmp_path / "ticker.py"
    ticker.write_text(TICKER)
    t = "%s %s" % (q(PY), q(ticker))
    return """
[service idx-a]
exec = %(t)s idx-a 0 0.2
[service idx-b]
exec = %(t)s idx-b 0.1 0.2
[service web]
exec = sleep 600
[job job-ok]
exec = true
[job job-bad]
exec = sh -c 'exit 3'
""" % {"t": t}


def names_of(project, kind=None):
    return {u["name"]: u for u in project.status()
            if u.get("kind") != "daemon" and (kind is None or u["kind"] == kind)}


def state(project, name):
    return names_of(project)[name]["state"]


def test_several_names_globs_and_all(project, tmp_path):
    p = project(units_ini(tmp_path))
    p.up()
    # two names: both stopped, one line each
    t = p.ok("stop", "idx-a", "idx-b")
    assert t.stdout.splitlines() == ["idx-a: stopped", "idx-b: stopped"], t.stdout
    assert state(p, "idx-a") == "stopped" and state(p, "idx-b") == "stopped"
    assert state(p, "web") == "running"
    # a glob: the two of them, nothing else
    t = p.ok("start", "idx-*", "--wait")
    lines = t.stdout.splitlines()
    assert [l.split(":")[0] for l in lines] == ["idx-a", "idx-b"], t.stdout
    assert all(re.fullmatch(r"idx-[ab]: running \(pid \d+\)", l) for l in lines), t.stdout
    assert state(p, "idx-a") == "running" and state(p, "idx-b") == "running"
    # ? and [...]
    p.ok("stop", "idx-?")
    assert state(p, "idx-a") == "stopped" and state(p, "idx-b") == "stopped"
    p.ok("start", "[i]dx-a")
    assert state(p, "idx-a") == "running" and state(p, "idx-b") == "stopped"
    # status of several: only those
    t = p.ok("status", "--json", "idx-*")
    doc = json.loads(t.stdout)
    assert doc["version"] == 2 and doc["daemon"]["kind"] == "daemon", doc
    assert sorted(u["name"] for u in doc["units"]) == ["idx-a", "idx-b"]
    t = p.ok("status", "--json=1", "idx-*")   # the old shape: no daemon
    assert sorted(u["name"] for u in json.loads(t.stdout)) == ["idx-a", "idx-b"]
    t = p.ok("status", "web", "idx-b")
    rows = [l.split()[0] for l in t.stdout.splitlines()[1:] if l and not l.startswith(" ")]
    assert rows == ["idx-b", "web"], t.stdout
    # restart all: every service (not the jobs), each restarted
    before = {n: u["pid"] for n, u in names_of(p, "service").items()}
    t = p.ok("restart", "all", "--wait")
    assert sorted(l.split(":")[0] for l in t.stdout.splitlines()) == \
        ["idx-a", "idx-b", "web"], t.stdout
    after = {n: u["pid"] for n, u in names_of(p, "service").items()}
    assert all(after[n] and after[n] != before[n] for n in after), (before, after)
    # stop all: every unit, the jobs too
    t = p.ok("stop", "all")
    assert sorted(l.split(":")[0] for l in t.stdout.splitlines()) == \
        ["idx-a", "idx-b", "job-bad", "job-ok", "web"], t.stdout
    assert all(u["state"] != "running" for u in names_of(p).values())


def test_no_match_is_an_error_with_a_suggestion(project, tmp_path):
    p = project(units_ini(tmp_path))
    p.up()
    for args, want in [
        (("start", "zz*"), 'no service matches "zz*" in %s' % p.ini),
        (("start", "idx-c"), 'no service named "idx-c" in %s; did you mean "idx-a"?' % p.ini),
        (("stop", "web", "wbe"), 'no service named "wbe" in %s; did you mean "web"?' % p.ini),
        (("run", "jb-ok", "--wait"), 'no job named "jb-ok" in %s; did you mean "job-ok"?' % p.ini),
        (("status", "nope*"), 'no unit matches "nope*" in %s' % p.ini),
    ]:
        t = p.run(*args)
        assert t.rc == 2, t.describe()
        assert t.stderr_lines() == ["tend: " + want], t.describe()
    # nothing was done: web named before the unknown one still runs
    assert state(p, "web") == "running"
    # a glob covers the units the command applies to: start 'job-*' has none
    t = p.run("start", "job-*")
    assert t.rc == 2 and 'no service matches "job-*"' in t.stderr, t.describe()
    # without a daemon, a name not in the file is refused before one starts
    p.ok("down")
    t = p.run("start", "idx-a", "wbe")
    assert t.rc == 2, t.describe()
    assert 'no service named "wbe"' in t.stderr and 'did you mean "web"?' in t.stderr
    t = p.run("status")
    assert t.rc == 3, t.describe()


def test_mixed_outcomes_exit_1(project, tmp_path):
    p = project(units_ini(tmp_path) + """
[service broken]
exec = /nonexistent/program
start = on-demand
restart = never
""")
    p.up()
    p.ok("stop", "web")
    t = p.run("start", "web", "broken")
    assert t.rc == 1, t.describe()
    assert t.stdout.splitlines() == ["web: running"], t.stdout
    err = t.stderr_lines()
    assert len(err) == 1 and err[0].startswith("tend: broken: ") and \
        "/nonexistent/program" in err[0], err
    assert state(p, "web") == "running"
    # a job named among services: refused for it, done for the others
    t = p.run("restart", "web", "job-ok")
    assert t.rc == 1, t.describe()
    assert t.stderr_lines() == ['tend: job-ok: "job-ok" is a job: run it with '
                                'tend run job-ok'], t.describe()
    # runs: each waited for; one failed
    t = p.run("run", "job-*", "--wait")
    assert t.rc == 1, t.describe()
    assert t.stdout.splitlines() == ["job-ok: run 1 success"], t.stdout
    err = t.stderr_lines()
    assert len(err) == 1 and err[0].startswith('tend: job "job-bad" run 1: failure'), err
    t = p.ok("run", "job-ok", "--wait")   # one name: as before, nothing printed
    assert t.stdout == ""
    t = p.ok("run", "all")
    assert sorted(t.stdout.splitlines()) == ["job-bad: run 2 started",
                                             "job-ok: run 3 started"], t.stdout


def test_names_request_on_the_socket(project, tmp_path):
    """The request shape: "names" (several, globs, all) and one reply with
    each unit's outcome; "name" as before."""
    p = project(units_ini(tmp_path))
    p.up()

    def request(req):
        return ctl_ask(p.sock, req)

    r = request({"cmd": "stop", "names": ["idx-*", "web"]})
    assert r["ok"] is True, r
    assert [(x["name"], x["ok"], x["state"]) for x in r["results"]] == \
        [("idx-a", True, "stopped"), ("idx-b", True, "stopped"), ("web", True, "stopped")], r
    r = request({"cmd": "start", "names": ["web", "job-ok"], "wait": True})
    assert r["ok"] is True, r
    assert r["results"][0]["name"] == "web" and r["results"][0]["ok"] is True
    assert r["results"][0]["state"] == "running" and r["results"][0]["pid"] > 0
    assert r["results"][1] == {"name": "job-ok", "ok": False, "exit": 2,
                               "error": '"job-ok" is a job: run it with tend run job-ok'}, r
    r = request({"cmd": "start", "names": ["nothing-*"]})
    assert r["ok"] is False and r["exit"] == 2 and "nothing-*" in r["error"], r
    r = request({"cmd": "start", "name": "web", "names": ["web"]})
    assert r["ok"] is False and r["exit"] == 2, r
    r = request({"cmd": "stop", "name": "web"})   # the old shape
    assert r == {"ok": True, "state": "stopped"}, r


def ticking(project, tmp_path, lines=8):
    """A daemon whose idx-a and idx-b have written LINES lines each."""
    p = project(units_ini(tmp_path))
    p.up()

    def enough():
        try:
            return all(len((p.statedir / ("%s.log" % n)).read_text().splitlines()) >= lines
                       for n in ("idx-a", "idx-b"))
        except OSError:
            return False
    wait_until(enough, T_LONG, what="%d lines of each" % lines)
    return p


def parse_labelled(text):
    """[(stamp, label, text)] of --timestamps lines labelled NAME | text."""
    out = []
    for line in text.splitlines():
        m = STAMP.match(line)
        assert m, line
        label, _, rest = line[m.end():].partition(" | ")
        out.append((m.group(1), label.strip(), rest))
    return out


def test_logs_of_several_merged_by_time(project, tmp_path):
    p = ticking(project, tmp_path)
    p.ok("stop", "idx-*")
    env = dict(p.env, TZ="UTC0")
    t = p.tend.run("-c", str(p.ini), "logs", "idx-a", "idx-b", "-n", "all",
                   "--timestamps", env=env)
    assert t.rc == 0, t.describe()
    got = parse_labelled(t.stdout)
    assert len(got) >= 16
    stamps = [g[0] for g in got]
    assert stamps == sorted(stamps), t.stdout
    # interleaved: the labels alternate (the writes are 100 ms apart)
    labels = [g[1] for g in got]
    switches = sum(1 for a, b in zip(labels, labels[1:]) if a != b)
    assert switches >= len(labels) - 3, t.stdout
    # each line is its unit's own, in its own order
    for name in ("idx-a", "idx-b"):
        mine = [g[2] for g in got if g[1] == name]
        assert mine == ["%s %d" % (name, i) for i in range(len(mine))], mine
    # a glob, and all (every unit: no name, or all), label the same lines
    g = p.ok("logs", "idx-*", "-n", "all").stdout
    assert [l.split(" | ")[1] for l in g.splitlines()] == [x[2] for x in got]
    a = p.ok("logs", "all", "-n", "all").stdout
    assert a == p.ok("logs", "-n", "all").stdout
    assert [l.split(" | ")[1] for l in a.splitlines()] == [x[2] for x in got]
    # one unit: no label
    one = p.ok("logs", "idx-a", "-n", "2").stdout.splitlines()
    assert len(one) == 2 and all(re.fullmatch(r"idx-a \d+", l) for l in one), one
    # no such unit
    t = p.run("logs", "idx-c")
    assert t.rc == 2 and 'no service or job named "idx-c"' in t.stderr and \
        'did you mean "idx-a"?' in t.stderr, t.describe()
    t = p.run("logs", "zz*")
    assert t.rc == 2 and 'no service or job matches "zz*"' in t.stderr, t.describe()


def test_logs_follow_merges_new_lines(project, tmp_path):
    p = ticking(project, tmp_path, lines=2)
    out = tmp_path / "follow.out"
    with open(out, "wb") as f:
        t = p.tend.start("-c", str(p.ini), "logs", "idx-a", "idx-b", "-f", "-n", "0",
                         "--timestamps", env=p.env, stdout=f)
    try:
        def both():
            got = parse_labelled(out.read_text())
            n = {"idx-a": 0, "idx-b": 0}
            for g in got:
                n[g[1]] += 1
            return got if min(n.values()) >= 5 else None
        got = wait_until(both, T_LONG, what="followed lines of both")
    finally:
        t.proc.terminate()
        t.wait()
    stamps = [g[0] for g in got]
    assert stamps == sorted(stamps), out.read_text()
    labels = [g[1] for g in got]
    assert sum(1 for a, b in zip(labels, labels[1:]) if a != b) >= len(labels) - 3


def run_on_pty(project, *args, env=None):
    """tend -c FILE ARGS with a terminal as its stdout: what it wrote."""
    master, slave = pty.openpty()
    e = dict(project.env if env is None else env)
    proc = subprocess.Popen([TEND_BIN, "-c", str(project.ini)] + list(args),
                            stdin=subprocess.DEVNULL, stdout=slave,
                            stderr=subprocess.PIPE, env=e,
                            start_new_session=True)
    project.tend.reaper.track(proc)
    os.close(slave)
    data = b""
    deadline = time.monotonic() + T_LONG
    while time.monotonic() < deadline:
        r, _, _ = select.select([master], [], [], 0.5)
        if not r:
            if proc.poll() is not None:
                break
            continue
        try:
            chunk = os.read(master, 65536)
        except OSError:   # EIO: the other end is closed
            break
        if not chunk:
            break
        data += chunk
    os.close(master)
    assert proc.wait(T_SHORT) == 0, proc.stderr.read()
    proc.stderr.close()
    return data.decode()


def test_logs_colours_on_a_terminal(project, tmp_path):
    p = ticking(project, tmp_path, lines=3)
    p.ok("stop", "idx-*")
    env = {k: v for k, v in p.env.items() if k != "NO_COLOR"}
    out = run_on_pty(p, "logs", "idx-*", "-n", "all", env=env)
    lines = [l for l in out.replace("\r\n", "\n").splitlines() if l]
    assert len(lines) >= 6
    colours = {}
    for l in lines:
        m = re.match(r"\x1b\[(\d+)m(idx-[ab])\x1b\[0m \| ", l)
        assert m, repr(l)
        colours.setdefault(m.group(2), set()).add(m.group(1))
    # one colour per unit, the same on every line
    assert all(len(c) == 1 for c in colours.values()), colours
    # and the same the next time, whatever else is shown
    again = run_on_pty(p, "logs", "idx-a", "web", "-n", "all", env=env)
    assert "\x1b[%sm" % colours["idx-a"].pop() in again, repr(again)
    # no colour: NO_COLOR, --color=never, a pipe
    assert ESC not in run_on_pty(p, "logs", "idx-*", "-n", "all",
                                 env=dict(env, NO_COLOR="1"))
    assert ESC not in run_on_pty(p, "logs", "idx-*", "-n", "all", "--color=never",
                                 env=env)
    piped = p.tend.run("-c", str(p.ini), "logs", "idx-*", "-n", "all", env=env)
    assert piped.rc == 0 and piped.stdout and ESC not in piped.stdout
    # --color=always: even through a pipe (and despite NO_COLOR)
    forced = p.tend.run("-c", str(p.ini), "logs", "idx-*", "-n", "all",
                        "--color=always", env=dict(env, NO_COLOR="1"))
    assert forced.rc == 0 and ESC in forced.stdout, forced.stdout
    t = p.run("logs", "--color=sometimes")
    assert t.rc == 2 and "--color=sometimes" in t.stderr, t.describe()


def test_logs_timestamps_are_local_iso8601(project, tmp_path):
    p = ticking(project, tmp_path, lines=3)
    p.ok("stop", "idx-*")
    stored = (p.statedir / "idx-a.log").read_text().splitlines()
    utc = [l.split(" ", 1)[0] for l in stored]   # 2026-...T..:..:..mmmZ
    for tz, delta in (("UTC0", 0), ("XYZ-2", 2), ("ABC3:30", -3.5)):
        t = p.tend.run("-c", str(p.ini), "logs", "idx-a", "-n", "all",
                       "--timestamps", env=dict(p.env, TZ=tz))
        assert t.rc == 0, t.describe()
        shown = [STAMP.match(l).group(1) for l in t.stdout.splitlines()]
        assert len(shown) == len(utc)
        for s, u in zip(shown, utc):
            local = datetime.datetime.fromisoformat(s)
            ref = datetime.datetime.fromisoformat(u.replace("Z", "+00:00"))
            assert local == ref, (s, u)
            off = local.utcoffset().total_seconds() / 3600
            assert off == delta, (tz, s)
    # without --timestamps: no time
    t = p.ok("logs", "idx-a", "-n", "1")
    assert re.fullmatch(r"idx-a \d+\n", t.stdout), t.stdout


def test_logs_since(project, tmp_path):
    p = ticking(project, tmp_path, lines=6)
    p.ok("stop", "idx-*")
    stored = (p.statedir / "idx-a.log").read_text().splitlines()
    cut = stored[3].split(" ", 1)[0]          # the 4th line's own stamp
    t = p.ok("logs", "idx-a", "--since", cut)
    assert t.stdout.splitlines() == [l.split(" ", 1)[1] for l in stored[3:]], t.stdout
    # of several units: each from then on, merged
    t = p.ok("logs", "idx-*", "--since=" + cut, "--timestamps")
    got = parse_labelled(t.stdout)
    b_stored = (p.statedir / "idx-b.log").read_text().splitlines()
    want_b = [l.split(" ", 1)[1] for l in b_stored if l.split(" ", 1)[0] >= cut]
    assert [g[2] for g in got if g[1] == "idx-b"] == want_b
    assert [g[2] for g in got if g[1] == "idx-a"] == [l.split(" ", 1)[1] for l in stored[3:]]
    # -n with --since: the last N of those
    t = p.ok("logs", "idx-a", "--since", cut, "-n", "1")
    assert t.stdout.splitlines() == [stored[-1].split(" ", 1)[1]]
    # durations: nothing written in the last second (all stopped), all in an hour
    time.sleep(1.2)
    assert p.ok("logs", "--since", "1s").stdout == ""
    assert len(p.ok("logs", "idx-a", "--since", "1h").stdout.splitlines()) == len(stored)
    # HH:MM today: a minute from now is after every line
    soon = (datetime.datetime.now() + datetime.timedelta(minutes=2)).strftime("%H:%M")
    if soon > "00:05":   # not across midnight
        assert p.ok("logs", "idx-a", "--since", soon).stdout == ""
    t = p.run("logs", "--since", "yesterday")
    assert t.rc == 2 and "--since yesterday" in t.stderr, t.describe()


def test_logs_follow_since(project, tmp_path):
    """-f with --since: the lines from then on, then the new ones."""
    p = ticking(project, tmp_path, lines=4)
    stored = (p.statedir / "idx-a.log").read_text().splitlines()
    cut = stored[2].split(" ", 1)[0]
    out = tmp_path / "follow.out"
    with open(out, "wb") as f:
        t = p.tend.start("-c", str(p.ini), "logs", "idx-a", "-f", "--since", cut,
                         env=p.env, stdout=f)
    try:
        def enough():
            lines = out.read_text().splitlines()
            return lines if len(lines) >= len(stored) + 2 else None
        lines = wait_until(enough, T_LONG, what="old and new lines")
    finally:
        t.proc.terminate()
        t.wait()
    first = [l.split(" ", 1)[1] for l in stored[2:]]
    assert lines[:len(first)] == first, lines
    n = [int(l.split()[1]) for l in lines]
    assert n == list(range(n[0], n[0] + len(n))), lines
