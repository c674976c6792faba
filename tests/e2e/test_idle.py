"""Idle tend sleeps in one blocking wait: no timers, no polling."""
import time

from conftest import ctx_switches


def test_idle_exec_does_not_wake_up(tend):
    t = tend.start("exec", "--json", "--", "sleep", "60")
    t.wait_event("spawned")
    time.sleep(0.5)  # let start-up settle
    before = ctx_switches(t.pid)
    time.sleep(10)
    after = ctx_switches(t.pid)
    assert t.running(), t.describe()
    assert after - before <= 2, "tend woke up %d times in 10 s while idle" % (
        after - before)
    assert t.stop() == 128 + 15, t.describe()


def test_idle_up_does_not_wake_up(tend, tmp_path):
    ini = tmp_path / "tend.ini"
    ini.write_text("[service a]\nexec = sleep 60\n\n[service b]\nexec = sleep 60\n")
    t = tend.start("-c", str(ini), "up", "--json")
    t.wait_event("spawned", n=2)
    time.sleep(0.5)
    before = ctx_switches(t.pid)
    time.sleep(3)
    after = ctx_switches(t.pid)
    assert after - before <= 2, "tend up woke up %d times in 3 s while idle" % (
        after - before)
    assert t.stop() == 0, t.describe()
