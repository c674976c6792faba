#!/usr/bin/env python3
"""Runs tend's libFuzzer harnesses (build/fuzz/fuzz_*), built by make.

  fuzz/run.py --seconds N [--jobs J] [--report FILE] [TARGET ...]
      Each target first runs every input of its corpus (fuzz/corpus/TARGET,
      the regression inputs of crashes found earlier included), then fuzzes
      for N seconds.  New inputs go to build/fuzz/corpus/TARGET, never to
      the repository; a crash is kept as build/fuzz/crashes/TARGET-crash-*.
      Prints one line per target, then "fuzz: N passed, N failed".
  fuzz/run.py --merge [TARGET ...]
      Adds the inputs of build/fuzz/corpus/TARGET that cover code the
      committed corpus does not to fuzz/corpus/TARGET (libFuzzer -merge=1).

docs/fuzzing.md has the targets, what each checks and what they found.
"""
import argparse
import concurrent.futures
import os
import re
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BUILD = ROOT / "build" / "fuzz"   # --build changes it

# Longest input per target.  jrpc and mcp take messages far larger than a
# page, and nesting past the scanner's 512 levels; config and mcpconf
# are files; reload reads 46 bytes at most (fuzz/fuzz_reload.c); the rest
# are lines.
MAX_LEN = {"jrpc": 262144, "mcp": 262144, "config": 16384, "mcpconf": 16384,
           "reload": 64}


def targets():
    return sorted(p.name[len("fuzz_"):] for p in BUILD.glob("fuzz_*")
                  if p.is_file() and os.access(p, os.X_OK))


def run_one(name, seconds):
    exe = BUILD / ("fuzz_" + name)
    work = BUILD / "corpus" / name
    seeds = ROOT / "fuzz" / "corpus" / name
    crashes = BUILD / "crashes"
    work.mkdir(parents=True, exist_ok=True)
    crashes.mkdir(parents=True, exist_ok=True)
    cmd = [str(exe), "-max_total_time=%d" % seconds, "-timeout=10",
           "-rss_limit_mb=2048", "-print_final_stats=1",
           "-max_len=%d" % MAX_LEN.get(name, 4096),
           "-artifact_prefix=%s/%s-" % (crashes, name)]
    d = ROOT / "fuzz" / (name + ".dict")
    if d.exists():
        cmd.append("-dict=%s" % d)
    cmd += [str(work), str(seeds)]
    log = BUILD / (name + ".log")
    t0 = time.monotonic()
    with open(log, "w") as f:
        rc = subprocess.call(cmd, stdout=f, stderr=subprocess.STDOUT,
                             stdin=subprocess.DEVNULL, cwd=ROOT)
    took = time.monotonic() - t0
    text = log.read_text(errors="replace")
    runs = re.search(r"stat::number_of_executed_units:\s*(\d+)", text)
    cov = re.findall(r"\bcov: (\d+) ft: (\d+) corp: (\d+)", text)
    seeds_n = sum(1 for p in seeds.iterdir()) if seeds.is_dir() else 0
    return {
        "name": name, "rc": rc, "seconds": took,
        "runs": int(runs.group(1)) if runs else 0,
        "cov": int(cov[-1][0]) if cov else 0,
        "ft": int(cov[-1][1]) if cov else 0,
        "corpus": int(cov[-1][2]) if cov else 0,
        "seeds": seeds_n,
        "artifacts": re.findall(r"Test unit written to (\S+)", text),
        "log": log,
    }


def merge(name):
    exe = BUILD / ("fuzz_" + name)
    seeds = ROOT / "fuzz" / "corpus" / name
    work = BUILD / "corpus" / name
    seeds.mkdir(parents=True, exist_ok=True)
    before = len(list(seeds.iterdir()))
    if work.is_dir():
        subprocess.check_call([str(exe), "-merge=1",
                               "-max_len=%d" % MAX_LEN.get(name, 4096),
                               str(seeds), str(work)],
                              stdout=subprocess.DEVNULL,
                              stderr=subprocess.DEVNULL)
    print("fuzz merge %-8s %d -> %d inputs" %
          (name, before, len(list(seeds.iterdir()))))


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--seconds", type=int, default=60)
    ap.add_argument("--jobs", type=int, default=2)
    ap.add_argument("--report", help="also write a Markdown table here")
    ap.add_argument("--merge", action="store_true")
    ap.add_argument("--build", help="the harnesses, their logs and corpora "
                    "(default build/fuzz)")
    ap.add_argument("target", nargs="*")
    a = ap.parse_args()
    if a.build:
        global BUILD
        BUILD = Path(a.build).resolve()
    names = a.target or targets()
    if not names:
        sys.exit("fuzz: no harness in %s; run make fuzz-build" % BUILD)
    unknown = set(names) - set(targets())
    if unknown:
        sys.exit("fuzz: no harness %s in %s; the targets are: %s" %
                 (", ".join(sorted(unknown)), BUILD, " ".join(targets())))
    if a.merge:
        for n in names:
            merge(n)
        return
    with concurrent.futures.ThreadPoolExecutor(max(1, a.jobs)) as ex:
        results = list(ex.map(lambda n: run_one(n, a.seconds), names))
    failed = 0
    rows = []
    for r in results:
        ok = r["rc"] == 0
        failed += not ok
        print("fuzz %-8s %s %6.1f s %10d runs  cov %5d  ft %6d  corpus %5d "
              "(%d committed)" % (r["name"], "ok  " if ok else "FAIL",
                                  r["seconds"], r["runs"], r["cov"], r["ft"],
                                  r["corpus"], r["seeds"]))
        if not ok:
            for art in r["artifacts"] or ["(no input kept)"]:
                print("  crash: %s\n  again: build/fuzz/fuzz_%s %s\n"
                      "  log:   %s" % (art, r["name"], art, r["log"]))
        rows.append("| %s | %.0f | %d | %d | %d | %d | %s |" % (
            r["name"], r["seconds"], r["runs"], r["cov"], r["ft"],
            r["corpus"], "none" if ok else "CRASH"))
    if a.report:
        Path(a.report).write_text(
            "| target | seconds | runs | cov | ft | corpus | found |\n"
            "| --- | --- | --- | --- | --- | --- | --- |\n" +
            "\n".join(rows) + "\n")
    print("fuzz: %d passed, %d failed" % (len(results) - failed, failed))
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
