"""raptor's supervisord plugin: the host side of raptor (DESIGN.md section 4).

supervisord can only add a program it reads from a file, so raptor writes one
file per program into ``program_dir`` through this plugin and then uses
supervisord's own ``reloadConfig`` / ``addProcessGroup`` / ... methods.  The
files in ``program_dir`` are the record of what raptor owns on this host.

Registered in supervisord's configuration as::

    [rpcinterface:raptor]
    supervisor.rpcinterface_factory = raptor_rpc:make_interface
    program_dir = /etc/supervisor/raptor.d

    [include]
    files = /etc/supervisor/raptor.d/*.conf

XML-RPC methods (namespace ``raptor.``):

    getAPIVersion()        -> int API_VERSION
    listPrograms()         -> [{name, file, mtime, meta}], sorted by name
    putProgram(name, text) -> True   (writes program_dir/NAME.conf atomically)
    deleteProgram(name)    -> True   (a missing file is not an error)
    listeningPorts()       -> [int], TCP ports in LISTEN (/proc/net/tcp, tcp6)
    retireProgram(name)    -> string (the new path of the file, outside
                              program_dir, that defines [program:NAME],
                              renamed to FILE.raptor-retired so that no
                              [include] pattern reads it again)

Standard library and supervisor only.  supervisord is single-threaded and runs
these calls inside its main loop, so each one is short and never waits.
"""

import fnmatch
import glob
import os
import platform
import re
import secrets
import stat

from supervisor.options import UnhosedConfigParser, expand
from supervisor.states import SupervisorStates
from supervisor.xmlrpc import Faults, RPCError, capped_int

API_VERSION = 2

# A program name: what raptor generates ({app}-{version}-{config}-{release}-
# {proc}-{port}) and nothing that could be a path, a hidden or temporary
# file, or that supervisord's parser would mangle.
NAME_RE = re.compile(r'[A-Za-z0-9_+][A-Za-z0-9_.+-]{0,199}')
MAX_TEXT_BYTES = 64 * 1024
META_PREFIX = ';raptor:'
CONF_SUFFIX = '.conf'
RETIRED_SUFFIX = '.raptor-retired'
SECTION_RE = re.compile(r'^\[([^\]]*)\]')
PROC_NET_TCP = ('/proc/net/tcp', '/proc/net/tcp6')
TCP_LISTEN = '0A'

_CONTROL_RE = re.compile(r'[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]')


class RaptorNamespaceRPCInterface:
    """The ``raptor.`` namespace.  Only public bound methods are callable."""

    def __init__(self, supervisord, program_dir):
        self.supervisord = supervisord
        self.program_dir = program_dir

    # -- helpers (a leading underscore keeps them off the wire) -----------

    def _update(self, text):
        # The same shutdown check as supervisor's own namespace.
        self.update_text = text
        if (isinstance(self.supervisord.options.mood, int) and
                self.supervisord.options.mood < SupervisorStates.RUNNING):
            raise RPCError(Faults.SHUTDOWN_STATE)

    def _log(self, level, msg):
        logger = getattr(getattr(self.supervisord, 'options', None),
                         'logger', None)
        if logger is not None:
            getattr(logger, level)('raptor: ' + msg)

    def _check_dir(self):
        """Fault unless program_dir is an existing directory."""
        try:
            st = os.stat(self.program_dir)
        except FileNotFoundError:
            raise RPCError(Faults.FAILED,
                           'program_dir %s does not exist' % self.program_dir)
        except OSError as e:
            raise RPCError(Faults.FAILED, 'program_dir %s: %s'
                           % (self.program_dir, e.strerror or e))
        if not stat.S_ISDIR(st.st_mode):
            raise RPCError(Faults.FAILED,
                           'program_dir %s is not a directory'
                           % self.program_dir)

    def _check_name(self, name):
        if not isinstance(name, str):
            raise RPCError(Faults.BAD_NAME, 'program name must be a string')
        if name == '':
            raise RPCError(Faults.BAD_NAME, 'program name is empty')
        if NAME_RE.fullmatch(name) is None:
            if len(name) > 200:
                why = 'longer than 200 characters'
            elif name[0] in '.-':
                why = 'must not start with %r' % name[0]
            else:
                bad = sorted(set(c for c in name
                                 if not (c.isascii() and
                                         (c.isalnum() or c in '_.+-'))))
                why = 'character%s %s not allowed' % (
                    's' if len(bad) > 1 else '',
                    ' '.join(repr(c) for c in bad))
            raise RPCError(Faults.BAD_NAME, 'program name %r: %s '
                           '(allowed: [A-Za-z0-9_+][A-Za-z0-9_.+-]{0,199})'
                           % (name[:80], why))

    def _check_text(self, name, text):
        """Return text encoded as UTF-8 once it is a single [program:NAME]."""
        if not isinstance(text, str):
            raise RPCError(Faults.INCORRECT_PARAMETERS,
                           'program text must be a string')
        try:
            data = text.encode('utf-8')
        except UnicodeEncodeError:
            raise RPCError(Faults.INCORRECT_PARAMETERS,
                           'program text is not valid UTF-8')
        if len(data) > MAX_TEXT_BYTES:
            raise RPCError(Faults.INCORRECT_PARAMETERS,
                           'program text is %d bytes, the limit is %d'
                           % (len(data), MAX_TEXT_BYTES))
        if '\0' in text:
            raise RPCError(Faults.INCORRECT_PARAMETERS,
                           'program text contains a NUL character')
        want = '[program:%s]' % name
        seen = False
        # splitlines() breaks on more characters than supervisord's reader
        # does (\n, \r, \r\n), so it finds every header the reader could see.
        for number, line in enumerate(text.splitlines(), 1):
            s = line.strip()
            if not s or s[0] in ';#':
                continue
            if s.startswith('['):
                if s != want:
                    raise RPCError(Faults.INCORRECT_PARAMETERS,
                                   'line %d: section %s: the only section '
                                   'allowed is %s' % (number, s[:80], want))
                if seen:
                    raise RPCError(Faults.INCORRECT_PARAMETERS,
                                   'line %d: a second %s section'
                                   % (number, want))
                seen = True
            elif not seen:
                raise RPCError(Faults.INCORRECT_PARAMETERS,
                               'line %d: text before the %s header'
                               % (number, want))
        if not seen:
            raise RPCError(Faults.INCORRECT_PARAMETERS,
                           'program text has no %s section' % want)
        self._dry_parse(name, text)
        return data

    def _dry_parse(self, name, text):
        """Parse the section the way reloadConfig will, so that one bad
        file cannot make every later reloadConfig on this host fail."""
        options = getattr(self.supervisord, 'options', None)
        if options is None or not hasattr(options, 'processes_from_section'):
            return
        section = 'program:%s' % name
        path = os.path.join(self.program_dir, name + CONF_SUFFIX)
        try:
            parser = UnhosedConfigParser()
            parser.expansions = getattr(options, 'environ_expansions', {})
            parser.read_string(text, source=path)
            parser.section_to_file[section] = path
            parser.expand_here(self.program_dir)
            options.processes_from_section(parser, section, name)
        except Exception as e:
            msg = ' '.join(str(e).split())
            raise RPCError(Faults.INCORRECT_PARAMETERS,
                           'supervisord would not accept this program: %s'
                           % msg[:500])

    def _fsync_dir(self):
        fd = os.open(self.program_dir, os.O_RDONLY | os.O_DIRECTORY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)

    # -- XML-RPC methods ---------------------------------------------------

    def getAPIVersion(self):
        """Return the API version of the raptor plugin.

        @return int version
        """
        self._update('getAPIVersion')
        self._check_dir()
        return API_VERSION

    def listPrograms(self):
        """List the program files in program_dir with their metadata.

        @return array [{name, file, mtime, meta}], sorted by name
        """
        self._update('listPrograms')
        self._check_dir()
        try:
            entries = os.listdir(self.program_dir)
        except OSError as e:
            raise RPCError(Faults.FAILED, 'program_dir %s: %s'
                           % (self.program_dir, e.strerror or e))
        result = []
        for entry in entries:
            # supervisord's glob skips hidden files; temp files are hidden
            if entry.startswith('.') or not entry.endswith(CONF_SUFFIX):
                continue
            name = entry[:-len(CONF_SUFFIX)]
            if not name:
                continue
            if not _wire_safe(entry) or not _wire_safe(self.program_dir):
                self._log('warn', 'listPrograms: skipping %r in %s: not '
                          'printable UTF-8' % (entry, self.program_dir))
                continue
            path = os.path.join(self.program_dir, entry)
            try:
                st = os.stat(path)
                if not stat.S_ISREG(st.st_mode):
                    continue
                meta = _read_meta(path)
            except FileNotFoundError:
                continue  # deleted while we looked
            except OSError as e:
                raise RPCError(Faults.FAILED, 'reading %s: %s'
                               % (path, e.strerror or e))
            result.append({'name': name, 'file': path,
                           'mtime': capped_int(st.st_mtime), 'meta': meta})
        result.sort(key=lambda p: p['name'])
        return result

    def putProgram(self, name, text):
        """Write program_dir/NAME.conf atomically.  text must hold exactly
        one section, [program:NAME].

        @param string name  program name
        @param string text  the file's contents
        @return boolean     always True
        """
        self._update('putProgram')
        self._check_name(name)
        data = self._check_text(name, text)
        self._check_dir()
        final = os.path.join(self.program_dir, name + CONF_SUFFIX)
        # hidden and not ending in .conf: no [include] glob ever matches it
        tmp = os.path.join(self.program_dir, '.%s%s.tmp.%d.%s' % (
            name, CONF_SUFFIX, os.getpid(), secrets.token_hex(4)))
        fd = None
        try:
            fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL |
                         os.O_NOFOLLOW | os.O_CLOEXEC, 0o644)
            view = memoryview(data)
            while view:
                n = os.write(fd, view)
                view = view[n:]
            os.fsync(fd)
            os.fchmod(fd, 0o644)
            os.close(fd)
            fd = None
            os.rename(tmp, final)
        except OSError as e:
            if fd is not None:
                os.close(fd)
            try:
                os.unlink(tmp)
            except OSError:
                pass
            raise RPCError(Faults.FAILED, 'writing %s: %s'
                           % (final, e.strerror or e))
        try:
            self._fsync_dir()
        except OSError as e:
            raise RPCError(Faults.FAILED, 'wrote %s but could not sync %s: %s'
                           % (final, self.program_dir, e.strerror or e))
        self._log('info', 'wrote %s (%d bytes)' % (final, len(data)))
        return True

    def deleteProgram(self, name):
        """Remove program_dir/NAME.conf; a missing file is not an error.

        @param string name  program name
        @return boolean     always True
        """
        self._update('deleteProgram')
        self._check_name(name)
        self._check_dir()
        path = os.path.join(self.program_dir, name + CONF_SUFFIX)
        try:
            os.unlink(path)
        except FileNotFoundError:
            return True
        except OSError as e:
            raise RPCError(Faults.FAILED, 'removing %s: %s'
                           % (path, e.strerror or e))
        try:
            self._fsync_dir()
        except OSError as e:
            raise RPCError(Faults.FAILED, 'removed %s but could not sync %s: '
                           '%s' % (path, self.program_dir, e.strerror or e))
        self._log('info', 'removed %s' % path)
        return True

    def retireProgram(self, name):
        """Move aside the file, among those supervisord's [include] reads
        and outside program_dir, that defines [program:NAME]: a program raptor
        did not create (Velociraptor's) and has replaced.  The file is renamed
        in place to FILE.raptor-retired (never deleted), so no [include]
        pattern matches it and a reloadConfig does not bring the program back.
        Refused when no such file exists, when more than one does, or when the
        file holds other sections too (it must then be edited by hand).

        @param string name  program name
        @return string      the file's new path
        """
        self._update('retireProgram')
        self._check_name(name)
        wanted = 'program:' + name
        found = []
        for path in _included_files(self.supervisord.options):
            if os.path.dirname(path) == self.program_dir:
                continue
            try:
                with open(path, errors='replace') as f:
                    sections = [m.group(1).strip() for m in
                                (SECTION_RE.match(line.strip()) for line in f)
                                if m]
            except OSError:
                continue
            if wanted in sections:
                found.append((path, sections))
        if not found:
            raise RPCError(Faults.BAD_NAME, 'no file that supervisord includes '
                           '(outside %s) defines [%s]' % (self.program_dir, wanted))
        if len(found) > 1:
            raise RPCError(Faults.FAILED, '[%s] is defined in %s: move them '
                           'aside by hand' % (wanted, ', '.join(p for p, _ in found)))
        path, sections = found[0]
        others = [x for x in sections if x != wanted]
        if others:
            raise RPCError(Faults.FAILED, '%s also defines [%s]: edit it by hand'
                           % (path, '], ['.join(others)))
        target = path + RETIRED_SUFFIX
        if os.path.exists(target):
            target = '%s.%d%s' % (path, os.getpid() ^ secrets.randbits(16),
                                  RETIRED_SUFFIX)
        try:
            os.rename(path, target)
            fd = os.open(os.path.dirname(path), os.O_RDONLY | os.O_DIRECTORY)
            try:
                os.fsync(fd)
            finally:
                os.close(fd)
        except OSError as e:
            raise RPCError(Faults.FAILED, 'moving %s aside: %s'
                           % (path, e.strerror or e))
        self._log('info', 'retired %s: moved to %s' % (path, target))
        return target

    def listeningPorts(self):
        """TCP ports in LISTEN on this host (IPv4 and IPv6).

        @return array of int, sorted, unique
        """
        self._update('listeningPorts')
        self._check_dir()
        ports = set()
        for path in PROC_NET_TCP:
            try:
                with open(path, 'r', encoding='ascii', errors='replace') as f:
                    lines = f.read().splitlines()
            except FileNotFoundError:
                continue  # no IPv6 in this kernel or namespace
            except OSError as e:
                raise RPCError(Faults.FAILED, 'reading %s: %s'
                               % (path, e.strerror or e))
            ports.update(_listening(lines))
        return sorted(ports)


def _wire_safe(s):
    """True if s can go into an XML-RPC string as is."""
    try:
        s.encode('utf-8')
    except UnicodeEncodeError:  # undecodable bytes in a file name
        return False
    return _CONTROL_RE.search(s) is None


def _read_meta(path):
    """The key=value pairs of the first line starting with ';raptor:'."""
    with open(path, 'rb') as f:
        for raw in f:
            if raw.startswith(META_PREFIX.encode('ascii')):
                line = raw.decode('utf-8', errors='replace')
                return _parse_meta(line[len(META_PREFIX):])
    return {}


def _parse_meta(rest):
    meta = {}
    for token in rest.split():
        key, eq, value = token.partition('=')
        if not eq or not key:
            continue  # not a key=value pair
        meta[_CONTROL_RE.sub('\ufffd', key)] = _CONTROL_RE.sub('\ufffd',
                                                                value)
    return meta


def _listening(lines):
    """Local ports of LISTEN sockets in /proc/net/tcp{,6} lines."""
    for line in lines[1:]:  # the first line is the header
        fields = line.split()
        if len(fields) < 4 or fields[3] != TCP_LISTEN:
            continue
        _, _, port = fields[1].rpartition(':')
        try:
            yield int(port, 16)
        except ValueError:
            continue


def make_interface(supervisord, **config):
    """The rpcinterface factory.  Raises (so supervisord refuses to start)
    unless program_dir is set to an absolute path; the directory itself may
    be missing at start-up (each method then faults, naming it)."""
    config = dict(config)
    program_dir = config.pop('program_dir', None)
    if config:
        raise ValueError('[rpcinterface:raptor]: unknown option%s %s (the only '
                         'option is program_dir)'
                         % ('s' if len(config) > 1 else '',
                            ', '.join(sorted(config))))
    if program_dir is None or not program_dir.strip():
        raise ValueError('[rpcinterface:raptor]: program_dir is not set; add '
                         'program_dir = /etc/supervisor/raptor.d (an absolute '
                         'path, also listed in [include] files)')
    program_dir = program_dir.strip()
    if not os.path.isabs(program_dir):
        raise ValueError('[rpcinterface:raptor]: program_dir %r is not an '
                         'absolute path' % program_dir)
    program_dir = os.path.normpath(program_dir)
    if program_dir.startswith('//'):
        program_dir = '/' + program_dir.lstrip('/')
    iface = RaptorNamespaceRPCInterface(supervisord, program_dir)
    try:
        problem = _include_problem(supervisord.options, program_dir)
    except Exception as e:  # only a diagnostic: never stop supervisord
        problem = None
        iface._log('warn', 'could not check [include] files: %s' % e)
    if problem:
        iface._log('warn', problem)
    return iface


def _include_patterns(options):
    """The [include] files patterns of supervisord's main configuration,
    expanded and absolute."""
    configfile = getattr(options, 'configfile', None)
    if not configfile:
        return []
    parser = UnhosedConfigParser()
    parser.expansions = getattr(options, 'environ_expansions', {})
    with open(configfile) as f:
        parser.read_file(f)
    here = os.path.abspath(os.path.dirname(configfile))
    files = ''
    if parser.has_section('include') and parser.has_option('include', 'files'):
        parser.expand_here(here)
        expansions = {'here': here, 'host_node_name': platform.node()}
        expansions.update(getattr(options, 'environ_expansions', {}))
        files = expand(parser.get('include', 'files'), expansions,
                       'include.files')
    return [os.path.join(here, p) for p in files.split()]


def _included_files(options):
    """The files supervisord's [include] reads, as supervisord globs them."""
    patterns = _include_patterns(options)
    paths = []
    for pattern in patterns:
        paths.extend(sorted(glob.glob(pattern)))
    return paths


def _include_problem(options, program_dir):
    """A warning if supervisord would never read program_dir/NAME.conf.

    supervisord 4.2.5 honours only the [include] section of its main
    configuration file: an [include] inside an included file (conf.d/*.conf)
    is silently ignored, so program_dir/*.conf must be listed there."""
    configfile = getattr(options, 'configfile', None)
    if not configfile:
        return None
    patterns = _include_patterns(options)
    probe = os.path.join(program_dir, 'raptor-probe.conf')
    for pattern in patterns:
        if fnmatch.fnmatchcase(probe, pattern):
            return None
    return ('program_dir %s is not in the [include] files of %s, so the '
            'programs written there will never load: add %s/*.conf to that '
            'line (an [include] in an included file is ignored)'
            % (program_dir, configfile, program_dir))
