# raptor reconcile end to end: real supervisord hosts on 127.0.0.2-4, a real
# nginx, the demo app, and a real git repository read through a file:// URL
# (so the fetch into STATE/repos/ runs). One round at a time (--once) for the
# repository and drift cases, then loops in the background for a host going
# down and coming back, SIGHUP and SIGTERM.

SANDBOX="$REPO_ROOT/tests/sandbox/sandbox.sh"
NGINX="$REPO_ROOT/tests/sandbox/nginx.sh"
XMLRPC="$REPO_ROOT/tests/integration/xmlrpc_call.py"
fleet="$SCRATCH/fleet"
ngx="$SCRATCH/nginx"
cd "$SCRATCH" || exit 1
mkdir -p apps state
cp "$REPO_ROOT"/examples/apps/* apps/

bash "$SANDBOX" up "$fleet" 3 >"$SCRATCH/sandbox.log" 2>&1 || fail "sandbox up" "$(tail -5 "$SCRATCH/sandbox.log")"
bash "$NGINX" up "$ngx" >"$SCRATCH/nginx.log" 2>&1 || fail "nginx up" "$(tail -5 "$SCRATCH/nginx.log")"
url1=$(bash "$SANDBOX" url "$fleet" 1)

# desired APP VERSION: the repository's one file, committed
desired() {
	cat >origin/fleet.yaml <<YAML
settings:
  timeouts: { connect: 1s, request: 5s }
  ports: { first: 5200, last: 5299 }
squads:
  web:
    hosts: [127.0.0.2, 127.0.0.3, 127.0.0.4]
balancers:
  edge:
    type: nginx
    include_dir: $ngx/raptor.d
    test: [nginx, -t, -q, -c, $ngx/nginx.conf, -p, $ngx/]
    reload: [nginx, -s, reload, -c, $ngx/nginx.conf, -p, $ngx/]
    drain: 200ms
swarms:
  - app: $1
    version: "$2"
    config: test
    proc: web
    squad: web
    size: 3
    command: /usr/bin/python3 -u $SCRATCH/apps/hello.py --port \${PORT}
    routing: { balancer: edge, pool: hello }
    health: { tcp: true, http: /healthz, timeout: 15s }
YAML
	git_ -C origin add -A >/dev/null && git_ -C origin commit -qm "$1 $2" >/dev/null
}

# running APP: "name state" of APP's managed programs over the fleet, sorted
running() {
	"$RAPTOR" status --repo "$SCRATCH/origin" --ref "${STATUS_REF:-HEAD}" --state-dir state --json 2>/dev/null |
		python3 -c '
import json, sys
doc = json.load(sys.stdin)
for h in doc["hosts"]:
    for p in h["programs"]:
        if p["managed"] and p["name"].startswith(sys.argv[1] + "-"):
            print(p["name"], p["state"], h["name"])' "$1" | sort
}
count_running() { running "$1" | grep -c ' RUNNING ' || true; }
journal_rounds() { grep -c '"op":"reconcile"' state/journal.jsonl 2>/dev/null || echo 0; }

git_ init -q -b main origin
desired hello 1.0
head1=$(git_ -C origin rev-parse HEAD)
repo_url="file://$SCRATCH/origin"

# --- a round from a file:// URL deploys the commit ---
run "$RAPTOR" reconcile --once --repo "$repo_url" --state-dir state --metrics-file state/raptor.prom
expect_rc "reconcile --once: first round" 0
expect_in "first round deploys" "$out" "Applied: 3 started, 0 stopped, 1 balancer reloaded. Converged."
expect_in "the round is logged with its commit" "$err" "round 1 at ${head1:0:12}: converged"
[ -d state/repos ] && [ -n "$(ls state/repos)" ] && pass "the URL was fetched into STATE/repos" || fail "no mirror in STATE/repos"
expect_in "last.json records the commit" "$(cat state/last.json 2>/dev/null)" "\"commit\": \"$head1\""
n=$(grep -l "commit=$head1" "$fleet"/host*/raptor.d/*.conf 2>/dev/null | wc -l)
[ "$n" = 3 ] && pass "each program file carries the commit" || fail "program files with commit=$head1: $n"
expect_in "journal: the round" "$(tail -n 1 state/journal.jsonl)" "\"result\":\"converged\""
prom=$(cat state/raptor.prom 2>/dev/null)
expect_in "metrics: success" "$prom" "raptor_last_round_success 1"
expect_in "metrics: the applied commit" "$prom" "raptor_applied_commit_info{commit=\"$head1\"} 1"
expect_in "metrics: actions by op and result" "$prom" 'raptor_last_round_actions{op="start",result="ok"} 3'
expect_in "metrics: hosts" "$prom" "raptor_hosts_unreachable 0"
expect_in "metrics: HELP lines" "$prom" "# TYPE raptor_instances gauge"
[ "$(count_running hello)" = 3 ] && pass "three instances RUNNING" || fail "three RUNNING" "$(running hello)"
bash "$NGINX" site "$ngx" hello >/dev/null 2>&1
bash "$NGINX" wait-for "$ngx" / "app=hello version=1.0" 10 >/dev/null 2>&1 &&
	pass "nginx serves the app" || fail "nginx serves the app"

# an unmanaged program beside them, which no round may touch
bash "$SANDBOX" add-unmanaged "$fleet" 1 bystander /bin/sleep 1000 >/dev/null 2>&1
bystander_pid=$(python3 "$XMLRPC" "$url1" supervisor.getProcessInfo '"bystander"' |
	python3 -c 'import json,sys; print(json.load(sys.stdin)["pid"])')

# --- a round with nothing to do writes nothing on the hosts ---
before=$(ls -l --time-style=full-iso "$fleet"/host*/raptor.d/ | md5sum)
logs_before=$(cat "$fleet"/host*/log/supervisord.log | wc -l)
run "$RAPTOR" reconcile --once --repo "$repo_url" --state-dir state --metrics-file state/raptor.prom
expect_rc "nothing to do" 0
expect_in "nothing to do: said" "$out" "Nothing to do: the fleet matches the desired state at $head1."
expect_not_in "nothing to do: no plan printed" "$err" "+ start"
after=$(ls -l --time-style=full-iso "$fleet"/host*/raptor.d/ | md5sum)
[ "$before" = "$after" ] && pass "nothing to do: no program file written" || fail "program files changed"
logs_after=$(cat "$fleet"/host*/log/supervisord.log | wc -l)
[ "$logs_before" = "$logs_after" ] && pass "nothing to do: supervisord logged nothing" || fail "supervisord logs grew" "$(tail -3 "$fleet"/host1/log/supervisord.log)"
expect_in "metrics: outcome nothing" "$(cat state/raptor.prom)" 'raptor_last_round_outcome{outcome="nothing"} 1'
expect_in "metrics: instances by class" "$(cat state/raptor.prom)" 'raptor_instances{class="current"} 3'
expect_in "metrics: unmanaged counted" "$(cat state/raptor.prom)" 'raptor_instances{class="unmanaged"} 1'

# --- drift: a managed program stopped by hand is started again, in place ---
victim=$(running hello | awk '$3 == "127.0.0.2" {print $1; exit}')
python3 "$XMLRPC" "$url1" supervisor.stopProcess "\"$victim\"" >/dev/null
running hello | grep -q "^$victim STOPPED" && pass "drift: stopped by hand" || fail "drift: stop by hand" "$(running hello)"
run "$RAPTOR" reconcile --once --repo "$repo_url" --state-dir state
expect_rc "drift: stopped program" 0
expect_in "drift: the plan says why" "$err" "stopped outside raptor): started again"
expect_in "drift: restarted, nothing else" "$out" "Applied: 1 started, 0 stopped, 0 balancers reloaded. Converged."
running hello | grep -q "^$victim RUNNING" && pass "drift: the same program RUNNING again" || fail "drift: same program RUNNING" "$(running hello)"

# --- drift: a program stopped by hand that cannot start again leaves its pool ---
victim=$(running hello | awk '$3 == "127.0.0.3" {print $1; exit}')
victim_node="127.0.0.3:${victim##*-}"
grep -Eq "server $victim_node[; ]" "$ngx/raptor.d/hello.conf" && pass "drift, broken: its node is in the pool" ||
	fail "drift, broken: node not in the pool" "$(cat "$ngx/raptor.d/hello.conf")"
python3 "$XMLRPC" "$(bash "$SANDBOX" url "$fleet" 2)" supervisor.stopProcess "\"$victim\"" >/dev/null
mv "$SCRATCH/apps/hello.py" "$SCRATCH/apps/hello.py.away" # a restart now exits at once
run "$RAPTOR" reconcile --once --repo "$repo_url" --state-dir state
mv "$SCRATCH/apps/hello.py.away" "$SCRATCH/apps/hello.py"
expect_rc "drift, broken: the round fails" 1
expect_in "drift, broken: ... naming the program" "$out" "$victim on 127.0.0.3 failed"
if grep -Eq "server $victim_node[; ]" "$ngx/raptor.d/hello.conf"; then
	fail "drift, broken: the stopped program is still routed" "$(cat "$ngx/raptor.d/hello.conf")"
else
	pass "drift, broken: the stopped program left the pool"
fi
[ "$(grep -c ' RUNNING ' <<<"$(running hello)")" = 2 ] && pass "drift, broken: the two others run on" ||
	fail "drift, broken: the others" "$(running hello)"
run "$RAPTOR" reconcile --once --repo "$repo_url" --state-dir state
expect_rc "drift, broken: fixed, the next round" 0
expect_in "drift, broken: fixed: converged" "$out" "Converged."
[ "$(count_running hello)" = 3 ] && pass "drift, broken: fixed: three RUNNING" || fail "drift, broken: fixed" "$(running hello)"
[ "$(grep -c 'server ' "$ngx/raptor.d/hello.conf")" = 3 ] && pass "drift, broken: fixed: three nodes routed again" ||
	fail "drift, broken: fixed: pool" "$(cat "$ngx/raptor.d/hello.conf")"

# --- drift: removed by hand from supervisord (its file left) is recreated ---
victim=$(running hello | awk '$3 == "127.0.0.2" {print $1; exit}')
python3 "$XMLRPC" "$url1" supervisor.stopProcess "\"$victim\"" >/dev/null
python3 "$XMLRPC" "$url1" supervisor.removeProcessGroup "\"$victim\"" >/dev/null
run "$RAPTOR" reconcile --once --repo "$repo_url" --state-dir state
expect_rc "drift: removed program" 0
expect_in "drift: removed: replaced" "$err" "never loaded by supervisord"
[ "$(count_running hello)" = 3 ] && pass "drift: removed: three RUNNING again" || fail "drift: removed: three RUNNING" "$(running hello)"
[ ! -e "$fleet/host1/raptor.d/$victim.conf" ] && pass "drift: removed: its left-over file is gone" || fail "left-over file stays"

# --- drift: removed by hand, file and all, is recreated ---
victim=$(running hello | awk '$3 == "127.0.0.3" {print $1; exit}')
url2=$(bash "$SANDBOX" url "$fleet" 2)
python3 "$XMLRPC" "$url2" supervisor.stopProcess "\"$victim\"" >/dev/null
python3 "$XMLRPC" "$url2" supervisor.removeProcessGroup "\"$victim\"" >/dev/null
rm -f "$fleet/host2/raptor.d/$victim.conf"
run "$RAPTOR" reconcile --once --repo "$repo_url" --state-dir state
expect_rc "drift: deleted program" 0
expect_in "drift: deleted: a start" "$out" "Applied: 1 started"
[ "$(count_running hello)" = 3 ] && pass "drift: deleted: three RUNNING again" || fail "drift: deleted: three RUNNING" "$(running hello)"

# --- a new commit: a rename of the app; the round fetches and applies it ---
saved=$(running hello | awk '$3 == "127.0.0.2" {print $1; exit}')
cp "$fleet/host1/raptor.d/$saved.conf" "$SCRATCH/saved.conf"
desired greeter 1.0
head2=$(git_ -C origin rev-parse HEAD)
run "$RAPTOR" reconcile --once --repo "$repo_url" --state-dir state --metrics-file state/raptor.prom
expect_rc "new commit: applied" 0
expect_in "new commit: renamed app replaces the old" "$out" "Applied: 3 started, 3 stopped"
[ "$(count_running greeter)" = 3 ] && [ "$(count_running hello)" = 0 ] &&
	pass "new commit: three greeter, no hello" || fail "after the rename" "$(running greeter; running hello)"
n=$(grep -l "commit=$head2" "$fleet"/host*/raptor.d/*.conf 2>/dev/null | wc -l)
[ "$n" = 3 ] && pass "new commit: the programs carry it" || fail "program files with commit=$head2: $n"
expect_in "new commit: last.json" "$(cat state/last.json)" "\"commit\": \"$head2\""
expect_in "new commit: metrics" "$(cat state/raptor.prom)" "raptor_applied_commit_info{commit=\"$head2\"} 1"

# --- drift: an orphan brought back by hand is torn down again ---
cp "$SCRATCH/saved.conf" "$fleet/host1/raptor.d/$saved.conf"
python3 "$XMLRPC" "$url1" supervisor.reloadConfig >/dev/null
python3 "$XMLRPC" "$url1" supervisor.addProcessGroup "\"$saved\"" >/dev/null
sleep 2
running hello | grep -q "^$saved RUNNING" && pass "orphan: brought back by hand" || fail "orphan: bring back" "$(running hello)"
run "$RAPTOR" reconcile --once --repo "$repo_url" --state-dir state
expect_rc "orphan: torn down" 0
expect_in "orphan: the plan names it" "$err" "orphan: swarm removed"
[ -z "$(running hello)" ] && pass "orphan: gone again" || fail "orphan: still there" "$(running hello)"
[ "$(count_running greeter)" = 3 ] && pass "orphan: greeter untouched" || fail "orphan: greeter" "$(running greeter)"

# the bystander lived through all of it, never restarted
pid_now=$(python3 "$XMLRPC" "$url1" supervisor.getProcessInfo '"bystander"' |
	python3 -c 'import json,sys; d=json.load(sys.stdin); print(d["statename"], d["pid"])')
[ "$pid_now" = "RUNNING $bystander_pid" ] && pass "unmanaged: never touched" || fail "unmanaged touched" "$pid_now vs $bystander_pid"

# --- bad input in a new commit: the round fails, changes nothing, is journaled ---
printf 'swarms: [\n' >origin/broken.yaml
git_ -C origin add -A >/dev/null && git_ -C origin commit -qm broken >/dev/null
run "$RAPTOR" reconcile --once --repo "$repo_url" --state-dir state --metrics-file state/raptor.prom
expect_rc "broken commit: round fails" 1
expect_in "broken commit: positioned error" "$err" "broken.yaml:2:1:"
expect_in "broken commit: journaled as an error" "$(tail -n 1 state/journal.jsonl)" "\"result\":\"error\""
expect_in "broken commit: metrics say so" "$(cat state/raptor.prom)" "raptor_last_round_success 0"
head3=$(git_ -C origin rev-parse HEAD)
expect_in "broken commit: the commit read is shown" "$(cat state/raptor.prom)" "raptor_desired_commit_info{commit=\"$head3\"} 1"
expect_in "broken commit: the applied commit stays" "$(cat state/raptor.prom)" "raptor_applied_commit_info{commit=\"$head2\"} 1"
[ "$(STATUS_REF=HEAD~1 count_running greeter)" = 3 ] && pass "broken commit: nothing changed" || fail "broken commit changed things"
git_ -C origin rm -q broken.yaml >/dev/null && git_ -C origin commit -qm fixed >/dev/null

# --- usage errors ---
run "$RAPTOR" reconcile --repo "$repo_url" --state-dir state
expect_rc "no --every" 1
expect_in "no --every: said" "$err" "give --every DURATION"
run "$RAPTOR" reconcile --repo "$repo_url" --state-dir state --every 5parsecs
expect_rc "bad --every" 1
expect_in "bad --every: said" "$err" "--every 5parsecs"
run "$RAPTOR" reconcile --repo "$repo_url" --state-dir state --once --allow-mass-stop
expect_rc "no --allow-mass-stop in a loop" 1

# --- a loop in the background: a host goes down and comes back; SIGTERM ---
"$RAPTOR" reconcile --repo "$repo_url" --state-dir state --every 1s \
	--metrics-file state/raptor.prom >"$SCRATCH/loop.out" 2>"$SCRATCH/loop.err" &
loop=$!
# wait_for SECONDS CMD...: until CMD succeeds
wait_for() {
	local t=$(($1 * 5))
	shift
	while [ "$t" -gt 0 ]; do
		"$@" && return 0
		sleep 0.2
		t=$((t - 1))
	done
	return 1
}
rounds_at_least() { [ "$(journal_rounds)" -ge "$1" ]; }
r0=$(journal_rounds)
wait_for 20 rounds_at_least $((r0 + 2)) && pass "loop: rounds every second" || fail "loop: no rounds" "$(tail -3 "$SCRATCH/loop.err")"
bash "$SANDBOX" stop-host "$fleet" 3 >/dev/null 2>&1
unreachable_seen() { grep -q 'raptor_hosts_unreachable 1' state/raptor.prom; }
wait_for 20 unreachable_seen && pass "loop: the dead host is counted" || fail "loop: unreachable not counted" "$(tail -5 "$SCRATCH/loop.err")"
replaced() { [ "$(count_running greeter)" = 3 ]; }
wait_for 30 replaced && pass "loop: replacements on the surviving hosts" || fail "loop: not replaced" "$(running greeter)"
kill -0 "$loop" 2>/dev/null && pass "loop: survives the host going down" || fail "loop died"
bash "$SANDBOX" start-host "$fleet" 3 >/dev/null 2>&1
back_and_clean() {
	grep -q 'raptor_hosts_unreachable 0' state/raptor.prom &&
		[ "$(count_running greeter)" = 3 ] && [ "$(running greeter | wc -l)" = 3 ]
}
wait_for 40 back_and_clean && pass "loop: host back, its extra instance stopped, 3 again" || fail "loop: after the host came back" "$(running greeter)"
kill -0 "$loop" 2>/dev/null && pass "loop: survives the host coming back" || fail "loop died"
kill -TERM "$loop"
wait "$loop"
rc=$?
expect_rc "loop: SIGTERM ends it cleanly" 0
expect_in "loop: says why it stopped" "$(cat "$SCRATCH/loop.err")" "stopping"

# --- SIGHUP starts a round at once ---
"$RAPTOR" reconcile --repo "$repo_url" --state-dir state --every 1h -q >"$SCRATCH/hup.out" 2>"$SCRATCH/hup.err" &
loop=$!
r0=$(journal_rounds)
wait_for 20 rounds_at_least $((r0 + 1)) && pass "hourly loop: its first round" || fail "hourly loop: no first round"
kill -HUP "$loop"
wait_for 10 rounds_at_least $((r0 + 2)) && pass "SIGHUP: a round at once" || fail "SIGHUP: no round" "$(cat "$SCRATCH/hup.err")"
kill -INT "$loop"
wait "$loop"
rc=$?
expect_rc "SIGINT ends it cleanly" 0

# --- contrib/systemd: the units verify, and their ExecStart lines run as written ---
units="$REPO_ROOT/contrib/systemd"
mkdir -p "$SCRATCH/units"
for u in raptor-reconcile.service raptor-reconcile.timer raptor-reconciler.service; do
	sed "s|/usr/local/bin/raptor|$RAPTOR|" "$units/$u" >"$SCRATCH/units/$u"
done
if command -v systemd-analyze >/dev/null 2>&1; then
	run systemd-analyze verify "$SCRATCH/units/raptor-reconcile.service" \
		"$SCRATCH/units/raptor-reconcile.timer" "$SCRATCH/units/raptor-reconciler.service"
	expect_rc "systemd-analyze verify: the units" 0
else
	echo "  (systemd-analyze not installed: the units' syntax is not verified)"
fi
# the example environment file, pointed at this test's repository and state
sed -e "s|^RAPTOR_REPO=.*|RAPTOR_REPO=$repo_url|" -e "s|^RAPTOR_EVERY=.*|RAPTOR_EVERY=1h|" \
	-e "s|^RAPTOR_METRICS_FILE=.*|RAPTOR_METRICS_FILE=$SCRATCH/state/unit.prom|" \
	"$units/raptor.env" >"$SCRATCH/raptor.env"
# unit_argv UNIT: its ExecStart, one word per line, expanded as systemd does
# (Environment= first, then EnvironmentFile=; ${X} is one word)
unit_argv() {
	python3 - "$SCRATCH/units/$1" "$SCRATCH/raptor.env" "$SCRATCH/state" <<'PY'
import re, shlex, sys
unit, envfile, state = sys.argv[1:4]
env, argv = {}, None
for line in open(unit):
    line = line.strip()
    if line.startswith("Environment="):
        for kv in shlex.split(line[len("Environment="):]):
            k, _, v = kv.partition("=")
            env[k] = v
    elif line.startswith("ExecStart="):
        argv = shlex.split(line[len("ExecStart="):])
for line in open(envfile):
    line = line.strip()
    if line and not line.startswith("#"):
        k, _, v = line.partition("=")
        env[k] = v
env["RAPTOR_STATE_DIR"] = state  # StateDirectory= gives /var/lib/raptor; here the test's
for a in argv:
    print(re.sub(r"\$\{(\w+)\}", lambda m: env.get(m.group(1), ""), a))
print("RAPTOR_STATE_DIR=" + env["RAPTOR_STATE_DIR"], file=sys.stderr)
PY
}
mapfile -t argv < <(unit_argv raptor-reconcile.service 2>/dev/null)
run env RAPTOR_STATE_DIR="$SCRATCH/state" "${argv[@]}"
expect_rc "the timer's unit: its ExecStart runs a round" 0
expect_in "the timer's unit: nothing to do" "$out" "Nothing to do"
expect_in "the timer's unit: metrics where the env file says" "$(cat state/unit.prom 2>/dev/null)" "raptor_last_round_success 1"
mapfile -t argv < <(unit_argv raptor-reconciler.service 2>/dev/null)
env RAPTOR_STATE_DIR="$SCRATCH/state" "${argv[@]}" >"$SCRATCH/unit.out" 2>"$SCRATCH/unit.err" &
loop=$!
r0=$(journal_rounds)
wait_for 20 rounds_at_least $((r0 + 1)) && pass "the long-running unit: its first round" || fail "the long-running unit: no round" "$(cat "$SCRATCH/unit.err")"
kill -HUP "$loop" # its ExecReload
wait_for 10 rounds_at_least $((r0 + 2)) && pass "the long-running unit: reload is a round now" || fail "reload: no round"
kill -TERM "$loop" # systemctl stop, KillMode=mixed
wait "$loop"
rc=$?
expect_rc "the long-running unit: stops cleanly" 0

bash "$NGINX" unsite "$ngx" hello >/dev/null 2>&1
bash "$NGINX" down "$ngx" >/dev/null 2>&1
bash "$SANDBOX" down "$fleet" >/dev/null 2>&1
