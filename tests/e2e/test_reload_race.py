"""Reloads that race a tree still stopping, and reloads that would empty
the configuration.

One unit name is one instance, always: a unit removed by a reload while
its tree is still stopping and added back by the next reload waits for
that tree to be gone, then starts with its notify socket and its held
sockets; an empty or truncated file (an editor that truncates, then
writes) is not a reason to stop everything.
"""
import socket

from conftest import BIN, PY, T_LONG, T_SHORT, alive, wait_until
from test_connect import connect, say
from test_sockets import ask as ask_addr, free_port

NOTIFY = BIN / "notify.py"
ACTIVATED = "%s %s" % (PY, BIN / "activated.py")

# A service slow to stop: its stop signal is ignored, so the tree lives
# on for stop-timeout, then is killed.
SLOW = "stop-signal = WINCH\nstop-timeout = 2s\n"


def ask(port, line="hi"):
    return ask_addr(("127.0.0.1", port), line)


def pids_of(p, name):
    """Every pid a `spawned` event gave for NAME, in order."""
    return [e["pid"] for e in p.events()
            if e["event"] == "spawned" and e["unit"] == name]


def test_remove_then_add_back_waits_for_the_old_tree(project, tmp_path):
    d = tmp_path / "n"
    d.mkdir()
    keep = "[service keep]\nexec = sleep 600\n\n"
    a = ("[service a]\nexec = %s %s %s --ready-after 0.2\nready = notify\n"
         "start-timeout = 5s\n%s" % (PY, NOTIFY, d, SLOW))
    p = project(keep + a)
    p.up()
    old = p.unit("a")["pid"]
    p.write(keep)
    p.ok("reload")
    assert alive(old)
    p.write(keep + a)
    t = p.ok("reload")
    # Still one instance: the old tree, stopping; no new run beside it.
    u = p.unit("a")
    assert u["state"] == "stopping" and u["pid"] == old, u
    assert pids_of(p, "a") == [old]
    wait_until(lambda: not alive(old), T_LONG, what="the old tree killed")
    u = p.wait_unit("a", state="running", timeout=T_LONG)
    assert u["pid"] != old
    assert pids_of(p, "a") == [old, u["pid"]]
    # Its READY=1 came through its own notify socket.
    bad = [e for e in p.events() if e["unit"] == "a" and
           (e["event"] == "warn" and "notify" in e["message"] or
            e.get("reason") == "timeout")]
    assert not bad, bad
    assert "a" in t.stdout


def test_remove_then_add_back_a_listen_service_takes_its_socket_over(project):
    port = free_port()
    svc = ("[service l]\nexec = %s\nlisten = tcp:127.0.0.1:%d\n%s"
           % (ACTIVATED, port, SLOW))
    p = project("[service keep]\nexec = sleep 600\n\n" + svc)
    p.up()
    first = ask(port)
    assert first.startswith("pid="), first
    old = p.unit("l")["pid"]
    p.write("[service keep]\nexec = sleep 600\n")
    p.ok("reload")
    p.write("[service keep]\nexec = sleep 600\n\n" + svc)
    t = p.run("reload")
    assert t.rc == 0, t.describe()
    wait_until(lambda: not alive(old), T_LONG, what="the old tree killed")
    again = ask(port)
    assert again.startswith("pid=") and not again.startswith(first.split()[0]), again
    assert len(pids_of(p, "l")) == 2


def test_removed_for_good_releases_its_address_once_its_tree_is_gone(project):
    port = free_port()
    p = project("[service keep]\nexec = sleep 600\n\n"
                "[service l]\nexec = %s\nlisten = tcp:127.0.0.1:%d\n%s"
                % (ACTIVATED, port, SLOW))
    p.up()
    ask(port)
    old = p.unit("l")["pid"]
    p.write("[service keep]\nexec = sleep 600\n")
    p.ok("reload")
    wait_until(lambda: not alive(old), T_LONG, what="the old tree killed")

    def bindable():
        s = socket.socket()
        try:
            s.bind(("127.0.0.1", port))
            s.listen()
            return True
        except OSError:
            return False
        finally:
            s.close()
    wait_until(bindable, T_SHORT, what="the address released")


def test_reload_of_an_empty_file_is_refused_unless_forced(project):
    p = project("[service a]\nexec = sleep 600\n\n[service b]\nexec = sleep 600\n")
    p.up()
    pids = {n: p.unit(n)["pid"] for n in ("a", "b")}
    for text in ("", "# being rewritten\n", "[tend]\n"):
        p.write(text)
        t = p.run("reload")
        assert t.rc == 2, t.describe()
        lines = t.stderr.strip().splitlines()
        assert len(lines) == 1, t.describe()
        assert "every unit" in lines[0] and "--force" in lines[0], lines
        assert str(p.ini) in lines[0], lines
        for n, pid in pids.items():
            assert p.unit(n)["pid"] == pid and alive(pid)
    # A SIGHUP reload is refused the same way, and says so in an event.
    p.ok("reload", "--force")
    wait_until(lambda: not alive(pids["a"]) and not alive(pids["b"]), T_LONG,
               what="every unit stopped")
    assert [u for u in p.status() if u.get("kind") != "daemon"] == []


def test_sighup_reload_of_an_empty_file_is_refused(project):
    import os
    import signal
    p = project("[service a]\nexec = sleep 600\n")
    p.up()
    pid = p.unit("a")["pid"]
    p.write("")
    os.kill(p.daemon_pid(), signal.SIGHUP)
    wait_until(lambda: [e for e in p.events() if e["event"] == "warn" and
                        "every unit" in e.get("message", "")],
               T_SHORT, what="the refusal")
    assert p.unit("a")["pid"] == pid and alive(pid)


def test_a_job_removed_during_its_run_says_so(project):
    p = project("[job j]\nexec = sleep 600\n\n[service keep]\nexec = sleep 600\n")
    p.up()
    w = p.start("run", "j", "--wait")
    wait_until(lambda: p.unit("j")["state"] == "running", T_SHORT,
               what="run 1")
    p.write("[service keep]\nexec = sleep 600\n")
    p.ok("reload")
    w.wait(T_LONG)
    assert w.rc == 1, w.describe()
    assert "before run 1" not in w.stderr, w.describe()
    assert "run 1" in w.stderr and "removed" in w.stderr, w.describe()


def test_a_connect_client_hears_its_service_was_removed(project, reaper):
    lines = "%s %s" % (PY, BIN / "lines.py")
    p = project("[service s]\nexec = %s\nstdio = exclusive\n\n"
                "[service keep]\nexec = sleep 600\n" % lines)
    p.up()
    c = connect(p, reaper, "s")
    assert "got=hello" in say(c, b"hello\n")
    p.write("[service keep]\nexec = sleep 600\n")
    p.ok("reload")
    out, err = c.communicate(timeout=T_LONG)
    err = err.decode()
    assert c.returncode != 0
    assert "removed" in err and "stdio setting" not in err, err
