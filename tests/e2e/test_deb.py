"""The Debian package (`make check-deb`, not part of `make test`: the
package build compiles tend again, about a minute): `make deb` builds it
with dpkg-buildpackage and fails on any lintian error; the package holds
what make install puts, under /usr, and its tend runs once unpacked."""
import json
import os
import subprocess
from pathlib import Path

from conftest import T_LONG

REPO = Path(__file__).resolve().parents[2]


def test_deb_builds_passes_lintian_and_runs(tmp_path, tend):
    version = (REPO / "VERSION").read_text().strip()
    # the changelog's version is the tree's
    r = subprocess.run(["dpkg-parsechangelog", "-S", "Version"], cwd=str(REPO),
                       capture_output=True, text=True)
    assert r.stdout.strip() == version, r.stdout
    r = subprocess.run(["make", "-s", "-C", str(REPO), "deb"],
                       capture_output=True, text=True, timeout=900)
    assert r.returncode == 0, r.stdout[-3000:] + r.stderr[-3000:]
    debs = list((REPO / "build" / "deb").glob("tend_%s_*.deb" % version))
    assert len(debs) == 1, debs
    deb = debs[0]
    # lintian again, every tag shown: no error (make deb fails on one)
    r = subprocess.run(["lintian", "-I", "-E", "--pedantic", str(deb)],
                       capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stdout + r.stderr
    errors = [l for l in r.stdout.splitlines() if l.startswith("E:")]
    assert not errors, errors
    print("lintian:", r.stdout or "no tags")
    files = subprocess.run(["dpkg-deb", "-c", str(deb)], capture_output=True,
                           text=True).stdout
    for f in ("./usr/bin/tend", "./usr/bin/tend-top",
              "./usr/share/man/man1/tend.1.gz",
              "./usr/share/man/man5/tend.ini.5.gz",
              "./usr/share/bash-completion/completions/tend",
              "./usr/share/zsh/vendor-completions/_tend",
              "./usr/share/fish/vendor_completions.d/tend.fish",
              "./usr/share/doc/tend/copyright",
              "./usr/share/doc/tend/docs/config.md.gz"):
        assert f in files, f
    root = tmp_path / "root"
    subprocess.run(["dpkg-deb", "-x", str(deb), str(root)], check=True)
    exe = root / "usr/bin/tend"
    r = subprocess.run([str(exe), "--version"], capture_output=True, text=True)
    assert r.stdout.strip() == "tend " + version
    ini = tmp_path / "p" / "tend.ini"
    ini.parent.mkdir()
    ini.write_text("[service s]\nexec = sleep 600\n")
    env = tend.env
    r = subprocess.run([str(exe), "-c", str(ini), "up", "-d"], env=env,
                       capture_output=True, text=True, timeout=T_LONG)
    try:
        assert r.returncode == 0, r.stderr
        st = json.loads(subprocess.run([str(exe), "-c", str(ini), "status", "--json"],
                                       env=env, capture_output=True, text=True).stdout)
        daemon = st["daemon"] if isinstance(st, dict) else st[0]
        assert os.readlink("/proc/%d/exe" % daemon["keeper"]["pid"]) == str(exe)
    finally:
        subprocess.run([str(exe), "-c", str(ini), "down"], env=env, timeout=T_LONG)
