"""pid-namespace = yes: every run lives in a pid namespace whose PID 1 is
tend's keeper (docs/containment.md), so the kernel kills every run when
the keeper dies, even together with the daemon, and no run can kill or
stop the keeper.  tend names the runs by their pids outside the namespace;
the runs see their own."""
import os
import signal
import time

import pytest

from conftest import (T_SHORT, alive, children, comm, nspid, proc_stat,
                      wait_until)


def descendants(pid):
    """(pid, start) of every live descendant of PID."""
    out, todo = [], [pid]
    while todo:
        for c, st in children(todo.pop()):
            s = proc_stat(c)
            if st not in "ZX" and s:
                out.append((c, s[2]))
                todo.append(c)
    return out


def config(tmp_path, ns="yes"):
    """A service that says which pid it has and what its /proc lists, and
    one with two children."""
    says = tmp_path / "says.sh"
    says.write_text("#!/bin/sh\n"
                    "echo $$ > \"$1.tmp\"; ls /proc | grep -c '^[0-9]' >> \"$1.tmp\"\n"
                    "mv \"$1.tmp\" \"$1\"\n"
                    "exec sleep 600\n")
    says.chmod(0o755)
    return f"""\
[tend]
pid-namespace = {ns}

[service says]
exec = {says} {tmp_path / "said"}

[service pair]
exec = sh -c 'sleep 600 & sleep 600 & exec sleep 601'
"""


def keeper_of(p):
    k = p.daemon()["keeper"]
    assert k, p.describe()
    return k


def started(p, tmp_path):
    """Both services running; returns (daemon pid, keeper pid, every
    process of the runs as (pid, start))."""
    p.up()
    p.wait_unit("says", state="running")
    pair = p.wait_unit("pair", state="running")["pid"]
    wait_until(lambda: len(descendants(pair)) == 2, what="pair's children")
    wait_until(lambda: (tmp_path / "said").exists(), what="says to say")
    k = keeper_of(p)
    procs = descendants(k["pid"])
    assert len(procs) == 1 + 3, procs
    return p.daemon_pid(), k["pid"], procs


def test_runs_see_their_own_pids_and_proc(tend, project, tmp_path):
    p = project(config(tmp_path))
    daemon, keeper, procs = started(p, tmp_path)
    k = keeper_of(p)
    if not k["pidns"]:
        pytest.skip("no pid namespace here: %s" % k["pidns_why"])
    assert k["pidns_why"] is None
    assert comm(keeper) == "tend-keeper"
    assert proc_stat(keeper)[1] == daemon
    assert nspid(keeper) == 1, "the keeper is PID 1 of its namespace"
    says = p.unit("says")["pid"]
    assert proc_stat(says)[1] == keeper
    own, listed = (int(x) for x in (tmp_path / "said").read_text().split())
    # tend names it by its pid outside, the program knows its own
    assert own == nspid(says) and own != says, (own, says)
    # its /proc lists the namespace: the keeper and the runs, no more
    # (ls and grep of the script itself among them)
    assert listed <= 1 + len(procs) + 3, listed
    status = p.ok("status").stdout
    assert "in a pid namespace of their own" in status, status


def test_daemon_and_keeper_killed_together_leave_nothing(tend, project,
                                                         tmp_path):
    """The case no shim, keeper or peer covers without a namespace: every
    tend process SIGKILLed at once (stopped first, so neither acts)."""
    p = project(config(tmp_path))
    daemon, keeper, procs = started(p, tmp_path)
    if not keeper_of(p)["pidns"]:
        pytest.skip("no pid namespace here")
    for pid in (daemon, keeper):
        os.kill(pid, signal.SIGSTOP)
    for pid in (daemon, keeper):
        os.kill(pid, signal.SIGKILL)
    time.sleep(1.0)
    left = [x for x in procs if alive(*x)]
    assert left == [], "alive 1 s after every tend process was killed: %s" % left


def test_a_run_cannot_kill_or_stop_its_keeper(tend, project, tmp_path):
    p = project("""\
[tend]
pid-namespace = yes

[service rogue]
exec = sh -c 'kill -KILL $PPID; kill -STOP $PPID; kill -TERM $PPID; exec sleep 600'

[service other]
exec = sleep 600
""")
    p.up()
    rogue = p.wait_unit("rogue", state="running")
    other = p.wait_unit("other", state="running")
    k = keeper_of(p)
    if not k["pidns"]:
        pytest.skip("no pid namespace here")
    time.sleep(0.5)
    assert keeper_of(p)["pid"] == k["pid"]
    assert proc_stat(k["pid"])[0] != "T", "the keeper was stopped"
    assert p.unit("rogue")["pid"] == rogue["pid"]
    assert p.unit("other")["pid"] == other["pid"]
    assert p.unit("rogue")["restarts"] == 0


def test_without_it_status_says_why(tend, project, tmp_path):
    p = project(config(tmp_path, ns="no"))
    daemon, keeper, procs = started(p, tmp_path)
    k = keeper_of(p)
    assert k["pidns"] is False and k["pidns_why"] == "pid-namespace = no", k
    says = p.unit("says")["pid"]
    own = int((tmp_path / "said").read_text().split()[0])
    assert own == says and nspid(says) == says
    assert proc_stat(says)[1] == keeper


def test_a_stop_and_down_leave_nothing(tend, project, tmp_path):
    p = project(config(tmp_path))
    daemon, keeper, procs = started(p, tmp_path)
    p.ok("stop", "pair")
    pair = [x for x in procs if x[0] != p.unit("says")["pid"]]
    wait_until(lambda: not [x for x in pair if alive(*x)], T_SHORT,
               what="pair's tree to go")
    p.ok("down")
    wait_until(lambda: not [x for x in procs if alive(*x)] and not alive(keeper),
               T_SHORT, what="every run and the keeper to go")


def test_no_restart_is_armed_ahead_in_a_namespace(tend, project, tmp_path):
    """The keeper's pids are not the daemon's there, so no run's next
    start is armed ahead (docs/containment.md, "Restarts"): a crash at
    backoff 0 while the daemon is stopped waits for the daemon, which then
    restarts it itself."""
    p = project("[tend]\npid-namespace = yes\n\n"
                "[service r]\nexec = sleep 600\nbackoff = 0\n")
    p.up()
    k = keeper_of(p)
    if not k["pidns"]:
        pytest.skip("no pid namespace here")
    pid = p.wait_unit("r", state="running")["pid"]
    time.sleep(0.2)   # an arm would land 20 ms after the start
    daemon = p.daemon_pid()
    os.kill(daemon, signal.SIGSTOP)
    try:
        os.kill(pid, signal.SIGKILL)
        wait_until(lambda: not alive(pid), T_SHORT, what="the run to go")
        time.sleep(0.5)
        assert descendants(k["pid"]) == [], "restarted without the daemon"
    finally:
        os.kill(daemon, signal.SIGCONT)
    u = p.wait_unit("r", state="running", restarts=1)
    assert u["pid"] != pid and proc_stat(u["pid"])[1] == k["pid"]
