"""The command line: help, version, usage errors, tend up."""
import os
import re
import signal
import time

import pytest

from conftest import (SH, T_LONG, T_SHORT, alive, comm, wait_until,
                      write_ini)


def one_error_line(t):
    lines = t.stderr_lines()
    assert len(lines) == 1, t.describe()
    assert lines[0].startswith("tend: "), t.describe()
    return lines[0]


def test_help(tend):
    for flag in ("--help", "-h"):
        t = tend.run(flag)
        assert t.rc == 0, t.describe()
        assert t.stdout.startswith("usage: tend"), t.stdout
        for cmd in ("up", "check", "exec"):
            assert re.search(r"^\s+%s\b" % cmd, t.stdout, re.M), t.stdout


def test_version(tend):
    for flag in ("--version", "-V"):
        t = tend.run(flag)
        assert t.rc == 0, t.describe()
        assert re.fullmatch(r"tend \d+\.\d+\.\d+\S*\n", t.stdout), t.stdout


@pytest.mark.parametrize("cmd", ["up", "check", "exec"])
def test_command_help(tend, cmd):
    t = tend.run(cmd, "--help")
    assert t.rc == 0, t.describe()
    assert t.stdout.startswith("usage: tend"), t.stdout
    assert re.search(r"\b%s\b" % cmd, t.stdout.splitlines()[0]), t.stdout


def test_exec_help_lists_every_service_key(tend):
    t = tend.run("exec", "--help")
    assert t.rc == 0
    for key in ("restart", "success-codes", "backoff", "max-crashes",
                "stable-after", "clean-restarts", "stop-signal",
                "stop-timeout", "cwd", "env", "memory-max", "health",
                "ready", "watchdog"):
        assert re.search(r"^\s+--%s\b" % key, t.stdout, re.M), key
    # Keys about clients are the daemon's: not offered, and refused.
    for key in ("listen", "listen-mode", "backend", "stdio", "max-instances",
                "queue-timeout", "idle-stop"):
        assert not re.search(r"^\s+--%s\b" % key, t.stdout, re.M), key


def test_exec_refuses_keys_about_clients(tend):
    t = tend.run("exec", "--listen", "tcp:127.0.0.1:9", "--", "true")
    assert t.rc == 2, t.describe()
    assert "--listen" in t.stderr and "tend.ini" in t.stderr, t.stderr
    assert len(t.stderr.strip().splitlines()) == 1, t.stderr


@pytest.mark.parametrize("args", [
    ["frobnicate"],
    ["--bogus"],
    ["-x", "check"],
    [],
    ["exec"],
    ["exec", "--"],
    ["exec", "--restart", "always"],
    ["exec", "--restart", "always", "--"],
    ["exec", "--no-such-flag", "1", "--", "/bin/true"],
    ["exec", "--restart"],
    ["exec", "--restart", "sometimes", "--", "/bin/true"],
    ["exec", "--exec", "/bin/true", "--", "/bin/true"],
    ["-c", "x.ini", "exec", "--", "/bin/true"],
    ["-c"],
    ["check", "extra"],
    ["up", "--bogus"],
], ids=lambda a: " ".join(a) or "(none)")
def test_bad_usage_exits_2(tend, args):
    t = tend.run(*args)
    assert t.rc == 2, t.describe()
    if args:  # bare `tend` prints the usage on stderr
        one_error_line(t)
    else:
        assert "usage: tend" in t.stderr


def test_exec_human_event_lines(tend):
    t = tend.run("exec", "--restart", "never", "--", SH, "-c", "exit 3")
    assert t.rc == 3, t.describe()
    lines = t.stderr_lines()
    assert re.fullmatch(r"tend: sh: spawned pid=\d+", lines[0]), lines
    assert any(re.fullmatch(r"tend: sh: exited reason=crash code=3 "
                            r"uptime_ms=\d+", l) for l in lines), lines


def test_exec_json_event_lines(tend):
    t = tend.run("exec", "--json", "--restart", "never", "--", SH, "-c",
                 "exit 3")
    assert t.rc == 3, t.describe()
    spawned = t.events("spawned")
    exited = t.events("exited")
    assert len(spawned) == 1 and len(exited) == 1, t.describe()
    for ev in spawned + exited:
        assert ev["unit"] == "sh"
        assert isinstance(ev["ts"], int) and ev["ts"] > 1e12
    assert isinstance(spawned[0]["pid"], int)
    assert exited[0]["reason"] == "crash" and exited[0]["code"] == 3
    assert "signal" in exited[0] and exited[0]["signal"] is None
    assert isinstance(exited[0]["uptime_ms"], int)


def test_exec_flag_equals_form(tend):
    t = tend.run("exec", "--json", "--restart=never",
                 "--success-codes=0 3", "--", SH, "-c", "exit 3")
    assert t.rc == 3, t.describe()
    assert [e["reason"] for e in t.events("exited")] == ["clean"]


def test_up_runs_boot_services_and_stops_on_sigterm(tend, tmp_path):
    pids = tmp_path / "pids"
    pids.mkdir()
    tend.reaper.track_dir(pids)
    ini = write_ini(tmp_path / "small.ini", f"""\
; two boot services, one on-demand service and a job
[service one]
exec = {SH} -c 'echo "$$ 0" > {pids}/one.pid; exec sleep 600'

[service two]
exec = {SH} -c 'echo "$$ 0" > {pids}/two.pid; exec sleep 600'

[service lazy]
exec = {SH} -c 'echo "$$ 0" > {pids}/lazy.pid; exec sleep 600'
start = on-demand

[job j]
exec = {SH} -c 'echo "$$ 0" > {pids}/job.pid'
""")
    t = tend.start("-c", str(ini), "up", "--json")
    spawned = t.wait_event("spawned", n=2)
    wait_until(lambda: (pids / "one.pid").exists()
               and (pids / "two.pid").exists(), what="both services")
    assert sorted(e["unit"] for e in spawned) == ["one", "two"]
    procs = [int((pids / f).read_text().split()[0])
             for f in ("one.pid", "two.pid")]
    assert all(alive(p) for p in procs)
    time.sleep(0.3)
    assert t.running(), t.describe()
    assert not (pids / "lazy.pid").exists()
    assert not (pids / "job.pid").exists()
    assert len(t.events("spawned")) == 2, t.describe()

    assert t.stop() == 0, t.describe()
    assert not [p for p in procs if alive(p)], t.describe()
    assert sorted(e["unit"] for e in t.events("stopped")) == ["one", "two"]


def test_up_stops_on_sigint(tend, tmp_path):
    ini = write_ini(tmp_path / "tend.ini", """\
[service s]
exec = sleep 600
""")
    t = tend.start("-c", str(ini), "up", "--json")
    pid = t.wait_event("spawned")[0]["pid"]
    t.kill(signal.SIGINT)
    assert t.wait() == 0, t.describe()
    assert not alive(pid)


def test_up_human_lines_name_the_unit(tend, tmp_path):
    ini = write_ini(tmp_path / "tend.ini", """\
[service web-1]
exec = sleep 600
""")
    t = tend.start("-c", str(ini), "up")
    wait_until(lambda: any(re.fullmatch(r"tend: web-1: spawned pid=\d+", l)
                           for l in t.stderr_lines()), what="spawned line")
    assert t.stop() == 0, t.describe()


def test_up_bad_config_exits_2(tend, tmp_path):
    ini = write_ini(tmp_path / "bad.ini", "[service s]\nrestart = always\n")
    t = tend.run("-c", str(ini), "up")
    assert t.rc == 2
    assert f"{ini}:1:" in one_error_line(t)


def test_up_labels_each_line_of_output_with_its_unit(tend, tmp_path):
    ini = write_ini(tmp_path / "tend.ini", f"""\
[service a]
exec = {SH} -c 'echo one; echo two >&2; printf partial; exec sleep 600'

[service longer-name]
exec = {SH} -c 'echo three; exec sleep 600'
""")
    t = tend.start("-c", str(ini), "up", "--json")
    t.wait_event("spawned", n=2)
    wait_until(lambda: "longer-name | three" in t.stdout
               and "two" in t.stdout, what="labelled lines")
    assert t.stop() == 0, t.describe()
    lines = t.stdout.splitlines()
    # names padded to the longest; stderr merged; the unfinished last line
    # is written when tend stops
    assert "a           | one" in lines, lines
    assert "a           | two" in lines, lines
    assert "longer-name | three" in lines, lines
    assert "a           | partial" in lines, lines


def test_exec_output_is_not_labelled(tend):
    t = tend.run("exec", "--json", "--restart", "never", "--", SH, "-c",
                 "echo plain; echo err >&2")
    assert t.rc == 0, t.describe()
    assert t.stdout == "plain\n"
    assert "err" in t.stderr


def test_up_keeps_supervising_when_nobody_reads_its_stdout(tend, tmp_path):
    """A full stdout (a paused pager) drops lines; it never stalls the loop:
    a crashing service is still restarted and SIGTERM still stops all."""
    ini = write_ini(tmp_path / "tend.ini", f"""\
[service chatty]
exec = {SH} -c 'while :; do echo xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx; done'

[service crashy]
exec = {SH} -c 'sleep 0.2; exit 1'
backoff = 0
max-crashes = 1000/1h
""")
    r, w = os.pipe()
    try:
        with os.fdopen(w, "wb") as wf:
            t = tend.start("-c", str(ini), "up", "--json", stdout=wf)
        # the pipe (64 KiB) fills at once; restarts must go on regardless
        t.wait_event("spawned", n=12, timeout=T_LONG)
        assert t.running(), t.describe()
        # reading again: the loss is reported, then lines flow
        data = b""
        deadline = time.monotonic() + T_SHORT
        while b"lines dropped" not in data and time.monotonic() < deadline:
            data += os.read(r, 65536)
        assert b"chatty | [tend: " in data and b"lines dropped" in data
        assert t.stop() == 0, t.describe()
    finally:
        os.close(r)


def closed_fd_wrapper(fd):
    """Runs the wrapped command with descriptor FD closed."""
    return [SH, "-c", 'exec "$@" %d>&-' % fd, "sh"]


@pytest.mark.parametrize("fd", [0, 1, 2])
def test_exec_with_a_closed_std_fd_gives_the_command_dev_null(tend, fd):
    """A tend started with stdin, stdout or stderr closed puts /dev/null
    there first: nothing of tend's own (its epoll, a pipe, a socket) may
    land on 0-2 and be handed down to the command, or leave it closed."""
    t = tend.start_wrapped(closed_fd_wrapper(fd), "exec", "--", "sleep", "600")

    def sleeper():
        return [p for p in tend.reaper.tagged() if comm(p) == "sleep"]
    pid = wait_until(sleeper, what="the command to start")[0]
    assert os.readlink("/proc/%d/fd/%d" % (pid, fd)) == "/dev/null"
    assert os.readlink("/proc/%d/fd/%d" % (t.pid, fd)) == "/dev/null"
    # the command's own end: SIGTERM
    assert t.stop() == 128 + signal.SIGTERM, t.describe()


def test_up_with_stdin_closed_gives_services_dev_null(tend, tmp_path):
    ini = write_ini(tmp_path / "tend.ini", "[service a]\nexec = sleep 600\n")
    t = tend.start_wrapped(closed_fd_wrapper(0), "-c", str(ini), "up",
                           "--json")
    pid = t.wait_event("spawned")[0]["pid"]
    assert os.readlink("/proc/%d/fd/0" % pid) == "/dev/null"
    assert t.stop() == 0, t.describe()
