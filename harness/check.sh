#!/usr/bin/env bash
# make check: host-side tests, then every test program in the VM, then the
# verdict.  The very last line is "N passed, N failed[, N skipped]".
set -uo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
B=${BUILD:-$top/build}
P=$top/harness/phase.sh
mkdir -p "$B"
$P host-tests bash "$top/tests/host/test_tapcheck.sh" > "$B/host-tests.tap"
cat "$B/host-tests.tap"
rm -f "$B/check.job.log" "$B/check.guest.log"
$P boot-and-tests "$top/harness/run-vm.sh" --name check --timeout "${CHECK_TIMEOUT:-2400}" \
	"$top/harness/check-job.sh" > "$B/check.console" 2>&1
vmrc=$?
cat "$B/check.console" | grep -E '^(ok|not ok|### (BEGIN|END)|#  +(RUN|OK|FAIL)|# .*(: |PASSED|FAILED)|\[time\]|run-vm:)' || true
[ $vmrc = 0 ] || echo "check: the VM run failed (rc=$vmrc); guest log: $B/check.guest.log"
python3 "$top/harness/tapcheck.py" --quiet --tap host="$B/host-tests.tap" \
	--job "$B/check.job.log" --guest "$B/check.guest.log"
