#!/usr/bin/env python3
"""hello.py: the tiny demo app raptor deploys in examples/ (Python 3 stdlib only).

    hello.py --port N [--host ADDR]   serve HTTP on ADDR:N
    hello.py --worker                 print a heartbeat line every 5 seconds

raptor sets APP, VERSION, CONFIG, PROC, HOST, ADDRESS and PORT in each
instance's environment; GREETING comes from the swarm's env if set. The web
mode binds --host, else $ADDRESS, else 0.0.0.0, and answers every request
with 200 and one line naming the instance (JSON when the client sends
Accept: application/json); /healthz answers 200 "ok". Both modes exit 0 on
SIGTERM or SIGINT.
"""

import argparse
import json
import os
import signal
import socket
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

HEARTBEAT_SECONDS = 5.0


def identity(port=None):
    """The instance's identity, from the environment raptor sets."""
    ident = {
        "app": os.environ.get("APP", "hello"),
        "version": os.environ.get("VERSION", "unknown"),
        "config": os.environ.get("CONFIG", "unknown"),
        "proc": os.environ.get("PROC", "unknown"),
        "host": os.environ.get("HOST", socket.gethostname()),
        # the bound port when serving; a worker reports what raptor set, if anything
        "port": str(port) if port is not None else os.environ.get("PORT", "none"),
    }
    greeting = os.environ.get("GREETING")
    if greeting:
        ident["greeting"] = greeting
    return ident


def one_line(ident):
    words = " ".join(f"{k}={ident[k]}" for k in ("app", "version", "config", "proc", "host", "port"))
    if "greeting" in ident:
        return f"{ident['greeting']}: {words}"
    return words


class Handler(BaseHTTPRequestHandler):
    server_version = "hello/1"
    protocol_version = "HTTP/1.1"

    def _answer(self, with_body):
        path = self.path.split("?", 1)[0]
        if path == "/healthz":
            body, ctype = b"ok\n", "text/plain; charset=utf-8"
        else:
            ident = identity(self.server.server_address[1])
            if "application/json" in self.headers.get("Accept", ""):
                body, ctype = (json.dumps(ident) + "\n").encode(), "application/json"
            else:
                body, ctype = (one_line(ident) + "\n").encode(), "text/plain; charset=utf-8"
        self.send_response(200)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Cache-Control", "no-store")
        self.end_headers()
        if with_body:
            self.wfile.write(body)

    def do_GET(self):
        self._answer(True)

    def do_HEAD(self):
        self._answer(False)

    def log_message(self, fmt, *args):
        sys.stderr.write("%s %s\n" % (self.address_string(), fmt % args))


def serve(host, port):
    server = ThreadingHTTPServer((host, port), Handler)
    server.daemon_threads = True

    def stop(signum, _frame):
        # shutdown() waits for serve_forever() to return, so call it from another thread.
        print(f"hello: signal {signum}, stopping", file=sys.stderr, flush=True)
        threading.Thread(target=server.shutdown, daemon=True).start()

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    print(f"hello: serving on {host}:{port} ({one_line(identity(port))})", file=sys.stderr, flush=True)
    try:
        server.serve_forever()
    finally:
        server.server_close()
    return 0


def work():
    done = threading.Event()

    def stop(signum, _frame):
        print(f"hello: signal {signum}, stopping", file=sys.stderr, flush=True)
        done.set()

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    beat = 0
    while not done.is_set():
        beat += 1
        print(f"heartbeat {beat}: {one_line(identity())}", flush=True)
        done.wait(HEARTBEAT_SECONDS)
    return 0


def main(argv=None):
    ap = argparse.ArgumentParser(description="raptor's demo app")
    mode = ap.add_mutually_exclusive_group(required=True)
    mode.add_argument("--port", type=int, help="serve HTTP on this port")
    mode.add_argument("--worker", action="store_true", help="print a heartbeat every 5 s instead")
    ap.add_argument("--host", default=os.environ.get("ADDRESS") or "0.0.0.0",
                    help="address to bind (default: $ADDRESS, else 0.0.0.0)")
    args = ap.parse_args(argv)
    if args.worker:
        return work()
    if not 0 < args.port < 65536:
        ap.error("--port must be 1-65535")
    return serve(args.host, args.port)


if __name__ == "__main__":
    sys.exit(main())
