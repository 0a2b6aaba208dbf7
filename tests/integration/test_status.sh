# raptor status against real supervisord hosts on 127.0.0.2-5 (tests/sandbox):
# managed and unmanaged programs, a host without the plugin, a stopped host,
# a frozen host, basic auth, and a host known only from the state record.

SANDBOX="$REPO_ROOT/tests/sandbox/sandbox.sh"
XCALL="$REPO_ROOT/tests/integration/xmlrpc_call.py"
fleet="$SCRATCH/fleet"
authfleet="$SCRATCH/authfleet"
cd "$SCRATCH" || exit 1

ms_now() { date +%s%3N; }

if ! bash "$SANDBOX" up "$fleet" 4 --no-plugin 3 >"$SCRATCH/sandbox.log" 2>&1; then
	fail "sandbox up" "$(tail -5 "$SCRATCH/sandbox.log")"
fi

mkdir -p desired state
cat >desired/fleet.yaml <<'YAML'
settings:
  timeouts: { connect: 1s, request: 2s }
squads:
  web:
    hosts: [127.0.0.2, 127.0.0.3, 127.0.0.4]
  batch:
    hosts: [127.0.0.5]
swarms:
  - app: hello
    version: "1.0"
    config: test
    proc: web
    squad: web
    size: 1
    command: /bin/sleep 1000
YAML

# a managed program, put there the way apply will: the plugin's file, then supervisord's calls
managed=hello-1.0-test-abcd1234-web-5001
prog=$(printf ';raptor: app=hello version=1.0 config=test proc=web squad=web release=abcd1234 port=5001 slot=\n[program:%s]\ncommand=/bin/sleep 1000\nautostart=true\nstartsecs=0\n' "$managed")
python3 "$XCALL" http://127.0.0.2:9001/RPC2 raptor.putProgram "\"$managed\"" "$(python3 -c 'import json,sys; print(json.dumps(sys.argv[1]))' "$prog")" >/dev/null
python3 "$XCALL" http://127.0.0.2:9001/RPC2 supervisor.reloadConfig >/dev/null
python3 "$XCALL" http://127.0.0.2:9001/RPC2 supervisor.addProcessGroup "\"$managed\"" >/dev/null
# a program raptor did not create, with a Velociraptor-style name
bash "$SANDBOX" add-unmanaged "$fleet" 2 legacy-2.1-prod-0badf00d-web-7001 /bin/sleep 1000 >/dev/null 2>&1
sleep 1

run "$RAPTOR" status desired --state-dir state
expect_rc "status with a host lacking the plugin exits 3" 3
expect_in "squads are headed" "$out" "squad web"
expect_in "the managed program, classed by the planner" "$out" "$managed  managed    hello/test/web@web  port 5001  (stale)"
expect_in "the unmanaged program with its port" "$out" "legacy-2.1-prod-0badf00d-web-7001  unmanaged  port 7001"
expect_in "the host without the plugin" "$out" "127.0.0.4  UNREACHABLE  the raptor plugin is not installed on this host"
expect_in "the other hosts are still listed" "$out" "127.0.0.5  up, 0 programs"
expect_in "the summary line" "$out" "4 hosts: 3 answered, 1 unreachable; 1 managed and 1 unmanaged program"

run "$RAPTOR" status desired --state-dir state --json
expect_rc "status --json exits 3 too" 3
run_json() {
	python3 - "$out" "$1" <<'PY'
import json, sys
doc = json.loads(sys.argv[1])
H = lambda name: next(h for h in doc["hosts"] if h["name"] == name)
print(eval(sys.argv[2], {"doc": doc, "H": H}))
PY
}
[ "$(run_json 'doc["format_version"]')" = 1 ] && pass "json format_version" || fail "json format_version"
[ "$(run_json '[(h["name"], h["squad"], h["reachable"]) for h in doc["hosts"]]')" = \
	"[('127.0.0.5', 'batch', True), ('127.0.0.2', 'web', True), ('127.0.0.3', 'web', True), ('127.0.0.4', 'web', False)]" ] &&
	pass "json hosts, squad by squad" || fail "json hosts" "$(run_json '[(h["name"], h["reachable"]) for h in doc["hosts"]]')"
[ "$(run_json '[(p["managed"], p["swarm"], p["class"], p["port"], p["state"]) for p in H("127.0.0.2")["programs"]]')" = \
	"[(True, 'hello/test/web@web', 'stale', 5001, 'RUNNING')]" ] && pass "json managed program" ||
	fail "json managed program" "$(run_json 'H("127.0.0.2")["programs"]')"
[ "$(run_json '[(p["managed"], p["class"], p["port"]) for p in H("127.0.0.3")["programs"]]')" = \
	"[(False, 'unmanaged', 7001)]" ] && pass "json unmanaged program" || fail "json unmanaged program"
[ "$(run_json '9001 in H("127.0.0.2")["listening_ports"]')" = True ] && pass "json listening ports" ||
	fail "json listening ports"
[ "$(run_json 'H("127.0.0.4")["programs"] == [] and "plugin" in H("127.0.0.4")["error"]')" = True ] &&
	pass "json unreachable host" || fail "json unreachable host"
[ "$(run_json 'doc["source"]["commit"]')" = None ] && pass "json source" || fail "json source"

run "$RAPTOR" status desired --state-dir state --squad batch
expect_rc "--squad batch: every host answered" 0
expect_not_in "--squad leaves other squads out" "$out" "squad web"

# a stopped host: refused at once
bash "$SANDBOX" stop-host "$fleet" 2 >/dev/null 2>&1
t0=$(ms_now)
run "$RAPTOR" status desired --state-dir state
t1=$(ms_now)
expect_rc "a stopped host" 3
expect_in "the stopped host's reason" "$out" "127.0.0.3  UNREACHABLE  connection refused"
[ $((t1 - t0)) -lt 2000 ] && pass "a stopped host costs less than connect timeout + 1s ($((t1 - t0)) ms)" ||
	fail "a stopped host took $((t1 - t0)) ms"
bash "$SANDBOX" start-host "$fleet" 2 >/dev/null 2>&1

# a frozen host: connects, never answers; the request timeout holds
bash "$SANDBOX" freeze-host "$fleet" 1 >/dev/null 2>&1
t0=$(ms_now)
run "$RAPTOR" status desired --state-dir state
t1=$(ms_now)
bash "$SANDBOX" thaw-host "$fleet" 1 >/dev/null 2>&1
expect_rc "a frozen host" 3
expect_in "the frozen host's reason" "$out" "127.0.0.2  UNREACHABLE  connected, but no answer within 2s"
expect_in "the others answer meanwhile" "$out" "127.0.0.5  up"
[ $((t1 - t0)) -lt 3000 ] && pass "a frozen host costs at most the request timeout + 1s ($((t1 - t0)) ms)" ||
	fail "a frozen host took $((t1 - t0)) ms"

# a host known only from the state record
cat >state/hosts.json <<'JSON'
{"format_version": 1, "hosts": [{"name": "retired", "address": "127.0.0.5", "url": "http://127.0.0.5:9001/RPC2"}]}
JSON
mkdir -p web-only
sed '/batch:/,/127.0.0.5/d' desired/fleet.yaml >web-only/fleet.yaml
run "$RAPTOR" status web-only --state-dir state
expect_in "a recorded host in no squad is shown" "$out" "in no squad (from the state record)"
expect_in "...and asked" "$out" "retired  up"
echo '{"format_version": 1, "hosts": [{"name": 3}]}' >state/hosts.json
run "$RAPTOR" status web-only --state-dir state
expect_rc "a malformed state record" 1
expect_in "the malformed record is named" "$err" "hosts.json: host #1 lacks a name or url"
rm state/hosts.json

# an invalid desired state stops status before any host is asked
printf 'squads:\n  web:\n    hosts: [a]\n    szie: 1\n' >bad.yaml && mkdir -p bad && mv bad.yaml bad/
run "$RAPTOR" status bad
expect_rc "status on an invalid desired state" 1
expect_in "status shows the desired-state errors" "$err" "bad.yaml:4:5: unknown key 'szie'"

# basic auth: right, wrong and missing credentials
if bash "$SANDBOX" up "$authfleet" 1 --auth raptor:hunter2 --first 6 >"$SCRATCH/auth.log" 2>&1; then
	mkdir -p authd
	cat >authd/fleet.yaml <<'YAML'
settings:
  supervisor: { credentials: env:RAPTOR_TEST_AUTH }
  timeouts: { connect: 1s, request: 2s }
squads:
  secure:
    hosts: [127.0.0.7]
YAML
	RAPTOR_TEST_AUTH=raptor:hunter2 run "$RAPTOR" status authd --state-dir state
	expect_rc "the right password" 0
	RAPTOR_TEST_AUTH=raptor:wrong run "$RAPTOR" status authd --state-dir state
	expect_rc "a wrong password" 3
	expect_in "a wrong password is named" "$out" "HTTP 401: authentication failed"
	expect_not_in "no password in the output" "$out$err" "wrong"
	run env -u RAPTOR_TEST_AUTH "$RAPTOR" status authd --state-dir state
	expect_rc "missing credentials stop the command" 1
	expect_in "missing credentials named" "$err" "the environment variable RAPTOR_TEST_AUTH is not set"
else
	fail "sandbox up with auth" "$(tail -5 "$SCRATCH/auth.log")"
fi

bash "$SANDBOX" down "$authfleet" >/dev/null 2>&1
bash "$SANDBOX" down "$fleet" >/dev/null 2>&1
