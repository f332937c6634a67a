#!/usr/bin/env bash
# The unpatched kernel's results of the mm selftests that make check runs
# (tests/mm-selftests/list), recorded in tests/mm-selftests/baseline.txt.
#
#   harness/mm-selftests-baseline.sh
#
# Builds the same Debian linux-source-6.12 without this repo's patches and
# files, from the same configs/ fragments except the mshare ones, in
# build/unpatched/ (ccache is shared), boots it with the same QEMU set-up
# and runs the same static selftest binaries (build/tests/mm, built by
# make tests) through the same guest runner.  Then writes the baseline
# with the date and the kernel.  Commit the result.
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
B=${BUILD:-$top/build}
U=$B/unpatched
tarball=/usr/src/linux-source-6.12.tar.xz
have=$(dpkg-query -W -f='${Version}' linux-source-6.12)
out=${MM_BASELINE:-$top/tests/mm-selftests/baseline.txt}

t0=$(date +%s)
tree=$U/linux
if [ ! -f "$tree/.mshare/unpacked" ] || [ "$(cat "$tree/.mshare/unpacked")" != "$have" ]; then
	echo "mm-baseline: unpacking linux-source-6.12 $have into $tree (no patches)"
	rm -rf "$tree" "$U/linux.tmp"
	mkdir -p "$U/linux.tmp"
	tar -xf "$tarball" -C "$U/linux.tmp"
	mv "$U/linux.tmp/linux-source-6.12" "$tree"
	rmdir "$U/linux.tmp"
	mkdir -p "$tree/.mshare"
	echo "$have" > "$tree/.mshare/unpacked"
fi
frags=$(ls "$top"/configs/*.config | grep -v '/mshare[^/]*\.config$' | sort)
BUILD=$U KCONFIG_FRAGMENTS="$frags" "$top/harness/kernel-build.sh"
echo "[time] mm-baseline kernel: $(( $(date +%s) - t0 ))s"

# The selftest binaries, as make check runs them (built with the patched
# kernel's uapi headers: a superset of the unpatched ones).
make -s -C "$top" tests
# The guest gets the runner and the binaries only.
rm -rf "$U/tests"
mkdir -p "$U/tests"
cp -a "$B/tests/mm" "$U/tests/mm"
cp "$B/tests/mm_selftests" "$B/tests/mm_selftests.timeout" "$U/tests/"
echo mm_selftests > "$U/tests/LIST"
printf 'run-tests mm_selftests\n' > "$U/mm-baseline.job"
t0=$(date +%s)
rc=0
BUILD=$U "$top/harness/run-vm.sh" --name mm-baseline --timeout "${MM_TIMEOUT:-3000}" \
	"$U/mm-baseline.job" > "$U/mm-baseline.console" 2>&1 || rc=$?
echo "[time] mm-baseline boot-and-tests: $(( $(date +%s) - t0 ))s"
[ $rc = 0 ] || { echo "mm-baseline: the VM run failed (rc=$rc); see $U/mm-baseline.guest.log" >&2; exit 1; }
grep '^# MMST RESULT' "$U/mm-baseline.job.log" || true
# The kernel reports the unpatched kernel gives (informational: these
# would fail make check if the patched kernel gave them).
python3 "$top/harness/tapcheck.py" --quiet --job "$U/mm-baseline.job.log" \
	--guest "$U/mm-baseline.guest.log" | sed 's/^/mm-baseline: tapcheck: /' || true
kernel=$(sed -n 's/^# MMST KERNEL //p' "$U/mm-baseline.job.log" | head -n 1)
python3 "$top/harness/mm-selftests-compare.py" --job "$U/mm-baseline.job.log" \
	--write-baseline "$out" \
	--header "The kernel's mm selftests on the UNPATCHED kernel: the baseline that make check compares with" \
	--header "regenerate: harness/mm-selftests-baseline.sh (then commit this file)" \
	--header "date: $(date -u '+%Y-%m-%d %H:%M UTC')" \
	--header "source: Debian linux-source-6.12 $have, no patches; configs: $(for f in $frags; do basename "$f"; done | tr '\n' ' ')" \
	--header "kernel: $kernel" \
	--header "guest: qemu TCG, ${VM_CPUS:-2} CPUs, ${VM_MEM:-4G}, same run-vm.sh and runner as make check"
echo "mm-baseline: wrote $out"
