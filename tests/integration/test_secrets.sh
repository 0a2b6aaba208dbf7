# Secret hygiene, end to end: supervisord's password (and its Basic
# Authorization value) appears in no output of any command — right or wrong
# password, unreachable host, -v — nor in any file raptor writes: the
# journal, last.json, hosts.json, the metrics file, a plan file, the program
# files on the hosts; nor in the environment of the commands raptor runs
# (uptests, the balancer's test and reload), whose output can end up in a
# message. Real supervisord hosts with basic auth on 127.0.0.27-28 (the
# credentials as env: and file: references), an unreachable one on
# 127.0.0.35, the demo app on ports 5950-5999.

SANDBOX="$REPO_ROOT/tests/sandbox/sandbox.sh"
XMLRPC="$REPO_ROOT/tests/integration/xmlrpc_call.py"
sc_fleet="$SCRATCH/fleet"
sc_user=sctuser
sc_pw=Sup3r-S3cret.pw-9f
sc_wrong=Wr0ng-S3cret.pw-4k
sc_b64=$(printf '%s:%s' "$sc_user" "$sc_pw" | base64)
sc_wb64=$(printf '%s:%s' "$sc_user" "$sc_wrong" | base64)
rc=0 out='' err=''
cd "$SCRATCH" || exit 1
mkdir -p apps state envdump pools outputs
cp "$REPO_ROOT"/examples/apps/* apps/

sc_old_trap=$(trap -p EXIT)
trap 'bash "$SANDBOX" down "$sc_fleet" >/dev/null 2>&1' EXIT
# hosts 26, 27 are 127.0.0.27, 127.0.0.28
bash "$SANDBOX" up "$sc_fleet" 2 --first 26 --auth "$sc_user:$sc_pw" >"$SCRATCH/sandbox.log" 2>&1 ||
	fail "secrets: sandbox up with --auth" "$(tail -5 "$SCRATCH/sandbox.log")"

# the credentials file, as an operator keeps it
(umask 077 && printf '%s:%s\n' "$sc_user" "$sc_pw" >"$SCRATCH/supervisor.auth")
printf '%s:%s\n' "$sc_user" "$sc_wrong" >"$SCRATCH/wrong.auth"
chmod 600 "$SCRATCH/wrong.auth"

# sc_desired DIR VERSION CREDENTIALS [EXTRA-SQUAD-HOST]
sc_desired() {
	mkdir -p "$1"
	cat >"$1/fleet.yaml" <<YAML
settings:
  supervisor: { credentials: "$3" }
  timeouts: { connect: 1s, request: 3s }
  ports: { first: 5950, last: 5999 }
squads:
  web:
    hosts: [127.0.0.27, 127.0.0.28]
${4:+  gone:
    hosts: [$4]}
balancers:
  edge:
    type: nginx
    include_dir: $SCRATCH/pools
    test: [/bin/sh, -c, 'env >$SCRATCH/envdump/balancer-test.env']
    reload: [/bin/sh, -c, 'env >$SCRATCH/envdump/balancer-reload.env']
    drain: 50ms
swarms:
  - app: hello
    version: "$2"
    config: sec
    proc: web
    squad: web
    size: 2
    command: /usr/bin/python3 -u $SCRATCH/apps/hello.py --port \${PORT}
    routing: { balancer: edge, pool: sec_hello }
    health: { tcp: true, http: /healthz, timeout: 10s, uptest: [[/bin/sh, -c, 'env >\$0-\$2.env', $SCRATCH/envdump/uptest]] }
YAML
}

# sc_leaks TEXT: which secrets TEXT holds, if any
sc_leaks() {
	local s found=""
	for s in "$sc_pw" "$sc_wrong" "$sc_b64" "$sc_wb64"; do
		case "$1" in *"$s"*) found="$found $s" ;; esac
	done
	echo "$found"
}
# sc_run NAME CMD...: run, keep stdout and stderr in outputs/NAME.*, and
# check that neither holds a secret
sc_n=0
sc_run() {
	local name=$1 l
	shift
	run "$@"
	sc_n=$((sc_n + 1))
	printf '%s\n' "$out" >"outputs/$sc_n.out"
	printf '%s\n' "$err" >"outputs/$sc_n.err"
	l=$(sc_leaks "$out$err")
	[ -z "$l" ] && pass "$name: no secret in stdout or stderr" || fail "$name: a secret is shown:$l"
}
# sc_file_clean NAME FILE: FILE exists and holds no secret
sc_file_clean() {
	local l
	if [ ! -s "$2" ]; then
		fail "$1: $2 is missing or empty"
		return
	fi
	l=$(sc_leaks "$(cat "$2")")
	[ -z "$l" ] && pass "$1: no secret in $(basename "$2")" || fail "$1: $(basename "$2") holds a secret:$l"
}
sc_hosts_programs() { # the managed programs on both hosts, through the right password
	local i
	for i in 26 27; do
		python3 "$XMLRPC" --auth "$sc_user:$sc_pw" "$(bash "$SANDBOX" url "$sc_fleet" "$i")" raptor.listPrograms 2>/dev/null
	done
}

export RAPTOR_SUPERVISOR_AUTH="$sc_user:$sc_pw"
sc_desired desired 1.0 env:RAPTOR_SUPERVISOR_AUTH
sc_desired filed 1.0 "file:$SCRATCH/supervisor.auth"

# --- the right password: every command -----------------------------------------
sc_run "validate" "$RAPTOR" validate desired -v
expect_rc "validate" 0
sc_run "status" "$RAPTOR" status desired --state-dir state
expect_rc "status with the password" 0
expect_in "status: both hosts answer" "$out" "2 hosts: 2 answered, 0 unreachable"
sc_run "status --json" "$RAPTOR" status desired --state-dir state --json -v
expect_rc "status --json" 0
sc_run "plan" "$RAPTOR" plan desired --state-dir state -v
expect_rc "plan" 0
expect_in "plan: two to start" "$out" "Plan: 2 to start"
sc_run "plan --json" "$RAPTOR" plan desired --state-dir state --json
expect_rc "plan --json" 0
sc_run "plan --out" "$RAPTOR" plan desired --state-dir state --out "$SCRATCH/plan.json" -v
expect_rc "plan --out" 0
sc_file_clean "plan --out" "$SCRATCH/plan.json"
sc_run "apply PLANFILE" "$RAPTOR" apply desired --state-dir state --yes -v "$SCRATCH/plan.json"
expect_rc "apply PLANFILE" 0
expect_in "apply PLANFILE: converges" "$out" "Applied: 2 started, 0 stopped, 1 balancer reloaded. Converged."
sc_desired desired 2.0 env:RAPTOR_SUPERVISOR_AUTH
sc_run "apply -v" "$RAPTOR" apply desired --state-dir state --yes -v
expect_rc "apply -v" 0
expect_in "apply -v: a rollout" "$out" "Applied: 2 started, 2 stopped"
sc_run "reconcile --once" "$RAPTOR" reconcile --once desired --state-dir state --metrics-file "$SCRATCH/metrics.prom" -v
expect_rc "reconcile --once, nothing to do" 0
sc_desired desired 3.0 env:RAPTOR_SUPERVISOR_AUTH
sc_run "reconcile --once (a change)" "$RAPTOR" reconcile --once desired --state-dir state --metrics-file "$SCRATCH/metrics.prom" -v
expect_rc "reconcile --once, a change" 0
expect_in "reconcile --once: converged" "$out" "Converged."
sc_file_clean "reconcile" "$SCRATCH/metrics.prom"

# the file: form, mode 0600
sc_desired filed 4.0 "file:$SCRATCH/supervisor.auth"
sc_run "file: status" env -u RAPTOR_SUPERVISOR_AUTH "$RAPTOR" status filed --state-dir state -v
expect_rc "file: status" 0
sc_run "file: plan --out" env -u RAPTOR_SUPERVISOR_AUTH "$RAPTOR" plan filed --state-dir state --out "$SCRATCH/plan-file.json"
expect_rc "file: plan --out" 0
sc_file_clean "file: plan --out" "$SCRATCH/plan-file.json"
sc_run "file: apply" env -u RAPTOR_SUPERVISOR_AUTH "$RAPTOR" apply filed --state-dir state --yes -v
expect_rc "file: apply" 0
expect_in "file: apply converges" "$out" "Converged."
sc_run "file: reconcile" env -u RAPTOR_SUPERVISOR_AUTH "$RAPTOR" reconcile --once filed --state-dir state --metrics-file "$SCRATCH/metrics-file.prom"
expect_rc "file: reconcile" 0
sc_file_clean "file: reconcile" "$SCRATCH/metrics-file.prom"

# --- a wrong password -------------------------------------------------------------
sc_desired desired 5.0 env:RAPTOR_SUPERVISOR_AUTH
for sc_cmd in "status" "status --json" "plan" "plan --json" "apply --yes" "reconcile --once"; do
	sc_extra=()
	[ "$sc_cmd" = "reconcile --once" ] && sc_extra=(--metrics-file "$SCRATCH/metrics-wrong.prom")
	# shellcheck disable=SC2086
	RAPTOR_SUPERVISOR_AUTH="$sc_user:$sc_wrong" sc_run "wrong password: $sc_cmd -v" \
		"$RAPTOR" $sc_cmd desired --state-dir state -v "${sc_extra[@]}"
	case "$sc_cmd" in
	status*) expect_rc "wrong password: $sc_cmd" 3 ;;
	apply* | reconcile*) expect_rc "wrong password: $sc_cmd" 1 ;;
	esac
	expect_in "wrong password: $sc_cmd: the 401 is named" "$out$err" "HTTP 401: authentication failed"
done
sc_run "wrong password: plan --out" env RAPTOR_SUPERVISOR_AUTH="$sc_user:$sc_wrong" "$RAPTOR" plan desired --state-dir state --out "$SCRATCH/plan-wrong.json"
[ -s "$SCRATCH/plan-wrong.json" ] && sc_file_clean "wrong password: plan --out" "$SCRATCH/plan-wrong.json"
sc_file_clean "wrong password: reconcile" "$SCRATCH/metrics-wrong.prom"
sc_desired wrongfile 5.0 "file:$SCRATCH/wrong.auth"
sc_run "wrong password (file:): status" "$RAPTOR" status wrongfile --state-dir state -v
expect_rc "wrong password (file:): status" 3
sc_run "wrong password (file:): apply" "$RAPTOR" apply wrongfile --state-dir state --yes -v
expect_rc "wrong password (file:): apply" 1
[ "$(sc_hosts_programs | grep -c 'hello-5.0-')" = 0 ] && pass "wrong password: nothing was started" || fail "wrong password: programs started"

# --- an unreachable host beside the others ------------------------------------------
sc_desired unreach 4.0 env:RAPTOR_SUPERVISOR_AUTH 127.0.0.35
sc_run "unreachable: status -v" "$RAPTOR" status unreach --state-dir state -v
expect_rc "unreachable: status" 3
expect_in "unreachable: named" "$out" "127.0.0.35  UNREACHABLE  connection refused"
sc_run "unreachable: status --json" "$RAPTOR" status unreach --state-dir state --json
sc_run "unreachable: plan --out" "$RAPTOR" plan unreach --state-dir state -v --out "$SCRATCH/plan-unreach.json"
sc_file_clean "unreachable: plan --out" "$SCRATCH/plan-unreach.json"
sc_run "unreachable: apply" "$RAPTOR" apply unreach --state-dir state --yes -v
expect_rc "unreachable: apply has nothing to do" 0
sc_run "unreachable: reconcile" "$RAPTOR" reconcile --once unreach --state-dir state -v --metrics-file "$SCRATCH/metrics-unreach.prom"
sc_file_clean "unreachable: reconcile" "$SCRATCH/metrics-unreach.prom"

# --- credentials that cannot be used: no echo of what was read ------------------------
sc_run "no colon" env RAPTOR_SUPERVISOR_AUTH="$sc_pw" "$RAPTOR" status desired --state-dir state -v
expect_rc "credentials without a colon" 1
expect_in "no colon: said" "$err" "do not have the form user:password"
cp "$SCRATCH/supervisor.auth" "$SCRATCH/open.auth"
chmod 644 "$SCRATCH/open.auth"
sc_desired opend 4.0 "file:$SCRATCH/open.auth"
sc_run "mode 0644" "$RAPTOR" status opend --state-dir state -v
expect_rc "a credentials file readable by others" 1
expect_in "mode 0644: said" "$err" "readable by group or others (mode 0644)"
sc_desired missingd 4.0 "file:$SCRATCH/missing.auth"
sc_run "missing file" "$RAPTOR" apply missingd --state-dir state --yes
expect_rc "a missing credentials file" 1
sc_run "unset variable" env -u RAPTOR_SUPERVISOR_AUTH "$RAPTOR" plan desired --state-dir state
expect_rc "an unset credentials variable" 1
expect_in "unset variable: said" "$err" "RAPTOR_SUPERVISOR_AUTH is not set"

# --- a secret written into the desired state is refused without being repeated ---------
sc_desired literal 4.0 "$sc_user:$sc_pw"
sc_run "literal credentials: validate" "$RAPTOR" validate literal
expect_rc "literal credentials are refused" 1
expect_in "literal credentials: the rule" "$err" "credentials must be a reference"
sc_run "literal credentials: apply" "$RAPTOR" apply literal --state-dir state --yes
expect_rc "literal credentials: apply refused" 1
mkdir -p urld
sed "s|hosts: \[127.0.0.27, 127.0.0.28\]|hosts:\n      - { name: 127.0.0.27, supervisor: \"http://$sc_user:$sc_pw@127.0.0.27:9001/RPC2\" }\n      - 127.0.0.28|" \
	desired/fleet.yaml >urld/fleet.yaml
sc_run "URL with user:password: validate" "$RAPTOR" validate urld
expect_rc "a URL with user:password is refused" 1
expect_in "URL with user:password: the rule" "$err" "credentials"
sc_run "URL with user:password: status" "$RAPTOR" status urld --state-dir state -v
expect_rc "URL with user:password: status refused" 1
sc_run "URL with user:password: plan --json" "$RAPTOR" plan urld --state-dir state --json
sc_run "URL with user:password: apply" "$RAPTOR" apply urld --state-dir state --yes -v
expect_rc "URL with user:password: apply refused" 1
# a desired-state repository URL with a password in it (unreachable)
sc_run "repo URL with user:password" "$RAPTOR" reconcile --once --repo "http://$sc_user:$sc_pw@127.0.0.35:9/desired.git" --state-dir state -v
expect_rc "repo URL: the round fails" 1
[ -z "$(sc_leaks "$(find state -print)")" ] && pass "repo URL: no secret in a name under the state directory" ||
	fail "repo URL: a name under STATE holds a secret" "$(find state -print)"

# --- files raptor wrote, and what its commands saw -------------------------------------
sc_file_clean "state" state/journal.jsonl
sc_file_clean "state" state/last.json
sc_file_clean "state" state/hosts.json
sc_l=$(grep -rlF -e "$sc_pw" -e "$sc_wrong" -e "$sc_b64" -e "$sc_wb64" state "$SCRATCH/pools" 2>/dev/null)
[ -z "$sc_l" ] && pass "state: no file under the state directory or include_dir holds a secret" ||
	fail "state: files holding a secret" "$sc_l"
sc_l=$(grep -lF -e "$sc_pw" -e "$sc_b64" "$sc_fleet"/host*/raptor.d/* 2>/dev/null)
[ -z "$sc_l" ] && [ -n "$(ls "$sc_fleet"/host*/raptor.d/)" ] && pass "hosts: no program file holds a secret" ||
	fail "hosts: program files holding a secret" "$sc_l"
grep -q 'sec_hello' "$SCRATCH/pools/sec_hello.conf" 2>/dev/null && pass "the balancer's pool was written" || fail "no pool file"
sc_dumps=$(ls envdump/ 2>/dev/null | tr '\n' ' ')
case "$sc_dumps" in
*uptest-* ) pass "the uptests ran (their environment recorded)" ;;
*) fail "the uptests left no environment dump" "$sc_dumps" ;;
esac
sc_l=""
for sc_f in "uptests:envdump/uptest-*.env" "the balancer's test:envdump/balancer-test.env" \
	"the balancer's reload:envdump/balancer-reload.env"; do
	# shellcheck disable=SC2086
	sc_text=$(cat ${sc_f#*:} 2>/dev/null)
	if [ -z "$sc_text" ]; then
		sc_l="$sc_l ${sc_f%%:*} (no environment recorded);"
	elif [ -n "$(sc_leaks "$sc_text")" ]; then
		# shellcheck disable=SC2086
		sc_l="$sc_l ${sc_f%%:*}: $(grep -hF "$sc_pw" ${sc_f#*:} | sort -u | sed "s/$sc_pw/<password>/");"
	fi
done
[ -z "$sc_l" ] && pass "no secret in the environment of the commands raptor runs (uptests, balancer test and reload)" ||
	fail "the secret reaches the environment of the commands raptor runs, so whatever they print (an uptest's output goes into the failure message and the journal) can show it" "$sc_l"
sc_all=$(cat outputs/* 2>/dev/null)
[ "$sc_n" -ge 35 ] && [ -z "$(sc_leaks "$sc_all")" ] && pass "no secret in any of the $sc_n commands' outputs" ||
	fail "outputs: $sc_n commands, leaks:$(sc_leaks "$sc_all")"

unset RAPTOR_SUPERVISOR_AUTH
bash "$SANDBOX" down "$sc_fleet" >/dev/null 2>&1
if [ -n "$sc_old_trap" ]; then eval "$sc_old_trap"; else trap - EXIT; fi
