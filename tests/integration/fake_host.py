#!/usr/bin/env python3
"""A misbehaving XML-RPC "host" for the fault tests (Python 3 stdlib only).

usage: fake_host.py [--pidfile FILE] [--delay SECONDS] [--size BYTES] ADDRESS:PORT MODE

It binds ADDRESS:PORT (SO_REUSEADDR), writes its PID to FILE once it listens
(so a test waits for the file, then stops the process by that PID), and
answers every connection, each in its own thread, after reading the whole
request (headers, then Content-Length bytes of body), the way MODE says:

  reset    a 200 text/xml head and the first part of a valid-looking
           methodResponse, then the connection is reset (SO_LINGER 0 + close:
           the peer gets an RST, not a FIN)
  http500  HTTP 500 with an HTML body, as supervisord's medusa sends when a
           call raises
  huge     200 text/xml, Content-Length --size (default 100 MB), the body
           streamed in 64 KiB pieces: a methodResponse whose one string never
           ends within the first megabytes; stops quietly when the peer goes
  slow     waits --delay seconds (default 5), then a valid XML-RPC fault
  garbage  200 text/xml, but the body is not XML-RPC (nor well-formed XML)

It logs one line per request on stderr. SIGTERM ends it (default action).
"""

import os
import socket
import struct
import sys
import threading
import time

USAGE = ("usage: fake_host.py [--pidfile FILE] [--delay SECONDS] [--size BYTES] "
         "ADDRESS:PORT reset|http500|huge|slow|garbage")
MODES = ("reset", "http500", "huge", "slow", "garbage")
PREFIX = (b"<?xml version='1.0'?>\n<methodResponse>\n<params>\n<param>\n"
          b"<value><array><data>\n<value><array><data>\n")

MEDUSA_500 = (b"<html>\r\n<head>\r\n<title>Error response</title>\r\n</head>\r\n"
              b"<body>\r\n<h1>Error response</h1>\r\n<p>Error code 500.\r\n"
              b"<p>Message: Internal Server Error.\r\n</body>\r\n</html>\r\n")

SLOW_FAULT = (b"<?xml version='1.0'?>\n<methodResponse>\n<fault>\n<value><struct>\n"
              b"<member>\n<name>faultCode</name>\n<value><int>1</int></value>\n</member>\n"
              b"<member>\n<name>faultString</name>\n<value><string>UNKNOWN_METHOD</string>"
              b"</value>\n</member>\n</struct></value>\n</fault>\n</methodResponse>\n")

GARBAGE = (b"<?xml version='1.0'?>\n<html><body>Welcome! this is not XML-RPC"
           b"<methodResponse><params></html>\n\x01\x02 <<<&&&>>> garbage\n")


def usage(msg):
    print("fake_host.py: %s\n%s" % (msg, USAGE), file=sys.stderr)
    sys.exit(64)


def log(msg):
    sys.stderr.write("fake_host[%d]: %s\n" % (os.getpid(), msg))
    sys.stderr.flush()


def read_request(conn):
    """Reads headers and Content-Length bytes of body; returns the first line."""
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = conn.recv(65536)
        if not chunk:
            return None
        data += chunk
        if len(data) > 1 << 20:
            return None
    head, _, body = data.partition(b"\r\n\r\n")
    length = 0
    for line in head.split(b"\r\n")[1:]:
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length":
            length = int(value.strip() or b"0")
    while len(body) < length:
        chunk = conn.recv(65536)
        if not chunk:
            break
        body += chunk
    return head.split(b"\r\n", 1)[0].decode("latin-1", "replace")


def head(status, ctype, length, extra=b""):
    return (b"HTTP/1.1 " + status + b"\r\nServer: fake_host\r\nContent-Type: " + ctype +
            b"\r\nContent-Length: " + str(length).encode() + b"\r\n" + extra + b"\r\n")


def serve(conn, mode, delay, size):
    try:
        line = read_request(conn)
        if line is None:
            return
        log("%s: %s" % (mode, line))
        if mode == "reset":
            conn.sendall(head(b"200 OK", b"text/xml", 4096) + PREFIX + b"<value><string>hel")
            time.sleep(0.05)
            conn.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        elif mode == "http500":
            conn.sendall(head(b"500 Internal Server Error", b"text/html", len(MEDUSA_500),
                              b"Connection: close\r\n") + MEDUSA_500)
        elif mode == "huge":
            conn.sendall(head(b"200 OK", b"text/xml", size))
            sent = 0
            first = PREFIX + b"<value><string>"
            piece = b"A" * 65536
            conn.sendall(first)
            sent = len(first)
            while sent < size:
                n = min(len(piece), size - sent)
                conn.sendall(piece[:n])
                sent += n
            log("huge: sent all %d bytes" % sent)
        elif mode == "slow":
            time.sleep(delay)
            conn.sendall(head(b"200 OK", b"text/xml", len(SLOW_FAULT)) + SLOW_FAULT)
        elif mode == "garbage":
            conn.sendall(head(b"200 OK", b"text/xml", len(GARBAGE)) + GARBAGE)
    except (BrokenPipeError, ConnectionResetError, ConnectionAbortedError) as e:
        log("%s: the peer went away (%s)" % (mode, e.__class__.__name__))
    except OSError as e:
        log("%s: %s" % (mode, e))
    finally:
        try:
            conn.close()
        except OSError:
            pass


def main(argv):
    pidfile, delay, size, rest = None, 5.0, 100 * 1000 * 1000, []
    i = 0
    while i < len(argv):
        a = argv[i]
        if a in ("--pidfile", "--delay", "--size"):
            if i + 1 >= len(argv):
                usage("%s needs a value" % a)
            v = argv[i + 1]
            if a == "--pidfile":
                pidfile = v
            elif a == "--delay":
                delay = float(v)
            else:
                size = int(v)
            i += 2
        elif a.startswith("--"):
            usage("unknown option %s" % a)
        else:
            rest.append(a)
            i += 1
    if len(rest) != 2:
        usage("give ADDRESS:PORT and MODE")
    addr, mode = rest
    if mode not in MODES:
        usage("unknown mode %r" % mode)
    host, _, port = addr.rpartition(":")
    if not host or not port.isdigit():
        usage("bad ADDRESS:PORT %r" % addr)

    srv = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        srv.bind((host, int(port)))
    except OSError as e:
        print("fake_host.py: cannot bind %s: %s" % (addr, e), file=sys.stderr)
        return 1
    srv.listen(64)
    if pidfile:
        tmp = pidfile + ".tmp"
        with open(tmp, "w") as f:
            f.write("%d\n" % os.getpid())
        os.rename(tmp, pidfile)
    log("%s on %s" % (mode, addr))
    while True:
        conn, _ = srv.accept()
        threading.Thread(target=serve, args=(conn, mode, delay, size), daemon=True).start()


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
