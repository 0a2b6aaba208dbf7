#!/usr/bin/env python3
"""The Velociraptor baseline of the fleet benchmark: gather the live state of
a fleet the way Velociraptor did.

    tests/bench/vr_baseline.py ADDRESSES_FILE [--port 9001]

Velociraptor's dashboard and its swarm logic asked each host of a squad for
its processes with vr.common.models.Host(name).get_procs(): a fresh
xmlrpc.client.ServerProxy('http://NAME:9001') per host (so /RPC2), one
supervisor.getAllProcessInfo() call, the answer reshaped into a dict keyed by
process name, then one Proc object per process, whose six-field name is split
into app, version, config, release hash, proc and port. Host after host, in
one thread, with no timeout. This re-implements exactly that loop (without
vr.common's Redis cache, which was optional and off by default), standard
library only, and prints one line: hosts, processes, seconds.
"""

import argparse
import sys
import time
import xmlrpc.client


def parse_name(name):
    """vr.common's Proc.parse_name: six '-'-separated fields, or the whole name."""
    try:
        app, version, config, rel_hash, proc, port = name.split("-")
        return {"app_name": app, "version": version, "config_name": config, "hash": rel_hash,
                "proc_name": proc, "port": int(port)}
    except ValueError:
        return {"app_name": name, "version": "UNKNOWN", "config_name": "UNKNOWN", "hash": "UNKNOWN",
                "proc_name": name, "port": 0}


class Proc:
    def __init__(self, host, data):
        self.host = host
        for key in ("description", "exitstatus", "group", "logfile", "name", "now", "pid", "spawnerr",
                    "start", "state", "statename", "stderr_logfile", "stdout_logfile", "stop"):
            setattr(self, key, data[key])
        for k, v in parse_name(self.name).items():
            setattr(self, k, v)
        self.id = "%s-%s" % (host, self.name)


def get_procs(name, port):
    rpc = xmlrpc.client.ServerProxy("http://%s:%d" % (name, port))
    proc_list = rpc.supervisor.getAllProcessInfo()
    proc_dict = {d["name"]: d for d in proc_list}
    return [Proc(name, proc_dict[d]) for d in proc_dict]


def main(argv=None):
    ap = argparse.ArgumentParser(description="Velociraptor's serial gathering of live state.")
    ap.add_argument("addresses", help="file with one host name or address a line")
    ap.add_argument("--port", type=int, default=9001)
    a = ap.parse_args(argv)
    with open(a.addresses) as f:
        hosts = [line.strip() for line in f if line.strip()]
    t0 = time.perf_counter()
    procs = 0
    for h in hosts:
        procs += len(get_procs(h, a.port))
    print("%d hosts, %d processes, %.3f s" % (len(hosts), procs, time.perf_counter() - t0))
    return 0


if __name__ == "__main__":
    sys.exit(main())
