#!/usr/bin/env bash
# make demo: raptor on the examples, then a real deployment on a local
# sandbox: three supervisord hosts on 127.0.0.2-4 (tests/sandbox/sandbox.sh)
# and an nginx on 127.0.0.1 (tests/sandbox/nginx.sh), everything under
# /tmp/raptor-demo. `raptor apply examples/basic` deploys the demo app; the
# deployment stays up for you to curl and change, until `make demo-down`
# stops every process by its recorded PID.
set -euo pipefail
cd "$(dirname "$0")/.."
raptor=$PWD/raptor
sandbox=tests/sandbox/sandbox.sh
ngx=tests/sandbox/nginx.sh
demo=/tmp/raptor-demo
scratch=$(mktemp -d "${TMPDIR:-/tmp}/raptor-demo-scratch.XXXXXX")
trap 'rm -rf "$scratch"' EXIT

if [ -t 1 ] && [ -z "${NO_COLOR:-}" ]; then
	step() { printf '\n\033[1m$ %s\033[0m\n' "$*"; }
else
	step() { printf '\n$ %s\n' "$*"; }
fi

for ex in examples/basic examples/multi-squad; do
	step raptor validate "$ex"
	"$raptor" validate "$ex"
done

git_() {
	GIT_CONFIG_NOSYSTEM=1 HOME="$scratch" GIT_AUTHOR_NAME=demo GIT_AUTHOR_EMAIL=demo@raptor.invalid \
		GIT_COMMITTER_NAME=demo GIT_COMMITTER_EMAIL=demo@raptor.invalid \
		git -c init.defaultBranch=main "$@"
}
git_ init -q "$scratch/desired"
cp -r examples/basic/. "$scratch/desired/"
git_ -C "$scratch/desired" add -A
git_ -C "$scratch/desired" commit -qm "basic example"
sed 's/app: hello$/app: greeter/' examples/basic/swarms.yaml >"$scratch/desired/swarms.yaml"
git_ -C "$scratch/desired" commit -qam "rename hello to greeter"
step "raptor plan --offline --repo desired --against HEAD~1   # what CI shows for a rename; no host asked"
"$raptor" plan --offline --repo "$scratch/desired" --against HEAD~1 | sed "s#$scratch/##g"

# --- the sandbox: real supervisord hosts and a real nginx
if [ -e "$demo/fleet" ] || [ -e "$demo/nginx" ]; then
	echo "demo: a demo is already running under $demo; 'make demo-down' stops it" >&2
	exit 1
fi
mkdir -p "$demo/apps" "$demo/state"
cp examples/apps/* "$demo/apps/"
step "tests/sandbox/sandbox.sh up $demo/fleet 3   # supervisord on 127.0.0.2-4, raptor's plugin loaded"
bash "$sandbox" up "$demo/fleet" 3
step "tests/sandbox/nginx.sh up $demo/nginx   # nginx on 127.0.0.1, including raptor's pool files"
bash "$ngx" up "$demo/nginx" 2>/dev/null
port=$(cat "$demo/nginx/port")
bash "$sandbox" add-unmanaged "$demo/fleet" 2 legacy-0.9-demo-0badf00d-web-7001 /bin/sleep 100000 >/dev/null

step "raptor apply examples/basic --yes   # start, check, route through nginx"
"$raptor" apply examples/basic --yes --state-dir "$demo/state"
bash "$ngx" site "$demo/nginx" hello_demo >/dev/null 2>&1

step "raptor status examples/basic"
"$raptor" status examples/basic --state-dir "$demo/state"

step "curl http://127.0.0.1:$port/   # through nginx, round robin over the three instances"
for i in 1 2 3; do curl -s "http://127.0.0.1:$port/"; done

cat <<MSG

The deployment stays up. Try, then watch raptor roll it out make-before-break:
  sed -i 's/version: "1.0.0"/version: "1.1.0"/' examples/basic/swarms.yaml
  ./raptor plan examples/basic --state-dir $demo/state
  ./raptor apply examples/basic --state-dir $demo/state --yes
  curl http://127.0.0.1:$port/
Stop everything (by recorded PIDs) with: make demo-down
MSG
