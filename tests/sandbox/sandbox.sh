#!/usr/bin/env bash
# sandbox.sh: a local fleet of real supervisord hosts for tests and the demo.
#
#   sandbox.sh up ROOT K [--auth USER:PASS] [--no-plugin I]... [--first N]
#       start K hosts; host i binds 127.0.0.$((i+1)):9001 and lives in
#       ROOT/host$i/ (supervisord.conf, log/, run/, raptor.d/, unmanaged.d/).
#       Hosts are numbered 1..K, or N..N+K-1 with --first N (so two sandboxes
#       can run at once: --first 6 starts at 127.0.0.7).
#       Writes ROOT/hosts (one address per line), ROOT/pids ('host$i PID'),
#       ROOT/auth (USER:PASS, with --auth). Fails, stopping what it started,
#       when a host does not answer supervisor.getPID within ~10 s.
#   sandbox.sh down ROOT
#       stop every host (SIGCONT, SIGTERM, SIGKILL after 10 s), kill any child
#       process that outlived its supervisord, remove ROOT. Idempotent.
#   sandbox.sh add-unmanaged ROOT I NAME COMMAND...
#       a program raptor did not create: ROOT/host$I/unmanaged.d/NAME.conf,
#       loaded with reloadConfig + addProcessGroup; waits until RUNNING.
#   sandbox.sh stop-host ROOT I | start-host ROOT I
#       SIGTERM host I's supervisord (its programs stop with it; its directory
#       stays) / start it again.
#   sandbox.sh freeze-host ROOT I | thaw-host ROOT I
#       SIGSTOP (the socket accepts connections, nothing answers) / SIGCONT.
#   sandbox.sh url ROOT I
#       print host I's XML-RPC URL (without credentials).
#
# Every process is stopped by the PID recorded for it, after checking that the
# PID still belongs to this sandbox; nothing is killed by name.
set -u

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
repo=$(cd "$here/../.." && pwd)
plugin_dir=$repo/contrib/supervisor
xmlrpc_call=$repo/tests/integration/xmlrpc_call.py
supervisord=${SANDBOX_SUPERVISORD:-/usr/bin/supervisord}
if [ -x /usr/bin/python3 ]; then py=/usr/bin/python3; else py=python3; fi
port=9001
start_timeout=10 # seconds for a host to answer after it is started
stop_timeout=10  # seconds for a supervisord to exit after SIGTERM

die() {
	echo "sandbox: $*" >&2
	exit 1
}

usage() {
	sed -n '2,/^[^#]/{/^#/{s/^# \{0,1\}//;p}}' "${BASH_SOURCE[0]}" >&2
	exit 64
}

# --- small helpers --------------------------------------------------------

address() { echo "127.0.0.$(($1 + 1))"; }
url() { echo "http://$(address "$1"):$port/RPC2"; }

# abs_root ROOT: ROOT as an absolute path, refusing characters that
# supervisord's config parser would misread (whitespace, ';', '#', '%').
abs_root() {
	local r
	r=$(realpath -m -- "$1") || die "bad ROOT: $1"
	case "$r" in
	/ | "") die "refusing ROOT '$r'" ;;
	esac
	[[ "$r" =~ ^[A-Za-z0-9_./@,:+=-]+$ ]] ||
		die "ROOT '$r' contains characters a supervisord config cannot hold"
	echo "$r"
}

host_index() {
	if ! [[ "$1" =~ ^[1-9][0-9]*$ ]] || [ "$1" -gt 253 ]; then die "bad host number: $1"; fi
}

# call I METHOD [JSON_ARG...]: one XML-RPC call to host I (output as
# xmlrpc_call.py gives it, same exit codes)
call() {
	local i=$1
	shift
	local a=()
	[ -s "$ROOT/auth" ] && a=(--auth "$(cat "$ROOT/auth")")
	"$py" "$xmlrpc_call" "${a[@]}" --timeout "${CALL_TIMEOUT:-5}" "$(url "$i")" "$@"
}

# json EXPR: evaluate a Python expression over the JSON document on stdin,
# bound to 'v'; prints the result (strings bare, everything else as JSON)
json() {
	"$py" -c '
import json, sys
v = json.load(sys.stdin)
r = eval(sys.argv[1])
print(r if isinstance(r, str) else json.dumps(r))' "$1"
}

# starttime PID: the kernel start time of PID (field 22 of /proc/PID/stat)
starttime() {
	local s
	s=$(cat "/proc/$1/stat" 2>/dev/null) || return 1
	s=${s##*) }
	# shellcheck disable=SC2086
	set -- $s
	echo "${20}"
}

# alive PID [STARTTIME]: PID exists, is not a zombie, and is the same process
alive() {
	local s
	s=$(cat "/proc/$1/stat" 2>/dev/null) || return 1
	s=${s##*) }
	# shellcheck disable=SC2086
	set -- "${2:-}" $s
	[ "$2" != Z ] || return 1
	[ -z "$1" ] || [ "$1" = "${21}" ]
}

# ours I PID: PID is host I's supervisord of this ROOT
ours() {
	local cmd
	alive "$2" || return 1
	cmd=$(tr '\0' ' ' <"/proc/$2/cmdline" 2>/dev/null) || return 1
	case "$cmd" in
	*supervisord*" -c $ROOT/host$1/supervisord.conf"*) return 0 ;;
	*) return 1 ;;
	esac
}

# descendants PID: 'pid starttime' of every process below PID
descendants() {
	local p
	for p in $(ps -e -o pid=,ppid= | awk -v root="$1" '
		{ parent[$1] = $2 }
		END {
			inside[root] = 1
			do {
				grew = 0
				for (p in parent)
					if (!(p in inside) && (parent[p] in inside)) { inside[p] = 1; grew = 1 }
			} while (grew)
			for (p in inside) if (p != root) print p
		}'); do
		echo "$p $(starttime "$p")"
	done
}

pid_of() { awk -v h="host$1" '$1 == h { print $2 }' "$ROOT/pids" 2>/dev/null | tail -n 1; }

set_pid() {
	local tmp=$ROOT/pids.tmp
	{
		[ -f "$ROOT/pids" ] && awk -v h="host$1" '$1 != h' "$ROOT/pids"
		[ -n "$2" ] && echo "host$1 $2"
	} >"$tmp"
	mv -f "$tmp" "$ROOT/pids"
}

log_tail() {
	local i=$1 f
	for f in "$ROOT/host$i/log/supervisord.out" "$ROOT/host$i/log/supervisord.log"; do
		[ -s "$f" ] || continue
		echo "--- tail of $f" >&2
		tail -n 15 "$f" >&2
	done
}

# stop_hosts I...: stop those hosts' supervisords (recorded PIDs only) and any
# descendant that outlives them; removes their lines from ROOT/pids
stop_hosts() {
	local hosts=("$@") i pid pids=() kids=() deadline left line
	for i in "${hosts[@]}"; do
		pid=$(pid_of "$i")
		if [ -n "$pid" ] && ours "$i" "$pid"; then
			pids+=("$pid")
			while read -r line; do
				[ -n "$line" ] && kids+=("$line")
			done < <(descendants "$pid")
			kill -CONT "$pid" 2>/dev/null
			kill -TERM "$pid" 2>/dev/null
		fi
	done
	deadline=$((SECONDS + stop_timeout))
	while :; do
		left=()
		for pid in "${pids[@]}"; do alive "$pid" && left+=("$pid"); done
		[ ${#left[@]} -eq 0 ] && break
		if [ "$SECONDS" -ge "$deadline" ]; then
			for pid in "${left[@]}"; do
				echo "sandbox: supervisord $pid did not exit after SIGTERM; SIGKILL" >&2
				kill -KILL "$pid" 2>/dev/null
			done
			deadline=$((SECONDS + 5))
		fi
		sleep 0.1
	done
	# supervisord stops its programs on SIGTERM; anything left is killed here
	if [ ${#kids[@]} -gt 0 ]; then
		local survivors=() k
		for k in "${kids[@]}"; do
			# shellcheck disable=SC2086
			set -- $k
			if alive "$1" "${2:-}"; then
				survivors+=("$k")
				echo "sandbox: process $1 outlived its supervisord; stopping it" >&2
				kill -CONT "$1" 2>/dev/null
				kill -TERM "$1" 2>/dev/null
			fi
		done
		deadline=$((SECONDS + 3))
		while [ ${#survivors[@]} -gt 0 ]; do
			left=()
			for k in "${survivors[@]}"; do
				# shellcheck disable=SC2086
				set -- $k
				alive "$1" "${2:-}" && left+=("$k")
			done
			survivors=("${left[@]+"${left[@]}"}")
			[ ${#survivors[@]} -eq 0 ] && break
			if [ "$SECONDS" -ge "$deadline" ]; then
				for k in "${survivors[@]}"; do
					# shellcheck disable=SC2086
					set -- $k
					alive "$1" "${2:-}" && kill -KILL "$1" 2>/dev/null
				done
				sleep 0.1
				break
			fi
			sleep 0.1
		done
	fi
	for i in "${hosts[@]}"; do set_pid "$i" ""; done
}

# launch I: start host I's supervisord in the background, record its PID
launch() {
	local i=$1 dir=$ROOT/host$1 pid
	# no job control here, so ^C in the caller's terminal still reaches it
	PYTHONPATH="$plugin_dir${PYTHONPATH:+:$PYTHONPATH}" PYTHONDONTWRITEBYTECODE=1 \
		"$supervisord" -n -c "$dir/supervisord.conf" \
		</dev/null >"$dir/log/supervisord.out" 2>&1 &
	pid=$!
	set_pid "$i" "$pid"
}

# wait_ready I...: wait until each host answers supervisor.getPID with the
# PID recorded for it; on failure report, stop these hosts and return 1
wait_ready() {
	local i pid got deadline=$((SECONDS + start_timeout)) pending=("$@") left
	while [ ${#pending[@]} -gt 0 ]; do
		left=()
		for i in "${pending[@]}"; do
			pid=$(pid_of "$i")
			if ! alive "$pid"; then
				echo "sandbox: host$i's supervisord (pid $pid) exited during start-up" >&2
				log_tail "$i"
				stop_hosts "$@"
				return 1
			fi
			got=$(CALL_TIMEOUT=1 call "$i" supervisor.getPID 2>/dev/null)
			if [ "$got" != "$pid" ]; then
				if [ -n "$got" ]; then
					echo "sandbox: $(address "$i"):$port is answered by pid $got, not host$i's supervisord $pid" >&2
					stop_hosts "$@"
					return 1
				fi
				left+=("$i")
			fi
		done
		pending=("${left[@]+"${left[@]}"}")
		[ ${#pending[@]} -eq 0 ] && break
		if [ "$SECONDS" -ge "$deadline" ]; then
			for i in "${pending[@]}"; do
				echo "sandbox: host$i ($(url "$i")) did not answer within ${start_timeout}s" >&2
				log_tail "$i"
			done
			stop_hosts "$@"
			return 1
		fi
		sleep 0.1
	done
}

write_conf() {
	local i=$1 plugin=$2 auth=$3 dir=$ROOT/host$1 addr
	addr=$(address "$i")
	mkdir -p "$dir/log" "$dir/run" "$dir/raptor.d" "$dir/unmanaged.d"
	{
		echo "; raptor sandbox host$i, written by tests/sandbox/sandbox.sh"
		echo "[supervisord]"
		echo "nodaemon=true"
		echo "identifier=raptor-sandbox-host$i"
		echo "logfile=$dir/log/supervisord.log"
		echo "pidfile=$dir/run/supervisord.pid"
		echo "childlogdir=$dir/log"
		echo "directory=$dir/run"
		echo
		echo "[inet_http_server]"
		echo "port=$addr:$port"
		if [ -n "$auth" ]; then
			echo "username=${auth%%:*}"
			echo "password=${auth#*:}"
		fi
		echo
		echo "[supervisorctl]"
		echo "serverurl=http://$addr:$port"
		if [ -n "$auth" ]; then
			echo "username=${auth%%:*}"
			echo "password=${auth#*:}"
		fi
		echo
		echo "[rpcinterface:supervisor]"
		echo "supervisor.rpcinterface_factory = supervisor.rpcinterface:make_main_rpcinterface"
		if [ "$plugin" = 1 ]; then
			echo
			echo "[rpcinterface:raptor]"
			echo "supervisor.rpcinterface_factory = raptor_rpc:make_interface"
			echo "program_dir = $dir/raptor.d"
		fi
		echo
		echo "[include]"
		echo "files = raptor.d/*.conf unmanaged.d/*.conf"
	} >"$dir/supervisord.conf"
}

# --- commands -------------------------------------------------------------

cmd_up() {
	[ $# -ge 2 ] || usage
	ROOT=$(abs_root "$1") || exit 1
	local k=$2 auth="" i first=1
	shift 2
	if ! [[ "$k" =~ ^[1-9][0-9]*$ ]] || [ "$k" -gt 253 ]; then die "bad host count: $k"; fi
	declare -A noplugin=()
	while [ $# -gt 0 ]; do
		case "$1" in
		--auth)
			[ $# -ge 2 ] || die "--auth needs USER:PASS"
			auth=$2
			shift 2
			;;
		--first)
			[ $# -ge 2 ] || die "--first needs a host number"
			host_index "$2"
			first=$2
			shift 2
			;;
		--no-plugin)
			[ $# -ge 2 ] || die "--no-plugin needs a host number"
			host_index "$2"
			noplugin[$2]=1
			shift 2
			;;
		*) die "unknown option: $1" ;;
		esac
	done
	[ $((first + k - 1)) -le 253 ] || die "hosts $first..$((first + k - 1)): the last address would be past 127.0.0.254"
	for i in "${!noplugin[@]}"; do
		if [ "$i" -lt "$first" ] || [ "$i" -gt $((first + k - 1)) ]; then
			die "--no-plugin $i: no such host (hosts $first..$((first + k - 1)))"
		fi
	done
	if [ -n "$auth" ]; then
		[[ "$auth" =~ ^[A-Za-z0-9_.-]+:[A-Za-z0-9_.+@=,-]+$ ]] ||
			die "--auth wants USER:PASS (letters, digits and _.- in USER; no spaces, ':', '%', ';' or '#')"
	fi
	if [ -f "$ROOT/pids" ]; then
		local h p
		while read -r h p; do
			alive "$p" && die "$ROOT is already up ($h is pid $p); run 'sandbox.sh down $ROOT' first"
		done <"$ROOT/pids"
	fi
	if [ -d "$ROOT" ] && ! is_sandbox && [ -n "$(ls -A "$ROOT")" ]; then
		die "$ROOT exists and is not a sandbox; 'down' would remove it, so choose an empty or new directory"
	fi
	mkdir -p "$ROOT" || die "cannot create $ROOT"
	: >"$ROOT/pids"
	: >"$ROOT/hosts"
	rm -f "$ROOT/auth"
	if [ -n "$auth" ]; then
		(umask 077 && echo "$auth" >"$ROOT/auth")
	fi
	local all=()
	for i in $(seq "$first" $((first + k - 1))); do
		write_conf "$i" "$([ -n "${noplugin[$i]:-}" ] && echo 0 || echo 1)" "$auth"
		address "$i" >>"$ROOT/hosts"
		all+=("$i")
	done
	for i in "${all[@]}"; do launch "$i"; done
	wait_ready "${all[@]}" || exit 1
	echo "sandbox: $k host(s) up under $ROOT: $(tr '\n' ' ' <"$ROOT/hosts")" >&2
}

cmd_down() {
	[ $# -eq 1 ] || usage
	ROOT=$(abs_root "$1") || exit 1
	[ -e "$ROOT" ] || return 0
	is_sandbox || die "$ROOT does not look like a sandbox (no pids or hosts file); not removing it"
	if [ -f "$ROOT/pids" ]; then
		local hosts=() h p
		while read -r h p; do
			[[ "$h" =~ ^host[0-9]+$ ]] && hosts+=("${h#host}")
		done <"$ROOT/pids"
		[ ${#hosts[@]} -gt 0 ] && stop_hosts "${hosts[@]}"
	fi
	rm -rf -- "$ROOT"
}

is_sandbox() { [ -f "$ROOT/pids" ] || [ -f "$ROOT/hosts" ]; }

# root_host ROOT I: set ROOT and check host I exists
root_host() {
	[ $# -eq 2 ] || usage
	ROOT=$(abs_root "$1") || exit 1
	host_index "$2"
	[ -f "$ROOT/host$2/supervisord.conf" ] || die "no host$2 under $ROOT"
}

running_pid() {
	local pid
	pid=$(pid_of "$1")
	[ -n "$pid" ] && ours "$1" "$pid" && echo "$pid"
}

cmd_stop_host() {
	root_host "$@"
	[ -n "$(running_pid "$2")" ] || die "host$2 is not running"
	stop_hosts "$2"
}

cmd_start_host() {
	root_host "$@"
	[ -z "$(running_pid "$2")" ] || die "host$2 is already running"
	launch "$2"
	wait_ready "$2" || exit 1
}

cmd_freeze_host() {
	local pid
	root_host "$@"
	pid=$(running_pid "$2") || die "host$2 is not running"
	kill -STOP "$pid"
}

cmd_thaw_host() {
	local pid
	root_host "$@"
	pid=$(running_pid "$2") || die "host$2 is not running"
	kill -CONT "$pid"
}

cmd_url() {
	root_host "$@"
	url "$2"
}

cmd_add_unmanaged() {
	[ $# -ge 4 ] || usage
	root_host "$1" "$2"
	local i=$2 name=$3 line res added changed deadline state=""
	shift 3
	[[ "$name" =~ ^[A-Za-z0-9_][A-Za-z0-9_.-]{0,199}$ ]] || die "bad program name: $name"
	[ -n "$(running_pid "$i")" ] || die "host$i is not running"
	# one command line that supervisord splits back into the same words
	line=$("$py" -c '
import re, shlex, sys
line = shlex.join(sys.argv[1:])
if re.search(r"[\r\n\0]", line) or re.search(r"\s[;#]", line):
    sys.exit("newline, NUL, or a semicolon or hash after whitespace: supervisord would cut the command")
print(line.replace("%", "%%"))' "$@") || die "cannot write that command for supervisord"
	local dir=$ROOT/host$i conf=$ROOT/host$i/unmanaged.d/$name.conf
	{
		echo "[program:$name]"
		echo "command=$line"
		echo "directory=$dir/run"
		echo "autostart=true"
		echo "autorestart=true"
		echo "startsecs=1"
		echo "stopasgroup=true"
		echo "killasgroup=true"
		echo "redirect_stderr=true"
		echo "stdout_logfile=$dir/log/$name.log"
	} >"$dir/unmanaged.d/.$name.conf.tmp"
	mv -f "$dir/unmanaged.d/.$name.conf.tmp" "$conf"
	res=$(call "$i" supervisor.reloadConfig) || die "host$i: reloadConfig: $res"
	added=$(echo "$res" | json "'$name' in v[0][0]")
	changed=$(echo "$res" | json "'$name' in v[0][1]")
	if [ "$changed" = true ]; then
		res=$(CALL_TIMEOUT=30 call "$i" supervisor.stopProcessGroup "\"$name\"") || die "host$i: stopProcessGroup: $res"
		res=$(call "$i" supervisor.removeProcessGroup "\"$name\"") || die "host$i: removeProcessGroup: $res"
		added=true
	fi
	if [ "$added" = true ]; then
		res=$(call "$i" supervisor.addProcessGroup "\"$name\"") || die "host$i: addProcessGroup: $res"
	fi
	deadline=$((SECONDS + 15))
	while [ "$SECONDS" -lt "$deadline" ]; do
		res=$(call "$i" supervisor.getProcessInfo "\"$name\"") &&
			state=$(echo "$res" | json "v['statename']")
		[ "$state" = RUNNING ] && return 0
		[ "$state" = FATAL ] && break
		sleep 0.2
	done
	echo "sandbox: host$i: $name is ${state:-unknown}, not RUNNING" >&2
	[ -s "$dir/log/$name.log" ] && tail -n 10 "$dir/log/$name.log" >&2
	exit 1
}

[ $# -ge 1 ] || usage
command=$1
shift
case "$command" in
up) cmd_up "$@" ;;
down) cmd_down "$@" ;;
add-unmanaged) cmd_add_unmanaged "$@" ;;
stop-host) cmd_stop_host "$@" ;;
start-host) cmd_start_host "$@" ;;
freeze-host) cmd_freeze_host "$@" ;;
thaw-host) cmd_thaw_host "$@" ;;
url) cmd_url "$@" ;;
-h | --help | help) usage ;;
*) die "unknown command: $command (up, down, add-unmanaged, stop-host, start-host, freeze-host, thaw-host, url)" ;;
esac
