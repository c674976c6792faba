"""Scale: a thousand services started at once by `tend up -d`, under a low
descriptor limit (issue 22).

The daemon holds a few descriptors per service (its log file, its output
pipe, its notify socket), so a thousand services need some 4 000 of them.
Where the limit tend is started with is low but can be raised (the soft
limit: `ulimit -Sn 256`), tend raises it and gives its runs the one it was
started with.  Where it cannot (soft = hard: `ulimit -n 256`), it must
neither crash nor hang: it answers, says it is out of descriptors, runs
what it has descriptors for, and `down` stops everything.

Each test stays well under a minute: every step has its own bound (UP,
STATUS, DOWN), and the whole test one more (TOTAL), on both builds."""
import json
import resource
import time

import pytest

from conftest import (T_SHORT, alive, keeper_of, proc_stat, wait_until)

N = 1000
UP = 30.0        # s: tend up -d of N services, until it returns
STATUS = 5.0     # s: one tend status --json
DOWN = 30.0      # s: tend down of N services, until it returns
TOTAL = 55.0     # s: a whole test


def config(n=N):
    return "".join("[service s%d]\nexec = sleep 1000\n\n" % i
                   for i in range(n))


def nofile(soft, hard):
    """A preexec_fn: the daemon is started with these descriptor limits."""
    def set_limit():
        resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))
    return set_limit


def limits(pid):
    """(soft, hard) descriptor limits of PID."""
    with open("/proc/%d/limits" % pid) as f:
        for line in f:
            if line.startswith("Max open files"):
                soft, hard = line.split()[3:5]
                return int(soft), int(hard)
    raise AssertionError("no descriptor limit for %d" % pid)


def up(tend, p, soft, hard):
    """tend up -d with the limits SOFT, HARD: returns (the finished Tend,
    seconds it took).  Not returning within UP is a failure (a hang)."""
    t0 = time.monotonic()
    t = tend.start("-c", str(p.ini), "up", "-d", env=p.env,
                   preexec_fn=nofile(soft, hard))
    t.wait(UP)
    return t, time.monotonic() - t0


def status(p):
    """tend status --json within STATUS: (daemon, units, seconds)."""
    t0 = time.monotonic()
    t = p.run("status", "--json", timeout=STATUS)
    took = time.monotonic() - t0
    assert t.rc == 0, t.describe() + p.describe()
    data = json.loads(t.stdout)
    return data["daemon"], data["units"], took


def down(p, mains, daemon, keeper):
    """tend down within DOWN; then nothing is left: no run, no keeper, no
    daemon.  Returns the seconds it took."""
    t0 = time.monotonic()
    t = p.run("down", timeout=DOWN)
    took = time.monotonic() - t0
    assert t.rc == 0, t.describe() + p.describe()
    def left():
        return [x for x in mains if alive(*x)] + \
            [x for x in (daemon, keeper) if alive(x)]
    try:
        wait_until(lambda: not left(), T_SHORT)
    except AssertionError:
        raise AssertionError("left %.0fs after down: %s"
                             % (T_SHORT, left())) from None
    assert not p.tend.reaper.tagged(), "processes of the test left after down"
    return took


def test_1000_services_at_once_under_a_low_soft_limit(tend, project):
    """Soft limit 256, the hard one high: tend raises its own to the hard
    limit, every service reaches running below one keeper, each run gets
    the limit tend was started with (256), status answers promptly, and
    `down` stops all of them."""
    hard = resource.getrlimit(resource.RLIMIT_NOFILE)[1]
    if hard != resource.RLIM_INFINITY and hard < 8 * N:
        pytest.skip("the hard descriptor limit here (%d) is below what %d "
                    "services need" % (hard, N))
    t_start = time.monotonic()
    p = project(config())
    t, took_up = up(tend, p, 256, hard)
    assert t.rc == 0, t.describe() + p.describe()
    d, units, took_status = status(p)
    assert len(units) == N
    states = {u["state"] for u in units}
    assert states == {"running"}, p.describe()
    daemon = d["pid"]
    assert limits(daemon) == (hard, hard), "tend raised its own limit"
    keeper = keeper_of(daemon)
    assert d["keeper"]["pid"] == keeper
    mains = []
    for u in units:
        st = proc_stat(u["pid"])
        assert st and st[1] == keeper, u
        mains.append((u["pid"], st[2]))
    assert len(set(mains)) == N
    for pid, _ in (mains[0], mains[-1]):
        assert limits(pid) == (256, hard), "a run got another limit"
    assert took_status < STATUS
    took_down = down(p, mains, daemon, keeper)
    total = time.monotonic() - t_start
    print("%d services: up -d %.1fs, status %.2fs, down %.1fs; daemon %d "
          "descriptors" % (N, took_up, took_status, took_down, d["fds"]))
    assert total < TOTAL, total


@pytest.mark.parametrize("limit", [256, 2048])
def test_1000_services_at_once_under_a_hard_limit(tend, project, limit):
    """Soft = hard = LIMIT, which tend cannot raise, and fewer descriptors
    than a thousand services need.  tend must neither crash nor hang:
    `up -d` returns, the daemon runs and answers status promptly, says it
    is out of descriptors (a warn, condition fds, naming its limit), runs
    the services it has descriptors for (at least one; a start leaves a
    reserve for control connections and the keeper), says in one line of
    `up -d` how many it could not start and why, and `down` stops every
    one of them, leaving nothing."""
    t_start = time.monotonic()
    p = project(config())
    t, took_up = up(tend, p, limit, limit)
    daemon = p.lock_holder()
    assert daemon and alive(daemon), \
        "the daemon is not running after up -d:\n" + t.describe() + \
        p.describe()
    d, units, took_status = status(p)
    assert d["pid"] == daemon and len(units) == N
    assert limits(daemon) == (limit, limit)
    warns = [e for e in p.events() if e["event"] == "warn"
             and e.get("condition") == "fds"]
    assert warns and "its limit is %d" % limit in warns[0]["message"], \
        p.describe()
    running = [u for u in units if u["state"] == "running"]
    assert running, "no service runs: %s" % sorted({u["state"] for u in units})
    waiting = [u["name"] for u in units if u["state"] != "running"]
    assert waiting, "all %d ran under a limit of %d" % (N, limit)
    # up -d says so in one line (one cause), and fails
    lines = t.stderr_lines()
    assert t.rc == 1 and len(lines) == 1, t.describe()
    assert ("%d services are not started" % len(waiting)) in lines[0] and \
        "out of file descriptors (its limit is %d)" % limit in lines[0], lines
    # a start of one of them says why at once, not later, not never
    s = p.run("start", waiting[-1], timeout=STATUS)
    assert s.rc == 1 and "is not started: tend is out of file descriptors" \
        in s.stderr, s.describe()
    keeper = keeper_of(daemon)
    mains = []
    for u in running:
        st = proc_stat(u["pid"])
        assert st and st[1] == keeper, u
        mains.append((u["pid"], st[2]))
    took_down = down(p, mains, daemon, keeper)
    total = time.monotonic() - t_start
    print("%d services, limit %d: up -d %.1fs (rc %s), %d running, status "
          "%.2fs, down %.1fs" % (N, limit, took_up, t.rc, len(running),
                                 took_status, took_down))
    assert total < TOTAL, total
