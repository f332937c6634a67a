#!/bin/sh
# End to end: sgad (samples/mshare) builds a 64 MiB SGA in a region, and
# sga-client processes attach it by name and by fd, read it, check the
# pattern of every page; a page corrupted on purpose is reported, exactly;
# the region lives on while a client holds it after sgad stopped, and goes
# when the last holder leaves.  Runs in the guest (sgad and sga-client in
# PATH); prints TAP.
T=/tmp/sga-e2e
NAME=sga-e2e.$$
SOCK=$T/sgad.sock
PAGES=16384		# 64 MiB of 4 KiB pages
n=0
failed=0

ok() { n=$((n + 1)); echo "ok $n - $1"; }
nok() { n=$((n + 1)); echo "not ok $n - $1"; failed=$((failed + 1)); }
check() { d=$1; shift; if "$@"; then ok "$d"; else nok "$d"; fi; }
# kv KEY FILE: the value of KEY= in the first report line of FILE
kv() { grep -m1 'result=' "$2" | tr ' ' '\n' | sed -n "s/^$1=//p" | head -n1; }
# all_kv KEY FILES...: the values, one a line
all_kv() { k=$1; shift; for f in "$@"; do kv "$k" "$f"; done; }
pt_kb() {
	echo 1 > /proc/sys/vm/stat_refresh 2>/dev/null
	sed -n 's/^PageTables: *\([0-9]*\) kB/\1/p' /proc/meminfo
}
# wait_for SECS CMD...: poll until CMD succeeds
wait_for() {
	s=$(( $1 * 5 )); shift
	while [ $s -gt 0 ]; do "$@" && return 0; sleep 0.2; s=$((s - 1)); done
	return 1
}
alive() { kill -0 "$1" 2>/dev/null; }
dead() { ! kill -0 "$1" 2>/dev/null; }
show() { sed 's/^/# /' "$@"; }

rm -rf $T && mkdir -p $T
echo "1..16"

# 1-2: the daemon
sgad --daemon --dir $T/files --size 64M --files 4 --name $NAME \
	--socket $SOCK --mode 0600 --log $T/sgad.log --pidfile $T/sgad.pid \
	> $T/sgad.out 2>&1
rc=$?
SGAD=$(cat $T/sgad.pid 2>/dev/null)
check "sgad --daemon returns ready, names the region and listens" \
	test $rc = 0 -a -n "$SGAD" -a -e /sys/fs/mshare/$NAME -a -S $SOCK
[ $rc = 0 ] || show $T/sgad.out $T/sgad.log
check "the named region is 1 GiB, mode 0600" test \
	"$(stat -c '%s %a' /sys/fs/mshare/$NAME)" = "1073741824 600"

# 3-6: two clients by name, two by fd, two mapping the files directly
i=0
for how in "--name $NAME" "--name $NAME" "--socket $SOCK" "--socket $SOCK" \
	   "--direct --socket $SOCK" "--direct --name $NAME"; do
	i=$((i + 1))
	sga-client $how --verify-pages all --id c$i > $T/c$i.out 2>&1 &
	eval pid$i=$!
done
rcs=
for i in 1 2 3 4 5 6; do eval wait \$pid$i; rcs="$rcs $?"; done
res=$(all_kv result $T/c[1-6].out | tr '\n' ' ')
check "6 clients (2 by name, 2 by fd, 2 direct) read and verify all $PAGES pages" \
	test "$rcs" = " 0 0 0 0 0 0" -a "$res" = "ok ok ok ok ok ok " -a \
	"$(all_kv verified $T/c[1-6].out | sort -u)" = $PAGES -a \
	"$(all_kv touched $T/c[1-6].out | sort -u)" = $PAGES
[ "$rcs" = " 0 0 0 0 0 0" ] || show $T/c[1-6].out
check "modes as asked: name name fd fd direct direct" test \
	"$(all_kv mode $T/c[1-6].out | tr '\n' ' ')" = "name name fd fd direct direct "
# The region is populated: an attached client faults at most once per GiB
# (linking its PUD entry), never per page; direct clients fault per page
# (or per fault-around block of up to 16 pages).
flt=$(all_kv minflt $T/c[1-4].out | tr '\n' ' ')
dflt=$(all_kv minflt $T/c[5-6].out | tr '\n' ' ')
echo "# minor faults: attached: $flt direct: $dflt"
faults_ok() {
	for f in $flt; do [ $f -le 1 ] || return 1; done
	for f in $dflt; do [ $f -ge $((PAGES / 16)) ] || return 1; done
}
check "attached clients take no per-page faults (minflt <= 1), direct ones do (>= $((PAGES / 16)))" \
	faults_ok
pte=$(all_kv vmpte_kb $T/c[1-4].out | tr '\n' ' ')
dpte=$(all_kv vmpte_kb $T/c[5-6].out | tr '\n' ' ')
echo "# VmPTE kB: attached: $pte direct: $dpte"
pte_ok() {
	for k in $pte; do [ $k -lt 64 ] || return 1; done
	for k in $dpte; do [ $k -ge 128 ] || return 1; done
}
check "attached clients' own page tables stay small; direct ones hold >= 128 kB of PTEs" \
	pte_ok

# 7-10: one corrupted page is found, exactly, by every kind of client
sga-client --name $NAME --corrupt 2:100 > $T/corrupt.out 2>&1
check "sga-client --corrupt 2:100 flips a byte through the attachment" \
	grep -q 'corrupted file=2 page=100 offset=2048' $T/corrupt.out
sga-client --socket $SOCK --verify-pages all --id bad1 > $T/bad1.out 2>&1; r1=$?
sga-client --name $NAME --verify-pages all --id bad2 > $T/bad2.out 2>&1; r2=$?
sga-client --direct --socket $SOCK --verify-pages all --id bad3 > $T/bad3.out 2>&1; r3=$?
show $T/bad1.out
good=1
for i in 1 2 3; do
	f=$T/bad$i.out
	eval r=\$r$i
	[ $r = 1 ] && [ "$(kv result $f)" = fail ] && [ "$(kv bad $f)" = 1 ] &&
	[ "$(kv first_bad $f)" = 2:100 ] && [ "$(grep -c 'bad page' $f)" = 1 ] &&
	grep -q 'bad page id=bad[123] file=2 page=100 offset=2048 ' $f || good=0
done
check "clients by fd, by name and direct report exactly page 2:100 (offset 2048) and exit 1" \
	test $good = 1
sga-client --name $NAME --corrupt 2:100 > /dev/null 2>&1
sga-client --socket $SOCK --verify-pages all --id fixed > $T/fixed.out 2>&1
check "corrupting the byte again restores the page" \
	test $? = 0 -a "$(kv bad $T/fixed.out)" = 0
sga-client --name $NAME --stats > $T/stats.out 2>&1
cat $T/stats.out | sed 's/^/# /'
# attaches: 4 + 2 bad + 1 fixed (direct clients and --corrupt do not count);
# fds sent: c3 c4 c5, bad1 bad3, fixed
check "the counters in the region's state area add up" grep -q \
	"stats attached=0 attaches=7 fds_sent=6 pages_touched=$((7 * PAGES)) pages_verified=$((7 * PAGES)) bad_pages=2 daemon=running" \
	$T/stats.out

# 11-16: sgad stops; a holder keeps the region until it leaves
sga-client --name $NAME --verify-pages 256 --hold forever --id holder > $T/holder.out 2>&1 &
HOLDER=$!
wait_for 60 grep -q result= $T/holder.out
check "a holder attaches and verifies" test "$(kv result $T/holder.out)" = ok
kill -TERM $SGAD
wait_for 30 dead $SGAD
stopped_ok() {
	dead $SGAD && [ ! -e /sys/fs/mshare/$NAME ] && [ ! -e $SOCK ] &&
	grep -q 'stopped; 1 client(s) attached' $T/sgad.log
}
check "SIGTERM stops sgad; it removes the name and the socket" stopped_ok
tail -n 3 $T/sgad.log | sed 's/^/# /'
kill -USR1 $HOLDER
wait_for 60 grep -q event=recheck $T/holder.out
grep event=recheck $T/holder.out | sed 's/^/# /'
grep mshare /proc/$HOLDER/maps | sed 's/^/# maps: /'
held_ok() {
	alive $HOLDER && grep -q 'result=ok .*event=recheck .*bad=0 .*daemon=stopped' $T/holder.out &&
	grep -q mshare /proc/$HOLDER/maps
}
check "the holder's attachment still holds the SGA after sgad exited" held_ok
sga-client --name $NAME > $T/late1.out 2>&1; r1=$?
sga-client --socket $SOCK > $T/late2.out 2>&1; r2=$?
check "new clients find neither the name nor the socket" test $r1 = 2 -a $r2 = 2
rpt=$(grep -m1 result= $T/holder.out | sed -n 's/.*region_pgtable_kb=\([0-9]*\).*/\1/p')
p1=$(pt_kb)
kill -TERM $HOLDER
wait $HOLDER
hrc=$?
p2=$(pt_kb)
echo "# PageTables: $p1 kB with the holder, $p2 kB after; the region held ${rpt} kB"
check "the holder exits 0 and the region's page tables are freed with it" \
	test $hrc = 0 -a -n "$rpt" -a "$rpt" -gt 0 -a $((p1 - p2)) -ge "${rpt:-1}"

# 17: a new sgad refreshes the same files with the next generation
sgad --daemon --dir $T/files --size 64M --files 4 --name $NAME \
	--socket $SOCK --log $T/sgad2.log --pidfile $T/sgad2.pid > /dev/null 2>&1
SGAD=$(cat $T/sgad2.pid 2>/dev/null)
sga-client --socket $SOCK --verify-pages 512 --id gen2 > $T/gen2.out 2>&1
check "a restarted sgad refreshes the files with generation 2, and they verify" \
	test $? = 0 -a "$(kv gen $T/gen2.out)" = 2 -a "$(kv verified $T/gen2.out)" = 2048
[ -n "$SGAD" ] && kill -TERM $SGAD && wait_for 30 dead $SGAD
[ $failed = 0 ] && rm -rf $T
exit $((failed != 0))
