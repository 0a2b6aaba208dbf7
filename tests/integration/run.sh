#!/usr/bin/env bash
# Runs every tests/integration/test_*.sh against $RAPTOR and prints the
# totals as 'N passed, N failed'. Each file gets its own scratch directory.
set -u
here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/../.." && pwd)
export REPO_ROOT=$repo
PASSED=0
FAILED=0
KNOWN=0
for t in "$here"/test_*.sh; do
	echo "== integration: $(basename "$t")"
	SCRATCH=$(mktemp -d "${TMPDIR:-/tmp}/raptor-it.XXXXXX")
	export SCRATCH
	# shellcheck source=/dev/null
	. "$here/lib.sh"
	# shellcheck source=/dev/null
	. "$t"
	cd "$repo" || exit 1
	rm -rf "$SCRATCH"
done
echo "integration: $PASSED passed, $FAILED failed, $KNOWN known gaps (KNOWN GAP lines above)"
[ "$FAILED" -eq 0 ]
