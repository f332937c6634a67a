#!/usr/bin/env bash
# Live test of the kernel-log gate: boot the real kernel (build/bzImage)
# under harness/run-vm.sh, have a fake test program write a KERN_WARNING
# line to /dev/kmsg between run-tests' BEGIN/END markers, and check that
# harness/tapcheck.py fails the run and names that program.  A second,
# clean boot (the same program without the write) must pass: the gate
# fails on the warning, not on the boot.  Prints TAP.
#
# The recorded-log tests (test_tapcheck.sh) prove tapcheck reads a report
# when it is in the log; this proves the report gets into the log: the
# guest console carries KERN_WARNING (a console at loglevel=4 would not),
# and the markers land in order with it.
#
# Each boot is the guest 'make check' boots (same CPUs, NUMA nodes, memory
# and kernel parameters; VM_* pass through), without build/tests in the
# initramfs.  Measured: about 11 s each under TCG with the debug KASAN
# kernel, on a 2-core host that was also building a kernel.
#
# Environment: BUILD (build/), GATE_LIVE_CONTROL=0 (skip the clean boot),
# GATE_LIVE_TIMEOUT (per boot, 300 s).
set -u
top=$(cd "$(dirname "$0")/../.." && pwd)
B=${BUILD:-$top/build}
export BUILD=$B
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
n=0
fails=0
warn='WARNING: CPU: 0 PID: 1 at gate-probe:1 live probe'
prog=kmsg_warn_probe
clean=kmsg_quiet_probe
# The boundary's DEBUG_VM tripwire, fired for real by the kernel
# (vm.mshare_tripwire_selftest): a WARN_ON from kernel code, not a line
# written to /dev/kmsg, must reach the log and fail the verdict as well.
trip=tripwire_probe
tripwarn='WARNING: CPU: [0-9]+ PID: [0-9]+ at mm/pgtable-generic.c:[0-9]+ (__pte_offset_map_lock|pte_offset_map_nolock)'

tap() {		# tap OK? NAME [DIAGNOSTIC...]
	local good=$1 name=$2
	shift 2
	n=$((n + 1))
	if [ "$good" = 1 ]; then
		echo "ok $n $name"
	else
		echo "not ok $n $name"
		fails=$((fails + 1))
		local d
		for d in "$@"; do printf '%s\n' "$d" | sed 's/^/#   /' | head -n 30; done
	fi
}
ok_if() {	# ok_if NAME DIAGNOSTIC CMD...: a result from CMD's exit code
	local name=$1 diag=$2
	shift 2
	if "$@"; then tap 1 "$name"; else tap 0 "$name" "$diag"; fi
}

echo "TAP version 13"
if [ ! -f "$B/bzImage" ]; then
	echo "1..1"
	echo "ok 1 live gate # SKIP no $B/bzImage (build the kernel first)"
	exit 0
fi

# The guest side: two fake test programs that print TAP like the real ones,
# run by the real run-tests (which writes the markers into the kernel log).
mkdir -p "$tmp/files"
cat > "$tmp/files/$prog" <<EOF
#!/bin/sh
echo "TAP version 13"
echo "1..1"
echo '<4>$warn' > /dev/kmsg
echo "ok 1 wrote a level-4 warning to /dev/kmsg"
EOF
cat > "$tmp/files/$clean" <<'EOF'
#!/bin/sh
echo "TAP version 13"
echo "1..1"
echo "ok 1 wrote nothing to /dev/kmsg"
EOF
cat > "$tmp/files/$trip" <<'EOF'
#!/bin/sh
echo "TAP version 13"
echo "1..1"
if echo 1 > /proc/sys/vm/mshare_tripwire_selftest; then
	echo "ok 1 ran the mshare tripwire selftest"
else
	echo "not ok 1 no vm.mshare_tripwire_selftest"
fi
EOF
chmod +x "$tmp/files/$prog" "$tmp/files/$clean" "$tmp/files/$trip"
echo "run-tests /files/$prog /files/$trip" > "$tmp/probe.job"
echo "run-tests /files/$clean" > "$tmp/clean.job"

boot() {	# boot NAME JOB: sets vmrc, secs
	local t0
	t0=$(date +%s)
	"$top/harness/run-vm.sh" --name "$1" --no-tests --files "$tmp/files" \
		--timeout "${GATE_LIVE_TIMEOUT:-300}" "$2" > "$tmp/$1.console" 2>&1
	vmrc=$?
	secs=$(( $(date +%s) - t0 ))
	echo "# $1: boot, job and poweroff took ${secs}s (run-vm rc=$vmrc)"
}
verdict() {	# verdict NAME: sets out, rc, last
	out=$(python3 "$top/harness/tapcheck.py" --job "$B/$1.job.log" --guest "$B/$1.guest.log" 2>&1)
	rc=$?
	last=$(printf '%s\n' "$out" | tail -n 1)
}

boot gate-probe "$tmp/probe.job"
glog=$B/gate-probe.guest.log
tap $((vmrc == 0)) "probe boot ran its job (run-vm rc=$vmrc)" "$(tail -n 20 "$tmp/gate-probe.console")"
ok_if "the probe's warning is in the guest log" "no '$warn' in $glog" \
	grep -qF "$warn" "$glog"
# The kernel log frames the warning with the probe's markers, in order.
framed=$(grep -nE "### (BEGIN|END) $prog|$warn" "$glog" | cut -d: -f2- |
	sed -E "s/.*### (BEGIN|END) $prog.*/\\1/; s/.*$warn.*/WARN/" | tr '\n' ' ')
tap $([ "$framed" = "BEGIN WARN END " ] && echo 1 || echo 0) \
	"the guest log has BEGIN, the warning, END, in that order" "got: '$framed'"
verdict gate-probe
tap $((rc != 0)) "tapcheck fails the probe run (rc=$rc)" "$out"
ok_if "tapcheck names the probe program with the warning" "$out" \
	grep -qE "^FAIL  kernel log \[$prog\] line [0-9]+: .*$warn" <<< "$out"
ok_if "tapcheck's last line is the summary" "last line: '$last'" \
	grep -qE '^[0-9]+ passed, [0-9]+ failed(, [0-9]+ skipped)?$' <<< "$last"
ok_if "the kernel's tripwire WARNING is in the guest log" "no '$tripwarn' in $glog" \
	grep -qE "$tripwarn" "$glog"
ok_if "tapcheck names the tripwire program with the kernel's WARNING" "$out" \
	grep -qE "^FAIL  kernel log \[$trip\] line [0-9]+: $tripwarn" <<< "$out"

if [ "${GATE_LIVE_CONTROL:-1}" != 0 ]; then
	boot gate-probe-clean "$tmp/clean.job"
	tap $((vmrc == 0)) "clean boot ran its job (run-vm rc=$vmrc)" "$(tail -n 20 "$tmp/gate-probe-clean.console")"
	verdict gate-probe-clean
	tap $([ "$rc" = 0 ] && [ "$last" = "1 passed, 0 failed" ] && echo 1 || echo 0) \
		"tapcheck passes the clean boot (rc=$rc, '$last')" \
		"$(grep -E '^FAIL' <<< "$out")" "guest log: $B/gate-probe-clean.guest.log"
fi
echo "1..$n"
exit $((fails != 0))
