# Migrating from Velociraptor with `adopt: velociraptor`, end to end: two real
# supervisord hosts (127.0.0.11-12, apart from the other tests) each running a
# program Velociraptor deployed — six-field name, its file in another include
# directory (unmanaged.d) — serving through a real nginx. raptor replaces them
# wave by wave while a request loop runs, stops them, moves their files aside
# and journals the move; a look-alike of another config and a plain program
# are never touched.

SANDBOX="$REPO_ROOT/tests/sandbox/sandbox.sh"
NGINX="$REPO_ROOT/tests/sandbox/nginx.sh"
XMLRPC="$REPO_ROOT/tests/integration/xmlrpc_call.py"
ad_fleet="$SCRATCH/fleet"
ad_ngx="$SCRATCH/nginx"
cd "$SCRATCH" || exit 1
mkdir -p apps state desired
cp "$REPO_ROOT"/examples/apps/* apps/

ad_old_trap=$(trap -p EXIT)
trap 'bash "$NGINX" down "$ad_ngx" >/dev/null 2>&1; bash "$SANDBOX" down "$ad_fleet" >/dev/null 2>&1' EXIT
bash "$SANDBOX" up "$ad_fleet" 2 --first 10 >"$SCRATCH/sandbox.log" 2>&1 || fail "sandbox up" "$(tail -5 "$SCRATCH/sandbox.log")"
bash "$NGINX" up "$ad_ngx" >"$SCRATCH/nginx.log" 2>&1 || fail "nginx up" "$(tail -5 "$SCRATCH/nginx.log")"
ad_port=$(cat "$ad_ngx/port" 2>/dev/null)

# what Velociraptor left: hello 0.9 prod web on both hosts, port 5700
vr=hello-0.9-prod-0badf00d-web-5700
# (with --first 10 the hosts are host10 on 127.0.0.11 and host11 on 127.0.0.12)
rc=0 out='' err=''
for i in 10 11; do
	bash "$SANDBOX" add-unmanaged "$ad_fleet" "$i" "$vr" /usr/bin/env VERSION=0.9 \
		/usr/bin/python3 -u "$SCRATCH/apps/hello.py" --port 5700 --host "127.0.0.$((1 + i))" >/dev/null 2>&1
done
# a look-alike of another config, and a program started by hand
bash "$SANDBOX" add-unmanaged "$ad_fleet" 10 hello-0.9-europe-0badf00d-web-5701 /bin/sleep 1000 >/dev/null 2>&1
bash "$SANDBOX" add-unmanaged "$ad_fleet" 11 bystander /bin/sleep 1000 >/dev/null 2>&1
pid_of() { # HOST-INDEX NAME
	python3 "$XMLRPC" "$(bash "$SANDBOX" url "$ad_fleet" "$1")" supervisor.getProcessInfo "\"$2\"" |
		python3 -c 'import json,sys; d=json.load(sys.stdin); print(d["statename"], d["pid"])'
}
lookalike=$(pid_of 10 hello-0.9-europe-0badf00d-web-5701)
bystander=$(pid_of 11 bystander)

# the pool the VR programs served from, as an operator would have had it
mkdir -p "$ad_ngx/raptor.d"
printf 'upstream hello {\n    server 127.0.0.11:5700;\n    server 127.0.0.12:5700;\n}\n' >"$ad_ngx/raptor.d/hello.conf"
bash "$NGINX" site "$ad_ngx" hello >/dev/null 2>&1
bash "$NGINX" wait-for "$ad_ngx" / "version=0.9" 10 >/dev/null 2>&1 &&
	pass "adopt: Velociraptor's programs serve through nginx" || fail "adopt: VR programs serve"

cat >desired/fleet.yaml <<YAML
settings:
  timeouts: { connect: 1s, request: 5s }
  ports: { first: 5700, last: 5799 }
squads:
  web:
    hosts: [127.0.0.11, 127.0.0.12]
balancers:
  edge:
    type: nginx
    include_dir: $ad_ngx/raptor.d
    test: [nginx, -t, -q, -c, $ad_ngx/nginx.conf, -p, $ad_ngx/]
    reload: [nginx, -s, reload, -c, $ad_ngx/nginx.conf, -p, $ad_ngx/]
    drain: 300ms
swarms:
  - app: hello
    version: "1.0"
    config: prod
    proc: web
    squad: web
    size: 2
    command: /usr/bin/python3 -u $SCRATCH/apps/hello.py --port \${PORT}
    routing: { balancer: edge, pool: hello }
    health: { tcp: true, http: /healthz, timeout: 15s }
    rollout: { max_surge: 1 }
    adopt: velociraptor
YAML

run "$RAPTOR" status desired --state-dir state --json
expect_in "adopt: status shows the VR program with its port" "$out" "\"name\": \"$vr\""
run "$RAPTOR" plan desired --state-dir state
expect_in "adopt: the plan replaces them" "$out" "adopted from Velociraptor: replaced by a managed instance"
expect_in "adopt: ... on a port they do not hold" "$out" "port 5702"
expect_not_in "adopt: the look-alike of another config is not adopted" "$out" "- hello-0.9-europe"

# the migration, with a request loop through nginx
: >"$SCRATCH/requests"
(while [ ! -e "$SCRATCH/stop-requests" ]; do
	if curl -s -o /dev/null -w '%{http_code}\n' --max-time 2 "http://127.0.0.1:$ad_port/" >>"$SCRATCH/requests"; then :; else echo fail >>"$SCRATCH/requests"; fi
	sleep 0.05
done) &
ad_loop=$!
jstart=0
[ -f state/journal.jsonl ] && jstart=$(wc -l <state/journal.jsonl)
run "$RAPTOR" apply desired --state-dir state --yes
touch "$SCRATCH/stop-requests"
wait "$ad_loop"
expect_rc "adopt: the migration" 0
expect_in "adopt: two started, two stopped" "$out" "Applied: 2 started, 2 stopped"
total=$(wc -l <"$SCRATCH/requests")
bad=$(grep -vc '^200$' "$SCRATCH/requests")
[ "$total" -ge 20 ] && [ "$bad" = 0 ] && pass "adopt: $total requests during the migration, none failed" ||
	fail "adopt: requests failed during the migration" "$bad of $total"
for i in 10 11; do
	h=$ad_fleet/host$i
	[ -e "$h/unmanaged.d/$vr.conf.raptor-retired" ] && [ ! -e "$h/unmanaged.d/$vr.conf" ] &&
		pass "adopt: host$i's VR file moved aside, not deleted" || fail "adopt: host$i's VR file" "$(ls "$h/unmanaged.d")"
done
moved=$(tail -n +"$((jstart + 1))" state/journal.jsonl | grep -c "\"program\":\"$vr\".*\"detail\":\"its file moved aside to ")
[ "$moved" = 2 ] && pass "adopt: the journal records both moves" || fail "adopt: journal moves" "$moved"
run "$RAPTOR" status desired --state-dir state --json
expect_not_in "adopt: no VR program left" "$out" "\"name\": \"$vr\""
bash "$NGINX" wait-for "$ad_ngx" / "version=1.0" 5 >/dev/null 2>&1 && pass "adopt: nginx serves the managed release" || fail "adopt: nginx serves 1.0"
[ "$(pid_of 10 hello-0.9-europe-0badf00d-web-5701)" = "$lookalike" ] && pass "adopt: the look-alike untouched" || fail "adopt: look-alike touched"
[ "$(pid_of 11 bystander)" = "$bystander" ] && pass "adopt: the bystander untouched" || fail "adopt: bystander touched"
python3 "$XMLRPC" "$(bash "$SANDBOX" url "$ad_fleet" 10)" supervisor.reloadConfig >"$SCRATCH/reload.json"
expect_in "adopt: a reloadConfig does not bring the VR program back" "$(cat "$SCRATCH/reload.json")" "[[[], [], []]]"
run "$RAPTOR" apply desired --state-dir state --yes
expect_in "adopt: afterwards nothing to do" "$out" "Nothing to do"

bash "$NGINX" unsite "$ad_ngx" hello >/dev/null 2>&1
bash "$NGINX" down "$ad_ngx" >/dev/null 2>&1
bash "$SANDBOX" down "$ad_fleet" >/dev/null 2>&1
if [ -n "$ad_old_trap" ]; then eval "$ad_old_trap"; else trap - EXIT; fi
