#!/usr/bin/env bash
# make demo: raptor on the examples, then on a local sandbox fleet of real
# supervisord hosts (127.0.0.2-4, tests/sandbox/sandbox.sh). Everything it
# starts is stopped by PID at the end, unless KEEP=1 (then `make demo-down`).
# apply does not exist yet, so the one managed program is placed by hand
# through the host plugin, the way apply will place it.
set -euo pipefail
cd "$(dirname "$0")/.."
raptor=./raptor
sandbox=tests/sandbox/sandbox.sh
xcall=tests/integration/xmlrpc_call.py
demo=${RAPTOR_DEMO_DIR:-/tmp/raptor-demo}
scratch=$(mktemp -d "${TMPDIR:-/tmp}/raptor-demo-scratch.XXXXXX")
cleanup() {
	rm -rf "$scratch"
	if [ "${KEEP:-}" != 1 ]; then
		bash "$sandbox" down "$demo/fleet" >/dev/null 2>&1 || true
		rm -rf "$demo"
	fi
}
trap cleanup EXIT

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
git_ clone -q --bare "$scratch/desired" "$scratch/desired.git"
step raptor validate --repo desired.git --ref main "   # a bare repository, as on a git server"
"$raptor" validate --repo "$scratch/desired.git" --ref main

mkdir "$scratch/typo"
cp examples/basic/*.yaml "$scratch/typo/"
sed -i '0,/^    size:/s//    szie:/; 0,/app: hello/s//app: hello-world/' "$scratch/typo/swarms.yaml"
step raptor validate typo/ "   # a typo and a '-' in an identifier"
"$raptor" validate "$scratch/typo" 2>&1 | sed "s#$scratch/##g" || true

# --- the sandbox fleet
if [ -e "$demo/fleet" ]; then
	echo "demo: $demo/fleet exists (a kept demo?); run 'make demo-down' first" >&2
	exit 1
fi
mkdir -p "$demo/apps"
cp examples/apps/* "$demo/apps/"
step "tests/sandbox/sandbox.sh up $demo/fleet 3   # supervisord on 127.0.0.2-4, plugin loaded"
bash "$sandbox" up "$demo/fleet" 3

name=hello-1.0.0-demo-00000000-web-5000
text=$(printf ';raptor: app=hello version=1.0.0 config=demo proc=web squad=sandbox release=00000000 port=5000\n[program:%s]\ncommand=/usr/bin/python3 -u %s/apps/hello.py --port 5000 --host 127.0.0.2\nenvironment=APP="hello",VERSION="1.0.0",CONFIG="demo",PROC="web",HOST="127.0.0.2",PORT="5000"\nautostart=true\nstartsecs=1\n' "$name" "$demo")
url=http://127.0.0.2:9001/RPC2
python3 "$xcall" "$url" raptor.putProgram "\"$name\"" "$(python3 -c 'import json,sys; print(json.dumps(sys.argv[1]))' "$text")" >/dev/null
python3 "$xcall" "$url" supervisor.reloadConfig >/dev/null
python3 "$xcall" "$url" supervisor.addProcessGroup "\"$name\"" >/dev/null
bash "$sandbox" add-unmanaged "$demo/fleet" 2 legacy-0.9-demo-0badf00d-web-7001 /bin/sleep 100000 >/dev/null
bash "$sandbox" stop-host "$demo/fleet" 3 >/dev/null
sleep 1.5
step "raptor status examples/basic   # one managed program, one unmanaged, 127.0.0.4 stopped"
set +e
"$raptor" status examples/basic --state-dir "$scratch/state"
rc=$?
set -e
echo "(exit status $rc: 3 means some hosts did not answer)"
step "raptor plan examples/basic   # what apply would do: the hand-placed program is a stale release"
set +e
"$raptor" plan examples/basic --state-dir "$scratch/state"
set -e
git_ -C "$scratch/desired" rm -q swarms.yaml
sed 's/app: hello$/app: greeter/' examples/basic/swarms.yaml >"$scratch/desired/swarms.yaml"
git_ -C "$scratch/desired" add -A
git_ -C "$scratch/desired" commit -qm "rename hello to greeter"
step "raptor plan --offline --repo desired --against HEAD~1   # CI's view of a rename: no host asked"
"$raptor" plan --offline --repo "$scratch/desired" --against HEAD~1 | sed "s#$scratch/##g"
step "curl http://127.0.0.2:5000/   # the managed demo app"
curl -s http://127.0.0.2:5000/ || true
if [ "${KEEP:-}" = 1 ]; then
	echo
	echo "demo: the sandbox fleet is still running under $demo; 'make demo-down' stops it"
fi
