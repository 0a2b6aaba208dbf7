# raptor plan against real supervisord hosts (tests/sandbox): a fresh deploy,
# a managed instance of the current release, an old one, an orphan of a
# renamed app, an unmanaged program holding a port, an unreachable host.

SANDBOX="$REPO_ROOT/tests/sandbox/sandbox.sh"
XCALL="$REPO_ROOT/tests/integration/xmlrpc_call.py"
fleet="$SCRATCH/fleet"
cd "$SCRATCH" || exit 1

if ! bash "$SANDBOX" up "$fleet" 3 >"$SCRATCH/sandbox.log" 2>&1; then
	fail "sandbox up" "$(tail -5 "$SCRATCH/sandbox.log")"
fi

mkdir -p desired state
cat >desired/fleet.yaml <<'YAML'
settings:
  timeouts: { connect: 1s, request: 2s }
  ports: { first: 5000, last: 5099 }
squads:
  web:
    hosts: [127.0.0.2, 127.0.0.3, 127.0.0.4]
balancers:
  edge: { type: nginx, include_dir: /tmp/raptor-plan-test-unused }
swarms:
  - app: hello2
    version: "1.0"
    config: test
    proc: web
    squad: web
    size: 3
    command: /bin/sleep 1000
    routing: { balancer: edge, pool: hello }
YAML

# put_managed HOST NAME META: a managed program placed as apply will place it
put_managed() {
	local url=http://$1:9001/RPC2 text
	text=$(printf ';raptor: %s\n[program:%s]\ncommand=/bin/sleep 1000\nautostart=true\nstartsecs=0\n' "$3" "$2")
	python3 "$XCALL" "$url" raptor.putProgram "\"$2\"" "$(python3 -c 'import json,sys; print(json.dumps(sys.argv[1]))' "$text")" >/dev/null &&
		python3 "$XCALL" "$url" supervisor.reloadConfig >/dev/null &&
		python3 "$XCALL" "$url" supervisor.addProcessGroup "\"$2\"" >/dev/null
}

run "$RAPTOR" plan desired --state-dir state
expect_rc "a fresh deploy plans" 0
expect_in "fresh: grouped by swarm" "$out" "hello2/test/web@web  (release "
expect_in "fresh: a start per host" "$out" "on 127.0.0.4 port 5000   new swarm"
expect_in "fresh: the pool" "$out" "~ edge/hello: +127.0.0.2:5000 +127.0.0.3:5000 +127.0.0.4:5000  (3 nodes after)"
expect_in "fresh: the summary" "$out" "Plan: 3 to start, 0 to stop, 1 pool to change."
run "$RAPTOR" plan desired --state-dir state --detailed-exitcode
expect_rc "--detailed-exitcode: changes pending" 2

# the release hash of the desired swarm, from the plan itself
release=$("$RAPTOR" plan desired --state-dir state --json | python3 -c 'import json,sys; print(json.load(sys.stdin)["actions"][0]["release"])')
put_managed 127.0.0.2 "hello2-1.0-test-$release-web-5000" \
	"app=hello2 version=1.0 config=test proc=web squad=web release=$release port=5000 slot= pool=edge/hello"
put_managed 127.0.0.3 "hello-0.9-test-0000aaaa-web-5000" \
	"app=hello version=0.9 config=test proc=web squad=web release=0000aaaa port=5000 slot= pool=edge/hello"
bash "$SANDBOX" add-unmanaged "$fleet" 3 legacy-1-test-0badf00d-web-5000 /bin/sleep 1000 >/dev/null 2>&1

run "$RAPTOR" plan desired --state-dir state
expect_rc "a plan with every class" 0
expect_in "the current instance is kept: two starts" "$out" "Plan: 2 to start, 1 to stop, 1 pool to change."
expect_in "the rename's orphan is torn down, named" "$out" "- hello-0.9-test-0000aaaa-web-5000 on 127.0.0.3 port 5000   orphan: app changed (likely renamed to hello2/test/web@web)"
expect_in "the unmanaged program's port is skipped" "$out" "on 127.0.0.4 port 5001   scale up"
expect_in "unmanaged programs are called out" "$out" "127.0.0.4: legacy-1-test-0badf00d-web-5000"
expect_not_in "the unmanaged program is never stopped" "$out" "- legacy"
expect_in "the pool after" "$out" "+127.0.0.3:5001 +127.0.0.4:5001"

run "$RAPTOR" plan desired --state-dir state --json --out plan.json
expect_rc "plan --json --out" 0
json_check() {
	python3 - "$1" "$2" <<'PY'
import json, sys
doc = json.load(open(sys.argv[1]))
print(eval(sys.argv[2], {"doc": doc}))
PY
}
printf '%s' "$out" >stdout.json
[ "$(json_check stdout.json 'doc["summary"]')" = "{'start': 2, 'stop': 1, 'route': 1, 'errors': 0}" ] &&
	pass "json summary" || fail "json summary" "$(json_check stdout.json 'doc["summary"]')"
[ "$(json_check stdout.json '[a["reason"] for a in doc["actions"] if a["op"] == "stop"]')" = "['orphan: app changed']" ] &&
	pass "json stop reason" || fail "json stop reason"
[ "$(json_check stdout.json 'doc["unmanaged"]')" = "[{'host': '127.0.0.4', 'program': 'legacy-1-test-0badf00d-web-5000'}]" ] &&
	pass "json unmanaged" || fail "json unmanaged"
[ "$(json_check plan.json 'len(doc["fingerprint"]) == 16 and doc["summary"]["start"] == 2')" = True ] &&
	pass "the PLANFILE holds the plan and a fingerprint" || fail "the PLANFILE"
ls .plan.json.* >/dev/null 2>&1 && fail "a temporary plan file was left" || pass "no temporary plan file left"

# an unreachable host: its instances are not counted, replacements go elsewhere
bash "$SANDBOX" stop-host "$fleet" 1 >/dev/null 2>&1
run "$RAPTOR" plan desired --state-dir state
expect_rc "a plan with an unreachable host" 0
expect_in "the unreachable host is called out" "$out" "127.0.0.2: connection refused"
expect_in "its instance is replaced elsewhere" "$out" "replacement for an unreachable host"
expect_in "...so three starts" "$out" "Plan: 3 to start, 1 to stop"

# on_unreachable: wait plans nothing for the swarm and says why
sed -i 's/    hosts: \[127.0.0.2, 127.0.0.3, 127.0.0.4\]/    hosts: [127.0.0.2, 127.0.0.3, 127.0.0.4]\n    on_unreachable: wait/' desired/fleet.yaml
run "$RAPTOR" plan desired --state-dir state
expect_in "wait says why" "$out" "waiting hello2/test/web@web: 1 host of squad web unreachable and on_unreachable is wait"
expect_in "wait still tears down the orphan" "$out" "Plan: 0 to start, 1 to stop"

# a port range that cannot hold the swarm: a clear error, exit 1
bash "$SANDBOX" start-host "$fleet" 1 >/dev/null 2>&1
sed -i 's/  ports: { first: 5000, last: 5099 }/  ports: { first: 5000, last: 5000 }/' desired/fleet.yaml
run "$RAPTOR" plan desired --state-dir state
expect_rc "an exhausted port range is an error" 1
expect_in "the exhausted range is named" "$out" "port range 5000-5000 is exhausted on every reachable host of squad web"

bash "$SANDBOX" down "$fleet" >/dev/null 2>&1
