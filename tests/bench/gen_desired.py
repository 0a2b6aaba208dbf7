#!/usr/bin/env python3
"""Generate a large, deterministic desired-state repository for benchmarks.

    tests/bench/gen_desired.py OUTDIR [--swarms 10000] [--hosts 500]
                               [--files 100] [--squads 50] [--seed 1] [--force]

Writes OUTDIR/squads.yaml (the squads, their hosts and one nginx balancer
`edge`) and OUTDIR/swarms/NNN.yaml (the swarms, spread evenly over the files),
in the format of DESIGN.md section 3.  The same arguments always give the same
bytes.  Python 3 standard library only: the YAML is written by hand, in block
style, so the benchmark does not depend on any YAML library.

Shape of the data:
  * squads sq000..: hosts split evenly between them, in contiguous blocks;
  * hosts h0001.bench.example..: every 5th one in mapping form with an
    `address: 10.x.y.z`, the others as plain strings;
  * apps app0000..: each app has four swarms: web in prod, europe and canary
    (routed to pool appNNNN_CONFIG of `edge`, with tcp + http health checks)
    and a prod worker (`port: none`, no routing, no health checks).  Swarm i
    therefore belongs to app i // 4 and is a worker when i % 4 == 3, so the
    identity (app, config, proc, squad) is unique by construction (and checked);
  * squad, size (1-5), env (2-3 keys) and rollout (about 1 in 5 swarms sets
    `max_surge: 1`) are drawn from random.Random(seed).

Env values contain no quotes, backslashes, `%`, `;` or `#`, so they are safe
both for YAML plain scalars and for supervisord's `environment=` parser.

Usable as a module too: generate(outdir, swarms=..., ...) returns a summary.
"""

import argparse
import os
import random
import sys

WEB_CONFIGS = ("prod", "europe", "canary")
WORKER_CONFIG = "prod"
PROCS_PER_APP = 4  # web x 3 configs + one worker
BALANCER = "edge"
INCLUDE_DIR = "/etc/nginx/raptor.d"
VERSION = "1.2.3"
DOMAIN = "bench.example"

LOG_LEVELS = ("debug", "info", "warning", "error")
REGIONS = ("eu_west", "eu_central", "us_east", "us_west", "ap_south")


def _width(count, minimum):
    """Digits needed to number 0..count (inclusive), at least `minimum`."""
    return max(minimum, len(str(max(count, 0))))


def _address(n):
    """A private IPv4 address for host number n (1-based), unique for n < 2**24."""
    return "10.%d.%d.%d" % ((n >> 16) & 255, (n >> 8) & 255, n & 255)


def _swarm_spec(i, rng, app_w, squad_names):
    """The swarm number i (0-based) as a dict of YAML-ready fields."""
    app_no, slot = divmod(i, PROCS_PER_APP)
    app = "app%0*d" % (app_w, app_no)
    worker = slot == PROCS_PER_APP - 1
    config = WORKER_CONFIG if worker else WEB_CONFIGS[slot]
    squad = squad_names[rng.randrange(len(squad_names))]
    size = rng.randint(1, 5)

    env = [
        ("APP_NAME", app),
        ("LOG_LEVEL", LOG_LEVELS[rng.randrange(len(LOG_LEVELS))]),
    ]
    if rng.random() < 0.5:
        env.append(("REGION", REGIONS[rng.randrange(len(REGIONS))]))
    surge = rng.random() < 0.2

    spec = {
        "app": app,
        "config": config,
        "proc": "worker" if worker else "web",
        "squad": squad,
        "size": size,
        "env": env,
        "worker": worker,
        "surge": surge,
    }
    if worker:
        spec["command"] = "/apps/%s/bin/run" % app
    else:
        spec["command"] = "/apps/%s/bin/run --port ${PORT}" % app
        spec["pool"] = "%s_%s" % (app, config)
    return spec


def _render_swarm(s):
    lines = [
        "  - app: %s" % s["app"],
        '    version: "%s"' % VERSION,
        "    config: %s" % s["config"],
        "    proc: %s" % s["proc"],
        "    squad: %s" % s["squad"],
        "    size: %d" % s["size"],
        "    command: %s" % s["command"],
        "    env:",
    ]
    lines += ["      %s: %s" % kv for kv in s["env"]]
    if s["worker"]:
        lines.append("    port: none")
    else:
        lines += [
            "    routing:",
            "      balancer: %s" % BALANCER,
            "      pool: %s" % s["pool"],
            "    health:",
            "      tcp: true",
            "      http: /healthz",
            "      timeout: 30s",
        ]
    if s["surge"]:
        lines += ["    rollout:", "      max_surge: 1"]
    return lines


def _write(path, lines):
    with open(path, "w", encoding="utf-8", newline="\n") as f:
        f.write("\n".join(lines) + "\n")


def generate(outdir, swarms=10000, hosts=500, files=100, squads=50, seed=1, force=False):
    """Write the repository into outdir; return a summary dict."""
    if swarms < 1 or hosts < 1 or files < 1 or squads < 1:
        raise ValueError("--swarms, --hosts, --files and --squads must be at least 1")
    if hosts < squads:
        raise ValueError("need at least one host per squad (--hosts %d < --squads %d)" % (hosts, squads))
    if files > swarms:
        raise ValueError("more files than swarms (--files %d > --swarms %d)" % (files, swarms))
    if hosts >= 1 << 24:
        raise ValueError("too many hosts for 10.0.0.0/8")

    swarm_dir = os.path.join(outdir, "swarms")
    os.makedirs(swarm_dir, exist_ok=True)
    squads_path = os.path.join(outdir, "squads.yaml")
    existing = [os.path.join(swarm_dir, n) for n in sorted(os.listdir(swarm_dir)) if n.endswith((".yaml", ".yml"))]
    if os.path.exists(squads_path):
        existing.append(squads_path)
    if existing:
        if not force:
            raise ValueError("%s already holds a generated repository; use --force to replace it" % outdir)
        # Stale swarm files from a run with more --files would merge in as duplicates.
        for path in existing:
            os.unlink(path)

    header = "# generated by tests/bench/gen_desired.py --swarms %d --hosts %d --files %d --squads %d --seed %d" % (
        swarms, hosts, files, squads, seed)
    rng = random.Random(seed)

    squad_w = _width(squads - 1, 3)
    host_w = _width(hosts, 4)
    file_w = _width(files - 1, 3)
    app_w = _width((swarms - 1) // PROCS_PER_APP, 4)
    squad_names = ["sq%0*d" % (squad_w, k) for k in range(squads)]

    # squads.yaml: squads with their hosts, and the balancer.
    lines = [header, "", "squads:"]
    for k, name in enumerate(squad_names):
        lo, hi = k * hosts // squads, (k + 1) * hosts // squads
        lines += ["  %s:" % name, "    hosts:"]
        for n in range(lo + 1, hi + 1):
            host = "h%0*d.%s" % (host_w, n, DOMAIN)
            if n % 5 == 0:
                lines += ["      - name: %s" % host, "        address: %s" % _address(n)]
            else:
                lines.append("      - %s" % host)
    lines += [
        "",
        "balancers:",
        "  %s:" % BALANCER,
        "    type: nginx",
        "    include_dir: %s" % INCLUDE_DIR,
    ]
    _write(squads_path, lines)

    # swarms/NNN.yaml: swarm i goes to file i * files // swarms (contiguous, even).
    identities = set()
    instances = workers = 0
    i = 0
    for f in range(files):
        end = (f + 1) * swarms // files
        lines = [header, "", "swarms:"]
        while i < end:
            s = _swarm_spec(i, rng, app_w, squad_names)
            ident = (s["app"], s["config"], s["proc"], s["squad"])
            if ident in identities:
                raise AssertionError("duplicate swarm identity %s/%s/%s@%s" % ident)
            identities.add(ident)
            instances += s["size"]
            workers += s["worker"]
            lines += _render_swarm(s)
            i += 1
        _write(os.path.join(swarm_dir, "%0*d.yaml" % (file_w, f)), lines)

    return {
        "swarms": swarms,
        "web_swarms": swarms - workers,
        "worker_swarms": workers,
        "instances": instances,
        "hosts": hosts,
        "squads": squads,
        "swarm_files": files,
        "files": files + 1,
    }


def main(argv=None):
    ap = argparse.ArgumentParser(description="Generate a deterministic desired-state repository for benchmarks.")
    ap.add_argument("outdir")
    ap.add_argument("--swarms", type=int, default=10000)
    ap.add_argument("--hosts", type=int, default=500)
    ap.add_argument("--files", type=int, default=100, help="number of swarms/NNN.yaml files")
    ap.add_argument("--squads", type=int, default=50)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--force", action="store_true", help="replace a repository generated earlier in OUTDIR")
    a = ap.parse_args(argv)
    try:
        info = generate(a.outdir, a.swarms, a.hosts, a.files, a.squads, a.seed, a.force)
    except (ValueError, OSError) as e:
        print("gen_desired: %s" % e, file=sys.stderr)
        return 1
    print("wrote %s: %d swarms (%d web, %d worker), %d instances, %d hosts in %d squads, %d files" % (
        a.outdir, info["swarms"], info["web_swarms"], info["worker_swarms"], info["instances"],
        info["hosts"], info["squads"], info["files"]), file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
