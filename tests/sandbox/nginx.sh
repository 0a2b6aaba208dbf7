#!/usr/bin/env bash
# nginx.sh: a real nginx on 127.0.0.1 for tests and the demo, everything under ROOT.
#
#   nginx.sh up ROOT [PORT]
#       write ROOT/nginx.conf and start nginx on 127.0.0.1:PORT (default: a
#       free port). Prints the port and writes it to ROOT/port; records the
#       master's PID in ROOT/pids; returns once nginx answers. Every file
#       nginx uses is under ROOT: pid, error and access logs, lock, temp paths.
#       The one server block includes ROOT/sites.d/*.conf (location snippets),
#       and the http block includes ROOT/raptor.d/*.conf: raptor's pool files.
#   nginx.sh down ROOT
#       stop that nginx (SIGQUIT, then SIGTERM and SIGKILL after a timeout),
#       only if the recorded PID is still its master; remove ROOT. Idempotent.
#   nginx.sh site ROOT POOL [PATH]
#       serve PATH (default /) from pool POOL: writes ROOT/sites.d/POOL.conf,
#       `location PATH { proxy_pass http://POOL; }`, then tests and reloads.
#       The pool must exist first (ROOT/raptor.d/POOL.conf): nginx -t fails on
#       a location that proxies to an upstream it does not know, so add a site
#       after raptor has written its pool, and remove it (unsite) before the
#       pool goes.
#   nginx.sh unsite ROOT POOL
#       remove ROOT/sites.d/POOL.conf, test and reload.
#   nginx.sh reload ROOT
#       test, reload, and wait until the new configuration answers.
#   nginx.sh wait-for ROOT PATH TEXT [SECONDS]
#       wait (default 10 s) until GET PATH through nginx answers with TEXT in it.
#   nginx.sh argv ROOT test|reload
#       the command raptor's balancer should run, one word per line.
#   nginx.sh balancer ROOT [NAME]
#       a `balancers:` entry (default name edge) for a desired-state file.
#   nginx.sh port ROOT
#       the port nginx listens on.
#
# nginx is stopped only by the PID recorded for it, after checking that the
# PID is still the master started with this ROOT's config; nothing is killed
# by name.
set -u

nginx=${SANDBOX_NGINX:-$(command -v nginx || echo /usr/sbin/nginx)}
if [ -x /usr/bin/python3 ]; then py=/usr/bin/python3; else py=python3; fi
marker="# raptor nginx sandbox, written by tests/sandbox/nginx.sh"
start_timeout=10 # seconds for nginx to answer after it is started or reloaded
stop_timeout=10  # seconds for nginx to exit after SIGQUIT (then SIGTERM, then SIGKILL)

die() {
	echo "nginx.sh: $*" >&2
	exit 1
}

usage() {
	sed -n '2,/^[^#]/{/^#/{s/^# \{0,1\}//;p}}' "${BASH_SOURCE[0]}" >&2
	exit 64
}

# abs_root ROOT: ROOT as an absolute path, refusing characters an nginx
# config would need quoting for
abs_root() {
	local r
	r=$(realpath -m -- "$1") || die "bad ROOT: $1"
	case "$r" in
	/ | "") die "refusing ROOT '$r'" ;;
	esac
	[[ "$r" =~ ^[A-Za-z0-9_./@,:+=-]+$ ]] ||
		die "ROOT '$r' contains characters an nginx config cannot hold unquoted"
	echo "$r"
}

valid_pool() { [[ "$1" =~ ^[A-Za-z0-9_.]{1,200}$ ]]; }

# the words of nginx's own command line for this ROOT (after the action),
# one per line (printf, not echo: echo would eat "-e")
common_args() {
	printf '%s\n' -c "$ROOT/nginx.conf" -p "$ROOT/"
	# the early error log, before the config's error_log is read (nginx >= 1.19.5)
	if "$nginx" -h 2>&1 | grep -q -- '-e filename'; then
		printf '%s\n' -e "$ROOT/error.log"
	fi
}

test_argv() {
	printf '%s\n' "$nginx" -t -q
	common_args
}

reload_argv() {
	printf '%s\n' "$nginx" -s reload
	common_args
}

# run_words CMD-PRINTING-FUNCTION: run the command it prints
run_words() {
	local words=()
	mapfile -t words < <("$1")
	"${words[@]}"
}

# --- processes -----------------------------------------------------------

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
	[ -n "$1" ] || return 1
	s=$(cat "/proc/$1/stat" 2>/dev/null) || return 1
	s=${s##*) }
	# shellcheck disable=SC2086
	set -- "${2:-}" $s
	[ "$2" != Z ] || return 1
	[ -z "$1" ] || [ "$1" = "${21}" ]
}

# ours PID [STARTTIME]: PID is the nginx master started with ROOT's config
ours() {
	local cmd
	alive "$1" "${2:-}" || return 1
	cmd=$(tr '\0' ' ' <"/proc/$1/cmdline" 2>/dev/null) || return 1
	case "$cmd" in
	*"nginx: master process"*" -c $ROOT/nginx.conf "*) return 0 ;;
	*) return 1 ;;
	esac
}

# the recorded master: "PID STARTTIME", or nothing
recorded() { awk '$1 == "nginx" { print $2, $3 }' "$ROOT/pids" 2>/dev/null | tail -n 1; }

# running_pid: the recorded master's PID when it is still ours
running_pid() {
	local rec
	rec=$(recorded)
	[ -n "$rec" ] || return 1
	# shellcheck disable=SC2086
	set -- $rec
	ours "$1" "${2:-}" && echo "$1"
}

children() { ps -e -o pid=,ppid= | awk -v p="$1" '$2 == p { print $1 }'; }

# stop_master PID: SIGQUIT (graceful), SIGTERM, SIGKILL; then any worker left
stop_master() {
	local pid=$1 start kids=() k deadline sig
	start=$(starttime "$pid")
	for k in $(children "$pid"); do kids+=("$k $(starttime "$k")"); done
	for sig in QUIT TERM KILL; do
		kill -"$sig" "$pid" 2>/dev/null
		if [ "$sig" = QUIT ]; then deadline=$((SECONDS + stop_timeout)); else deadline=$((SECONDS + 5)); fi
		while alive "$pid" "$start" && [ "$SECONDS" -lt "$deadline" ]; do sleep 0.1; done
		alive "$pid" "$start" || break
		echo "nginx.sh: nginx master $pid did not exit after SIG$sig" >&2
	done
	for k in "${kids[@]+"${kids[@]}"}"; do
		# shellcheck disable=SC2086
		set -- $k
		if alive "$1" "${2:-}"; then
			echo "nginx.sh: nginx worker $1 outlived its master; SIGKILL" >&2
			kill -KILL "$1" 2>/dev/null
		fi
	done
}

# --- talking to it -------------------------------------------------------

# get PATH: the body of GET PATH through nginx (curl, or python without it)
get() {
	local port
	port=$(cat "$ROOT/port" 2>/dev/null) || return 1
	if command -v curl >/dev/null 2>&1; then
		curl -s --noproxy '*' --max-time 2 "http://127.0.0.1:$port$1"
	else
		"$py" -c '
import sys, urllib.request
h = urllib.request.ProxyHandler({})
print(urllib.request.build_opener(h).open(sys.argv[1], timeout=2).read().decode(), end="")' \
			"http://127.0.0.1:$port$1" 2>/dev/null
	fi
}

# write_generation N: the location that tells which configuration answers
write_generation() {
	{
		echo "$marker"
		echo "location = /__raptor_sandbox {"
		echo "    default_type text/plain;"
		printf '    return 200 "raptor-nginx-sandbox %s %s\\n";\n' "$(cat "$ROOT/token")" "$1"
		echo "}"
	} >"$ROOT/generation.conf.tmp" && mv -f "$ROOT/generation.conf.tmp" "$ROOT/generation.conf"
	echo "$1" >"$ROOT/generation"
}

# accepting PID...: those of the PIDs that are workers still taking new
# connections (a worker renames itself "is shutting down" just before it
# closes its listening sockets)
accepting() {
	local p cmd
	for p in "$@"; do
		cmd=$(tr '\0' ' ' <"/proc/$p/cmdline" 2>/dev/null) || continue
		case "$cmd" in
		*"worker process is shutting down"*) ;;
		*"worker process"*) echo "$p" ;;
		esac
	done
}

# wait_generation N [OLD-WORKER...]: until the configuration of generation N
# answers and none of the old workers takes new connections any more (until
# then one of them may still answer with the old configuration)
wait_generation() {
	local gen=$1 want deadline=$((SECONDS + start_timeout))
	shift
	want="raptor-nginx-sandbox $(cat "$ROOT/token") $gen"
	while [ "$SECONDS" -lt "$deadline" ]; do
		[ "$(get /__raptor_sandbox)" = "$want" ] && [ -z "$(accepting "$@")" ] && return 0
		running_pid >/dev/null || {
			echo "nginx.sh: nginx exited" >&2
			return 1
		}
		sleep 0.05
	done
	echo "nginx.sh: nginx did not answer with configuration $gen within ${start_timeout}s" >&2
	[ -s "$ROOT/error.log" ] && tail -n 5 "$ROOT/error.log" >&2
	return 1
}

# reload: test, reload, wait for the new configuration; 1 (with nginx's
# words on stderr) when the test or the reload fails
do_reload() {
	local gen out pid old=()
	pid=$(running_pid) || {
		echo "nginx.sh: nginx is not running under $ROOT" >&2
		return 1
	}
	mapfile -t old < <(children "$pid")
	gen=$(($(cat "$ROOT/generation" 2>/dev/null || echo 0) + 1))
	write_generation "$gen"
	if ! out=$(run_words test_argv 2>&1); then
		echo "nginx.sh: nginx -t failed:" >&2
		echo "$out" >&2
		return 1
	fi
	if ! out=$(run_words reload_argv 2>&1); then
		echo "nginx.sh: nginx -s reload failed:" >&2
		echo "$out" >&2
		return 1
	fi
	wait_generation "$gen" "${old[@]+"${old[@]}"}"
}

is_sandbox() { [ -f "$ROOT/nginx.conf" ] && [ "$(head -n 1 "$ROOT/nginx.conf")" = "$marker" ]; }

need_sandbox() {
	ROOT=$(abs_root "$1") || exit 1
	is_sandbox || die "$ROOT is not an nginx sandbox (see 'nginx.sh up')"
}

free_port() {
	"$py" -c '
import socket
s = socket.socket()
s.bind(("127.0.0.1", 0))
print(s.getsockname()[1])'
}

write_conf() {
	local port=$1
	{
		echo "$marker"
		echo "worker_processes 1;"
		echo "pid $ROOT/nginx.pid;"
		echo "error_log $ROOT/error.log warn;"
		echo "lock_file $ROOT/nginx.lock;"
		echo "worker_shutdown_timeout 10s;"
		# as root, workers run as nobody: they proxy and read nothing under ROOT
		[ "$(id -u)" = 0 ] && echo "user nobody $(id -gn nobody 2>/dev/null || echo nogroup);"
		echo "events { worker_connections 512; }"
		echo "http {"
		echo "    default_type text/plain;"
		echo "    log_format upstream '\$remote_addr \"\$request\" \$status upstream=\$upstream_addr';"
		echo "    access_log $ROOT/access.log upstream;"
		echo "    client_body_temp_path $ROOT/tmp/client_body;"
		echo "    proxy_temp_path $ROOT/tmp/proxy;"
		echo "    fastcgi_temp_path $ROOT/tmp/fastcgi;"
		echo "    uwsgi_temp_path $ROOT/tmp/uwsgi;"
		echo "    scgi_temp_path $ROOT/tmp/scgi;"
		echo "    proxy_max_temp_file_size 0;"
		echo "    proxy_connect_timeout 2s;"
		echo "    # raptor's pools: one upstream per file"
		echo "    include $ROOT/raptor.d/*.conf;"
		echo "    server {"
		echo "        listen 127.0.0.1:$port;"
		echo "        server_name _;"
		echo "        include $ROOT/generation.conf;"
		echo "        # location snippets, one per pool (nginx.sh site)"
		echo "        include $ROOT/sites.d/*.conf;"
		echo "    }"
		echo "}"
	} >"$ROOT/nginx.conf"
}

# --- commands ------------------------------------------------------------

cmd_up() {
	[ $# -ge 1 ] && [ $# -le 2 ] || usage
	ROOT=$(abs_root "$1") || exit 1
	local want=${2:-} port pid attempt out
	[ -x "$nginx" ] || die "no nginx at $nginx (install nginx-light, or set SANDBOX_NGINX)"
	if [ -n "$want" ]; then
		[[ "$want" =~ ^[1-9][0-9]{0,4}$ ]] && [ "$want" -le 65535 ] || die "bad port: $want"
	fi
	if [ -e "$ROOT" ]; then
		if is_sandbox; then
			pid=$(running_pid) && die "$ROOT is already up (nginx pid $pid); run 'nginx.sh down $ROOT' first"
		elif [ -n "$(ls -A "$ROOT" 2>/dev/null)" ]; then
			die "$ROOT exists and is not an nginx sandbox; 'down' would remove it, so choose an empty or new directory"
		fi
	fi
	mkdir -p "$ROOT/raptor.d" "$ROOT/sites.d" "$ROOT/tmp" || die "cannot create $ROOT"
	: >"$ROOT/pids"
	rm -f "$ROOT/port" "$ROOT/nginx.pid"
	od -An -N8 -tx1 /dev/urandom | tr -d ' \n' >"$ROOT/token"
	write_generation 0
	for attempt in 1 2 3 4 5; do
		port=${want:-$(free_port)} || die "cannot find a free port"
		write_conf "$port"
		echo "$port" >"$ROOT/port"
		mapfile -t words < <(common_args)
		if out=$("$nginx" "${words[@]}" 2>&1); then
			break
		fi
		if [ -z "$want" ] && [ "$attempt" -lt 5 ] && [[ "$out" == *"Address already in use"* ]]; then
			continue
		fi
		rm -f "$ROOT/port"
		die "nginx did not start: $out"
	done
	# the master writes its pid file once it has daemonized
	local deadline=$((SECONDS + start_timeout))
	pid=""
	while [ "$SECONDS" -lt "$deadline" ]; do
		pid=$(cat "$ROOT/nginx.pid" 2>/dev/null)
		[ -n "$pid" ] && ours "$pid" && break
		pid=""
		sleep 0.05
	done
	[ -n "$pid" ] || die "nginx started but $ROOT/nginx.pid names no master of this config"
	echo "nginx $pid $(starttime "$pid")" >"$ROOT/pids"
	if ! wait_generation 0; then
		stop_master "$pid"
		: >"$ROOT/pids"
		die "nginx (pid $pid) did not answer on 127.0.0.1:$port"
	fi
	echo "$port"
	{
		echo "nginx.sh: nginx up on 127.0.0.1:$port (pid $pid) under $ROOT"
		echo "  include_dir: $ROOT/raptor.d"
		echo "  test:   $(test_argv | tr '\n' ' ')"
		echo "  reload: $(reload_argv | tr '\n' ' ')"
	} >&2
}

cmd_down() {
	[ $# -eq 1 ] || usage
	ROOT=$(abs_root "$1") || exit 1
	[ -e "$ROOT" ] || return 0
	if ! is_sandbox; then
		# an 'up' that failed before writing its config leaves only these
		local f
		for f in "$ROOT"/* "$ROOT"/.[!.]*; do
			[ -e "$f" ] || continue
			case "${f##*/}" in
			raptor.d | sites.d | tmp | pids | token | generation | generation.conf | port) ;;
			*) die "$ROOT does not look like an nginx sandbox; not removing it" ;;
			esac
		done
	fi
	local pid
	if pid=$(running_pid); then
		stop_master "$pid"
	fi
	rm -rf -- "$ROOT"
}

cmd_site() {
	[ $# -ge 2 ] && [ $# -le 3 ] || usage
	need_sandbox "$1"
	local pool=$2 path=${3:-/} file had=0
	valid_pool "$pool" || die "bad pool name: $pool (pool names are identifiers: [A-Za-z0-9_.]+)"
	[[ "$path" =~ ^/[A-Za-z0-9_./~-]*$ ]] || die "bad PATH: $path (an absolute URL path)"
	[ -f "$ROOT/raptor.d/$pool.conf" ] ||
		die "pool $pool has no file $ROOT/raptor.d/$pool.conf yet: nginx -t would fail on a location that proxies to an unknown upstream; add the site after the pool exists"
	file=$ROOT/sites.d/$pool.conf
	[ -f "$file" ] && cp -p "$file" "$file.old" && had=1
	{
		echo "# pool $pool served at $path"
		echo "location $path {"
		echo "    proxy_pass http://$pool;"
		echo "}"
	} >"$file.tmp" && mv -f "$file.tmp" "$file"
	running_pid >/dev/null || {
		rm -f "$file.old"
		return 0
	}
	if ! do_reload; then
		if [ "$had" = 1 ]; then mv -f "$file.old" "$file"; else rm -f "$file"; fi
		die "site $pool not added"
	fi
	rm -f "$file.old"
}

cmd_unsite() {
	[ $# -eq 2 ] || usage
	need_sandbox "$1"
	valid_pool "$2" || die "bad pool name: $2"
	rm -f "$ROOT/sites.d/$2.conf"
	if running_pid >/dev/null; then do_reload || exit 1; fi
}

cmd_reload() {
	[ $# -eq 1 ] || usage
	need_sandbox "$1"
	do_reload || exit 1
}

cmd_wait_for() {
	[ $# -ge 3 ] && [ $# -le 4 ] || usage
	need_sandbox "$1"
	local path=$2 text=$3 secs=${4:-10} deadline body=""
	[[ "$secs" =~ ^[0-9]+$ ]] || die "bad SECONDS: $secs"
	deadline=$((SECONDS + secs))
	while :; do
		body=$(get "$path")
		[[ "$body" == *"$text"* ]] && return 0
		[ "$SECONDS" -ge "$deadline" ] && break
		sleep 0.1
	done
	die "GET $path did not answer with '$text' within ${secs}s; last answer: $(echo "$body" | head -c 200)"
}

cmd_argv() {
	[ $# -eq 2 ] || usage
	need_sandbox "$1"
	case "$2" in
	test) test_argv ;;
	reload) reload_argv ;;
	*) die "argv: test or reload, not '$2'" ;;
	esac
}

# a YAML flow list of the words on stdin
flow() { paste -sd, - | sed 's/,/, /g; s/^/[/; s/$/]/'; }

cmd_balancer() {
	[ $# -ge 1 ] && [ $# -le 2 ] || usage
	need_sandbox "$1"
	local name=${2:-edge}
	valid_pool "$name" || die "bad balancer name: $name"
	echo "balancers:"
	echo "  $name:"
	echo "    type: nginx"
	echo "    include_dir: $ROOT/raptor.d"
	echo "    test: $(test_argv | flow)"
	echo "    reload: $(reload_argv | flow)"
}

cmd_port() {
	[ $# -eq 1 ] || usage
	need_sandbox "$1"
	cat "$ROOT/port" 2>/dev/null || die "no port recorded under $ROOT"
}

[ $# -ge 1 ] || usage
command=$1
shift
case "$command" in
up) cmd_up "$@" ;;
down) cmd_down "$@" ;;
site) cmd_site "$@" ;;
unsite) cmd_unsite "$@" ;;
reload) cmd_reload "$@" ;;
wait-for) cmd_wait_for "$@" ;;
argv) cmd_argv "$@" ;;
balancer) cmd_balancer "$@" ;;
port) cmd_port "$@" ;;
-h | --help | help) usage ;;
*) die "unknown command: $command (up, down, site, unsite, reload, wait-for, argv, balancer, port)" ;;
esac
