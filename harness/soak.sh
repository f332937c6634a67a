#!/usr/bin/env bash
# make soak DURATION=30m [SEED=S] [CHUNK=600]: one boot of the debug kernel
# that alternates mshare_fuzz (chunks of CHUNK seconds, seeds SEED, SEED+1,
# ...) and mshare_stress until DURATION is up, then gates the run with
# tapcheck.py like make check (every test result, and every kernel report in
# the guest log).  Each program's memory-baseline check stays meaningful
# because the two never run at once.  The last line is tapcheck's
# "N passed, N failed".
#
# DURATION: seconds, or a number with s, m or h.  SEED: the first chunk's
# seed (default: drawn and printed).  FUZZ_ARGS: more mshare_fuzz options
# (--workers N, --no-hugetlb).  Logs: build/soak.{job,guest}.log.
set -uo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
B=${BUILD:-$top/build}
dur=${DURATION:-30m}
case "$dur" in
*h) secs=$(( ${dur%h} * 3600 )) ;;
*m) secs=$(( ${dur%m} * 60 )) ;;
*s) secs=${dur%s} ;;
*) secs=$dur ;;
esac
case "$secs" in
'' | *[!0-9]*) echo "soak: DURATION=$dur is not a duration (30m, 2h, 900s)" >&2; exit 2 ;;
esac
seed=${SEED:-$(( $(od -An -N4 -tu4 /dev/urandom) ))}
chunk=${CHUNK:-600}
fargs=${FUZZ_ARGS:-}
echo "soak: $secs s, first seed $seed, fuzz chunks of $chunk s${fargs:+ ($fargs)} (replay a chunk: mshare_fuzz --seed S --seconds $chunk)"

job=$B/soak.job
cat > "$job" <<EOF
# Guest job of make soak (harness/soak.sh)
kmark() { echo "<7>\$*" > /dev/kmsg; }
frame() {
	name=\$1; shift
	echo "### BEGIN \$name"
	kmark "### BEGIN \$name"
	echo "### MEMINFO-BEFORE \$name \$(grep -E '^(PageTables|Shmem|AnonPages):' /proc/meminfo | tr -s ' ' | tr '\n' ' ')"
	timeout -s KILL \$(( $chunk + 900 )) "\$@"
	rc=\$?
	echo "### MEMINFO-AFTER \$name \$(grep -E '^(PageTables|Shmem|AnonPages):' /proc/meminfo | tr -s ' ' | tr '\n' ' ')"
	echo "### END \$name rc=\$rc"
	kmark "### END \$name rc=\$rc"
}
cd /tmp
end=\$(( \$(date +%s) + $secs ))
k=0
while :; do
	left=\$(( end - \$(date +%s) ))
	[ \$left -gt 30 ] || break
	t=$chunk
	[ \$left -lt \$t ] && t=\$left
	frame "mshare_fuzz#\$k" /tests/mshare_fuzz --seed \$(( $seed + k )) --seconds \$t $fargs
	[ \$(( end - \$(date +%s) )) -gt 30 ] || break
	frame "mshare_stress#\$k" /tests/mshare_stress
	k=\$(( k + 1 ))
done
EOF
t0=$(date +%s)
"$top/harness/run-vm.sh" --name soak --timeout $(( secs + 2400 )) "$job" > "$B/soak.console" 2>&1
vmrc=$?
echo "[time] soak: $(( $(date +%s) - t0 ))s" >&2
grep -E '^(ok|not ok|### (BEGIN|END)|# seed|# [0-9]+ ops|#  +(RUN|OK|FAIL)|run-vm:)' "$B/soak.console" || true
[ $vmrc = 0 ] || echo "soak: the VM run failed (rc=$vmrc); guest log: $B/soak.guest.log"
python3 "$top/harness/tapcheck.py" --quiet --job "$B/soak.job.log" --guest "$B/soak.guest.log"
