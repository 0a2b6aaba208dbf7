# The Velociraptor runbook's hard days as ordinary raptor operations, end to
# end: real supervisord hosts (sandbox.sh --first 40: 127.0.0.41-47, apart
# from the other tests' 127.0.0.2..), a real nginx on 127.0.0.1 (nginx.sh),
# the demo app (examples/apps/hello.py) on ports 5600-5699, and request loops
# through nginx that must see no failed request while raptor switches things.
#
#   A  a host dies                 ("When a Squad Loses a Host")
#   B  on_unreachable: wait        (the same day, when replacing is not wanted)
#   C  replacing a host            ("... provision replacement hosts")
#   D  renames with traffic        ("Defunct Procs": app, proc, config, squad; delete)
#   E  programs raptor did not create ("Proc Supervisor")
#   F  an apply interrupted by a host failure, then re-run
#
# Sandbox host numbers (what sandbox.sh takes) and addresses:
#   40 127.0.0.41, 41 .42, 42 .43   squad web (A, B); C swaps .43 for
#   43 127.0.0.44                   the replacement host (C), in web from then on
#   44 127.0.0.45, 45 .46           squad front (D's squad move)
#   46 127.0.0.47                   squad solo (E), ports from 5601

# shellcheck disable=SC2154 # rc, out and err are set by run() in lib.sh
op_sb="$REPO_ROOT/tests/sandbox/sandbox.sh"
op_nx="$REPO_ROOT/tests/sandbox/nginx.sh"
op_xcall="$REPO_ROOT/tests/integration/xmlrpc_call.py"
cd "$SCRATCH" || return 1 # the previous test file may have left us in a removed directory
op_fleet="$SCRATCH/opfleet"
op_ngx="$SCRATCH/opnginx"
op_state="$SCRATCH/opstate"
op_dir="$SCRATCH/opdesired"
op_t0=$(date +%s)
mkdir -p "$SCRATCH/apps" "$op_state" "$op_dir"
cp "$REPO_ROOT"/examples/apps/* "$SCRATCH/apps/"

op_loop_pid=""  # the request loop in the background, if one runs
op_bg_pid=""    # an apply in the background (F), if one runs
op_cleanup() {
	[ -n "$op_loop_pid" ] && { touch "$SCRATCH/op_loop.stop"; kill "$op_loop_pid" 2>/dev/null; wait "$op_loop_pid" 2>/dev/null; }
	[ -n "$op_bg_pid" ] && { kill "$op_bg_pid" 2>/dev/null; wait "$op_bg_pid" 2>/dev/null; }
	op_loop_pid=""
	op_bg_pid=""
	bash "$op_nx" down "$op_ngx" >/dev/null 2>&1
	bash "$op_sb" down "$op_fleet" >/dev/null 2>&1
}
op_old_trap=$(trap -p EXIT)
trap 'op_cleanup' EXIT

rc=0 out='' err='' # what fail() shows, should the sandbox fail before any run
op_up=1
bash "$op_sb" up "$op_fleet" 7 --first 40 >"$SCRATCH/op_sandbox.log" 2>&1 ||
	{ op_up=0; fail "sandbox up" "$(tail -5 "$SCRATCH/op_sandbox.log")"; }
bash "$op_nx" up "$op_ngx" >"$SCRATCH/op_nginx.log" 2>&1 ||
	{ op_up=0; fail "nginx up" "$(tail -5 "$SCRATCH/op_nginx.log")"; }
op_port=$(cat "$op_ngx/port" 2>/dev/null || echo 0)

# --- helpers ----------------------------------------------------------------

op_web="127.0.0.41, 127.0.0.42, 127.0.0.43" # squad web's hosts
op_unreach=replace                           # squad web's on_unreachable

# op_desired: the desired state, its swarms (YAML list items) read from stdin
op_desired() {
	local swarms
	swarms=$(cat)
	[ -n "$swarms" ] || swarms="  []"
	cat >"$op_dir/fleet.yaml" <<YAML
settings:
  timeouts: { connect: 1s, request: 3s }
  ports: { first: 5600, last: 5699 }
squads:
  web:
    hosts: [$op_web]
    on_unreachable: $op_unreach
  front:
    hosts: [127.0.0.45, 127.0.0.46]
  solo:
    hosts: [127.0.0.47]
    ports: { first: 5601, last: 5699 }
$(bash "$op_nx" balancer "$op_ngx" edge)
    drain: 300ms
swarms:
$swarms
YAML
}

# op_swarm APP VERSION CONFIG PROC SQUAD SIZE [POOL|-] [EXTRA-LINES]: one swarm
op_swarm() {
	cat <<YAML
  - app: $1
    version: "$2"
    config: $3
    proc: $4
    squad: $5
    size: $6
    command: /usr/bin/python3 -u $SCRATCH/apps/hello.py --port \${PORT}
    health: { tcp: true, http: /healthz, timeout: 15s }
YAML
	[ "${7:--}" != - ] && echo "    routing: { balancer: edge, pool: $7 }"
	[ -n "${8:-}" ] && printf '%s\n' "$8"
	return 0
}

op_raptor() { "$RAPTOR" "$1" "$op_dir" --state-dir "$op_state" "${@:2}"; }

# op_q EXPR: a Python expression over `raptor status --json` (doc; progs: every
# program with its host's name added as "host"; managed: the managed ones)
op_q() {
	op_raptor status --json 2>/dev/null | python3 -c '
import json, sys
doc = json.load(sys.stdin)
progs = [dict(p, host=h["name"]) for h in doc["hosts"] for p in h["programs"]]
managed = [p for p in progs if p["managed"]]
def running(pred=lambda p: True):
    return sum(1 for p in managed if p["state"] == "RUNNING" and pred(p))
r = eval(sys.argv[1])
print(r if isinstance(r, str) else json.dumps(r))' "$1" 2>&1
}

# op_eq NAME GOT WANT: a check that shows what it got
op_eq() { if [ "$2" = "$3" ]; then pass "$1"; else fail "$1" "got: $2; want: $3"; fi; }

op_ms() { echo $(($(date +%s%N) / 1000000)); }

# op_pool POOL: the nodes of the pool file, sorted, on one line
op_pool() {
	grep -o 'server [0-9.]*:[0-9]*' "$op_ngx/raptor.d/$1.conf" 2>/dev/null | awk '{print $2}' | sort | tr '\n' ' '
}

# op_nodes: the address:port of every RUNNING managed program, sorted, on one
# line (what the pool should hold while one swarm is routed)
op_nodes() {
	op_q '" ".join(sorted("%s:%s" % (p["host"], p["port"]) for p in managed if p["state"] == "RUNNING")) + " "'
}

# op_get: GET / through nginx
op_get() { curl -s --noproxy '*' --max-time 3 "http://127.0.0.1:$op_port/"; }

# op_loop_start / op_loop_stop NAME: requests through nginx, one line each
# (the HTTP status, 000 for no answer), for the time of an apply
op_loop_start() {
	: >"$SCRATCH/op_loop.out"
	rm -f "$SCRATCH/op_loop.stop"
	(
		n=0
		while [ ! -e "$SCRATCH/op_loop.stop" ] && [ "$n" -lt 3000 ]; do
			curl -s --noproxy '*' -o /dev/null -w '%{http_code}\n' --max-time 3 \
				"http://127.0.0.1:$op_port/" >>"$SCRATCH/op_loop.out"
			n=$((n + 1))
			sleep 0.02
		done
	) &
	op_loop_pid=$!
	sleep 0.3 # a few requests before the switch starts
}
op_loop_stop() {
	local total bad
	sleep 0.3 # and a few after it
	touch "$SCRATCH/op_loop.stop"
	wait "$op_loop_pid" 2>/dev/null
	op_loop_pid=""
	total=$(wc -l <"$SCRATCH/op_loop.out")
	bad=$(grep -vc '^200$' "$SCRATCH/op_loop.out")
	if [ "$total" -ge 20 ] && [ "$bad" = 0 ]; then
		pass "$1: no failed request ($total requests through nginx)"
	else
		fail "$1: $bad failed of $total requests (at least 20 wanted)" "$(sort "$SCRATCH/op_loop.out" | uniq -c | tr '\n' ' ')"
	fi
}

# op_pid I NAME: "STATE PID" of program NAME on sandbox host I
op_pid() {
	python3 "$op_xcall" --timeout 3 "$(bash "$op_sb" url "$op_fleet" "$1")" supervisor.getProcessInfo "\"$2\"" |
		python3 -c 'import json,sys; d=json.load(sys.stdin); print(d["statename"], d["pid"])' 2>/dev/null
}

# op_wait_host I: after start-host, until every program file of sandbox
# host I names a RUNNING program (at most ~10 s); prints what it saw
op_wait_host() {
	local f name st="" _
	for f in "$op_fleet/host$1/raptor.d/"*.conf; do
		[ -e "$f" ] || continue
		name=$(basename "$f" .conf)
		for _ in $(seq 1 50); do
			st=$(op_pid "$1" "$name")
			case "$st" in RUNNING*) break ;; esac
			sleep 0.2
		done
		echo "$name ${st%% *}"
	done
}

# op_files I: the program files raptor's plugin holds on sandbox host I
op_files() { (cd "$op_fleet/host$1/raptor.d" 2>/dev/null && ls -- *.conf 2>/dev/null | tr '\n' ' '); }

if [ "$op_up" = 1 ]; then

# === A. A host dies ==========================================================
# Replaces "When a Squad Loses a Host": no Django admin, no hunting for the
# swarms of the squad, no dispatching them by hand. status and plan answer at
# once with the dead host named; apply puts its instances elsewhere and routes
# around it without a failed request; when it comes back, its extra instance
# goes.

op_swarm hello 1.0 prod web web 3 hello | op_desired
run op_raptor apply --yes
expect_rc "A: first deploy" 0
op_eq "A: three instances RUNNING, one per web host" \
	"$(op_q 'sorted(p["host"] for p in managed if p["state"] == "RUNNING")')" \
	'["127.0.0.41", "127.0.0.42", "127.0.0.43"]'
bash "$op_nx" site "$op_ngx" hello >/dev/null 2>&1
bash "$op_nx" wait-for "$op_ngx" / "app=hello version=1.0" 10 >/dev/null 2>&1 &&
	pass "A: nginx serves the swarm" || fail "A: nginx serves the swarm" "$(op_get)"

bash "$op_sb" stop-host "$op_fleet" 42 >/dev/null 2>&1
op_t=$(op_ms)
run op_raptor status
op_t=$(($(op_ms) - op_t))
expect_rc "A: status with a dead host" 3
[ "$op_t" -lt 4000 ] && pass "A: status answers in ${op_t} ms (connect timeout 1s)" || fail "A: status took ${op_t} ms"
expect_in "A: status names the dead host" "$out" "127.0.0.43  UNREACHABLE  connection refused"
expect_in "A: status shows the others" "$out" "127.0.0.41  up"
op_t=$(op_ms)
run op_raptor plan
op_t=$(($(op_ms) - op_t))
[ "$op_t" -lt 4000 ] && pass "A: plan answers in ${op_t} ms" || fail "A: plan took ${op_t} ms"
expect_in "A: plan lists the dead host" "$out" "unreachable hosts (their instances are not counted)
  127.0.0.43: connection refused"
expect_in "A: plan replaces its instance" "$out" "replacement for an unreachable host"
expect_in "A: plan drops its node from the pool" "$out" "-127.0.0.43:"
expect_in "A: plan: one start, nothing stopped" "$out" "Plan: 1 to start, 0 to stop, 1 pool to change."

op_loop_start
run op_raptor apply --yes
op_loop_stop "A: apply with a dead host"
expect_rc "A: apply with a dead host" 0
expect_in "A: apply converges" "$out" "Applied: 1 started, 0 stopped, 1 balancer reloaded. Converged."
op_eq "A: three RUNNING on the two surviving hosts" \
	"$(op_q 'running(lambda p: p["host"] in ("127.0.0.41", "127.0.0.42"))')" 3
op_pool_now=$(op_pool hello)
expect_not_in "A: the pool no longer lists the dead host" "$op_pool_now" "127.0.0.43:"
op_eq "A: the pool is the three RUNNING instances" "$op_pool_now" "$(op_nodes)"

# the same host frozen (SIGSTOP: it accepts, never answers): status still answers
bash "$op_sb" start-host "$op_fleet" 42 >/dev/null 2>&1 || fail "A: start-host" "host 42 did not start"
op_back=$(op_wait_host 42)
case "$op_back" in
hello-1.0-prod-*" RUNNING") pass "A: the host's old instance is back, RUNNING (autostart from its file)" ;;
*) fail "A: the host's old instance is back (autostart)" "$op_back" ;;
esac
bash "$op_sb" freeze-host "$op_fleet" 42 >/dev/null 2>&1
op_t=$(op_ms)
run op_raptor status
op_t=$(($(op_ms) - op_t))
bash "$op_sb" thaw-host "$op_fleet" 42 >/dev/null 2>&1
expect_rc "A: status with a frozen host" 3
[ "$op_t" -lt 5000 ] && pass "A: status with a frozen host answers in ${op_t} ms (request timeout 3s)" ||
	fail "A: status with a frozen host took ${op_t} ms"
expect_in "A: status names the frozen host" "$out" "127.0.0.43  UNREACHABLE  connected, but no answer within 3s"

# back: 4 instances for a size of 3, one of them excess, and the plan stops
# just that one: the returning host's, which left the pool while the host was
# away, so nothing else changes (its checked replacement keeps serving).
op_eq "A: the host back: status classes 3 current, 1 excess" \
	"$(op_q 'sorted(p["class"] for p in managed)')" '["current", "current", "current", "excess"]'
op_excess=$(op_q '" ".join(p["name"] + "@" + p["host"] for p in managed if p["class"] == "excess")')
op_excess_node=$(op_q '" ".join("%s:%s" % (p["host"], p["port"]) for p in managed if p["class"] == "excess")')
expect_in "A: the host back: the excess is the returning host's instance" "$op_excess" "@127.0.0.43"
expect_not_in "A: ... and it is not in the pool" " $(op_pool hello) " " $op_excess_node "

run op_raptor plan --json
op_eq "A: the host back: the plan starts nothing and stops one" \
	"$(echo "$out" | python3 -c 'import json,sys; d=json.load(sys.stdin); print(d["summary"]["start"], d["summary"]["stop"], sorted({a["op"] for a in d["actions"]} - {"route"}))')" \
	"0 1 ['stop']"
op_eq "A: the host back: the stop is the excess instance" \
	"$(echo "$out" | python3 -c 'import json,sys; d=json.load(sys.stdin); print(" ".join(a["program"] + "@" + a["host"] for a in d["actions"] if a["op"] == "stop"))')" \
	"$op_excess"
case " $(op_pool hello)" in *" $op_excess_node "*) op_want_routes=1 ;; *) op_want_routes=0 ;; esac
op_eq "A: the host back: a pool changes only if the stopped node is in it" \
	"$(echo "$out" | python3 -c 'import json,sys; d=json.load(sys.stdin); print(d["summary"]["route"])')" "$op_want_routes"
op_jl=$(wc -l <"$op_state/journal.jsonl")
run op_raptor apply --yes
expect_rc "A: apply with the host back" 0
expect_in "A: it stops one" "$out" "Applied: 0 started, 1 stopped"
# the returning instance went down with its host: if raptor routes it again,
# it should pass its health checks first, like a program started again after
# drift (README's drift table), and before a checked instance is stopped for it
op_back_node=$(op_q '" ".join("%s:%s" % (p["host"], p["port"]) for p in managed if p["host"] == "127.0.0.43")')
case " $(op_pool hello)" in
*" $op_back_node "*)
	tail -n +"$((op_jl + 1))" "$op_state/journal.jsonl" | grep '"op":"check"' | grep '"host":"127.0.0.43"' | grep -q '"result":"ok"' &&
		pass "A: the returning instance is health-checked before it is routed again" ||
		fail "A: the returning instance ($op_back_node) is routed again without a health check" \
			"this apply's journal: $(tail -n +"$((op_jl + 1))" "$op_state/journal.jsonl" | grep -o '"op":"[a-z ]*","host":[^,]*' | tr '\n' ' ')"
	;;
*) pass "A: the returning instance is not routed (it was the one stopped)" ;;
esac
op_eq "A: exactly 3 managed programs across the fleet, all RUNNING" \
	"$(op_q 'str(len(managed)) + " " + str(running())')" "3 3"
op_eq "A: the pool is the three RUNNING instances" "$(op_pool hello)" "$(op_nodes)"
run op_raptor plan --detailed-exitcode
expect_rc "A: then nothing is pending" 0

# === B. on_unreachable: wait ==================================================
# The same day for a squad whose operators would rather wait for the host than
# have its load moved: raptor plans nothing for the swarm and says why.

op_unreach="wait"
op_swarm hello 1.0 prod web web 3 hello | op_desired
bash "$op_sb" stop-host "$op_fleet" 42 >/dev/null 2>&1
op_before=$(op_q 'sorted((p["host"], p["name"], p["state"]) for p in progs)')
op_pool_before=$(cat "$op_ngx/raptor.d/hello.conf" 2>/dev/null)
run op_raptor plan --json
op_eq "B: wait: no action at all" \
	"$(echo "$out" | python3 -c 'import json,sys; d=json.load(sys.stdin); print(len(d["actions"]), d["summary"]["start"], d["summary"]["stop"], d["summary"]["route"])')" \
	"0 0 0 0"
run op_raptor plan
expect_in "B: wait: the plan says why" "$out" "waiting hello/prod/web@web: 1 host of squad web unreachable and on_unreachable is wait"
run op_raptor apply --yes
expect_rc "B: wait: apply" 0
expect_in "B: wait: apply says why it leaves the swarm" "$err" "on_unreachable is wait"
expect_not_in "B: wait: apply does not claim the fleet matches (a swarm is waiting)" "$out" "the fleet matches the desired state"
op_eq "B: wait: apply changed no program" \
	"$(op_q 'sorted((p["host"], p["name"], p["state"]) for p in progs)')" "$op_before"
op_eq "B: wait: the pool file is unchanged" "$(cat "$op_ngx/raptor.d/hello.conf" 2>/dev/null)" "$op_pool_before"
bash "$op_sb" start-host "$op_fleet" 42 >/dev/null 2>&1 || fail "B: start-host" "host 42 did not start"
op_unreach=replace
op_swarm hello 1.0 prod web web 3 hello | op_desired
op_wait_host 42 >/dev/null # its instance starts again
run op_raptor plan --detailed-exitcode
expect_rc "B: the host back: nothing to do" 0

# === C. Replacing a host ======================================================
# Replaces "delete the failing host in /admin/squads, add the new one at
# /host/add/, dispatch every swarm of the squad": one edit of the YAML. The
# host that left the squad is still cleaned, because STATE/hosts.json
# remembers it.

# A left two instances on .41 and none on .43 (the returning one was the
# excess); a new release spreads them over the three hosts again
op_swarm hello 1.1 prod web web 3 hello | op_desired
run op_raptor apply --yes
expect_rc "C: first a new release, which spreads the instances again" 0
expect_in "C: raptor remembers host .43" "$(cat "$op_state/hosts.json" 2>/dev/null)" '"127.0.0.43"'
op_eq "C: before: one instance on each web host" \
	"$(op_q 'sorted(p["host"] for p in managed if p["state"] == "RUNNING")')" \
	'["127.0.0.41", "127.0.0.42", "127.0.0.43"]'
op_web="127.0.0.41, 127.0.0.42, 127.0.0.44"
op_swarm hello 1.1 prod web web 3 hello | op_desired
run op_raptor plan
expect_in "C: plan: a start on the new host" "$out" "on 127.0.0.44 port"
echo "$out" | grep -Eq '^  - hello-1\.1-prod-[0-9a-f]{8}-web-[0-9]+ on 127\.0\.0\.43 port [0-9]+ +orphan: host no longer in the squad$' &&
	pass "C: plan: the old host's instance goes, and why" ||
	fail "C: plan: the old host's instance goes, and why" "no '- ... on 127.0.0.43 ... orphan: host no longer in the squad' line"
op_loop_start
run op_raptor apply --yes
op_loop_stop "C: replacing a host"
expect_rc "C: apply" 0
expect_in "C: apply converges" "$out" "Applied: 1 started, 1 stopped"
op_eq "C: one RUNNING instance on each of .41 .42 .44" \
	"$(op_q 'sorted(p["host"] for p in managed if p["state"] == "RUNNING")')" \
	'["127.0.0.41", "127.0.0.42", "127.0.0.44"]'
op_eq "C: no program file left on the old host" "$(op_files 42)" ""
op_eq "C: the old host's supervisord runs nothing" \
	"$(python3 "$op_xcall" --timeout 3 "$(bash "$op_sb" url "$op_fleet" 42)" supervisor.getAllProcessInfo)" "[]"
op_pool_now=$(op_pool hello)
expect_in "C: the pool lists the new host" "$op_pool_now" "127.0.0.44:"
expect_not_in "C: the pool does not list the old host" "$op_pool_now" "127.0.0.43:"
op_eq "C: the pool is the three RUNNING instances" "$op_pool_now" "$(op_nodes)"
expect_not_in "C: once clean, the old host leaves STATE/hosts.json" "$(cat "$op_state/hosts.json" 2>/dev/null)" '"127.0.0.43"'
run op_raptor apply --yes
expect_in "C: a rerun has nothing to do" "$out" "Nothing to do"

# === D. Renames with traffic ==================================================
# Replaces "Defunct Procs": Velociraptor left the old procs of a swarm whose
# app, proc, config or squad changed running forever. Here each rename is one
# apply, served throughout, after which no instance of the old identity is
# left anywhere. The pool stays the same across the renames.

# op_rename FIELD NAME APP CONFIG PROC SQUAD WANT-IN-ANSWER
op_rename() {
	local field=$1 id="$3/$4/$5@$6"
	shift
	op_swarm "$2" 1.0 "$3" "$4" "$5" 3 hello | op_desired
	run op_raptor plan
	op_eq "D: $1: plan: each old instance is an orphan of the rename" \
		"$(echo "$out" | grep -c "orphan: $field changed (likely renamed to $id)")" 3
	op_loop_start
	run op_raptor apply --yes
	op_loop_stop "D: $1"
	expect_rc "D: $1: apply" 0
	expect_in "D: $1: 3 new instances, 3 old ones stopped" "$out" "Applied: 3 started, 3 stopped,"
	expect_in "D: $1: converged" "$out" "Converged."
	op_eq "D: $1: every managed program is $id, 3 RUNNING" \
		"$(op_q 'sorted({p["swarm"] for p in managed}) + [running()]')" "[\"$id\", 3]"
	expect_in "D: $1: nginx serves it" "$(op_get)" "$6"
	op_eq "D: $1: the pool is the new instances" "$(op_pool hello)" "$(op_nodes)"
}
op_rename app "app hello -> greeter" greeter prod web web "app=greeter"
op_rename proc "proc web -> www" greeter prod www web "proc=www"
op_rename config "config prod -> live" greeter live www web "config=live"
op_rename squad "squad web -> front" greeter live www front "app=greeter version=1.0 config=live proc=www host=127.0.0.4"
op_eq "D: after the squad move the pool lists only front's hosts" \
	"$(op_pool hello | tr ' ' '\n' | cut -d: -f1 | sort -u | tr '\n' ' ')" "127.0.0.45 127.0.0.46 "

# deleting the swarm: the site goes first (nginx -t refuses a location whose
# upstream is gone), so no request loop here
bash "$op_nx" unsite "$op_ngx" hello >/dev/null 2>&1
: | op_desired
run op_raptor apply --yes
expect_rc "D: delete: the mass-stop guard trips (every managed instance would go)" 1
expect_in "D: delete: the guard says why" "$err" "the desired state has no swarms at all while managed instances run"
expect_in "D: delete: the guard says how to proceed" "$err" "--allow-mass-stop"
op_eq "D: delete: the refusal stopped nothing" "$(op_q 'running()')" 3
run op_raptor apply --yes --allow-mass-stop
expect_rc "D: delete with --allow-mass-stop" 0
expect_in "D: delete converges" "$out" "Applied: 0 started, 3 stopped"
op_eq "D: delete: no managed program anywhere" "$(op_q 'len(managed)')" 0
op_eq "D: delete: no program file on any host" \
	"$(for i in 40 41 42 43 44 45 46; do op_files "$i"; done)" ""
[ ! -e "$op_ngx/raptor.d/hello.conf" ] && pass "D: delete: the pool file is gone" ||
	fail "D: delete: the pool file stays" "$(cat "$op_ngx/raptor.d/hello.conf")"

# === E. Programs raptor did not create ========================================
# Replaces "Proc Supervisor": procs started by hand show up, are never
# touched, and their ports are never reused. (The VR-named one's identity,
# legacyapp/prod/web, is no desired swarm's, and nothing says `adopt:`.)

op_vr=legacyapp-1.0-prod-0badf00d-web-5601
bash "$op_sb" add-unmanaged "$op_fleet" 46 bystander /bin/sleep 1000 >/dev/null 2>&1 ||
	fail "E: add the bystander"
bash "$op_sb" add-unmanaged "$op_fleet" 46 "$op_vr" \
	/usr/bin/python3 -u "$SCRATCH/apps/hello.py" --port 5601 --host 127.0.0.47 >/dev/null 2>&1 ||
	fail "E: add the Velociraptor-named program"
op_by_pid=$(op_pid 46 bystander)
op_vr_pid=$(op_pid 46 "$op_vr")
op_swarm hello 1.0 solo web solo 1 | op_desired
run op_raptor status
echo "$out" | grep -Eq '^    RUNNING +bystander +unmanaged *$' && pass "E: status shows the bystander" ||
	fail "E: status shows the bystander" "no line 'RUNNING bystander unmanaged'"
echo "$out" | grep -Eq "^    RUNNING +$op_vr +unmanaged +port 5601 *\$" && pass "E: status shows the VR-named program with its port" ||
	fail "E: status shows the VR-named program with its port" "no line 'RUNNING $op_vr unmanaged port 5601'"
op_eq "E: status --json: both RUNNING, unmanaged, the VR one on port 5601" \
	"$(op_q 'sorted((p["name"], p["state"], p["managed"], p["class"], p["port"]) for p in progs if p["host"] == "127.0.0.47")')" \
	"[[\"bystander\", \"RUNNING\", false, \"unmanaged\", null], [\"$op_vr\", \"RUNNING\", false, \"unmanaged\", 5601]]"
run op_raptor plan --json
op_eq "E: plan: one start, no stop" \
	"$(echo "$out" | python3 -c 'import json,sys; d=json.load(sys.stdin); print(d["summary"]["start"], d["summary"]["stop"])')" "1 0"
op_new=$(echo "$out" | python3 -c 'import json,sys; d=json.load(sys.stdin); print(" ".join(a["program"] for a in d["actions"] if a["op"] == "start"))')
case "$op_new" in
*-5601) fail "E: the new instance takes the VR program's port 5601" "$op_new" ;;
hello-1.0-solo-*-web-5602) pass "E: the new instance skips port 5601 for 5602, the lowest free ($op_new)" ;;
*) fail "E: the new instance's name and port (5602 wanted)" "$op_new" ;;
esac
run op_raptor apply --yes
expect_rc "E: apply beside unmanaged programs" 0
expect_in "E: apply starts one, stops none" "$out" "Applied: 1 started, 0 stopped"
op_eq "E: the new instance RUNNING, on the planned port" \
	"$(op_q '[p["name"] for p in managed if p["state"] == "RUNNING"]')" "[\"$op_new\"]"
expect_in "E: the new instance answers on its port" \
	"$(curl -s --noproxy '*' --max-time 3 "http://127.0.0.47:${op_new##*-}/")" "app=hello version=1.0 config=solo"
expect_in "E: the VR program still answers on 5601" \
	"$(curl -s --noproxy '*' --max-time 3 "http://127.0.0.47:5601/")" "port=5601"
# and the swarm's removal (size 0) leaves them alone too
op_swarm hello 1.0 solo web solo 0 | op_desired
run op_raptor apply --yes
expect_rc "E: size 0 beside unmanaged programs" 0
expect_in "E: size 0 stops only the instance" "$out" "Applied: 0 started, 1 stopped"
op_eq "E: the bystander was never touched (same PID)" "$(op_pid 46 bystander)" "$op_by_pid"
op_eq "E: the VR program was never touched (same PID)" "$(op_pid 46 "$op_vr")" "$op_vr_pid"
case "$op_by_pid $op_vr_pid" in "RUNNING "[0-9]*" RUNNING "[0-9]*) pass "E: the PIDs compared are real" ;; *) fail "E: PIDs" "$op_by_pid / $op_vr_pid" ;; esac

# === F. An apply interrupted by a host failure ================================
# The runbook has no answer for a dispatch cut short by a dying host; here
# the apply fails, says why, and the next apply after the host is back
# converges to exactly the new release.

op_swarm hello 1.0 prod web web 3 hello "    rollout: { max_surge: 1 }" | op_desired
run op_raptor apply --yes
expect_rc "F: version 1.0 deployed" 0
op_eq "F: 3 RUNNING" "$(op_q 'running()')" 3
# 2.0, each check a second longer (an uptest), one new instance at a time
op_swarm hello 2.0 prod web web 3 hello "    rollout: { max_surge: 1 }" |
	sed 's|http: /healthz, timeout: 15s|http: /healthz, uptest: [[/bin/sh, -c, "sleep 1", --]], timeout: 15s|' | op_desired
op_jl=$(wc -l <"$op_state/journal.jsonl")
op_raptor apply --yes >"$SCRATCH/op_f.out" 2>"$SCRATCH/op_f.err" &
op_bg_pid=$!
op_seen=0
for _ in $(seq 1 150); do
	if tail -n +"$((op_jl + 1))" "$op_state/journal.jsonl" | grep '"op":"check"' | grep -q '"result":"ok"'; then
		op_seen=1
		break
	fi
	kill -0 "$op_bg_pid" 2>/dev/null || break
	sleep 0.1
done
bash "$op_sb" stop-host "$op_fleet" 41 >/dev/null 2>&1
[ "$op_seen" = 1 ] && pass "F: host .42 stopped after the first new instance was healthy" ||
	fail "F: no healthy check in the journal before the apply ended" "$(tail -3 "$SCRATCH/op_f.err")"
wait "$op_bg_pid"
rc=$?
op_bg_pid=""
out=$(cat "$SCRATCH/op_f.out")
err=$(cat "$SCRATCH/op_f.err")
echo "  (F: the interrupted apply exited $rc: $(tail -n 2 "$SCRATCH/op_f.out" | tr '\n' ' '))"
expect_rc "F: the interrupted apply fails" 1
expect_in "F: it says the swarm did not converge" "$out" "did not converge"
expect_in "F: it names the host that failed" "$out" "on 127.0.0.42 failed: "
op_eq "F: meanwhile the reachable hosts run one new instance and the old one whose replacement failed" \
	"$(op_q 'sorted((p["name"].split("-")[1], p["state"]) for p in managed)')" \
	'[["1.0", "RUNNING"], ["2.0", "RUNNING"]]'
bash "$op_sb" start-host "$op_fleet" 41 >/dev/null 2>&1 || fail "F: start-host" "host 41 did not start"
op_wait_host 41 >/dev/null # what was on it starts again
run op_raptor apply --yes
expect_rc "F: the rerun with the host back" 0
expect_in "F: the rerun converges" "$out" "Converged."
op_eq "F: exactly 3 managed programs, all RUNNING, all of release 2.0" \
	"$(op_q '[len(managed), running(), sorted({p["name"].split("-")[1] for p in managed})]')" '[3, 3, ["2.0"]]'
op_eq "F: one per host" "$(op_q 'sorted(p["host"] for p in managed)')" \
	'["127.0.0.41", "127.0.0.42", "127.0.0.44"]'
op_eq "F: the pool is the three RUNNING instances" "$(op_pool hello)" "$(op_nodes)"
run op_raptor apply --yes
expect_rc "F: a third apply" 0
expect_in "F: a third apply has nothing to do" "$out" "Nothing to do"

fi # op_up

op_cleanup
if [ -n "$op_old_trap" ]; then eval "$op_old_trap"; else trap - EXIT; fi
echo "  (test_operations.sh: $(($(date +%s) - op_t0)) s)"
