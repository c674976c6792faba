#!/usr/bin/python3
"""A process tree for tend's end-to-end tests.

usage: tree.py DIR [options]

The main process (its generation G is its own pid) first writes DIR/G.prev:
a JSON list of the processes of earlier generations (any DIR/*.pid that is
not its own) that are still alive.  Then it starts, by role:

  bg      a plain background child
  setsid  a child that calls setsid()
  dfork   a double-forked grandchild: the middle process exits, the
          grandchild is orphaned (reparented to tend's keeper) but stays
          in the run's session
  daemon  a classic daemon: fork, setsid, fork, middle exits
  stealth like daemon, and then execs /bin/sleep with an EMPTY environment
          (not in the default roles; no --trap for it: it is sleep)
  forker  keeps forking a new child (same options as the others) every
          50 ms, forever (not in the default roles)

Every process writes DIR/G-ROLE.pid ("PID STARTTIME", role main too).  When
all of them are up, main writes DIR/G.ready.  Everything then waits for
signals forever, unless told otherwise.

Options:
  --roles LIST        comma-separated roles (default bg,setsid,dfork,daemon;
                      "none" for no children)
  --ignore-term       the children ignore SIGTERM
  --main-ignore-term  main ignores SIGTERM
  --trap SIG          every process writes DIR/G-ROLE.SIG (e.g. G-bg.USR1)
                      when SIG arrives (repeatable)
  --exit-after S      main exits with --code S seconds after ready
  --code N            (default 0)
  --term-code N       main exits with N when SIGTERM arrives
  --zombies K         main makes K orphans that exit 0.1 s later (they are
                      reparented to tend's keeper, which must reap them);
                      their pids go to DIR/G-zombieI.pid
  --unwaited K        main starts K children that exit at once and never
                      waits for them (zombies of main; once main is gone
                      they are tend's keeper's to reap); DIR/G-unwaitedI.pid
"""
import os
import signal
import sys
import time


def starttime(pid):
    try:
        with open("/proc/%d/stat" % pid) as f:
            data = f.read()
    except OSError:
        return None
    rest = data[data.rindex(")") + 2:].split()
    return rest[0], int(rest[19])  # state, starttime


def alive(pid, start):
    st = starttime(pid)
    return st is not None and st[0] not in "ZX" and st[1] == start


def write_atomic(path, text):
    tmp = path + ".tmp%d" % os.getpid()
    with open(tmp, "w") as f:
        f.write(text)
    os.rename(tmp, path)


def main():
    args = sys.argv[1:]
    d = args.pop(0)
    gen = os.getpid()

    # Earlier generations first, before this one starts anything.
    prev = []
    for name in sorted(os.listdir(d)):
        if not name.endswith(".pid") or name.startswith("%d-" % gen):
            continue
        try:
            with open(os.path.join(d, name)) as f:
                pid, start = (int(x) for x in f.read().split())
        except (OSError, ValueError):
            continue
        if alive(pid, start):
            prev.append({"file": name, "pid": pid})

    roles = ["bg", "setsid", "dfork", "daemon"]
    ignore_term = main_ignore_term = False
    traps = []
    exit_after = None
    code = 0
    term_code = None
    zombies = 0
    unwaited = 0
    while args:
        a = args.pop(0)
        if a == "--roles":
            v = args.pop(0)
            roles = [] if v == "none" else v.split(",")
        elif a == "--ignore-term":
            ignore_term = True
        elif a == "--main-ignore-term":
            main_ignore_term = True
        elif a == "--trap":
            traps.append(args.pop(0).upper())
        elif a == "--exit-after":
            exit_after = float(args.pop(0))
        elif a == "--code":
            code = int(args.pop(0))
        elif a == "--term-code":
            term_code = int(args.pop(0))
        elif a == "--zombies":
            zombies = int(args.pop(0))
        elif a == "--unwaited":
            unwaited = int(args.pop(0))
        else:
            sys.exit("tree.py: unknown option " + a)

    write_atomic(os.path.join(d, "%d.prev" % gen), repr(prev).replace("'", '"'))

    def record(role):
        pid = os.getpid()
        write_atomic(os.path.join(d, "%d-%s.pid" % (gen, role)),
                     "%d %d\n" % (pid, starttime(pid)[1]))

    def setup(role, is_main):
        for sig in traps:
            signum = getattr(signal, "SIG" + sig)

            def on_sig(signo, frame, role=role, sig=sig):
                write_atomic(os.path.join(d, "%d-%s.%s" % (gen, role, sig)),
                             "%d\n" % os.getpid())
            signal.signal(signum, on_sig)
        if is_main:
            if main_ignore_term:
                signal.signal(signal.SIGTERM, signal.SIG_IGN)
            elif term_code is not None:
                signal.signal(signal.SIGTERM,
                              lambda s, f: os._exit(term_code))
        elif ignore_term:
            signal.signal(signal.SIGTERM, signal.SIG_IGN)
        else:
            signal.signal(signal.SIGTERM, signal.SIG_DFL)

    def forever():
        while True:
            signal.pause()

    def child(role):
        setup(role, False)
        record(role)
        forever()

    setup("main", True)
    record("main")

    for role in roles:
        if role == "bg":
            if os.fork() == 0:
                child("bg")
        elif role == "setsid":
            if os.fork() == 0:
                os.setsid()
                child("setsid")
        elif role in ("dfork", "daemon"):
            mid = os.fork()
            if mid == 0:
                if role == "daemon":
                    os.setsid()
                if os.fork() == 0:
                    child(role)
                os._exit(0)
            os.waitpid(mid, 0)
        elif role == "stealth":
            mid = os.fork()
            if mid == 0:
                os.setsid()
                if os.fork() == 0:
                    setup(role, False)  # SIG_IGN survives exec
                    record(role)
                    os.execve("/bin/sleep", ["sleep", "1000"], {})
                os._exit(0)
            os.waitpid(mid, 0)
        elif role == "forker":
            if os.fork() == 0:
                setup(role, False)
                record(role)
                n = 0
                while True:
                    time.sleep(0.05)
                    n += 1
                    if os.fork() == 0:
                        setup(role, False)
                        record("forker%d" % n)
                        forever()
        else:
            sys.exit("tree.py: unknown role " + role)

    for i in range(zombies):
        mid = os.fork()
        if mid == 0:
            if os.fork() == 0:
                record("zombie%d" % i)
                time.sleep(0.1)
                os._exit(0)
            os._exit(0)
        os.waitpid(mid, 0)

    for i in range(unwaited):
        if os.fork() == 0:
            record("unwaited%d" % i)
            os._exit(0)

    want = ["%d-%s.pid" % (gen, r) for r in roles]
    want += ["%d-zombie%d.pid" % (gen, i) for i in range(zombies)]
    want += ["%d-unwaited%d.pid" % (gen, i) for i in range(unwaited)]
    while not all(os.path.exists(os.path.join(d, w)) for w in want):
        time.sleep(0.01)
    write_atomic(os.path.join(d, "%d.ready" % gen), "%d\n" % gen)

    if exit_after is not None:
        time.sleep(exit_after)
        sys.stdout.flush()
        os._exit(code)
    forever()


if __name__ == "__main__":
    main()
