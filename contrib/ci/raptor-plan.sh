#!/bin/sh
# raptor-plan.sh: what a pull or merge request does to the fleet, for CI.
# Validates the desired state at REF, compares it offline with the target
# branch (raptor plan --offline --against BASE: no host contacted) and, with
# --live, plans it against the real fleet as well. Writes the results into
# OUTDIR for the CI system to publish; the GitHub Actions and GitLab CI
# examples beside this file call it, so they stay a few lines each.
#
#   raptor-plan.sh --against BASE [--ref REF] [--repo DIR] [--out OUTDIR]
#                  [--live] [--state-dir DIR]
#
#   --against BASE  the target branch's commit (a ref or commit id)
#   --ref REF       the change (default HEAD)
#   --repo DIR      the git repository holding both (default .)
#   --out OUTDIR    where results go (default raptor-plan)
#   --live          also `raptor plan --out OUTDIR/plan.json
#                   --detailed-exitcode`; the runner must reach every host
#                   and hold the credentials the desired state names
#   --state-dir DIR raptor's state directory for --live (its hosts.json
#                   adds hosts no squad lists any more)
#
# OUTDIR holds validate.txt, plan.txt (offline), plan-offline.json and
# plan.md (a Markdown report); with --live also plan-live.txt and plan.json.
# plan.md is appended to $GITHUB_STEP_SUMMARY when that is set.
#
# Environment: RAPTOR, the raptor binary (default raptor on PATH);
# RAPTOR_ALLOW_MASS_STOP=1 makes a tripped mass-stop guard a note, not a
# failure, for a change whose mass stop is meant.
#
# Exit: 0 the plan is made (changes or not); 1 the desired state at REF is
# invalid or raptor failed; 3 the mass-stop guard trips.

set -u
raptor=${RAPTOR:-raptor}
against='' ref=HEAD repo=. out=raptor-plan live=no state_dir=''

# usage STATUS: the synopsis above, on stdout (--help) or stderr (errors)
usage() {
	if [ "$1" = 0 ]; then
		sed -n '9,20p' "$0" | sed 's/^# \{0,1\}//'
	else
		sed -n '9,20p' "$0" | sed 's/^# \{0,1\}//' >&2
	fi
	exit "$1"
}

while [ $# -gt 0 ]; do
	case $1 in
	--against | --ref | --repo | --out | --state-dir)
		[ $# -ge 2 ] || usage 1
		case $1 in
		--against) against=$2 ;;
		--ref) ref=$2 ;;
		--repo) repo=$2 ;;
		--out) out=$2 ;;
		--state-dir) state_dir=$2 ;;
		esac
		shift 2
		;;
	--live)
		live=yes
		shift
		;;
	-h | --help) usage 0 ;;
	*)
		echo "raptor-plan.sh: unknown argument: $1" >&2
		usage 1
		;;
	esac
done
if [ -z "$against" ]; then
	echo "raptor-plan.sh: --against BASE is required" >&2
	usage 1
fi
if ! command -v "$raptor" >/dev/null 2>&1; then
	echo "raptor-plan.sh: '$raptor' not found; put raptor on PATH or set RAPTOR" >&2
	exit 1
fi
mkdir -p "$out" || exit 1
md=$out/plan.md

# guard FILE: prints true or false, the guard of a plan's JSON. raptor
# writes it indented, one key per line, and only the guard object has a
# "tripped" key; anything but exactly one answer is "unknown".
guard() {
	g=$(sed -n \
		-e 's/^[[:space:]]*"tripped":[[:space:]]*true[[:space:]]*,\{0,1\}[[:space:]]*$/true/p' \
		-e 's/^[[:space:]]*"tripped":[[:space:]]*false[[:space:]]*,\{0,1\}[[:space:]]*$/false/p' "$1")
	case $g in
	true | false) echo "$g" ;;
	*) echo unknown ;;
	esac
}

# fence FILE: FILE as a Markdown code block
fence() {
	echo '```text'
	cat "$1"
	echo '```'
}

# publish: plan.md to the job log, and to GitHub's job summary on GitHub
publish() {
	cat "$md"
	if [ -n "${GITHUB_STEP_SUMMARY:-}" ]; then
		cat "$md" >>"$GITHUB_STEP_SUMMARY"
	fi
}

short() { git -C "$repo" rev-parse --short "$1^{commit}" 2>/dev/null || echo "$1"; }

echo "## raptor: $ref ($(short "$ref")) against $against ($(short "$against"))" >"$md"
echo >>"$md"

if ! "$raptor" validate --repo "$repo" --ref "$ref" >"$out/validate.txt" 2>&1; then
	{
		echo "**The desired state does not validate.**"
		echo
		fence "$out/validate.txt"
	} >>"$md"
	publish
	exit 1
fi
{
	cat "$out/validate.txt"
	echo
} >>"$md"

status=0
mass_stop=no
# the base may predate a stricter raptor; the change that repairs it must
# still get its plan, so an invalid base is a note, not a failure
if ! "$raptor" validate --repo "$repo" --ref "$against" >/dev/null 2>&1; then
	{
		echo "The desired state at $against does not validate with this raptor, so there is"
		echo "no offline comparison; the live mass-stop guard of \`raptor apply\` still applies."
		echo
	} >>"$md"
	: >"$out/plan.txt"
	: >"$out/plan-offline.json"
elif ! "$raptor" plan --offline --against "$against" --repo "$repo" --ref "$ref" \
	>"$out/plan.txt" 2>"$out/plan.err" ||
	! "$raptor" plan --offline --against "$against" --repo "$repo" --ref "$ref" --json \
		>"$out/plan-offline.json" 2>>"$out/plan.err"; then
	{
		echo "**raptor plan --offline failed:**"
		echo
		fence "$out/plan.err"
	} >>"$md"
	publish
	exit 1
else
	{
		echo "### Offline plan (no host contacted)"
		echo
		fence "$out/plan.txt"
		echo
	} >>"$md"
	case $(guard "$out/plan-offline.json") in
	false) ;;
	true) mass_stop=yes ;;
	*)
		echo "**Cannot read the mass-stop guard from \`$out/plan-offline.json\`.**" >>"$md"
		status=1
		;;
	esac
fi
rm -f "$out/plan.err"

if [ "$live" = yes ]; then
	set -- plan --repo "$repo" --ref "$ref" --out "$out/plan.json" --detailed-exitcode
	[ -n "$state_dir" ] && set -- "$@" --state-dir "$state_dir"
	"$raptor" "$@" >"$out/plan-live.txt" 2>"$out/plan-live.err"
	rc=$?
	echo "### Live plan (the fleet as it is now)" >>"$md"
	echo >>"$md"
	case $rc in
	0 | 2)
		if [ "$rc" = 2 ]; then
			echo "Changes are pending." >>"$md"
		else
			echo "Nothing to do: the fleet already runs this." >>"$md"
		fi
		echo >>"$md"
		fence "$out/plan-live.txt" >>"$md"
		case $(guard "$out/plan.json") in
		false) ;;
		true) mass_stop=yes ;;
		*)
			echo "**Cannot read the mass-stop guard from \`$out/plan.json\`.**" >>"$md"
			status=1
			;;
		esac
		;;
	*)
		{
			echo "**raptor plan failed (exit $rc):**"
			echo
			cat "$out/plan-live.txt" "$out/plan-live.err" >"$out/plan-live.log"
			fence "$out/plan-live.log"
		} >>"$md"
		status=1
		;;
	esac
	cat "$out/plan-live.err" >&2
	rm -f "$out/plan-live.err" "$out/plan-live.log"
	echo >>"$md"
fi

if [ "$mass_stop" = yes ]; then
	if [ "${RAPTOR_ALLOW_MASS_STOP:-}" = 1 ]; then
		echo "**Mass stop allowed** (RAPTOR_ALLOW_MASS_STOP=1): the deploy needs \`--allow-mass-stop\`." >>"$md"
	else
		echo "**The mass-stop guard trips**: raptor apply (and the pre-receive hook) would refuse this." >>"$md"
		[ "$status" = 0 ] && status=3
	fi
fi
publish
exit "$status"
