#!/usr/bin/env python3
"""Runs tests/bench/bench_planner (built by `make bench`) and writes its
section into tests/bench/RESULTS.md, keeping every other section. Exits with
the benchmark's status: 0 when the targets are met."""
import argparse
import os
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from bench_validate import update_results, machine  # noqa: E402


def main():
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--bin", required=True, help="the bench_planner binary")
    ap.add_argument("--out", default="tests/bench/RESULTS.md")
    a = ap.parse_args()
    r = subprocess.run([a.bin], capture_output=True, text=True, timeout=600)
    if r.returncode not in (0, 1) or not r.stdout.startswith("## "):
        sys.stderr.write("bench_plan: %s failed (exit %d):\n%s" % (a.bin, r.returncode, r.stderr))
        return 2
    section = r.stdout.rstrip("\n") + "\n\n- machine: %s\n" % machine()
    update_results(a.out, section)
    sys.stdout.write(section)
    return r.returncode


if __name__ == "__main__":
    sys.exit(main())
