"""The simulated fleet of the fleet benchmark: one deterministic model that
both sides use, so that what fleet-sim answers and the desired state that
bench_fleet.py writes agree.

    hosts      host i (0-based) is 127.0.(1 + i // 250).(1 + i % 250), port 9001,
               named by its address (so its supervisor URL is
               http://ADDRESS:9001/RPC2); never 127.0.0.x, which the
               integration tests use
    squads     sq0000, sq0001, ...: 10 consecutive hosts each (the last one
               may be smaller)
    programs   P per host (default 20): 2 that raptor did not create
               (`node_exporter`, and a Velociraptor-style
               `legacy-2.1-prod-0badf00d-web-7001`) and P - 2 managed
               instances, one of each of the squad's P - 2 swarms
    swarms     per squad, app00..appNN (config prod): the first two thirds
               `proc: web` (port 5000 + j), the rest `proc: worker`
               (`port: none`, slot 1, 2, ... on every host); size = the
               squad's host count, so every host runs one instance of each
    change     the desired state gives app00/prod/web@sq0000 version 1.2.4
               while the hosts run 1.2.3: `raptor plan` has a small rollout
               (one start and one stop per host of sq0000) and everything
               else is current

The program names, release hashes and `;raptor:` metadata are those raptor
writes (reconciler/progtext.c, reconciler/release.h), so the planner really
classifies every program. Standard library only.
"""

import hashlib
import os
import random

SQUAD_SIZE = 10
PORT = 9001
FIRST_WEB_PORT = 5000
VERSION = "1.2.3"
CHANGED_VERSION = "1.2.4"  # desired version of app00/prod/web@sq0000
T0 = 1795690000  # "now" on every simulated host (fixed, so answers are bytes rendered once)
COMMIT = "5f0c2a9e3b1d4c7a8e6f0b2d4c6a8e0f1a3b5c7d"
CREATED = "2026-11-20T09:00:00Z"
PROGRAM_DIR = "/etc/supervisor/raptor.d"
UNMANAGED = (("legacy-2.1-prod-0badf00d-web-7001", 7001), ("node_exporter", 9100))
BASE_PORTS = (22, 9001)
SETTINGS = {"connect": "2s", "request": "10s", "concurrency": 64}  # raptor's defaults, written out


def address(i):
    """Loopback address of host i (0-based); 250 hosts per 127.0.x.0/24, x >= 1."""
    if i < 0 or i >= 250 * 254:
        raise ValueError("host index out of range: %d" % i)
    return "127.0.%d.%d" % (1 + i // 250, 1 + i % 250)


def squad_of(i):
    return "sq%04d" % (i // SQUAD_SIZE)


def nsquads(hosts):
    return (hosts + SQUAD_SIZE - 1) // SQUAD_SIZE


def squad_hosts(k, hosts):
    return list(range(k * SQUAD_SIZE, min((k + 1) * SQUAD_SIZE, hosts)))


def swarm_kinds(programs):
    """[(app, proc, port_or_None, slot_or_None)] of the managed instances on every host."""
    managed = programs - len(UNMANAGED)
    if managed < 1:
        raise ValueError("need at least %d programs per host" % (len(UNMANAGED) + 1))
    web = (2 * managed + 2) // 3
    kinds = []
    for j in range(managed):
        app = "app%02d" % j
        if j < web:
            kinds.append((app, "web", FIRST_WEB_PORT + j, None))
        else:
            kinds.append((app, "worker", None, j - web + 1))
    return kinds


def command(app, proc):
    return "/apps/%s/bin/run --port ${PORT}" % app if proc == "web" else "/apps/%s/bin/run" % app


def release_text(app, version, config, cmd, env, worker):
    """reconciler/release.h's canonical text (no user, no directory)."""
    def rec(tag, value):
        return "%s -\n" % tag if value is None else "%s %d:%s\n" % (tag, len(value.encode()), value)
    text = "raptor-release 1\n" + rec("app", app) + rec("version", version) + rec("config", config)
    text += rec("command", cmd)
    for k, v in sorted(env):
        text += "env %d:%s %d:%s\n" % (len(k.encode()), k, len(v.encode()), v)
    text += rec("user", None) + rec("directory", None) + rec("port", "none" if worker else "auto")
    return text


def release(app, version, proc):
    cmd = command(app, proc)
    text = release_text(app, version, "prod", cmd, [("APP_NAME", app)], proc == "worker")
    return hashlib.sha256(text.encode()).hexdigest()[:8]


def _token(rng, n=8):
    return "".join(rng.choice("abcdefghijklmnopqrstuvwxyz0123456789_") for _ in range(n))


def _uptime(secs):
    days, rest = divmod(secs, 86400)
    h, rest = divmod(rest, 3600)
    m, s = divmod(rest, 60)
    if days:
        return "%d day%s, %d:%02d:%02d" % (days, "" if days == 1 else "s", h, m, s)
    return "%d:%02d:%02d" % (h, m, s)


def host_data(i, programs=20, seed=1):
    """What host i's supervisord and raptor plugin say: (procs, programs, ports),
    shaped as supervisor.getAllProcessInfo, raptor.listPrograms and
    raptor.listeningPorts return them (member order included)."""
    rng = random.Random(seed * 1000003 + i)
    addr, squad = address(i), squad_of(i)
    entries = []  # (group name, port, managed meta or None)
    for app, proc, port, slot in swarm_kinds(programs):
        rel = release(app, VERSION, proc)
        name = "%s-%s-prod-%s-%s-%d" % (app, VERSION, rel, proc, port if port else slot)
        meta = {"app": app, "version": VERSION, "config": "prod", "proc": proc, "squad": squad,
                "release": rel, "port": str(port) if port else "", "slot": str(slot) if slot else "",
                "host": addr, "pool": "", "commit": COMMIT, "created": CREATED}
        entries.append((name, port, meta))
    for name, port in UNMANAGED:
        entries.append((name, port, None))
    entries.sort(key=lambda e: e[0])  # supervisord sorts by group, then name

    procs, progs = [], []
    for name, port, meta in entries:
        start = T0 - rng.randrange(3600, 40 * 86400)
        pid = rng.randrange(1000, 4194304)
        out = "/var/log/supervisor/%s-stdout---supervisor-%s.log" % (name, _token(rng))
        err = "/var/log/supervisor/%s-stderr---supervisor-%s.log" % (name, _token(rng))
        procs.append({
            "name": name, "group": name, "start": start, "stop": 0, "now": T0,
            "state": 20, "statename": "RUNNING", "spawnerr": "", "exitstatus": 0,
            "logfile": out, "stdout_logfile": out, "stderr_logfile": err,
            "pid": pid, "description": "pid %d, uptime %s" % (pid, _uptime(T0 - start)),
        })
        if meta is not None:
            progs.append({"name": name, "file": "%s/%s.conf" % (PROGRAM_DIR, name),
                          "mtime": start - rng.randrange(5, 120), "meta": meta})
    ports = sorted(set(BASE_PORTS) | {p for _, p, _ in entries if p})
    return procs, progs, ports


def write_desired(outdir, hosts, programs=20):
    """The desired state for the first `hosts` hosts: settings.yaml, squads.yaml and one
    swarms file per squad. Returns a summary dict."""
    os.makedirs(os.path.join(outdir, "swarms"), exist_ok=True)
    lines = ["# generated by tests/bench/fleet_model.py: %d simulated hosts x %d programs" % (hosts, programs),
             "settings:",
             "  timeouts: { connect: %s, request: %s }" % (SETTINGS["connect"], SETTINGS["request"]),
             "  concurrency: %d" % SETTINGS["concurrency"], ""]
    with open(os.path.join(outdir, "settings.yaml"), "w") as f:
        f.write("\n".join(lines))
    lines = ["squads:"]
    for k in range(nsquads(hosts)):
        lines.append("  %s:" % squad_of(k * SQUAD_SIZE))
        lines.append("    hosts: [%s]" % ", ".join(address(i) for i in squad_hosts(k, hosts)))
    with open(os.path.join(outdir, "squads.yaml"), "w") as f:
        f.write("\n".join(lines) + "\n")
    kinds = swarm_kinds(programs)
    nswarms = instances = 0
    for k in range(nsquads(hosts)):
        squad, size = squad_of(k * SQUAD_SIZE), len(squad_hosts(k, hosts))
        lines = ["swarms:"]
        for app, proc, port, _ in kinds:
            version = CHANGED_VERSION if (k == 0 and app == "app00") else VERSION
            lines += ["  - app: %s" % app, '    version: "%s"' % version, "    config: prod",
                      "    proc: %s" % proc, "    squad: %s" % squad, "    size: %d" % size,
                      "    command: %s" % command(app, proc), "    env:", "      APP_NAME: %s" % app]
            if port is None:
                lines.append("    port: none")
            nswarms += 1
            instances += size
        with open(os.path.join(outdir, "swarms", "%s.yaml" % squad), "w") as f:
            f.write("\n".join(lines) + "\n")
    return {"hosts": hosts, "squads": nsquads(hosts), "swarms": nswarms, "instances": instances,
            "programs": programs, "expected_starts": len(squad_hosts(0, hosts)),
            "expected_stops": len(squad_hosts(0, hosts))}
