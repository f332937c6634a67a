#!/usr/bin/env bash
# make bench: mshare against MAP_SHARED memfd (4 KiB pages), memfd with
# shmem THP, hugetlbfs (2 MiB pages, 1 GiB-aligned: mainline PMD sharing)
# and MAP_SHARED of an ext4 file, measured side by side in one boot of the
# production kernel (build/bzImage-prod).  Every figure is measured in the
# guest; the host only divides, tabulates and plots (harness/bench-report.py).
#
#   make bench                 the full run (N up to 1000, S up to 4 GiB)
#   make bench QUICK=1         a few minutes: S = 256 MiB, N = 1, 10, 100
#   make bench N="1 10" S="256M 1G"   figure 1 at these N and S (the other
#                              figures as in the mode chosen)
#
# Environment: QUICK, BENCH_N, BENCH_S (what N= and S= set), BENCH_FIGS
# (default "pt attach mprotect lifecycle ipi pgbench"), BENCH_MEM (guest memory;
# 6G quick, 16G full), BENCH_CPUS (4: the IPI figure needs 4),
# BENCH_TIMEOUT (seconds), BENCH_KERNEL (prod; debug or a bzImage path to
# try the harness on another kernel), BENCH_FAULT_AROUND (bytes; unset: the kernel's
# default 64 KiB).
#
# Output: tables on stdout (also in build/bench/report.txt), and
# build/bench/{pagetables,attach,mprotect,lifecycle,ipi}.csv, results.json,
# pagetables.png and .svg; the guest's own output in build/bench/guest.txt.
# The pgbench group: build/bench/pgbench-{plain-mshare,mshare-plain}.txt
# (and build/pgbench.*: the last boot's).
set -uo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
B=${BUILD:-$top/build}
out=$B/bench
quick=${QUICK:-}
[ "$quick" = 0 ] && quick=
figs=${BENCH_FIGS:-pt attach mprotect lifecycle ipi pgbench}
# The pgbench group (PostgreSQL plainly and under mshare-run) is its own
# boot: bench/pgbench.sh, after the others.
pgbench=
case " $figs " in *" pgbench "*) pgbench=1 ;; esac
figs=$(echo " $figs " | sed 's/ pgbench / /g; s/^ *//; s/ *$//')

die() { echo "bench: $*" >&2; exit 2; }
# A size (256M, 1G, 1024) in MiB.
mib() {
	[[ $1 =~ ^([0-9]+)([MmGg]?)(i?B)?$ ]] || die "bad size '$1' (256M, 1G, ...)"
	case "${BASH_REMATCH[2]}" in
	[Gg]) echo $(( BASH_REMATCH[1] * 1024 )) ;;
	*) echo "${BASH_REMATCH[1]}" ;;
	esac
}

# Figure 1's matrix: "S_MiB:N N N" sets.
if [ -n "$quick" ]; then
	mode=quick
	pt_sets=("256:1 10 100")
	attach_s=256 attach_k="1 10"
	mprot_s=16 mprot_n="10 100"
	life_s="256" forks=100 reps=3
	ipi_s=16 ipi_reps=20
	mem=${BENCH_MEM:-6G}
	timeout=${BENCH_TIMEOUT:-2400}
else
	mode=full
	pt_sets=("1024:1 10 100 1000" "256:100" "4096:100")
	attach_s=1024 attach_k="1 10 100"
	mprot_s=64 mprot_n="10 100 1000"
	life_s="1024 4096" forks=1000 reps=3
	ipi_s=16 ipi_reps=50
	mem=${BENCH_MEM:-16G}
	timeout=${BENCH_TIMEOUT:-14400}
fi
if [ -n "${BENCH_N:-}" ] || [ -n "${BENCH_S:-}" ]; then
	ns=${BENCH_N:-$([ -n "$quick" ] && echo "1 10 100" || echo "1 10 100 1000")}
	for n in $ns; do [[ $n =~ ^[0-9]+$ ]] && [ "$n" -ge 1 ] || die "bad N '$n'"; done
	pt_sets=()
	for s in ${BENCH_S:-$([ -n "$quick" ] && echo 256M || echo 1G)}; do
		pt_sets+=("$(mib "$s"):$ns")
	done
fi
smax=0
for set in "${pt_sets[@]}"; do s=${set%%:*}; [ "$s" -gt $smax ] && smax=$s; done
for s in $life_s $attach_s; do [ "$s" -gt $smax ] && smax=$s; done

mkdir -p "$out"
rm -f "$out"/*.csv "$out"/results.json "$out"/guest.txt "$out"/pgbench*.txt
# The pgbench group: two boots, one per order of the modes (under TCG the
# server that runs first in a boot did better in both orders), each table
# in build/bench/pgbench-ORDER.txt and in the report.
run_pgbench() {
	local order rc=0

	for order in "plain mshare" "mshare plain"; do
		echo "bench: the pgbench group, modes in the order: $order (bench/pgbench.sh, a boot of its own)"
		if QUICK="$quick" PGB_MODES="$order" "$top/bench/pgbench.sh"; then
			cp "$B/pgbench.txt" "$out/pgbench-${order// /-}.txt"
			{ echo; echo "== PostgreSQL (pgbench), plainly and under mshare-run, in the order: $order"
			  cat "$B/pgbench.txt"; } >> "$out/report.txt"
		else
			echo "bench: the pgbench group ($order) failed (build/pgbench.job.log)" >&2
			rc=1
		fi
	done
	return $rc
}
if [ -z "$figs" ]; then
	[ -n "$pgbench" ] || die "no figure to run (BENCH_FIGS)"
	: > "$out/report.txt"
	run_pgbench
	rc=$?
	cat "$out/report.txt"
	exit $rc
fi
{
	echo "FIGS='$figs' MODE=$mode FAULT_AROUND=${BENCH_FAULT_AROUND:-}"
	printf 'PT_SETS="%s"\n' "$(IFS=';'; echo "${pt_sets[*]}")"
	echo "ATTACH_S=$attach_s ATTACH_K='$attach_k' MPROT_S=$mprot_s MPROT_N='$mprot_n'"
	echo "LIFE_S='$life_s' FORKS=$forks REPS=$reps IPI_S=$ipi_s IPI_REPS=$ipi_reps"
	cat <<'JOB'
# --- guest side (busybox sh) ---
export PATH=/files:$PATH
up() { cut -d' ' -f1 /proc/uptime; }
phase() { echo "@@phase,$1,$(awk -v a=$2 -v b=$(up) 'BEGIN { printf "%.1f", b - a }')"; }
T0=$(up)
echo "@@info,kernel,$(uname -r)"
echo "@@info,cpus,$(nproc)"
echo "@@info,mem_mib,$(( $(sed -n 's/^MemTotal: *\([0-9]*\).*/\1/p' /proc/meminfo) / 1024 ))"
echo "@@info,mode,$MODE"
echo "@@info,preempt,$(cat /sys/kernel/debug/sched/preempt 2>/dev/null | tr ' ' '/')"
mount -t debugfs debugfs /sys/kernel/debug 2>/dev/null
if [ -n "$FAULT_AROUND" ]; then
	echo $FAULT_AROUND > /sys/kernel/debug/fault_around_bytes
fi
echo "@@info,fault_around_bytes,$(cat /sys/kernel/debug/fault_around_bytes 2>/dev/null)"
echo "@@info,thp_shmem_default,$(cat /sys/kernel/mm/transparent_hugepage/shmem_enabled | tr ' ' '/')"
# ext4 on the ram disk (brd.rd_size on the command line), discard so that
# deleted files give the ram disk's memory back.
mkdir -p /mnt/ext4
if mke2fs -q -F -b 4096 /dev/ram0 >/dev/null 2>&1 &&
   mount -t ext4 -o discard /dev/ram0 /mnt/ext4; then
	echo "@@info,ext4,/dev/ram0 $(( $(cat /sys/block/ram0/size) / 2048 )) MiB"
else
	echo "@@info,ext4,none"
fi
MODES="memfd mshare thp hugetlb ext4"
for fig in $FIGS; do
	t=$(up)
	case $fig in
	pt)
		echo "== page tables: N processes each reading all of S (pt-savings -P: MADV_POPULATE_READ, then every page read)"
		echo "$PT_SETS" | tr ';' '\n' | while IFS=: read s ns; do
			for m in $MODES; do
				rm -f /tmp/pt.csv
				pt-savings -s $s -m $m -P -c /tmp/pt.csv $ns
				sed 's/^/@@pt,/' /tmp/pt.csv
			done
		done
		;;
	attach)
		echo "== the k-th process to attach and read S"
		mshare-bench attach -s $ATTACH_S -m memfd,thp,hugetlb,ext4,mshare $ATTACH_K
		;;
	mprotect)
		echo "== one mprotect() seen by N sharers vs N mprotect()s"
		mshare-bench mprotect -s $MPROT_S -m memfd,thp,hugetlb,ext4,mshare $MPROT_N
		;;
	lifecycle)
		for s in $LIFE_S; do
			echo "== exit, detach, fork of a process holding ${s} MiB"
			mshare-bench lifecycle -s $s -m memfd,thp,hugetlb,ext4,mshare -f $FORKS -r $REPS
		done
		;;
	ipi)
		echo "== TLB shootdown IPIs per operation"
		mshare-bench ipi -s $IPI_S -r $IPI_REPS
		;;
	esac
	phase $fig $t
done
phase total $T0
JOB
} > "$B/bench.job"

# brd: one ram disk large enough for the largest ext4 file.
export VM_NUMA=1
export VM_APPEND="HUGEPAGES=0 brd.rd_nr=1 brd.rd_size=$(( (smax + 256) * 1024 )) ${VM_APPEND:-}"
echo "bench: $mode run, figures: $figs; guest: ${BENCH_CPUS:-4} CPUs, $mem; page-table sets (S MiB: N): ${pt_sets[*]}"
t0=$(date +%s)
"$top/harness/run-vm.sh" --kernel "${BENCH_KERNEL:-prod}" --name bench --no-tests --files "$B/samples" \
	--mem "$mem" --cpus "${BENCH_CPUS:-4}" --timeout "$timeout" "$B/bench.job" > "$out/guest.txt" 2>&1
rc=$?
echo "[time] bench-vm ($mode): $(( $(date +%s) - t0 ))s" >&2
grep -v '^@@' "$out/guest.txt" | grep -v '^### GUEST' || true
[ $rc = 0 ] || echo "bench: the VM run failed (rc=$rc); guest log: $B/bench.guest.log" >&2
if grep -qE 'WARNING:|BUG:|Oops|Kernel panic|Bad page|Bad rss-counter' "$B/bench.guest.log"; then
	echo "bench: the kernel reported a problem during the run; see $B/bench.guest.log:" >&2
	grep -m5 -E 'WARNING:|BUG:|Oops|Kernel panic|Bad page|Bad rss-counter' "$B/bench.guest.log" >&2
	rc=1
fi
grep -c 'Out of memory: Killed process' "$B/bench.guest.log" | sed 's/^/bench: OOM kills in the guest: /'
python3 "$top/harness/bench-report.py" --raw "$out/guest.txt" --out "$out" \
	--commit "$(cd "$top" && git rev-parse --short HEAD 2>/dev/null)$(cd "$top" && git diff --quiet HEAD 2>/dev/null || echo -dirty)" \
	--machine "$(nproc) host cores, $(( $(sed -n 's/^MemTotal: *\([0-9]*\).*/\1/p' /proc/meminfo) / 1048576 )) GiB host RAM, qemu TCG ($(qemu-system-x86_64 --version | head -1))" \
	> "$out/report.txt" || rc=1
if [ -n "$pgbench" ]; then
	run_pgbench || rc=1
fi
cat "$out/report.txt"
exit $rc
