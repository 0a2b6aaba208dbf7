#!/usr/bin/env bash
# make demo: what raptor can do today, on the examples. Validates each
# example directory, then the same desired state read from a git commit
# (a throwaway repository made here and removed at the end), then shows
# how a mistake is reported. The sandbox fleet (real supervisord hosts and
# nginx) joins this demo once apply exists.
set -euo pipefail
cd "$(dirname "$0")/.."
raptor=./raptor
scratch=$(mktemp -d "${TMPDIR:-/tmp}/raptor-demo.XXXXXX")
trap 'rm -rf "$scratch"' EXIT

step() { printf '\n\033[1m$ %s\033[0m\n' "$*"; }
[ -t 1 ] && [ -z "${NO_COLOR:-}" ] || step() { printf '\n$ %s\n' "$*"; }

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
