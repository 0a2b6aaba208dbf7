# Shared by the integration tests: a scratch directory removed on exit,
# a runner that captures stdout, stderr and the exit code, and assertions
# that count. Each test file is sourced by run.sh, which prints the totals.

: "${RAPTOR:?RAPTOR must name the raptor binary under test}"
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
export NO_COLOR=1

# run CMD...: sets $out, $err, $rc
run() {
	local o e
	o=$(mktemp "$SCRATCH/out.XXXXXX")
	e=$(mktemp "$SCRATCH/err.XXXXXX")
	"$@" >"$o" 2>"$e"
	rc=$?
	out=$(cat "$o")
	err=$(cat "$e")
	rm -f "$o" "$e"
}

pass() {
	PASSED=$((PASSED + 1))
	[ -n "${VERBOSE:-}" ] && echo "  ok: $1"
	return 0
}

fail() {
	FAILED=$((FAILED + 1))
	echo "  FAIL: $1"
	[ -n "${2:-}" ] && printf '    %s\n' "$2"
	printf '    rc=%s\n    stdout: %s\n    stderr: %s\n' "$rc" "$out" "$err" | head -n 20
	return 0
}

# known NAME WHY: a check that fails because of a known gap in raptor,
# written as it should behave and named in the session notes: shown on
# every run and counted apart, so it neither hides nor fails the suite
known() {
	KNOWN=$((${KNOWN:-0} + 1))
	echo "  KNOWN GAP: $1"
	[ -n "${2:-}" ] && printf '    %s\n' "$2" | head -n 3
	return 0
}

# expect_rc NAME WANT
expect_rc() {
	if [ "$rc" = "$2" ]; then pass "$1: exit $2"; else fail "$1: exit $rc, want $2"; fi
}

# expect_in NAME HAYSTACK NEEDLE
expect_in() {
	case "$2" in
	*"$3"*) pass "$1" ;;
	*) fail "$1" "missing: $3" ;;
	esac
}

# expect_not_in NAME HAYSTACK NEEDLE
expect_not_in() {
	case "$2" in
	*"$3"*) fail "$1" "should not contain: $3" ;;
	*) pass "$1" ;;
	esac
}

# a git with a fixed identity and no user or system config
git_() {
	GIT_CONFIG_NOSYSTEM=1 HOME="$SCRATCH" GIT_AUTHOR_NAME=raptor-test \
		GIT_AUTHOR_EMAIL=test@raptor.invalid GIT_COMMITTER_NAME=raptor-test \
		GIT_COMMITTER_EMAIL=test@raptor.invalid git -c init.defaultBranch=main "$@"
}
