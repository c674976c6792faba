"""env-file = PATH ...: dotenv files read into a unit's environment.

What a file gives is read back from the running process's own environment
(/proc/PID/environ), never from what tend says about it."""
import time

from conftest import T_SHORT, wait_until

DOTENV = r"""# a comment, then a blank line

export EXPORTED=yes
PLAIN = two words   # a comment after a blank
HASH=a#b
SINGLE='literal $OUTER \n "q"'
DOUBLE="tab\tnl\nquote\" dollar\$ ${OUTER} $PLAIN"
EXPANDED=${PLAIN}-${NOPE:-fallback}-${OUTER}
MULTI="line one
line two"
OVERRIDDEN=from-file
LATER=first
"""


def environ(pid):
    """{KEY: VALUE} of the process PID, as the kernel holds it."""
    with open("/proc/%d/environ" % pid, "rb") as f:
        raw = f.read()
    out = {}
    for entry in raw.split(b"\0"):
        if entry:
            k, _, v = entry.decode().partition("=")
            out[k] = v
    return out


def running_pid(p, name):
    return p.wait_unit(name, state="running")["pid"]


def test_env_file_reaches_the_process(project, tmp_path):
    p = project("""\
[service web]
env = OVERRIDDEN=from-env
env-file = .env -missing.env
env-file = conf/later.env
exec = /bin/sleep 600
""")
    (p.ini.parent / ".env").write_text(DOTENV)
    (p.ini.parent / "conf").mkdir()
    (p.ini.parent / "conf" / "later.env").write_text("LATER=second\n")
    p.env["OUTER"] = "from-tend"
    p.up()
    env = environ(running_pid(p, "web"))
    want = {
        "EXPORTED": "yes",
        "PLAIN": "two words",
        "HASH": "a#b",
        "SINGLE": 'literal $OUTER \\n "q"',
        "DOUBLE": 'tab\tnl\nquote" dollar$ from-tend two words',
        "EXPANDED": "two words-fallback-from-tend",
        "MULTI": "line one\nline two",
        "OVERRIDDEN": "from-env",     # env wins over env-file
        "LATER": "second",            # a later file wins
        "OUTER": "from-tend",         # tend's own environment, as ever
    }
    for k, v in want.items():
        assert env.get(k) == v, (k, env.get(k), v)
    assert "NOPE" not in env


def test_exec_sees_env_file_variables(tend, tmp_path):
    """${VAR} of exec below the env-file line is the file's value."""
    d = tmp_path / "proj"
    d.mkdir()
    (d / "vars.env").write_text("GREETING='hello there'\n")
    ini = d / "tend.ini"
    ini.write_text("[service s]\nenv-file = vars.env\nexec = /bin/echo ${GREETING}\n")
    t = tend.run("-c", str(ini), "check")
    assert t.rc == 0, t.describe()
    assert "\nexec = /bin/echo 'hello there'\n" in t.stdout, t.stdout
    assert "\nenv-file = %s/vars.env\n" % d in t.stdout, t.stdout
    assert "\n; env-file gives: GREETING\n" in t.stdout, t.stdout


def test_missing_env_file_is_an_error_with_its_line(tend, tmp_path):
    ini = tmp_path / "tend.ini"
    ini.write_text("[service s]\nexec = /bin/true\nenv-file = -optional.env\n"
                   "env-file = required.env\n")
    for cmd in ("check", "up"):
        t = tend.run("-c", str(ini), cmd)
        assert t.rc == 2, t.describe()
        lines = t.stderr_lines()
        assert lines == [
            "tend: %s:4: env-file = required.env: %s/required.env: No such "
            "file or directory; create it, or write -PATH for a file that may "
            "be missing" % (ini, tmp_path)], t.describe()
    # -PATH alone is fine
    ini.write_text("[service s]\nexec = /bin/true\nenv-file = -optional.env\n")
    t = tend.run("-c", str(ini), "check")
    assert t.rc == 0, t.describe()


def test_env_file_syntax_error_names_both_lines(tend, tmp_path):
    ini = tmp_path / "tend.ini"
    (tmp_path / "bad.env").write_text("A=1\n\nB=\"never closed\nC=3\n")
    ini.write_text("[service s]\nexec = /bin/true\n\nenv-file = bad.env\n")
    t = tend.run("-c", str(ini), "check")
    assert t.rc == 2, t.describe()
    assert t.stderr_lines() == [
        'tend: %s/bad.env:3: unterminated double quote in "B="never closed"; '
        'close it with " (read for env-file = bad.env at %s:4)'
        % (tmp_path, ini)], t.describe()


def test_a_fifo_is_refused_not_waited_on(tend, tmp_path):
    import os
    os.mkfifo(tmp_path / "fifo.env")
    ini = tmp_path / "tend.ini"
    ini.write_text("[service s]\nexec = /bin/true\nenv-file = fifo.env\n")
    t = tend.run("-c", str(ini), "check", timeout=T_SHORT)
    assert t.rc == 2, t.describe()
    assert "fifo.env: not a regular file" in t.stderr, t.describe()


def test_reload_reads_env_files_again(project):
    """A changed .env restarts its unit with the new value; an unchanged one
    keeps the unit running; a broken one fails the reload and changes
    nothing."""
    p = project("""\
[service uses]
env-file = app.env
exec = /bin/sleep 600

[service other]
exec = /bin/sleep 601
""")
    envfile = p.ini.parent / "app.env"
    envfile.write_text("VERSION=1\n")
    p.up()
    pid1 = running_pid(p, "uses")
    other = running_pid(p, "other")
    assert environ(pid1)["VERSION"] == "1"

    # nothing changed: nothing restarts
    p.ok("reload")
    time.sleep(0.3)
    assert p.unit("uses")["pid"] == pid1

    envfile.write_text("# bumped\nVERSION=\"2\"\n")
    t = p.ok("reload")
    pid2 = wait_until(lambda: p.unit("uses").get("pid") not in (None, pid1)
                      and p.unit("uses")["pid"], what="a new pid of uses")
    p.wait_unit("uses", state="running")
    assert environ(pid2)["VERSION"] == "2"
    assert p.unit("other")["pid"] == other, "an unrelated unit was restarted"
    ev = [e for e in p.events() if e["event"] == "reload"]
    assert ev[-1]["changed"] == ["uses"], ev

    # a broken file: the reload fails with its line, the unit keeps running
    envfile.write_text("VERSION='3\n")
    t = p.run("reload")
    assert t.rc == 2, t.describe()
    assert "%s:1: unterminated single quote" % envfile in t.stderr, t.describe()
    time.sleep(0.3)
    assert p.unit("uses")["pid"] == pid2
    assert environ(pid2)["VERSION"] == "2"
