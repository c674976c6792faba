"""One adapter per supervisor for bench/compare.py: tend, s6, runit,
supervisord and PM2, behind one interface.

A Peer is one supervisor of its own, under a private directory ROOT (its
configuration, sockets, logs, state): it writes its configuration for
services given as argv lists, starts, reports the pid of a service's main
process, stops a service with the supervisor's own stop command, lists the
supervisor's own processes, kills them, and tears everything down by pid.
Nothing here touches a system instance: every supervisor runs from its own
files with a private socket or directory, and every process it started is
found again by ROOT in its environment (TEND_BENCH_ROOT), never by name.

Restarts at their fastest (fast=True): tend's default backoff is
100ms..30s, `backoff = 0` restarts at once.  s6-supervise waits 1 s before
every restart unless the service told it it was ready (notification-fd)
more than 1 s before it died: the fastest s6 service declares itself ready
in its run script, at once.  runsv restarts a service that ran at least
1 s at once (not configurable); supervisord has no restart delay setting
(its restarts come about 1 s after a death, here); PM2's restart_delay is
0 by default.  For those three fast=True changes nothing.
"""
import json
import os
import re
import shlex
import shutil
import signal
import subprocess
import time

import tendbench
from tendbench import live

HERE = os.path.dirname(os.path.abspath(__file__))
PM2_DIR = os.path.join(HERE, "npm", "node_modules", "pm2")
MIB = 1 << 20


# --- processes ---------------------------------------------------------------

def children(pid):
    out = []
    try:
        for tid in os.listdir("/proc/%d/task" % pid):
            with open("/proc/%d/task/%s/children" % (pid, tid)) as f:
                out += [int(c) for c in f.read().split()]
    except OSError:
        pass
    return out


def exe_name(pid):
    try:
        return os.path.basename(os.readlink("/proc/%d/exe" % pid))
    except OSError:
        return None


def freeze_kill(pids):
    """SIGSTOP to every pid, then SIGKILL to every one: they die together,
    none of them can act on the death of another first."""
    for sig in (signal.SIGSTOP, signal.SIGKILL):
        for p in pids:
            try:
                os.kill(p, sig)
            except ProcessLookupError:
                pass


def write_exec_script(path, argv, before="", after=""):
    with open(path, "w") as f:
        f.write("#!/bin/sh\n%sexec %s%s\n" % (before, " ".join(shlex.quote(a) for a in argv), after))
    os.chmod(path, 0o755)


def dpkg_version(pkg):
    r = subprocess.run(["dpkg-query", "-W", "-f=${Version}", pkg],
                       capture_output=True, text=True)
    return r.stdout.strip() or "?"


# --- the interface -------------------------------------------------------------

class Peer:
    name = ""          # also a prefix of FIFO tags: no blanks
    own_exes = ()      # program names of the supervisor's own helpers (children of its main process)
    memory_how = None  # what its memory limit is; None: it has none
    fast_differs = False
    status_codes = (0,)   # exit codes of status_cmd() that are an answer

    def __init__(self, root, services, fast=False, memory_max=None, boot=True):
        """SERVICES: {name: argv}.  FAST: the supervisor's fastest restart
        settings; MEMORY_MAX: bytes, for every service; BOOT: False to
        declare the services without starting them."""
        self.root = root
        os.makedirs(root, exist_ok=True)
        self.services = services
        self.fast, self.memory_max, self.boot = fast, memory_max, boot
        self.mark = os.path.join(root, "")   # trailing /: not a prefix of a sibling's
        self.env = dict(os.environ, TEND_BENCH_ROOT=self.mark)
        self.pid = None    # the supervisor's main process
        self.proc = None   # its Popen, when it is our child
        self.write_config()

    # Each supervisor's own.
    def write_config(self):
        raise NotImplementedError

    def start(self):
        """Starts the supervisor; sets self.pid."""
        raise NotImplementedError

    def main_pid(self, name):
        """The pid of NAME's main process, None when it is not running."""
        raise NotImplementedError

    def ready(self):
        """Does the supervisor take commands for every service yet?"""
        return True

    def stop_cmd(self, name):
        raise NotImplementedError

    def start_cmd(self, name):
        raise NotImplementedError

    def status_cmd(self):
        raise NotImplementedError

    @staticmethod
    def version():
        raise NotImplementedError

    # The same for all.
    def run(self, argv, timeout=60, check=True):
        r = subprocess.run(argv, env=self.env, capture_output=True, text=True,
                           timeout=timeout, stdin=subprocess.DEVNULL)
        if check and r.returncode != 0:
            raise RuntimeError("%s: %s: exit %d: %s" % (self.name, " ".join(argv),
                                                        r.returncode, r.stderr.strip()[-500:]))
        return r

    def stop(self, name):
        """NAME stopped with the supervisor's own command (returns when it does)."""
        self.run(self.stop_cmd(name), timeout=60)

    def spawn(self, argv):
        """The supervisor in the foreground, our child (its output to ROOT/NAME.log)."""
        with open(os.path.join(self.root, self.name + ".log"), "ab") as log:
            self.proc = subprocess.Popen(argv, env=self.env, stdin=subprocess.DEVNULL,
                                         stdout=log, stderr=subprocess.STDOUT)
        self.pid = self.proc.pid

    def own_pids(self):
        """The supervisor's own processes: its main one and its helpers."""
        if not self.pid or not live(self.pid):
            return []
        return [self.pid] + [c for c in children(self.pid)
                             if exe_name(c) in self.own_exes]

    def kill(self, everything=True):
        """SIGKILL to the supervisor's main process, or to all its own
        processes at once."""
        freeze_kill(self.own_pids() if everything else [self.pid])

    def teardown(self):
        """Everything this peer started, killed by pid: the supervisor's
        own processes, then every live process naming ROOT."""
        self.kill()
        if self.proc:
            self.proc.wait()
        for _ in range(100):
            left = [p for p in tendbench.leftovers(self.mark) if live(p)]
            if not left:
                return
            freeze_kill(left)
            time.sleep(0.02)
        raise RuntimeError("%s: processes of %s still alive: %s" % (self.name, self.root, left))


# --- tend ----------------------------------------------------------------------

class Tend(Peer):
    name = "tend"
    own_exes = ("tend",)   # the keeper: tend's own binary, exec'd again
    memory_how = "`memory-max`: anon+shmem of the whole tree, sampled every 2 s (`memory-interval`)"
    fast_differs = True
    fast_setting = "`backoff = 0`"
    bin = os.path.abspath("build/tend")

    def __init__(self, root, services, extra=None, **kw):
        self.extra = extra or {}   # {name: [ini lines]}
        super().__init__(root, services, **kw)

    head = []   # [tend] lines

    def write_config(self):
        ini = list(self.head)
        for name, argv in self.services.items():
            ini += ["[service %s]" % name,
                    "exec = " + " ".join(shlex.quote(a) for a in argv)]
            if self.fast:
                ini.append("backoff = 0")
            if self.memory_max:
                ini.append("memory-max = %dM" % (self.memory_max // MIB))
            if not self.boot:
                ini.append("start = on-demand")
            ini += self.extra.get(name, [])
        self.d = tendbench.Daemon(self.bin, self.root, "\n".join(ini) + "\n")
        self.d.env["TEND_BENCH_ROOT"] = self.mark
        self.env = self.d.env

    def cli(self, *args):
        return [self.bin, "-c", self.d.ini, *args]

    def own_pids(self):
        """The daemon and its keeper (docs/containment.md): the daemon's
        child that runs the daemon's own binary, whatever that binary is
        called (tend-base); a check's command is another program, and the
        runs are the keeper's children (the daemon's only once the keeper
        died, and then they are no tend)."""
        if not self.pid or not live(self.pid):
            return []
        try:
            exe = os.readlink("/proc/%d/exe" % self.pid)
        except OSError:
            return [self.pid]
        own = [self.pid]
        for c in children(self.pid):
            try:
                if os.readlink("/proc/%d/exe" % c) == exe:
                    own.append(c)
            except OSError:
                pass
        return own

    def start(self):
        self.run(self.cli("up", "-d"), timeout=300)
        self.attach()

    def attach(self):
        """The daemon some tend command started."""
        self.pid = self.d.daemon()["pid"]

    def main_pid(self, name):
        u = self.d.status(name)[0]
        return u["pid"] if u["state"] in ("running", "starting") else None

    def stop_cmd(self, name):
        return self.cli("stop", name)

    def start_cmd(self, name):
        return self.cli("start", name)

    def status_cmd(self):
        return self.cli("status", "--json")

    @classmethod
    def version(cls):
        return subprocess.run([cls.bin, "--version"], capture_output=True,
                              text=True).stdout.split()[-1]


class TendNS(Tend):
    """tend with `pid-namespace = yes` (docs/containment.md): every run in a
    pid namespace whose PID 1 is the keeper; for the containment scenario,
    whose case (c2) only a namespace covers."""
    name = "tend-pidns"   # tend, `pid-namespace = yes`
    head = ["[tend]", "pid-namespace = yes"]


class TendBase(Tend):
    """Another tend binary in the same run (compare.py --base): the same
    tree before a change, to show that the change costs nothing."""
    name = "tend-base"
    bin = None


# --- s6 ------------------------------------------------------------------------

class S6(Peer):
    """s6-svscan on a scan directory of its own, one s6-supervise per
    service; s6-svc, s6-svstat."""
    name = "s6"
    own_exes = ("s6-supervise",)
    fast_differs = True
    fast_setting = "`notification-fd`, ready at once"
    memory_how = "`s6-softlimit -m` in the run script: setrlimit (data, stack, locked, address space) of each process; allocations fail, nothing is restarted for it"

    def write_config(self):
        self.scan = os.path.join(self.root, "scan")
        for name, argv in self.services.items():
            d = os.path.join(self.scan, name)
            os.makedirs(d)
            pre = ["s6-softlimit", "-m", str(self.memory_max)] if self.memory_max else []
            if self.fast:   # ready as soon as it runs: a restart without the 1 s pause
                with open(os.path.join(d, "notification-fd"), "w") as f:
                    f.write("3\n")
                write_exec_script(os.path.join(d, "run"), pre + argv, "echo >&3\n", " 3>&-")
            else:
                write_exec_script(os.path.join(d, "run"), pre + argv)
            if not self.boot:
                open(os.path.join(d, "down"), "w").close()

    def svc(self, name):
        return os.path.join(self.scan, name)

    def start(self):
        self.spawn(["s6-svscan", "-c", str(max(1000, 2 * len(self.services))), self.scan])

    def ready(self):
        return all(self.run(["s6-svok", self.svc(n)], check=False).returncode == 0
                   for n in self.services)

    def main_pid(self, name):
        pid = int(self.run(["s6-svstat", "-o", "pid", self.svc(name)]).stdout)
        return pid if pid > 0 else None

    def stop_cmd(self, name):
        return ["s6-svc", "-wD", "-T", "30000", "-d", self.svc(name)]

    def start_cmd(self, name):
        return ["s6-svc", "-u", self.svc(name)]

    def status_cmd(self):
        return ["sh", "-c", 'for d in "$1"/*; do s6-svstat "$d" || exit 1; done',
                "sh", self.scan]

    @staticmethod
    def version():
        return dpkg_version("s6")


# --- runit ---------------------------------------------------------------------

class Runit(Peer):
    """runsvdir on a directory of its own, one runsv per service; sv."""
    name = "runit"
    own_exes = ("runsv",)
    memory_how = "`chpst -m` in the run script: setrlimit (data, stack, locked, address space) of each process; allocations fail, nothing is restarted for it"

    def write_config(self):
        self.dir = os.path.join(self.root, "sv")
        for name, argv in self.services.items():
            d = os.path.join(self.dir, name)
            os.makedirs(d)
            pre = ["chpst", "-m", str(self.memory_max)] if self.memory_max else []
            write_exec_script(os.path.join(d, "run"), pre + argv)
            if not self.boot:
                open(os.path.join(d, "down"), "w").close()

    def svc(self, name):
        return os.path.join(self.dir, name)

    def start(self):
        self.spawn(["runsvdir", self.dir])

    def ready(self):
        return self.run(self.status_cmd(), check=False).returncode == 0

    def main_pid(self, name):
        out = self.run(["sv", "status", self.svc(name)], check=False).stdout
        m = re.match(r"run: \S+ \(pid (\d+)\)", out)
        return int(m.group(1)) if m else None

    def stop_cmd(self, name):
        return ["sv", "-v", "-w", "30", "down", self.svc(name)]

    def start_cmd(self, name):
        return ["sv", "up", self.svc(name)]

    def status_cmd(self):
        return ["sv", "status"] + [self.svc(n) for n in self.services]

    @staticmethod
    def version():
        return dpkg_version("runit")


# --- supervisord ---------------------------------------------------------------

class Supervisord(Peer):
    """supervisord -n -c FILE with a private unix socket; supervisorctl."""
    name = "supervisord"
    status_codes = (0, 3)   # 3: some program is not RUNNING (yet: startsecs)

    def write_config(self):
        self.conf = os.path.join(self.root, "supervisord.conf")
        r = self.root
        os.makedirs(os.path.join(r, "logs"))
        text = ("[unix_http_server]\nfile=%s/supervisor.sock\n"
                "[supervisord]\nlogfile=%s/supervisord.log\npidfile=%s/supervisord.pid\n"
                "childlogdir=%s/logs\nminfds=%d\n"
                "[rpcinterface:supervisor]\nsupervisor.rpcinterface_factory = "
                "supervisor.rpcinterface:make_main_rpcinterface\n"
                "[supervisorctl]\nserverurl=unix://%s/supervisor.sock\n"
                % (r, r, r, r, 4 * len(self.services) + 1024, r))
        for name, argv in self.services.items():
            cmd = " ".join(shlex.quote(a) for a in argv).replace("%", "%%")
            text += "[program:%s]\ncommand=%s\n" % (name, cmd)
            if not self.boot:
                text += "autostart=false\n"
        with open(self.conf, "w") as f:
            f.write(text)

    def ctl(self, *args):
        return ["supervisorctl", "-c", self.conf, *args]

    def start(self):
        self.spawn(["supervisord", "-n", "-c", self.conf])

    def ready(self):
        return self.run(self.ctl("version"), check=False).returncode == 0

    def main_pid(self, name):
        out = self.run(self.ctl("pid", name), check=False).stdout.strip()
        return int(out) if out.isdigit() and int(out) > 0 else None

    def stop_cmd(self, name):
        return self.ctl("stop", name)

    def start_cmd(self, name):
        return self.ctl("start", name)

    def status_cmd(self):
        return self.ctl("status")

    @staticmethod
    def version():
        return subprocess.run(["supervisord", "--version"], capture_output=True,
                              text=True).stdout.strip()


# --- PM2 -----------------------------------------------------------------------

class PM2(Peer):
    """PM2 from bench/npm (pinned), PM2_HOME of its own; its God daemon
    spawns every app in fork mode (`interpreter: none`)."""
    name = "pm2"
    memory_how = "`max_memory_restart`: RSS of the main process only, checked every PM2_WORKER_INTERVAL (set to 2 s here, as tend's `memory-interval`; 30 s by default)"

    def write_config(self):
        self.env.update(PM2_HOME=os.path.join(self.root, "pm2"),
                        PM2_DISABLE_VERSION_CHECK="1",   # no network
                        PM2_WORKER_INTERVAL="2000")
        apps = []
        for name, argv in self.services.items():
            app = {"name": name, "script": shutil.which(argv[0]) or argv[0],
                   "args": argv[1:], "interpreter": "none",
                   "autorestart": True}
            if self.memory_max:
                app["max_memory_restart"] = "%dM" % (self.memory_max // MIB)
            apps.append(app)
        self.eco = os.path.join(self.root, "ecosystem.json")
        with open(self.eco, "w") as f:
            json.dump({"apps": apps}, f)

    def cli(self, *args):
        return ["node", os.path.join(PM2_DIR, "bin", "pm2"), *args]

    def start(self):
        """Not booting: started, then stopped (an app declared with
        `autostart: false` is never started by `pm2 start NAME` in 7.0.4:
        it answers "successfully started" and leaves it stopped)."""
        self.run(self.cli("start", self.eco), timeout=600)
        with open(os.path.join(self.env["PM2_HOME"], "pm2.pid")) as f:
            self.pid = int(f.read())
        if not self.boot:
            for name in self.services:
                self.stop(name)

    def main_pid(self, name):
        out = self.run(self.cli("pid", name), check=False).stdout.strip()
        return int(out) if out.isdigit() and int(out) > 0 else None

    def stop_cmd(self, name):
        return self.cli("stop", name)

    def start_cmd(self, name):
        return self.cli("start", name)

    def status_cmd(self):
        return self.cli("jlist")

    @staticmethod
    def version():
        with open(os.path.join(PM2_DIR, "package.json")) as f:
            v = json.load(f)["version"]
        node = subprocess.run(["node", "--version"], capture_output=True, text=True).stdout.strip()
        return "%s (node %s)" % (v, node)


PEERS = (Tend, S6, Runit, Supervisord, PM2)
