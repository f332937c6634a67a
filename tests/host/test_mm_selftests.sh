#!/usr/bin/env bash
# Host-side tests of harness/mm-selftests-compare.py on recorded job logs
# (tests/host/samples/mm).  Prints TAP.  They prove the comparison with the
# unpatched kernel's baseline can fail: a test or a subtest that passes in
# the baseline and fails, is killed, is missing or never finished must give
# "not ok" and exit 1, as must a test without a baseline; a test that fails
# unpatched too must not.
set -u
here=$(cd "$(dirname "$0")" && pwd)
cmp="python3 $here/../../harness/mm-selftests-compare.py"
S=$here/samples/mm
n=0
# check NAME WANT-RC JOB [REGEX...]: each REGEX (grep -E) must match a line
# of the output; one starting with '!' must match none.
check() {
	local name=$1 want=$2 job=$3 out rc re bad=
	shift 3
	out=$($cmp --job "$S/$job" --baseline "$S/baseline.txt" 2>&1)
	rc=$?
	for re in "$@"; do
		case "$re" in
		!*) printf '%s\n' "$out" | grep -qE -- "${re#!}" && bad="$bad output has '${re#!}';" ;;
		*) printf '%s\n' "$out" | grep -qE -- "$re" || bad="$bad no '$re' in output;" ;;
		esac
	done
	n=$((n + 1))
	if [ "$rc" = "$want" ] && [ -z "$bad" ]; then
		echo "ok $n - $name"
	else
		echo "not ok $n - $name"
		echo "#   want rc=$want, got rc=$rc;$bad"
		printf '%s\n' "$out" | sed 's/^/#     /'
	fi
}
echo "TAP version 13"
echo "1..10"
check "same results as the baseline pass" 0 clean.job.log \
	'^ok 1 - mm/alpha: pass' '^ok 2 - mm/beta: fail .*# SKIP' '^ok 3 - mm/gamma: skip .*# SKIP' '!^not ok'
check "a test that passes unpatched and fails patched fails" 1 regress.job.log \
	'^not ok 1 - mm/alpha: fail \(rc=1\), passes unpatched.*second check \(fail\)' '^ok 2 - mm/beta'
check "a subtest that passes unpatched fails, though its test fails unpatched too" 1 subregress.job.log \
	'^ok 1 - mm/alpha' '^not ok 2 - mm/beta: 1 subtests .*works \(fail\)'
check "a test killed by its timeout fails, its lost subtests named" 1 killed.job.log \
	'^not ok 1 - mm/alpha: fail \(rc=137\).*second check \(missing\)'
check "a test without a baseline fails" 1 nobase.job.log \
	'^not ok 4 - mm/delta: no baseline'
check "a test that did not run fails" 1 missing.job.log \
	'^not ok 1 - mm/alpha: did not run'
check "a test that never finished fails" 1 crash.job.log \
	'^not ok 1 - mm/alpha: unfinished'
out=$($cmp --job /dev/null --baseline "$S/baseline.txt" 2>&1); rc=$?
if [ $rc = 1 ] && printf '%s\n' "$out" | grep -q '^not ok 1 - mm selftests: no results'; then
	echo "ok 8 - a job log without mm selftest results fails"
else
	echo "not ok 8 - a job log without mm selftest results fails (rc=$rc)"
fi
tmp=$(mktemp)
$cmp --job "$S/clean.job.log" --write-baseline "$tmp" --header "sample" >/dev/null 2>&1
if diff <(grep -v '^#' "$S/baseline.txt") <(grep -v '^#' "$tmp") >/dev/null; then
	echo "ok 9 - --write-baseline records what --baseline reads"
else
	echo "not ok 9 - --write-baseline records what --baseline reads"
	diff "$S/baseline.txt" "$tmp" | sed 's/^/#   /'
fi
rm -f "$tmp"
out=$($cmp --job "$S/clean.job.log" --baseline "$S/no-such-baseline.txt" 2>&1); rc=$?
if [ $rc = 1 ] && printf '%s\n' "$out" | grep -q '^not ok 1 - mm selftests: no baseline'; then
	echo "ok 10 - a missing baseline file fails"
else
	echo "not ok 10 - a missing baseline file fails (rc=$rc)"
fi
