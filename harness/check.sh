#!/usr/bin/env bash
# make check: host-side tests, then every test program in the VM, then the
# verdict.  The very last line is "N passed, N failed[, N skipped]".
set -uo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
B=${BUILD:-$top/build}
mkdir -p "$B"
bash "$top/tests/host/test_tapcheck.sh" > "$B/host-tests.tap"
cat "$B/host-tests.tap"
# the mm-selftest comparison with the unpatched baseline, on recorded logs
bash "$top/tests/host/test_mm_selftests.sh" > "$B/host-mm.tap" 2>&1
grep -v '^ok' "$B/host-mm.tap" || true
# libmshare's build, install and exports; the CLI's size/format unit tests
bash "$top/tests/host/test_libmshare_build.sh" "$B/hdr/include" > "$B/host-lib.tap" 2>&1
grep -v '^ok' "$B/host-lib.tap" || true
make -s -C "$top/userspace/mshare" O="$B/cli-host" LIBMSHARE="$B/libmshare/libmshare.a" \
	EXTRA_CFLAGS="-isystem $B/hdr/include" check > "$B/host-cli.tap" 2>&1
grep -v '^ok' "$B/host-cli.tap" || true
# mshare-run: build, install, exports, options, and pass-through on this
# host's kernel (which has no mshare)
bash "$top/tests/host/test_mshare_run.sh" "$B/hdr/include" > "$B/host-run.tap" 2>&1
grep -v '^ok' "$B/host-run.tap" || true
t0=$(date +%s)
bash "$top/harness/lint.sh" > "$B/lint.tap"
echo "[time] kernel-lint: $(( $(date +%s) - t0 ))s" >&2
grep -v '^ok' "$B/lint.tap" || true
# The kernel-log gate, live: a boot whose job writes a WARNING to /dev/kmsg
# must fail tapcheck and be named after its program; a clean boot must pass.
t0=$(date +%s)
bash "$top/tests/host/test_gate_live.sh" > "$B/gate-live.tap" 2> "$B/gate-live.err"
echo "[time] gate-live: $(( $(date +%s) - t0 ))s" >&2
grep -v '^ok' "$B/gate-live.tap" || true
rm -f "$B/check.job.log" "$B/check.guest.log"
# KMEMLEAK=1: boot with kmemleak on; check-job.sh scans after the suite.
[ "${KMEMLEAK:-0}" = 1 ] && export VM_APPEND="${VM_APPEND:-} kmemleak=on"
vm() {
	"$top/harness/run-vm.sh" --name check --timeout "${CHECK_TIMEOUT:-3600}" \
		"$top/harness/check-job.sh" > "$B/check.console" 2>&1
}
t0=$(date +%s)
vm
vmrc=$?
echo "[time] boot-and-tests: $(( $(date +%s) - t0 ))s" >&2
cat "$B/check.console" | grep -v '^#| ' | grep -E '^(ok|not ok|### (BEGIN|END)|#  +(RUN|OK|FAIL)|# .*(: |PASSED|FAILED)|\[time\]|run-vm:)' || true
[ $vmrc = 0 ] || echo "check: the VM run failed (rc=$vmrc); guest log: $B/check.guest.log"
# The kernel's mm selftests against the unpatched kernel's baseline: a test
# (or subtest) that passes unpatched must pass here.
python3 "$top/harness/mm-selftests-compare.py" --job "$B/check.job.log" \
	--baseline "$top/tests/mm-selftests/baseline.txt" > "$B/mm-selftests.tap"
grep -v '^ok' "$B/mm-selftests.tap" || true
# The production flavour (build/bzImage-prod: no KASAN, lockdep or
# DEBUG_VM; PARAVIRT, so page tables are freed through RCU): one boot that
# runs the test programs again, all but those that need a debug option
# (CHECK_PROD_SKIP: mshare_limits counts TLB flushes in /proc/vmstat, which
# needs DEBUG_TLBFLUSH; mshare_failnth needs fault injection; mm_selftests'
# baseline is the debug configuration's), or CHECK_PROD_TESTS if set, and make bench's smoke
# test (bench-smoke: mshare's page tables at least 10x below MAP_SHARED's
# at N=100, S=256 MiB), through the same gate.
prod_skip=${CHECK_PROD_SKIP:-mshare_limits mshare_failnth mm_selftests}
prod_tests=${CHECK_PROD_TESTS:-$(grep -vxF "$(printf '%s\n' $prod_skip)" "$B/tests/LIST" | tr '\n' ' ')}
rm -f "$B/check-prod.job.log" "$B/check-prod.guest.log"
# the fuzzer runs check-job.sh's fixed seed here too
seed=$(sed -n 's/^export MSHARE_FUZZ_SEED=.*:-\(0x[0-9a-f]*\)}$/\1/p' "$top/harness/check-job.sh")
printf 'export MSHARE_FUZZ_SEED=%s\nrun-tests %s /tests/bin/bench-smoke\n' "$seed" "$prod_tests" > "$B/check-prod.job"
t0=$(date +%s)
"$top/harness/run-vm.sh" --kernel prod --name check-prod --timeout "${CHECK_TIMEOUT:-2400}" \
	"$B/check-prod.job" > "$B/check-prod.console" 2>&1
prodrc=$?
echo "[time] boot-and-tests-prod: $(( $(date +%s) - t0 ))s" >&2
sed 's/^/prod: /' "$B/check-prod.console" | grep -E '^prod: (ok|not ok|### (BEGIN|END)|#  +(RUN|OK|FAIL)|# .*(: |PASSED|FAILED)|\[time\]|run-vm:)' || true
[ $prodrc = 0 ] || echo "check: the prod VM run failed (rc=$prodrc); guest log: $B/check-prod.guest.log"
python3 "$top/harness/tapcheck.py" --quiet --tap host="$B/host-tests.tap" \
	--tap host-lib="$B/host-lib.tap" --tap host-cli="$B/host-cli.tap" --tap host-mm="$B/host-mm.tap" --tap host-run="$B/host-run.tap" --tap lint="$B/lint.tap" \
	--tap gate-live="$B/gate-live.tap" --tap mm-selftests="$B/mm-selftests.tap" \
	--job "$B/check.job.log" --guest "$B/check.guest.log" \
	--run prod="$B/check-prod.job.log,$B/check-prod.guest.log"
