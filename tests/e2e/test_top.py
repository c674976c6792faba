"""tend top in a real terminal: tmux runs it in a detached session of a
given size; capture-pane reads the screen, send-keys types, resize-window
resizes it.  The units' rows, a restart by key (the pid changes in status
--json), the log follow and back, the layout after a resize, the
sparkline, NO_COLOR (no escape code at all) and q (exit 0)."""
import os
import re
import shlex
import shutil
import signal
import subprocess

import pytest

from conftest import TEND_BIN, T_LONG, T_SHORT, alive, wait_until

pytestmark = pytest.mark.skipif(not shutil.which("tmux"),
                                reason="tmux is not installed (scripts/deps.sh)")

INI = """\
[tend]
memory-interval = 100ms

[service web]
exec = sleep 600

[service burn]
exec = sh -c 'while :; do :; done'

[service %s]
exec = sh -c 'echo hello from the log; exec sleep 600'

[job tick]
exec = true
"""
LONG = "a-worker-with-a-name-longer-than-the-name-column"


class Term:
    """A tmux server of its own (its socket in the test's directory) with
    one session running CMD, COLS x ROWS."""

    def __init__(self, tmp_path, cmd, env, cols=120, rows=40):
        self.sock = str(tmp_path / "tmux.sock")
        self.rc = tmp_path / ("rc-%d" % id(self))
        envs = " ".join("%s=%s" % (k, shlex.quote(v)) for k, v in env.items())
        # (the shell outlives a Ctrl-C meant for tend logs -f: a handler,
        # which exec resets, not an ignored signal, which it would pass on)
        script = "trap : INT; env -i %s %s; echo $? > %s" % (
            envs, cmd, shlex.quote(str(self.rc)))
        # (its pid told by new-session itself: a command that exits at
        # once ends the session, and the server, before a second ask)
        self.pid = int(self.tmux("new-session", "-d", "-P", "-F", "#{pid}",
                                 "-x", str(cols), "-y", str(rows), "-s", "t",
                                 "sh", "-c", script).strip())

    def tmux(self, *args):
        r = subprocess.run(["tmux", "-S", self.sock, "-f", "/dev/null"] + list(args),
                           capture_output=True, text=True, timeout=T_SHORT)
        assert r.returncode == 0, (args, r.stderr)
        return r.stdout

    def screen(self, escapes=False):
        return self.tmux("capture-pane", "-p", "-t", "t", *(["-e"] if escapes else []))

    def lines(self):
        return self.screen().splitlines()

    def keys(self, *keys):
        self.tmux("send-keys", "-t", "t", *keys)

    def wait_screen(self, pred, what, timeout=T_SHORT):
        last = [""]

        def check():
            last[0] = self.screen()
            return last[0] if pred(last[0]) else None
        try:
            return wait_until(check, timeout, interval=0.1, what=what)
        except AssertionError:
            raise AssertionError("%s; the screen:\n%s" % (what, last[0])) from None

    def exit_code(self, timeout=T_SHORT):
        wait_until(lambda: self.rc.exists() and self.rc.read_text().strip(),
                   timeout, what="tend top to exit")
        return int(self.rc.read_text())

    def close(self):
        subprocess.run(["tmux", "-S", self.sock, "kill-server"],
                       capture_output=True, timeout=T_SHORT)
        if alive(self.pid):
            os.kill(self.pid, signal.SIGKILL)


@pytest.fixture
def term(tmp_path):
    made = []

    def make(*args, **kw):
        t = Term(tmp_path, *args, **kw)
        made.append(t)
        return t
    yield make
    for t in made:
        t.close()


def top_env(p, **extra):
    env = {k: p.env[k] for k in ("XDG_RUNTIME_DIR", "XDG_STATE_HOME", "HOME",
                                 "PATH", "TEND_E2E_TAG") if k in p.env}
    env.update(TERM="tmux-256color" if os.path.exists(
        "/usr/share/terminfo/t/tmux-256color") or os.path.exists(
        "/lib/terminfo/t/tmux-256color") else "screen", LANG="C.UTF-8")
    env.update(extra)
    return env


def row(screen, name):
    """The row of unit NAME: its words after the selection mark."""
    for line in screen.splitlines():
        words = line[2:].split()
        if words and words[0] == name:
            return words
    return None


def test_top_rows_keys_resize_and_quit(project, term):
    p = project(INI % LONG)
    p.up()
    web = p.unit("web")["pid"]
    t = term("%s -c %s top" % (shlex.quote(TEND_BIN), shlex.quote(str(p.ini))),
             top_env(p))
    s = t.wait_screen(lambda s: row(s, "web") and row(s, "tick"), "the rows")
    head = s.splitlines()[1].split()
    for col in ("NAME", "STATE", "PID", "UPTIME", "RESTARTS", "CPU%", "MEM",
                "CLIENTS", "MEMORY"):
        assert col in head, s
    assert row(s, "web")[1:3] == ["running", str(web)], s
    assert row(s, "tick")[1] == "idle", s
    assert s.splitlines()[0].startswith("tend top: "), s
    # the long name is cut with an ellipsis, the line within the width
    assert LONG not in s and "a-worker-with-a-name-lo\u2026" in s, s
    assert all(len(l) <= 120 for l in s.splitlines()), s
    # colour on a terminal that has it: the running state is green
    assert "\x1b[32mrunning" in t.screen(escapes=True), t.screen(escapes=True)

    # CPU of the busy loop, and a sparkline of samples
    t.wait_screen(lambda s: row(s, "burn") and row(s, "burn")[5] != "-" and
                  float(row(s, "burn")[5]) > 10, "burn's CPU", T_LONG)
    t.wait_screen(lambda s: re.search("[\u2581-\u2588]{5}", "\n".join(
                  l for l in s.splitlines() if l[2:].startswith("web "))),
                  "web's sparkline", T_LONG)
    p.ok("stop", "burn")

    # r restarts the selected unit (the first: web); the pid changes
    assert t.lines()[2].startswith("> web"), t.screen()
    t.keys("r")
    new = wait_until(lambda: (lambda u: u["pid"] not in (None, web) and
                              u["state"] == "running" and u["pid"])(p.unit("web")),
                     T_LONG, what="web to be restarted by the key")
    t.wait_screen(lambda s: row(s, "web")[2] == str(new) and
                  "restart web: done" in s, "the new pid and the answer")

    # j moves down; x stops, s starts the selected unit
    t.keys("j")
    t.wait_screen(lambda s: s.splitlines()[3].startswith("> burn"), "burn selected")
    t.keys("s")
    wait_until(lambda: p.unit("burn")["state"] == "running", T_LONG,
               what="burn started by the key")
    t.keys("x")
    wait_until(lambda: p.unit("burn")["state"] == "stopped", T_LONG,
               what="burn stopped by the key")
    t.wait_screen(lambda s: "stop burn: done" in s, "the stop's answer", T_LONG)

    # l follows the log of the selected unit in the same terminal; Ctrl-C
    # comes back
    t.keys("j")
    t.wait_screen(lambda s: s.splitlines()[4][2:].startswith("a-worker"),
                  "the worker selected")
    t.keys("l")
    t.wait_screen(lambda s: "hello from the log" in s and "tend top: the log of "
                  + LONG in s, "the log followed")
    t.keys("C-c")
    t.wait_screen(lambda s: row(s, "web") and "back from the log of" in s,
                  "back in top")

    # a narrower, shorter window: the layout follows
    t.tmux("resize-window", "-t", "t", "-x", "60", "-y", "12")
    # (a screen caught between the clear and the draw has no header yet)
    s = t.wait_screen(lambda s: len(s.splitlines()) > 1 and
                      "NAME" in s.splitlines()[1] and
                      "CLIENTS" not in s.splitlines()[1], "the new layout")
    lines = s.splitlines()
    assert all(len(l) <= 60 for l in lines), s
    head = lines[1].split()
    assert "NAME" in head and "STATE" in head and "CPU%" in head, s
    assert "RESTARTS" not in head, s
    assert "up/down select" in s, s   # the keys line, at the new bottom
    t.tmux("resize-window", "-t", "t", "-x", "120", "-y", "40")
    t.wait_screen(lambda s: len(s.splitlines()) > 1 and
                  "CLIENTS" in s.splitlines()[1], "the wide layout again")

    t.keys("q")
    assert t.exit_code() == 0


def test_top_no_color_and_no_daemon(project, term):
    p = project(INI % LONG)
    p.up()
    t = term("%s -c %s top" % (shlex.quote(TEND_BIN), shlex.quote(str(p.ini))),
             top_env(p, NO_COLOR="1"))
    t.wait_screen(lambda s: row(s, "web") and row(s, "web")[1] == "running",
                  "the rows")
    raw = t.screen(escapes=True)
    assert "\x1b" not in raw, repr(raw)
    assert t.lines()[2].startswith("> web"), t.screen()   # the mark, not reverse
    t.keys("q")
    assert t.exit_code() == 0

    # no terminal: exit 2 with what to use instead
    r = p.run("top")
    assert r.rc == 2 and "tend status --json" in r.stderr, r.describe()
    # no daemon: exit 3
    p.ok("down")
    t2 = term("%s -c %s top" % (shlex.quote(TEND_BIN), shlex.quote(str(p.ini))),
              top_env(p))
    assert t2.exit_code() == 3


def test_status_fits_a_real_terminal(project, term):
    """tend status on a terminal of 70 columns, no COLUMNS: the width comes
    from the terminal (TIOCGWINSZ); nothing wider, names cut."""
    p = project(INI % LONG)
    p.up()
    t = term("sh -c %s" % shlex.quote("%s -c %s status; sleep 30" % (
             shlex.quote(TEND_BIN), shlex.quote(str(p.ini)))),
             top_env(p), cols=70, rows=30)
    s = t.wait_screen(lambda s: "containment:" in s, "the table")
    lines = [l for l in s.splitlines() if l.strip()]
    assert lines[0].split()[:2] == ["NAME", "STATE"], s   # KIND went
    assert all(len(l) <= 70 for l in lines), s
    # (the screen wraps what is too long: the whole name would show)
    assert LONG not in s and "a-worker-with-a-name" in s and "\u2026" in s, s


def test_only_tend_top_loads_the_terminal_library(project, tmp_path):
    """tend top is its own program, tend-top, beside tend: the daemon and
    its keeper (both tend) map no ncurses or tinfo, and tend top without
    tend-top beside it says so in one line."""
    from conftest import keeper_of
    p = project("[service web]\nexec = sleep 600\n")
    p.up()
    daemon = p.daemon()["pid"]
    for pid in (daemon, keeper_of(daemon)):
        with open("/proc/%d/maps" % pid) as f:
            maps = f.read()
        assert "ncurses" not in maps and "libtinfo" not in maps, pid
    top = os.path.join(os.path.dirname(TEND_BIN), "tend-top")
    assert os.access(top, os.X_OK), top
    lonely = tmp_path / "lonely"
    lonely.mkdir()
    shutil.copy(TEND_BIN, lonely / "tend")
    t = subprocess.run([str(lonely / "tend"), "-c", str(p.ini), "top"],
                       env=p.env, capture_output=True, text=True, timeout=T_SHORT)
    assert t.returncode == 127, t
    assert t.stderr.count("\n") == 1 and "tend-top" in t.stderr and \
        "make install" in t.stderr, t.stderr
