"""tend.ini: errors, tend check, config lookup, and how exec lines are split.

Exec lines are verified by running them (tend up / tend exec) with
bin/argv_dump.py, which writes the argv it got to a file: never through a
shell, so `;`, `$(...)`, backticks and `*` must arrive as plain text."""
import json
import os
import re
import time

import pytest

from conftest import ARGV_DUMP, PY, T_SHORT, q, wait_until, write_ini

HEAD = "; tend.ini for an e2e test\n# second comment line\n\n"


def one_error_line(t):
    lines = t.stderr_lines()
    assert len(lines) == 1, "expected one error line\n" + t.describe()
    assert lines[0].startswith("tend: "), t.describe()
    assert "\n" not in t.stderr.rstrip("\n"), t.describe()
    return lines[0]


def check(tend, ini, **kw):
    return tend.run("-c", str(ini), "check", **kw)


# --- errors ------------------------------------------------------------------

SVC = "[service web]\nexec = /bin/true\n"

# (id, text after HEAD, line of the error counted in the whole file)
BAD = [
    ("unknown-section", "[tend]\n[frobs]\n", 5),
    ("unknown-section-kind", "[services web]\nexec = /bin/true\n", 4),
    ("bad-unit-name", "[service we b]\nexec = /bin/true\n", 4),
    ("empty-unit-name", "[service ]\nexec = /bin/true\n", 4),
    ("unknown-key", SVC + "restrat = always\n", 6),
    ("unknown-key-tend", "[tend]\nfoo = 1\n", 5),
    ("entry-before-section", "exec = /bin/true\n" + SVC, 4),
    ("size-unit", SVC + "memory-max = 12Q\n", 6),
    ("size-negative", SVC + "memory-max = -5M\n", 6),
    ("size-word", SVC + "memory-max = lots\n", 6),
    ("size-tend", "[tend]\nlog-max = 10 M B\n", 5),
    ("duration-unit", SVC + "stop-timeout = 10x\n", 6),
    ("duration-no-unit", SVC + "stop-timeout = 10\n", 6),
    ("duration-empty", SVC + "stable-after =\n", 6),
    ("duration-word", SVC + "idle-stop = soon\n", 6),
    ("duration-tend", "[tend]\nmemory-interval = 2 parsecs\n", 5),
    ("signal-name", SVC + "stop-signal = FOO\n", 6),
    ("signal-number", SVC + "stop-signal = 99\n", 6),
    ("signal-zero", SVC + "stop-signal = 0\n", 6),
    ("rate-no-window", SVC + "max-crashes = 5\n", 6),
    ("rate-zero-n", SVC + "max-crashes = 0/1m\n", 6),
    ("rate-bad-n", SVC + "max-crashes = x/1m\n", 6),
    ("rate-zero-window", SVC + "max-crashes = 5/0\n", 6),
    ("rate-bad-window", SVC + "clean-restarts = 5/forever\n", 6),
    ("range-reversed", SVC + "backoff = 1s..100ms\n", 6),
    ("range-single", SVC + "backoff = 1s\n", 6),
    ("range-open", SVC + "backoff = 1s..\n", 6),
    ("range-bad", SVC + "backoff = a..b\n", 6),
    ("enum-restart", SVC + "restart = sometimes\n", 6),
    ("enum-start", SVC + "start = later\n", 6),
    ("enum-stdio", SVC + "stdio = loud\n", 6),
    ("enum-ready", SVC + "ready = maybe\n", 6),
    ("enum-case", SVC + "restart = Always\n", 6),
    ("uint-zero", SVC + "health-strikes = 0\n", 6),
    ("uint-word", SVC + "max-instances = many\n", 6),
    ("uint-tend", "[tend]\nmax-jobs = 0\n", 5),
    ("percent", SVC + "memory-warn = 150%\n", 6),
    ("success-code-range", SVC + "success-codes = 0 256\n", 6),
    ("success-code-word", SVC + "success-codes = ok\n", 6),
    ("probe", SVC + "health = ftp://x\n", 6),
    ("listen", SVC + "listen = 127.0.0.1:80\n", 6),
    ("probe-host-name", SVC + "health = http://example.com:80/\n", 6),
    ("probe-port", SVC + "health = tcp:127.0.0.1:0\n", 6),
    ("probe-empty-exec", SVC + "health = exec:\n", 6),
    ("listen-relative-unix", SVC + "listen = unix:x.sock\n", 6),
    ("backend-host-name", SVC + "listen = tcp:127.0.0.1:80\nbackend = tcp:db:5432\n", 7),
    ("env-not-kv", SVC + "env = NOVALUE\n", 6),
    ("unterminated-dq", "[service web]\nexec = /bin/echo \"abc\n", 5),
    ("unterminated-sq", "[service web]\nexec = /bin/echo 'abc\n", 5),
    ("unterminated-sq-env", SVC + "env = A='x\n", 6),
    ("bad-var", "[service web]\nexec = /bin/echo ${1abc}\n", 5),
    ("unclosed-var", "[service web]\nexec = /bin/echo ${HOME\n", 5),
    ("command-substitution", "[service web]\nexec = /bin/echo $(id)\n", 5),
    ("empty-exec", "[service web]\nexec =\n", 5),
    ("duplicate-name", SVC + "\n[service web]\nexec = /bin/true\n", 7),
    ("duplicate-name-job", SVC + "\n[job web]\nexec = /bin/true\n", 7),
    ("duplicate-tend", "[tend]\n[tend]\n", 5),
    ("duplicate-key", SVC + "restart = always\nrestart = never\n", 7),
    ("duplicate-exec", SVC + "exec = /bin/false\n", 6),
    ("missing-exec", "[tend]\n\n[service web]\nrestart = always\n", 6),
    ("missing-exec-job", "[job j]\ntimeout = 1m\n", 4),
    ("job-key-in-service", SVC + "timeout = 1m\n", 6),
    ("service-key-in-job", "[job j]\nexec = /bin/true\nrestart = always\n", 6),
    ("unit-key-in-tend", "[tend]\nexec = /bin/true\n", 5),
    ("tend-key-in-service", SVC + "log-max = 1M\n", 6),
    ("share-bad", SVC + "stdio = mcp\nshare = some\n", 7),
    ("connect-flag-in-file", SVC + "stdio = mcp\nenv-ignore = TERM*\n", 7),
]


@pytest.mark.parametrize("text,line", [(t, l) for _, t, l in BAD],
                         ids=[i for i, _, _ in BAD])
def test_bad_config_one_line_naming_file_and_line(tend, tmp_path, text, line):
    ini = write_ini(tmp_path / "conf" / "bad.ini", HEAD + text)
    t = check(tend, ini)
    assert t.rc == 2, t.describe()
    assert t.stdout == "", t.stdout
    err = one_error_line(t)
    assert f"{ini}:{line}:" in err, err


def test_bad_config_also_refused_by_up(tend, tmp_path):
    ini = write_ini(tmp_path / "bad.ini", HEAD + SVC + "backoff = 1s\n")
    t = tend.run("-c", str(ini), "up")
    assert t.rc == 2, t.describe()
    assert f"{ini}:6:" in one_error_line(t)


def test_error_quoting_raw_bytes_is_one_clean_line(tend, tmp_path):
    """A value holding an escape sequence, a C1 control, a carriage return
    and bytes that are not UTF-8 is quoted in the error with each of them
    as '?': the terminal gets one line of valid UTF-8, no escape."""
    ini = tmp_path / "raw.ini"
    ini.write_bytes(HEAD.encode() + SVC.encode() +
                    b"start = on-\x1b[31mdemand\xc2\x9b\xff\rx\xc3\xa9\n")
    t = check(tend, ini)
    assert t.rc == 2, t.describe()
    raw = t.err_path.read_bytes()
    assert raw.count(b"\n") == 1 and raw.endswith(b"\n"), raw
    line = raw.decode("utf-8")   # valid UTF-8, or this raises
    assert not any(ord(c) < 0x20 or 0x7f <= ord(c) < 0xa0 for c in line[:-1]), raw
    assert "start = on-?[31mdemand???x\u00e9" in line, line
    assert f"{ini}:6:" in line, line


def test_addresses_are_ip_literals(tend, tmp_path):
    ini = write_ini(tmp_path / "a.ini", HEAD + SVC + "health = tcp:example.com:80\n")
    t = check(tend, ini)
    assert t.rc == 2, t.describe()
    err = one_error_line(t)
    assert "never resolves names" in err and "write an IP address" in err, err


def test_missing_file(tend, tmp_path):
    ini = tmp_path / "nowhere" / "tend.ini"
    t = check(tend, ini)
    assert t.rc == 2, t.describe()
    assert str(ini) in one_error_line(t)


def test_unreadable_path_is_one_line(tend, tmp_path):
    t = check(tend, tmp_path)  # a directory
    assert t.rc == 2, t.describe()
    assert str(tmp_path) in one_error_line(t)


@pytest.mark.parametrize("flag,value", [
    ("memory-max", "12Q"),
    ("stop-timeout", "10x"),
    ("stop-signal", "FOO"),
    ("max-crashes", "5"),
    ("clean-restarts", "0/1m"),
    ("backoff", "1s..100ms"),
    ("restart", "sometimes"),
    ("success-codes", "256"),
    ("health-strikes", "0"),
    ("timeout", "1m"),  # a job key: not a flag of tend exec
])
def test_bad_exec_flag_one_line(tend, flag, value):
    t = tend.run("exec", "--" + flag, value, "--", "/bin/true")
    assert t.rc == 2, t.describe()
    err = one_error_line(t)
    assert flag in err, err
    assert t.events("spawned") == [] and "spawned" not in t.stderr


# --- every error at once, did you mean, other supervisors' spellings -------

def error_lines(t, ini):
    """The error lines of T, each "tend: INI:LINE: ..."; {LINE: text}."""
    lines = t.stderr_lines()
    out = {}
    for line in lines:
        m = re.match(r"tend: (?:reload: )?" + re.escape(str(ini)) +
                     r":(\d+): (.*)$", line)
        assert m, "not an error line of %s: %r\n%s" % (ini, line, t.describe())
        out[int(m.group(1))] = m.group(2)
    assert len(out) == len(lines), t.describe()
    return out


THREE_ERRORS = """\
[service web]
exec = /bin/true
memory_max = 1G
restart = on-failur

[service api]
restart = always
"""


@pytest.mark.parametrize("cmd", ["check", "up"])
def test_every_error_of_a_file_at_once(tend, tmp_path, cmd):
    """Three errors: three lines, in the order of the file, each with its
    file:line, what and what to do; exit 2 as for one error."""
    ini = write_ini(tmp_path / "three.ini", THREE_ERRORS)
    t = tend.run("-c", str(ini), cmd)
    assert t.rc == 2, t.describe()
    assert t.stdout == "", t.stdout
    errs = error_lines(t, ini)
    assert list(errs) == [3, 4, 6], t.describe()
    assert errs[3] == ('unknown key "memory_max" in [service web]; did you '
                       'mean memory-max?'), errs
    assert errs[4] == ("restart = on-failur: expected on-failure | always | "
                       "never; did you mean on-failure?"), errs
    assert errs[6] == "[service api] has no exec; add exec = COMMAND", errs


def test_errors_are_bounded(tend, tmp_path):
    ini = write_ini(tmp_path / "many.ini", "[service x]\nexec = /bin/true\n" +
                    "".join("key%d = 1\n" % i for i in range(25)))
    t = check(tend, ini)
    assert t.rc == 2, t.describe()
    lines = t.stderr_lines()
    assert len(lines) == 21, t.describe()
    assert lines[0].startswith("tend: %s:3: " % ini), lines[0]
    assert lines[19].startswith("tend: %s:22: " % ini), lines[19]
    assert lines[20] == "tend: %s: and 5 more errors" % ini, lines[20]


@pytest.mark.parametrize("text,line,want", [
    (SVC + "memorymax = 1G\n", 3, 'did you mean memory-max?'),
    (SVC + "restrat = always\n", 3, 'did you mean restart?'),
    (SVC + "stop_timeout = 5s\n", 3, 'did you mean stop-timeout?'),
    (SVC + "start = ondemand\n", 3, 'did you mean on-demand?'),
    ("[tend]\nmax_jobs = 2\n", 2, 'did you mean max-jobs?'),
    ("[sevice web]\nexec = /bin/true\n", 1, 'did you mean [service web]?'),
    (SVC + "frobnicate = 1\n", 3, 'docs/config.md lists the keys'),
], ids=["memorymax", "restrat", "stop_timeout", "ondemand", "max_jobs",
        "sevice", "nothing-near"])
def test_typos_get_did_you_mean(tend, tmp_path, text, line, want):
    ini = write_ini(tmp_path / "typo.ini", text)
    t = check(tend, ini)
    assert t.rc == 2, t.describe()
    errs = error_lines(t, ini)
    assert list(errs) == [line], t.describe()
    assert errs[line].endswith("; " + want), errs


SUPERVISORD = """\
[supervisord]
logfile = /tmp/supervisord.log

[program:web]
command = /usr/bin/web --port 8000
directory = /srv/web
autorestart = true
startsecs = 5
environment = A="1",B="2"
stopwaitsecs = 10
"""

SYSTEMD = """\
[Unit]
Description = the web service

[Service]
ExecStart = /usr/bin/web --port 8000
Restart = on-failure
RestartSec = 5
MemoryMax = 1G
WorkingDirectory = /srv/web
Environment = A=1
EnvironmentFile = -/etc/web.env

[Install]
WantedBy = default.target
"""


def test_supervisord_file_gets_hints(tend, tmp_path):
    ini = write_ini(tmp_path / "supervisord.conf", SUPERVISORD)
    t = check(tend, ini)
    assert t.rc == 2, t.describe()
    errs = error_lines(t, ini)
    assert list(errs) == [1, 4, 5, 6, 7, 8, 9, 10], t.describe()
    assert errs[1] == ("unknown section [supervisord]; supervisord's "
                       "[supervisord]: the daemon's settings go in [tend]")
    assert errs[4] == ("unknown section [program:web]; supervisord's "
                       "[program:web]: write [service web]")
    want = {5: "command: write exec = COMMAND", 6: "directory: write cwd = DIR",
            7: "autorestart: write restart = always (true)",
            8: "startsecs: write stable-after = DURATION",
            9: "environment: write env = KEY=VALUE KEY2=VALUE2",
            10: "stopwaitsecs: write stop-timeout = 10s"}
    for line, text in want.items():
        assert "in [program:web]; supervisord's " + text in errs[line], errs[line]


def test_systemd_unit_gets_hints(tend, tmp_path):
    ini = write_ini(tmp_path / "web.service", SYSTEMD)
    t = check(tend, ini)
    assert t.rc == 2, t.describe()
    errs = error_lines(t, ini)
    assert list(errs) == [1, 4, 5, 6, 7, 8, 9, 10, 11, 13], t.describe()
    assert errs[1].startswith("unknown section [Unit]; systemd's [Unit]: "
                              "tend has no [Unit]"), errs[1]
    assert errs[4] == ("unknown section [Service]; systemd's [Service]: write "
                       "[service NAME], the unit's name after the word")
    want = {5: "ExecStart=: write exec = COMMAND",
            6: "Restart=: write restart = always, on-failure or never",
            7: "RestartSec=: write backoff = MIN..MAX",
            8: "MemoryMax=: write memory-max = SIZE",
            9: "WorkingDirectory=: write cwd = DIR",
            10: "Environment=: write env = KEY=VALUE",
            11: "EnvironmentFile=: write env-file = PATH (-PATH: optional"}
    for line, text in want.items():
        assert "in [Service]; systemd's " + text in errs[line], errs[line]
    assert errs[13].startswith("unknown section [Install]"), errs[13]


def test_reload_with_errors_reports_all_and_changes_nothing(project):
    p = project("[service web]\nexec = /bin/sleep 600\n")
    p.up()
    pid = p.wait_unit("web", state="running")["pid"]
    p.write("[service web]\nexec = /bin/sleep 601\nrestrat = always\n"
            "memory_max = 1G\n[job j]\ntimeout = 1m\n")
    t = p.run("reload")
    assert t.rc == 2, t.describe()
    errs = error_lines(t, p.ini)
    assert list(errs) == [3, 4, 5], t.describe()
    assert errs[3].endswith("did you mean restart?"), errs
    assert errs[4].endswith("did you mean memory-max?"), errs
    assert errs[5].startswith("[job j] has no exec"), errs
    assert errs[5].endswith("; the running settings stay"), errs
    assert t.stderr_lines()[0].startswith("tend: reload: "), t.describe()
    time.sleep(0.3)
    u = p.unit("web")
    assert u["pid"] == pid and u["state"] == "running", u
    assert [n["name"] for n in p.status()] == ["web"]


# --- tend check -------------------------------------------------------------

def parse_ini(text):
    """{section: {key: value}} of tend check's output (comments dropped)."""
    out, cur = {}, None
    for line in text.splitlines():
        s = line.strip()
        if not s or s[0] in ";#":
            continue
        m = re.fullmatch(r"\[(.*)\]", s)
        if m:
            cur = out.setdefault(m.group(1), {})
            continue
        k, _, v = s.partition("=")
        cur.setdefault(k.strip(), []).append(v.strip())
    return {s: {k: v[0] if len(v) == 1 else v for k, v in d.items()}
            for s, d in out.items()}


def test_check_prints_defaults(tend, tmp_path):
    ini = write_ini(tmp_path / "tend.ini",
                    "[service web]\nexec = /bin/true\n\n[job j]\nexec = /bin/true\n")
    t = check(tend, ini)
    assert t.rc == 0, t.describe()
    assert t.stderr == ""
    cfg = parse_ini(t.stdout)
    assert cfg["tend"]["log-max"] == "10M"
    assert cfg["tend"]["memory-interval"] == "2s"
    web = cfg["service web"]
    expected = {
        "exec": "/bin/true",
        "start": "boot",
        "restart": "on-failure",
        "success-codes": "0",
        "backoff": "100ms..30s",
        "max-crashes": "5/5m",
        "stable-after": "1m",
        "clean-restarts": "10/1m",
        "stop-signal": "TERM",
        "stop-timeout": "10s",
        "memory-warn": "80%",
        "health-interval": "10s",
        "health-timeout": "5s",
        "health-strikes": "3",
        "health-grace": "30s",
        "ready": "none",
        "stdio": "none",
        "max-instances": "8",
        "debounce": "300ms",
        "on-change": "restart",
    }
    for k, v in expected.items():
        assert web.get(k) == v, (k, web.get(k), t.stdout)
    job = cfg["job j"]
    assert job["exec"] == "/bin/true"
    assert job["max-failures"] == "3"
    assert job["cooldown"] == "1m"
    assert job["stop-timeout"] == "10s"
    for k in ("restart", "backoff", "start"):
        assert k not in job, (k, t.stdout)


def test_check_derived_defaults(tend, tmp_path):
    ini = write_ini(tmp_path / "tend.ini", """\
[service proxied]
exec = /bin/true
listen = tcp:127.0.0.1:18001
backend = tcp:127.0.0.1:18002

[service mcp]
exec = /bin/true
stdio = mcp
""")
    t = check(tend, ini)
    assert t.rc == 0, t.describe()
    cfg = parse_ini(t.stdout)
    assert cfg["service proxied"]["start"] == "on-demand"
    assert cfg["service proxied"]["ready"] == "socket"
    assert cfg["service mcp"]["start"] == "on-demand"


RICH = r"""; every kind of key, most of them away from their defaults
[tend]
log-max = 5M
memory-interval = 500ms
max-jobs = 3

[service web]
env = A=1 B='two words'
env = C="x\"y"
exec = /usr/bin/prog --flag 'two words' "dq \"x\"" 'dollar$x' '~' '' back\\slash 'semi;colon' "a	tab" x\ y ${A} '#hash'
cwd = '/tmp/some dir'
start = on-demand
restart = always
success-codes = 3 0 TERM
backoff = 250ms..1m30s
max-crashes = 7/10m
stable-after = 90s
clean-restarts = 20/2m
stop-signal = SIGINT
stop-timeout = 1500ms
memory-max = 1.5G
memory-warn = 0.9
health = http://127.0.0.1:8080/health
health-interval = 5s
health-timeout = 2s
health-strikes = 4
health-grace = 1m
ready = health
watchdog = 30s
listen = tcp:127.0.0.1:9000
listen = unix:/tmp/x.sock
backend = tcp:127.0.0.1:19000
max-instances = 3
idle-stop = 10m
watch = /tmp/a '/tmp/b c'
watch-ignore = .git node_modules
debounce = 1s
on-change = restart

[job reindex]
exec = /bin/echo hi
timeout = 30m
every = 1h
max-failures = 5
cooldown = 2m
stop-signal = 1
success-codes = 0 1

[service plain]
exec = /bin/true
"""


def strip_header(text):
    return [l for l in text.splitlines() if not l.startswith("; effective")]


def test_check_output_reloads_to_identical_output(tend, tmp_path):
    first = write_ini(tmp_path / "first.ini", RICH)
    t1 = check(tend, first)
    assert t1.rc == 0, t1.describe()
    second = write_ini(tmp_path / "second.ini", t1.stdout)
    t2 = check(tend, second)
    assert t2.rc == 0, t2.describe() + "\n--- input ---\n" + t1.stdout
    assert strip_header(t2.stdout) == strip_header(t1.stdout)
    cfg = parse_ini(t1.stdout)
    web = cfg["service web"]
    assert web["restart"] == "always"
    assert web["max-crashes"] == "7/10m"
    assert web["stop-signal"] == "INT"
    assert web["memory-warn"] == "90%"
    assert web["listen"] == ["tcp:127.0.0.1:9000", "unix:/tmp/x.sock"]
    assert cfg["job reindex"]["stop-signal"] == "HUP"
    assert set(cfg) == {"tend", "service web", "job reindex", "service plain"}


# --- running exec lines -----------------------------------------------------

def run_services(tend, tmp_path, services, env=None, name="tend.ini"):
    """Runs `tend up` on [service NAME] sections with the given exec lines
    (and extra lines); waits until each wrote its dump, stops tend.  Returns
    {name: dump}."""
    out = tmp_path / "dumps"
    out.mkdir(exist_ok=True)
    text = HEAD
    for svc, (exec_args, extra) in services.items():
        text += (f"[service {svc}]\n{extra}"
                 f"exec = {PY} {ARGV_DUMP} {q(out / svc)} {exec_args}\n"
                 f"restart = never\n\n")
    ini = write_ini(tmp_path / name, text)
    t = tend.start("-c", str(ini), "up", "--json", env=env)
    wait_until(lambda: all((out / s).exists() for s in services)
               or not t.running(), timeout=T_SHORT, what="the dumps")
    assert t.running(), t.describe()
    assert t.stop() == 0, t.describe()
    return {s: json.loads((out / s).read_text()) for s in services}


def test_exec_is_never_run_through_a_shell(tend, tmp_path, workdir):
    (workdir / "x").mkdir()
    (workdir / "keep.txt").write_text("keep")
    d = run_services(tend, tmp_path, {
        "semi": ("echo a; rm -rf x", ""),
        "meta": ("'$(touch pwned1)' `touch pwned2` * a|b >out <in & && || x\\;y",
                 ""),
    })
    assert d["semi"]["argv"] == ["echo", "a;", "rm", "-rf", "x"]
    assert d["meta"]["argv"] == ["$(touch pwned1)", "`touch", "pwned2`", "*",
                                 "a|b", ">out", "<in", "&", "&&", "||", "x;y"]
    assert (workdir / "x").is_dir()
    for f in ("pwned1", "pwned2", "out"):
        assert not (workdir / f).exists(), f
        assert not (tmp_path / f).exists(), f


def test_unquoted_command_substitution_is_refused_not_run(tend, tmp_path,
                                                          workdir):
    ini = write_ini(tmp_path / "tend.ini",
                    HEAD + f"[service s]\nexec = /bin/echo $(touch {workdir}/pwned)\n")
    for cmd in ("check", "up"):
        t = tend.run("-c", str(ini), cmd)
        assert t.rc == 2, t.describe()
        assert f"{ini}:5:" in one_error_line(t)
    assert not (workdir / "pwned").exists()


def test_exec_mode_passes_argv_verbatim(tend, tmp_path, workdir):
    out = tmp_path / "dump"
    args = ["a;", "$(touch pwned)", "`id`", "*", "${HOME}", "~", "'q'", ""]
    t = tend.run("exec", "--json", "--", PY, ARGV_DUMP, str(out), *args)
    assert t.rc == 0, t.describe()
    assert json.loads(out.read_text())["argv"] == args
    assert not (workdir / "pwned").exists()


def test_tilde_expansion(tend, tmp_path, tend_env):
    home = tmp_path / "home"
    (home / "wd").mkdir(parents=True)
    env = dict(tend_env, HOME=str(home))
    d = run_services(tend, tmp_path, {
        "tilde": ("~ ~/x '~' \"~/y\" a~b \\~ ~root/z", "cwd = ~/wd\n"),
    }, env=env)
    assert d["tilde"]["argv"] == [str(home), f"{home}/x", "~", "~/y", "a~b",
                                  "~", "/root/z"]
    assert d["tilde"]["cwd"] == str(home / "wd")


def test_variable_expansion(tend, tmp_path, tend_env):
    env = dict(tend_env, FOO="a b", EMPTY="")
    env.pop("NOPE", None)
    d = run_services(tend, tmp_path, {
        "vars": ("${FOO} $FOO \"${FOO}\" x${FOO}y '${FOO}' \\${FOO} "
                 "${NOPE} \"${NOPE}\" ${NOPE:-dflt} \"${NOPE:-d f}\" "
                 "${EMPTY:-e} ${FOO:-unused} ${BAR} $BAR/x",
                 "env = BAR=fromunit\n"),
    }, env=env)
    assert d["vars"]["argv"] == ["a b", "a b", "a b", "xa by", "${FOO}",
                                 "${FOO}", "", "dflt", "d f", "e", "a b",
                                 "fromunit", "fromunit/x"]
    assert d["vars"]["env"]["BAR"] == "fromunit"
    assert d["vars"]["env"]["FOO"] == "a b"


def test_quotes_and_backslashes(tend, tmp_path):
    d = run_services(tend, tmp_path, {
        "quotes": (r""""a b" a\ b 'a\b' "a\"b" "a\\b" "a\nb" \$HOME a"b"c """
                   r"""'' "" 'it'\''s' x\#y "'" '"' \\ end""", ""),
        "comment": ("a ;a comment", ""),
        "nocomment": ("'a ;b' \"c #d\" e;f g#h", ""),
        "continued": ("a \\\n   b", ""),
    })
    assert d["quotes"]["argv"] == ["a b", "a b", "a\\b", 'a"b', "a\\b",
                                   "a\\nb", "$HOME", "abc", "", "", "it's",
                                   "x#y", "'", '"', "\\", "end"]
    assert d["comment"]["argv"] == ["a"]
    assert d["nocomment"]["argv"] == ["a ;b", "c #d", "e;f", "g#h"]
    assert d["continued"]["argv"] == ["a", "b"]


def test_check_output_runs_the_same_argv(tend, tmp_path, tend_env):
    """Not only the same text: the re-loaded command gets the same argv."""
    env = dict(tend_env, FOO="x y")
    args = (r"""--flag 'two words' "dq \"x\"" 'dollar$x' '${FOO}' ${FOO} '~' """
            r"""'' back\\slash 'semi;colon' "a	tab" '#hash' "it's" \*""")
    first = run_services(tend, tmp_path, {"rt": (args, "")}, env=env,
                         name="first.ini")["rt"]["argv"]
    t = check(tend, tmp_path / "first.ini", env=env)
    assert t.rc == 0, t.describe()
    write_ini(tmp_path / "second.ini", t.stdout)
    os.unlink(tmp_path / "dumps" / "rt")
    second_t = tend.start("-c", str(tmp_path / "second.ini"), "up", "--json",
                          env=env)
    wait_until(lambda: (tmp_path / "dumps" / "rt").exists()
               or not second_t.running(), what="second dump")
    assert second_t.stop() == 0, second_t.describe()
    second = json.loads((tmp_path / "dumps" / "rt").read_text())["argv"]
    assert first == ["--flag", "two words", 'dq "x"', "dollar$x", "${FOO}",
                     "x y", "~", "", "back\\slash", "semi;colon", "a\ttab",
                     "#hash", "it's", "*"]
    assert second == first


def test_cwd_and_env_reach_the_command(tend, tmp_path, tend_env):
    wd = tmp_path / "the wd"
    wd.mkdir()
    d = run_services(tend, tmp_path, {
        "ce": ("", f"cwd = {q(wd)}\nenv = K1=v1 'K2=two words'\nenv = K3=\n"),
    })
    assert d["ce"]["cwd"] == str(wd)
    env = d["ce"]["env"]
    assert env["K1"] == "v1" and env["K2"] == "two words" and env["K3"] == ""
    assert env["TEND_E2E_TAG"] == tend_env["TEND_E2E_TAG"]


# --- config lookup ----------------------------------------------------------

LOOKUP = ["c", "env", "cwd", "xdg", "home"]


@pytest.mark.parametrize("present,expect", [
    (LOOKUP, "c"),
    (["env", "cwd", "xdg", "home"], "env"),
    (["cwd", "xdg", "home"], "cwd"),
    (["xdg", "home"], "xdg"),
    (["home"], "home"),
    (["xdg"], "xdg"),
    ([], None),
])
def test_config_lookup_order(tend, tmp_path, tend_env, workdir, present,
                             expect):
    home = tmp_path / "home"
    xdg = tmp_path / "xdg-config"
    paths = {
        "c": tmp_path / "explicit.ini",
        "env": tmp_path / "from-env.ini",
        "cwd": workdir / "tend.ini",
        "xdg": xdg / "tend" / "tend.ini",
        "home": home / ".config" / "tend" / "tend.ini",
    }
    for name in present:
        write_ini(paths[name], f"[service from_{name}]\nexec = /bin/true\n")
    env = dict(tend_env, HOME=str(home))
    args = []
    if "c" in present:
        args = ["-c", str(paths["c"])]
    if "env" in present:
        env["TEND_CONFIG"] = str(paths["env"])
    if "home" in present and "xdg" not in present:
        env.pop("XDG_CONFIG_HOME")  # ~/.config is the default of XDG_CONFIG_HOME
    t = tend.run(*args, "check", env=env, cwd=workdir)
    if expect is None:
        assert t.rc == 2, t.describe()
        assert str(paths["xdg"]) in one_error_line(t)
        return
    assert t.rc == 0, t.describe()
    units = [s for s in parse_ini(t.stdout) if s != "tend"]
    assert units == [f"service from_{expect}"], t.stdout


def test_config_lookup_relative_cwd_file_used_by_up(tend, tmp_path, workdir):
    """./tend.ini is looked up in tend's working directory, by up as well."""
    out = tmp_path / "dump"
    write_ini(workdir / "tend.ini",
              f"[service cwdfile]\nexec = {PY} {ARGV_DUMP} {q(out)} hello\n"
              "restart = never\n")
    t = tend.start("up", "--json", cwd=workdir)
    wait_until(lambda: out.exists() or not t.running(), what="the dump")
    assert t.stop() == 0, t.describe()
    assert json.loads(out.read_text())["argv"] == ["hello"]


def test_crlf_and_bom_accepted(tend, tmp_path):
    ini = tmp_path / "win.ini"
    ini.write_bytes(b"\xef\xbb\xbf; from Windows\r\n[service w]\r\n"
                    b"exec = /bin/true\r\nrestart = always\r\n")
    t = check(tend, ini)
    assert t.rc == 0, t.describe()
    cfg = parse_ini(t.stdout)
    assert cfg["service w"]["exec"] == "/bin/true"
    assert cfg["service w"]["restart"] == "always"


@pytest.mark.parametrize("key,value", [
    ("stop-signal", "sigterm"),
    ("stop-signal", "SIGKILL"),
    ("stop-signal", "15"),
    ("stop-signal", "RTMIN+2"),
    ("stop-timeout", "2d"),
    ("stop-timeout", "1m30s"),
    ("stop-timeout", "0"),
    ("memory-max", "1.5G"),
    ("memory-max", "512kib"),
    ("memory-max", "4096"),
    ("backoff", "0"),
    ("backoff", "1s..1s"),
    ("memory-warn", "0.5"),
    ("success-codes", "0,1 2"),
])
def test_good_values_accepted(tend, tmp_path, key, value):
    ini = write_ini(tmp_path / "tend.ini",
                    f"[service s]\nexec = /bin/true\n{key} = {value}\n")
    t = check(tend, ini)
    assert t.rc == 0, t.describe()
    # And what check prints loads back to the same thing.
    again = write_ini(tmp_path / "again.ini", t.stdout)
    t2 = check(tend, again)
    assert t2.rc == 0, t2.describe()
    assert strip_header(t2.stdout) == strip_header(t.stdout)


def test_relative_cwd_is_relative_to_the_file(tend, tmp_path, workdir):
    confdir = tmp_path / "conf"
    (confdir / "sub").mkdir(parents=True)
    out = tmp_path / "dump"
    ini = write_ini(confdir / "tend.ini",
                    f"[service rel]\nexec = {PY} {ARGV_DUMP} {q(out)}\n"
                    "cwd = sub\nrestart = never\n")
    t = tend.start("-c", str(ini), "up", "--json", cwd=workdir)
    wait_until(lambda: out.exists() or not t.running(), what="the dump")
    assert t.stop() == 0, t.describe()
    assert json.loads(out.read_text())["cwd"] == str(confdir / "sub")


def test_exec_flags_cwd_and_env(tend, tmp_path):
    wd = tmp_path / "wd"
    wd.mkdir()
    out = tmp_path / "dump"
    t = tend.run("exec", "--json", "--cwd", str(wd), "--env", "A=1 B=2",
                 "--env", "C=three", "--", PY, ARGV_DUMP, str(out))
    assert t.rc == 0, t.describe()
    d = json.loads(out.read_text())
    assert d["cwd"] == str(wd)
    assert (d["env"]["A"], d["env"]["B"], d["env"]["C"]) == ("1", "2", "three")


def test_exec_missing_cwd_is_spawn_failed(tend, tmp_path):
    t = tend.run("exec", "--json", "--cwd", str(tmp_path / "nope"), "--",
                 "/bin/true")
    assert t.rc in (126, 127), t.describe()
    ex = t.events("exited")
    assert len(ex) == 1 and ex[0]["reason"] == "spawn_failed", t.describe()
    assert "nope" in ex[0].get("error", "")
