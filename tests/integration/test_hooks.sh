# The GitOps pieces of contrib/, with real git: a bare repository with
# contrib/git-hooks installed, a clone that pushes to it, real supervisord
# hosts (sandbox.sh, hosts 41 and 42: 127.0.0.41 is squad a, 127.0.0.42 squad
# b, apart from the other tests' 127.0.0.2..) running the demo app, and
# contrib/ci/raptor-plan.sh run on a base and a change branch.

# shellcheck disable=SC2154 # rc and err are set by run() in lib.sh
hk_sb="$REPO_ROOT/tests/sandbox/sandbox.sh"
cd "$SCRATCH" || return 1 # the previous test file may have left us in a removed directory
hk_fleet="$SCRATCH/fleet"
hk_srv="$SCRATCH/srv.git"
hk_wc="$SCRATCH/wc"
hk_state="$SCRATCH/state"
mkdir -p "$SCRATCH/apps"
cp "$REPO_ROOT"/examples/apps/* "$SCRATCH/apps/"

hk_old_trap=$(trap -p EXIT)
trap 'bash "$hk_sb" down "$hk_fleet" >/dev/null 2>&1' EXIT
bash "$hk_sb" up "$hk_fleet" 2 --first 40 >"$SCRATCH/sandbox.log" 2>&1 ||
	fail "sandbox up" "$(tail -5 "$SCRATCH/sandbox.log")"

# --- the server: a bare repository with the hooks, configured as an operator would
git_ init -q --bare "$hk_srv"
cp "$REPO_ROOT/contrib/git-hooks/pre-receive" "$REPO_ROOT/contrib/git-hooks/post-receive" "$hk_srv/hooks/"
git_ -C "$hk_srv" config raptor.bin "$RAPTOR"
git_ -C "$hk_srv" config raptor.stateDir "$hk_state"
git_ -C "$hk_srv" config receive.advertisePushOptions true
git_ init -q "$hk_wc"
git_ -C "$hk_wc" remote add origin "$hk_srv"

# hk_desired SQUAD APP CONFIG VERSION SIZE [EXTRA-HEALTH]: the clone's fleet.yaml
hk_desired() {
	cat >"$hk_wc/fleet.yaml" <<YAML
settings:
  timeouts: { connect: 1s, request: 5s }
  ports: { first: 5400, last: 5499 }
squads:
  a:
    hosts: [127.0.0.41]
  b:
    hosts: [127.0.0.42]
swarms:
  - app: $2
    config: $3
    proc: web
    squad: $1
    version: "$4"
    size: $5
    command: /usr/bin/python3 -u $SCRATCH/apps/hello.py --port \${PORT}
    health: { tcp: true, http: /healthz, timeout: 15s${6:-} }
YAML
}

hk_commit() { git_ -C "$hk_wc" add -A && git_ -C "$hk_wc" commit -qm "$1"; }
hk_push() { run git_ -C "$hk_wc" push "$@"; }
hk_server_main() { git_ -C "$hk_srv" rev-parse -q --verify refs/heads/main; }

# hk_fleet_is: the managed programs on the fleet as "host swarm state" lines, sorted
hk_fleet_is() {
	"$RAPTOR" status "$hk_wc" --state-dir "$hk_state" --json | python3 -c '
import json, sys
doc = json.load(sys.stdin)
print("\n".join(sorted("%s %s %s" % (h["name"], p["swarm"], p["state"])
                       for h in doc["hosts"] for p in h["programs"] if p["managed"])))'
}

# hk_eq NAME GOT WANT / hk_rejected NAME: checks that name what they saw
hk_eq() { if [ "$2" = "$3" ]; then pass "$1"; else fail "$1" "got: $2"; fi; }
hk_rejected() { if [ "$rc" != 0 ]; then pass "$1 (exit $rc)"; else fail "$1" "the push was accepted"; fi; }

# --- a first push creates main and deploys it
hk_desired a hello test 1.0 2
hk_commit "hello on squad a"
hk_push origin main
expect_rc "first push" 0
expect_in "first push: validated" "$err" "remote: valid: 2 squads, 2 hosts, 1 swarm (2 instances)"
expect_in "first push: no comparison for a new branch" "$err" "main is new here: nothing to compare against"
expect_in "first push: the pusher sees the plan apply shows" "$err" "remote:   + hello-1.0-test-"
expect_in "first push: the pusher sees apply's result" "$err" "remote: Applied: 2 started, 0 stopped, 0 balancers reloaded. Converged."
hk_want="127.0.0.41 hello/test/web@a RUNNING
127.0.0.41 hello/test/web@a RUNNING"
hk_eq "first push: two instances RUNNING on squad a" "$(hk_fleet_is)" "$hk_want"

# --- an invalid change is refused with its place, and nothing moves
hk_before=$(hk_server_main)
sed -i 's/^    size: 2$/    szie: 2/' "$hk_wc/fleet.yaml"
hk_commit "a typo"
hk_push origin main
hk_rejected "an invalid push is rejected"
expect_in "the pusher sees the positioned error" "$err" "remote: fleet.yaml:15:5: unknown key 'szie' in a swarm (did you mean 'size'?)"
expect_in "git names the hook" "$err" "pre-receive hook declined"
hk_head=$(git_ -C "$hk_wc" rev-parse HEAD)
expect_in "the hook says why" "$err" "REJECTED: the desired state at ${hk_head:0:7}"
hk_eq "an invalid push: main did not move" "$(hk_server_main)" "$hk_before"
expect_not_in "an invalid push: nothing is applied" "$err" "applying"
git_ -C "$hk_wc" reset -q --hard HEAD~1

# --- other branches are not the deploy branch: an invalid one passes untouched
git_ -C "$hk_wc" checkout -q -b scratchpad
sed -i 's/^    size: 2$/    szie: 2/' "$hk_wc/fleet.yaml"
hk_commit "work in progress"
hk_push origin scratchpad
expect_rc "a push to another branch" 0
expect_not_in "another branch: not checked" "$err" "raptor:"
# ... unless raptor.branch names it
git_ -C "$hk_srv" config raptor.branch release
hk_push origin scratchpad:release
hk_rejected "raptor.branch=release: a push to release is checked"
expect_in "raptor.branch=release: the error" "$err" "remote: fleet.yaml:15:5: unknown key 'szie'"
git_ -C "$hk_srv" config --unset raptor.branch
git_ -C "$hk_wc" checkout -q main

# --- deleting the deploy branch is refused
hk_push origin :main
hk_rejected "deleting main is rejected"
expect_in "deleting main: the reason" "$err" "main is the deploy branch; deleting it"
hk_eq "main still exists" "$(hk_server_main)" "$hk_before"

# --- a squad move: the pusher sees the offline plan, then it is applied
hk_desired b hello test 1.0 2
hk_commit "move hello to squad b"
hk_push origin main
expect_rc "squad move" 0
expect_in "squad move: the offline plan" "$err" "remote: ~ hello/test/web@a -> hello/test/web@b   squad changed a -> b"
expect_in "squad move: ... what it tears down" "$err" "tear down every instance of hello/test/web@a (2)"
expect_in "squad move: applied" "$err" "remote: Applied: 2 started, 2 stopped"
expect_in "squad move: converged" "$err" "Converged."
hk_want="127.0.0.42 hello/test/web@b RUNNING
127.0.0.42 hello/test/web@b RUNNING"
hk_eq "squad move: only squad b's instances, none of squad a's" "$(hk_fleet_is)" "$hk_want"

# --- the mass-stop guard: a swarm that vanishes (two identity fields
# changed, so no rename) is refused, unless the push says it is meant
hk_before=$(hk_server_main)
hk_desired b greeter other 1.0 1
hk_commit "replace hello by greeter"
hk_push origin main
hk_rejected "a mass stop is rejected"
expect_in "mass stop: the guard's reason" "$err" "mass-stop guard:"
expect_in "mass stop: what would go" "$err" "- hello/test/web@b"
expect_in "mass stop: how to proceed" "$err" "git push -o raptor.allow-mass-stop"
hk_eq "mass stop: main did not move" "$(hk_server_main)" "$hk_before"
hk_eq "mass stop: the fleet is untouched" "$(hk_fleet_is)" "$hk_want"
hk_push -o raptor.allow-mass-stop origin main
expect_rc "the same push with -o raptor.allow-mass-stop" 0
expect_in "allowed: the hook says so" "$err" "the push option raptor.allow-mass-stop allows it"
expect_in "allowed: apply gets --allow-mass-stop" "$err" "--yes --state-dir $hk_state --allow-mass-stop"
expect_in "allowed: applied" "$err" "remote: Applied: 1 started, 2 stopped"
hk_eq "allowed: only greeter runs" "$(hk_fleet_is)" "127.0.0.42 greeter/other/web@b RUNNING"

# --- a failing apply is shown to the pusher; the push itself is in
hk_desired b greeter other 1.1 1 ", uptest: [[/bin/sh, -c, 'echo not ready; exit 1', --]]"
sed -i 's/timeout: 15s/timeout: 2s/' "$hk_wc/fleet.yaml"
hk_commit "a release that never gets healthy"
hk_push origin main
expect_rc "a push whose apply fails still succeeds" 0
expect_in "failed apply: the reason" "$err" "not ready"
expect_in "failed apply: said plainly" "$err" "FAILED: raptor apply exited 1"
expect_in "failed apply: post-receive cannot reject" "$err" "post-receive cannot"
hk_eq "failed apply: main moved" "$(hk_server_main)" "$(git_ -C "$hk_wc" rev-parse HEAD)"
hk_eq "failed apply: the old release keeps running" "$(hk_fleet_is)" "127.0.0.42 greeter/other/web@b RUNNING"

# --- wake mode: the configured command runs instead of apply
hk_desired b greeter other 1.2 2
hk_commit "greeter 1.2, two of them"
git_ -C "$hk_srv" config raptor.wake "printf '%s %s\\n' \"\$RAPTOR_COMMIT\" \"\$RAPTOR_REF\" >>'$SCRATCH/woken'"
hk_push origin main
expect_rc "wake mode: push" 0
expect_in "wake mode: the command got the commit and ref" "$(cat "$SCRATCH/woken" 2>/dev/null)" "$(git_ -C "$hk_wc" rev-parse HEAD) refs/heads/main"
expect_in "wake mode: the pusher is told" "$err" "the reconcile service will apply"
expect_not_in "wake mode: no apply" "$err" "Applied:"
hk_eq "wake mode: the fleet is left to the service" "$(hk_fleet_is)" "127.0.0.42 greeter/other/web@b RUNNING"
git_ -C "$hk_srv" config raptor.wake false
hk_desired b greeter other 1.2 1
hk_commit "back to one"
hk_push origin main
expect_in "a failing wake command is shown" "$err" "FAILED: the wake command exited 1"
git_ -C "$hk_srv" config --unset raptor.wake

# --- a server without raptor refuses pushes to main rather than waving them through
git_ -C "$hk_srv" config raptor.bin "$SCRATCH/no-such-raptor"
hk_desired b greeter other 1.3 1
hk_commit "greeter 1.3"
hk_push origin main
hk_rejected "no raptor on the server: rejected"
expect_in "no raptor: said so" "$err" "is not an executable raptor"
git_ -C "$hk_srv" config raptor.bin "$RAPTOR"
git_ -C "$hk_wc" reset -q --hard HEAD~1

# --- contrib/ci/raptor-plan.sh on a base branch (main) and a change branch
hk_ci="$REPO_ROOT/contrib/ci/raptor-plan.sh"
git_ -C "$hk_wc" checkout -q -b change main
hk_desired b greeter other 1.2 3
hk_commit "three greeters"
run env RAPTOR="$RAPTOR" GITHUB_STEP_SUMMARY="$SCRATCH/summary.md" sh "$hk_ci" --repo "$hk_wc" --against main --ref change --out "$SCRATCH/ci"
expect_rc "ci: a resize" 0
expect_in "ci: plan.md has the offline plan" "$(cat "$SCRATCH/ci/plan.md" 2>/dev/null)" "~ greeter/other/web@b   size 1 -> 3: start 2"
expect_in "ci: plan.md has the validation" "$(cat "$SCRATCH/ci/plan.md" 2>/dev/null)" "valid: 2 squads, 2 hosts, 1 swarm (3 instances)"
expect_in "ci: the job summary gets it" "$(cat "$SCRATCH/summary.md" 2>/dev/null)" "### Offline plan (no host contacted)"
if python3 -c '
import json, sys
d = json.load(open(sys.argv[1]))
assert [(c["kind"], c["start"]) for c in d["changes"]] == [("resized", 2)], d["changes"]
assert d["guard"]["tripped"] is False, d["guard"]
' "$SCRATCH/ci/plan-offline.json" 2>"$SCRATCH/py.err"; then
	pass "ci: plan-offline.json holds the resize"
else
	fail "ci: plan-offline.json holds the resize" "$(cat "$SCRATCH/py.err")"
fi

# the fleet still runs greeter 1.0 (1.1 failed, 1.2 was left to the
# service): live, all three instances are new and the old one goes
run env RAPTOR="$RAPTOR" sh "$hk_ci" --repo "$hk_wc" --against main --ref change --out "$SCRATCH/ci-live" --live --state-dir "$hk_state"
expect_rc "ci --live: reaches the fleet" 0
expect_in "ci --live: changes are pending" "$(cat "$SCRATCH/ci-live/plan.md" 2>/dev/null)" "Changes are pending."
expect_in "ci --live: the live plan names the host" "$(cat "$SCRATCH/ci-live/plan-live.txt" 2>/dev/null)" "on 127.0.0.42"
if python3 -c '
import json, sys
d = json.load(open(sys.argv[1]))
assert (d["summary"]["start"], d["summary"]["stop"]) == (3, 1), d["summary"]
assert d["fingerprint"], d
' "$SCRATCH/ci-live/plan.json" 2>"$SCRATCH/py.err"; then
	pass "ci --live: plan.json is the plan apply takes"
else
	fail "ci --live: plan.json" "$(cat "$SCRATCH/py.err")"
fi

sed -i 's/^    size: 3$/    szie: 3/' "$hk_wc/fleet.yaml"
hk_commit "a typo on the change branch"
run env RAPTOR="$RAPTOR" sh "$hk_ci" --repo "$hk_wc" --against main --ref change --out "$SCRATCH/ci-bad"
expect_rc "ci: an invalid change fails" 1
expect_in "ci: the error is in plan.md" "$(cat "$SCRATCH/ci-bad/plan.md" 2>/dev/null)" "fleet.yaml:15:5: unknown key 'szie'"

hk_desired a hello test 1.0 1
hk_commit "greeter gone, hello back on squad a"
run env RAPTOR="$RAPTOR" sh "$hk_ci" --repo "$hk_wc" --against main --ref change --out "$SCRATCH/ci-guard"
expect_rc "ci: a mass stop fails the job" 3
expect_in "ci: ... and says so" "$(cat "$SCRATCH/ci-guard/plan.md" 2>/dev/null)" "The mass-stop guard trips"
run env RAPTOR="$RAPTOR" RAPTOR_ALLOW_MASS_STOP=1 sh "$hk_ci" --repo "$hk_wc" --against main --ref change --out "$SCRATCH/ci-guard"
expect_rc "ci: RAPTOR_ALLOW_MASS_STOP=1 lets it pass" 0
expect_in "ci: ... and notes it" "$(cat "$SCRATCH/ci-guard/plan.md" 2>/dev/null)" "Mass stop allowed"

bash "$hk_sb" down "$hk_fleet" >/dev/null 2>&1
if [ ! -e "$hk_fleet" ]; then pass "the sandbox is down"; else fail "the sandbox is still there"; fi
if [ -n "$hk_old_trap" ]; then eval "$hk_old_trap"; else trap - EXIT; fi
