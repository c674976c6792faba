"""The record of live processes (ID.procs in the runtime directory) when
the runtime directory is full.

The procs file names every process of every run, so that a next daemon
can kill what a daemon killed together with its keeper left behind
(test_containment.py). A write that fails must not go unsaid nor wait for
the next change of the set: it is reported once (a warn with "condition":
"procs"), tried again with backoff, and its recovery is said; after that a
daemon and its keeper SIGKILLed together leave nothing the next daemon
cannot find.

The full directory is a tiny tmpfs mounted as XDG_RUNTIME_DIR in a private
mount namespace (unshare -m, held by a sleeping process); every tend
command enters it (nsenter), and the test fills and empties the tmpfs
through /proc/HOLDER/root. Mounting needs root: skipped otherwise.
"""
import errno
import json
import os
import shutil
import subprocess
import time

import pytest

from conftest import (T_LONG, T_SHORT, alive, keeper_of, parse_events,
                      proc_stat, wait_until, write_ini)
from test_containment import descendants, kill_tend

CONF = """\
[service a]
exec = sh -c 'sleep 600 & exec sleep 601'
stop-timeout = 20s
"""


class Namespace:
    """A private mount namespace with a small tmpfs at RUN."""

    def __init__(self, tend, run, size="256k"):
        if os.geteuid() != 0:
            pytest.skip("needs root: mounts a tmpfs in a private mount "
                        "namespace and enters it with nsenter")
        for tool in ("unshare", "nsenter"):
            if not shutil.which(tool):
                pytest.skip("%s (util-linux) is not installed" % tool)
        script = ("mount -t tmpfs -o size=%s,mode=0700 tmpfs '%s' && "
                  "echo mounted && exec sleep 3600" % (size, run))
        self.holder = subprocess.Popen(
            ["unshare", "-m", "--propagation", "private", "sh", "-c", script],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE,
            stdin=subprocess.DEVNULL, env=tend.env, start_new_session=True)
        tend.reaper.track(self.holder)
        if self.holder.stdout.readline() != b"mounted\n":
            self.holder.kill()
            err = self.holder.communicate()[1].decode().strip()
            pytest.skip("no tmpfs in a private mount namespace here: %s" % err)
        self.run = run
        # The tmpfs as this process sees it.
        self.inside = "/proc/%d/root%s" % (self.holder.pid, run)
        st = os.statvfs(self.inside)
        assert st.f_blocks * st.f_frsize <= 1 << 20, "not the small tmpfs"
        self.wrap = ["nsenter", "-t", str(self.holder.pid), "-m", "--"]

    def fill(self):
        """Fills the tmpfs to its last byte."""
        chunk = b"\0" * 4096
        with open(os.path.join(self.inside, "fill"), "wb", buffering=0) as f:
            for piece in (chunk, b"\0"):
                while True:
                    try:
                        f.write(piece)
                    except OSError as e:
                        assert e.errno == errno.ENOSPC, e
                        break

    def empty(self):
        os.unlink(os.path.join(self.inside, "fill"))


def test_full_runtime_directory_warned_retried_and_recovered(tend, tmp_path):
    run = tmp_path / "run"
    run.mkdir(mode=0o700)
    ns = Namespace(tend, str(run))
    env = dict(tend.env, XDG_RUNTIME_DIR=str(run))
    ini = write_ini(tmp_path / "proj" / "tend.ini", CONF)
    state = tmp_path / "xdg-state" / "tend"

    def cmd(*args, ok=True):
        t = tend.start_wrapped(ns.wrap, "-c", str(ini), *args, env=env)
        t.wait(T_LONG)
        if ok:
            assert t.rc == 0, t.describe()
        return t

    def status():
        data = json.loads(cmd("status", "--json").stdout)
        assert data["daemon"]["kind"] == "daemon", data
        return data

    def statedir():
        dirs = [d for d in state.iterdir() if d.name.startswith("proj-")]
        assert len(dirs) == 1, dirs
        return dirs[0]

    def events(name=None, **match):
        try:
            evs = parse_events((statedir() / "events.log").read_text())
        except OSError:
            return []
        return [e for e in evs if (name is None or e["event"] == name) and
                all(e.get(k) == v for k, v in match.items())]

    def procs_file():
        return os.path.join(ns.inside, "tend", statedir().name + ".procs")

    def describe():
        try:
            log = (statedir() / "daemon.log").read_text()
        except OSError:
            log = ""
        return "daemon.log:\n%s\nevents:\n%s" % (
            log[-3000:], "\n".join(json.dumps(e) for e in events()[-30:]))

    cmd("up", "-d")
    daemon = status()["daemon"]["pid"]
    tend.reaper.track_pid(daemon)
    wait_until(lambda: os.path.exists(procs_file()), what="the procs file")
    first = status()["units"][0]["pid"]

    # Full: a new run changes the set, and its record cannot be written.
    ns.fill()
    cmd("restart", "a", "--wait")
    second = wait_until(lambda: (lambda u: u["pid"] != first and u["pid"])(
        status()["units"][0]), what="the second run")
    try:
        warn = wait_until(lambda: events("warn", condition="procs"), T_SHORT,
                          what="a warn with condition procs")[0]
    except AssertionError:
        raise AssertionError("the failed write of the procs file went "
                             "unsaid\n" + describe()) from None
    assert warn["unit"] == "tend", warn
    assert warn["path"].endswith(".procs"), warn
    assert "No space left on device" in warn["message"], warn
    assert "cannot write %s" % warn["path"] in warn["message"], warn
    with open(procs_file()) as f:
        stale = f.read()
    assert str(second) not in stale.split(), stale
    # Tried again meanwhile (a few times, with backoff), said once.
    time.sleep(2.0)
    assert len(events("warn", condition="procs")) == 1, describe()
    assert not events("recovered", condition="procs"), describe()

    # Room again: written at the next try, and said.
    ns.empty()
    rec = wait_until(lambda: events("recovered", condition="procs"), T_LONG,
                     what="the procs file to be written again")
    assert len(rec) == 1 and rec[0]["path"] == warn["path"], rec
    with open(procs_file()) as f:
        lines = [l.split() for l in f.read().splitlines()]
    assert [str(second), str(proc_stat(second)[2]), "a"] in lines, lines
    assert len(events("warn", condition="procs")) == 1, describe()

    # The daemon and its keeper killed together (no pid namespace: the run
    # outlives them): the next daemon finds the run all the same.
    keeper = keeper_of(daemon)
    assert proc_stat(second)[1] == keeper
    procs = [(second, proc_stat(second)[2])] + descendants(second)
    assert len(procs) == 2, procs
    kill_tend(daemon, keeper)
    time.sleep(0.3)
    assert all(alive(*x) for x in procs), "the run died with its keeper"
    cmd("up", "-d")
    new = status()["daemon"]["pid"]
    tend.reaper.track_pid(new)
    left = [x for x in procs if alive(*x)]
    assert not left, ("processes of the killed daemon's run still alive "
                      "after the next up -d: %s\n%s" % (left, describe()))
    cmd("down")
    wait_until(lambda: not alive(new), what="the daemon to exit")
