#!/usr/bin/env python3
"""One XML-RPC call from the shell, for the sandbox and the integration tests.

usage: xmlrpc_call.py [--auth USER:PASS] [--timeout S] URL METHOD [JSON_ARG...]

Each JSON_ARG is one parameter written as JSON ('"name"', '5', 'true',
'[{"methodName": "supervisor.getState", "params": []}]').  Credentials may
also be embedded in the URL (http://user:pass@127.0.0.2:9001/RPC2); they are
never printed.

  exit 0  the result, as JSON, on stdout
  exit 2  a fault: 'FAULT <code> <string>' on stdout
  exit 1  a transport error (refused, timeout, HTTP error, not XML-RPC) on stderr
  exit 64 bad usage
"""

import base64
import json
import socket
import sys
import urllib.parse
import xmlrpc.client

USAGE = ('usage: xmlrpc_call.py [--auth USER:PASS] [--timeout S] '
         'URL METHOD [JSON_ARG...]')


class TimeoutTransport(xmlrpc.client.Transport):
    def __init__(self, timeout, auth):
        super().__init__(use_builtin_types=True)
        self.timeout = timeout
        self.auth = auth

    def make_connection(self, host):
        conn = super().make_connection(host)
        conn.timeout = self.timeout
        return conn

    def send_headers(self, connection, headers):
        if self.auth is not None:
            token = base64.b64encode(self.auth.encode('utf-8')).decode('ascii')
            headers = list(headers) + [('Authorization', 'Basic ' + token)]
        super().send_headers(connection, headers)


def usage(msg):
    print('xmlrpc_call.py: %s\n%s' % (msg, USAGE), file=sys.stderr)
    sys.exit(64)


def redact(url):
    """The URL without any user or password in it."""
    try:
        parts = urllib.parse.urlsplit(url)
        host = parts.hostname or ''
        if ':' in host:
            host = '[%s]' % host
        if parts.port:
            host += ':%d' % parts.port
        return urllib.parse.urlunsplit((parts.scheme, host, parts.path,
                                        parts.query, ''))
    except ValueError:
        return '<url>'


def to_json(value):
    if isinstance(value, bytes):
        return base64.b64encode(value).decode('ascii')
    return str(value)


def main(argv):
    auth = None
    timeout = 10.0
    args = []
    i = 0
    while i < len(argv):
        a = argv[i]
        if a in ('--auth', '--timeout') and i + 1 >= len(argv):
            usage('%s needs a value' % a)
        if a == '--auth':
            auth = argv[i + 1]
            i += 2
        elif a.startswith('--auth='):
            auth = a[len('--auth='):]
            i += 1
        elif a == '--timeout' or a.startswith('--timeout='):
            v = argv[i + 1] if a == '--timeout' else a[len('--timeout='):]
            try:
                timeout = float(v)
            except ValueError:
                usage('bad --timeout %r' % v)
            if not timeout > 0:
                usage('--timeout must be positive')
            i += 2 if a == '--timeout' else 1
        elif a == '--':
            args.extend(argv[i + 1:])
            break
        else:
            args.append(a)
            i += 1
    if len(args) < 2:
        usage('URL and METHOD are required')
    url, method = args[0], args[1]
    params = []
    for raw in args[2:]:
        try:
            params.append(json.loads(raw))
        except ValueError as e:
            usage('argument %r is not JSON: %s' % (raw, e))
    if auth is not None and ':' not in auth:
        usage('--auth wants USER:PASS')

    parts = urllib.parse.urlsplit(url)
    if parts.scheme not in ('http', 'https'):
        usage('URL must be http:// or https://')
    if parts.username is not None and auth is None:
        auth = urllib.parse.unquote(parts.username) + ':' + \
            urllib.parse.unquote(parts.password or '')
    # the credentials travel in our own header, not through the URL
    host = parts.hostname or ''
    if ':' in host:
        host = '[%s]' % host
    if parts.port:
        host += ':%d' % parts.port
    bare = urllib.parse.urlunsplit((parts.scheme, host, parts.path or '/RPC2',
                                    parts.query, ''))

    transport = TimeoutTransport(timeout, auth)
    if parts.scheme == 'https':
        class T(TimeoutTransport, xmlrpc.client.SafeTransport):
            pass
        transport = T(timeout, auth)
    proxy = xmlrpc.client.ServerProxy(bare, transport=transport,
                                      allow_none=False, use_builtin_types=True)
    try:
        result = getattr(proxy, method)(*params)
    except xmlrpc.client.Fault as f:
        print('FAULT %d %s' % (f.faultCode, f.faultString))
        return 2
    except xmlrpc.client.ProtocolError as e:
        print('%s: HTTP %d %s' % (redact(url), e.errcode, e.errmsg),
              file=sys.stderr)
        return 1
    except (OverflowError, TypeError) as e:
        usage('cannot send these arguments: %s' % e)
    except socket.timeout:
        print('%s: timed out after %gs' % (redact(url), timeout),
              file=sys.stderr)
        return 1
    except OSError as e:
        print('%s: %s' % (redact(url), e.strerror or e), file=sys.stderr)
        return 1
    except Exception as e:  # not XML-RPC (an HTML page, a bad body, ...)
        print('%s: bad response: %s: %s' % (redact(url), type(e).__name__, e),
              file=sys.stderr)
        return 1
    print(json.dumps(result, default=to_json, sort_keys=True))
    return 0


if __name__ == '__main__':
    sys.exit(main(sys.argv[1:]))
