"""Installing tend and living with it: make install / uninstall (the
binary under test, the man pages lowdown makes from the docs, the shell
completions tend prints from its table of commands, the docs), the
completions run by real bash, zsh and fish, tend init, tend enable and
disable (the systemd unit checked by systemd-analyze verify and run as
the user manager would, the XDG autostart entry checked by
desktop-file-validate), and the error line when there is no
configuration at all."""
import json
import os
import shlex
import signal
import socket
import stat
import subprocess

from pathlib import Path

import pytest

from conftest import (BIN, PY, T_LONG, T_SHORT, TEND_BIN, alive,
                      wait_until)
from mcpwire import Client
from test_sockets import free_port

REPO = Path(__file__).resolve().parents[2]
PREFIX = "/usr/local"

def one_line(t):
    lines = t.stderr_lines()
    assert len(lines) == 1 and lines[0].startswith("tend: "), t.describe()
    return lines[0]

def units_of(status):
    """The units of `status --json`: the array after the daemon's object,
    or the "units" of an object."""
    if isinstance(status, dict):
        return status["units"]
    return [u for u in status if u.get("kind") != "daemon"]

# --- make install ----------------------------------------------------------

@pytest.fixture(scope="module")
def staged(tmp_path_factory):
    """make install of the build under test into a DESTDIR of this module's
    own (the pages and completions made in a directory of its own too, so
    that two suites at once never share one)."""
    base = tmp_path_factory.mktemp("install")
    dest, gen = base / "dest", base / "gen"
    r = subprocess.run(["make", "-s", "-C", str(REPO), "install",
                        "PREFIX=" + PREFIX, "DESTDIR=" + str(dest),
                        "GEN=" + str(gen), "TEND_BUILT=" + TEND_BIN],
                       capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stdout + r.stderr
    return dest

def installed(dest, rel):
    return dest / PREFIX.lstrip("/") / rel

def test_make_install_puts_everything_in_place(staged):
    want = {
        "bin/tend": 0o755,
        "bin/tend-top": 0o755,
        "share/man/man1/tend.1": 0o644,
        "share/man/man5/tend.ini.5": 0o644,
        "share/bash-completion/completions/tend": 0o644,
        "share/zsh/site-functions/_tend": 0o644,
        "share/fish/vendor_completions.d/tend.fish": 0o644,
        "share/doc/tend/README.md": 0o644,
        "share/doc/tend/docs/commands.md": 0o644,
        "share/doc/tend/docs/config.md": 0o644,
    }
    for rel, mode in want.items():
        p = installed(staged, rel)
        assert p.is_file(), rel
        assert stat.S_IMODE(p.stat().st_mode) == mode, (rel, oct(p.stat().st_mode))
    # the binary installed is the one under test
    assert installed(staged, "bin/tend").read_bytes() == Path(TEND_BIN).read_bytes()
    assert installed(staged, "bin/tend-top").read_bytes() == \
        (Path(TEND_BIN).parent / "tend-top").read_bytes()
    # every document of docs/ is there
    for doc in (REPO / "docs").glob("*.md"):
        assert installed(staged, "share/doc/tend/docs/" + doc.name).is_file(), doc

def test_man_pages_are_made_from_the_docs_and_render_cleanly(staged):
    env = dict(os.environ, LC_ALL="C.UTF-8", MANROFFSEQ="", MANWIDTH="80")
    pages = {"man1/tend.1": ("tend - a process supervisor", "docs/commands.md"),
             "man5/tend.ini.5": ("tend.ini - the configuration file",
                                 "docs/config.md")}
    for rel, (whatis, doc) in pages.items():
        page = installed(staged, "share/man/" + rel)
        # what lintian runs: no warning from man, groff or tbl
        r = subprocess.run(["man", "--warnings", "-E", "UTF-8", "-l", "-Tutf8",
                            "-Z", str(page)], capture_output=True, text=True,
                           env=env, timeout=60)
        assert r.returncode == 0 and r.stderr == "", r.stderr
        # the whatis line apropos and lintian read
        r = subprocess.run(["lexgrog", str(page)], capture_output=True, text=True)
        assert r.returncode == 0 and whatis in r.stdout, r.stdout
        text = subprocess.run(["man", "-l", str(page)], capture_output=True,
                              text=True, env=env).stdout
        # made from the document: each of its sections is a section here
        for line in (REPO / doc).read_text().splitlines():
            if line.startswith("## "):
                title = line[3:].replace("`", "")
                assert title in text, (rel, title)
    tend1 = subprocess.run(["man", "-l", str(installed(staged, "share/man/man1/tend.1"))],
                           capture_output=True, text=True, env=env).stdout
    for section in ("NAME", "SYNOPSIS", "DESCRIPTION", "SEE ALSO"):
        assert "\n" + section + "\n" in tend1, section

def test_installed_tend_runs_a_daemon_and_its_keeper(staged, tend, tmp_path):
    """The installed binary, away from the source tree, runs a daemon whose
    keeper is that same binary (found through /proc/self/exe)."""
    exe = str(installed(staged, "bin/tend"))
    ini = tmp_path / "p" / "tend.ini"
    ini.parent.mkdir()
    ini.write_text("[service s]\nexec = sleep 600\n")
    env = dict(tend.env, PATH=str(Path(exe).parent) + ":/usr/bin:/bin")
    r = subprocess.run(["tend", "-c", str(ini), "up", "-d"], env=env,
                       capture_output=True, text=True, timeout=T_LONG)
    try:
        assert r.returncode == 0, r.stderr
        st = json.loads(subprocess.run(["tend", "-c", str(ini), "status", "--json"],
                                       env=env, capture_output=True, text=True,
                                       timeout=T_SHORT).stdout)
        daemon = st["daemon"] if isinstance(st, dict) else st[0]
        assert os.readlink("/proc/%d/exe" % daemon["pid"]) == exe
        keeper = daemon["keeper"]["pid"]
        assert os.readlink("/proc/%d/exe" % keeper) == exe
        assert [u["state"] for u in units_of(st)] == ["running"]
    finally:
        subprocess.run(["tend", "-c", str(ini), "down"], env=env, timeout=T_LONG)

def test_help_points_to_the_man_pages(tend):
    t = tend.run("--help")
    assert t.rc == 0
    assert "man tend" in t.stdout and "man tend.ini" in t.stdout, t.stdout
    assert "in the source tree." not in t.stdout.split("man tend")[0]
    for cmd in ("init", "enable", "disable"):
        assert "  %s" % cmd in t.stdout, cmd

def test_make_uninstall_removes_what_install_put(tmp_path):
    dest, gen = tmp_path / "dest", tmp_path / "gen"
    args = ["make", "-s", "-C", str(REPO), "PREFIX=/opt/t", "DESTDIR=" + str(dest),
            "GEN=" + str(gen), "TEND_BUILT=" + TEND_BIN]
    r = subprocess.run(args + ["install"], capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr
    files = [p for p in dest.rglob("*") if not p.is_dir()]
    assert len(files) >= 10, files
    # something of the user's own beside tend's is left alone
    mine = dest / "opt/t/share/man/man1/other.1"
    mine.write_text("x")
    r = subprocess.run(args + ["uninstall"], capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stderr
    left = [p for p in dest.rglob("*") if not p.is_dir()]
    assert left == [mine], left

# --- the completions ---------------------------------------------------------

def help_commands(tend):
    """The commands `tend --help` lists."""
    out = tend.run("--help").stdout.split("Commands:")[1].split("Options:")[0]
    cmds = set()
    for line in out.splitlines():
        if line.startswith("  ") and not line.startswith("   "):
            for w in line.split()[0].split("|"):
                cmds.add(w)
    return cmds

def bash_complete(staged, env, *words):
    """The words real bash offers for `WORDS` (the last one being
    completed), with the installed script and tend on PATH."""
    script = installed(staged, "share/bash-completion/completions/tend")
    words = ["tend"] + list(words)
    code = ("source %s; COMP_WORDS=(%s); COMP_CWORD=%d; _tend; "
            "printf '%%s\\n' \"${COMPREPLY[@]}\"" % (
                shlex.quote(str(script)), " ".join(shlex.quote(w) for w in words),
                len(words) - 1))
    r = subprocess.run(["bash", "--norc", "--noprofile", "-c", code], env=env,
                       capture_output=True, text=True, timeout=T_SHORT * 2)
    assert r.returncode == 0 and r.stderr == "", r.stderr
    return set(r.stdout.split())

def comp_env(staged, tend, cwd):
    return dict(tend.env, PATH=str(installed(staged, "bin")) + ":/usr/bin:/bin",
                HOME=str(cwd))

def test_completions_offer_every_command_and_its_flags(staged, tend, tmp_path):
    env = comp_env(staged, tend, tmp_path)
    offered = bash_complete(staged, env, "")
    # the same commands as --help (the table is the one source; `tend
    # help` is --help), none offered that tend does not run
    listed = help_commands(tend) | {"help"}
    assert offered == listed, offered ^ listed
    assert bash_complete(staged, env, "st") == {"start", "status", "stop"}
    assert {"-c", "--config", "--help", "--version"} <= bash_complete(staged, env, "-")
    for cmd in sorted(offered):
        flags = bash_complete(staged, env, cmd, "-")
        t = tend.run(cmd, "--help")
        assert t.rc == 0, t.describe()
        usage = t.stdout
        # every flag offered is one --help documents (every command takes
        # --help) ...
        for f in flags - {"--help"}:
            assert f in usage, (cmd, f)
        # ... and every flag of its usage line is offered
        first = usage.split("\n\n")[0]
        for w in first.replace("[", " ").replace("]", " ").replace("|", " ").split():
            if w.startswith("-") and w not in ("-c", "--", "--KEY"):
                assert w in flags, (cmd, w, flags)
    # exec and connect take every service key as a flag
    assert {"--restart", "--memory-max", "--json"} <= bash_complete(staged, env, "exec", "--")
    assert "--idle-stop" in bash_complete(staged, env, "connect", "--")
    # after --, a command
    assert "sleep" in bash_complete(staged, env, "exec", "--", "slee")

INI = """[service web]
exec = sleep 600
[service api]
exec = sleep 600
[job index]
exec = true
"""

def test_completions_offer_the_units_of_the_file_and_of_the_daemon(
        staged, tend, tmp_path, project):
    p = project(INI)
    env = comp_env(staged, tend, tmp_path)
    c = str(p.ini)
    # no daemon: from the file
    assert bash_complete(staged, env, "-c", c, "start", "") == {"all", "web", "api"}
    assert bash_complete(staged, env, "-c", c, "run", "") == {"all", "index"}
    assert bash_complete(staged, env, "-c", c, "logs", "") == {"all", "web", "api",
                                                              "index"}
    assert bash_complete(staged, env, "--config=" + c, "restart", "a") == {"all", "api"}
    # a daemon: from its status, which also knows units the file lost
    p.up()
    p.write("[service web]\nexec = sleep 600\n")
    assert bash_complete(staged, env, "-c", c, "stop", "") == {"all", "web", "api",
                                                              "index"}
    # zsh (its completion functions stubbed to print what they are given)
    # and fish (its own `complete -C`) ask the same
    zsh = zsh_complete(staged, env, ["tend", "-c", c, "start", ""])
    assert zsh == {"all", "web", "api"}, zsh
    assert zsh_complete(staged, env, ["tend", "st"]) >= {"start", "status", "stop"}
    fish = fish_complete(staged, env, "tend -c %s run " % c)
    assert fish == {"all", "index"}, fish
    fish = fish_complete(staged, env, "tend -c %s start " % c)
    assert fish == {"all", "web", "api"}, fish

ZSH_STUBS = r"""
compadd() {
  while (( $# )); do
    case $1 in
    (-a) shift; print -l -- ${(P)1}; return ;;
    (--) shift; print -l -- "$@"; return ;;
    (*) shift ;;
    esac
  done
}
_describe() { print -l -- ${${(P)4}%%:*} }
_files() { print -- _files }
_command_names() { print -- _command_names }
"""

def zsh_complete(staged, env, words):
    script = installed(staged, "share/zsh/site-functions/_tend")
    code = "%s\nwords=(%s); CURRENT=%d; PREFIX=%s; source %s" % (
        ZSH_STUBS, " ".join(shlex.quote(w) for w in words), len(words),
        shlex.quote(words[-1]), shlex.quote(str(script)))
    r = subprocess.run(["zsh", "-f", "-c", code], env=env, capture_output=True,
                       text=True, timeout=T_SHORT * 2)
    assert r.returncode == 0 and r.stderr == "", r.stderr
    got = set(r.stdout.split())
    return {w for w in got if w.startswith(words[-1])}

def fish_complete(staged, env, line):
    script = installed(staged, "share/fish/vendor_completions.d/tend.fish")
    r = subprocess.run(["fish", "--no-config", "-c", "source %s; complete -C %s" % (
        shlex.quote(str(script)), shlex.quote(line))], env=env,
        capture_output=True, text=True, timeout=T_SHORT * 2)
    assert r.returncode == 0 and r.stderr == "", r.stderr
    return {l.split("\t")[0] for l in r.stdout.splitlines() if l}

def test_fish_describes_the_commands(staged, tend, tmp_path):
    env = comp_env(staged, tend, tmp_path)
    r = subprocess.run(["fish", "--no-config", "-c", "source %s; complete -C 'tend en'" % (
        shlex.quote(str(installed(staged, "share/fish/vendor_completions.d/tend.fish"))))],
        env=env, capture_output=True, text=True, timeout=T_SHORT * 2)
    got = dict(l.split("\t", 1) for l in r.stdout.splitlines() if "\t" in l)
    assert set(got) == {"enable"}, r.stdout + r.stderr
    assert "login" in got["enable"]
    got = fish_complete(staged, env, "tend enable --")
    assert got == {"--now", "--systemd", "--autostart", "--help"}, got

# --- no configuration --------------------------------------------------------

def test_no_configuration_names_the_path_and_tend_init(tend, tmp_path):
    user = Path(tend.env["XDG_CONFIG_HOME"]) / "tend" / "tend.ini"
    for cmd in ("up", "check"):
        t = tend.run(cmd)
        assert t.rc == 2
        line = one_line(t)
        assert str(user) in line and "./tend.ini" in line, line
        assert "tend init" in line, line
    # a file named with -c
    t = tend.run("-c", "nope.ini", "status")
    assert t.rc == 2
    line = one_line(t)
    assert "nope.ini: no such file" in line and "tend -c nope.ini init" in line, line
    t = tend.run("-c", "nope.ini", "up")
    assert t.rc == 2 and "tend -c nope.ini init" in one_line(t)
    # ... or by $TEND_CONFIG
    missing = str(tmp_path / "gone.ini")
    t = tend.run("check", env=dict(tend.env, TEND_CONFIG=missing))
    assert t.rc == 2
    line = one_line(t)
    assert missing in line and "$TEND_CONFIG" in line and "tend init" in line, line
    # the default daemon, asked for without a file
    t = tend.run("status")
    assert t.rc == 3 and "tend init" in one_line(t)

# --- tend init ---------------------------------------------------------------

def test_init_writes_a_starter_file_once(tend, tmp_path):
    user = Path(tend.env["XDG_CONFIG_HOME"]) / "tend" / "tend.ini"
    t = tend.run("init")
    assert t.rc == 0, t.describe()
    assert str(user) in t.stdout
    text = user.read_text()
    for want in ("stdio = mcp", "listen = tcp:", "backend = tcp:", "watch = ",
                 "[service ", "[job "):
        assert want in text, want
    comments = [l for l in text.splitlines() if l.startswith(";")]
    assert len(comments) >= 15, text
    t = tend.run("check")
    assert t.rc == 0, t.describe()
    # never over an existing file: one line, the file untouched
    user.write_text(text + "; mine\n")
    t = tend.run("init")
    assert t.rc == 2
    line = one_line(t)
    assert str(user) in line and "exists" in line, line
    assert user.read_text() == text + "; mine\n"
    # -c FILE: there, directories made
    other = tmp_path / "a" / "b" / "tend.ini"
    t = tend.run("-c", str(other), "init")
    assert t.rc == 0 and other.read_text() == text
    t = tend.run("init", "extra")
    assert t.rc == 2 and 'unexpected argument "extra"' in one_line(t)

def test_init_file_runs(tend, tmp_path, project, reaper):
    """The starter file, as written (two port numbers changed to free ones),
    loaded by the real daemon: the TCP service starts with its first client
    and answers through the proxy, the job runs when a note is written, and
    the MCP server (npx there: a fake one on PATH, no network here) answers
    a client's initialize."""
    home = tmp_path / "home"
    home.mkdir()
    ini = tmp_path / "init" / "tend.ini"
    t = tend.run("-c", str(ini), "init")
    assert t.rc == 0, t.describe()
    text = ini.read_text()
    listen = free_port()
    backend = free_port()
    while backend == listen:   # (the kernel may hand out the same port)
        backend = free_port()
    assert "listen = tcp:127.0.0.1:8080" in text and "backend = tcp:127.0.0.1:8081" in text, text
    text = text.replace("8080", str(listen)).replace("8081", str(backend))
    shims = tmp_path / "shims"
    shims.mkdir()
    (shims / "npx").write_text("#!/bin/sh\nexec %s %s\n" % (PY, BIN / "mcp_server.py"))
    (shims / "npx").chmod(0o755)
    env = dict(tend.env, HOME=str(home), PATH="%s:%s" % (shims, tend.env["PATH"]),
               MCP_LOG=str(tmp_path / "mcp.log"))
    p = project(text, name="init", env=env)
    p.up()
    states = {u["name"]: u["state"] for u in units_of(p.status())}
    assert set(states) == {"memory", "web", "notes"}, states
    # the TCP service: started by its first client, through the proxy
    with socket.create_connection(("127.0.0.1", listen), timeout=T_LONG) as s:
        s.sendall(b"GET / HTTP/1.0\r\n\r\n")
        s.settimeout(T_LONG)
        first = s.recv(64)
    assert first.startswith(b"HTTP/1.0 200"), first
    p.wait_unit("web", state="running")
    # the job: a note written
    (home / "notes").mkdir()
    (home / "notes" / "a.md").write_text("one two three\n")
    wait_until(lambda: "3" in p.run("logs", "notes").stdout.split(),
               T_LONG, what="the notes job's output")
    # the MCP server: one client's initialize
    c = Client(p, reaper, name="memory")
    try:
        res = c.initialize()
        assert res["serverInfo"]["name"] == "fake", res
    finally:
        c.close()
    p.wait_unit("memory", state="running")

# --- enable / disable ----------------------------------------------------------

def desktop_exec(path):
    for line in path.read_text().splitlines():
        if line.startswith("Exec="):
            return shlex.split(line[5:])
    raise AssertionError("no Exec= in %s" % path)

def default_status(tend, env):
    return tend.run("status", "--json", env=env, cwd=tend.workdir)

def test_enable_autostart_where_systemd_is_not_pid1(tend, tmp_path):
    cfg = Path(tend.env["XDG_CONFIG_HOME"])
    desktop = cfg / "autostart" / "tend.desktop"
    # nothing to start: the file first
    t = tend.run("enable")
    assert t.rc == 2
    line = one_line(t)
    assert "tend init" in line and str(cfg / "tend" / "tend.ini") in line, line
    assert not desktop.exists()
    assert tend.run("init").rc == 0
    t = tend.run("-c", "x.ini", "enable")
    assert t.rc == 2 and "no -c FILE" in one_line(t)
    if os.path.isdir("/run/systemd/system"):
        pytest.skip("systemd is PID 1 here: enable writes the unit")
    t = tend.run("enable")
    assert t.rc == 0, t.describe()
    assert str(desktop) in t.stdout
    assert not (cfg / "systemd").exists()
    r = subprocess.run(["desktop-file-validate", str(desktop)],
                       capture_output=True, text=True)
    assert r.returncode == 0 and r.stdout == "" and r.stderr == "", r.stdout + r.stderr
    assert desktop_exec(desktop) == [TEND_BIN, "-c", str(cfg / "tend" / "tend.ini"),
                                     "up", "-d"]
    # --now: the daemon too; the default one, reached without -c
    t = tend.run("enable", "--now", timeout=T_LONG)
    assert t.rc == 0, t.describe()
    st = default_status(tend, tend.env)
    assert st.rc == 0, st.describe()
    st = json.loads(st.stdout)
    daemon = st["daemon"] if isinstance(st, dict) else st[0]
    pid = daemon["pid"]
    assert daemon.get("default") is True
    # disable --now: the entry removed, the daemon stopped
    t = tend.run("disable", "--now", timeout=T_LONG)
    assert t.rc == 0, t.describe()
    assert not desktop.exists()
    wait_until(lambda: not alive(pid), T_LONG, what="the default daemon to exit")
    assert default_status(tend, tend.env).rc == 3
    t = tend.run("disable")
    assert t.rc == 0 and "not enabled" in t.stdout

def test_disable_leaves_files_it_did_not_write(tend):
    cfg = Path(tend.env["XDG_CONFIG_HOME"])
    desktop = cfg / "autostart" / "tend.desktop"
    desktop.parent.mkdir(parents=True)
    desktop.write_text("[Desktop Entry]\nType=Application\nName=mine\nExec=mine\n")
    t = tend.run("disable")
    assert t.rc == 1 and "left alone" in one_line(t)
    assert desktop.exists()
    assert tend.run("init").rc == 0
    t = tend.run("enable", "--autostart")
    assert t.rc == 1 and "left alone" in one_line(t)
    assert "Name=mine" in desktop.read_text()

def unit_values(path, key):
    return [l.split("=", 1)[1] for l in path.read_text().splitlines()
            if l.startswith(key + "=")]

def test_enable_systemd_unit_verifies_and_runs(staged, tend, tmp_path, reaper):
    """The unit of `tend enable --systemd` (written by the installed tend)
    passes systemd-analyze verify for the user manager, with its man pages
    found; its ExecStart, run as the manager would, is the default daemon
    in the foreground, ExecReload reloads it, SIGTERM (KillMode=mixed)
    stops it; disable removes the unit and its link."""
    exe = str(installed(staged, "bin/tend"))
    cfg = Path(tend.env["XDG_CONFIG_HOME"])
    unit = cfg / "systemd" / "user" / "tend.service"
    wants = cfg / "systemd" / "user" / "default.target.wants" / "tend.service"
    env = dict(tend.env, PATH="/usr/bin:/bin")
    r = subprocess.run([exe, "init"], env=env, capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    # the starter file's ports may be taken on this machine: a file of its own
    (cfg / "tend" / "tend.ini").write_text("[service s]\nexec = sleep 600\n")
    if not os.path.isdir("/run/systemd/system"):
        r = subprocess.run([exe, "enable", "--systemd", "--now"], env=env,
                           capture_output=True, text=True)
        assert r.returncode == 1 and "no systemd user manager" in r.stderr, r.stderr
        assert not unit.exists()
    r = subprocess.run([exe, "enable", "--systemd"], env=env, capture_output=True,
                       text=True)
    assert r.returncode == 0, r.stderr
    assert unit.is_file() and os.readlink(wants) == str(unit)
    # systemd-analyze verify: the user manager's view (it needs a runtime
    # directory), man:tend(1) and man:tend.ini(5) looked up in the staged pages
    run = tmp_path / "sd-run"
    run.mkdir(mode=0o700)
    r = subprocess.run(["systemd-analyze", "verify", "--user", str(unit)],
                       env=dict(env, XDG_RUNTIME_DIR=str(run),
                                MANPATH=str(installed(staged, "share/man"))),
                       capture_output=True, text=True, timeout=T_LONG)
    assert r.returncode == 0 and r.stdout == "" and r.stderr == "", r.stdout + r.stderr
    # ... and it does find fault with a broken one
    broken = tmp_path / "broken" / "tend.service"
    broken.parent.mkdir()
    broken.write_text(unit.read_text().replace(exe, "/nonexistent/tend"))
    r = subprocess.run(["systemd-analyze", "verify", "--user", "--man=no", str(broken)],
                       env=dict(env, XDG_RUNTIME_DIR=str(run)),
                       capture_output=True, text=True, timeout=T_LONG)
    assert r.returncode != 0 and "/nonexistent/tend" in r.stderr, r.stderr
    # ExecStart as the manager runs it: its Environment=, from the home dir
    assert unit_values(unit, "Type") == ["simple"]
    assert unit_values(unit, "KillMode") == ["mixed"]
    assert unit_values(unit, "WantedBy") == ["default.target"]
    uenv = {}
    for v in unit_values(unit, "Environment"):
        k, _, val = shlex.split(v)[0].partition("=")
        uenv[k] = val
    assert uenv["XDG_CONFIG_HOME"] == str(cfg)
    assert uenv["XDG_STATE_HOME"] == tend.env["XDG_STATE_HOME"]
    start = shlex.split(unit_values(unit, "ExecStart")[0])
    assert start == [exe, "-c", str(cfg / "tend" / "tend.ini"), "up"]
    denv = dict(uenv, XDG_RUNTIME_DIR=tend.env["XDG_RUNTIME_DIR"], HOME=str(tmp_path),
                TEND_E2E_TAG=tend.env["TEND_E2E_TAG"])
    daemon = subprocess.Popen(start, env=denv, cwd=str(tmp_path),
                              stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                              stderr=subprocess.DEVNULL)
    reaper.track(daemon)
    try:
        def up():
            t = default_status(tend, env)
            return t.rc == 0 and any(u["state"] == "running" for u in
                                     units_of(json.loads(t.stdout)))
        wait_until(up, T_LONG, what="the unit's daemon and its service")
        st = json.loads(default_status(tend, env).stdout)
        d = st["daemon"] if isinstance(st, dict) else st[0]
        assert d["pid"] == daemon.pid and d.get("default") is True
        reload = shlex.split(unit_values(unit, "ExecReload")[0])
        r = subprocess.run(reload, env=denv, capture_output=True, text=True,
                           timeout=T_LONG)
        assert r.returncode == 0, r.stderr
        daemon.send_signal(signal.SIGTERM)
        assert daemon.wait(T_LONG) == 0
    finally:
        if daemon.poll() is None:
            daemon.kill()
            daemon.wait()
    r = subprocess.run([exe, "disable"], env=env, capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    assert not unit.exists() and not os.path.lexists(wants)
