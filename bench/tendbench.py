"""What every benchmark of tend needs: a daemon of its own file, in its own
XDG_RUNTIME_DIR and XDG_STATE_HOME under ROOT, driven through the real
command line, and brought down by `tend down` or, failing that, SIGKILL by
pid; and the sweep at the end for any process still naming ROOT."""
import glob
import json
import os
import signal
import subprocess
import time

TICK = os.sysconf("SC_CLK_TCK")
SCHEDSTAT = os.path.exists("/proc/self/schedstat")


def live(pid):
    """Is PID a live process (not a zombie)?"""
    try:
        with open("/proc/%d/stat" % pid) as f:
            return f.read().rsplit(") ", 1)[1][0] != "Z"
    except (OSError, IndexError):
        return False


def leftovers(root):
    """Processes that name ROOT in their command line or environment."""
    me = os.getpid()
    key = root.encode()
    found = []
    for e in os.listdir("/proc"):
        if not e.isdigit() or int(e) == me:
            continue
        for what in ("cmdline", "environ"):
            try:
                with open("/proc/%s/%s" % (e, what), "rb") as f:
                    if key in f.read():
                        found.append(int(e))
                        break
            except OSError:
                pass
    return found


def sweep(root, wait=5):
    """After everything was stopped: waits up to WAIT s for the live
    processes that name ROOT to go, SIGKILLs those left by pid and returns
    their pids (none, when all is well)."""
    end = time.monotonic() + wait
    while True:
        left = [p for p in leftovers(root) if live(p)]
        if not left or time.monotonic() > end:
            break
        time.sleep(0.1)
    for p in left:
        try:
            os.kill(p, signal.SIGKILL)
        except ProcessLookupError:
            pass
    return left


class Daemon:
    def __init__(self, tend, root, ini_text, name="tend.ini"):
        """INI_TEXT None: the file is not written (a daemon of a file that
        need not exist, such as the user's default one; NAME may then be a
        path under ROOT)."""
        self.bin = tend
        self.root = root
        self.ini = os.path.join(root, name)
        if ini_text is not None:
            self.write(ini_text)
        self.env = dict(os.environ,
                        XDG_RUNTIME_DIR=os.path.join(root, "run"),
                        XDG_STATE_HOME=os.path.join(root, "state"))
        os.makedirs(self.env["XDG_RUNTIME_DIR"], exist_ok=True)
        self.pid = None

    def write(self, ini_text):
        with open(self.ini, "w") as f:
            f.write(ini_text)

    def tend(self, *args, check=True):
        r = subprocess.run([self.bin, "-c", self.ini, *args], env=self.env,
                           capture_output=True, text=True, timeout=120)
        if check and r.returncode != 0:
            raise RuntimeError("tend %s: %s" % (" ".join(args), r.stderr))
        return r

    def up(self):
        """tend up -d; returns how long it took (s)."""
        t0 = time.monotonic()
        self.tend("up", "-d")
        took = time.monotonic() - t0
        self.pid = self.daemon()["pid"]
        return took

    def status_doc(self, *args):
        """status --json: {"version": 2, "daemon": {...}, "units": [...]}."""
        return json.loads(self.tend("status", "--json", *args).stdout)

    def status(self, *args):
        """The units of status --json (a NAME among ARGS: that one)."""
        return self.status_doc(*args)["units"]

    def daemon(self):
        return self.status_doc()["daemon"]

    def events(self):
        """The daemon's events.log, parsed, oldest first."""
        out = []
        for path in glob.glob(os.path.join(self.env["XDG_STATE_HOME"], "tend",
                                           "*", "events.log")):
            with open(path) as f:
                for line in f:
                    try:
                        out.append(json.loads(line))
                    except ValueError:
                        pass   # a line being written
        return out

    def reload(self, ini_text):
        self.write(ini_text)
        self.tend("reload")

    def down(self):
        if self.pid:
            try:
                ok = self.tend("down", check=False).returncode == 0
            except subprocess.TimeoutExpired:
                ok = False
            if not ok or live(self.pid):
                try:
                    os.kill(self.pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
        self.pid = None


def proc_mem(pid, keys=("VmRSS", "RssAnon", "VmHWM")):
    """KEYS of /proc/PID/status (kB figures), in bytes."""
    got = {}
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            k, _, v = line.partition(":")
            if k in keys:
                got[k] = int(v.split()[0]) * 1024
    return got


def parents():
    """{ppid: [pid, ...]} of every process now."""
    kids = {}
    for e in os.listdir("/proc"):
        if not e.isdigit():
            continue
        try:
            with open("/proc/%s/stat" % e) as f:
                ppid = int(f.read().rsplit(") ", 1)[1].split()[1])
        except (OSError, IndexError, ValueError):
            continue
        kids.setdefault(ppid, []).append(int(e))
    return kids


def tree(pid, kids=None):
    """PID and every process below it (KIDS: a parents() taken before)."""
    kids = parents() if kids is None else kids
    out, todo = [], [pid]
    while todo:
        p = todo.pop()
        out.append(p)
        todo.extend(kids.get(p, []))
    return out


def pss(pids):
    """(Pss, Pss_Anon) summed over PIDS, in bytes, from
    /proc/PID/smaps_rollup (Pss_Anon 0 on kernels without it); a process
    that is gone counts nothing."""
    tot, anon = 0, 0
    for p in pids:
        try:
            with open("/proc/%d/smaps_rollup" % p) as f:
                for line in f:
                    k, _, v = line.partition(":")
                    if k == "Pss":
                        tot += int(v.split()[0]) * 1024
                    elif k == "Pss_Anon":
                        anon += int(v.split()[0]) * 1024
        except (OSError, ValueError, IndexError):
            pass
    return tot, anon


def cpu_ns(pid):
    """CPU time of every thread of PID so far, in ns."""
    if SCHEDSTAT:
        total = 0
        for tid in os.listdir("/proc/%d/task" % pid):
            try:
                with open("/proc/%d/task/%s/schedstat" % (pid, tid)) as f:
                    total += int(f.read().split()[0])
            except (OSError, ValueError, IndexError):
                pass
        return total
    with open("/proc/%d/stat" % pid) as f:
        fields = f.read().rsplit(") ", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) * 1_000_000_000 // TICK
