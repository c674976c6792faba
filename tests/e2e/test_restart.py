"""Restart policy, seen from tend exec's events and exit code."""
import os
import signal
import time

import pytest

from conftest import (SH, T_LONG, T_SHORT, alive, children, keeper_of,
                      proc_stat, wait_until)
from test_faults import Ctl


def exec_json(tend, *flags_and_cmd, timeout=T_SHORT):
    return tend.run("exec", "--json", *flags_and_cmd, timeout=timeout)


def reasons(t):
    return [e["reason"] for e in t.events("exited")]


def test_crash_loop_backoff_grows_then_gives_up(tend):
    # MIN 100ms: with +-25% jitter kept inside MIN..MAX the levels are
    # [100,125], [150,250], [300,500], [600,1000]: strictly growing.
    t = exec_json(tend, "--backoff", "100ms..10s", "--max-crashes", "4/1m",
                  "--", SH, "-c", "exit 1", timeout=T_LONG)
    assert t.rc == 1, t.describe()
    assert len(t.events("spawned")) == 5, t.describe()
    assert reasons(t) == ["crash"] * 5
    assert all(e["code"] == 1 for e in t.events("exited"))
    backoffs = [e["ms"] for e in t.events("backoff")]
    assert len(backoffs) == 4, t.describe()
    assert all(b2 > b1 for b1, b2 in zip(backoffs, backoffs[1:])), backoffs
    assert 100 <= backoffs[0] <= 125, backoffs
    assert 150 <= backoffs[1] <= 250, backoffs
    assert 300 <= backoffs[2] <= 500, backoffs
    assert 600 <= backoffs[3] <= 1000, backoffs
    gave_up = t.events("gave_up")
    assert len(gave_up) == 1, t.describe()
    assert t.events()[-1]["event"] == "gave_up", t.describe()
    # The delay is really waited: next spawn no sooner than the backoff.
    evs = t.events()
    for i, e in enumerate(evs):
        if e["event"] == "backoff":
            nxt = next(x for x in evs[i:] if x["event"] == "spawned")
            assert nxt["ts"] - e["ts"] >= e["ms"] - 2, (e, nxt)


def test_gave_up_human_line(tend):
    t = tend.run("exec", "--backoff", "0", "--max-crashes", "1/1m", "--",
                 SH, "-c", "exit 1")
    assert t.rc == 1, t.describe()
    assert any(l.startswith("tend: sh: gave_up") for l in t.stderr_lines()), \
        t.describe()


def test_alternating_crash_and_clean_still_gives_up(tend, tmp_path):
    counter = tmp_path / "count"
    script = ('n=$(cat "$1" 2>/dev/null || echo 0); n=$((n+1)); '
              'echo $n > "$1"; [ $((n % 2)) -eq 1 ] && exit 1; exit 0')
    t = exec_json(tend, "--restart", "always", "--max-crashes", "3/1m",
                  "--backoff", "10ms..50ms", "--", SH, "-c", script, "sh",
                  str(counter), timeout=T_LONG)
    assert t.rc == 1, t.describe()
    # crash, clean, crash, clean, crash, clean, crash: 4 crashes > 3.
    assert reasons(t) == ["crash", "clean"] * 3 + ["crash"], t.describe()
    assert len(t.events("gave_up")) == 1
    assert len(t.events("spawned")) == 7


@pytest.mark.parametrize("backoff", ["0", "100ms..10s"])
def test_clean_exit_tight_loop_is_slowed_and_warned(tend, backoff):
    t = tend.start("exec", "--json", "--restart", "always",
                   "--clean-restarts", "3/1m", "--backoff", backoff, "--",
                   "/bin/true")
    t.wait_event("warn")
    t.wait_event("backoff", n=3, timeout=T_LONG)
    t.stop()
    evs = t.events()
    exits = [i for i, e in enumerate(evs) if e["event"] == "exited"]
    warn_at = next(i for i, e in enumerate(evs) if e["event"] == "warn")
    # Within the budget (3 clean exits per minute), restarts are immediate.
    assert all(e["reason"] == "clean" for e in t.events("exited")[:4])
    assert not [e for e in evs[:exits[3]] if e["event"] in ("backoff", "warn")]
    # The 4th clean exit is over budget: one warning, then backoff.
    assert exits[3] < warn_at, t.describe()
    assert "clean" in evs[warn_at]["message"], evs[warn_at]
    assert len(t.events("warn")) == 1, t.describe()
    backoffs = [e["ms"] for e in t.events("backoff")]
    # Slowed even with backoff 0: a clean loop must not spin.
    assert all(b >= 50 for b in backoffs), backoffs
    if backoff != "0":
        assert 100 <= backoffs[0] <= 125, backoffs
        assert all(b2 > b1 for b1, b2 in zip(backoffs, backoffs[1:])), backoffs
    # And the loop really slowed: from the warning on, no restart comes
    # sooner than its backoff.
    for i, e in enumerate(evs):
        if e["event"] == "backoff":
            nxt = [x for x in evs[i:] if x["event"] == "spawned"]
            if nxt:
                assert nxt[0]["ts"] - e["ts"] >= e["ms"] - 2
    assert not t.events("gave_up"), "clean exits are not crashes"


def test_missing_program_spawn_failed_once(tend):
    t = exec_json(tend, "--restart", "always", "--backoff", "0", "--",
                  "/nonexistent/program", "arg")
    assert t.rc == 127, t.describe()
    exited = t.events("exited")
    assert len(exited) == 1, t.describe()
    assert exited[0]["reason"] == "spawn_failed"
    assert "No such file" in exited[0].get("error", ""), exited
    assert len(t.events("spawned")) <= 1, "one attempt, no retry loop"
    assert len(t.events("gave_up")) == 1, t.describe()
    assert not t.events("backoff")


def test_missing_program_on_path(tend):
    t = exec_json(tend, "--", "no-such-program-for-tend-e2e")
    assert t.rc == 127, t.describe()
    assert reasons(t) == ["spawn_failed"]


def test_not_executable_exits_126(tend, tmp_path):
    f = tmp_path / "not-exec"
    f.write_text("#!/bin/sh\nexit 0\n")
    os.chmod(f, 0o644)
    t = exec_json(tend, "--", str(f))
    assert t.rc == 126, t.describe()
    assert reasons(t) == ["spawn_failed"]
    assert len(t.events("spawned")) <= 1


def test_missing_program_under_up_fails_the_unit_once(tend, tmp_path):
    ini = tmp_path / "tend.ini"
    ini.write_text("[service ghost]\nexec = /nonexistent/ghost\n"
                   "restart = always\nbackoff = 0\n")
    t = tend.start("-c", str(ini), "up", "--json")
    t.wait_event("gave_up")
    time.sleep(0.5)
    assert t.running(), "tend up keeps running with a failed unit"
    assert len(t.events("exited")) == 1, t.describe()
    err = t.events("exited")[0].get("error", "")
    # The line of the section or of its exec key, and the file.
    assert ("line 1 " in err or "line 2 " in err) and str(ini) in err, err
    assert t.stop() == 0, t.describe()


def test_stable_after_forgets_crashes(tend):
    t = tend.start("exec", "--json", "--stable-after", "300ms",
                   "--max-crashes", "2/1m", "--backoff", "10ms..50ms", "--",
                   SH, "-c", "sleep 0.5; exit 1")
    t.wait_event("exited", n=4, timeout=T_LONG, reason="crash")
    assert t.running(), t.describe()
    assert not t.events("gave_up"), t.describe()
    t.stop()


def test_without_stable_after_same_command_gives_up(tend):
    t = exec_json(tend, "--stable-after", "1m", "--max-crashes", "2/1m",
                  "--backoff", "10ms..50ms", "--", SH, "-c",
                  "sleep 0.5; exit 1", timeout=T_LONG)
    assert t.rc == 1, t.describe()
    assert reasons(t) == ["crash"] * 3
    assert len(t.events("gave_up")) == 1


def test_backoff_zero_restarts_at_once(tend):
    t = exec_json(tend, "--backoff", "0", "--max-crashes", "3/1m", "--",
                  SH, "-c", "exit 1")
    assert t.rc == 1, t.describe()
    assert len(t.events("spawned")) == 4, t.describe()
    assert all(e["ms"] == 0 for e in t.events("backoff")), t.describe()
    evs = t.events()
    for i, e in enumerate(evs):
        if e["event"] == "exited" and i + 1 < len(evs):
            nxt = [x for x in evs[i:] if x["event"] == "spawned"]
            if nxt:
                assert nxt[0]["ts"] - e["ts"] < 250, (e, nxt[0])


@pytest.mark.parametrize("script,code", [
    ("exit 3", 3),
    ("exit 0", 0),
    ("kill -KILL $$", 128 + 9),
    ("kill -TERM $$", 128 + 15),
])
def test_restart_never_returns_the_command_code(tend, script, code):
    t = exec_json(tend, "--restart", "never", "--", SH, "-c", script)
    assert t.rc == code, t.describe()
    assert len(t.events("spawned")) == 1
    assert not t.events("gave_up")


def test_on_failure_does_not_restart_clean_exit(tend):
    t = exec_json(tend, "--", SH, "-c", "exit 0")
    assert t.rc == 0, t.describe()
    assert reasons(t) == ["clean"]
    assert len(t.events("spawned")) == 1


def test_on_failure_restarts_a_signal_death(tend, tmp_path):
    counter = tmp_path / "n"
    script = ('n=$(cat "$1" 2>/dev/null || echo 0); echo $((n+1)) > "$1"; '
              '[ "$n" -ge 1 ] && exit 0; kill -KILL $$')
    t = exec_json(tend, "--backoff", "10ms..20ms", "--", SH, "-c", script,
                  "sh", str(counter))
    assert t.rc == 0, t.describe()
    exited = t.events("exited")
    assert [e["reason"] for e in exited] == ["crash", "clean"]
    assert exited[0]["signal"] in ("KILL", "SIGKILL", 9), exited[0]
    assert exited[0]["code"] is None, exited[0]


def test_success_codes_count_as_clean(tend):
    t = exec_json(tend, "--success-codes", "0 3", "--", SH, "-c", "exit 3")
    assert t.rc == 3, t.describe()
    assert reasons(t) == ["clean"]
    assert len(t.events("spawned")) == 1


def test_success_codes_signal(tend):
    t = exec_json(tend, "--success-codes", "0 TERM", "--", SH, "-c",
                  "kill -TERM $$")
    assert t.rc == 128 + 15, t.describe()
    assert reasons(t) == ["clean"]
    assert len(t.events("spawned")) == 1


def test_code_outside_success_codes_is_a_crash(tend):
    t = exec_json(tend, "--success-codes", "3", "--max-crashes", "1/1m",
                  "--backoff", "0", "--", SH, "-c", "exit 0")
    assert t.rc == 1, t.describe()
    assert reasons(t) == ["crash", "crash"]
    assert len(t.events("gave_up")) == 1


def test_restart_always_restarts_success_code(tend, tmp_path):
    counter = tmp_path / "n"
    script = ('n=$(cat "$1" 2>/dev/null || echo 0); echo $((n+1)) > "$1"; '
              '[ "$n" -ge 2 ] && exec sleep 600; exit 0')
    t = tend.start("exec", "--json", "--restart", "always", "--", SH, "-c",
                   script, "sh", str(counter))
    t.wait_event("spawned", n=3)
    assert reasons(t) == ["clean", "clean"]
    assert t.stop() == 128 + 15, t.describe()


def live_children(pid):
    return sorted(c for c, st in children(pid) if st not in "ZX")


def test_a_crash_at_backoff_zero_is_restarted_by_the_keeper_alone(project):
    """At backoff 0 the daemon arms its keeper with a run's next start
    (docs/containment.md, "Restarts"): a crash is restarted by the keeper
    without a word from the daemon, which is stopped (SIGSTOP) all along
    here.  Continued, the daemon takes the new run over as its restart:
    one exited, one spawned of that pid, the restart counted.  Only within
    the crash budget (the crash that gives up is not restarted ahead), and
    never after a stop."""
    p = project("[service r]\nexec = sleep 1000\nbackoff = 0\n"
                "max-crashes = 2/1m\n")
    p.up()
    daemon = p.daemon_pid()
    keeper = keeper_of(daemon)
    pid = p.wait_unit("r", state="running")["pid"]

    def crash(old, alone):
        n = len(p.events())
        time.sleep(0.2)   # the arm lands 20 ms after the run started
        os.kill(daemon, signal.SIGSTOP)
        try:
            os.kill(old, signal.SIGKILL)
            if alone:
                new = wait_until(lambda: [c for c in live_children(keeper)
                                          if c != old], T_SHORT,
                                 what="the keeper to restart the run alone")
            else:
                wait_until(lambda: old not in live_children(keeper), T_SHORT,
                           what="the keeper to reap the run")
                time.sleep(0.5)
                assert live_children(keeper) == [], \
                    "restarted without the daemon past the crash budget"
                new = None
        finally:
            os.kill(daemon, signal.SIGCONT)
        return n, new

    for k in (1, 2):
        n, new = crash(pid, True)
        assert len(new) == 1, new
        pid = new[0]
        wait_until(lambda: p.unit("r")["restarts"] == k, T_SHORT,
                   what="the daemon to take the restart over")
        u = p.unit("r")
        assert u["pid"] == pid and u["state"] == "running", u
        evs = [e for e in p.events()[n:] if e.get("unit") == "r"]
        assert [e["event"] for e in evs] == ["exited", "spawned"], evs
        assert evs[0]["reason"] == "crash" and evs[0]["signal"] == "KILL"
        assert evs[1]["pid"] == pid, evs
        assert proc_stat(pid)[1] == keeper
    # The third crash in a minute gives up: it was not armed.
    crash(pid, False)
    p.wait_event("gave_up", unit="r")
    assert p.unit("r")["state"] == "failed"

    # A stop takes the arm back before its signal: nothing restarts.
    assert p.run("start", "r").rc == 0
    pid = p.wait_unit("r", state="running")["pid"]
    n = len(p.events())
    assert p.run("stop", "r").rc == 0
    assert p.unit("r")["state"] == "stopped"
    time.sleep(0.3)
    assert live_children(keeper) == [], "a run restarted after a stop"
    evs = [e["event"] for e in p.events()[n:] if e.get("unit") == "r"]
    assert "spawned" not in evs and "warn" not in evs, evs
    assert not alive(pid)


@pytest.mark.parametrize("first", ["exit", "stop"])
def test_a_stop_that_crosses_a_restart_by_the_keeper_leaves_nothing(
        project, first):
    """The keeper restarts a crashed run alone while the daemon is stopped
    (SIGSTOP), and a stop request waits meanwhile, sent before or after the
    crash.  Continued, the daemon reads the keeper's word first (the
    restart is taken over, then stopped) or the stop (its disarm came too
    late: the run the keeper started is killed at once, and a warn event
    names it).
    Either way the unit ends stopped and nothing of it is alive."""
    p = project("[service r]\nexec = sleep 1000\nbackoff = 0\n")
    p.up()
    daemon = p.daemon_pid()
    keeper = keeper_of(daemon)
    old = p.wait_unit("r", state="running")["pid"]
    n = len(p.events())
    c = Ctl(p.sock, timeout=T_LONG)
    assert c.ping()["ok"]
    stop = b'{"cmd":"stop","name":"r"}\n'
    time.sleep(0.2)   # the arm lands 20 ms after the run started
    os.kill(daemon, signal.SIGSTOP)
    try:
        if first == "stop":
            c.s.sendall(stop)
        os.kill(old, signal.SIGKILL)
        new = wait_until(lambda: [k for k in live_children(keeper) if k != old],
                         T_SHORT, what="the keeper to restart the run alone")
        if first == "exit":
            time.sleep(0.3)   # its word is sent once the new run exec'd
            c.s.sendall(stop)
    finally:
        os.kill(daemon, signal.SIGCONT)
    r = c.line()
    c.close()
    assert r["ok"], r
    assert p.unit("r")["state"] == "stopped"
    wait_until(lambda: not alive(new[0]), T_SHORT, what="the new run to go")
    assert live_children(keeper) == []
    evs = [e for e in p.events()[n:] if e.get("unit") == "r"]
    warns = [e for e in evs if e["event"] == "warn"]
    spawned = [e["pid"] for e in evs if e["event"] == "spawned"]
    if first == "stop" or warns:
        # (the daemon's loop may also read the stop first when it came
        # second: both wait when it continues)
        assert len(warns) == 1 and warns[0]["pid"] == new[0], evs
        assert spawned == [], evs
    else:
        assert spawned == new, evs
