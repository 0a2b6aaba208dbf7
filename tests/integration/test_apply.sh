# raptor apply end to end: real supervisord hosts on 127.0.0.2-4 (sandbox.sh),
# a real nginx on 127.0.0.1 (nginx.sh) and the demo app (examples/apps).

SANDBOX="$REPO_ROOT/tests/sandbox/sandbox.sh"
NGINX="$REPO_ROOT/tests/sandbox/nginx.sh"
fleet="$SCRATCH/fleet"
ngx="$SCRATCH/nginx"
cd "$SCRATCH" || exit 1
mkdir -p apps state
cp "$REPO_ROOT"/examples/apps/* apps/

bash "$SANDBOX" up "$fleet" 3 >"$SCRATCH/sandbox.log" 2>&1 || fail "sandbox up" "$(tail -5 "$SCRATCH/sandbox.log")"
bash "$NGINX" up "$ngx" >"$SCRATCH/nginx.log" 2>&1 || fail "nginx up" "$(tail -5 "$SCRATCH/nginx.log")"
port=$(cat "$ngx/port" 2>/dev/null)

# desired APP VERSION SIZE [EXTRA-HEALTH-LINES]: the desired state of this test
desired() {
	mkdir -p desired
	cat >desired/fleet.yaml <<YAML
settings:
  timeouts: { connect: 1s, request: 5s }
  ports: { first: 5000, last: 5099 }
squads:
  ${SQUAD:-web}:
    hosts: [127.0.0.2, 127.0.0.3, 127.0.0.4]
balancers:
  edge:
    type: nginx
    include_dir: $ngx/raptor.d
    test: [nginx, -t, -q, -c, $ngx/nginx.conf, -p, $ngx/]
    reload: [nginx, -s, reload, -c, $ngx/nginx.conf, -p, $ngx/]
    drain: 500ms
swarms:
  - app: $1
    version: "$2"
    config: ${CONFIG:-test}
    proc: ${PROC:-web}
    squad: ${SQUAD:-web}
    size: $3
    command: /usr/bin/python3 -u $SCRATCH/apps/hello.py --port \${PORT}
    routing: { balancer: edge, pool: hello }
    health: { tcp: true, http: /healthz, timeout: ${4:-15s} }
YAML
}

managed_count() { # managed programs of app $1 across the fleet, from status --json
	"$RAPTOR" status desired --state-dir state --json | python3 -c '
import json, sys
doc = json.load(sys.stdin)
print(sum(1 for h in doc["hosts"] for p in h["programs"] if p["managed"] and p["name"].startswith(sys.argv[1] + "-") and p["state"] == "RUNNING"))' "$1"
}

desired hello 1.0 3
run "$RAPTOR" apply desired --state-dir state --yes
expect_rc "first deploy" 0
expect_in "first deploy converges" "$out" "Applied: 3 started, 0 stopped, 1 balancer reloaded. Converged."
[ "$(managed_count hello)" = 3 ] && pass "three instances RUNNING" || fail "three instances RUNNING" "$(managed_count hello)"
bash "$NGINX" site "$ngx" hello >/dev/null 2>&1
run curl -s --max-time 5 "http://127.0.0.1:$port/"
expect_in "nginx serves the app" "$out" "app=hello version=1.0"
[ -s state/journal.jsonl ] && pass "the journal has lines" || fail "no journal"
expect_in "hosts are recorded" "$(cat state/hosts.json 2>/dev/null)" "127.0.0.3"

run "$RAPTOR" apply desired --state-dir state --yes
expect_rc "a rerun" 0
expect_in "a rerun has nothing to do" "$out" "Nothing to do"

desired hello 1.0 4
run "$RAPTOR" apply desired --state-dir state --yes
expect_in "scale up" "$out" "Applied: 1 started, 0 stopped"
desired hello 1.0 2
run "$RAPTOR" apply desired --state-dir state --yes
expect_in "scale down" "$out" "Applied: 0 started, 2 stopped"
[ "$(managed_count hello)" = 2 ] && pass "two instances after scaling down" || fail "scale down count"

# a version bump while requests flow through nginx: none may fail
desired hello 1.1 2
: >loop.out
(for i in $(seq 1 400); do curl -s -o /dev/null -w '%{http_code}\n' --max-time 2 "http://127.0.0.1:$port/" >>loop.out; sleep 0.02; done) &
loop=$!
run "$RAPTOR" apply desired --state-dir state --yes
wait "$loop"
expect_in "version bump converges" "$out" "Converged."
bad=$(grep -vc '^200$' loop.out)
[ "$bad" = 0 ] && pass "no failed request during the rollout ($(wc -l <loop.out) requests)" ||
	fail "failed requests during the rollout" "$(sort loop.out | uniq -c)"
run curl -s --max-time 5 "http://127.0.0.1:$port/"
expect_in "nginx serves the new version" "$out" "version=1.1"

# a release whose health check fails is rolled back; the old one keeps serving
python3 - desired/fleet.yaml <<'PY'
import sys
p = sys.argv[1]; s = open(p).read()
s = s.replace('version: "1.1"', 'version: "1.2"').replace("http: /healthz", "http: /healthz, uptest: [[/bin/sh, -c, 'echo not ready; exit 1', --]]")
open(p, "w").write(s)
PY
sed -i 's/timeout: 15s/timeout: 3s/' desired/fleet.yaml
run "$RAPTOR" apply desired --state-dir state --yes
expect_rc "a failing health check fails the apply" 1
expect_in "the failure is named" "$out" "did not converge"
expect_in "the reason" "$out$err" "not ready"
run curl -s --max-time 5 "http://127.0.0.1:$port/"
expect_in "the old release keeps serving" "$out" "version=1.1"
[ "$(managed_count hello)" = 2 ] && pass "the failed release left no instance" || fail "rollback count" "$(managed_count hello)"

# a failing nginx -t keeps the old routing
desired hello 1.3 2
sed -i 's/test: \[nginx, -t, -q/test: [\/bin\/false, -t, -q/' desired/fleet.yaml
run "$RAPTOR" apply desired --state-dir state --yes
expect_rc "a failing balancer test fails the apply" 1
run curl -s --max-time 5 "http://127.0.0.1:$port/"
expect_in "the old routing stays" "$out" "version=1.1"
[ "$(managed_count hello)" = 2 ] && pass "the new instances were taken back" || fail "after a failed route" "$(managed_count hello)"

# rename the app: afterwards only the new app runs, nginx serves it, an unmanaged program stays
bash "$SANDBOX" add-unmanaged "$fleet" 2 bystander /bin/sleep 1000 >/dev/null 2>&1
desired greeter 1.0 2
run "$RAPTOR" apply desired --state-dir state --yes
expect_in "rename converges" "$out" "Converged."
[ "$(managed_count hello)" = 0 ] && pass "no old-identity instance survives the rename" || fail "rogue procs" "$(managed_count hello)"
[ "$(managed_count greeter)" = 2 ] && pass "the renamed app runs" || fail "renamed app count"
run curl -s --max-time 5 "http://127.0.0.1:$port/"
expect_in "nginx serves the renamed app" "$out" "app=greeter"
run "$RAPTOR" status desired --state-dir state
expect_in "the unmanaged program is untouched" "$out" "RUNNING    bystander"

# rename proc, rename config, move the squad: each leaves only the new identity, serving
identity_names() { # the distinct app/config/proc@squad of the managed programs
	"$RAPTOR" status desired --state-dir state --json | python3 -c '
import json, sys
doc = json.load(sys.stdin)
print(" ".join(sorted({p["swarm"] for h in doc["hosts"] for p in h["programs"] if p["managed"]})))'
}
for change in "PROC=www" "CONFIG=prod" "SQUAD=front"; do
	export "${change?}"
	desired greeter 1.0 2
	run "$RAPTOR" apply desired --state-dir state --yes
	expect_in "$change converges" "$out" "Converged."
	want="greeter/${CONFIG:-test}/${PROC:-web}@${SQUAD:-web}"
	[ "$(identity_names)" = "$want" ] && pass "$change: only $want is left" ||
		fail "$change: identities left" "$(identity_names)"
	run curl -s --max-time 5 "http://127.0.0.1:$port/"
	expect_in "$change: nginx serves it" "$out" "proc=${PROC:-web}"
done
unset PROC CONFIG SQUAD
# three identity fields at once is no rename: the old swarm vanishes, and the guard says so
desired greeter 1.0 2
run "$RAPTOR" apply desired --state-dir state --yes
expect_rc "the mass-stop guard refuses a vanished swarm" 1
expect_in "the guard says what would go" "$err" "2 of 2 managed instances would stop because their swarms vanished"
run "$RAPTOR" apply desired --state-dir state --yes --allow-mass-stop
expect_in "--allow-mass-stop applies it" "$out" "Converged."
expect_in "--allow-mass-stop says it overrides the guard" "$err" "the mass-stop guard trips, and --allow-mass-stop overrides it: going ahead"

# kill -9 in the middle of an apply, then a rerun converges: no duplicate, no lost instance
desired greeter 2.0 3
python3 - desired/fleet.yaml <<'PY'
import sys
p = sys.argv[1]; s = open(p).read()
s = s.replace("http: /healthz", "http: /healthz, uptest: [[/bin/sh, -c, 'sleep 1', --]]")
s += "    rollout: { max_surge: 1 }\n"
open(p, "w").write(s)
PY
"$RAPTOR" apply desired --state-dir state --yes >killed.out 2>&1 &
victim=$!
sleep 2.5
kill -9 "$victim" 2>/dev/null
wait "$victim" 2>/dev/null
if grep -q "^start " killed.out && ! grep -q "^Applied" killed.out; then
	pass "raptor was killed in the middle of the apply"
else
	fail "the kill did not land mid-apply" "$(tail -3 killed.out)"
fi
run "$RAPTOR" apply desired --state-dir state --yes
expect_rc "the rerun after kill -9" 0
expect_in "the rerun converges" "$out" "Converged."
[ "$(managed_count greeter)" = 3 ] && pass "after kill -9 and a rerun: exactly 3 instances" ||
	fail "after kill -9" "$(managed_count greeter)"
"$RAPTOR" status desired --state-dir state --json | python3 -c '
import json, sys
doc = json.load(sys.stdin)
names = [p["name"] for h in doc["hosts"] for p in h["programs"] if p["managed"]]
bad = [n for n in names if not n.startswith("greeter-2.0-")]
print("ok" if len(names) == 3 and not bad else "leftovers: %s" % names)' >kill.check
[ "$(cat kill.check)" = ok ] && pass "no old or half-started instance is left" || fail "kill -9 leftovers" "$(cat kill.check)"
run "$RAPTOR" plan desired --state-dir state --detailed-exitcode
expect_rc "after the rerun nothing is pending" 0

# two applies at once: the second is refused by the lock
(flock -n state/lock -c 'sleep 3') &
holder=$!
sleep 0.5
run "$RAPTOR" apply desired --state-dir state --yes
wait "$holder"
expect_rc "a second apply is refused" 1
expect_in "the lock is named" "$err" "state lock"

# a PLANFILE is refused once the fleet changed
"$RAPTOR" plan desired --state-dir state --out plan.json >/dev/null
bash "$SANDBOX" add-unmanaged "$fleet" 1 newcomer /bin/sleep 1000 >/dev/null 2>&1
run "$RAPTOR" apply desired --state-dir state --yes plan.json
expect_rc "a stale PLANFILE" 1
expect_in "a stale PLANFILE is named" "$err" "was made from another live state"

# size 0 removes the instances and the pool
desired greeter 1.0 0
bash "$NGINX" unsite "$ngx" hello >/dev/null 2>&1
run "$RAPTOR" apply desired --state-dir state --yes
expect_in "size 0 converges" "$out" "Converged."
[ "$(managed_count greeter)" = 0 ] && pass "size 0 leaves no instance" || fail "size 0 count"
[ ! -e "$ngx/raptor.d/hello.conf" ] && pass "size 0 removes the pool file" || fail "the pool file stays"

# a pool file that nothing routes to any more is swept
desired greeter 1.0 1
printf 'upstream leftover {\n    server 127.0.0.9:9;\n}\n' >"$ngx/raptor.d/leftover.conf"
run "$RAPTOR" apply desired --state-dir state --yes
expect_in "a deploy next to a stray pool file converges" "$out" "Converged."
[ ! -e "$ngx/raptor.d/leftover.conf" ] && pass "the stray pool file is removed" || fail "the stray pool file stays"

# a worker rollout (the runbook's "Deploying Workers", by hand one host at a
# time): size 3, port none, max_surge 1, an uptest; each new worker RUNNING
# and through its uptest before an old one stops, and never fewer than 3
# workers RUNNING while it happens
workers() { # VERSION
	cat >>desired/fleet.yaml <<YAML
  - app: reports
    version: "$1"
    config: test
    proc: work
    squad: web
    size: 3
    port: none
    command: /usr/bin/python3 -u $SCRATCH/apps/hello.py --worker
    health:
      uptest: [[/bin/sh, -c, 'sleep 1; exec "\$0" "\$@"', $SCRATCH/apps/uptest_alive.sh]]
      timeout: 15s
    rollout: { max_surge: 1 }
YAML
}
workers_running() { # RUNNING workers over the fleet, from each supervisord
	local n=0 i
	for i in 1 2 3; do
		n=$((n + $(python3 "$REPO_ROOT/tests/integration/xmlrpc_call.py" --timeout 2 \
			"$(bash "$SANDBOX" url "$fleet" "$i")" supervisor.getAllProcessInfo |
			python3 -c 'import json,sys; print(sum(1 for p in json.load(sys.stdin) if "-work-" in p["name"] and p["statename"] == "RUNNING"))')))
	done
	echo "$n"
}
desired greeter 1.0 1
workers 1.0
run "$RAPTOR" apply desired --state-dir state --yes
expect_in "workers: three deployed" "$out" "Applied: 3 started, 0 stopped"
[ "$(workers_running)" = 3 ] && pass "workers: three RUNNING" || fail "workers: three RUNNING" "$(workers_running)"
desired greeter 1.0 1
workers 2.0
: >"$SCRATCH/samples"
# one sampler process asking the three supervisords about every 50 ms
python3 - "$SCRATCH/stop-sampling" "$SCRATCH/samples" $(for i in 1 2 3; do bash "$SANDBOX" url "$fleet" "$i"; done) <<'PY' &
import os, sys, time, xmlrpc.client
stop, out, urls = sys.argv[1], sys.argv[2], sys.argv[3:]
proxies = [xmlrpc.client.ServerProxy(u) for u in urls]
with open(out, "a") as f:
    while not os.path.exists(stop):
        n = sum(1 for p in proxies for i in p.supervisor.getAllProcessInfo()
                if "-work-" in i["name"] and i["statename"] == "RUNNING")
        f.write("%d\n" % n)
        f.flush()
        time.sleep(0.05)
PY
sampler=$!
jstart=$(wc -l <state/journal.jsonl)
run "$RAPTOR" apply desired --state-dir state --yes
touch "$SCRATCH/stop-sampling"
wait "$sampler"
rm -f "$SCRATCH/stop-sampling"
expect_rc "workers: the rollout" 0
expect_in "workers: three replaced" "$out" "Applied: 3 started, 3 stopped, 0 balancers reloaded. Converged."
min=$(sort -n "$SCRATCH/samples" | head -n 1)
nsamples=$(wc -l <"$SCRATCH/samples")
[ "$nsamples" -ge 10 ] && [ "$min" -ge 3 ] && pass "workers: at least 3 RUNNING in each of $nsamples samples" ||
	fail "workers: fewer than 3 RUNNING during the rollout" "min $min over $nsamples samples"
# the journal, in order, for the workers: start, check, stop, three times
seq=$(tail -n +"$((jstart + 1))" state/journal.jsonl | python3 -c '
import json, sys
ops = [json.loads(l) for l in sys.stdin]
print(" ".join(e["op"] for e in ops if (e.get("swarm") or "").startswith("reports/")))')
[ "$seq" = "start check stop start check stop start check stop" ] &&
	pass "workers: one at a time, each checked before an old one stops" || fail "workers: order" "$seq"
[ "$(workers_running)" = 3 ] && pass "workers: three RUNNING after" || fail "workers: three after" "$(workers_running)"

bash "$NGINX" down "$ngx" >/dev/null 2>&1
bash "$SANDBOX" down "$fleet" >/dev/null 2>&1
