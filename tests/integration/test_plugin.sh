# The supervisord plugin (contrib/supervisor/raptor_rpc.py) and the sandbox
# harness (tests/sandbox/sandbox.sh) against real supervisord 4.2.5 hosts.
# Sourced by run.sh: no `set -e`, no exit; the sandbox always comes down.
# shellcheck shell=bash disable=SC2015,SC2154,SC2016,SC2012
# (pass and fail always return 0; run sets out, err and rc)

pl_py=/usr/bin/python3
[ -x "$pl_py" ] || pl_py=python3
pl_sb=$REPO_ROOT/tests/sandbox/sandbox.sh
pl_xc=$REPO_ROOT/tests/integration/xmlrpc_call.py
pl_root=$SCRATCH/fleet
pl_h1=$pl_root/host1
pl_u1=http://127.0.0.2:9001/RPC2
pl_u2=http://127.0.0.3:9001/RPC2

# bring the sandboxes down even if this file is interrupted
pl_old_trap=$(trap -p EXIT)
trap 'bash "$pl_sb" down "$pl_root"; bash "$pl_sb" down "$SCRATCH/authfleet"' EXIT

# pl_call [--auth U:P] URL METHOD [JSON_ARG...]: sets $out $err $rc
pl_call() { run "$pl_py" "$pl_xc" --timeout 10 "$@"; }
# pl_str TEXT: TEXT as a JSON string
pl_str() { "$pl_py" -c 'import json, sys; print(json.dumps(sys.argv[1]))' "$1"; }
# pl_eval EXPR: EXPR over the JSON in $out, bound to v
pl_eval() {
	printf '%s' "$out" | "$pl_py" -c '
import json, sys
v = json.load(sys.stdin)
r = eval(sys.argv[1])
print(r if isinstance(r, str) else json.dumps(r))' "$1" 2>/dev/null
}
# pl_true NAME EXPR: the call succeeded and EXPR over its result is true
pl_true() {
	if [ "$rc" = 0 ] && [ "$(pl_eval "$2")" = true ]; then pass "$1"; else fail "$1" "not true: $2"; fi
}
# pl_fault NAME CODE [NEEDLE]: the call faulted with CODE (and NEEDLE in the text)
pl_fault() {
	case "$rc:$out" in
	"2:FAULT $2 "*"${3:-}"*) pass "$1" ;;
	*) fail "$1" "want FAULT $2${3:+ containing '$3'}" ;;
	esac
}
# pl_wait_state URL NAME STATE: poll getProcessInfo until statename is STATE
pl_wait_state() {
	local _
	for _ in $(seq 1 50); do
		pl_call "$1" supervisor.getProcessInfo "$(pl_str "$2")"
		[ "$rc" = 0 ] && [ "$(pl_eval "v['statename']")" = "$3" ] && return 0
		sleep 0.2
	done
	return 1
}
pl_alive() { [ -n "$1" ] && [ -d "/proc/$1" ] && ! grep -q '^State:.*Z' "/proc/$1/status" 2>/dev/null; }
pl_ls() { (cd "$1" 2>/dev/null && ls -A | tr '\n' ' '); }

# --- the fleet -------------------------------------------------------------

run bash "$pl_sb" up "$pl_root" 2 --no-plugin 2
expect_rc "sandbox up: 2 hosts, host2 without the plugin" 0
run cat "$pl_root/hosts"
expect_rc "sandbox: hosts file" 0
[ "$out" = $'127.0.0.2\n127.0.0.3' ] && pass "sandbox: hosts lists 127.0.0.2 and 127.0.0.3" ||
	fail "sandbox: hosts lists 127.0.0.2 and 127.0.0.3"
pl_sd1=$(awk '$1 == "host1" { print $2 }' "$pl_root/pids" 2>/dev/null)
pl_sd2=$(awk '$1 == "host2" { print $2 }' "$pl_root/pids" 2>/dev/null)
pl_alive "$pl_sd1" && pl_alive "$pl_sd2" && pass "sandbox: pids records both supervisords" ||
	fail "sandbox: pids records both supervisords" "$(cat "$pl_root/pids" 2>&1)"
for pl_d in supervisord.conf log run raptor.d unmanaged.d; do
	[ -e "$pl_h1/$pl_d" ] && pass "sandbox: host1/$pl_d" || fail "sandbox: host1/$pl_d exists"
done
run supervisorctl -c "$pl_h1/supervisord.conf" pid
[ "$out" = "$pl_sd1" ] && pass "sandbox: supervisorctl reaches host1" || fail "sandbox: supervisorctl reaches host1"

# --- xmlrpc_call.py's exit codes -------------------------------------------

pl_call "$pl_u1" supervisor.getState
pl_true "xmlrpc_call: a result is JSON, exit 0" "v['statename'] == 'RUNNING'"
pl_call "$pl_u1" supervisor.getProcessInfo '"nosuch"'
pl_fault "xmlrpc_call: a fault exits 2" 10 BAD_NAME
pl_call --timeout 2 http://127.0.0.4:9001/RPC2 supervisor.getState
expect_rc "xmlrpc_call: a transport error exits 1" 1
pl_call "$pl_u1" supervisor.getState '{bad json'
expect_rc "xmlrpc_call: bad usage exits 64" 64

# --- API version, methods, the host without the plugin ---------------------

pl_call "$pl_u1" raptor.getAPIVersion
[ "$rc:$out" = "0:2" ] && pass "getAPIVersion is the int 2" || fail "getAPIVersion is the int 2"
pl_call "$pl_u1" system.listMethods
pl_true "listMethods has the six raptor methods" \
	"all('raptor.' + m in v for m in ['getAPIVersion', 'listPrograms', 'putProgram', 'deleteProgram', 'listeningPorts', 'retireProgram'])"
pl_call "$pl_u1" raptor._check_dir
pl_fault "a helper (leading underscore) is not callable" 1 UNKNOWN_METHOD
pl_call "$pl_u2" raptor.getAPIVersion
pl_fault "host without the plugin: raptor.getAPIVersion is UNKNOWN_METHOD" 1 UNKNOWN_METHOD
pl_call "$pl_u2" supervisor.getState
expect_rc "host without the plugin still answers supervisor.*" 0

# --- putProgram, a RUNNING program, listPrograms ---------------------------

pl_name=hello-1.4.2+b.1-prod-1a2b3c4d-web-5001
pl_meta=';raptor: app=hello version=1.4.2+b.1 config=prod proc=web squad=web release=1a2b3c4d port=5001 slot= commit=abc123 created=2026-11-26T10:00:00Z future=x=y'
pl_text="; written by raptor
$pl_meta
[program:$pl_name]
command=/bin/sleep 1000
autostart=true
startsecs=1
; 100%% sure
"
pl_call "$pl_u1" raptor.putProgram "$(pl_str "$pl_name")" "$(pl_str "$pl_text")"
[ "$rc:$out" = "0:true" ] && pass "putProgram returns true" || fail "putProgram returns true"
printf '%s' "$pl_text" >"$SCRATCH/want.conf"
cmp -s "$SCRATCH/want.conf" "$pl_h1/raptor.d/$pl_name.conf" && pass "putProgram: the file holds the whole text" ||
	fail "putProgram: the file holds the whole text" "$(diff "$SCRATCH/want.conf" "$pl_h1/raptor.d/$pl_name.conf" 2>&1 | head -5)"
run stat -c %a "$pl_h1/raptor.d/$pl_name.conf"
[ "$out" = 644 ] && pass "putProgram: mode 0644" || fail "putProgram: mode 0644"
[ "$(pl_ls "$pl_h1/raptor.d")" = "$pl_name.conf " ] && pass "putProgram: no temp file left in raptor.d" ||
	fail "putProgram: no temp file left in raptor.d" "raptor.d: $(pl_ls "$pl_h1/raptor.d")"

pl_call "$pl_u1" supervisor.reloadConfig
pl_true "reloadConfig sees the new program as added" "v == [[['$pl_name'], [], []]]"
pl_call "$pl_u1" supervisor.addProcessGroup "$(pl_str "$pl_name")"
expect_rc "addProcessGroup of the new program" 0
pl_wait_state "$pl_u1" "$pl_name" RUNNING && pass "the program is RUNNING" || fail "the program is RUNNING"
pl_call "$pl_u1" supervisor.getProcessInfo "$(pl_str "$pl_name")"
pl_sleep_pid=$(pl_eval "v['pid']")
pl_alive "$pl_sleep_pid" && pass "its process is alive (pid $pl_sleep_pid)" || fail "its process is alive"

pl_call "$pl_u1" raptor.listPrograms
pl_true "listPrograms: one entry, name and absolute file" \
	"len(v) == 1 and v[0]['name'] == '$pl_name' and v[0]['file'] == '$pl_h1/raptor.d/$pl_name.conf'"
pl_true "listPrograms: mtime is an int, the file's" \
	"type(v[0]['mtime']) is int and v[0]['mtime'] == $(stat -c %Y "$pl_h1/raptor.d/$pl_name.conf")"
pl_true "listPrograms: the ;raptor: line round-trips, empty and unknown values kept" \
	"v[0]['meta'] == {'app': 'hello', 'version': '1.4.2+b.1', 'config': 'prod', 'proc': 'web', 'squad': 'web', 'release': '1a2b3c4d', 'port': '5001', 'slot': '', 'commit': 'abc123', 'created': '2026-11-26T10:00:00Z', 'future': 'x=y'}"

# overwrite: the same name again replaces the file whole
pl_text2="${pl_text/version=1.4.2+b.1/version=1.4.3}"
pl_call "$pl_u1" raptor.putProgram "$(pl_str "$pl_name")" "$(pl_str "$pl_text2")"
printf '%s' "$pl_text2" >"$SCRATCH/want.conf"
[ "$rc" = 0 ] && cmp -s "$SCRATCH/want.conf" "$pl_h1/raptor.d/$pl_name.conf" &&
	[ "$(pl_ls "$pl_h1/raptor.d")" = "$pl_name.conf " ] && pass "putProgram over an existing file replaces it, no temp left" ||
	fail "putProgram over an existing file replaces it, no temp left"
pl_call "$pl_u1" raptor.listPrograms
pl_true "listPrograms: the new metadata" "v[0]['meta']['version'] == '1.4.3'"

# what listPrograms ignores, and a file without metadata
printf '[program:plain]\ncommand=/bin/true\n' >"$pl_h1/raptor.d/plain.conf"
printf '[program:hello]\ncommand=/bin/true\n' >"$pl_h1/raptor.d/hello.conf"
printf 'x' >"$pl_h1/raptor.d/.plain.conf.tmp.123"
printf 'x' >"$pl_h1/raptor.d/notes.txt"
printf 'x' >"$pl_h1/raptor.d/plain.conf~"
mkdir "$pl_h1/raptor.d/adir.conf"
pl_call "$pl_u1" raptor.listPrograms
pl_true "listPrograms: sorted by name (hello before hello-...), *.conf files only (no temp, backup, other or directory)" \
	"[p['name'] for p in v] == ['hello', '$pl_name', 'plain']"
pl_true "listPrograms: a file without a ;raptor: line has meta {}" "v[2]['meta'] == {}"
rm -rf "$pl_h1/raptor.d/plain.conf" "$pl_h1/raptor.d/hello.conf" "$pl_h1/raptor.d/.plain.conf.tmp.123" "$pl_h1/raptor.d/notes.txt" \
	"$pl_h1/raptor.d/plain.conf~" "$pl_h1/raptor.d/adir.conf"

# --- bad names and bad text --------------------------------------------------

pl_long=$(printf 'a%.0s' $(seq 1 201))
pl_before=$(pl_ls "$pl_h1/raptor.d")
for pl_bad in 'a/b' '../x' '..' 'a b' '' $'abc\n' '.hidden' '-x' 'a:b' "$pl_long"; do
	pl_call "$pl_u1" raptor.putProgram "$(pl_str "$pl_bad")" "$(pl_str "[program:$pl_bad]
command=/bin/true
")"
	pl_fault "putProgram name $(pl_str "${pl_bad:0:12}") is BAD_NAME" 10
done
for pl_bad in 'a/b' '../x' '..' 'a b' ''; do
	pl_call "$pl_u1" raptor.deleteProgram "$(pl_str "$pl_bad")"
	pl_fault "deleteProgram name $(pl_str "$pl_bad") is BAD_NAME" 10
done
pl_call "$pl_u1" raptor.putProgram 5 '"[program:5]"'
pl_fault "putProgram: a name that is not a string is BAD_NAME" 10
[ ! -e "$pl_h1/x.conf" ] && [ ! -e "$pl_root/x.conf" ] && pass "no file written outside raptor.d" ||
	fail "no file written outside raptor.d"

pl_bad_text() { # NAME TEXT [NEEDLE]
	pl_call "$pl_u1" raptor.putProgram '"x"' "$(pl_str "$2")"
	pl_fault "putProgram refuses $1" 2 "${3:-}"
}
pl_bad_text "a second section" $'[program:x]\ncommand=/bin/true\n[program:y]\ncommand=/bin/true\n' "[program:y]"
pl_bad_text "the same section twice" $'[program:x]\ncommand=/bin/true\n[program:x]\n' "second"
pl_bad_text "text for another program" $'[program:y]\ncommand=/bin/true\n' "[program:y]"
pl_bad_text "an [include] section" $'[program:x]\ncommand=/bin/true\n[include]\nfiles=/etc/*.conf\n' "[include]"
pl_bad_text "a [group:...] section" $'[group:g]\nprograms=x\n[program:x]\ncommand=/bin/true\n' "[group:g]"
pl_bad_text "an indented section header" $'[program:x]\ncommand=/bin/true\n   [supervisord]\n' "[supervisord]"
pl_bad_text "a header after a bare CR" $'[program:x]\ncommand=/bin/true\r[include]\rfiles=/x\n' "[include]"
pl_bad_text "a header with trailing text" $'[program:x] extra\ncommand=/bin/true\n'
pl_bad_text "options before the header" $'command=/bin/true\n[program:x]\n' "before"
pl_bad_text "text with no section" $'; nothing here\n' "no [program:x]"
pl_bad_text "an empty text" ''
pl_bad_text "a lone % (supervisord could not parse it)" $'[program:x]\ncommand=/bin/echo 100%\n' "supervisord would not accept"
pl_bad_text "a bad boolean (supervisord could not parse it)" $'[program:x]\ncommand=/bin/true\nautostart=maybe\n' "maybe"
pl_big=$(printf '[program:x]\ncommand=/bin/true\n'; head -c 66000 /dev/zero | tr '\0' ';')
pl_bad_text "more than 64 KiB" "$pl_big" "65536"
pl_call "$pl_u1" raptor.putProgram '"x"' 5
pl_fault "putProgram refuses text that is not a string" 2
pl_call "$pl_u1" raptor.putProgram '"x"'
pl_fault "putProgram with one argument is INCORRECT_PARAMETERS" 2
[ "$(pl_ls "$pl_h1/raptor.d")" = "$pl_before" ] && pass "refused calls changed nothing in raptor.d" ||
	fail "refused calls changed nothing in raptor.d" "raptor.d: $(pl_ls "$pl_h1/raptor.d")"
pl_call "$pl_u1" raptor.putProgram '"x"' "$(pl_str $'[program:x]\ncommand=/bin/true ; a comment\nautostart=false\n')"
[ "$rc:$out" = "0:true" ] && pass "putProgram accepts comments and a name without metadata" ||
	fail "putProgram accepts comments and a name without metadata"

# --- deleteProgram -----------------------------------------------------------

pl_call "$pl_u1" raptor.deleteProgram '"x"'
[ "$rc:$out" = "0:true" ] && [ ! -e "$pl_h1/raptor.d/x.conf" ] && pass "deleteProgram removes the file" ||
	fail "deleteProgram removes the file"
pl_call "$pl_u1" raptor.deleteProgram '"x"'
[ "$rc:$out" = "0:true" ] && pass "deleteProgram of a missing file returns true" ||
	fail "deleteProgram of a missing file returns true"

# --- listeningPorts, unmanaged programs --------------------------------------

pl_port=$("$pl_py" -c 'import socket; s = socket.socket(); s.bind(("127.0.0.2", 0)); print(s.getsockname()[1])')
run bash "$pl_sb" add-unmanaged "$pl_root" 1 web "$pl_py" -m http.server --bind 127.0.0.2 "$pl_port"
expect_rc "sandbox add-unmanaged: an http.server on 127.0.0.2:$pl_port is RUNNING" 0
[ -f "$pl_h1/unmanaged.d/web.conf" ] && pass "sandbox add-unmanaged: unmanaged.d/web.conf" ||
	fail "sandbox add-unmanaged: unmanaged.d/web.conf"
for _ in $(seq 1 25); do
	pl_call "$pl_u1" raptor.listeningPorts
	[ "$(pl_eval "$pl_port in v")" = true ] && break
	sleep 0.2
done
pl_true "listeningPorts has 9001 and the port the program listens on" "9001 in v and $pl_port in v"
pl_true "listeningPorts: sorted unique ints" "v == sorted(set(v)) and all(type(p) is int for p in v)"
pl_call "$pl_u1" raptor.listPrograms
pl_true "listPrograms leaves unmanaged programs out" "[p['name'] for p in v] == ['$pl_name']"
pl_call "$pl_u1" supervisor.getProcessInfo '"web"'
pl_web_pid=$(pl_eval "v['pid']")

# --- program_dir missing while supervisord runs ------------------------------

mv "$pl_h1/raptor.d" "$pl_h1/raptor.d.away"
pl_missing() { # METHOD [JSON_ARG...]
	pl_call "$pl_u1" "raptor.$1" "${@:2}"
	pl_fault "program_dir missing: $1 faults FAILED naming the path" 30 "$pl_h1/raptor.d"
}
pl_missing getAPIVersion
pl_missing listPrograms
pl_missing listeningPorts
pl_missing deleteProgram '"x"'
pl_missing putProgram '"x"' "$(pl_str $'[program:x]\ncommand=/bin/true\n')"
[ ! -e "$pl_h1/raptor.d" ] && pass "program_dir missing: putProgram did not create it" ||
	fail "program_dir missing: putProgram did not create it"
mv "$pl_h1/raptor.d.away" "$pl_h1/raptor.d"
pl_call "$pl_u1" raptor.listPrograms
pl_true "program_dir back: listPrograms works again" "[p['name'] for p in v] == ['$pl_name']"

# --- freeze, thaw, stop, start -----------------------------------------------

run bash "$pl_sb" freeze-host "$pl_root" 1
expect_rc "sandbox freeze-host" 0
pl_call --timeout 1 "$pl_u1" supervisor.getState
expect_rc "a frozen host times out" 1
expect_in "a frozen host: the error says so" "$err" "timed out"
run bash "$pl_sb" thaw-host "$pl_root" 1
expect_rc "sandbox thaw-host" 0
pl_call "$pl_u1" supervisor.getState
expect_rc "a thawed host answers" 0

run bash "$pl_sb" stop-host "$pl_root" 1
expect_rc "sandbox stop-host" 0
! pl_alive "$pl_sd1" && pass "stop-host: supervisord is gone" || fail "stop-host: supervisord is gone"
[ -n "$pl_web_pid" ] && ! pl_alive "$pl_sleep_pid" && ! pl_alive "$pl_web_pid" && pass "stop-host: its programs are gone" ||
	fail "stop-host: its programs are gone" "pids $pl_sleep_pid $pl_web_pid"
pl_call --timeout 2 "$pl_u1" supervisor.getState
expect_rc "stop-host: the host is unreachable" 1
[ -f "$pl_h1/supervisord.conf" ] && pass "stop-host keeps the host's directory" || fail "stop-host keeps the host's directory"

# started again without its program_dir: supervisord starts, the plugin faults
mv "$pl_h1/raptor.d" "$pl_h1/raptor.d.away"
run bash "$pl_sb" start-host "$pl_root" 1
expect_rc "start-host: supervisord starts although program_dir is missing" 0
pl_sd1b=$(awk '$1 == "host1" { print $2 }' "$pl_root/pids" 2>/dev/null)
pl_alive "$pl_sd1b" && [ "$pl_sd1b" != "$pl_sd1" ] && pass "start-host records the new pid" ||
	fail "start-host records the new pid" "$(cat "$pl_root/pids" 2>&1)"
pl_call "$pl_u1" raptor.getAPIVersion
pl_fault "program_dir missing at start-up: the methods fault, naming it" 30 "$pl_h1/raptor.d"
mv "$pl_h1/raptor.d.away" "$pl_h1/raptor.d"
pl_call "$pl_u1" raptor.getAPIVersion
[ "$rc:$out" = "0:2" ] && pass "program_dir restored: getAPIVersion answers" || fail "program_dir restored: getAPIVersion answers"
pl_call "$pl_u1" supervisor.reloadConfig
pl_true "reloadConfig picks the program file up again" "'$pl_name' in v[0][0]"
pl_call "$pl_u1" supervisor.addProcessGroup "$(pl_str "$pl_name")"
pl_wait_state "$pl_u1" "$pl_name" RUNNING && pass "the program runs again" || fail "the program runs again"

# teardown of one program, the way the executor will do it
pl_call "$pl_u1" supervisor.stopProcessGroup "$(pl_str "$pl_name")"
expect_rc "stopProcessGroup" 0
pl_call "$pl_u1" supervisor.removeProcessGroup "$(pl_str "$pl_name")"
expect_rc "removeProcessGroup" 0
pl_call "$pl_u1" raptor.deleteProgram "$(pl_str "$pl_name")"
[ "$rc:$out" = "0:true" ] && [ "$(pl_ls "$pl_h1/raptor.d")" = "" ] && pass "deleteProgram: raptor.d is empty" ||
	fail "deleteProgram: raptor.d is empty" "raptor.d: $(pl_ls "$pl_h1/raptor.d")"
pl_call "$pl_u1" raptor.listPrograms
[ "$rc:$out" = "0:[]" ] && pass "listPrograms of an empty directory is []" || fail "listPrograms of an empty directory is []"
pl_call "$pl_u1" supervisor.reloadConfig
pl_true "reloadConfig afterwards: nothing added, changed or removed" "v == [[[], [], []]]"

# --- retireProgram: a program raptor did not create, moved aside -------------

bash "$pl_sb" add-unmanaged "$pl_root" 1 vrapp-1.0-prod-0badf00d-web-7100 /bin/sleep 1000 >/dev/null 2>&1
pl_call "$pl_u1" supervisor.stopProcessGroup '"vrapp-1.0-prod-0badf00d-web-7100"'
pl_call "$pl_u1" supervisor.removeProcessGroup '"vrapp-1.0-prod-0badf00d-web-7100"'
pl_call "$pl_u1" raptor.retireProgram '"vrapp-1.0-prod-0badf00d-web-7100"'
pl_retired="$pl_h1/unmanaged.d/vrapp-1.0-prod-0badf00d-web-7100.conf.raptor-retired"
[ "$rc" = 0 ] && [ "$out" = "\"$pl_retired\"" ] && [ -e "$pl_retired" ] &&
	[ ! -e "$pl_h1/unmanaged.d/vrapp-1.0-prod-0badf00d-web-7100.conf" ] &&
	pass "retireProgram moves the file aside and returns its new path" ||
	fail "retireProgram moves the file aside" "$out; unmanaged.d: $(pl_ls "$pl_h1/unmanaged.d")"
pl_call "$pl_u1" supervisor.reloadConfig
pl_true "retireProgram: reloadConfig does not bring it back" "v == [[[], [], []]]"
pl_call "$pl_u1" raptor.retireProgram '"vrapp-1.0-prod-0badf00d-web-7100"'
pl_fault "retireProgram: a second time, nothing defines it" 10 BAD_NAME
printf '[program:twoa]\ncommand=/bin/true\n[program:twob]\ncommand=/bin/true\n' >"$pl_h1/unmanaged.d/two.conf"
pl_call "$pl_u1" raptor.retireProgram '"twoa"'
pl_fault "retireProgram: a file with other sections is refused" 30 FAILED
expect_in "retireProgram: ... naming them" "$out" "also defines [program:twob]"
[ -e "$pl_h1/unmanaged.d/two.conf" ] && pass "retireProgram: that file stays" || fail "the two-program file moved"
rm -f "$pl_h1/unmanaged.d/two.conf"
pl_call "$pl_u1" raptor.putProgram '"mine"' "$(pl_str $'[program:mine]\ncommand=/bin/sleep 1000\n')"
pl_call "$pl_u1" raptor.retireProgram '"mine"'
pl_fault "retireProgram: raptor's own programs are not its business" 10 BAD_NAME
pl_call "$pl_u1" raptor.deleteProgram '"mine"'
pl_call "$pl_u1" raptor.retireProgram '"../etc/passwd"'
pl_fault "retireProgram: a bad name" 10 BAD_NAME

# --- the factory refuses a bad configuration ---------------------------------

pl_factory() { # NAME OPTION-LINES NEEDLE
	local d=$SCRATCH/factory
	mkdir -p "$d"
	printf '[supervisord]\nnodaemon=true\nlogfile=%s/sd.log\npidfile=%s/sd.pid\n[inet_http_server]\nport=127.0.0.254:9001\n[rpcinterface:supervisor]\nsupervisor.rpcinterface_factory = supervisor.rpcinterface:make_main_rpcinterface\n[rpcinterface:raptor]\nsupervisor.rpcinterface_factory = raptor_rpc:make_interface\n%s\n' \
		"$d" "$d" "$2" >"$d/supervisord.conf"
	run env PYTHONPATH="$REPO_ROOT/contrib/supervisor" PYTHONDONTWRITEBYTECODE=1 \
		timeout 20 /usr/bin/supervisord -n -c "$d/supervisord.conf"
	if [ "$rc" != 0 ] && [ "$rc" != 124 ]; then pass "supervisord refuses to start: $1"; else fail "supervisord refuses to start: $1"; fi
	expect_in "the refusal says why: $1" "$out$err" "$3"
	rm -rf "$d"
}
pl_factory "no program_dir" "" "program_dir is not set"
pl_factory "a relative program_dir" "program_dir = raptor.d" "is not an absolute path"
pl_factory "an unknown option" $'program_dir = /x\nprogramdir = /y' "unknown option programdir"

# program_dir outside the main file's [include]: supervisord starts, with a warning
pl_d=$SCRATCH/noinclude
mkdir -p "$pl_d"
printf '[supervisord]\nnodaemon=true\nlogfile=%s/sd.log\npidfile=%s/sd.pid\n[inet_http_server]\nport=127.0.0.254:9001\n[rpcinterface:supervisor]\nsupervisor.rpcinterface_factory = supervisor.rpcinterface:make_main_rpcinterface\n[rpcinterface:raptor]\nsupervisor.rpcinterface_factory = raptor_rpc:make_interface\nprogram_dir = %s/raptor.d\n' \
	"$pl_d" "$pl_d" "$pl_d" >"$pl_d/supervisord.conf"
run env PYTHONPATH="$REPO_ROOT/contrib/supervisor" PYTHONDONTWRITEBYTECODE=1 \
	timeout 2 /usr/bin/supervisord -n -c "$pl_d/supervisord.conf"
expect_rc "program_dir not included: supervisord still starts (stopped by timeout)" 124
expect_in "program_dir not included: the log warns" "$out$err" "is not in the [include] files of $pl_d/supervisord.conf"
rm -rf "$pl_d"
run grep -c "is not in the \[include\]" "$pl_h1/log/supervisord.log"
[ "$out" = 0 ] && pass "the sandbox's hosts include program_dir (no warning)" ||
	fail "the sandbox's hosts include program_dir (no warning)"

# --- down --------------------------------------------------------------------

run bash "$pl_sb" down "$pl_root"
expect_rc "sandbox down" 0
[ ! -e "$pl_root" ] && pass "sandbox down removes ROOT" || fail "sandbox down removes ROOT"
! pl_alive "$pl_sd1b" && ! pl_alive "$pl_sd2" && pass "sandbox down: no supervisord left" ||
	fail "sandbox down: no supervisord left" "pids $pl_sd1b $pl_sd2"
run bash "$pl_sb" down "$pl_root"
expect_rc "sandbox down again (idempotent)" 0

# --- a fleet with credentials ------------------------------------------------

pl_aroot=$SCRATCH/authfleet
run bash "$pl_sb" up "$pl_aroot" 1 --auth raptor:s3cret --first 6
expect_rc "sandbox up --auth --first 6" 0
[ "$(cat "$pl_aroot/hosts" 2>/dev/null)" = 127.0.0.7 ] && [ -d "$pl_aroot/host6" ] &&
	pass "--first 6: host6 on 127.0.0.7" || fail "--first 6: host6 on 127.0.0.7"
pl_ua=http://127.0.0.7:9001/RPC2
pl_call "$pl_ua" supervisor.getState
expect_rc "--auth: no credentials is refused" 1
expect_in "--auth: HTTP 401" "$err" "401"
pl_call --auth raptor:s3cret "$pl_ua" raptor.getAPIVersion
[ "$rc:$out" = "0:2" ] && pass "--auth: with --auth the plugin answers" || fail "--auth: with --auth the plugin answers"
pl_call "http://raptor:s3cret@127.0.0.7:9001/RPC2" raptor.getAPIVersion
[ "$rc:$out" = "0:2" ] && pass "--auth: credentials in the URL work" || fail "--auth: credentials in the URL work"
pl_call "http://raptor:wrong@127.0.0.7:9001/RPC2" raptor.getAPIVersion
expect_rc "--auth: a wrong password is refused" 1
expect_not_in "--auth: the error does not print the password" "$err" "wrong"
run bash "$pl_sb" add-unmanaged "$pl_aroot" 6 idle /bin/sleep 1000
expect_rc "--auth: add-unmanaged uses the credentials" 0
pl_call --auth raptor:s3cret "$pl_ua" supervisor.getProcessInfo '"idle"'
pl_idle_pid=$(pl_eval "v['pid']")
pl_asd=$(awk '$1 == "host6" { print $2 }' "$pl_aroot/pids" 2>/dev/null)
run bash "$pl_sb" down "$pl_aroot"
expect_rc "sandbox down (auth fleet)" 0
[ -n "$pl_idle_pid" ] && [ -n "$pl_asd" ] && ! pl_alive "$pl_asd" && ! pl_alive "$pl_idle_pid" && [ ! -e "$pl_aroot" ] &&
	pass "sandbox down (auth fleet): nothing left" || fail "sandbox down (auth fleet): nothing left"

if [ -n "$pl_old_trap" ]; then eval "$pl_old_trap"; else trap - EXIT; fi
unset -f pl_missing pl_call pl_str pl_eval pl_true pl_fault pl_wait_state pl_alive pl_ls pl_bad_text pl_factory
