"""after = NAME[:CONDITION]: a start waits for the units it comes after
(started, ready, healthy, completed), starting those that are not on their
way; a unit it waits for that fails fails it; shutdown stops in the reverse
order; a cycle is refused at load with its line and the whole cycle
(issue 23, docs/config.md "Order: after")."""
import time

from conftest import T_LONG, alive, q, wait_until


def index(evs, unit, event, **match):
    """Position of the first EVENT of UNIT (with MATCH) in EVS."""
    for i, e in enumerate(evs):
        if e["unit"] == unit and e["event"] == event and \
                all(e.get(k) == v for k, v in match.items()):
            return i
    raise AssertionError("no %s of %s in %s" % (event, unit, evs))


def db_ini(tmp_path, delay=1.0, extra=""):
    """db becomes ready DELAY s after it starts (a file its health
    probe looks for)."""
    flag = tmp_path / "db.ready"
    return ("[service db]\n"
            "exec = sh -c 'sleep %s; touch %s; exec sleep 600'\n"
            "ready = health\nhealth = exec:test -e %s\nhealth-interval = 100ms\n"
            % (delay, q(str(flag)), q(str(flag)))) + extra


def test_boot_order_follows_ready_and_completed(project, tmp_path):
    out = tmp_path / "migrated"
    p = project(db_ini(tmp_path) + """
[job migrate]
exec = sh -c 'test -e %s && echo ok > %s'
after = db

[service api]
exec = sleep 600
after = db migrate
""" % (q(str(tmp_path / "db.ready")), q(str(out))))
    t0 = time.monotonic()
    p.up()
    assert time.monotonic() - t0 >= 0.9, "up -d before db was ready"
    # the job ran after db was ready (its command checks), then api
    assert out.read_text() == "ok\n"
    evs = p.events()
    w = [e for e in evs if e["event"] == "waiting" and e["unit"] == "api"]
    assert w and w[0]["for"] == "db:ready migrate:completed", w
    assert index(evs, "db", "ready") < index(evs, "migrate", "job_started",
                                             by="after")
    assert index(evs, "migrate", "job_finished", result="success") < \
        index(evs, "api", "spawned")
    assert p.unit("api")["state"] == "running"


def test_on_demand_start_brings_its_dependencies_first(project, tmp_path):
    p = project("""
[service lazy]
exec = sleep 600
start = on-demand

[service web]
exec = sleep 600
start = on-demand
after = lazy:started
""")
    p.up()
    assert p.unit("lazy")["state"] == "stopped"
    p.ok("start", "web", "--wait")
    assert p.unit("lazy")["state"] == "running"
    evs = p.events()
    assert index(evs, "lazy", "spawned") < index(evs, "web", "spawned")


def test_healthy_waits_for_a_passing_check(project, tmp_path):
    flag = tmp_path / "healthy"
    p = project("""
[service db]
exec = sleep 600
health = exec:test -e %s
health-interval = 100ms
health-grace = 0

[service api]
exec = sleep 600
after = db:healthy
""" % q(str(flag)))
    t = p.start("up", "-d")
    wait_until(lambda: p.run("status").rc == 0, what="the daemon")
    p.wait_unit("api", timeout=T_LONG, state="waiting")
    time.sleep(0.5)
    api = p.unit("api")
    assert api["state"] == "waiting" and api["reason"] == "after", api
    assert api["reason_text"] == "waiting for db:healthy", api
    assert "waiting for db:healthy" in p.ok("status").stdout
    flag.write_text("")
    t.wait(T_LONG)
    assert t.rc == 0, t.describe()
    assert p.unit("api")["state"] == "running"


def test_a_dependency_that_gives_up_fails_the_waiting_start(project, tmp_path):
    p = project("""
[service db]
exec = sh -c 'sleep 0.3; exit 3'
restart = never
ready = health
health = exec:false

[service api]
exec = sleep 600
after = db:ready
""")
    t = p.run("up", "-d")
    assert t.rc == 1, t.describe()
    assert 'service "api" could not start: after: "db"' in t.stderr, t.describe()
    api = p.unit("api")
    assert api["state"] == "failed" and api["pid"] is None, api
    assert api["reason"] == "gave-up" and \
        api["reason_text"].startswith('failed: cannot start: after: "db"'), api
    ev = p.wait_event("gave_up", unit="api")
    assert ev["reason"] == "dependency"
    ex = [e for e in p.events() if e["event"] == "exited" and e["unit"] == "api"]
    assert ex and '"db"' in ex[0]["error"], ex


def test_a_failed_job_fails_what_waits_for_its_completion(project, tmp_path):
    p = project("""
[job migrate]
exec = sh -c 'exit 4'

[service api]
exec = sleep 600
after = migrate
""")
    t = p.run("up", "-d")
    assert t.rc == 1, t.describe()
    assert "its last run did not succeed" in t.stderr, t.describe()
    assert p.unit("migrate")["last_run"]["result"] == "failure"
    assert p.unit("api")["state"] == "failed"
    # the job fixed, a start of api runs it again and goes on
    p.ini.write_text(p.ini.read_text().replace("exit 4", "exit 0"))
    p.ok("reload")
    p.ok("start", "api", "--wait")
    assert p.unit("migrate")["last_run"]["result"] == "success"
    assert p.unit("api")["state"] == "running"


def test_stop_of_a_waiting_unit_ends_the_wait(project, tmp_path):
    p = project(db_ini(tmp_path, delay=600) + """
[service api]
exec = sleep 600
after = db
""")
    t = p.start("up", "-d")
    wait_until(lambda: p.run("status").rc == 0, what="the daemon")
    p.wait_unit("api", timeout=T_LONG, state="waiting")
    p.ok("stop", "api")
    assert p.unit("api")["state"] == "stopped"
    assert p.unit("db")["state"] == "starting"
    t.proc.kill()
    t.wait(T_LONG)


def test_shutdown_stops_in_the_reverse_order(project, tmp_path):
    p = project(db_ini(tmp_path, delay=0) + """
[service api]
exec = sleep 600
after = db
stop-timeout = 5s

[service web]
exec = sh -c 'trap "sleep 0.5; exit 0" TERM; sleep 600 & wait'
after = api:started
""")
    p.up()
    pids = {n: p.unit(n)["pid"] for n in ("db", "api", "web")}
    p.ok("down")
    for pid in pids.values():
        assert not alive(pid)
    evs = p.events()
    # web takes half a second to stop: api and db wait for it
    assert index(evs, "web", "stopped") < index(evs, "api", "stopping")
    assert index(evs, "api", "stopped") < index(evs, "db", "stopping")


def test_a_cycle_is_refused_with_its_line_and_the_whole_cycle(project, tmp_path):
    p = project("""
[service a]
exec = sleep 600
after = b

[service b]
exec = sleep 600
after = c:started

[service c]
exec = sleep 600
after = a
""")
    for cmd in (("check",), ("up", "-d")):
        t = p.run(*cmd)
        assert t.rc == 2, t.describe()
        lines = t.stderr_lines()
        assert len(lines) == 1, t.describe()
        assert lines[0].endswith(":4: after: a cycle: a -> b -> c -> a (each "
                                 "waits for the next); remove one of these "
                                 "from an after line"), lines


def test_bad_after_lines_each_get_their_error(project, tmp_path):
    p = project("""
[service db]
exec = sleep 600

[job j]
exec = true

[service api]
exec = sleep 600
after = dbb api j:ready db:completed db:healthy db:bogus
""")
    t = p.run("check")
    assert t.rc == 2, t.describe()
    err = t.stderr
    assert ':10: after: there is no service or job named "dbb" in this file; ' \
        'did you mean "db"?' in err, err
    assert "cannot wait for itself" in err
    assert '"j" is a job, which is never ready' in err
    assert '"db" is a service, which never completes' in err
    assert '"db" has no health probe' in err
    assert '"bogus" is no condition' in err
