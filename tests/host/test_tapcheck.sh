#!/usr/bin/env bash
# Host-side tests of harness/tapcheck.py on recorded logs.  Prints TAP.
# These prove the gate can fail: a failed assertion, a crashed program, a
# short plan and each kind of kernel report must all give a non-zero exit.
set -u
here=$(cd "$(dirname "$0")" && pwd)
tc="python3 $here/../../harness/tapcheck.py"
S=$here/samples
n=0
fails=0
# check NAME EXPECTED-RC EXPECTED-LAST-LINE ARGS...
check() {
	local name=$1 want_rc=$2 want_line=$3
	shift 3
	local out rc last
	out=$($tc "$@" 2>&1)
	rc=$?
	last=$(printf '%s\n' "$out" | tail -n 1)
	n=$((n + 1))
	if [ "$rc" = "$want_rc" ] && [ "$last" = "$want_line" ]; then
		echo "ok $n $name"
	else
		echo "not ok $n $name"
		echo "#   want rc=$want_rc last='$want_line'; got rc=$rc last='$last'"
		fails=$((fails + 1))
	fi
}
echo "TAP version 13"
echo "1..12"
check "clean run passes" 0 "2 passed, 0 failed, 1 skipped" --job $S/clean.job.log --guest $S/clean.guest.log
check "WARNING in guest log fails a clean TAP run" 1 "2 passed, 1 failed, 1 skipped" --job $S/clean.job.log --guest $S/warn.guest.log
check "lockdep report fails" 1 "2 passed, 1 failed, 1 skipped" --job $S/clean.job.log --guest $S/lockdep.guest.log
check "Bad rss-counter fails" 1 "2 passed, 1 failed, 1 skipped" --job $S/clean.job.log --guest $S/rss.guest.log
check "KASAN report fails" 1 "2 passed, 1 failed, 1 skipped" --job $S/clean.job.log --guest $S/kasan.guest.log
check "failed assertion fails" 1 "1 passed, 1 failed" --job $S/fail.job.log --guest $S/clean.guest.log
check "crashed program and unfinished job fail" 1 "2 passed, 2 failed" --job $S/crash.job.log
check "short plan fails" 1 "2 passed, 1 failed" --job $S/short.job.log
check "non-zero exit fails" 1 "1 passed, 1 failed" --job $S/rc.job.log
check "program with no TAP fails" 1 "0 passed, 1 failed" --job $S/empty.job.log
check "missing job log fails" 1 "0 passed, 2 failed" --job $S/does-not-exist.log
check "plain TAP file counts" 1 "1 passed, 1 failed" --tap x=$S/../samples/fail.job.log
exit $((fails != 0))
