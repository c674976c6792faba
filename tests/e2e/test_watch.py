"""watch =: runs of a job and restarts of a service on real file changes,
and nothing on reads."""
import os
import subprocess
import time

from conftest import T_LONG, wait_until


def events(p, name, unit="j"):
    return [e for e in p.events() if e["event"] == name and e["unit"] == unit]


def make_tree(root, ndirs, nfiles):
    for d in range(ndirs):
        sub = root / ("d%03d" % d)
        sub.mkdir(parents=True)
        for f in range(nfiles):
            (sub / ("f%03d.txt" % f)).write_text("x")


def test_a_read_only_storm_of_10000_files_runs_nothing(project, tmp_path):
    tree = tmp_path / "tree"
    make_tree(tree, 100, 100)
    p = project("[job j]\nexec = true\nwatch = %s\ndebounce = 100ms\n" % tree)
    p.up()
    time.sleep(0.3)
    # cat, open/close, stat of every file; a listing of every directory.
    files = sorted(tree.rglob("*.txt"))
    assert len(files) == 10000
    subprocess.run(["cat"] + [str(f) for f in files[:5000]],
                   stdout=subprocess.DEVNULL, check=True)
    for f in files[5000:]:
        with open(f) as fh:
            fh.read()
    for f in files:
        os.stat(f)
    for f in files[:100]:
        fd = os.open(f, os.O_RDWR)   # opened for writing, closed unwritten
        os.close(fd)
    subprocess.run(["ls", "-lR", str(tree)], stdout=subprocess.DEVNULL, check=True)
    time.sleep(1.0)   # ten debounce periods
    assert events(p, "watch_triggered") == []
    assert events(p, "job_started") == []
    # A write then runs it, once.
    (tree / "d007" / "f003.txt").write_text("changed")
    p.wait_event("job_finished", unit="j")
    time.sleep(0.5)
    assert len(events(p, "job_started")) == 1
    trig = events(p, "watch_triggered")
    assert len(trig) == 1 and trig[0]["path"].endswith("d007/f003.txt"), trig


def test_one_write_runs_the_job_once_after_the_debounce(project):
    # watch = w: relative to the file's directory
    p = project("[job j]\nexec = true\nwatch = w\ndebounce = 500ms\n")
    w = p.ini.parent / "w"
    w.mkdir()
    p.up()
    time.sleep(0.2)
    t0 = time.time()
    (w / "a").write_text("1")
    ev = p.wait_event("job_started", unit="j")
    assert ev["by"] == "watch"
    assert ev["ts"] / 1000 - t0 >= 0.45, ev["ts"] / 1000 - t0
    time.sleep(1.0)
    assert len(events(p, "job_started")) == 1


def test_a_file_name_that_is_not_utf8_is_told_cleaned(project):
    """A file name is bytes; the event that names it holds valid UTF-8
    ('?' for what is not), where it used to lose its fields."""
    p = project("[job j]\nexec = true\nwatch = w\ndebounce = 100ms\n")
    w = p.ini.parent / "w"
    w.mkdir()
    p.up()
    time.sleep(0.2)
    with open(os.path.join(os.fsencode(w), b"caf\xe9\x1b.txt"), "wb") as f:
        f.write(b"1")
    p.wait_event("job_finished", unit="j")
    trig = events(p, "watch_triggered")
    assert len(trig) == 1 and trig[0]["path"].endswith("/w/caf??.txt"), trig
    assert trig[0]["changes"] >= 1, trig


def test_100_writes_during_a_run_make_one_trailing_run(project, tmp_path):
    w = tmp_path / "w"
    (w / "sub").mkdir(parents=True)
    # The run lasts until every write is done (the mark, outside the watched
    # tree) and their debounce are over, however slow a loaded machine
    # makes the writes; the trailing run finds the mark and ends at once.
    mark = tmp_path / "writes-done"
    p = project("[job j]\nexec = sh -c 'until [ -e %s ]; do sleep 0.02; done'\n"
                "watch = %s\ndebounce = 50ms\n" % (mark, w))
    p.up()
    time.sleep(0.2)
    (w / "start").write_text("go")
    p.wait_event("job_started", unit="j")
    for i in range(100):
        (w / "sub" / ("f%d" % i)).write_text(str(i))
        time.sleep(0.01)
    time.sleep(0.5)    # the last write's debounce is over, inside the run
    mark.write_text("")
    wait_until(lambda: len(events(p, "job_finished")) == 2, T_LONG,
               what="run 1 and the trailing run to end")
    time.sleep(0.5)
    assert len(events(p, "job_started")) == 2


def test_a_change_restarts_a_running_service(project, tmp_path):
    w = tmp_path / "src"
    w.mkdir()
    p = project("[service s]\nexec = sleep 600\nwatch = %s\n"
                "watch-ignore = *.tmp .git\ndebounce = 100ms\n" % w)
    p.up()
    pid = p.unit("s")["pid"]
    (w / "scratch.tmp").write_text("ignored")
    (w / ".git").mkdir()
    (w / ".git" / "index").write_text("ignored")
    time.sleep(0.6)
    assert p.unit("s")["pid"] == pid
    (w / "main.c").write_text("int main;")
    wait_until(lambda: p.unit("s")["pid"] not in (None, pid), what="a restart")
    assert len(events(p, "watch_triggered", "s")) == 1


def test_tend_exec_restarts_on_every_change(tend, tmp_path):
    w = tmp_path / "w"
    w.mkdir()
    t = tend.start("exec", "--json", "--watch", str(w), "--debounce", "100ms", "--",
                   "sleep", "600")

    def spawned():
        return len(t.events("spawned"))
    wait_until(lambda: spawned() == 1, what="the first run")
    for n in (2, 3):
        (w / ("f%d" % n)).write_text("x")
        wait_until(lambda: spawned() == n, what="restart %d" % (n - 1))
    assert t.running()
    t.stop()
