"""What tend defends against, end to end (docs/security.md): directories
that are not its own, a control socket swapped for something else, files
swapped for symbolic links, clients and daemons of other uids.

Each test runs tend with its own XDG_RUNTIME_DIR and XDG_STATE_HOME under
tmp_path (conftest). Making a directory another user's needs root: those
cases are skipped otherwise."""
import json
import os
import shutil
import socket
import stat
import subprocess
import tempfile
from pathlib import Path

import pytest

from conftest import (BIN, KEEPER, PY, T_LONG, T_SHORT, TEND_BIN, alive, comm,
                      wait_until, write_ini)

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
    """Live tend processes of this test (daemons, and their keepers)."""
    return [p for p in tend.reaper.tagged()
            if comm(p) in ("tend", KEEPER) and alive(p)]


def no_daemon(tend):
    """No tend process of the test is left (a refused daemon reports its
    error, then exits: give it a moment)."""
    wait_until(lambda: daemons(tend) == [], T_SHORT,
               what="no tend process to be left")
    return True


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
        assert no_daemon(tend)
        # the client refuses it as well, and says the same
        for cmd in (("status",), ("start", "a"), ("down",)):
            t = p.run(*cmd)
            assert t.rc == 3, t.describe()
            why = one_line(t, *needles)[len("tend: "):]
            assert line.endswith(": " + why), (line, why)
        assert no_daemon(tend)
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
        assert no_daemon(tend)
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
        assert no_daemon(tend)
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
        assert no_daemon(tend)
    finally:
        os.chown(state, os.geteuid(), os.getegid())
    p.up()


@needs_root
@pytest.mark.parametrize("var", ["XDG_STATE_HOME", "XDG_RUNTIME_DIR"])
@pytest.mark.parametrize("target", ["theirs", "yours"])
def test_another_users_link_on_the_way_is_not_followed(tend, project,
                                                       tmp_path, var, target):
    """$VAR below a world-writable sticky directory (as /tmp), where another
    user planted a symbolic link at a middle component: to a directory of
    theirs, or to one of the user's own (where they would have tend create
    and write). The link is not followed: one line says which component,
    whose it is, and what to do; nothing is made where it leads."""
    shared = tmp_path / "shared"
    shared.mkdir()
    os.chmod(shared, 0o1777)
    if target == "theirs":
        dest = tmp_path / "nobody-home"
        dest.mkdir()
        os.chown(dest, NOBODY, NOBODY)
    else:
        dest = tmp_path / "private"
        dest.mkdir(mode=0o700)
    link = shared / "link"
    os.symlink(dest, link)
    os.lchown(link, NOBODY, NOBODY)
    env = dict(tend.env)
    env[var] = str(link / "xdg")
    p = project(CONF, env=env)
    t = p.run("up", "-d")
    assert t.rc == 3, t.describe()
    one_line(t, "on the way to it, %s is a symbolic link of uid %d in %s"
             % (link, NOBODY, shared), "which others can write to (mode 1777)",
             "not following it", "have the link removed", var)
    assert no_daemon(tend)
    assert os.listdir(dest) == [], "made through the link: %s" % os.listdir(dest)
    # The user's own link there is theirs to choose: followed.
    os.lchown(link, os.geteuid(), os.getegid())
    if target == "theirs":
        os.chown(dest, os.geteuid(), os.getegid())
    p.up()
    p.wait_unit("a", state="running")
    assert os.listdir(dest) == ["xdg"]


# --- the control socket ---------------------------------------------------

class Listener:
    """A unix socket at PATH that counts the connections and bytes it gets
    (what a planted socket would learn)."""

    def __init__(self, path):
        self.s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.s.bind(str(path))
        self.s.listen(16)
        self.s.setblocking(False)

    def heard(self):
        """(connections, bytes) so far."""
        conns = data = 0
        while True:
            try:
                c, _ = self.s.accept()
            except BlockingIOError:
                return conns, data
            conns += 1
            c.settimeout(0.5)
            try:
                while True:
                    chunk = c.recv(65536)
                    if not chunk:
                        break
                    data += len(chunk)
            except OSError:
                pass
            c.close()

    def close(self):
        self.s.close()


def test_client_will_not_connect_through_a_symlink(tend, project, tmp_path):
    p = project(CONF)
    p.up()
    pid = p.daemon_pid()
    sock = p.sock
    fake = Listener(tmp_path / "fake.sock")
    aside = p.rundir / "aside"
    os.rename(sock, aside)          # the daemon's socket, kept for later
    os.symlink(tmp_path / "fake.sock", sock)
    try:
        for cmd, words in ((("status",), ()), (("start", "a"), ()),
                           (("stop", "a"), ()), (("down",), ())):
            t = p.run(*cmd)
            assert t.rc == 3, t.describe()
            one_line(t, "%s is a symbolic link, not the daemon's socket" % sock,
                     "rm %s" % sock)
        assert fake.heard() == (0, 0), "a client went through the link"
        assert alive(pid), "the daemon was not asked anything"
        assert os.path.islink(sock)
    finally:
        fake.close()
        os.unlink(sock)
        os.rename(aside, sock)
    assert p.daemon_pid() == pid
    assert p.unit("a")["state"] == "running"


@pytest.mark.parametrize("what", ["dangling symlink", "symlink to a file",
                                  "regular file"])
def test_daemon_will_not_bind_or_remove_through_a_symlink(tend, project,
                                                          tmp_path, what):
    p = project(CONF)
    known(p)
    sock = p.sock
    target = tmp_path / "target"
    if what == "dangling symlink":
        os.symlink(target, sock)
    elif what == "symlink to a file":
        target.write_text("precious\n")
        os.symlink(target, sock)
    else:
        sock.write_text("precious\n")
    t = p.run("up", "-d")
    assert t.rc == 3, t.describe()
    if what == "regular file":
        one_line(t, "%s is not a socket; remove it" % sock)
        assert sock.read_text() == "precious\n"
    else:
        one_line(t, "%s is a symbolic link, not tend's socket" % sock,
                 "neither binds nor removes", "rm %s" % sock)
        assert os.path.islink(sock), "the link was not removed"
        assert os.readlink(sock) == str(target)
        if what == "dangling symlink":
            assert not os.path.lexists(target), "nothing made at its target"
        else:
            assert target.read_text() == "precious\n"
    assert no_daemon(tend)
    os.unlink(sock)
    p.up()
    assert stat.S_ISSOCK(os.lstat(sock).st_mode)
    # at the end the daemon removes its own socket only
    assert p.run("down").rc == 0
    wait_until(lambda: not os.path.lexists(sock), what="the socket to go")


LISTEN_AS = r"""
import os, socket, sys
path, uid = sys.argv[1], int(sys.argv[2])
s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
s.bind(path)
os.setgroups([])
os.setresgid(uid, uid, uid)
os.setresuid(uid, uid, uid)
s.listen(16)            # the peer credentials clients see are these
sys.stdout.write("listening\n")
sys.stdout.flush()
got = 0
while True:
    c, _ = s.accept()
    c.settimeout(2)
    try:
        c.sendall(b'{"ok":true,"pid":1,"units":[]}\n')
        while True:
            chunk = c.recv(65536)
            if not chunk:
                break
            got += len(chunk)
    except OSError:
        pass
    c.close()
    sys.stderr.write("got %d\n" % got)
    sys.stderr.flush()
"""


@needs_root
def test_client_refuses_a_daemon_of_another_uid(tend, project, tmp_path):
    """A socket at the right path, in the right directory, but whoever
    listens runs as another user: the client says so and sends nothing."""
    p = project(CONF)
    known(p)
    err = tmp_path / "listener.stderr"
    with open(err, "wb") as ef:
        lst = subprocess.Popen([PY, "-c", LISTEN_AS, str(p.sock), str(NOBODY)],
                               stdout=subprocess.PIPE, stderr=ef,
                               env=p.env)
    tend.reaper.track(lst)
    try:
        assert lst.stdout.readline() == b"listening\n"
        for cmd in (("status",), ("start", "a"), ("down",)):
            t = p.run(*cmd)
            assert t.rc == 3, t.describe()
            one_line(t, "the process listening on %s runs as uid %d, not as "
                     "you (uid %d)" % (p.sock, NOBODY, os.geteuid()),
                     "not your daemon")
        assert no_daemon(tend)
        wait_until(lambda: err.read_text().count("got") == 3,
                   what="the three connections to end")
        assert set(err.read_text().split("\n")[:-1]) == {"got 0"}, \
            "a client sent a request: " + err.read_text()
    finally:
        lst.kill()
        lst.wait()
    os.unlink(p.sock)


NOBODY_REQUESTS = r"""
import json, socket, sys
out = []
for req in ({"cmd": "down"}, {"cmd": "stop", "name": "a"}, {"cmd": "ping"}):
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.settimeout(10)
    s.connect(sys.argv[1])
    try:
        s.sendall((json.dumps(req) + "\n").encode())
    except OSError:
        pass
    data = b""
    try:
        while True:
            chunk = s.recv(4096)
            if not chunk:
                break
            data += chunk
    except OSError:
        pass
    out.append(data.decode(errors="replace"))
print(json.dumps(out))
"""


@needs_root
def test_other_uids_can_neither_command_nor_reach_the_daemon(tend, project):
    """test_ctl_socket checks the refusal of another uid's ping; here it
    asks for down and stop (refused, nothing stops), and runs the tend CLI
    as that uid against the daemon's directories (refused before any
    connection: they are not its own)."""
    if shutil.which("setpriv") is None:
        pytest.skip("setpriv is not installed")
    base = tempfile.mkdtemp(prefix="tend-e2e-run-", dir="/tmp")
    try:
        os.chmod(base, 0o711)
        env = dict(tend.env, XDG_RUNTIME_DIR=base)
        p = project(CONF, env=env)
        p.up()
        pid = p.daemon_pid()
        as_nobody = ["setpriv", "--reuid=%d" % NOBODY, "--regid=%d" % NOBODY,
                     "--clear-groups"]
        # what the daemon's own checks refuse: open the way in for uid
        # nobody, as a careless chmod would
        os.chmod(p.rundir, 0o711)
        os.chmod(p.sock, 0o666)
        try:
            r = subprocess.run(as_nobody + [PY, "-c", NOBODY_REQUESTS,
                                            str(p.sock)],
                               capture_output=True, timeout=T_LONG, env=env)
            # and the CLI of that uid, on a file of its own: the runtime
            # directory (XDG_RUNTIME_DIR/tend) is not its own
            mine = Path(base) / "nobody"
            mine.mkdir(mode=0o755)
            write_ini(mine / "tend.ini", CONF)
            os.chmod(mine / "tend.ini", 0o644)
            cli = subprocess.run(as_nobody + [TEND_BIN, "-c",
                                              str(mine / "tend.ini"), "status"],
                                 capture_output=True, timeout=T_LONG, env=env)
        finally:
            os.chmod(p.sock, 0o600)
            os.chmod(p.rundir, 0o700)
        assert r.returncode == 0, r
        replies = json.loads(r.stdout)
        assert len(replies) == 3
        for text in replies:
            lines = text.splitlines()
            assert len(lines) == 1, replies
            reply = json.loads(lines[0])
            assert reply["ok"] is False and "uid" in reply["error"], reply
        assert cli.returncode == 3, cli
        err = cli.stderr.decode().splitlines()
        assert len(err) == 1, err
        assert "%s/tend belongs to uid 0, not to you (uid %d)" % (base, NOBODY) \
            in err[0], err
        assert alive(pid) and p.daemon_pid() == pid
        assert p.unit("a")["state"] == "running"
        assert p.shutdown() == []
    finally:
        shutil.rmtree(base, ignore_errors=True)


# --- files in the directories --------------------------------------------

def test_files_are_private(project):
    p = project(CONF)
    p.up()
    p.wait_unit("a", state="running")
    wait_until(lambda: p.procs_file.exists(), what="the procs file")
    for f in (p.lock_file, p.procs_file, p.statedir / "events.log",
              p.statedir / "a.log", p.statedir / "daemon.log"):
        st = os.lstat(f)
        assert stat.S_ISREG(st.st_mode), f
        assert mode(f) == 0o600, (f, oct(mode(f)))
        assert st.st_uid == os.geteuid(), f


def precious(path):
    path.write_text("precious\n")
    return path


def test_links_in_the_state_directory_are_not_followed(tend, project,
                                                       tmp_path):
    """Links put in place of events.log, a.log and daemon.log: the daemon
    writes through none of them (it runs, and says what it could not
    open); a link in place of a rotated file is replaced, not followed;
    the readers do not read through a link."""
    p = project(CONF.replace("exec = sleep 600",
                             "exec = sh -c 'while :; do echo "
                             "line-of-the-service; sleep 0.01; done'"))
    _, state = known(p)
    targets = {}
    for name in ("events.log", "a.log", "daemon.log"):
        f = state / name
        if f.exists():
            f.unlink()
        targets[name] = precious(tmp_path / ("target-" + name))
        os.symlink(targets[name], f)
    p.up()
    p.wait_unit("a", state="running")
    p.ok("restart", "a", "--wait")   # more output, more events
    for name, target in targets.items():
        assert target.read_text() == "precious\n", name
    for name in ("events.log", "a.log", "daemon.log"):
        assert os.path.islink(state / name), name
    # the readers do not read through the links either
    for cmd, name in ((("logs", "a", "-n", "5"), "a.log"),
                      (("events", "-n", "5"), "events.log")):
        t = p.run(*cmd)
        assert "precious" not in t.stdout, t.describe()
        one_line(t, "cannot read %s" % (state / name),
                 "Too many levels of symbolic links")
    assert p.run("down").rc == 0
    for name, target in targets.items():
        assert target.read_text() == "precious\n", name


def test_rotation_replaces_links_without_following_them(tend, project,
                                                        tmp_path):
    p = project("[tend]\nlog-max = 4K\n\n" + CONF.replace(
        "exec = sleep 600",
        "exec = sh -c 'while :; do echo line-of-the-service-to-fill-the-log; "
        "sleep 0.005; done'"))
    _, state = known(p)
    targets = []
    for i in (1, 2, 3):
        f = state / ("a.log.%d" % i)
        if os.path.lexists(f):
            f.unlink()
        targets.append(precious(tmp_path / ("target-%d" % i)))
        os.symlink(targets[-1], f)
    p.up()
    # three rotations at least: every link is renamed over or moved along
    wait_until(lambda: all(not os.path.islink(state / ("a.log.%d" % i))
                           for i in (1, 2, 3)), T_LONG,
               what="the rotations to replace the links")
    for t in targets:
        assert t.read_text() == "precious\n", t
    t = p.run("logs", "a", "-n", "3")
    assert t.rc == 0 and "line-of-the-service" in t.stdout, t.describe()


def test_a_linked_procs_file_is_not_read_nor_written_through(tend, project,
                                                             tmp_path):
    """The procs file names processes the next daemon kills (by pid and
    start time). One put in its place as a link, naming a live process
    of someone else's, must not be read: that process lives on."""
    p = project(CONF)
    run, _ = known(p)
    victim = subprocess.Popen(["sleep", "600"])
    tend.reaper.track(victim)
    with open("/proc/%d/stat" % victim.pid) as f:
        start = int(f.read().rsplit(")", 1)[1].split()[19])
    forged = tmp_path / "forged.procs"
    forged.write_text("%d %d a\n" % (victim.pid, start))
    before = forged.read_text()
    procs = p.procs_file
    if os.path.lexists(procs):
        procs.unlink()
    os.symlink(forged, procs)
    tmp = Path(str(procs) + ".tmp")
    tmp_target = tmp_path / "tmp-target"
    os.symlink(tmp_target, tmp)
    try:
        p.up()
        p.wait_unit("a", state="running")
        assert victim.poll() is None, "a process named by a link was killed"
        assert forged.read_text() == before
        assert not os.path.lexists(tmp_target), "written through procs.tmp"
    finally:
        victim.kill()
        victim.wait()


def test_a_linked_lock_is_refused(tend, project, tmp_path):
    p = project(CONF)
    run, _ = known(p)
    lock = p.lock_file
    target = tmp_path / "lock-target"
    lock.unlink()
    os.symlink(target, lock)
    t = p.run("up", "-d")
    assert t.rc == 3, t.describe()
    one_line(t, "%s is a symbolic link, not tend's lock" % lock,
             "rm %s" % lock)
    assert not os.path.lexists(target)
    assert no_daemon(tend)
    lock.unlink()
    p.up()


# --- the sd_notify socket -------------------------------------------------

def fnv1a64(data):
    h = 0xcbf29ce484222325
    for b in data:
        h = ((h ^ b) * 0x100000001b3) & 0xffffffffffffffff
    return h


def test_an_abstract_notify_socket_cannot_be_taken_first(tend, project,
                                                         tmp_path):
    """A runtime directory so deep that ID.NAME.notify does not fit in a
    socket address: the service gets an abstract socket, which has no
    owner. Its name once was a hash of the path, which anyone could compute
    and bind first: the service then never became ready. Now the name is
    random, drawn again if taken; the squatter (any process can bind an
    abstract name: this test's own will do) gets nothing."""
    d = tmp_path / "n"
    d.mkdir()
    run = tmp_path / ("r" * 100)
    run.mkdir(mode=0o700)
    p = project("[service n]\nexec = %s %s %s --ready-after 0.2\n"
                "ready = notify\nstart-timeout = 5s\n"
                % (PY, BIN / "notify.py", d),
                env=dict(tend.env, XDG_RUNTIME_DIR=str(run)))
    real = os.path.realpath(p.ini).encode()
    path = "%s/tend/proj-%08x.n.notify" % (run, fnv1a64(real) & 0xffffffff)
    assert len(path) >= 108, path   # longer than sun_path
    squatter = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    squatter.bind("\0tend-%016x" % fnv1a64(path.encode()))
    squatter.setblocking(False)
    try:
        t = p.run("up", "-d")
        assert t.rc == 0, t.describe() + p.describe()
        assert p.unit("n")["state"] == "running"
        ev = p.wait_event("ready")
        assert ev["how"] == "notify", ev
        env = list(d.glob("*.env"))
        assert len(env) == 1, env
        name = env[0].read_text().split("\n")[0]
        assert len(name) == 6 + 32 and name.startswith("@tend-"), name
        int(name[6:], 16)
        assert name != "@tend-%016x" % fnv1a64(path.encode())
        assert not [e for e in p.events() if e["event"] == "warn"], p.describe()
        with pytest.raises(BlockingIOError):
            squatter.recv(4096)   # nothing was sent to the squatter
        # A restart keeps the unit's socket: ready again.
        p.ok("restart", "n", "--wait")
        assert p.unit("n")["state"] == "running"
    finally:
        squatter.close()
