#!/usr/bin/env python3
"""Benchmark `raptor validate` on a large generated desired-state repository.

    tests/bench/bench_validate.py --raptor ./raptor [--runs 5] [--out tests/bench/RESULTS.md]

Generates 10,000 swarms / 500 hosts / 100 swarm files with gen_desired.py into
a temporary directory, runs `RAPTOR validate DIR` once as a warm-up (not
counted) and then --runs times.  For each child it measures the wall time
(time.perf_counter around fork + exec + wait) and the peak resident set size
(ru_maxrss from os.wait4, KiB on Linux).  Every run must exit 0; otherwise the
benchmark aborts with raptor's stderr and writes nothing.

The result (median, min and max of the timed runs, targets, PASS/FAIL, date,
machine) replaces the `## validate: ...` section of --out, keeping every other
`## ` section, and is printed to stdout.

Exit status: 0 all targets met, 1 a target missed, 2 the benchmark could not
run (raptor missing, failed, or timed out).
"""

import argparse
import datetime
import json
import os
import re
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import traceback

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import gen_desired  # noqa: E402

SWARMS, HOSTS, FILES, SQUADS, SEED = 10000, 500, 100, 50, 1
SECTION = "## validate: 10,000 swarms, 500 hosts, 100 files"
TARGET_MS = 200.0
TARGET_MB = 64.0  # MiB, like the RSS figures (2**20 bytes)
TITLE = "# raptor benchmarks"
PREAMBLE = (TITLE + "\n\n"
            "Written by `make bench` (tests/bench/bench_validate.py); edits to its sections are overwritten.\n")


class BenchError(Exception):
    pass


def run_child(argv, logdir, tag, timeout):
    """Run argv once, its stdout and stderr in LOGDIR/TAG.out and .err.

    Returns dict(wall seconds, rss_kib: peak RSS, cpu: user + system seconds,
    code: exit code, out: the stdout path, err: the stderr text).

    fork + execv rather than posix_spawn/vfork: the kernel folds the RSS of the
    image a process execs *from* into its ru_maxrss.  A vfork child would carry
    this script's peak RSS; a forked one only the anonymous pages it copied.
    That floor is measured and reported (see rss_floor)."""
    out_path, err_path = os.path.join(logdir, tag + ".out"), os.path.join(logdir, tag + ".err")
    flags = os.O_WRONLY | os.O_CREAT | os.O_TRUNC
    fds = [os.open(os.devnull, os.O_RDONLY),
           os.open(out_path, flags, 0o600),
           os.open(err_path, flags, 0o600)]
    child, timed_out = [], []

    def kill():
        if child:
            timed_out.append(True)
            try:
                os.kill(child[0], signal.SIGKILL)
            except ProcessLookupError:
                pass

    timer = threading.Timer(timeout, kill)
    timer.start()
    try:
        t0 = time.perf_counter()
        pid = os.fork()
        if pid == 0:  # child: only async-signal-safe work, then exec
            try:
                for target, fd in enumerate(fds):
                    os.dup2(fd, target)
                os.execv(argv[0], argv)
            except BaseException as e:  # noqa: BLE001 - never return into the parent's code
                try:
                    os.write(2, ("exec %s: %s\n" % (argv[0], e)).encode())
                finally:
                    os._exit(127)
        child.append(pid)
        _, status, ru = os.wait4(pid, 0)
        wall = time.perf_counter() - t0
    finally:
        timer.cancel()
        for fd in fds:
            os.close(fd)

    with open(err_path, encoding="utf-8", errors="replace") as f:
        err = f.read()
    if timed_out:
        raise BenchError("%s did not finish within %gs" % (" ".join(argv), timeout))
    return {"wall": wall, "rss_kib": ru.ru_maxrss, "cpu": ru.ru_utime + ru.ru_stime,
            "code": os.waitstatus_to_exitcode(status), "out": out_path, "err": err}


def rss_floor(outdir, timeout):
    """Peak RSS (KiB) that /bin/true reports when started like raptor, or None."""
    for true in ("/bin/true", "/usr/bin/true"):
        if os.access(true, os.X_OK):
            r = run_child([true], outdir, "true", timeout)
            return r["rss_kib"] if r["code"] == 0 else None
    return None


def generate_repo(repo):
    """Run gen_desired.generate in a forked child and return its summary.

    Keeps the generator's garbage out of this process, whose resident pages
    every forked run is charged with (see run_child)."""
    r, w = os.pipe()
    pid = os.fork()
    if pid == 0:
        code = 1
        try:
            os.close(r)
            info = gen_desired.generate(repo, SWARMS, HOSTS, FILES, SQUADS, SEED)
            os.write(w, json.dumps(info).encode())
            code = 0
        except BaseException:  # noqa: BLE001 - report, never return into the parent's code
            traceback.print_exc()
        finally:
            os._exit(code)
    os.close(w)
    with os.fdopen(r, "rb") as f:
        data = f.read()
    _, status = os.waitpid(pid, 0)
    if os.waitstatus_to_exitcode(status) != 0:
        raise BenchError("generating the repository failed")
    return json.loads(data)


def cpu_model():
    try:
        with open("/proc/cpuinfo", encoding="utf-8", errors="replace") as f:
            for line in f:
                key, _, value = line.partition(":")
                if key.strip() in ("model name", "Model", "cpu model", "Hardware") and value.strip():
                    return value.strip()
    except OSError:
        pass
    return "unknown CPU"


def machine():
    u = os.uname()
    cores = os.cpu_count() or 0
    try:
        usable = len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        usable = cores
    core_text = "%d cores" % cores if usable == cores else "%d cores (%d usable)" % (cores, usable)
    return "%s, %s, %s %s %s" % (cpu_model(), core_text, u.sysname, u.release, u.machine)


def git_revision():
    """Short commit of the checkout holding this script, '+dirty' if modified; None if unknown."""
    here = os.path.dirname(os.path.abspath(__file__))
    try:
        rev = subprocess.run(["git", "-C", here, "rev-parse", "--short", "HEAD"],
                             capture_output=True, text=True, timeout=10)
        if rev.returncode != 0:
            return None
        dirty = subprocess.run(["git", "-C", here, "status", "--porcelain", "--untracked-files=no"],
                               capture_output=True, text=True, timeout=10)
        return rev.stdout.strip() + ("+dirty" if dirty.stdout.strip() else "")
    except (OSError, subprocess.SubprocessError):
        return None


def verdict(ok):
    return "PASS" if ok else "FAIL"


def profile(cmd, outdir, timeout):
    """Top inclusive entries of one run under callgrind (instruction counts, not time), or None."""
    if not shutil.which("valgrind") or not shutil.which("callgrind_annotate"):
        return None
    out = os.path.join(outdir, "callgrind.out")
    r = subprocess.run(["valgrind", "--tool=callgrind", "--callgrind-out-file=" + out] + cmd,
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, timeout=timeout * 20)
    if r.returncode != 0 or not os.path.exists(out):
        return None
    ann = subprocess.run(["callgrind_annotate", "--inclusive=yes", out], capture_output=True, text=True)
    rows, total = [], None
    for line in ann.stdout.splitlines():
        m = re.match(r"\s*([\d,]+) \(\s*([\d.]+)%\)\s+(.*)$", line)
        if not m:
            continue
        name = m.group(3)
        if "PROGRAM TOTALS" in name:
            total = m.group(1)
            continue
        # one row per function: skip the loader, libc start-up and duplicate path spellings
        fn = re.sub(r"\s*\[.*\]$", "", name).split(":")[-1]
        if fn.startswith("0x") or "below main" in fn or fn in ("main",) or any(fn == r[1] for r in rows):
            continue
        lib = re.search(r"\[(.*)\]$", name)
        where = os.path.basename(lib.group(1)) if lib else ""
        rows.append((m.group(2), fn, where))
        if len(rows) == 12:
            break
    if not rows:
        return None
    lines = ["", "Profile of one run (callgrind, inclusive instructions, %s in all):" % total, "",
             "| share | function | object |", "| ---: | --- | --- |"]
    lines += ["| %s%% | %s | %s |" % r for r in rows]
    return lines


def render(walls_ms, rss_mb, runs, info, floor_mb, prof=None):
    med_ms, med_mb = statistics.median(walls_ms), statistics.median(rss_mb)
    ok_ms, ok_mb = med_ms < TARGET_MS, med_mb < TARGET_MB
    lines = [
        SECTION,
        "",
        "`raptor validate` on a repository from `gen_desired.py --seed %d` (squads.yaml + %d swarm files: "
        "%d swarms, %d instances, %d hosts in %d squads); median of %d runs after one warm-up." % (
            SEED, info["swarm_files"], info["swarms"], info["instances"], info["hosts"], info["squads"], runs),
        "",
        "| measure | median | min | max | target | result |",
        "| --- | ---: | ---: | ---: | --- | --- |",
        "| wall time | %.1f ms | %.1f ms | %.1f ms | < %g ms | %s |" % (
            med_ms, min(walls_ms), max(walls_ms), TARGET_MS, verdict(ok_ms)),
        "| peak RSS | %.1f MB | %.1f MB | %.1f MB | < %g MB | %s |" % (
            med_mb, min(rss_mb), max(rss_mb), TARGET_MB, verdict(ok_mb)),
        "",
        "- date: %s" % datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
        "- machine: %s" % machine(),
    ]
    rev = git_revision()
    if rev:
        lines.append("- revision: %s" % rev)
    lines += [
        "- runs (ms): %s" % ", ".join("%.1f" % w for w in walls_ms),
        "- peak RSS: ru_maxrss of each child from wait4, in MiB (2^20 bytes)",
    ]
    if floor_mb is not None:
        lines.append("- RSS floor: %.1f MB is what /bin/true reports started the same way (a forked child is "
                     "charged the pages it copied from the runner), so a figure near it is an upper bound"
                     % floor_mb)
    if prof:
        lines += prof
    return "\n".join(lines) + "\n", ok_ms and ok_mb


def update_results(path, section_text):
    """Replace (or append) the section that section_text heads (its first `## ` line) in path,
    keeping the preamble and every other `## ` section."""
    heading = section_text.lstrip("\n").splitlines()[0].rstrip()
    try:
        with open(path, encoding="utf-8") as f:
            old = f.read()
    except FileNotFoundError:
        old = PREAMBLE

    preamble, sections, current = [], [], None
    for line in old.splitlines(keepends=True):
        if line.startswith("## "):
            current = [line]
            sections.append(current)
        elif current is None:
            preamble.append(line)
        else:
            current.append(line)

    def body(lines):
        return "".join(lines).strip("\n")

    parts = [body(preamble)] if body(preamble) else [TITLE]
    replaced = False
    for sec in sections:
        if sec[0].rstrip("\n").rstrip() == heading:
            if not replaced:
                parts.append(section_text.strip("\n"))
                replaced = True
            continue  # a duplicate of our section: drop it
        parts.append(body(sec))
    if not replaced:
        parts.append(section_text.strip("\n"))
    text = "\n\n".join(parts) + "\n"

    directory = os.path.dirname(os.path.abspath(path))
    os.makedirs(directory, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=".RESULTS.", dir=directory)
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="\n") as f:
            f.write(text)
        os.chmod(tmp, 0o644)
        os.replace(tmp, path)
    except BaseException:
        os.unlink(tmp)
        raise


def main(argv=None):
    ap = argparse.ArgumentParser(description="Benchmark `raptor validate` on 10,000 swarms.")
    ap.add_argument("--raptor", required=True, help="path to the raptor binary")
    ap.add_argument("--runs", type=int, default=5, help="timed runs after the warm-up (default 5)")
    ap.add_argument("--out", default="tests/bench/RESULTS.md", help="results file to update")
    ap.add_argument("--timeout", type=float, default=60.0, help="seconds before a run is killed (default 60)")
    a = ap.parse_args(argv)
    if a.runs < 1:
        ap.error("--runs must be at least 1")

    raptor = os.path.abspath(a.raptor)
    if not (os.path.isfile(raptor) and os.access(raptor, os.X_OK)):
        print("bench_validate: %s is not an executable file (run `make` first)" % a.raptor, file=sys.stderr)
        return 2

    with tempfile.TemporaryDirectory(prefix="raptor-bench-") as tmp:
        repo, logs = os.path.join(tmp, "repo"), os.path.join(tmp, "logs")
        os.mkdir(logs)
        cmd = [raptor, "validate", repo]
        walls_ms, rss_mb = [], []
        try:
            info = generate_repo(repo)
            print("bench_validate: %s (1 warm-up + %d runs)" % (" ".join(cmd), a.runs), file=sys.stderr)
            for n in range(a.runs + 1):
                r = run_child(cmd, logs, "validate.%d" % n, a.timeout)
                code = r["code"]
                if code != 0:
                    how = "was killed by signal %d" % -code if code < 0 else "exited %d" % code
                    print("bench_validate: %s %s%s; stderr:\n%s" % (
                        " ".join(cmd), how, " (warm-up)" if n == 0 else "", r["err"].rstrip()), file=sys.stderr)
                    return 2
                if n > 0:
                    walls_ms.append(r["wall"] * 1000.0)
                    rss_mb.append(r["rss_kib"] / 1024.0)
            floor_kib = rss_floor(logs, a.timeout)
            prof = profile(cmd, logs, a.timeout)
        except BenchError as e:
            print("bench_validate: %s" % e, file=sys.stderr)
            return 2

    floor_mb = None if floor_kib is None else floor_kib / 1024.0
    section, ok = render(walls_ms, rss_mb, a.runs, info, floor_mb, prof)
    update_results(a.out, section)
    sys.stdout.write(section)
    print("bench_validate: %s updated" % a.out, file=sys.stderr)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
