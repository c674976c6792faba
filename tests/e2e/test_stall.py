"""A stalled daemon judges no deadline before it has read what waited for it.

The daemon is stopped (SIGSTOP: a debugger, heavy swapping, a frozen
cgroup, a paused VM) for longer than a watchdog period, a start-timeout,
a health-timeout, an idle-stop and a job's timeout, while each of them is
honoured in time by its service: the pings, READY=1, the check's exit, the
client's line and the job's exit all wait on the daemon's descriptors.
Continued, the daemon must see them before it judges any deadline.
"""
import os
import select
import signal
import time

from conftest import BIN, PY, T_LONG, T_SHORT, alive, field, wait_until
from test_connect import connect

NOTIFY = BIN / "notify.py"
LINES = "%s %s" % (PY, BIN / "lines.py")
STALL = 5.0


def readline(proc, timeout=T_LONG):
    """PROC's next stdout line, or "" when none comes within TIMEOUT."""
    r, _, _ = select.select([proc.stdout], [], [], timeout)
    return proc.stdout.readline().decode() if r else ""


def stalled(pid, seconds):
    os.kill(pid, signal.SIGSTOP)
    try:
        time.sleep(seconds)
    finally:
        os.kill(pid, signal.SIGCONT)


def test_a_stall_longer_than_every_deadline_restarts_nothing(project, tmp_path, reaper):
    d = tmp_path / "n"
    d.mkdir()
    p = project(
        "[service wd]\nexec = %s %s %s --ready-after 0 --ping 0.2\n"
        "ready = notify\nwatchdog = 1s\n\n"
        "[service rd]\nexec = %s %s %s --ready-after 1.5\nready = notify\n"
        "start-timeout = 3s\nstart = on-demand\n\n"
        "[service hc]\nexec = sleep 600\nhealth = exec:sleep 0.8\n"
        "health-interval = 100ms\nhealth-timeout = 1500ms\nhealth-strikes = 1\n\n"
        "[service idle]\nexec = %s\nstdio = exclusive\nidle-stop = 2s\n\n"
        "[job j]\nexec = sleep 1\ntimeout = 2500ms\n"
        % (PY, NOTIFY, d, PY, NOTIFY, d, LINES))
    p.up()
    daemon = p.daemon_pid()
    wd = p.unit("wd")["pid"]
    hc = p.unit("hc")["pid"]
    # A client of the exclusive service, its first answer in.
    c = connect(p, reaper, "idle")
    c.stdin.write(b"first\n")
    c.stdin.flush()
    first = readline(c)
    assert field(first, "got") == "first", first
    idle_pid = field(first, "pid")
    # rd starting (ready after 1.5 s), a run of j (done after 1 s).
    starter = p.start("start", "rd", "--wait")
    wait_until(lambda: p.unit("rd")["state"] == "starting", T_SHORT,
               what="rd starting")
    p.ok("run", "j")
    wait_until(lambda: p.unit("j")["state"] == "running", T_SHORT,
               what="the run of j")
    rd = p.unit("rd")["pid"]

    os.kill(daemon, signal.SIGSTOP)
    try:
        time.sleep(1.0)
        c.stdin.write(b"during\n")    # the client's traffic, in time
        c.stdin.flush()
        time.sleep(STALL - 1.0)
    finally:
        os.kill(daemon, signal.SIGCONT)

    # Every verdict is collected first: each deadline is a case of its own.
    wrong = []
    starter.wait(T_LONG)
    if starter.rc != 0:
        wrong.append("start rd --wait: " + starter.describe())
    during = readline(c)
    answered = time.time() * 1000
    if field(during, "got") != "during" or field(during, "pid") != idle_pid:
        wrong.append("the client's line during the stall: %r" % during)
    wait_until(lambda: p.unit("j")["state"] != "running", T_LONG,
               what="the run of j to be judged")
    time.sleep(1.0)   # room for a wrong verdict to show
    if p.unit("j")["last_run"]["result"] != "success":
        wrong.append("job: %s" % p.unit("j")["last_run"])
    # (idle may stop for good reason idle-stop after that line: not
    # before its answer came)
    wrong += [e for e in p.events()
              if e["event"] in ("stopping", "health_failed", "gave_up")
              or e["event"] == "idle_stop" and e["ts"] < answered + 1000
              or e["event"] == "exited" and e["reason"] not in ("clean",
                                                                 "stopped")]
    for name, pid in (("wd", wd), ("rd", rd), ("hc", hc)):
        u = p.unit(name)
        if u["state"] != "running" or u["pid"] != pid or not alive(pid):
            wrong.append("%s: %s, pid %s" % (name, u["state"], u["pid"]))
    assert not wrong, "\n".join(map(str, wrong))
    c.stdin.close()
    c.wait(T_SHORT)


def test_a_stall_still_judges_a_deadline_that_was_missed(project, tmp_path):
    """The other side: a watchdog that really went quiet before the stall
    is still judged, once the daemon runs again."""
    d = tmp_path / "n"
    d.mkdir()
    p = project("[service wd]\nexec = %s %s %s --ready-after 0 --ping 0.1 "
                "--ping-for 0.5\nready = notify\nwatchdog = 1s\n"
                "backoff = 10s..10s\n" % (PY, NOTIFY, d))
    p.up()
    pid = p.unit("wd")["pid"]
    time.sleep(0.6)      # the pings have stopped
    stalled(p.daemon_pid(), 2.0)
    ex = p.wait_event("exited", unit="wd", timeout=T_SHORT)
    assert ex["reason"] == "watchdog", ex
    wait_until(lambda: not alive(pid), T_SHORT, what="the silent run gone")
