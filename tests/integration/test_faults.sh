# Faults, end to end: what raptor does when the world misbehaves under it.
# Real supervisord hosts on 127.0.0.21-24 and 127.0.0.25 (with basic auth),
# a real nginx, the demo app, and misbehaving XML-RPC "hosts" on
# 127.0.0.30-34 (fake_host.py). App ports 5900-5999.
#
#   1. a host killed while the new instances are being checked
#   2. hosts that reset the connection, answer HTTP 500, send 100 MB, answer
#      late, send garbage
#   3. wrong credentials
#   4. an nginx reload that fails
#   5. a state directory that is read-only, immutable, not a directory, full
#   6. raptor SIGKILLed at random points of a rollout, 20 times, each rerun converging;
#      and once while a release that fails its check is being checked
#
# FT_SEED=N replays scenario 6's random delays; FT_KILLS=N kills N times, not 20.

SANDBOX="$REPO_ROOT/tests/sandbox/sandbox.sh"
NGINX="$REPO_ROOT/tests/sandbox/nginx.sh"
FAKE="$REPO_ROOT/tests/integration/fake_host.py"
ft_fleet="$SCRATCH/fleet"
ft_auth="$SCRATCH/authfleet"
ft_ngx="$SCRATCH/nginx"
ft_mounts=() # tmpfs mounted by this file, unmounted on exit
ft_fakes=()  # PID files of the fake hosts
ft_bg=""     # a raptor running in the background
ft_watch="" ft_loop="" # scenario 1's pool watcher and request loop
rc=0 out='' err=''
cd "$SCRATCH" || exit 1
mkdir -p apps state
cp "$REPO_ROOT"/examples/apps/* apps/

ft_ms() { date +%s%3N; }

# ft_stop_pidfile FILE: stop the fake host whose PID FILE holds, only if that
# PID still runs fake_host.py; wait until it is gone
ft_stop_pidfile() {
	local pid t
	pid=$(cat "$1" 2>/dev/null) || return 0
	if [ -n "$pid" ] && tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null | grep -q 'fake_host.py'; then
		kill -TERM "$pid" 2>/dev/null
		for t in $(seq 1 50); do
			kill -0 "$pid" 2>/dev/null || break
			sleep 0.1
		done
		kill -0 "$pid" 2>/dev/null && kill -KILL "$pid" 2>/dev/null
	fi
	rm -f "$1"
}

ft_cleanup() {
	local f m
	[ -n "$ft_bg" ] && kill -KILL "$ft_bg" 2>/dev/null
	touch "$SCRATCH/stop-watch"
	for f in $ft_watch $ft_loop; do kill "$f" 2>/dev/null; done
	for f in "${ft_fakes[@]+"${ft_fakes[@]}"}"; do ft_stop_pidfile "$f"; done
	for m in "${ft_mounts[@]+"${ft_mounts[@]}"}"; do
		chattr -i "$m" 2>/dev/null
		mountpoint -q "$m" && umount "$m" 2>/dev/null
	done
	bash "$NGINX" down "$ft_ngx" >/dev/null 2>&1
	bash "$SANDBOX" down "$ft_auth" >/dev/null 2>&1
	bash "$SANDBOX" down "$ft_fleet" >/dev/null 2>&1
}
ft_old_trap=$(trap -p EXIT)
trap 'ft_cleanup' EXIT

# sandbox hosts 20..23 are 127.0.0.21..24
bash "$SANDBOX" up "$ft_fleet" 4 --first 20 >"$SCRATCH/sandbox.log" 2>&1 || fail "faults: sandbox up" "$(tail -5 "$SCRATCH/sandbox.log")"
bash "$NGINX" up "$ft_ngx" >"$SCRATCH/nginx.log" 2>&1 || fail "faults: nginx up" "$(tail -5 "$SCRATCH/nginx.log")"
ft_port=$(cat "$ft_ngx/port" 2>/dev/null)

# ft_desired DIR HELLO-VERSION [API-VERSION]: DIR/fleet.yaml, two swarms:
# hello (size 3 on 127.0.0.21-23, pool ft_hello) and api (size 1 on
# 127.0.0.24, pool ft_api). From the environment: UPTEST (an uptest list),
# SURGE (hello's max_surge), RELOAD (the balancer's reload command), DRAIN.
ft_desired() {
	mkdir -p "$1"
	cat >"$1/fleet.yaml" <<YAML
settings:
  timeouts: { connect: 1s, request: 3s }
  ports: { first: 5900, last: 5999 }
squads:
  web:
    hosts: [127.0.0.21, 127.0.0.22, 127.0.0.23]
  api:
    hosts: [127.0.0.24]
balancers:
  edge:
    type: nginx
    include_dir: $ft_ngx/raptor.d
    test: [nginx, -t, -q, -c, $ft_ngx/nginx.conf, -p, $ft_ngx/]
    reload: ${RELOAD:-[nginx, -s, reload, -c, $ft_ngx/nginx.conf, -p, $ft_ngx/]}
    drain: ${DRAIN:-100ms}
swarms:
  - app: hello
    version: "$2"
    config: ft
    proc: web
    squad: web
    size: 3
    command: /usr/bin/python3 -u $SCRATCH/apps/hello.py --port \${PORT}
    routing: { balancer: edge, pool: ft_hello }
    health: { tcp: true, http: /healthz, timeout: 15s${UPTEST:+, uptest: $UPTEST} }
    rollout: { max_surge: ${SURGE:-100%} }
  - app: api
    version: "${3:-1.0}"
    config: ft
    proc: web
    squad: api
    size: 1
    command: /usr/bin/python3 -u $SCRATCH/apps/hello.py --port \${PORT}
    routing: { balancer: edge, pool: ft_api }
    health: { tcp: true, http: /healthz, timeout: 15s${UPTEST:+, uptest: $UPTEST} }
YAML
}

# ft_managed [DIR [STATE]]: one line per managed program of every reachable
# host, "address name state port", sorted (from status --json)
ft_managed() {
	"$RAPTOR" status "${1:-desired}" --state-dir "${2:-state}" --json 2>/dev/null | python3 -c '
import json, sys
doc = json.load(sys.stdin)
for h in doc["hosts"]:
    for p in h["programs"]:
        if p["managed"]:
            print(h["name"], p["name"], p["state"], p["port"])' | sort
}
# ft_nodes APP [ADDRESS-REGEX]: address:port of APP's RUNNING managed instances
ft_nodes() {
	ft_managed | awk -v a="$1" -v h="${2:-.}" '$3 == "RUNNING" && index($2, a "-") == 1 && $1 ~ h { print $1 ":" $4 }' | sort
}
# ft_pool POOL [ADDRESS-REGEX]: the nodes of a pool file, sorted
ft_pool() {
	grep -o 'server [^;]*' "$ft_ngx/raptor.d/$1.conf" 2>/dev/null | awk -v h="${2:-.}" '$2 ~ h { print $2 }' | sort
}
# ft_files I...: the program files in those sandbox hosts' raptor.d, "address name"
ft_files() {
	local i f
	for i in "$@"; do
		for f in "$ft_fleet/host$i/raptor.d"/*.conf; do
			[ -e "$f" ] && echo "127.0.0.$((i + 1)) $(basename "$f" .conf)"
		done
	done | sort
}
# ft_fingerprint: what the sandbox hosts and the balancer hold: every
# managed program with its state and PID, every program file, every pool file
ft_fingerprint() {
	local i
	for i in 20 21 22 23; do
		python3 "$REPO_ROOT/tests/integration/xmlrpc_call.py" --timeout 3 "$(bash "$SANDBOX" url "$ft_fleet" "$i")" \
			supervisor.getAllProcessInfo 2>/dev/null | python3 -c '
import json, sys
for p in json.load(sys.stdin):
    print(sys.argv[1], p["name"], p["statename"], p["pid"])' "$i"
	done | sort
	ft_files 20 21 22 23
	cat "$ft_ngx"/raptor.d/* 2>/dev/null
}
# ft_json_lines FILE: "ok" when every line of FILE is one JSON document
ft_json_lines() {
	python3 -c '
import json, sys
for n, line in enumerate(open(sys.argv[1]), 1):
    try:
        json.loads(line)
    except ValueError as e:
        print("line %d: %s: %r" % (n, e, line[:120])); sys.exit(0)
print("ok")' "$1" 2>&1
}
# ft_leftovers DIR: files in DIR that are neither the five state files nor
# the lock (temporary files start with '.')
ft_leftovers() {
	find "$1" -mindepth 1 -maxdepth 1 ! -name lock ! -name journal.jsonl ! -name hosts.json \
		! -name last.json ! -name unchecked.json ! -name repos -printf '%f\n' 2>/dev/null | sort
}

# === 1. a host killed between start and check ===================================

ft_desired desired 1.0 1.0
run "$RAPTOR" apply desired --state-dir state --yes
expect_rc "kill: the first release" 0
expect_in "kill: the first release converges" "$out" "Applied: 4 started, 0 stopped, 1 balancer reloaded. Converged."
bash "$NGINX" site "$ft_ngx" ft_hello >/dev/null 2>&1
bash "$NGINX" wait-for "$ft_ngx" / "app=hello version=1.0" 10 >/dev/null 2>&1 &&
	pass "kill: nginx serves 1.0" || fail "kill: nginx serves 1.0"
ft_old_nodes=$(ft_nodes hello)

# 1.1 for both swarms, each check taking 2 s (an uptest); while the checks
# run, 127.0.0.23's supervisord is stopped. A watcher records every version
# of the hello pool file meanwhile.
UPTEST="[[/bin/sh, -c, 'sleep 2', --]]" ft_desired desired 1.1 1.1
ft_jstart=$(wc -l <state/journal.jsonl)
: >"$SCRATCH/pool-history"
(while [ ! -e "$SCRATCH/stop-watch" ]; do
	ft_pool ft_hello | tr '\n' ' ' >>"$SCRATCH/pool-history"
	echo >>"$SCRATCH/pool-history"
	sleep 0.02
done) &
ft_watch=$!
: >"$SCRATCH/requests"
(while [ ! -e "$SCRATCH/stop-watch" ]; do
	curl -s -o /dev/null -w '%{http_code}\n' --max-time 2 "http://127.0.0.1:$ft_port/" >>"$SCRATCH/requests" || echo fail >>"$SCRATCH/requests"
	sleep 0.05
done) &
ft_loop=$!
"$RAPTOR" apply desired --state-dir state --yes >"$SCRATCH/apply1.out" 2>"$SCRATCH/apply1.err" &
ft_bg=$!
ft_started() {
	local n
	n=$(tail -n +"$((ft_jstart + 1))" state/journal.jsonl | grep -c '"op":"start","host":"127.0.0.23".*"result":"ok"')
	echo "${n:-0}"
}
ft_t=0
while [ "$ft_t" -lt 150 ] && [ "$(ft_started)" = 0 ] && kill -0 "$ft_bg" 2>/dev/null; do
	sleep 0.1
	ft_t=$((ft_t + 1))
done
if [ "$(ft_started)" -ge 1 ]; then
	pass "kill: 127.0.0.23's new instance is started (journaled); its check is running"
	bash "$SANDBOX" stop-host "$ft_fleet" 22 >/dev/null 2>&1
else
	fail "kill: no journaled start on 127.0.0.23 within 15 s" "$(cat "$SCRATCH/apply1.err")"
fi
wait "$ft_bg"
rc=$?
ft_bg=""
touch "$SCRATCH/stop-watch"
wait "$ft_watch" "$ft_loop"
ft_watch="" ft_loop=""
out=$(cat "$SCRATCH/apply1.out")
err=$(cat "$SCRATCH/apply1.err")
expect_rc "kill: the apply fails" 1
expect_in "kill: the summary says a swarm did not converge" "$out" "1 swarm did not converge"
expect_in "kill: ... names the host" "$out" "on 127.0.0.23 failed: "
expect_not_in "kill: api converged" "$out" "swarm api/"
expect_in "kill: last.json says failed" "$(cat state/last.json)" '"outcome": "failed"'
# the api swarm, on a host that answered, converged
ft_api=$(ft_managed | awk '$1 == "127.0.0.24"')
[ "$(awk '{print $3}' <<<"$ft_api")" = RUNNING ] && [ "$(wc -l <<<"$ft_api")" = 1 ] &&
	case "$ft_api" in *" api-1.1-ft-"*) true ;; *) false ;; esac &&
	pass "kill: api 1.1 alone RUNNING on 127.0.0.24" || fail "kill: api on 127.0.0.24" "$ft_api"
[ "$(ft_pool ft_api)" = "$(ft_nodes api)" ] && pass "kill: the api pool is its instance" ||
	fail "kill: api pool" "pool: $(ft_pool ft_api) running: $(ft_nodes api)"
# nothing half-done on the hosts that answered: the old hello instances,
# RUNNING and routed; no 1.1 hello program, file or pool node
ft_ans=$(ft_managed | awk '$1 != "127.0.0.23"')
[ -z "$(awk '$3 != "RUNNING"' <<<"$ft_ans")" ] && pass "kill: every managed program on the answering hosts is RUNNING" ||
	fail "kill: programs not RUNNING" "$ft_ans"
expect_not_in "kill: no hello 1.1 instance left on the answering hosts" "$ft_ans" "hello-1.1-"
[ "$(ft_files 20 21 23)" = "$(awk '{print $1, $2}' <<<"$ft_ans")" ] &&
	pass "kill: program files and loaded programs agree on the answering hosts" ||
	fail "kill: files vs loaded" "files: $(ft_files 20 21 23) / loaded: $ft_ans"
[ "$(ft_nodes hello '^127[.]0[.]0[.]2[12]$')" = "$(grep -v '127.0.0.23' <<<"$ft_old_nodes")" ] &&
	pass "kill: hello 1.0 still runs on 127.0.0.21-22" || fail "kill: hello on 21-22" "$(ft_nodes hello)"
[ "$(ft_pool ft_hello '^127[.]0[.]0[.]2[12]:')" = "$(ft_nodes hello '^127[.]0[.]0[.]2[12]$')" ] &&
	pass "kill: the hello pool routes to them" || fail "kill: hello pool" "$(ft_pool ft_hello)"
bash "$NGINX" wait-for "$ft_ngx" / "app=hello version=1.0" 5 >/dev/null 2>&1 &&
	pass "kill: nginx still serves 1.0" || fail "kill: nginx serves 1.0"
# (one request in flight on 127.0.0.23's old instance when its host stops may fail)
ft_total=$(grep -c . "$SCRATCH/requests")
ft_failed=$(grep -vc '^200$' "$SCRATCH/requests")
[ "$ft_total" -ge 20 ] && [ "$ft_failed" -le 1 ] && pass "kill: $ft_total requests through nginx during the apply, $ft_failed failed" ||
	fail "kill: $ft_failed of $ft_total requests through nginx failed during the apply" "$(sort "$SCRATCH/requests" | uniq -c | tr '\n' ' ')"
# the new hello instances of a failed swarm must never be routed: they are
# stopped (taken back) right after, with no drain, while nginx sends them requests
ft_new_routed=$(tr ' ' '\n' <"$SCRATCH/pool-history" | grep . | sort -u | grep -vxF -f <(echo "$ft_old_nodes") | tr '\n' ' ')
[ -z "$ft_new_routed" ] && pass "kill: the failed swarm's new instances never entered the pool" ||
	fail "kill: the failed swarm's new instances were routed, then taken back while in the pool" \
		"nodes seen in ft_hello during the apply: $ft_new_routed; apply log: $(grep -E '^(route|roll back|check)' <<<"$err" | tr '\n' '|')"
# each check of the wave needs ~1 s to RUNNING plus the 2 s uptest; checks
# that wait for one another would be charged the others' time
ft_slowest=$(tail -n +"$((ft_jstart + 1))" state/journal.jsonl | python3 -c '
import json, sys
s = [json.loads(l) for l in sys.stdin]
print(max([e["seconds"] for e in s if e["op"] == "check" and e["result"] == "ok"] or [0]))')
python3 -c 'import sys; sys.exit(0 if float(sys.argv[1]) < 4.5 else 1)' "$ft_slowest" &&
	pass "kill: the wave's checks ran side by side (slowest healthy check ${ft_slowest}s)" ||
	fail "kill: the wave's checks ran one after another: the slowest healthy check took ${ft_slowest}s for a 1 s start and a 2 s uptest" \
		"$(grep '^check' <<<"$err" | tr '\n' '|')"

# the host comes back (its supervisord restarts what its files say); a rerun converges
bash "$SANDBOX" start-host "$ft_fleet" 22 >/dev/null 2>&1 || fail "kill: start-host"
ft_desired desired 1.1 1.1
run "$RAPTOR" apply desired --state-dir state --yes
expect_rc "kill: the rerun after the host is back" 0
expect_in "kill: the rerun converges" "$out" "Converged."
ft_all=$(ft_managed)
[ "$(grep -c ' hello-' <<<"$ft_all")" = 3 ] && [ "$(grep -c ' hello-1.1-.* RUNNING ' <<<"$ft_all")" = 3 ] &&
	pass "kill: exactly 3 hello instances, all 1.1 and RUNNING" || fail "kill: hello after the rerun" "$ft_all"
[ "$(ft_pool ft_hello)" = "$(ft_nodes hello)" ] && pass "kill: the pool is exactly them" ||
	fail "kill: pool after the rerun" "pool: $(ft_pool ft_hello) running: $(ft_nodes hello)"
[ "$(ft_files 20 21 22 23)" = "$(awk '{print $1, $2}' <<<"$ft_all")" ] &&
	pass "kill: no program file without its program, on any host" || fail "kill: files" "$(ft_files 20 21 22 23)"
bash "$NGINX" wait-for "$ft_ngx" / "app=hello version=1.1" 5 >/dev/null 2>&1 &&
	pass "kill: nginx serves 1.1" || fail "kill: nginx serves 1.1"
run "$RAPTOR" apply desired --state-dir state --yes
expect_in "kill: then nothing to do" "$out" "Nothing to do"

# === 2. hosts that answer wrongly ===============================================

# ft_fake I MODE [ARGS...]: a fake host on 127.0.0.I:9001; waits for its PID file
ft_fake() {
	local i=$1 mode=$2
	shift 2
	rm -f "$SCRATCH/fake$i.pid"
	python3 "$FAKE" --pidfile "$SCRATCH/fake$i.pid" "$@" "127.0.0.$i:9001" "$mode" 2>"$SCRATCH/fake$i.log" &
	ft_fakes+=("$SCRATCH/fake$i.pid")
	for _ in $(seq 1 50); do
		[ -s "$SCRATCH/fake$i.pid" ] && return 0
		sleep 0.1
	done
	fail "fake host $mode on 127.0.0.$i did not start" "$(cat "$SCRATCH/fake$i.log")"
}
ft_fake 30 reset
ft_fake 31 http500
ft_fake 32 huge
ft_fake 33 slow --delay 6
ft_fake 34 garbage

# ft_bad_desired DIR ADDRESS...: the web squad plus a squad 'bad' of those hosts
ft_bad_desired() {
	local d=$1 hosts
	shift
	hosts="$*"
	mkdir -p "$d"
	sed -e "s/^squads:\$/squads:\n  bad:\n    hosts: [${hosts// /, }]/" desired/fleet.yaml >"$d/fleet.yaml"
}

ft_i=30
for ft_case in "reset|connection closed: Recv failure: Connection reset by peer" \
	"http500|HTTP 500: supervisord failed inside the call (see its log)" \
	"huge|response larger than 8 MiB: refused" \
	"garbage|malformed XML-RPC answer: not well-formed XML"; do
	ft_mode=${ft_case%%|*}
	ft_why=${ft_case#*|}
	[ "$ft_mode" = garbage ] && ft_i=34
	ft_addr=127.0.0.$ft_i
	ft_bad_desired "bad-$ft_mode" "$ft_addr"
	ft_t0=$(ft_ms)
	run /usr/bin/time -o "$SCRATCH/time-$ft_mode" -v "$RAPTOR" status "bad-$ft_mode" --state-dir state
	ft_t1=$(ft_ms)
	expect_rc "$ft_mode: status exits 3" 3
	expect_in "$ft_mode: status names the host unreachable, with the reason" "$out" "$ft_addr  UNREACHABLE  $ft_why"
	expect_in "$ft_mode: the healthy hosts are reported" "$out" "127.0.0.22  up, 1 program"
	expect_in "$ft_mode: the summary" "$out" "5 hosts: 4 answered, 1 unreachable; 4 managed"
	expect_not_in "$ft_mode: no HTML in the output" "$out$err" "<html>"
	[ $((ft_t1 - ft_t0)) -lt 4500 ] && pass "$ft_mode: within the request timeout + 1.5 s ($((ft_t1 - ft_t0)) ms)" ||
		fail "$ft_mode: status took $((ft_t1 - ft_t0)) ms"
	grep -q 'POST /RPC2' "$SCRATCH/fake$ft_i.log" && pass "$ft_mode: raptor did ask the fake host" ||
		fail "$ft_mode: the fake host saw no request" "$(cat "$SCRATCH/fake$ft_i.log")"
	run "$RAPTOR" plan "bad-$ft_mode" --state-dir state
	expect_rc "$ft_mode: plan still plans" 0
	expect_in "$ft_mode: plan names the host and why" "$out" "$ft_addr: $ft_why"
	expect_in "$ft_mode: plan has nothing to do for the healthy swarms" "$out" "Plan: 0 to start, 0 to stop"
	run "$RAPTOR" plan "bad-$ft_mode" --state-dir state --json
	python3 -c '
import json, sys
d = json.loads(sys.argv[1])
h = [h for h in d["hosts"] if h["name"] == sys.argv[2]][0]
sys.exit(0 if not h["reachable"] and h["error"].startswith(sys.argv[3]) else 1)' "$out" "$ft_addr" "$ft_why" 2>/dev/null &&
		pass "$ft_mode: plan --json: unreachable, with the reason" || fail "$ft_mode: plan --json host" "$(head -c 600 <<<"$out")"
	ft_i=$((ft_i + 1))
done
# the 100 MB answer: cut off at the cap, in bounded memory
ft_rss=$(awk -F': ' '/Maximum resident set size/ { print $2 }' "$SCRATCH/time-huge")
[ -n "$ft_rss" ] && [ "$ft_rss" -lt 102400 ] && pass "huge: raptor's peak RSS stays bounded (${ft_rss} kB < 100 MB)" ||
	fail "huge: raptor's peak RSS" "${ft_rss:-unknown} kB"
grep -q 'sent all' "$SCRATCH/fake32.log" && fail "huge: raptor read the whole 100 MB" "$(cat "$SCRATCH/fake32.log")" ||
	pass "huge: raptor hung up long before the 100 MB were sent"

# a host that answers after 6 s, beside all the others: the request timeout holds
ft_bad_desired bad-all 127.0.0.30 127.0.0.31 127.0.0.32 127.0.0.33 127.0.0.34
ft_t0=$(ft_ms)
run "$RAPTOR" status bad-all --state-dir state
ft_t1=$(ft_ms)
expect_rc "all bad: status exits 3" 3
expect_in "slow: named, with the timeout" "$out" "127.0.0.33  UNREACHABLE  connected, but no answer within 3s (settings.timeouts.request)"
for ft_i in 30 31 32 34; do
	expect_in "all bad: 127.0.0.$ft_i unreachable too" "$out" "127.0.0.$ft_i  UNREACHABLE  "
done
expect_in "all bad: the healthy hosts answered meanwhile" "$out" "127.0.0.24  up, 1 program"
expect_in "all bad: the summary" "$out" "9 hosts: 4 answered, 5 unreachable"
[ $((ft_t1 - ft_t0)) -lt 4500 ] && pass "all bad: within the request timeout + 1.5 s ($((ft_t1 - ft_t0)) ms)" ||
	fail "all bad: status took $((ft_t1 - ft_t0)) ms"
run "$RAPTOR" status bad-all --state-dir state --json
expect_rc "all bad: status --json exits 3" 3
[ "$(python3 -c 'import json,sys; d=json.loads(sys.argv[1]); print(sorted(h["name"] for h in d["hosts"] if not h["reachable"] and h["error"]))' "$out" 2>&1)" = \
	"['127.0.0.30', '127.0.0.31', '127.0.0.32', '127.0.0.33', '127.0.0.34']" ] &&
	pass "all bad: status --json: the five, each with an error" || fail "all bad: status --json" "$(head -c 600 <<<"$out")"
# an apply beside them: the healthy swarms are left alone, nothing is asked of the bad hosts
run "$RAPTOR" apply bad-all --state-dir state --yes
expect_rc "all bad: apply has nothing to do" 0
expect_in "all bad: apply says so" "$out" "Nothing to do"
for ft_i in 30 31 32 33 34; do ft_stop_pidfile "$SCRATCH/fake$ft_i.pid"; done

# === 3. wrong credentials ========================================================

# a routed swarm on a host with basic auth, deployed with the right password;
# then every command with a wrong one: a clear 401, the password nowhere, and
# nothing changed - the instance serves on, its pool keeps its node. (Its
# balancer has an include_dir of its own: one desired state owns a directory.)
mkdir -p "$SCRATCH/authpools"
ft_authd() { # SIZE
	mkdir -p authd
	cat >authd/fleet.yaml <<YAML
settings:
  supervisor: { credentials: env:RAPTOR_SUPERVISOR_AUTH }
  timeouts: { connect: 1s, request: 3s }
  ports: { first: 5900, last: 5999 }
squads:
  secure:
    hosts: [127.0.0.25]
balancers:
  edge:
    type: nginx
    include_dir: $SCRATCH/authpools
    test: [/bin/true]
    reload: [/bin/true]
    drain: 100ms
swarms:
  - app: hello
    version: "1.0"
    config: ftauth
    proc: web
    squad: secure
    size: $1
    command: /usr/bin/python3 -u $SCRATCH/apps/hello.py --port \${PORT}
    routing: { balancer: edge, pool: ft_auth }
    health: { tcp: true, http: /healthz, timeout: 10s }
YAML
}
ft_auth_programs() {
	python3 "$REPO_ROOT/tests/integration/xmlrpc_call.py" --auth ftuser:s3cr3t-Pw.42 \
		"$(bash "$SANDBOX" url "$ft_auth" 24)" supervisor.getAllProcessInfo 2>&1 |
		python3 -c 'import json,sys; print(" ".join("%s %s %s" % (p["name"], p["statename"], p["pid"]) for p in json.load(sys.stdin)))' 2>&1
}
if bash "$SANDBOX" up "$ft_auth" 1 --auth ftuser:s3cr3t-Pw.42 --first 24 >"$SCRATCH/auth.log" 2>&1; then
	ft_authd 1
	RAPTOR_SUPERVISOR_AUTH=ftuser:s3cr3t-Pw.42 run "$RAPTOR" apply authd --state-dir authstate --yes
	expect_rc "auth: deployed with the right password" 0
	ft_auth_before=$(ft_auth_programs)
	expect_in "auth: its instance runs" "$ft_auth_before" " RUNNING "
	ft_authpool="$SCRATCH/authpools/ft_auth.conf"
	[ "$(grep -o 'server [^;]*' "$ft_authpool" 2>/dev/null)" = "server 127.0.0.25:5900" ] && pass "auth: its pool holds it" ||
		fail "auth: pool" "$(cat "$ft_authpool" 2>&1)"
	cp "$ft_authpool" "$SCRATCH/ft_auth.conf.before" 2>/dev/null
	ft_wrong=Wr0ng-pass.77
	ft_b64=$(printf 'ftuser:%s' "$ft_wrong" | base64)
	ft_b64ok=$(printf 'ftuser:s3cr3t-Pw.42' | base64)
	for ft_cmd in "status" "status --json" "plan" "plan --json" "apply --yes" "reconcile --once"; do
		# shellcheck disable=SC2086
		RAPTOR_SUPERVISOR_AUTH="ftuser:$ft_wrong" run "$RAPTOR" $ft_cmd authd --state-dir authstate -v
		case "$ft_cmd" in
		status*) expect_rc "auth: $ft_cmd with a wrong password" 3 ;;
		apply* | reconcile*) expect_rc "auth: $ft_cmd with a wrong password" 1 ;;
		esac
		expect_in "auth: $ft_cmd: the 401 is named" "$out$err" "HTTP 401: authentication failed (check settings.supervisor.credentials)"
		expect_not_in "auth: $ft_cmd: the password is not shown" "$out$err" "$ft_wrong"
		expect_not_in "auth: $ft_cmd: nor its Basic header" "$out$err" "$ft_b64"
		case "$ft_cmd" in
		plan) expect_in "auth: plan: the pool of the unplaceable swarm is left alone" "$out" "0 pools to change" ;;
		apply* | reconcile*)
			cmp -s "$SCRATCH/ft_auth.conf.before" "$ft_authpool" &&
				pass "auth: $ft_cmd: the pool keeps its node (the instance still serves)" ||
				fail "auth: $ft_cmd with a wrong password emptied the pool of a swarm it could not plan" \
					"ft_auth.conf now: $(tr '\n' ' ' <"$ft_authpool" 2>&1); $(grep -E '^(route|raptor)' <<<"$err" | tr '\n' '|')"
			cp "$SCRATCH/ft_auth.conf.before" "$ft_authpool"
			;;
		esac
	done
	[ "$(ft_auth_programs)" = "$ft_auth_before" ] && pass "auth: the instance was not touched" ||
		fail "auth: programs changed" "$(ft_auth_programs)"
	for ft_f in authstate/*; do
		[ -f "$ft_f" ] || continue
		expect_not_in "auth: $(basename "$ft_f") holds no password" "$(cat "$ft_f")" "$ft_wrong"
	done
	RAPTOR_SUPERVISOR_AUTH=ftuser:s3cr3t-Pw.42 run "$RAPTOR" status authd --state-dir authstate -v
	expect_rc "auth: the right password" 0
	expect_in "auth: the host answers" "$out" "127.0.0.25  up, 1 program"
	expect_not_in "auth: the right password is not shown either" "$out$err" "s3cr3t-Pw.42"
	expect_not_in "auth: ... nor its header" "$out$err" "$ft_b64ok"
	# size 0 takes it down, and its pool with it
	ft_authd 0
	RAPTOR_SUPERVISOR_AUTH=ftuser:s3cr3t-Pw.42 run "$RAPTOR" apply authd --state-dir authstate --yes
	expect_rc "auth: size 0" 0
	[ ! -e "$ft_authpool" ] && pass "auth: size 0 removes the pool" || fail "auth: the pool stays"
else
	fail "auth: sandbox up with --auth" "$(tail -5 "$SCRATCH/auth.log")"
fi
bash "$SANDBOX" down "$ft_auth" >/dev/null 2>&1

# === 4. an nginx reload that fails ===============================================

ft_before_nodes=$(ft_nodes hello)
ft_before_names=$(ft_managed | awk '{print $1, $2, $3}')
rm -rf "$SCRATCH/pools-before"
cp -a "$ft_ngx/raptor.d" "$SCRATCH/pools-before"
RELOAD="[/bin/sh, -c, 'echo reload refused >&2; exit 1']" ft_desired desired 1.2 1.1
run "$RAPTOR" apply desired --state-dir state --yes
expect_rc "reload fails: the apply fails" 1
expect_in "reload fails: the balancer and the reason are named" "$out$err" "balancer edge"
expect_in "reload fails: ... with the command's output" "$out$err" "reload refused"
diff -r "$SCRATCH/pools-before" "$ft_ngx/raptor.d" >"$SCRATCH/pools.diff" 2>&1 &&
	pass "reload fails: the pool files are restored byte for byte" || fail "reload fails: pool files differ" "$(head -20 "$SCRATCH/pools.diff")"
[ "$(ls -A "$ft_ngx/raptor.d" | sort | tr '\n' ' ')" = "ft_api.conf ft_hello.conf " ] &&
	pass "reload fails: nothing else in include_dir" || fail "reload fails: include_dir" "$(ls -A "$ft_ngx/raptor.d")"
[ "$(ft_managed | awk '{print $1, $2, $3}')" = "$ft_before_names" ] &&
	pass "reload fails: the new instances are taken back, the old ones run on" ||
	fail "reload fails: programs after" "$(ft_managed)"
[ "$(ft_files 20 21 22 23)" = "$(ft_managed | awk '{print $1, $2}')" ] &&
	pass "reload fails: no program file left behind" || fail "reload fails: files" "$(ft_files 20 21 22 23)"
[ "$(ft_nodes hello)" = "$ft_before_nodes" ] && pass "reload fails: the same nodes serve" || fail "reload fails: nodes" "$(ft_nodes hello)"
ft_ok=0
for ft_t in 1 2 3 4 5 6 7 8 9 10; do
	case "$(curl -s --max-time 2 "http://127.0.0.1:$ft_port/")" in *"app=hello version=1.1"*) ft_ok=$((ft_ok + 1)) ;; esac
done
[ "$ft_ok" = 10 ] && pass "reload fails: nginx answers with 1.1, 10 of 10" || fail "reload fails: nginx answered 1.1 $ft_ok of 10 times"
expect_in "reload fails: journaled" "$(grep '"op":"route"' state/journal.jsonl | tail -n 1)" '"result":"failed"'
ft_desired desired 1.2 1.1
run "$RAPTOR" apply desired --state-dir state --yes
expect_in "reload fails: with the reload fixed, 1.2 converges" "$out" "Converged."

# === 5. a state directory that cannot be written =================================

ft_desired desired 1.3 1.1 # a change is pending: 3 starts, 3 stops
ft_fp=$(ft_fingerprint)
# ft_refused NAME STATE-DIR WANT...: apply and reconcile --once on STATE-DIR
# fail before touching a host, with messages holding each WANT
ft_pending=0 ft_gen=0
ft_refused() {
	local name=$1 dir=$2 cmd w
	shift 2
	for cmd in "apply --yes" "reconcile --once"; do
		if [ "$ft_pending" = 1 ]; then # the fleet was changed: make another change pending
			ft_gen=$((ft_gen + 1))
			ft_desired desired "1.3.$ft_gen" 1.1
			ft_pending=0
		fi
		# shellcheck disable=SC2086
		run "$RAPTOR" $cmd desired --state-dir "$dir"
		expect_rc "$name: $cmd fails" 1
		for w in "$@"; do expect_in "$name: $cmd: the error names it" "$err" "$w"; done
		expect_not_in "$name: $cmd: no start" "$err" "start hello-1.3"
		if [ "$(ft_fingerprint)" = "$ft_fp" ]; then
			pass "$name: $cmd: nothing changed on the hosts or the balancer"
		else
			fail "$name: $cmd changed the fleet" "$(diff <(echo "$ft_fp") <(ft_fingerprint) | head -10 | tr '\n' '|')"
			ft_fp=$(ft_fingerprint)
			ft_pending=1
		fi
	done
}
# a read-only filesystem, holding the state of the runs so far
mkdir -p "$SCRATCH/ro"
if mount -t tmpfs -o size=4m tmpfs "$SCRATCH/ro" 2>/dev/null; then
	ft_mounts+=("$SCRATCH/ro")
	cp -a state "$SCRATCH/ro/state"
	mount -o remount,ro "$SCRATCH/ro"
	ft_refused "read-only" "$SCRATCH/ro/state" "$SCRATCH/ro/state/lock" "Read-only file system"
	ft_refused "read-only, no state yet" "$SCRATCH/ro/new" "$SCRATCH/ro/new" "Read-only file system"
	umount "$SCRATCH/ro"
else
	echo "  (mount -t tmpfs is not allowed here: the read-only filesystem case is skipped)"
fi
# an immutable directory (chattr +i: root cannot create files in it either)
mkdir -p "$SCRATCH/immutable"
if chattr +i "$SCRATCH/immutable" 2>/dev/null; then
	ft_mounts+=("$SCRATCH/immutable")
	ft_refused "immutable" "$SCRATCH/immutable" "$SCRATCH/immutable/lock"
	chattr -i "$SCRATCH/immutable"
else
	echo "  (chattr +i is not supported here: the immutable directory case is skipped)"
fi
# a file where the directory should be
echo "not a directory" >"$SCRATCH/state-file"
ft_refused "not a directory" "$SCRATCH/state-file" "$SCRATCH/state-file"
[ "$(cat "$SCRATCH/state-file")" = "not a directory" ] && pass "not a directory: the file is untouched" || fail "the file was changed"
# a full filesystem: an empty state directory, then one whose lock was written before it filled
mkdir -p "$SCRATCH/full"
if mount -t tmpfs -o size=256k tmpfs "$SCRATCH/full" 2>/dev/null; then
	ft_mounts+=("$SCRATCH/full")
	mkdir -p "$SCRATCH/full/state" "$SCRATCH/full/locked"
	cp state/lock "$SCRATCH/full/locked/lock"
	dd if=/dev/zero of="$SCRATCH/full/filler" bs=4k >/dev/null 2>&1
	ft_refused "full" "$SCRATCH/full/state" "$SCRATCH/full/state/lock" "No space left on device"
	[ -z "$(ft_leftovers "$SCRATCH/full/state")" ] && pass "full: no temporary file left" ||
		fail "full: left in the state directory" "$(ft_leftovers "$SCRATCH/full/state")"
	ft_refused "full, lock already there" "$SCRATCH/full/locked" "$SCRATCH/full/locked" "No space left on device"
	[ -z "$(ft_leftovers "$SCRATCH/full/locked")" ] && pass "full, lock there: no temporary file left" ||
		fail "full, lock there: left in the state directory" "$(ft_leftovers "$SCRATCH/full/locked")"
	umount "$SCRATCH/full"
else
	echo "  (mount -t tmpfs is not allowed here: the full filesystem cases are skipped)"
fi
# the pending change still applies with a working state directory
run "$RAPTOR" apply desired --state-dir state --yes
expect_rc "state dir: with a writable one, the apply runs" 0
[ "$(ft_managed | grep -c ' hello-1[.]3[-.].* RUNNING ')" = 3 ] && pass "state dir: ... and 1.3 runs" || fail "state dir: 1.3" "$(ft_managed)"
[ -z "$(ft_leftovers state)" ] && pass "state dir: nothing but the state files in it" || fail "state dir: leftovers" "$(ft_leftovers state)"

# === 6. SIGKILL at random points of a rollout ====================================
# 20 kills, each followed by a rerun that must converge; the desired version
# alternates, so each kill interrupts a real rollout.

# one full rollout, max_surge 1 (three waves of start, check, route, drain,
# stop), to measure how long the kills have to land in
SURGE=1 DRAIN=150ms ft_desired desired 6.0 1.1
ft_t0=$(ft_ms)
run "$RAPTOR" apply desired --state-dir state --yes
ft_span=$(($(ft_ms) - ft_t0))
expect_in "sigkill: a rollout with max_surge 1 converges" "$out" "Applied: 3 started, 3 stopped, 1 balancer reloaded. Converged."
[ "$ft_span" -lt 1500 ] && ft_span=1500
ft_seed=${FT_SEED:-$$}
RANDOM=$ft_seed
echo "  (sigkill: a rollout takes ${ft_span} ms; kills land in 100..$((ft_span - 100)) ms; FT_SEED=$ft_seed)"
declare -A ft_phase=()
ft_bad=0
for ft_n in $(seq 1 "${FT_KILLS:-20}"); do
	if [ $((ft_n % 2)) = 1 ]; then ft_v=6.1; else ft_v=6.0; fi
	SURGE=1 DRAIN=150ms ft_desired desired "$ft_v" 1.1
	ft_delay=$((100 + (RANDOM * 32768 + RANDOM) % (ft_span - 200)))
	# the route and drain phases are short: one kill in five waits for a
	# check to end (and lands in route), one in five for a route (in drain)
	case $((ft_n % 5)) in
	1) ft_after='^check .*healthy' ;;
	2) ft_after='^route ' ;;
	*) ft_after='' ;;
	esac
	ft_t0=$(ft_ms)
	"$RAPTOR" apply desired --state-dir state --yes >"$SCRATCH/kill.out" 2>"$SCRATCH/kill.err" &
	ft_bg=$!
	if [ -n "$ft_after" ]; then
		while kill -0 "$ft_bg" 2>/dev/null && ! grep -q "$ft_after" "$SCRATCH/kill.err"; do sleep 0.01; done
	else
		sleep "$((ft_delay / 1000)).$(printf '%03d' $((ft_delay % 1000)))"
	fi
	kill -KILL "$ft_bg" 2>/dev/null
	ft_delay=$(($(ft_ms) - ft_t0))
	wait "$ft_bg" 2>/dev/null
	ft_bg=""
	# where it was: what followed the last thing it said
	ft_last=$(grep -E '^(start|check|route|drain:|stop) ' "$SCRATCH/kill.err" | tail -n 1 | awk '{print $1}')
	case "$ft_last" in
	"") ft_in=plan/start ;;
	start) ft_in=check ;;
	check) ft_in=route ;;
	route) ft_in=drain ;;
	drain:) ft_in=stop ;;
	*) ft_in=next-wave ;;
	esac
	ft_phase[$ft_in]=$((${ft_phase[$ft_in]:-0} + 1))
	run "$RAPTOR" apply desired --state-dir state --yes
	ft_it="sigkill #$ft_n (v$ft_v, killed after ${ft_delay} ms, during $ft_in)"
	if [ "$rc" = 0 ] && case "$out" in *Converged.* | *"Nothing to do"*) true ;; *) false ;; esac; then
		pass "$ft_it: the rerun converges"
	else
		fail "$ft_it: the rerun did not converge" "$(tail -5 "$SCRATCH/kill.err")"
		ft_bad=$((ft_bad + 1))
	fi
	ft_all=$(ft_managed)
	ft_hello=$(grep ' hello-' <<<"$ft_all")
	[ "$(grep -c . <<<"$ft_hello")" = 3 ] && [ "$(grep -c " hello-$ft_v-ft-[0-9a-f]*-web-[0-9]* RUNNING " <<<"$ft_hello")" = 3 ] &&
		pass "$ft_it: exactly 3 hello instances, all v$ft_v, RUNNING" || {
		fail "$ft_it: hello instances" "$ft_hello"
		ft_bad=$((ft_bad + 1))
	}
	[ -z "$(awk '{print $1, $4}' <<<"$ft_all" | sort | uniq -d)" ] && pass "$ft_it: no port twice on a host" ||
		fail "$ft_it: a port twice on a host" "$ft_all"
	[ "$(ft_files 20 21 22 23)" = "$(awk '{print $1, $2}' <<<"$ft_all")" ] &&
		pass "$ft_it: each program file is a loaded program" || fail "$ft_it: files" "$(ft_files 20 21 22 23)"
	[ "$(ft_pool ft_hello)" = "$(awk '$3 == "RUNNING" && $2 ~ /^hello-/ {print $1 ":" $4}' <<<"$ft_all" | sort)" ] &&
		pass "$ft_it: the pool is the running instances" || fail "$ft_it: pool" "$(ft_pool ft_hello | tr '\n' ' ')"
	[ "$(grep -c ' api-1.1-.* RUNNING ' <<<"$ft_all")" = 1 ] && pass "$ft_it: api untouched" || fail "$ft_it: api" "$ft_all"
	[ -z "$(ft_leftovers state)" ] && [ "$(ft_json_lines state/journal.jsonl)" = ok ] &&
		pass "$ft_it: the state directory holds whole files only" ||
		fail "$ft_it: state directory" "$(ft_leftovers state) $(ft_json_lines state/journal.jsonl)"
	if [ "$(ls -A "$ft_ngx/raptor.d" | sort | tr '\n' ' ')" = "ft_api.conf ft_hello.conf " ]; then
		pass "$ft_it: nothing else in include_dir"
	else
		fail "$ft_it: a file left in include_dir, which no rerun removes" "$(ls -A "$ft_ngx/raptor.d" | tr '\n' ' ')"
		find "$ft_ngx/raptor.d" -mindepth 1 -maxdepth 1 -name '.*' -delete # so that the next kills are judged alone
	fi
done
echo "  (sigkill: kills by phase: $(for k in "${!ft_phase[@]}"; do printf '%s %s, ' "$k" "${ft_phase[$k]}"; done))"
bash "$NGINX" wait-for "$ft_ngx" / "app=hello version=$ft_v" 5 >/dev/null 2>&1 &&
	pass "sigkill: nginx serves the last release" || fail "sigkill: nginx serves $ft_v"

# a kill while a new instance is being checked, of a release whose check
# fails (its process runs, its uptest says no): the rerun must not count the
# unchecked instance as current - route it, stop an old one for it - but
# check it, fail, and keep the old release serving
ft_old_nodes=$(ft_nodes hello)
SURGE=1 UPTEST="[[/bin/sh, -c, 'echo not healthy; exit 1', --]]" ft_desired desired 7.0 1.1
sed -i 's/timeout: 15s, uptest/timeout: 4s, uptest/' desired/fleet.yaml
"$RAPTOR" apply desired --state-dir state --yes >"$SCRATCH/kill.out" 2>"$SCRATCH/kill.err" &
ft_bg=$!
while kill -0 "$ft_bg" 2>/dev/null && ! grep -q '^start ' "$SCRATCH/kill.err"; do sleep 0.01; done
sleep 1.5 # RUNNING by now (startsecs 1), its uptest failing
kill -KILL "$ft_bg" 2>/dev/null
wait "$ft_bg" 2>/dev/null
ft_bg=""
expect_in "unchecked: the kill came during the check" "$(grep -E '^(start|check) ' "$SCRATCH/kill.err" | tail -n 1)" "start hello-7.0-"
run "$RAPTOR" apply desired --state-dir state --yes
expect_rc "unchecked: the rerun fails (the release does not pass its check)" 1
expect_in "unchecked: ... and says why" "$out$err" "not healthy"
[ "$(ft_pool ft_hello)" = "$ft_old_nodes" ] && pass "unchecked: the pool still routes to the old release only" ||
	fail "unchecked: the rerun routed the never-checked 7.0 instance" "pool: $(ft_pool ft_hello | tr '\n' ' ') old: $(tr '\n' ' ' <<<"$ft_old_nodes"); $(grep -E '^(  [+~-]|Plan|Applied)' <<<"$err$out" | tr '\n' '|')"
[ "$(ft_nodes hello)" = "$ft_old_nodes" ] && pass "unchecked: the old instances all run on, and no 7.0 one" ||
	fail "unchecked: instances after the rerun" "$(ft_managed | grep ' hello-' | tr '\n' '|')"
bash "$NGINX" wait-for "$ft_ngx" / "app=hello version=$ft_v" 5 >/dev/null 2>&1 &&
	pass "unchecked: nginx serves $ft_v" || fail "unchecked: nginx no longer serves $ft_v"

bash "$NGINX" unsite "$ft_ngx" ft_hello >/dev/null 2>&1
ft_cleanup
if [ -n "$ft_old_trap" ]; then eval "$ft_old_trap"; else trap - EXIT; fi
