#!/usr/bin/env python3
"""Run raptor's libFuzzer targets, one at a time, and record what they did.

    tests/fuzz/run_fuzz.py [--check] [--seconds S] [--runs N] [--nice N]
                           [--record tests/fuzz/RESULTS.md] [TARGET ...]

Without --check (`make fuzz`): each target runs for S seconds (0: no limit)
and/or N executions on its working corpus build/fuzz/corpus/TARGET, which
grows from run to run; the committed corpus tests/fuzz/corpus/TARGET is read
but never written (merge into it on purpose, see README.md). A crash, leak,
timeout, out-of-memory or broken property is saved under
build/fuzz/artifacts/TARGET/. With --record, RESULTS.md gets a row per run
and a per-target summary, between its markers; the rest of it is kept.

With --check (`make fuzz-check`, part of `make check`): each target runs every
committed input, then fuzzes from them for S seconds; new inputs go to a
temporary directory that is removed.

Exit status: 0 when no target found anything, 1 when one did, 2 when a target
could not run.
"""

import argparse
import datetime
import os
import re
import shutil
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, os.path.join(REPO, "tests", "bench"))
from bench_validate import machine  # noqa: E402  (one description of the machine for every RESULTS.md)

# per target: the dictionary (in tests/fuzz/dict/) and the largest input tried
TARGETS = {
    "yaml_file": ("yaml.dict", 4096),
    "yaml_tree": ("yaml.dict", 4096),
    "xmlrpc_response": ("xmlrpc.dict", 8192),
    "progname": (None, 256),
    "units": ("units.dict", 64),
    "planfile": ("planfile.dict", 8192),
}
BEGIN, END = "<!-- run_fuzz: begin -->", "<!-- run_fuzz: end -->"
PREAMBLE = """# raptor fuzzing results

The tables between the markers are written by `make fuzz`
(tests/fuzz/run_fuzz.py): one row per target run, and per target the sum
over its recorded runs. Everything outside the markers is written by hand.
"""
RUN_HEADER = ("| date (UTC) | target | time | executions | exec/s | cov | ft | corpus | "
              "result | revision |\n"
              "| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | --- | --- |\n")


def revision():
    def git(*args):
        return subprocess.run(["git", "-C", REPO] + list(args), capture_output=True,
                              text=True, check=False).stdout.strip()
    rev = git("rev-parse", "--short", "HEAD") or "unknown"
    # dirty only for what the targets are built from: the reconciler and the harnesses
    if git("status", "--porcelain", "--", "reconciler", "tests/fuzz/*.[ch]", "tests/fuzz/fuzz.mk",
           "Makefile"):
        rev += "+dirty"
    return rev


def clang_version():
    out = subprocess.run(["clang", "--version"], capture_output=True, text=True,
                         check=False).stdout
    return out.splitlines()[0] if out else "unknown clang"


def parse(log):
    """What libFuzzer printed: executions, speed, coverage, and any finding."""
    r = {"execs": 0, "exec_s": 0, "cov": 0, "ft": 0, "corp": 0, "corp_bytes": "0b",
         "finding": None, "artifact": None, "seconds": None}
    for m in re.finditer(r"^#(\d+)\s+\w+\s+cov: (\d+) ft: (\d+) corp: (\d+)/(\w+)", log, re.M):
        r["execs"], r["cov"], r["ft"] = int(m[1]), int(m[2]), int(m[3])
        r["corp"], r["corp_bytes"] = int(m[4]), m[5]
    m = re.search(r"^stat::number_of_executed_units: (\d+)", log, re.M)
    if m:
        r["execs"] = max(r["execs"], int(m[1]))
    m = re.search(r"^stat::average_exec_per_sec:\s+(\d+)", log, re.M)
    if m:
        r["exec_s"] = int(m[1])
    m = re.search(r"Done (\d+) runs in (\d+) second", log)
    if m:
        r["seconds"] = int(m[2])
    for pat in (r"fuzz: (\S+: property '.*' broken)",
                r"ERROR: (AddressSanitizer: [\w-]+)",
                r"ERROR: (LeakSanitizer: [\w ]+)",
                r"(runtime error: [^\n]+)",
                r"ERROR: (libFuzzer: [\w -]+)"):
        m = re.search(pat, log)
        if m:
            r["finding"] = m[1].strip()
            break
    m = re.search(r"Test unit written to (\S+)", log)
    if m:
        r["artifact"] = m[1]
    return r


def run_target(name, args, tmp):
    bin_path = os.path.join(args.bin_dir, "fuzz_" + name)
    committed = os.path.join(HERE, "corpus", name)
    dict_name, max_len = TARGETS[name]
    if not os.access(bin_path, os.X_OK):
        print("run_fuzz: %s is not built (make fuzz-build)" % bin_path, file=sys.stderr)
        return None
    os.makedirs(committed, exist_ok=True)
    if args.check:
        work = os.path.join(tmp, name)
        artifacts = os.path.join(args.bin_dir, "check-artifacts", name)
    else:
        work = os.path.join(args.bin_dir, "corpus", name)
        artifacts = os.path.join(args.bin_dir, "artifacts", name)
    logs = os.path.join(args.bin_dir, "logs")
    for d in (work, artifacts, logs):
        os.makedirs(d, exist_ok=True)
    argv = [bin_path, "-print_final_stats=1", "-timeout=%d" % args.timeout,
            "-rss_limit_mb=2048", "-max_len=%d" % max_len,
            "-artifact_prefix=%s/" % artifacts, "-max_total_time=%d" % args.seconds]
    if args.runs:
        argv.append("-runs=%d" % args.runs)
    if dict_name:
        argv.append("-dict=%s" % os.path.join(HERE, "dict", dict_name))
    argv += [work, committed]
    if args.nice:
        argv = ["nice", "-n", str(args.nice)] + argv
    env = dict(os.environ)
    env.setdefault("ASAN_OPTIONS", "detect_leaks=1:strict_string_checks=1")
    env.setdefault("UBSAN_OPTIONS", "print_stacktrace=1:halt_on_error=1")
    symbolizer = shutil.which("llvm-symbolizer")
    if symbolizer:
        env.setdefault("ASAN_SYMBOLIZER_PATH", symbolizer)
    log_path = os.path.join(logs, name + (".check" if args.check else "") + ".log")
    start = datetime.datetime.now(datetime.timezone.utc)
    rev = revision()  # of the sources the binary was just built from, not at the end
    print("== %s (%s)" % (name, "check" if args.check else "fuzz"), flush=True)
    with open(log_path, "w", encoding="utf-8") as log:
        rc = subprocess.run(argv, stdout=log, stderr=subprocess.STDOUT, check=False,
                            env=env).returncode
    with open(log_path, encoding="utf-8", errors="replace") as f:
        text = f.read()
    r = parse(text)
    r["rc"], r["start"], r["rev"] = rc, start, rev
    if r["seconds"] is None:
        r["seconds"] = int((datetime.datetime.now(datetime.timezone.utc) - start)
                           .total_seconds())
    # SIGINT (a person, or a campaign cut short) is not a finding
    r["interrupted"] = "libFuzzer: run interrupted" in text
    if rc and not r["finding"] and not r["interrupted"]:
        r["finding"] = "exit status %d" % rc
    print("   %d executions in %d s (%d/s), cov %d ft %d, corpus %d files %s" %
          (r["execs"], r["seconds"], r["exec_s"], r["cov"], r["ft"], r["corp"],
           r["corp_bytes"]))
    if r["finding"]:
        print("   FINDING: %s" % r["finding"])
        if r["artifact"]:
            print("   input: %s  (reproduce: %s %s)" % (r["artifact"], bin_path, r["artifact"]))
        print("   log: %s" % log_path)
        # the report itself, from the sanitizer's or libFuzzer's first line
        m = re.search(r"^(==\d+==ERROR|fuzz: |.*runtime error).*", text, re.M)
        if m:
            print("\n".join("   | " + l for l in text[m.start():].splitlines()[:60]))
    return r


def read_rows(path):
    """The run rows already in RESULTS.md, as lists of cells."""
    try:
        with open(path, encoding="utf-8") as f:
            text = f.read()
    except FileNotFoundError:
        return "", [], ""
    if BEGIN not in text or END not in text:
        return text, [], ""
    head, rest = text.split(BEGIN, 1)
    body, tail = rest.split(END, 1)
    rows = []
    in_runs = False
    for line in body.splitlines():
        if line.startswith("## Runs"):
            in_runs = True
        elif line.startswith("## "):
            in_runs = False
        elif in_runs and line.startswith("| ") and not line.startswith("| date") \
                and not line.startswith("| ---"):
            rows.append([c.strip() for c in line.strip().strip("|").split("|")])
    return head, rows, tail


def record(path, results):
    head, rows, tail = read_rows(path)
    if not head.strip():
        head = PREAMBLE + "\n"
    if not tail.strip():
        tail = "\n\n## Findings\n\nNone yet.\n"
    rev = revision()
    for name, r in results:
        result = "FINDING: " + r["finding"] if r["finding"] else \
            "ok, interrupted" if r.get("interrupted") else "ok"
        rows.append([r["start"].strftime("%Y-%m-%d %H:%M"), name, "%d s" % r["seconds"],
                     "{:,}".format(r["execs"]), "{:,}".format(r["exec_s"]), str(r["cov"]),
                     str(r["ft"]), "%d / %s" % (r["corp"], r["corp_bytes"]), result, r["rev"]])
    out = [BEGIN, "", "## Per target", "",
           "Sum over the recorded runs; coverage (cov: instrumented edges, ft: features)",
           "and corpus size are those of the target's latest run.", "",
           "| target | runs | executions | time | latest exec/s | cov | ft | corpus | "
           "open findings |",
           "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | --- |"]
    for name in TARGETS:
        mine = [row for row in rows if row[1] == name]
        if not mine:
            continue
        execs = sum(int(row[3].replace(",", "")) for row in mine)
        secs = sum(int(row[2].split()[0]) for row in mine)
        last = mine[-1]
        open_findings = last[8] if last[8].startswith("FINDING") else "none"
        out.append("| %s | %d | %s | %s | %s | %s | %s | %s | %s |" %
                   (name, len(mine), "{:,}".format(execs), duration(secs), last[4], last[5],
                    last[6], last[7], open_findings))
    out += ["", "- machine: %s" % machine(), "- fuzzer: libFuzzer, %s, "
            "-fsanitize=fuzzer,address,undefined" % clang_version(),
            "- updated: %s UTC, revision %s" %
            (datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M"), rev),
            "", "## Runs", "", RUN_HEADER.rstrip("\n")]
    out += ["| " + " | ".join(row) + " |" for row in rows]
    out += ["", END]
    with open(path + ".tmp", "w", encoding="utf-8") as f:
        f.write(head + "\n".join(out) + tail)
    os.replace(path + ".tmp", path)


def duration(secs):
    if secs < 120:
        return "%d s" % secs
    if secs < 7200:
        return "%d min" % round(secs / 60)
    return "%.1f h" % (secs / 3600)


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("targets", nargs="*", default=list(TARGETS))
    ap.add_argument("--bin-dir", default=os.path.join(REPO, "build", "fuzz"))
    ap.add_argument("--seconds", type=int, default=60, help="per target; 0: no time limit")
    ap.add_argument("--runs", type=int, default=0, help="executions per target; 0: no limit")
    ap.add_argument("--nice", type=int, default=0)
    ap.add_argument("--timeout", type=int, default=10, help="seconds one input may take")
    ap.add_argument("--check", action="store_true")
    ap.add_argument("--record", help="RESULTS.md to update")
    args = ap.parse_args()
    unknown = [t for t in args.targets if t not in TARGETS]
    if unknown:
        ap.error("unknown target %s; known: %s" % (", ".join(unknown), ", ".join(TARGETS)))
    if not args.seconds and not args.runs:
        ap.error("give --seconds or --runs a limit")
    results, failed = [], False
    with tempfile.TemporaryDirectory(prefix="raptor-fuzz-") as tmp:
        for name in args.targets:
            r = run_target(name, args, tmp)
            if r is None:
                return 2
            results.append((name, r))
            failed |= bool(r["finding"])
            if args.record:
                record(args.record, [(name, r)])
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
