"""One daemon per user and file, whatever the caller's environment.

MCP clients start their stdio servers with a trimmed environment (the
TypeScript SDK passes HOME, LOGNAME, PATH, SHELL, TERM and USER only): no
XDG_RUNTIME_DIR.  Such a `tend connect` must reach the daemon the user's
shell started, where systemd's login manager set XDG_RUNTIME_DIR to
/run/user/UID.  The rule (src/base/paths.h, docs/security.md): XDG_RUNTIME_DIR,
else /run/user/UID when it is the user's own directory with mode 0700, else
/tmp/tend-UID.

The machine's own /run/user is never touched: each test runs its tend
commands in a private mount namespace (unshare -m; -r too when not root)
over a fresh tmpfs on /run/user, in which /run/user/UID is made as the
login manager makes it.  The daemon's pid is read from its lock file and
the reaper stops it by pid whatever happens.
"""
import json
import os
import shutil
import subprocess
import sys
import textwrap

import pytest

from conftest import BIN, PY, T_LONG, TEND_BIN, alive, q, wait_until, write_ini

# The environment an MCP SDK gives the servers it starts.
SDK_VARS = ("HOME", "LOGNAME", "PATH", "SHELL", "TERM", "USER")

DRIVER = textwrap.dedent(r'''
    import json, os, subprocess, sys
    tend, ini, mode, home, tag = sys.argv[1:6]
    uid = os.getuid()
    run = "/run/user/%d" % uid
    os.makedirs(run, exist_ok=True)
    os.chmod(run, int(mode, 8))
    base = {"HOME": home, "LOGNAME": "u", "PATH": os.environ["PATH"],
            "SHELL": "/bin/sh", "TERM": "dumb", "USER": "u"}
    # The shell of a login session: XDG_RUNTIME_DIR set by the login manager.
    shell = dict(base, XDG_RUNTIME_DIR=run, TEND_E2E_TAG=tag)
    # An MCP client's child: the SDK's default environment, nothing else
    # (the tag only lets the test's reaper find what it may start).
    client = dict(base, TEND_E2E_TAG=tag)
    out = {}
    def tend_run(env, *args, stdin=None):
        p = subprocess.run([tend, "-c", ini] + list(args), env=env,
                           input=stdin, capture_output=True, timeout=60)
        return p.returncode, p.stdout.decode(), p.stderr.decode()
    out["up"] = tend_run(shell, "up", "-d")
    if out["up"][0] != 0:
        print(json.dumps(out))
        sys.exit(0)
    out["run_ls"] = sorted(os.listdir(run + "/tend")) if os.path.isdir(run + "/tend") else []
    out["status_shell"] = tend_run(shell, "status", "--json")
    out["status_client"] = tend_run(client, "status", "--json")
    init = json.dumps({"jsonrpc": "2.0", "id": 1, "method": "initialize",
                       "params": {"protocolVersion": "2025-06-18",
                                  "capabilities": {},
                                  "clientInfo": {"name": "t", "version": "1"}}})
    out["connect"] = tend_run(client, "connect", "svc",
                              stdin=(init + "\n").encode())
    out["status_after"] = tend_run(shell, "status", "--json")
    out["tmp_ls"] = sorted(os.listdir("/tmp/tend-%d" % uid)) if os.path.isdir("/tmp/tend-%d" % uid) else []
    out["down"] = tend_run(client, "down")
    print(json.dumps(out))
''')


def in_namespace(tmp_path, reaper, mode):
    """Runs DRIVER in a private mount namespace with a fresh /run/user;
    returns what it printed (a dict of each step's rc, stdout, stderr)."""
    if not shutil.which("unshare"):
        pytest.skip("unshare (util-linux) is not installed")
    flags = ["-m", "--propagation", "private"] + ([] if os.getuid() == 0 else ["-r"])
    probe = subprocess.run(["unshare"] + flags + ["true"], capture_output=True)
    if probe.returncode != 0:
        pytest.skip("no mount namespace here: %s" % probe.stderr.decode().strip())
    ini = write_ini(tmp_path / "proj" / "tend.ini",
                    "[service svc]\nexec = %s %s\nstdio = mcp\nenv = MCP_PIDDIR=%s\n"
                    % (PY, q(BIN / "mcp_server.py"), q(tmp_path / "pids")))
    (tmp_path / "pids").mkdir()
    reaper.track_dir(tmp_path / "pids")
    home = tmp_path / "home"
    home.mkdir()
    driver = tmp_path / "driver.py"
    driver.write_text(DRIVER)
    script = ("mount -t tmpfs -o mode=0755 tmpfs /run/user && exec %s %s %s %s %s %s %s"
              % (PY, q(driver), q(TEND_BIN), q(ini), mode, q(home), reaper.tag))
    p = subprocess.run(["unshare"] + flags + ["sh", "-c", script],
                       capture_output=True, timeout=T_LONG * 3)
    assert p.returncode == 0, p.stderr.decode()
    return json.loads(p.stdout.decode().strip().splitlines()[-1])


def daemon_pid(status):
    rc, out, err = status
    assert rc == 0, err
    data = json.loads(out)
    assert data["daemon"]["kind"] == "daemon", data
    return data["daemon"]["pid"]


def test_trimmed_client_reaches_the_daemon_of_the_login_shell(tmp_path, reaper):
    """The shell's daemon lives in /run/user/UID/tend; a client with the
    SDK's default environment finds it there: one daemon, one server."""
    out = in_namespace(tmp_path, reaper, "0700")
    assert out["up"][0] == 0, out["up"]
    assert any(f.endswith(".sock") for f in out["run_ls"]), out["run_ls"]
    pid = daemon_pid(out["status_shell"])
    reaper.track_pid(pid)
    assert daemon_pid(out["status_client"]) == pid
    rc, answer, err = out["connect"]
    assert rc == 0, err
    reply = json.loads(answer.splitlines()[0])
    assert reply["id"] == 1 and "result" in reply, answer
    assert daemon_pid(out["status_after"]) == pid
    # No second daemon in the fallback directory.
    assert not [f for f in out["tmp_ls"] if f.startswith("proj-")], out["tmp_ls"]
    # One server process was ever started (the fake server writes a pid file).
    servers = [f for f in os.listdir(tmp_path / "pids") if f.startswith("server-")]
    assert len(servers) == 1, servers
    assert out["down"][0] == 0, out["down"]
    wait_until(lambda: not alive(pid), what="the daemon to exit")
