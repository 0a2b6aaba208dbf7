# raptor validate and the command line, on directories and real git
# repositories (a clone and a bare one) made here.

cd "$SCRATCH" || exit 1

# --- the examples
for ex in basic multi-squad; do
	run "$RAPTOR" validate "$REPO_ROOT/examples/$ex"
	expect_rc "examples/$ex validates" 0
	expect_in "examples/$ex summary" "$out" "valid: "
	[ -z "$err" ] && pass "examples/$ex: nothing on stderr" || fail "examples/$ex: stderr not empty"
done
run "$RAPTOR" validate "$REPO_ROOT/examples/basic"
expect_in "basic summary counts" "$out" "valid: 1 squad, 3 hosts, 2 swarms"
expect_not_in "no colour when piped" "$out" $'\033'

# --- a directory tree with mistakes in two files
mkdir -p bad/sub bad/.hidden
cat >bad/a.yaml <<'YAML'
squads:
  web:
    hosts: [web1, web2]
swarms:
  - app: hello
    version: "1.0"
    config: prod
    proc: web
    squad: web
    szie: 2
    command: /bin/hello --port ${PORT}
YAML
cat >bad/sub/b.yml <<'YAML'
swarms:
  - app: he-llo
    version: "1.0"
    config: prod
    proc: web
    squad: nope
    size: 1
    command: /x
YAML
echo "this: [is not read" >bad/.hidden/broken.yaml
echo "neither: [is this" >bad/notes.txt
run "$RAPTOR" validate bad
expect_rc "bad tree fails" 1
expect_in "unknown key positioned" "$err" "a.yaml:10:5: unknown key 'szie' in a swarm (did you mean 'size'?)"
expect_in "missing size positioned" "$err" "a.yaml:5:5: swarm hello/prod/web@web is missing the required key 'size'"
expect_in "identifier positioned, path relative to the root" "$err" "sub/b.yml:2:10: app 'he-llo' is not a valid identifier"
expect_in "unknown squad positioned" "$err" "sub/b.yml:6:12: swarm he-llo/prod/web@nope names squad 'nope'"
expect_in "error count" "$err" "4 errors in bad"
expect_not_in "hidden directories are skipped" "$err" "broken.yaml"
[ -z "$out" ] && pass "bad tree: nothing on stdout" || fail "bad tree: stdout not empty"

# --- symlinks: inside the tree followed, outside refused
mkdir -p linked/real outside
cp "$REPO_ROOT"/examples/basic/*.yaml linked/real/
ln -s real/swarms.yaml linked/alias-of-swarms.yaml
run "$RAPTOR" validate linked
expect_rc "a symlink inside the tree is read" 1
expect_in "...and its swarms then count twice" "$err" "is defined twice"
rm linked/alias-of-swarms.yaml
printf 'squads:\n  evil:\n    hosts: [x]\n' >outside/evil.yaml
ln -s "$SCRATCH/outside/evil.yaml" linked/evil.yaml
run "$RAPTOR" validate linked
expect_rc "a symlink leading outside is refused" 1
expect_in "symlink message" "$err" "evil.yaml: symlink leads outside the desired-state tree"
rm linked/evil.yaml
ln -s .. linked/real/loop
run "$RAPTOR" validate linked
expect_rc "a directory link loop ends" 0
rm linked/real/loop

# --- bounds
mkdir big
{ echo "squads:"; head -c $((5 * 1024 * 1024)) /dev/zero | tr '\0' '#'; } >big/huge.yaml
run "$RAPTOR" validate big
expect_rc "a file over 4 MiB" 1
expect_in "size cap message" "$err" "huge.yaml:1:1: file is 5.0 MiB: desired-state files are limited to 4 MiB"
mkdir empty
run "$RAPTOR" validate empty
expect_rc "a tree without YAML" 1
expect_in "no files message" "$err" "no *.yaml or *.yml files found"
run "$RAPTOR" validate bad/a.yaml
expect_rc "a file is not a tree" 1
expect_in "not a directory" "$err" "not a directory"
run "$RAPTOR" validate does-not-exist
expect_rc "a missing directory" 1
expect_in "missing directory message" "$err" "does-not-exist: No such file or directory"

# --- git: a clone with two commits, and a bare copy
mkdir work
git_ -C work init -q
cp -r "$REPO_ROOT"/examples/multi-squad/. work/
mkdir work/.github && echo "on: [push" >work/.github/ci.yml
git_ -C work add -A
git_ -C work commit -qm "good"
good=$(git_ -C work rev-parse HEAD)
cp bad/a.yaml work/bad.yaml
git_ -C work add -A
git_ -C work commit -qm "bad"
bad=$(git_ -C work rev-parse HEAD)
echo "uncommitted: [" >work/dirty.yaml

run "$RAPTOR" validate --repo work
expect_rc "HEAD of a repository with a mistake" 1
expect_in "git errors name the file" "$err" "bad.yaml:10:5: unknown key 'szie'"
expect_not_in "the work tree is not read" "$err" "dirty.yaml"
run "$RAPTOR" validate --repo work --ref HEAD~1
expect_rc "an earlier commit" 0
expect_in "summary names the commit" "$out" "at commit $good (work HEAD~1)"
expect_in "summary counts from git" "$out" "valid: 2 squads, 4 hosts, 3 swarms"
run "$RAPTOR" validate --repo work --ref "$good"
expect_rc "a commit id as ref" 0

git_ clone -q --bare work bare.git
run "$RAPTOR" validate --repo bare.git --ref main~1
expect_rc "a bare repository" 0
expect_in "bare summary" "$out" "at commit $good"
run "$RAPTOR" validate --repo bare.git --ref main
expect_rc "a bare repository's bad head" 1
git_ -C work tag -a v1 -m v1 "$good"
run "$RAPTOR" validate --repo work --ref v1
expect_rc "an annotated tag peels to its commit" 0
expect_in "tag summary" "$out" "at commit $good"

run "$RAPTOR" validate --repo work --ref no-such-branch
expect_rc "an unknown ref" 1
expect_in "unknown ref message" "$err" "unknown ref 'no-such-branch'"
run "$RAPTOR" validate --repo outside
expect_rc "not a repository" 1
expect_in "not a repository message" "$err" "outside: not a git repository"

# a symlink in a commit: inside followed, outside refused
mkdir links
git_ -C links init -q
cp "$REPO_ROOT"/examples/basic/*.yaml links/
git_ -C links add -A && git_ -C links commit -qm base
ln -s ../../etc/passwd.yaml links/evil.yaml
git_ -C links add -A && git_ -C links commit -qm evil
run "$RAPTOR" validate --repo links
expect_rc "a committed symlink leading outside" 1
expect_in "git symlink message" "$err" "evil.yaml: symlink leads outside the desired-state tree"
git_ -C links rm -q evil.yaml
mkdir links/conf && git_ -C links mv settings.yaml conf/settings.yaml
ln -s conf/settings.yaml links/settings.yaml
git_ -C links add -A && git_ -C links commit -qm "moved behind a link"
run "$RAPTOR" validate --repo links
expect_rc "a committed symlink inside the tree" 1
expect_in "...is read like its target (settings twice)" "$err" "is already set at"

# --- the command line
run "$RAPTOR" --version
expect_rc "--version" 0
expect_in "--version prints" "$out" "raptor 0."
run "$RAPTOR" --help
expect_rc "--help" 0
expect_in "--help lists validate" "$out" "validate"
run "$RAPTOR" help validate
expect_rc "help validate" 0
expect_in "help validate usage" "$out" "usage: raptor validate [PATH] [--repo REPO [--ref REF]]"
run "$RAPTOR" validate --help
expect_rc "validate --help" 0
run "$RAPTOR" frobnicate
expect_rc "an unknown command" 1
expect_in "unknown command message" "$err" "'frobnicate' is not a command"
run "$RAPTOR" reconcile "$REPO_ROOT/examples/basic"
expect_rc "reconcile without --every" 1
expect_in "reconcile without --every: says what it needs" "$err" "raptor reconcile: give --every DURATION (or --once for one round)"
run "$RAPTOR" validate --json "$REPO_ROOT/examples/basic"
expect_rc "an option the command does not take" 1
expect_in "refused option" "$err" "--json does not apply"
run "$RAPTOR" validate --ref main
expect_rc "--ref without --repo" 1
run "$RAPTOR" validate a b
expect_rc "two paths" 1
run "$RAPTOR"
expect_rc "no command" 1
cd "$REPO_ROOT/examples/basic" && run "$RAPTOR" validate && cd "$SCRATCH"
expect_rc "PATH defaults to ." 0
run "$RAPTOR" validate -v "$REPO_ROOT/examples/basic"
expect_rc "validate -v" 0
expect_in "-v lists the files read on stderr" "$err" "reading swarms.yaml"
expect_in "-v keeps the result on stdout" "$out" "valid: "

# --- a pre-receive hook on a bare server repository (contrib/README.md's):
# pushed objects are still in git's quarantine when the hook runs
git_ init -q --bare server.git
cat >server.git/hooks/pre-receive <<HOOK
#!/bin/sh
while read -r old new ref; do
	[ "\$ref" = refs/heads/main ] || continue
	"$RAPTOR" validate --repo "\$GIT_DIR" --ref "\$new" || exit 1
done
HOOK
chmod +x server.git/hooks/pre-receive
git_ clone -q server.git pusher 2>/dev/null
cp "$REPO_ROOT"/examples/basic/*.yaml pusher/
git_ -C pusher add -A && git_ -C pusher commit -qm good
run git_ -C pusher push origin HEAD:main
expect_rc "a valid push is accepted" 0
expect_in "the hook shows the summary" "$err" "remote: valid: 1 squad"
sed -i '0,/size:/s//szie:/' pusher/swarms.yaml
git_ -C pusher commit -qam typo
run git_ -C pusher push origin HEAD:main
expect_rc "an invalid push is rejected" 1
expect_in "the pusher sees the positioned error" "$err" "remote: swarms.yaml:9:5: unknown key 'szie' in a swarm (did you mean 'size'?)"
expect_in "git reports the refusal" "$err" "pre-receive hook declined"
[ "$(git_ -C server.git rev-parse main)" = "$(git_ -C pusher rev-parse HEAD~1)" ] &&
	pass "the server keeps the good commit" || fail "the server moved to the bad commit"
