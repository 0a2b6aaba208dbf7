# raptor plan --offline --against REF: the CI view of a change, on a real git
# repository made here (no host is contacted, so no sandbox). The second
# commit renames an app, the defect raptor exists for: the plan must say the
# old identity's instances are torn down. Both forms are run: --repo (two
# commits) and PATH (a work tree's subdirectory against a ref).

cd "$SCRATCH" || exit 1

# --- a repository whose desired state lives in deploy/
mkdir -p repo/deploy
git_ -C repo init -q
cat >repo/deploy/fleet.yaml <<'YAML'
squads:
  web:
    hosts: [web1.example.com, web2.example.com]
  batch:
    hosts: [batch1.example.com]
balancers:
  edge: { type: nginx, include_dir: /etc/nginx/raptor.d }
YAML
cat >repo/deploy/swarms.yaml <<'YAML'
swarms:
  - app: hello
    version: "1.0"
    config: prod
    proc: web
    squad: web
    size: 3
    command: /apps/hello/bin/web --port ${PORT}
    routing: { balancer: edge, pool: hello_prod }
  - app: api
    version: "1.0"
    config: prod
    proc: web
    squad: web
    size: 2
    command: /apps/api/bin/web --port ${PORT}
  - app: api
    version: "1.0"
    config: prod
    proc: worker
    squad: batch
    size: 1
    port: none
    command: /apps/api/bin/worker
YAML
git_ -C repo add -A
git_ -C repo commit -qm "hello, api"
first=$(git_ -C repo rev-parse HEAD)
sed -i 's/^  - app: hello$/  - app: hello2/' repo/deploy/swarms.yaml
git_ -C repo commit -qam "rename hello to hello2"
second=$(git_ -C repo rev-parse HEAD)

# --- --repo: REF against HEAD (default) of the same repository; the whole tree
# is read, deploy/ included
run "$RAPTOR" plan --offline --against HEAD~1 --repo repo
expect_rc "--repo: a rename plans, exit 0 without --detailed-exitcode" 0
expect_in "--repo: the header names both commits" "$out" "desired state at HEAD~1 (${first:0:7}) -> HEAD (${second:0:7})"
expect_in "--repo: ... and says no host is contacted" "$out" "no host contacted"
expect_in "--repo: one rename" "$out" "~ hello/prod/web@web -> hello2/prod/web@web   app renamed hello -> hello2"
expect_in "--repo: starts the new identity" "$out" "+ start 3 instances of hello2/prod/web@web"
expect_in "--repo: tears the old app's instances down" "$out" "- tear down every instance of hello/prod/web@web (3)"
expect_in "--repo: the summary" "$out" "Plan: 3 to start, 3 to tear down, 1 swarm changed."
expect_not_in "--repo: nothing else changed" "$out" "api/prod"
expect_not_in "--repo: a rename does not trip the guard" "$out" "mass-stop"
[ -z "$err" ] && pass "--repo: nothing on stderr" || fail "--repo: stderr not empty"

run "$RAPTOR" plan --offline --against HEAD~1 --repo repo --detailed-exitcode
expect_rc "--repo --detailed-exitcode: changes pending" 2
run "$RAPTOR" plan --offline --against HEAD --repo repo --detailed-exitcode
expect_rc "--repo: a ref against itself, nothing to do" 0
expect_in "nothing to do says so" "$out" "Plan: nothing to do."
run "$RAPTOR" plan --offline --against HEAD --repo repo --ref HEAD~1
expect_rc "--repo --ref: the other way round" 0
expect_in "--ref: the reverse rename" "$out" "app renamed hello2 -> hello"

git_ clone -q --bare repo repo.git
run "$RAPTOR" plan --offline --against main~1 --repo repo.git --ref main --detailed-exitcode
expect_rc "a bare repository" 2
expect_in "a bare repository: the rename" "$out" "tear down every instance of hello/prod/web@web (3)"

# --json parses and says the same
run "$RAPTOR" plan --offline --against HEAD~1 --repo repo --json
expect_rc "--json" 0
if printf '%s' "$out" | python3 -c '
import json, sys
d = json.load(sys.stdin)
assert d["format_version"] == 1 and d["offline"] is True, d
c = d["changes"]
assert len(c) == 1, c
assert c[0]["kind"] == "renamed" and c[0]["field"] == "app", c[0]
assert c[0]["swarm"] == "hello2/prod/web@web" and c[0]["from"] == "hello/prod/web@web", c[0]
assert c[0]["start"] == 3 and c[0]["stop"] == 3, c[0]
assert d["summary"] == {"start": 3, "stop": 3, "changed": 1, "balancers_and_pools": 0}, d["summary"]
assert d["guard"] == {"tripped": False, "reason": None}, d["guard"]
assert len(d["before"]["commit"]) == 40 and d["before"]["ref"] == "HEAD~1", d["before"]
' 2>"$SCRATCH/py.err"; then
	pass "--json parses and holds the rename"
else
	fail "--json parses and holds the rename" "$(cat "$SCRATCH/py.err")"
fi

# --- PATH: the work tree's deploy/ against the same directory at a ref
run "$RAPTOR" plan --offline --against HEAD~1 repo/deploy
expect_rc "PATH: a subdirectory of a work tree" 0
expect_in "PATH: the header" "$out" "desired state at HEAD~1 (${first:0:7}) -> repo/deploy (working tree)"
expect_in "PATH: tears the old app's instances down" "$out" "- tear down every instance of hello/prod/web@web (3)"

# from inside the subdirectory, PATH defaulting to ., with an uncommitted edit
cd repo/deploy || exit 1
sed -i 's/size: 2/size: 4/' swarms.yaml
run "$RAPTOR" plan --offline --against HEAD~1 --detailed-exitcode
expect_rc "PATH=. inside the subdirectory: changes pending" 2
expect_in "PATH=.: the same subdirectory of the ref is read" "$out" "app renamed hello -> hello2"
expect_in "PATH=.: the uncommitted resize is seen" "$out" "~ api/prod/web@web"
expect_in "PATH=.: ... with its words" "$out" "size 2 -> 4: start 2"
run "$RAPTOR" plan --offline --against HEAD --json
expect_rc "PATH=. --json against HEAD" 0
if printf '%s' "$out" | python3 -c '
import json, sys
d = json.load(sys.stdin)
assert d["before"]["subdir"] == "deploy", d["before"]
assert d["after"]["commit"] is None, d["after"]
assert [c["kind"] for c in d["changes"]] == ["resized"], d["changes"]
' 2>"$SCRATCH/py.err"; then
	pass "PATH --json: the subdirectory and one resize"
else
	fail "PATH --json: the subdirectory and one resize" "$(cat "$SCRATCH/py.err")"
fi
git_ checkout -q swarms.yaml

# the mass-stop guard: a working tree that lost every swarm of squad batch
sed -i '/app: api$/,$d' swarms.yaml
cat >>swarms.yaml <<'YAML'
  - app: api
    version: "1.0"
    config: prod
    proc: web
    squad: web
    size: 2
    command: /apps/api/bin/web --port ${PORT}
YAML
run "$RAPTOR" plan --offline --against HEAD
expect_rc "a vanished squad still plans" 0
expect_in "the guard says apply would refuse" "$out" "apply would refuse this without --allow-mass-stop"
expect_in "...and why" "$out" "every instance of squad batch (1)"
expect_in "...and the worker is what goes" "$out" "- api/prod/worker@batch"
expect_not_in "...and api/prod/web@web is unchanged" "$out" "~ api/prod/web@web"
git_ checkout -q swarms.yaml
cd "$SCRATCH" || exit 1

# a directory the change adds did not exist at the ref: everything is new
mkdir -p repo/staging
cp repo/deploy/*.yaml repo/staging/
run "$RAPTOR" plan --offline --against HEAD repo/staging --detailed-exitcode
expect_rc "a new directory" 2
expect_in "a new directory reads as empty before" "$out" "staging/ does not exist at HEAD"
expect_in "...and its swarms are new" "$out" "+ hello2/prod/web@web"
rm -r repo/staging

# --- errors: exit 1, the reason on stderr, nothing on stdout
run "$RAPTOR" plan --offline --against no-such-ref --repo repo
expect_rc "an unknown REF (--repo)" 1
expect_in "unknown ref message" "$err" "unknown ref 'no-such-ref'"
[ -z "$out" ] && pass "an unknown REF: nothing on stdout" || fail "an unknown REF: stdout not empty"
run "$RAPTOR" plan --offline --against no-such-ref repo/deploy
expect_rc "an unknown REF (PATH)" 1
expect_in "unknown ref message (PATH)" "$err" "unknown ref 'no-such-ref'"
mkdir -p notgit
cp repo/deploy/*.yaml notgit/
run "$RAPTOR" plan --offline --against HEAD notgit
if git_ -C notgit rev-parse --git-dir >/dev/null 2>&1; then
	pass "PATH not in a repository: skipped, the scratch directory is inside one"
else
	expect_rc "PATH not in a git repository" 1
	expect_in "not in a repository message" "$err" "not inside a git repository"
fi
sed -i 's/size: 3/szie: 3/' repo/deploy/swarms.yaml
run "$RAPTOR" plan --offline --against HEAD repo/deploy
expect_rc "an invalid side" 1
expect_in "its errors are positioned" "$err" "swarms.yaml:7:5: unknown key 'szie' in a swarm (did you mean 'size'?)"
expect_in "...and the side is named" "$err" "2 errors in the desired state after the change, repo/deploy (working tree)"
git_ -C repo checkout -q deploy/swarms.yaml
run "$RAPTOR" plan --offline --against HEAD~1 --repo repo --out plan.json
expect_rc "--out with --offline" 1
expect_in "--out refused" "$err" "--out does not apply to --offline"
run "$RAPTOR" plan --against HEAD~1 --repo repo
expect_rc "--against without --offline" 1
