"""What tend defends against, end to end (docs/security.md): directories
that are not its own, a control socket swapped for something else, files
swapped for symbolic links, clients and daemons of other uids.

Each test runs tend with its own XDG_RUNTIME_DIR and XDG_STATE_HOME under
tmp_path (conftest). Making a directory another user's needs root: those
cases are skipped otherwise."""
import os
import shutil
import socket
import stat
import subprocess
import tempfile
from pathlib import Path

import pytest

from conftest import PY, T_LONG, T_SHORT, alive, comm, wait_until, write_ini

CONF = """\
[service a]
exec = sleep 600
"""

NOBODY = 65534
ROOT = os.geteuid() == 0
needs_root = pytest.mark.skipif(not ROOT, reason="needs root to chown")


def mode(path):
    return stat.S_IMODE(os.lstat(path).st_mode)


def daemons(tend):
    """Live tend processes of this test (daemons, shims)."""
    return [p for p in tend.reaper.tagged() if comm(p) == "tend" and alive(p)]


def one_line(t, *needles):
    """The one error line of T (a finished Tend), holding every NEEDLE."""
    lines = t.stderr_lines()
    assert len(lines) == 1, "one error line, got:\n" + t.describe()
    line = lines[0]
    assert line.startswith("tend: "), line
    for n in needles:
        assert n in line, (n, line)
    return line


def known(p):
    """Starts P's daemon once and brings it down: its directories exist and
    P.id is known. Returns (rundir, statedir)."""
    p.up()
    assert p.run("down").rc == 0
    wait_until(lambda: not p.candidates(), what="the daemon to exit")
    return p.rundir, p.statedir


# --- directories ----------------------------------------------------------

def test_directories_are_private(project):
    p = project(CONF)
    p.up()
    p.wait_unit("a", state="running")
    assert mode(p.rundir) == 0o700
    assert mode(p.statedir) == 0o700
    assert mode(p.statedir.parent) == 0o700  # $XDG_STATE_HOME/tend
    for d in (p.rundir, p.statedir, p.statedir.parent):
        assert os.lstat(d).st_uid == os.geteuid()


def tamper(path, how):
    """Makes the directory PATH (of ours, 0700) not what tend made.
    Returns the words the refusal must hold."""
    if how == "owner":
        os.chown(path, NOBODY, NOBODY)
        return ["belongs to uid %d" % NOBODY, "not to you"]
    if how == "symlink":
        real = Path(str(path) + ".real")
        os.rename(path, real)
        os.symlink(real, path)
        return ["is a symbolic link", "rm %s" % path]
    m = {"group-writable": 0o770, "world-writable": 0o777,
         "readable": 0o755}[how]
    os.chmod(path, m)
    if how == "readable":
        return ["open to others (mode 755)", "chmod 700 %s" % path]
    return ["writable by group or others (mode %o)" % m, "chmod 700 %s" % path]


HOWS = ["group-writable", "world-writable", "readable", "symlink",
        pytest.param("owner", marks=needs_root)]


@pytest.mark.parametrize("how", HOWS)
def test_runtime_directory_refused(tend, project, how):
    p = project(CONF)
    rundir, _ = known(p)
    before = sorted(os.listdir(rundir))
    needles = tamper(rundir, how)
    try:
        t = p.run("up", "-d")
        assert t.rc == 3, t.describe()
        line = one_line(t, str(rundir), *needles)
        if how == "owner":
            assert "XDG_RUNTIME_DIR" in line
        assert daemons(tend) == [], "no daemon started"
        # the client refuses it as well, and says the same
        for cmd in (("status",), ("start", "a"), ("down",)):
            t = p.run(*cmd)
            assert t.rc == 3, t.describe()
            why = one_line(t, *needles)[len("tend: "):]
            assert line.endswith(": " + why), (line, why)
        assert daemons(tend) == []
        # nothing was changed, nothing made in it
        if how == "symlink":
            assert os.path.islink(rundir)
        else:
            assert sorted(os.listdir(rundir)) == before
            if how == "owner":
                assert os.lstat(rundir).st_uid == NOBODY
            else:
                assert mode(rundir) != 0o700
    finally:
        untamper(rundir, how)
    p.up()  # put right, the daemon starts again


def untamper(path, how):
    if how == "symlink":
        os.unlink(path)
        os.rename(str(path) + ".real", path)
    elif how == "owner":
        os.chown(path, os.geteuid(), os.getegid())
    else:
        os.chmod(path, 0o700)


@pytest.mark.parametrize("how", HOWS)
def test_state_directory_refused(tend, project, how):
    p = project(CONF)
    _, statedir = known(p)
    needles = tamper(statedir, how)
    try:
        t = p.run("up", "-d")
        assert t.rc == 3, t.describe()
        line = one_line(t, str(statedir), *needles)
        if how == "owner":
            assert "XDG_STATE_HOME" in line
        assert daemons(tend) == []
        # the readers refuse it too
        for cmd in (("logs", "a"), ("events",)):
            t = p.run(*cmd)
            assert t.rc == 1, t.describe()
            why = one_line(t, *needles)[len("tend: "):]
            assert line.endswith(": " + why), (line, why)
    finally:
        untamper(statedir, how)
    p.up()


def test_directory_above_writable_by_others(tend, project):
    """$XDG_RUNTIME_DIR itself open to all: someone else could rename
    tend's directory away and put their own there. Sticky (as /tmp) is
    fine: there only the owner of an entry may rename or remove it."""
    p = project(CONF)
    run = Path(p.env["XDG_RUNTIME_DIR"])
    os.chmod(run, 0o777)
    try:
        t = p.run("up", "-d")
        assert t.rc == 3, t.describe()
        one_line(t, "%s/tend is below %s" % (run, run), "mode 777, not sticky",
                 "chmod go-w %s" % run, "XDG_RUNTIME_DIR")
        assert daemons(tend) == []
        os.chmod(run, 0o1777)
        p.up()
        p.wait_unit("a", state="running")
    finally:
        os.chmod(run, 0o700)


@needs_root
def test_directory_above_owned_by_another_user(tend, project):
    p = project(CONF)
    state = Path(p.env["XDG_STATE_HOME"])
    os.chown(state, NOBODY, NOBODY)
    try:
        t = p.run("up", "-d")
        assert t.rc == 3, t.describe()
        one_line(t, "is below %s, which belongs to uid %d" % (state, NOBODY),
                 "XDG_STATE_HOME")
        assert daemons(tend) == []
    finally:
        os.chown(state, os.geteuid(), os.getegid())
    p.up()
