"""Process trees: everything a run starts is found, signalled and stopped.

The trees come from bin/tree.py: a main process with a plain background
child (bg), a setsid'd child (setsid), a double-forked grandchild (dfork)
and a classic daemon (daemon: fork, setsid, fork).  Every process writes
its pid and start time to a file; liveness is checked by pid AND start
time."""
import shutil
import signal
import subprocess
import time

import pytest

from conftest import (PY, SH, T_LONG, T_SHORT, TREE, alive, children, comm,
                      exists, keeper_of, nspid, proc_session, proc_stat,
                      wait_until)

ROLES = {"main", "bg", "setsid", "dfork", "daemon"}


def start_tree(tend, td, *tree_args, flags=()):
    t = tend.start("exec", "--json", *flags, "--", PY, TREE, str(td.path),
                   *tree_args)
    gen = td.wait_ready()[0]
    pids = td.pids(gen)
    return t, gen, pids


def assert_shape(t, pids):
    """The tree is what the test claims it is."""
    assert set(pids) >= ROLES, pids
    assert all(alive(p, s) for p, s in pids.values()), pids
    main = pids["main"][0]
    assert t.events("spawned")[0]["pid"] == main
    assert proc_stat(pids["bg"][0])[1] == main
    assert proc_session(pids["setsid"][0]) != main
    # tend's keeper (its one child "tend-keeper PID") is main's parent;
    # orphans come back to it, the child subreaper of every run.
    keeper = keeper_below(t, main)
    assert proc_stat(pids["dfork"][0])[1] == keeper
    assert proc_session(pids["dfork"][0]) == main
    assert proc_stat(pids["daemon"][0])[1] == keeper
    assert proc_session(pids["daemon"][0]) not in (main, t.pid, keeper)


def keeper_below(t, main):
    """tend's keeper, which must be the run's main process's parent."""
    keeper = keeper_of(t.pid)
    assert proc_stat(main)[1] == keeper, "main's parent is tend's keeper"
    return keeper


def zombies_below(t):
    """Zombie children of tend and of its keeper (which reaps the orphans
    and the runs)."""
    return [p for q in (t.pid, keeper_of(t.pid)) for p, st in children(q)
            if st == "Z"]


def living(pids):
    return sorted(r for r, (p, s) in pids.items() if alive(p, s))


def test_sigterm_stops_the_whole_tree(tend):
    td = tend.tree_dir()
    t, gen, pids = start_tree(tend, td, "--roles",
                              "bg,setsid,dfork,daemon,stealth",
                              flags=("--stop-timeout", "30s"))
    assert_shape(t, pids)
    # A daemon that also cleared its environment: no cookie, own session.
    assert proc_stat(pids["stealth"][0])[1] == keeper_below(t, pids["main"][0])
    t0 = time.monotonic()
    rc = t.stop(timeout=T_LONG)
    elapsed = time.monotonic() - t0
    assert rc == 128 + 15, t.describe()
    assert living(pids) == [], t.describe()
    assert td.alive() == []
    # The tree went at once on TERM: no waiting for the 30 s stop-timeout.
    assert elapsed < 5, elapsed
    names = [e["event"] for e in t.events()]
    assert names.index("stopping") < names.index("exited") < names.index("stopped")
    assert t.events("exited")[0]["reason"] == "stopped"
    assert not t.events("warn"), t.describe()


def test_sigterm_returns_promptly_shell_tree(tend):
    t = tend.start("exec", "--json", "--stop-timeout", "30s", "--", SH, "-c",
                   "sleep 600 & sleep 600 & wait")
    t.wait_event("spawned")
    main = t.events("spawned")[0]["pid"]
    wait_until(lambda: len(children(main)) == 2, what="the two sleeps")
    sleeps = [p for p, _ in children(main)]
    t0 = time.monotonic()
    t.stop(timeout=T_LONG)
    assert time.monotonic() - t0 < 5
    assert not [p for p in sleeps + [main] if alive(p)]


def test_stop_timeout_then_sigkill(tend):
    td = tend.tree_dir()
    t, gen, pids = start_tree(tend, td, "--ignore-term",
                              flags=("--stop-timeout", "2s"))
    assert_shape(t, pids)
    t0 = time.monotonic()
    t.kill(signal.SIGTERM)
    t.wait_event("stopping")
    # Main dies of TERM; the children ignore it and must live until the
    # stop-timeout runs out: SIGKILL comes after the timeout, not before.
    wait_until(lambda: not alive(*pids["main"]), what="main to die of TERM")
    while time.monotonic() - t0 < 1.3:
        assert living(pids) == ["bg", "daemon", "dfork", "setsid"], \
            (time.monotonic() - t0, t.describe())
        time.sleep(0.05)
    rc = t.wait(timeout=T_LONG)
    elapsed = time.monotonic() - t0
    assert elapsed >= 1.9, elapsed
    assert elapsed < 2 + 8, elapsed
    assert rc == 128 + 15, t.describe()
    assert living(pids) == [], t.describe()
    warns = [e["message"] for e in t.events("warn")]
    assert any("SIGKILL" in m for m in warns), t.describe()


@pytest.mark.parametrize("ignore_term", [False, True],
                         ids=["term-kills", "term-ignored"])
def test_leftovers_gone_before_next_run(tend, ignore_term):
    td = tend.tree_dir()
    tree = ["--exit-after", "0.2", "--code", "1",
            "--roles", "bg,setsid,dfork,daemon,stealth"]
    if ignore_term:
        tree.append("--ignore-term")
    t = tend.start("exec", "--json", "--backoff", "10ms..10ms",
                   "--max-crashes", "10/1m", "--stop-timeout", "500ms", "--",
                   PY, TREE, str(td.path), *tree)
    gens = td.wait_ready(n=3, timeout=T_LONG)
    t.stop(timeout=T_LONG)
    for g in gens[1:]:
        # What each new main found alive of the earlier generations.
        assert td.prev_alive(g) == [], (g, td.prev_alive(g), t.describe())
    assert td.alive() == [], t.describe()
    # Each crash is followed by the stop of its leftovers, then the next run.
    evs = t.events()
    spawned_at = [i for i, e in enumerate(evs) if e["event"] == "spawned"]
    assert [evs[i]["pid"] for i in spawned_at[:3]] == gens[:3]
    for a, b in zip(spawned_at, spawned_at[1:]):
        between = [e["event"] for e in evs[a + 1:b]]
        assert between[0] == "exited" and "stopping" in between, between
        assert evs[a + 1]["reason"] == "crash"
        stopping = next(e for e in evs[a + 1:b] if e["event"] == "stopping")
        assert stopping.get("reason") == "leftovers", stopping
        if ignore_term:
            # Leftovers ignoring TERM got SIGKILL after stop-timeout.
            assert evs[b]["ts"] - evs[a + 1]["ts"] >= 480, (evs[a + 1], evs[b])


def test_clean_exit_leftovers_stopped_before_tend_exits(tend):
    td = tend.tree_dir()
    t = tend.start("exec", "--json", "--restart", "never", "--", PY, TREE,
                   str(td.path), "--exit-after", "0.2", "--code", "0")
    gen = td.wait_ready()[0]
    pids = td.pids(gen)
    assert t.wait(timeout=T_SHORT) == 0, t.describe()
    assert living(pids) == [], t.describe()


def test_second_sigint_kills_at_once(tend):
    td = tend.tree_dir()
    t, gen, pids = start_tree(tend, td, "--ignore-term", "--main-ignore-term",
                              flags=("--stop-timeout", "30s"))
    assert_shape(t, pids)
    t.kill(signal.SIGINT)
    t.wait_event("stopping")
    time.sleep(0.5)
    assert t.running(), t.describe()
    assert living(pids) == sorted(ROLES), "graceful stop only, so far"
    t0 = time.monotonic()
    t.kill(signal.SIGINT)
    rc = t.wait(timeout=T_SHORT)
    assert time.monotonic() - t0 < 5
    assert living(pids) == [], t.describe()
    assert rc == 128 + 9, t.describe()


@pytest.mark.parametrize("sig", ["USR1", "USR2", "HUP"])
def test_signals_forwarded_to_every_process(tend, sig):
    td = tend.tree_dir()
    t, gen, pids = start_tree(tend, td, "--trap", sig)
    assert_shape(t, pids)
    t.kill(getattr(signal, "SIG" + sig))
    wait_until(lambda: set(td.marks(gen, sig)) == ROLES,
               what="every process to get SIG%s (got %s)"
                    % (sig, td.marks(gen, sig)))
    time.sleep(0.2)
    assert t.running(), t.describe()
    assert living(pids) == sorted(ROLES)
    assert not t.events("stopping") and not t.events("exited"), t.describe()
    assert t.stop() == 128 + 15
    assert living(pids) == []


def proc_state(pid):
    with open("/proc/%d/stat" % pid) as f:
        return f.read().rsplit(")", 1)[1].split()[0]


def test_forwarding_a_signal_does_not_resume_a_stopped_process(tend):
    """A forwarded signal is that signal only: a process the user stopped
    with SIGSTOP stays stopped (no SIGCONT rides along)."""
    td = tend.tree_dir()
    t, gen, pids = start_tree(tend, td)
    bg = pids["bg"][0]
    subprocess.run(["kill", "-STOP", str(bg)], check=True)
    wait_until(lambda: proc_state(bg) == "T", what="bg to stop")
    t.kill(signal.SIGWINCH)  # ignored by default: nothing else happens
    time.sleep(0.5)
    assert proc_state(bg) == "T", "SIGWINCH forwarding resumed a stopped process"
    # A graceful stop does resume it, so that it can act on the stop signal.
    assert t.stop() == 128 + 15
    assert living(pids) == []


def test_orphan_zombies_are_reaped(tend):
    td = tend.tree_dir()
    t = tend.start("exec", "--json", "--", PY, TREE, str(td.path),
                   "--roles", "bg", "--zombies", "5")
    gen = td.wait_ready()[0]
    pids = td.pids(gen)
    zombies = [v for k, v in pids.items() if k.startswith("zombie")]
    assert len(zombies) == 5
    # Gone from the process table: not only dead, reaped.
    wait_until(lambda: not [z for z in zombies if exists(*z)],
               what="the orphans to be reaped")
    assert not zombies_below(t), children(t.pid)
    assert t.running()
    assert len(t.events("spawned")) == 1 and not t.events("exited"), \
        t.describe()
    assert t.stop() == 128 + 15
    assert td.alive() == []


def test_zombies_of_a_dead_main_are_reaped(tend):
    td = tend.tree_dir()
    t = tend.start("exec", "--json", "--restart", "always", "--backoff",
                   "20s..20s", "--max-crashes", "5/1m", "--", PY, TREE,
                   str(td.path), "--roles", "none", "--unwaited", "4",
                   "--exit-after", "0.3", "--code", "1")
    gen = td.wait_ready()[0]
    pids = td.pids(gen)
    unwaited = [v for k, v in pids.items() if k.startswith("unwaited")]
    assert len(unwaited) == 4
    t.wait_event("backoff")
    wait_until(lambda: not [z for z in unwaited if exists(*z)],
               what="main's unwaited children to be reaped")
    assert not zombies_below(t), children(t.pid)
    t.stop()


def unshare_works():
    if shutil.which("unshare") is None:
        return "unshare is not installed"
    try:
        r = subprocess.run(["unshare", "--pid", "--fork", "--mount-proc",
                            "/bin/true"], capture_output=True, timeout=10)
    except (OSError, subprocess.TimeoutExpired) as e:
        return "unshare failed: %s" % e
    if r.returncode != 0:
        return ("unshare --pid --fork --mount-proc failed (needs root or user "
                "namespaces): %s" % r.stderr.decode(errors="replace").strip())
    return None


def test_tend_as_pid1(tend):
    why = unshare_works()
    if why:
        pytest.skip(why)
    td = tend.tree_dir()
    t = tend.start_wrapped(["unshare", "--pid", "--fork", "--mount-proc"],
                           "exec", "--json", "--stop-timeout", "10s", "--",
                           PY, TREE, str(td.path), "--zombies", "3",
                           "--term-code", "7")
    gen = td.wait_ready()[0]
    pids = td.pids(gen)  # pids as the namespace sees them
    tend_pid = wait_until(lambda: [p for p, _ in children(t.pid)],
                          what="tend under unshare")[0]
    assert nspid(tend_pid) == 1, "tend is PID 1 of its namespace"
    assert t.events("spawned")[0]["pid"] == pids["main"][0]
    # The orphans that exit are reaped: tend's one child is its keeper
    # ("tend-keeper 1"), whose children are, in the end, exactly main and
    # the two live orphans (dfork, daemon).
    keeper = keeper_of(tend_pid)
    assert comm(keeper) == "tend-keeper"
    assert [p for p, _ in children(tend_pid)] == [keeper]
    live = {pids[r][0] for r in ("main", "dfork", "daemon")}
    wait_until(lambda: {nspid(p) for p, st in children(keeper)} == live
               and not [p for p, st in children(keeper) if st == "Z"],
               what="the keeper to reap the orphans; children now %s"
                    % children(keeper))
    t.kill(signal.SIGTERM, pid=tend_pid)
    rc = t.wait(timeout=T_LONG)
    # main got TERM (forwarded by tend) and exited 7; tend passes it on.
    assert rc == 7, t.describe()
    assert t.events("exited")[0].get("code") == 7, t.describe()
    assert not tend.reaper.tagged(), "processes left after tend exited"


def test_stop_signal_goes_to_the_whole_tree(tend):
    td = tend.tree_dir()
    t, gen, pids = start_tree(tend, td, "--trap", "INT",
                              flags=("--stop-signal", "INT",
                                     "--stop-timeout", "1s"))
    assert_shape(t, pids)
    t0 = time.monotonic()
    t.kill(signal.SIGTERM)
    wait_until(lambda: set(td.marks(gen, "INT")) == ROLES,
               what="every process to get SIGINT (got %s)"
                    % td.marks(gen, "INT"))
    # They all survive INT: SIGKILL after the stop-timeout.
    rc = t.wait(timeout=T_LONG)
    assert time.monotonic() - t0 >= 0.9
    assert rc == 128 + 9, t.describe()
    assert living(pids) == []
    assert t.events("stopping")[0].get("signal") in ("INT", "SIGINT", 2)


def test_forking_tree_cannot_outrun_the_kill(tend):
    td = tend.tree_dir()
    t, gen, pids = start_tree(tend, td, "--roles", "forker", "--ignore-term",
                              "--main-ignore-term",
                              flags=("--stop-timeout", "500ms"))
    wait_until(lambda: "forker3" in td.pids(gen), what="the forker to fork")
    t.kill(signal.SIGTERM)
    assert t.wait(timeout=T_LONG) == 128 + 9, t.describe()
    assert td.alive() == [], t.describe()


def test_sigterm_during_backoff_exits_at_once(tend):
    t = tend.start("exec", "--json", "--backoff", "20s..20s", "--", SH, "-c",
                   "exit 1")
    t.wait_event("backoff")
    t0 = time.monotonic()
    rc = t.stop()
    assert time.monotonic() - t0 < 3
    assert rc == 1, t.describe()
    assert len(t.events("spawned")) == 1
    assert t.events()[-1]["event"] == "stopped", t.describe()


def test_sigterm_during_leftover_cleanup_stays_down(tend):
    td = tend.tree_dir()
    t = tend.start("exec", "--json", "--backoff", "10ms..10ms",
                   "--stop-timeout", "3s", "--", PY, TREE, str(td.path),
                   "--exit-after", "0.3", "--code", "1", "--ignore-term")
    t.wait_event("stopping", reason="leftovers")
    t.kill(signal.SIGTERM)
    rc = t.wait(timeout=T_LONG)
    assert len(t.events("spawned")) == 1, t.describe()
    assert rc == 1, t.describe()
    assert td.alive() == []


def test_up_kills_strays_when_it_shuts_down(tend, tmp_path):
    td = tend.tree_dir()
    ini = tmp_path / "tend.ini"
    ini.write_text(f"""\
[service a]
exec = {PY} {TREE} {td.path} --roles bg,daemon,stealth

[service b]
exec = sleep 600
""")
    t = tend.start("-c", str(ini), "up", "--json")
    gen = td.wait_ready()[0]
    pids = td.pids(gen)
    t.wait_event("spawned", n=2)
    assert t.stop(timeout=T_LONG) == 0, t.describe()
    assert living(pids) == [], t.describe()
