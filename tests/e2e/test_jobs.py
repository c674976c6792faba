"""Jobs: tend run, single flight with one trailing run, results, and runs
that leave nothing behind."""
import json
import time

from conftest import BIN, PY, T_LONG, wait_until

TREE = "%s %s" % (PY, BIN / "tree.py")
MEM = "%s %s" % (PY, BIN / "mem.py")


def runs(p, name, event="job_started"):
    return [e for e in p.events() if e["event"] == event and e["unit"] == name]


def counting_job(tmp_path, sleep):
    """A job that appends a line per run to a file and exits with
    10 + the number of runs so far."""
    f = tmp_path / "runs"
    return ("exec = sh -c 'echo x >> %s; sleep %s; exit $((10 + $(wc -l < %s)))'\n"
            % (f, sleep, f))


def test_concurrent_run_wait_on_a_cold_system_is_one_run_and_one_trailing(project, tmp_path):
    p = project("[job j]\n" + counting_job(tmp_path, 3))
    racers = [p.start("run", "j", "--wait") for _ in range(50)]
    for r in racers:
        r.wait(T_LONG)
    codes = sorted(r.rc for r in racers)
    # The first request starts run 1; every other one came during it and
    # is answered by the one trailing run 2.
    assert codes == [11] + [12] * 49, codes
    assert len(runs(p, "j")) == 2
    assert len(runs(p, "j", "job_coalesced")) == 49
    for r in racers:
        if r.rc == 12:
            assert 'job "j" run 2: failure (exit code 12)' in r.stderr, r.describe()


def test_requests_during_a_run_make_exactly_one_trailing_run(project, tmp_path):
    # Runs last until the gate file exists: the requests surely come
    # during run 1, however slow this machine is.
    f, gate = tmp_path / "runs", tmp_path / "gate"
    p = project("[job j]\nexec = sh -c 'echo x >> %s; while [ ! -e %s ]; do "
                "sleep 0.02; done; exit $((10 + $(wc -l < %s)))'\n" % (f, gate, f))
    t = p.ok("run", "j")
    assert t.stdout.strip() == "run 1 started"
    for i in range(100):
        t = p.ok("run", "j")
        assert t.stdout.strip() == "run 2 (after the one running now)"
    joiner = p.start("run", "j", "--join")     # waits for run 1 only
    time.sleep(0.3)
    gate.write_text("open")
    joiner.wait(T_LONG)
    assert joiner.rc == 11, joiner.describe()
    wait_until(lambda: len(runs(p, "j", "job_finished")) == 2, T_LONG,
               what="the trailing run to end")
    time.sleep(0.5)
    assert len(runs(p, "j")) == 2
    u = p.unit("j")
    assert u["state"] == "failed" and u["last_run"]["run"] == 2
    assert u["last_run"]["result"] == "failure" and u["last_run"]["code"] == 12
    # --join with nothing running returns at once.
    t = p.run("run", "j", "--join")
    assert t.rc == 0 and t.stderr == "", t.describe()


def test_success_and_the_job_s_own_exit_code(project):
    p = project("[job ok]\nexec = true\n[job bad]\nexec = sh -c 'exit 7'\n")
    assert p.run("run", "ok", "--wait").rc == 0
    t = p.run("run", "bad", "--wait")
    assert t.rc == 7 and 'job "bad" run 1: failure (exit code 7)' in t.stderr
    ev = runs(p, "bad", "job_finished")[-1]
    assert ev["result"] == "failure" and ev["code"] == 7 and ev["duration_ms"] >= 0


def test_timeout_ends_the_run_and_its_whole_tree(project, tend):
    d = tend.tree_dir()
    p = project("[job j]\nexec = %s %s\ntimeout = 1s\nstop-timeout = 2s\n"
                % (TREE, d.path))
    t0 = time.monotonic()
    t = p.run("run", "j", "--wait")
    took = time.monotonic() - t0
    assert t.rc == 1 and "timeout" in t.stderr, t.describe()
    assert 0.9 <= took <= 8, took
    assert d.all_pids() and not d.alive()   # daemonized ones too
    assert p.unit("j")["last_run"]["result"] == "timeout"


def test_a_run_leaves_no_daemonized_grandchild(project, tend):
    d = tend.tree_dir()
    p = project("[job j]\nexec = %s %s --exit-after 0.3\n" % (TREE, d.path))
    t = p.run("run", "j", "--wait")
    assert t.rc == 0, t.describe()
    pids = d.all_pids()
    assert len(pids) >= 5, pids        # main, bg, setsid, dfork, daemon
    wait_until(lambda: not d.alive(), 2, what="the run's tree to be gone")
    assert p.unit("j")["last_run"]["result"] == "success"


def test_memory_max_ends_the_run_with_result_memory(project, tmp_path):
    p = project("[tend]\nmemory-interval = 100ms\n[job j]\nexec = %s anon %s 200\n"
                "memory-max = 100M\n" % (MEM, tmp_path))
    t = p.run("run", "j", "--wait")
    assert t.rc == 1 and "memory" in t.stderr, t.describe()
    last = p.unit("j")["last_run"]
    assert last["result"] == "memory"
    assert last["peak_mem_bytes"] > 100 * 2**20, last
    ev = runs(p, "j", "job_finished")[-1]
    assert ev["peak_mem_bytes"] == last["peak_mem_bytes"]


def test_run_refuses_services_and_start_refuses_jobs(project):
    p = project("[service s]\nexec = sleep 600\nstart = on-demand\n"
                "[job j]\nexec = true\n")
    t = p.run("run", "s")
    assert t.rc == 2 and 'is a service: start it with tend start s' in t.stderr
    t = p.run("start", "j")
    assert t.rc == 2 and 'is a job: run it with tend run j' in t.stderr
    t = p.run("run")
    assert t.rc == 2 and "which job" in t.stderr
    t = p.run("run", "j", "--join", "--wait")
    assert t.rc == 2
    status = json.loads(p.ok("status", "--json", "j").stdout)["units"]
    assert status[0]["state"] == "idle" and status[0]["last_run"] is None


def test_three_failures_make_a_cooldown_that_force_overrides(project):
    p = project("[job j]\nexec = sh -c 'exit 4'\nmax-failures = 3\n"
                "cooldown = 1h\n")
    for _ in range(3):
        assert p.run("run", "j", "--wait").rc == 4
    u = p.unit("j")
    assert u["state"] == "cooldown", u
    t = p.run("run", "j")
    assert t.rc == 1 and "is in cooldown" in t.stderr and "--force" in t.stderr
    assert t.stderr.count("\n") == 1, t.stderr
    assert len(runs(p, "j")) == 3
    w = [e for e in p.events() if e["event"] == "warn" and e["unit"] == "j"]
    assert len(w) == 1 and "max-failures" in w[0]["message"], w
    t = p.run("run", "j", "--wait", "--force")
    assert t.rc == 4, t.describe()
    assert len(runs(p, "j")) == 4
    # Forced: the cooldown is over; the run failed again.
    assert p.unit("j")["state"] == "failed"


def test_every_runs_on_an_interval_and_ticks_during_a_run_coalesce(project):
    p = project("[job j]\nexec = sleep 0.5\nevery = 300ms\n")
    p.up()
    wait_until(lambda: len(runs(p, "j", "job_finished")) >= 3, T_LONG,
               what="three runs")
    started = runs(p, "j")
    assert all(e["by"] == "every" for e in started), started
    # A 0.5 s run and a 0.3 s tick: runs follow each other, never overlap.
    fin = runs(p, "j", "job_finished")
    assert all(f["result"] == "success" for f in fin)
    for a, b in zip(fin, started[1:]):
        assert b["ts"] >= a["ts"], (a, b)


def test_logs_show_each_run_apart(project):
    p = project("[job j]\nexec = sh -c 'echo one; echo two; printf tail'\n")
    for _ in range(2):
        assert p.run("run", "j", "--wait").rc == 0
    lines = [l.split(" ", 1)[1] if l[:4].isdigit() else l
             for l in p.ok("logs", "j").stdout.splitlines()]
    assert lines == ["--- tend: run 1 (cli) ---", "one", "two", "tail",
                     "--- tend: run 2 (cli) ---", "one", "two", "tail"], lines


def test_max_jobs_queues_runs_of_other_jobs(project, tmp_path):
    gate = tmp_path / "gate"
    hold = "exec = sh -c 'while [ ! -e %s ]; do sleep 0.02; done'\n" % gate
    p = project("[tend]\nmax-jobs = 2\n[job a]\n%s[job b]\n%s[job c]\n%s"
                % (hold, hold, hold))
    for name in ("a", "b"):
        assert p.ok("run", name).stdout.strip() == "run 1 started"
    assert p.ok("run", "c").stdout.strip() == "run 1 queued (max-jobs runs go on now)"
    wait_until(lambda: len(runs(p, "a") + runs(p, "b")) == 2, what="a and b")
    time.sleep(0.3)
    assert runs(p, "c") == [] and p.unit("c")["state"] == "queued"
    # A second request for c is covered by the run that waits.
    assert p.ok("run", "c").stdout.strip() == "run 1 queued (max-jobs runs go on now)"
    gate.write_text("open")
    wait_until(lambda: len(runs(p, "c", "job_finished")) == 1, T_LONG,
               what="c to run once a slot is free")
    assert len(runs(p, "c")) == 1
