#!/usr/bin/env bash
# make run: boot the mshare kernel and run the SGA demo (samples/mshare).
#
#   make run [CLIENTS=64] [SGA=128M]
#
# The default SGA is 128 MiB so that make run stays well under 10 minutes:
# under TCG with the debug kernel every PTE a MAP_SHARED client installs
# costs about 50 us, so the direct half costs about 15 s per client-GiB
# (measured: 64 x 128M took 117 s to map and 29 s to unmap, 188 s in all
# in the VM; 64 x 1G took 1240 s + 223 s on a loaded machine).  The
# mshare half costs almost nothing; SGA=1G works, it just takes ~25 min.
#
# In one VM: sgad fills an SGA of $SGA bytes of files (on tmpfs) through
# io_uring, maps them into an mshare region, populates it and names it; then
# $CLIENTS sga-client server processes (half open the region by name, half
# get its fd from sgad's socket) attach it, read every page of the SGA,
# verify a sample of pages and hold on while PageTables is read from
# /proc/meminfo.  Then the same number of clients map the same files
# directly with MAP_SHARED, read every page, verify the same sample and
# hold, and PageTables is read again.  Every figure printed is measured.
#
# Environment: CLIENTS, SGA (K/M/G), VERIFY_PAGES (pages checked per file,
# default 64), DEMO_DIRECT (touch (default): direct clients fault every page in;
# populate: they map with MAP_POPULATE, as users also do - the same
# page tables, fewer exceptions), DEMO_LOCKDEP (0 (default): lockdep's
# lock-order proving is switched off in the guest for the demo's run, as
# it doubles the cost of every page fault under TCG; 1: keep it), VM_MEM,
# VM_TIMEOUT.
set -uo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
B=${BUILD:-$top/build}
clients=${CLIENTS:-64}
sga=${SGA:-128M}
verify=${VERIFY_PAGES:-64}
direct=${DEMO_DIRECT:-touch}
lockdep=${DEMO_LOCKDEP:-0}

die() { echo "demo: $*" >&2; exit 2; }
[[ $clients =~ ^[0-9]+$ ]] && [ "$clients" -ge 2 ] && [ "$clients" -le 4096 ] ||
	die "CLIENTS must be a number from 2 to 4096 (got '$clients')"
[[ $verify =~ ^[0-9]+$ ]] && [ "$verify" -ge 1 ] || die "VERIFY_PAGES must be a number >= 1"
case "$direct" in touch|populate) ;; *) die "DEMO_DIRECT is touch or populate" ;; esac
[[ $sga =~ ^([0-9]+)([KkMmGg]?)(i?B)?$ ]] || die "SGA must be a size like 256M or 1G (got '$sga')"
case "${BASH_REMATCH[2]}" in
[Kk]) sga_mb=$(( BASH_REMATCH[1] / 1024 )) ;;
[Mm]) sga_mb=${BASH_REMATCH[1]} ;;
[Gg]) sga_mb=$(( BASH_REMATCH[1] * 1024 )) ;;
*) sga_mb=$(( BASH_REMATCH[1] >> 20 )) ;;
esac
[ "$sga_mb" -ge 4 ] || die "SGA must be at least 4M"
files=4
# The guest: its own memory for the SGA (tmpfs), the page tables of the
# direct clients (SGA/512 each) and the kernel; 4 GiB covers the default.
if [ -z "${VM_MEM:-}" ]; then
	mem=$(( sga_mb * 2 + clients * sga_mb / 512 + 2048 ))
	[ $mem -lt 4096 ] && mem=4096
	export VM_MEM=${mem}M
fi
# The demo uses no huge pages: give their reservation back.
export VM_APPEND="HUGEPAGES=0 ${VM_APPEND:-}"
export VM_TIMEOUT=${VM_TIMEOUT:-1500}

{
	echo "CLIENTS=$clients SGA=$sga SGA_MB=$sga_mb FILES=$files VERIFY=$verify DIRECT=$direct LOCKDEP=$lockdep"
	cat <<'JOB'
# --- guest side (busybox sh) ---
export PATH=/files:$PATH
N=$CLIENTS
NNAME=$(( (N + 1) / 2 ))
NFD=$(( N - NNAME ))
D=/tmp/demo
SOCK=/run/sgad.sock
mkdir -p $D
up() { cut -d' ' -f1 /proc/uptime; }
pt_kb() {
	echo 1 > /proc/sys/vm/stat_refresh 2>/dev/null
	sed -n 's/^PageTables: *\([0-9]*\) kB/\1/p' /proc/meminfo
}
fail() { echo "demo: FAILED: $*"; exit 1; }
# The clients' report lines, summed up: n ok faults/client vmpte/client
# name fd direct region_pgtable_kb
summary() {
	cat $D/$1.*.out 2>/dev/null | awk '/result=/ {
		for (i = 1; i <= NF; i++) { split($i, kv, "="); v[kv[1]] = kv[2] }
		n++; ok += v["result"] == "ok"; mf += v["minflt"]; pte += v["vmpte_kb"]
		m[v["mode"]]++; if (v["region_pgtable_kb"] != "") rpt = v["region_pgtable_kb"]
	} END {
		d = n ? n : 1
		printf "%d %d %.1f %.1f %d %d %d %d\n", n, ok, mf / d, pte / d,
		       m["name"], m["fd"], m["direct"], rpt
	}'
}

# run_clients MODE: start N clients, wait until all have verified and hold,
# read PageTables, release them.  Sets PT (kB of growth), WALL (s), RCOK.
run_clients() {
	mode=$1
	rm -f $D/$mode.*.out
	pids=
	p0=$(pt_kb)
	t0=$(up)
	i=0
	while [ $i -lt $N ]; do
		i=$((i + 1))
		if [ $mode = direct ]; then
			how="--direct --socket $SOCK"
			[ $DIRECT = populate ] && how="$how --populate"
		elif [ $i -le $NNAME ]; then
			how="--name sga"
		else
			how="--socket $SOCK"
		fi
		sga-client $how --verify-pages $VERIFY --hold forever --id $mode$i \
			> $D/$mode.$i.out 2>&1 &
		pids="$pids $!"
	done
	# Until every client has reported (and holds), or is gone.
	s=0
	while :; do
		rep=$(grep -l 'result=' $D/$mode.*.out 2>/dev/null | wc -l)
		[ $rep -ge $N ] && break
		alive=0
		for p in $pids; do kill -0 $p 2>/dev/null && alive=$((alive + 1)); done
		[ $((rep + N - alive)) -ge $N ] && break
		s=$((s + 1))
		[ $s -gt 3000 ] && { kill -KILL $pids; fail "$mode clients did not finish in 50 minutes"; }
		sleep 1
	done
	t1=$(up)
	p1=$(pt_kb)
	kill -TERM $pids 2>/dev/null
	RCOK=0
	for p in $pids; do wait $p && RCOK=$((RCOK + 1)); done
	t2=$(up)
	PT=$((p1 - p0))
	WALL=$(awk -v a=$t0 -v b=$t1 'BEGIN { printf "%.1f", b - a }')
	echo "   $mode: PageTables $p0 kB before the clients, $p1 kB while all $N hold them;"
	echo "   ${WALL}s to start, attach, read and verify, $(awk -v a=$t1 -v b=$t2 'BEGIN { printf "%.1f", b - a }')s to stop"
}

echo "== mshare demo: $N server processes share one $SGA SGA"
echo "   guest: kernel $(uname -r), $(nproc) CPUs, $(( $(sed -n 's/^MemTotal: *\([0-9]*\).*/\1/p' /proc/meminfo) / 1024 )) MiB RAM, 4 KiB pages"
T0=$(up)
if [ $LOCKDEP = 0 ] && [ -w /sys/module/lockdep/parameters/prove_locking ]; then
	echo 0 > /sys/module/lockdep/parameters/prove_locking
	echo "   (lockdep's lock-order proving is off for this run: DEMO_LOCKDEP=1 keeps it)"
fi
mkdir -p /sga
mount -t tmpfs -o size=$(( SGA_MB + 64 ))m,mode=0755 sga /sga || fail "tmpfs for the SGA"
tsgad=$(up)
sgad --daemon --dir /sga --size $SGA --files $FILES --name sga --mode 0600 \
	--socket $SOCK --log $D/sgad.log --pidfile $D/sgad.pid > /dev/null ||
	{ cat $D/sgad.log; fail "sgad did not start"; }
sed -nE 's/^sgad\[[0-9]+\] *[0-9.]+s: (filled|region|named|ready)/   sgad: \1/p' $D/sgad.log
echo "== $N clients attach the region: $NNAME by name (open in msharefs), $NFD by fd (SCM_RIGHTS from sgad)"
run_clients mshare
M_PT=$PT M_WALL=$WALL M_RCOK=$RCOK
set -- $(summary mshare)
M_N=$1 M_OK=$2 M_FLT=$3 M_PTE=$4 M_NAME=$5 M_FD=$6 RPT=$8
sga-client --name sga --stats | sed 's/^sga-client: stats/   the state area, after them:/'
echo "== the same $N clients map the SGA files themselves (MAP_SHARED$([ $DIRECT = populate ] && echo ', MAP_POPULATE'))"
run_clients direct
D_PT=$PT D_WALL=$WALL D_RCOK=$RCOK
set -- $(summary direct)
D_N=$1 D_OK=$2 D_FLT=$3 D_PTE=$4 D_DIRECT=$7
kill -TERM $(cat $D/sgad.pid)
s=0
while [ -e $D/sgad.pid ] && [ $s -lt 300 ]; do sleep 0.2; s=$((s + 1)); done
sed -nE 's/^sgad\[[0-9]+\] *[0-9.]+s: (stopped)/   sgad: \1/p' $D/sgad.log

# Bad pages and other failures, shown as they came.
grep -h 'bad page\|result=fail' $D/*.out | head -n 20

echo
echo "== page tables of $N processes reading the same $SGA (every page), measured"
awk -v n=$N -v mpt=$M_PT -v dpt=$D_PT -v rpt=$RPT -v mflt=$M_FLT -v dflt=$D_FLT \
    -v mpte=$M_PTE -v dpte=$D_PTE -v mw=$M_WALL -v dw=$D_WALL 'BEGIN {
	line = "+---------------------+---------+--------------+--------------+--------------+---------------+----------+"
	print line
	printf "| %-19s | %7s | %12s | %12s | %12s | %13s | %8s |\n", "", "clients", "PageTables", "per client", "VmPTE/client", "faults/client", "wall"
	printf "| %-19s | %7s | %12s | %12s | %12s | %13s | %8s |\n", "", "", "growth (kB)", "(kB)", "(kB)", "(minor)", "(s)"
	print line
	printf "| %-19s | %7d | %12d | %12.1f | %12.1f | %13.1f | %8.1f |\n", "MAP_SHARED files", n, dpt, dpt / n, dpte, dflt, dw
	printf "| %-19s | %7d | %12d | %12.1f | %12.1f | %13.1f | %8.1f |\n", "mshare region", n, mpt, mpt / n, mpte, mflt, mw
	printf "| %-19s | %7s | %12d | %12s | %12s | %13s | %8s |\n", " + region, once", "", rpt, "", "", "", ""
	print line
	tot = mpt + rpt
	printf "mshare total (clients + the region own tables): %d kB; MAP_SHARED: %d kB\n", tot, dpt
	if (tot > 0)
		printf "ratio MAP_SHARED / mshare: %.1fx less page-table memory with mshare (%d kB saved)\n", dpt / tot, dpt - tot
}'
echo "(PageTables growth: /proc/meminfo while all $N clients hold, less before they started;"
echo " the region's own tables were built by sgad before the clients came, counted once above;"
echo " VmPTE: each process's own page tables; faults: minor faults while reading and verifying)"

ok=1
[ $M_N = $N ] && [ $M_OK = $N ] && [ $M_RCOK = $N ] || ok=0
[ $D_N = $N ] && [ $D_OK = $N ] && [ $D_RCOK = $N ] || ok=0
[ $ok = 1 ] || fail "verified: mshare $M_OK/$N (exit 0: $M_RCOK), direct $D_OK/$N (exit 0: $D_RCOK)"
echo "demo time in the VM: $(awk -v a=$T0 -v b=$(up) 'BEGIN { printf "%.0f", b - a }')s (TCG)"
echo "all $N clients verified, in both modes ($M_NAME by name and $M_FD by fd; $D_DIRECT direct), $VERIFY pages of each file each"
JOB
} > "$B/demo.job"

"$top/harness/phase.sh" demo "$top/harness/run-vm.sh" --name demo --files "$B/samples" "$B/demo.job"
rc=$?
[ $rc = 0 ] || exit $rc
if ! grep -q '^### JOB-EXIT 0' "$B/demo.job.log"; then
	echo "demo: the demo failed; see $B/demo.job.log" >&2
	exit 1
fi
if grep -qE 'WARNING:|BUG:|KASAN|Bad rss-counter|Bad page|Oops|Kernel panic|lockdep' "$B/demo.guest.log"; then
	echo "demo: the kernel reported a problem during the demo; see $B/demo.guest.log:" >&2
	grep -m5 -E 'WARNING:|BUG:|KASAN|Bad rss-counter|Bad page|Oops|Kernel panic|lockdep' "$B/demo.guest.log" >&2
	exit 1
fi
exit 0
