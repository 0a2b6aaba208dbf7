#!/usr/bin/env python3
"""Benchmark `raptor status` and `raptor plan` against a simulated fleet.

    tests/bench/bench_fleet.py --raptor ./raptor --parse-bin build/plain/bench_xmlparse
                               [--runs 5] [--sizes 10,100,1000] [--out tests/bench/RESULTS.md]
                               [--full-baselines] [--no-profile] [--faults dead,blackhole,silent]

What it does, in a temporary directory that is removed afterwards:

1. Writes, in a forked child, the desired state of the first N hosts of the
   fleet_model fleet for each size N (10 hosts to a squad, 18 swarms per
   squad, one small rollout: see fleet_model.py), and the answer of host 0
   to raptor's query (`fleet-sim --dump 0`).
2. Measures the parse time of that answer in raptor's codec
   (bench_xmlparse), and so the physical limit of each size:
   latency x ceil(hosts / concurrency) + hosts x parse time.
3. Starts fleet-sim with the largest size at 20 ms, then for each size runs
   `raptor status` and `raptor plan` once as a warm-up and --runs times,
   each a forked child whose wall time (fork to wait4) and peak RSS
   (ru_maxrss) and CPU time (ru_utime + ru_stime) are recorded; checks each
   output (every host answered, the programs counted, the plan's starts and
   stops). Then the baselines on the same fleet: Velociraptor's serial
   gathering (vr_baseline.py) and `supervisorctl -s URL status` host by host,
   with fewer runs for the big ones (see --full-baselines). Then an ideal
   client (curl --parallel, 64 at a time, no XML parsing) through the same
   simulator, and callgrind and massif on the largest `raptor status`.
4. Restarts the simulator at 0 ms: raptor's own floor, and the simulator's
   capacity (curl, 3 requests per host).
5. Restarts it with 10% of the hosts refusing connections (dead), dropping
   SYNs (blackhole: a powered-off host) and never answering (silent), and runs
   the largest `raptor status` against each.

The simulator is stopped by its PID on every path (SIGTERM, then SIGKILL).
The results replace the `## fleet...` sections of --out (bench_validate's
update_results keeps the other sections) and are printed. Exit status: 0
every target met, 1 a target missed, 2 the benchmark could not run.
"""

import argparse
import datetime
import json
import math
import os
import re
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import fleet_model  # noqa: E402
from bench_validate import (BenchError, git_revision, machine, rss_floor, run_child,  # noqa: E402
                            update_results)

SIM = os.path.join(HERE, "fleet-sim")
VR = os.path.join(HERE, "vr_baseline.py")
REQUEST = os.path.join(HERE, "data", "raptor-query-request.http")
PROGRAMS = 20
LATENCY_MS = 20.0
CONCURRENCY = fleet_model.SETTINGS["concurrency"]
CONNECT_S = 2.0  # fleet_model.SETTINGS: connect 2s, request 10s
REQUEST_S = 10.0
SHARE = 0.10
TARGET_LIMIT_RATIO = 2.0
TARGET_SPEEDUP = 20.0
TARGET_MB = 64.0

SEC_MAIN = "## fleet: status and plan over 10, 100 and 1,000 simulated hosts × 20 programs at 20 ms"
SEC_SIM = "## fleet: the simulator is not the bottleneck"
SEC_FAULT = "## fleet: 10% of the hosts unreachable"
SEC_PROF = "## fleet: profile of raptor status over the largest fleet"


def on_term(signum, frame):
    raise SystemExit(128 + signum)  # unwinds through every finally: the simulator is stopped


# ---- children -----------------------------------------------------------------------------

def measure(argv, logdir, tag, runs, ok_codes=(0,), warmup=True, timeout=120.0, check=None):
    """Warm-up (unless warmup=False) + runs; every run must exit with one of ok_codes and pass check(out).
    Returns the counted runs; measure.total_wall is the wall time of all of them, warm-up included."""
    res = []
    measure.total_wall = 0.0
    for n in range(runs + (1 if warmup else 0)):
        r = run_child(argv, logdir, "%s.%d" % (tag, n), timeout)
        measure.total_wall += r["wall"]
        if r["code"] not in ok_codes:
            raise BenchError("%s exited %d; stderr:\n%s" % (" ".join(argv), r["code"], r["err"].rstrip()))
        if check:
            check(r["out"])
        if n > 0 or not warmup:
            res.append(r)
    return res


def last_line(path):
    with open(path, encoding="utf-8", errors="replace") as f:
        lines = [line.rstrip("\n") for line in f if line.strip()]
    return lines[-1] if lines else ""


def status_checker(hosts, unreachable=0):
    want = (hosts, hosts - unreachable, unreachable, (hosts - unreachable) * (PROGRAMS - len(fleet_model.UNMANAGED)),
            (hosts - unreachable) * len(fleet_model.UNMANAGED))

    def check(out):
        line = last_line(out)
        m = re.match(r"(\d+) hosts?: (\d+) answered, (\d+) unreachable; (\d+) managed and (\d+) unmanaged", line)
        if not m or tuple(int(x) for x in m.groups()) != want:
            raise BenchError("raptor status: expected %d hosts: %d answered, %d unreachable; %d managed and %d "
                             "unmanaged programs; got: %s" % (want + (line,)))
    return check


def plan_checker(starts, stops):
    def check(out):
        line = last_line(out)
        m = re.match(r"Plan: (\d+) to start, (\d+) to stop", line)
        if not m or (int(m.group(1)), int(m.group(2))) != (starts, stops):
            raise BenchError("raptor plan: expected %d to start and %d to stop; got: %s" % (starts, stops, line))
    return check


def round_trips_ms(out):
    with open(out, encoding="utf-8", errors="replace") as f:
        return [float(m.group(1)) for m in re.finditer(r"  up, \d+ programs? \((\d+) ms\)", f.read())]


def reasons(out):
    counts = {}
    with open(out, encoding="utf-8", errors="replace") as f:
        for m in re.finditer(r"UNREACHABLE\s+(.*)", f.read()):
            counts[m.group(1).strip()] = counts.get(m.group(1).strip(), 0) + 1
    return counts


# ---- the simulator ------------------------------------------------------------------------

class Sim:
    """fleet-sim as a child: started, waited for (ready file), stopped by its PID."""

    def __init__(self, workdir, hosts, latency_ms, **shares):
        self.workdir, self.hosts, self.latency_ms, self.shares = workdir, hosts, latency_ms, shares
        self.proc = None
        self.ready = os.path.join(workdir, "sim.ready")
        self.log = os.path.join(workdir, "sim.log")
        self.stats_path = os.path.join(workdir, "sim.stats")
        self.info = self.stats = None

    def __enter__(self):
        argv = [sys.executable, SIM, "--hosts", str(self.hosts), "--programs", str(PROGRAMS),
                "--latency-ms", str(self.latency_ms), "--ready-file", self.ready, "--stats-file", self.stats_path]
        for k, v in self.shares.items():
            argv += ["--" + k, str(v)]
        with open(self.log, "ab") as log:
            self.proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=log, stderr=log)
        try:
            deadline = time.monotonic() + 120
            while not os.path.exists(self.ready):
                if self.proc.poll() is not None:
                    raise BenchError("fleet-sim exited %d before it was ready:\n%s" % (self.proc.returncode, self.tail()))
                if time.monotonic() > deadline:
                    raise BenchError("fleet-sim was not ready within 120 s:\n%s" % self.tail())
                time.sleep(0.05)
            with open(self.ready) as f:
                self.info = json.load(f)
        except BaseException:
            self.stop()
            raise
        return self

    def __exit__(self, *exc):
        self.stop()
        return False

    def tail(self):
        try:
            with open(self.log, errors="replace") as f:
                return "".join(f.readlines()[-10:])
        except OSError:
            return ""

    def cpu(self):
        """The simulator's CPU seconds so far (user + system)."""
        with open("/proc/%d/stat" % self.proc.pid) as f:
            fields = f.read().rpartition(")")[2].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

    def snapshot(self):
        """The simulator's figures since the last snapshot (SIGUSR1), which it then starts afresh."""
        if os.path.exists(self.stats_path):
            os.unlink(self.stats_path)
        os.kill(self.proc.pid, signal.SIGUSR1)
        deadline = time.monotonic() + 10
        while not os.path.exists(self.stats_path):
            if time.monotonic() > deadline or self.proc.poll() is not None:
                raise BenchError("fleet-sim did not write its statistics on SIGUSR1:\n%s" % self.tail())
            time.sleep(0.01)
        with open(self.stats_path) as f:
            stats = json.load(f)
        os.unlink(self.stats_path)
        return stats

    def stop(self):
        p = self.proc
        if p is None:
            return
        self.proc = None
        if p.poll() is None:
            os.kill(p.pid, signal.SIGTERM)
            try:
                p.wait(timeout=10)
            except subprocess.TimeoutExpired:
                os.kill(p.pid, signal.SIGKILL)
                p.wait()
        if os.path.exists(self.ready):
            os.unlink(self.ready)
        try:
            with open(self.stats_path) as f:
                self.stats = json.load(f)
            os.unlink(self.stats_path)
        except (OSError, ValueError):
            self.stats = None


# ---- baselines ----------------------------------------------------------------------------

def vr_baseline(addrs_file, hosts, logdir, runs):
    res = []
    for n in range(runs):
        r = run_child([sys.executable, VR, addrs_file], logdir, "vr.%d.%d" % (hosts, n), 600)
        line = last_line(r["out"])
        if r["code"] != 0 or not line.startswith("%d hosts, %d processes" % (hosts, hosts * PROGRAMS)):
            raise BenchError("vr_baseline.py: exit %d, %s%s" % (r["code"], line, r["err"][-500:]))
        res.append(r)
    return res


def ctl_baseline(ctl, addrs, logdir, runs, sample_every=1):
    """supervisorctl -s URL status, host after host; each run's wall time (scaled up when sampled)."""
    sample = addrs[::sample_every]
    walls = []
    for _ in range(runs):
        t0 = time.perf_counter()
        for a in sample:
            r = subprocess.run([ctl, "-s", "http://%s:%d" % (a, fleet_model.PORT), "status"],
                               stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, timeout=60)
            if r.returncode != 0 or r.stdout.count(b"RUNNING") != PROGRAMS:
                raise BenchError("supervisorctl -s http://%s:%d status: exit %d:\n%s"
                                 % (a, fleet_model.PORT, r.returncode, r.stdout[-500:].decode(errors="replace")))
        walls.append((time.perf_counter() - t0) * len(addrs) / len(sample))
    return walls


def curl_sweep(curl, cfg, body):
    """curl --parallel over the URLs of cfg, 64 at a time; (wall s, [time_total s])."""
    t0 = time.perf_counter()
    r = subprocess.run([curl, "-s", "--parallel", "--parallel-max", str(CONCURRENCY), "-H", "Content-Type: text/xml",
                        "-H", "Expect:", "--data-binary", "@" + body, "-K", cfg, "-w", "%{http_code} %{time_total}\\n"],
                       stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, timeout=300)
    wall = time.perf_counter() - t0
    rows = [line.split() for line in r.stdout.decode().splitlines() if line.strip()]
    bad = [x for x in rows if x[0] != "200"]
    if r.returncode != 0 or bad:
        raise BenchError("curl --parallel: exit %d, %d answers not 200" % (r.returncode, len(bad)))
    return wall, [float(x[1]) for x in rows]


def write_curl_config(path, hosts, repeat, outfile=os.devnull):
    with open(path, "w") as f:
        for _ in range(repeat):
            for i in range(hosts):
                f.write('url = "http://%s:%d/RPC2"\noutput = "%s"\n' % (fleet_model.address(i), fleet_model.PORT, outfile))


# ---- profiles -----------------------------------------------------------------------------

def callgrind(cmd, logdir, attempts=3):
    """Top inclusive entries of one run under callgrind; (rows, total, crashes) or None."""
    if not shutil.which("valgrind") or not shutil.which("callgrind_annotate"):
        return None
    crashes = 0
    out = os.path.join(logdir, "callgrind.out")
    for _ in range(attempts):
        r = subprocess.run(["valgrind", "--tool=callgrind", "--callgrind-out-file=" + out] + cmd,
                           stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, timeout=900)
        if r.returncode == 0 and os.path.exists(out):
            break
        crashes += 1
    else:
        return None
    ann = subprocess.run(["callgrind_annotate", "--inclusive=yes", "--threshold=100", out],
                         capture_output=True, text=True)
    rows, total, shares = [], None, {}
    for line in ann.stdout.splitlines():
        m = re.match(r"\s*([\d,]+) \(\s*([\d.]+)%\)\s+(.*)$", line)
        if not m:
            continue
        name = m.group(3)
        if "PROGRAM TOTALS" in name:
            total = m.group(1)
            continue
        fn = re.sub(r"\s*\[.*\]$", "", name).split(":")[-1]
        fn_plain = re.sub(r"'\d+$", "", fn)
        shares[fn_plain] = max(shares.get(fn_plain, 0.0), float(m.group(2)))
        if len(rows) == 18:
            continue
        if fn.startswith("0x") or "below main" in fn or fn in ("main", "__libc_start_main@@GLIBC_2.34") or \
                any(fn == x[1] for x in rows):
            continue
        lib = re.search(r"\[(.*)\]$", name)
        where = os.path.basename(lib.group(1)) if lib else ""
        src = re.match(r"(\S+?\.c):", name)
        if src and "reconciler/" in src.group(1) and where in ("", "raptor"):
            where = "raptor (%s)" % os.path.basename(src.group(1))
        rows.append((m.group(2), fn, where))
    return (rows, total, crashes, shares) if rows else None


HELPERS = re.compile(r"\((xalloc|arena|buf|vec|strmap)\.c:\d+\)")


def massif(cmd, logdir):
    """Heap at the peak (massif), by the first frame in raptor's own code that is not an allocator
    helper; (peak bytes, [(bytes, site)]) or None."""
    if not shutil.which("valgrind"):
        return None
    out = os.path.join(logdir, "massif.out")
    r = subprocess.run(["valgrind", "--tool=massif", "--depth=20", "--threshold=0.5", "--massif-out-file=" + out] + cmd,
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, timeout=900)
    if r.returncode != 0 or not os.path.exists(out):
        return None
    with open(out, errors="replace") as f:
        text = f.read()
    peak = None
    for snap in text.split("#-----------\nsnapshot=")[1:]:
        if "heap_tree=peak" in snap:
            peak = snap
    if peak is None:
        return None
    nodes = []
    for line in peak.splitlines():
        m = re.match(r"( *)n(\d+): (\d+) (.*)$", line)
        if m:
            nodes.append((len(m.group(1)), int(m.group(2)), int(m.group(3)), m.group(4)))
    sites = {}

    def walk(k):
        depth, nkids, size, desc = nodes[k]
        k += 1
        is_site = re.search(r"\(\w+\.c:\d+\)", desc) and not HELPERS.search(desc)
        if depth > 0 and (is_site or nkids == 0):
            m = re.search(r"0x[0-9A-F]+: (\S+) \((\w+\.c:\d+)\)", desc)
            key = "%s (%s)" % (m.group(1), m.group(2)) if m else ("elsewhere" if "below massif" in desc else desc[:60])
            sites[key] = sites.get(key, 0) + size
            for _ in range(nkids):  # skip the subtree
                k = skip(k)
            return k
        for _ in range(nkids):
            k = walk(k)
        return k

    def skip(k):
        nkids = nodes[k][1]
        k += 1
        for _ in range(nkids):
            k = skip(k)
        return k

    walk(0)
    total = nodes[0][2] if nodes else 0
    return total, sorted(((v, k) for k, v in sites.items()), reverse=True)


# ---- the run ------------------------------------------------------------------------------

def prepare(tmp, sizes):
    """Desired states and host 0's answer, written by a forked child (the runner stays small)."""
    r, w = os.pipe()
    pid = os.fork()
    if pid == 0:
        code = 1
        try:
            os.close(r)
            info = {}
            for n in sizes:
                d = os.path.join(tmp, "desired%d" % n)
                info[n] = fleet_model.write_desired(d, n, PROGRAMS)
                with open(os.path.join(tmp, "addrs%d" % n), "w") as f:
                    f.write("".join(fleet_model.address(i) + "\n" for i in range(n)))
            os.write(w, json.dumps(info).encode())
            code = 0
        except BaseException:  # noqa: BLE001
            import traceback
            traceback.print_exc()
        finally:
            os._exit(code)
    os.close(w)
    with os.fdopen(r, "rb") as f:
        data = f.read()
    _, status = os.waitpid(pid, 0)
    if os.waitstatus_to_exitcode(status) != 0:
        raise BenchError("writing the desired states failed")
    with open(os.path.join(tmp, "host0.xml"), "wb") as f:
        subprocess.run([sys.executable, SIM, "--dump", "0", "--programs", str(PROGRAMS)], stdout=f, check=True)
    return {int(k): v for k, v in json.loads(data).items()}


def loadavg():
    try:
        with open("/proc/loadavg") as f:
            return " ".join(f.read().split()[:3])
    except OSError:
        return "?"


def med(xs):
    return statistics.median(xs) if xs else None


def fmt_s(s):
    if s is None:
        return "—"
    return "%.0f ms" % (s * 1000) if s < 1 else "%.2f s" % s


def run(a, tmp):
    sizes = a.sizes
    big = max(sizes)
    logs = os.path.join(tmp, "logs")
    os.mkdir(logs)
    state = os.path.join(tmp, "state")
    os.mkdir(state)
    R = {"sizes": sizes, "runs": a.runs}
    t_start = time.perf_counter()

    def say(msg):
        print("bench_fleet: [%5.0f s] %s" % (time.perf_counter() - t_start, msg), file=sys.stderr, flush=True)

    # private copies: `make` rewrites ./raptor in place, which would change the binary under a run
    for attr in ("raptor", "parse_bin"):
        copy = os.path.join(tmp, os.path.basename(getattr(a, attr)))
        shutil.copy2(getattr(a, attr), copy)
        setattr(a, attr, copy)
    R["load_start"] = loadavg()
    say("writing desired states for %s hosts" % ", ".join(map(str, sizes)))
    R["desired"] = prepare(tmp, sizes)
    # parse time of one host's answer
    p = subprocess.run([a.parse_bin, os.path.join(tmp, "host0.xml")], capture_output=True, text=True, timeout=300)
    if p.returncode != 0:
        raise BenchError("%s failed: %s" % (a.parse_bin, p.stderr.strip()))
    R["parse"] = json.loads(p.stdout)
    parse_s = R["parse"]["median_us"] / 1e6
    R["limit"] = {n: LATENCY_MS / 1000 * math.ceil(n / CONCURRENCY) + n * parse_s for n in sizes}
    floor_kib = rss_floor(logs, 60)
    R["floor_mb"] = floor_kib / 1024 if floor_kib else None

    def cmd(verb, n):
        return [a.raptor, verb, os.path.join(tmp, "desired%d" % n), "--state-dir", state]

    curl = shutil.which("curl")
    ctl = shutil.which("supervisorctl")
    body = os.path.join(tmp, "request.xml")
    with open(REQUEST, "rb") as f:
        with open(body, "wb") as g:
            g.write(f.read().partition(b"\r\n\r\n")[2])

    say("fleet-sim: %d hosts at %g ms" % (big, LATENCY_MS))
    with Sim(tmp, big, LATENCY_MS) as sim:
        R["sim_render_s"] = sim.info["render_s"]
        R["raptor"] = {}
        for n in sizes:
            d = R["desired"][n]
            for verb in ("status", "plan"):
                say("raptor %s, %d hosts: 1 warm-up + %d runs" % (verb, n, a.runs))
                sim.snapshot()
                check = status_checker(n) if verb == "status" else plan_checker(d["expected_starts"], d["expected_stops"])
                res = measure(cmd(verb, n), logs, "%s%d" % (verb, n), a.runs, check=check)
                R["raptor"][(verb, n)] = res
                if verb == "status" and n == big:
                    R["sim_window"] = sim.snapshot()
                    R["sim_busy"] = R["sim_window"]["cpu_s"] / measure.total_wall
                    R["rtt_ms"] = round_trips_ms(res[-1]["out"])
        # baselines
        R["vr"], R["ctl"], R["ctl_note"] = {}, {}, {}
        for n in sizes:
            runs = a.runs if (n <= 10 or a.full_baselines) else (3 if n <= 100 else 1)
            say("baseline: Velociraptor's serial getAllProcessInfo, %d hosts, %d run%s" % (n, runs, "s"[:runs != 1]))
            R["vr"][n] = vr_baseline(os.path.join(tmp, "addrs%d" % n), n, logs, runs)
        if ctl:
            for n in sizes:
                addrs = [fleet_model.address(i) for i in range(n)]
                runs = 3 if n <= 10 else 1
                every = 1 if (n <= 100 or a.full_baselines) else max(1, n // 50)
                say("baseline: supervisorctl status host by host, %d hosts%s, %d run%s"
                    % (n, "" if every == 1 else " (every %dth)" % every, runs, "s"[:runs != 1]))
                R["ctl"][n] = ctl_baseline(ctl, addrs, logs, runs, every)
                R["ctl_note"][n] = every
        if curl:
            say("ideal client: curl --parallel %d, %d hosts" % (CONCURRENCY, big))
            cfg = os.path.join(tmp, "curl%d.cfg" % big)
            write_curl_config(cfg, big, 1)
            sweeps = [curl_sweep(curl, cfg, body) for _ in range(3)]
            R["ideal"] = {"walls": [s[0] for s in sweeps], "times": sweeps[len(sweeps) // 2][1]}
        if not a.no_profile:
            say("callgrind: raptor status, %d hosts" % big)
            R["callgrind"] = callgrind(cmd("status", big), logs)
            say("massif: raptor status, %d hosts" % big)
            R["massif"] = massif(cmd("status", big), logs)

    say("fleet-sim: %d hosts at 0 ms" % big)
    with Sim(tmp, big, 0) as sim:
        c0 = sim.cpu()
        R["zero"] = measure(cmd("status", big), logs, "zero", a.runs, check=status_checker(big))
        R["zero_sim_busy"] = (sim.cpu() - c0) / measure.total_wall
        if curl:
            cfg = os.path.join(tmp, "curl%dx3.cfg" % big)
            write_curl_config(cfg, big, 3)
            caps = []
            for _ in range(3):
                c0 = sim.cpu()
                wall, times = curl_sweep(curl, cfg, body)
                caps.append((len(times) / wall, (sim.cpu() - c0) / len(times), (sim.cpu() - c0) / wall))
            caps.sort()
            R["capacity"] = caps[1]

    R["faults"] = {}
    for kind in a.faults:
        runs = a.runs if kind == "dead" else min(a.runs, 3 if kind == "blackhole" else 2)
        say("fleet-sim: %d hosts at %g ms, %d%% %s; raptor status: %d runs" % (big, LATENCY_MS, SHARE * 100, kind, runs))
        with Sim(tmp, big, LATENCY_MS, **{kind: SHARE}) as sim:
            down = sim.info["counts"].get(kind, 0)
            res = measure(cmd("status", big), logs, "fault-%s" % kind, runs, ok_codes=(3,), warmup=False,
                          check=status_checker(big, down))
            R["faults"][kind] = {"res": res, "down": down, "reasons": reasons(res[-1]["out"])}
    R["load_end"] = loadavg()
    R["elapsed"] = time.perf_counter() - t_start
    return R


# ---- the report ---------------------------------------------------------------------------

def verdict(ok):
    return "PASS" if ok else "FAIL"


def explain(R, res, targets):
    """Computed reasons for each missed target; [] when all are met."""
    big = max(R["sizes"])
    missed = [name for name, _, ok in targets if not ok]
    if not missed:
        return []
    out = []
    st = res[("status", big)]
    runs = R["raptor"][("status", big)]
    wall, cpu = st["wall"], med([x["cpu"] for x in runs])
    parse_us = R["parse"]["median_us"]
    net = LATENCY_MS / 1000 * math.ceil(big / CONCURRENCY)
    cg = R.get("callgrind")
    shares = cg[3] if cg else {}
    if any("limit" in m or "faster" in m for m in missed):
        text = ("- time: `raptor status` over %s hosts takes %s and %s of CPU (user + system, all threads: the "
                "answers are decoded on one worker a core); round trips take %s in all, and on a loaded machine "
                "threads wait for a CPU. The XML decoding alone (%s × %.0f µs) is %s." % (
                    "{:,}".format(big), fmt_s(wall), fmt_s(cpu), fmt_s(net),
                    "{:,}".format(big), parse_us, fmt_s(big * parse_us / 1e6)))
        if shares.get("xr_parse_response"):
            text += (" Of raptor's instructions, %.0f%% are `xr_parse_response` (libxml2's SAX2 `xmlParseDocument` "
                     "%.0f%%, of which the decoder's callbacks `on_start_element` %.0f%%, `on_end_element` %.0f%% and "
                     "`on_text` %.0f%%), %.0f%% `load_desired`." % (
                         shares.get("xr_parse_response", 0), shares.get("xmlParseDocument", 0),
                         shares.get("on_start_element", 0), shares.get("on_end_element", 0),
                         shares.get("on_text", 0), shares.get("load_desired", 0)))
        out.append(text)
    if any("serial baseline" in m for m in missed):
        vr = med([x["wall"] for x in R["vr"][big]])
        out.append("- the serial baseline costs %.1f ms a host here (%g ms of latency + Python's own work); %g× faster "
                   "means %s for %s hosts, and the physical limit itself is %s (%.1f× faster than the baseline), so "
                   "the decoding must get faster as well as overlap the round trips." % (
                       vr / big * 1000, LATENCY_MS, TARGET_SPEEDUP, fmt_s(vr / TARGET_SPEEDUP), "{:,}".format(big),
                       fmt_s(R["limit"][big]), vr / R["limit"][big]))
    if any("RSS" in m for m in missed):
        ms = R.get("massif")
        if ms:
            total, sites = ms
            out.append("- memory: the heap peaks at %.0f MB (massif); the most of it is held by %s." % (
                total / 2**20, ", ".join("%.0f MB at %s" % (b / 2**20, site) for b, site in sites[:4])))
        else:
            out.append("- memory: no massif profile to break the peak down")
    if any("dead" in m for m in missed) and "dead" in R["faults"]:
        f = R["faults"]["dead"]
        out.append("- refusing hosts: each of the %d holds one of the %d slots until its connect fails, so they "
                   "stall the sweep for about ⌈%d / %d⌉ connect attempts." % (
                       f["down"], CONCURRENCY, f["down"], CONCURRENCY))
    return out


def render(R):
    sizes, big = R["sizes"], max(R["sizes"])
    mb = lambda kib: kib / 1024.0  # noqa: E731
    rows, res = [], {}
    for n in sizes:
        for verb in ("status", "plan"):
            runs = R["raptor"][(verb, n)]
            walls = [x["wall"] for x in runs]
            w = med(walls)
            vr = med([x["wall"] for x in R["vr"][n]])
            ctl = med(R["ctl"].get(n, []))
            res[(verb, n)] = {"wall": w, "rss": med([mb(x["rss_kib"]) for x in runs]), "limit_ratio": w / R["limit"][n],
                              "vr": vr / w, "ctl": (ctl / w) if ctl else None}
            ctl_text = "—"
            if ctl:
                ctl_text = fmt_s(ctl) + ("" if R["ctl_note"][n] == 1 else " ≈")
            rows.append("| %s | %s | %s | %s–%s | %s | %.1f MB | %s | %.2f× | %s | %.0f× | %s | %s |" % (
                "{:,}".format(n), verb, fmt_s(w), fmt_s(min(walls)), fmt_s(max(walls)),
                fmt_s(med([x["cpu"] for x in runs])), res[(verb, n)]["rss"], fmt_s(R["limit"][n]),
                res[(verb, n)]["limit_ratio"], fmt_s(vr), vr / w, ctl_text,
                "%.0f×" % res[(verb, n)]["ctl"] if ctl else "—"))
    d = R["desired"][big]
    parse = R["parse"]
    lines = [
        SEC_MAIN, "",
        "Each host of `tests/bench/fleet-sim` (one process; each host on its own loopback address, 127.0.1.1 and up, "
        "port 9001) answers after "
        "%g ms with the XML a real supervisord 4.2.5 + raptor plugin sends; %d programs a host: %d managed (one "
        "instance of each of its squad's %d swarms) and %d unmanaged. The desired state (`fleet_model.py`): squads "
        "of 10 hosts, one small rollout (app00/prod/web@sq0000 at a new version), so `plan` has 10 starts and 10 "
        "stops and classifies every other program as current (checked on every run). Settings: concurrency %d, "
        "connect %gs, request %gs (raptor's defaults). Median of %d runs after one warm-up; each run a forked child, "
        "wall time from fork to wait4." % (LATENCY_MS, PROGRAMS, PROGRAMS - 2, PROGRAMS - 2, 2, CONCURRENCY,
                                           CONNECT_S, REQUEST_S, R["runs"]),
        "",
        "| hosts | command | wall | min–max | CPU | peak RSS | physical limit | × limit | Velociraptor serial | "
        "raptor faster | supervisorctl serial | raptor faster |",
        "| ---: | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
    ] + rows + [""]

    # targets
    st, pl = res[("status", big)], res[("plan", big)]
    healthy = st["wall"]
    t = [("status, %s hosts: within %g× the physical limit" % ("{:,}".format(big), TARGET_LIMIT_RATIO),
          "%.2f×" % st["limit_ratio"], st["limit_ratio"] <= TARGET_LIMIT_RATIO),
         ("plan, %s hosts: within %g× the physical limit" % ("{:,}".format(big), TARGET_LIMIT_RATIO),
          "%.2f×" % pl["limit_ratio"], pl["limit_ratio"] <= TARGET_LIMIT_RATIO),
         ("status: at least %g× faster than the serial baseline" % TARGET_SPEEDUP, "%.1f×" % st["vr"],
          st["vr"] >= TARGET_SPEEDUP),
         ("plan: at least %g× faster than the serial baseline" % TARGET_SPEEDUP, "%.1f×" % pl["vr"],
          pl["vr"] >= TARGET_SPEEDUP),
         ("status: peak RSS under %g MB" % TARGET_MB, "%.1f MB" % st["rss"], st["rss"] < TARGET_MB),
         ("plan: peak RSS under %g MB" % TARGET_MB, "%.1f MB" % pl["rss"], pl["rss"] < TARGET_MB)]
    # the dead hosts are refusing ones (its simulator's "dead (refusing)"); hosts that drop
    # the SYN are measured too, in the faults section, where their bound is said
    f = R["faults"].get("dead")
    if f:
        extra = med([x["wall"] for x in f["res"]]) - healthy
        t.append(("status: 10%% dead hosts (connection refused) cost at most the connect timeout (%gs) more"
                  % CONNECT_S, "+%s" % fmt_s(max(extra, 0)), extra <= CONNECT_S))
    lines += ["Targets (the serial baseline is Velociraptor's; the limit is %g ms × ⌈hosts / %d⌉ + hosts × %.0f µs "
              "of XML parsing):" % (LATENCY_MS, CONCURRENCY, parse["median_us"]), "",
              "| target | measured | result |", "| --- | ---: | --- |"]
    lines += ["| %s | %s | %s |" % (a, b, verdict(ok)) for a, b, ok in t]
    ok_all = all(ok for _, _, ok in t)
    why = explain(R, res, t)
    if why:
        lines += ["", "Why the missed targets are missed (from the measurements here and the profile below):", ""] + why
    lines += [
        "",
        "- physical limit: %g ms × ⌈hosts / %d⌉ (the round trips, %d at a time) + hosts × %.0f µs, the parse time of "
        "one host's %s-byte answer in raptor's codec (`bench_xmlparse`: `xr_parse_response` + release, CPU time, "
        "median of %d batches of %d; batches %s µs)" % (
            LATENCY_MS, CONCURRENCY, CONCURRENCY, parse["median_us"], "{:,}".format(parse["bytes"]),
            len(parse["batches_us"]), parse["parses_per_batch"], ", ".join("%.0f" % x for x in parse["batches_us"])),
        "- CPU: user + system time of raptor, all its threads (rusage from wait4), median",
        "- Velociraptor serial: `vr_baseline.py`, vr.common's `Host(name).get_procs()` for each host in turn (a new "
        "`xmlrpc.client.ServerProxy`, one `supervisor.getAllProcessInfo`, the procs keyed by name, each name parsed), "
        "one Python process; runs: %s" % ", ".join("%d at %s hosts" % (len(R["vr"][n]), "{:,}".format(n)) for n in sizes),
    ]
    if R["ctl"]:
        notes = []
        for n in sizes:
            every = R["ctl_note"][n]
            notes.append("%d at %s hosts%s" % (len(R["ctl"][n]), "{:,}".format(n),
                                                "" if every == 1 else " (≈: every %dth host timed, scaled by %d)" % (every, every)))
        lines.append("- supervisorctl serial: `supervisorctl -s http://ADDRESS:9001 status` for each host in turn "
                     "(a new process each, two round trips: getVersion then getAllProcessInfo); runs: %s" % ", ".join(notes))
    else:
        lines.append("- supervisorctl serial: not measured (supervisorctl is not installed)")
    lines += [
        "- peak RSS: ru_maxrss of raptor from wait4, MiB; %s" % (
            "the RSS floor of a child forked from the runner is %.1f MB (/bin/true)" % R["floor_mb"] if R["floor_mb"] else "no floor measured"),
        "- desired state at %s hosts: %d squads, %d swarms, %d instances" % ("{:,}".format(big), d["squads"], d["swarms"], d["instances"]),
        "- date: %s" % datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
        "- machine: %s (the simulator and raptor share it)" % machine(),
    ]
    rev = git_revision()
    if rev:
        lines.append("- revision: %s" % rev)
    lines.append("- runs (status, %s hosts, ms): %s" % ("{:,}".format(big), ", ".join(
        "%.0f" % (x["wall"] * 1000) for x in R["raptor"][("status", big)])))
    lines.append("- load average (1, 5, 15 min) when the benchmark started: %s; when it ended: %s" % (
        R["load_start"], R["load_end"]))
    lines.append("- whole benchmark: %.0f s" % R["elapsed"])
    main_sec = "\n".join(lines) + "\n"

    # simulator
    lines = [SEC_SIM, "",
             "`fleet-sim` is Python (one epoll loop, standard library). Each answer is rendered once at start-up (%.1f s for "
             "%s hosts) with `xmlrpc.client`, the marshaller supervisord itself uses: `fleet-sim --self-test` re-encodes "
             "the answer captured from a real supervisord 4.2.5 with the raptor plugin (`data/supervisord-query.http`) "
             "and gets the same bytes, then checks the simulated answer has its members, order and types. A request is "
             "answered by finding the method names in its body and looking the bytes up." % (
                 R["sim_render_s"], "{:,}".format(big)), "",
             "| measure | value |", "| --- | ---: |"]
    need = CONCURRENCY / (LATENCY_MS / 1000)
    if "capacity" in R:
        rate, cpu_per, busy = R["capacity"]
        lines.append("| simulator's CPU time per answer (user + system, the loopback's work included), at 0 ms under "
                     "curl --parallel %d, %s requests, median of 3 | %.0f µs |" % (
                         CONCURRENCY, "{:,}".format(3 * big), cpu_per * 1e6))
        lines.append("| so its capacity on one core | %s answers/s |" % "{:,.0f}".format(1 / cpu_per))
        lines.append("| what curl got from it (simulator %.0f%% busy: curl is the limit) | %s answers/s |" % (
            busy * 100, "{:,.0f}".format(rate)))
    lines.append("| the most raptor can ask for at %g ms: %d in flight / %g ms | %s requests/s |" % (
        LATENCY_MS, CONCURRENCY, LATENCY_MS, "{:,.0f}".format(need)))
    st_walls = [x["wall"] for x in R["raptor"][("status", big)]]
    lines.append("| what raptor status asked for, %s hosts at %g ms | %s requests/s |" % (
        "{:,}".format(big), LATENCY_MS, "{:,.0f}".format(big / med(st_walls))))
    lines.append("| simulator busy during those runs (its CPU time / raptor's wall time) | %.0f%% |" % (R["sim_busy"] * 100))
    if "ideal" in R:
        iw = med(R["ideal"]["walls"])
        tt = sorted(R["ideal"]["times"])
        lines.append("| ideal client (curl --parallel %d, no XML parsing), %s hosts at %g ms, median of 3 | %s = %.2f× "
                     "the %s of round trips |" % (CONCURRENCY, "{:,}".format(big), LATENCY_MS, fmt_s(iw),
                                                  iw / (LATENCY_MS / 1000 * math.ceil(big / CONCURRENCY)),
                                                  fmt_s(LATENCY_MS / 1000 * math.ceil(big / CONCURRENCY))))
        lines.append("| its round trip per host: median / 90th percentile | %.1f / %.1f ms |" % (
            tt[len(tt) // 2] * 1000, tt[int(len(tt) * 0.9)] * 1000))
    if R.get("rtt_ms"):
        rt = sorted(R["rtt_ms"])
        lines.append("| raptor status's round trip per host (as it prints it): median / 90th percentile | %.0f / %.0f ms |" % (
            rt[len(rt) // 2], rt[int(len(rt) * 0.9)]))
    late = (R.get("sim_window") or {}).get("late_ms")
    if late:
        lines.append("| how late the simulator sent its answers after their %g ms were up, during those runs (%s "
                     "answers): median / 99th percentile / most | %.2f / %.2f / %.2f ms |" % (
                         LATENCY_MS, "{:,}".format(R["sim_window"]["answers"]), late["median"], late["p99"], late["max"]))
    zw = [x["wall"] for x in R["zero"]]
    lines.append("| raptor status, %s hosts at 0 ms: wall / CPU (simulator %.0f%% busy) | %s / %s |" % (
        "{:,}".format(big), R["zero_sim_busy"] * 100, fmt_s(med(zw)), fmt_s(med([x["cpu"] for x in R["zero"]]))))
    if "ideal" in R:
        lines += ["",
                  "The ideal client sweeps the %s hosts in %s, raptor in %s: the simulator and the loopback cost at most "
                  "the former, and raptor's time beyond it is raptor's own." % (
                      "{:,}".format(big), fmt_s(med(R["ideal"]["walls"])), fmt_s(med(st_walls)))]
    sim_sec = "\n".join(lines) + "\n"

    # faults
    lines = [SEC_FAULT, "",
             "`raptor status` over %s hosts at %g ms with 10%% of them unreachable in three ways (spread evenly), "
             "against the healthy fleet's %s; connect timeout %gs, request timeout %gs, concurrency %d." % (
                 "{:,}".format(big), LATENCY_MS, fmt_s(healthy), CONNECT_S, REQUEST_S, CONCURRENCY), "",
             "| unreachable hosts | runs | wall (median) | more than healthy | bound | how raptor reports them |",
             "| --- | ---: | ---: | ---: | --- | --- |"]
    bounds = {"dead": ("≤ connect timeout: %gs" % CONNECT_S, "refused: nothing listens"),
              "blackhole": ("about the connect timeout (%gs), and no less: the last such host is first tried as "
                            "the sweep ends, and a dropped SYN tells nothing before the timeout" % CONNECT_S,
                            "SYN dropped (a powered-off host)"),
              "silent": ("by design the request timeout per wave of stuck slots: ⌈%d / %d⌉ × %gs = %gs",
                         "accepts, never answers (a hung supervisord)")}
    for kind in ("dead", "blackhole", "silent"):
        f = R["faults"].get(kind)
        if not f:
            continue
        w = med([x["wall"] for x in f["res"]])
        b, what = bounds[kind]
        if kind == "silent":
            b = b % (f["down"], CONCURRENCY, REQUEST_S, math.ceil(f["down"] / CONCURRENCY) * REQUEST_S)
        how = "; ".join("%d× “%s”" % (c, r) for r, c in sorted(f["reasons"].items(), key=lambda x: -x[1]))
        lines.append("| %d %s | %d | %s | +%s | %s | %s |" % (f["down"], what, len(f["res"]), fmt_s(w),
                                                            fmt_s(max(w - healthy, 0)), b, how))
    lines += ["",
              "A host that never answers holds one of the %d slots for the whole request timeout, so %d of them "
              "hold every slot at once; a host that drops the SYN gives its slot up after 250 ms of "
              "connecting (HTTP_CONNECT_GRACE_MS) and is waited for on the side, so 100 of them cost about one "
              "connect timeout in all. Refused connections cost nothing." % (CONCURRENCY, CONCURRENCY)]
    fault_sec = "\n".join(lines) + "\n"

    # profile
    lines = [SEC_PROF, ""]
    cg = R.get("callgrind")
    if cg:
        rows_, total, crashes, _ = cg
        lines += ["`raptor status` over %s hosts at %g ms under callgrind (inclusive instructions, %s in all%s):" % (
            "{:,}".format(big), LATENCY_MS, total,
            "" if not crashes else "; %d earlier attempt%s crashed under valgrind and %s retried" % (
                crashes, "s"[:crashes != 1], "was" if crashes == 1 else "were")), "",
                  "| share | function | object |", "| ---: | --- | --- |"]
        lines += ["| %s%% | %s | %s |" % r for r in rows_]
        lines.append("")
    else:
        lines += ["(no callgrind profile: valgrind missing, --no-profile, or every attempt failed)", ""]
    ms = R.get("massif")
    if ms:
        total, sites = ms
        lines += ["The heap at its peak (massif: %.1f MB requested; RSS counts only touched pages), by the first "
                  "frame in raptor's code that is not an allocator helper (xalloc, arena, buf, vec, strmap):" % (total / 2**20), "",
                  "| MB | allocated at |", "| ---: | --- |"]
        for size, site in sites[:8]:
            lines.append("| %.1f | %s |" % (size / 2**20, site))
        lines.append("")
    st_cpu = med([x["cpu"] for x in R["raptor"][("status", big)]])
    lines += ["- status over %s hosts: wall %s, CPU %s (all threads), of which %s would be the XML parsing alone (%.0f µs a "
              "host) and %s the round trips if nothing overlapped them" % (
                  "{:,}".format(big), fmt_s(healthy), fmt_s(st_cpu), fmt_s(big * parse["median_us"] / 1e6),
                  parse["median_us"], fmt_s(LATENCY_MS / 1000 * math.ceil(big / CONCURRENCY)))]
    prof_sec = "\n".join(lines) + "\n"
    return [main_sec, sim_sec, fault_sec, prof_sec], ok_all


def main(argv=None):
    ap = argparse.ArgumentParser(description="Benchmark raptor status and plan against a simulated fleet.")
    ap.add_argument("--raptor", required=True)
    ap.add_argument("--parse-bin", required=True, help="build/plain/bench_xmlparse")
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--sizes", default="10,100,1000")
    ap.add_argument("--faults", default="dead,blackhole,silent")
    ap.add_argument("--out", default="tests/bench/RESULTS.md")
    ap.add_argument("--full-baselines", action="store_true",
                    help="every baseline run in full (--runs each; 1,000-host supervisorctl not sampled): many minutes")
    ap.add_argument("--no-profile", action="store_true")
    a = ap.parse_args(argv)
    try:
        a.sizes = sorted({int(x) for x in a.sizes.split(",") if x.strip()})
    except ValueError:
        ap.error("--sizes: a comma-separated list of host counts")
    a.faults = [x for x in a.faults.split(",") if x.strip()]
    if any(k not in ("dead", "blackhole", "silent") for k in a.faults):
        ap.error("--faults: dead, blackhole, silent")
    if a.runs < 1 or not a.sizes or min(a.sizes) < 1:
        ap.error("--runs and --sizes must be at least 1")
    for path in (a.raptor, a.parse_bin):
        if not (os.path.isfile(path) and os.access(path, os.X_OK)):
            print("bench_fleet: %s is not an executable file (run `make raptor build/plain/bench_xmlparse`)" % path,
                  file=sys.stderr)
            return 2
    a.raptor, a.parse_bin = os.path.abspath(a.raptor), os.path.abspath(a.parse_bin)
    signal.signal(signal.SIGTERM, on_term)
    signal.signal(signal.SIGHUP, on_term)
    try:
        with tempfile.TemporaryDirectory(prefix="raptor-fleet-bench-") as tmp:
            R = run(a, tmp)
    except BenchError as e:
        print("bench_fleet: %s" % e, file=sys.stderr)
        return 2
    except (OSError, subprocess.SubprocessError) as e:
        print("bench_fleet: %s" % e, file=sys.stderr)
        return 2
    sections, ok = render(R)
    for s in sections:
        update_results(a.out, s)
        sys.stdout.write(s + "\n")
    print("bench_fleet: %s updated" % a.out, file=sys.stderr)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
