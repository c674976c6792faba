"""status reads a process's memory (/proc/PID/status) again only when its
stat says something changed (its resident pages or its page faults): the
figure of an idle process is kept, never that of one that grew or shrank
(src/super/sup_memory.c)."""
from conftest import PY, T_SHORT, wait_until

MIB = 1 << 20

# Grows by 64 MiB when DIR/grow appears, gives them back (munmap: no
# fault, fewer resident pages) when DIR/shrink does.
PROG = r'''
import os, sys, time
d = sys.argv[1]
def wait(name):
    while not os.path.exists(os.path.join(d, name)):
        time.sleep(0.02)
def say(name):
    open(os.path.join(d, name + ".tmp"), "w").close()
    os.rename(os.path.join(d, name + ".tmp"), os.path.join(d, name))
say("ready")
wait("grow")
b = bytearray(64 << 20)
for i in range(0, len(b), 4096):
    b[i] = 1
say("grown")
wait("shrink")
del b
say("shrunk")
time.sleep(3600)
'''


def test_memory_figure_follows_growth_and_release(project, tmp_path):
    d = tmp_path / "m"
    d.mkdir()
    prog = tmp_path / "grow.py"
    prog.write_text(PROG)
    p = project("[service g]\nexec = %s %s %s\n" % (PY, prog, d))
    p.up()
    wait_until(lambda: (d / "ready").exists(), T_SHORT, what="ready")
    base = p.unit("g")["mem_bytes"]
    assert 0 < base < 40 * MIB
    again = p.unit("g")["mem_bytes"]   # idle: the figure kept
    assert abs(again - base) < 4 * MIB, (base, again)
    (d / "grow").touch()
    wait_until(lambda: (d / "grown").exists(), T_SHORT, what="grown")
    grown = p.unit("g")["mem_bytes"]
    assert grown >= base + 60 * MIB, (base, grown)
    (d / "shrink").touch()
    wait_until(lambda: (d / "shrunk").exists(), T_SHORT, what="shrunk")
    shrunk = p.unit("g")["mem_bytes"]
    assert shrunk < grown - 60 * MIB, (grown, shrunk)
