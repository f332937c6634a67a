#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
#
# mshare-run(1) in the guest: an unmodified, dynamically linked program
# (/tests/mr-probe) with shared memory, run plainly and under mshare-run.
# Shared anonymous mmap() and System V shared memory must end up in mshare
# regions and behave exactly as without mshare-run (every key the probe
# prints must match, but for where the memory is); what stays plain
# (small mappings, --no-sysv, huge pages that are not there, no msharefs)
# must stay plain; names show in msharefs and `mshare ls` and go with
# their creator.  (mshare_run_pt: the page tables of 64 children.)  TAP
# output.  POSIX sh.

R=$(command -v mshare-run || echo /tests/bin/mshare-run)
M=$(command -v mshare || echo /tests/bin/mshare)
P=/tests/mr-probe
D=/sys/fs/mshare
T=$(mktemp -d /tmp/mshare_run.XXXXXX) || exit 1
n=0
failed=0
pids=

echo "1..47"

cleanup() {
	touch "$T/go" 2>/dev/null
	for p in $pids; do
		kill "$p" 2>/dev/null
	done
	wait 2>/dev/null
	for f in "$D"/mrtest* "$D"/mshare-run-shm-*; do
		[ -e "$f" ] && rm -f "$f"
	done
	rm -rf "$T"
}
trap cleanup EXIT
trap 'exit 1' INT TERM

# run NAME CMD...: stdout, stderr and status in $T/NAME.out, .err, $rc
run() {
	name=$1
	shift
	"$@" >"$T/$name.out" 2>"$T/$name.err"
	rc=$?
	last=$name
}

# kv NAME KEY: the value the probe printed for KEY in run NAME
kv() {
	sed -n "s/^$2=//p" "$T/$1.out" | head -n 1
}

# check DESCRIPTION CONDITION: one TAP result; the condition is eval'd
check() {
	desc=$1
	shift
	n=$((n + 1))
	if eval "$*"; then
		echo "ok $n - $desc"
	else
		echo "not ok $n - $desc"
		failed=$((failed + 1))
		echo "# condition: $*"
		echo "# last run: $last rc=$rc"
		sed 's/^/# out: /' "$T/$last.out" 2>/dev/null | head -40
		sed 's/^/# err: /' "$T/$last.err" 2>/dev/null | head -20
	fi
}

skip() {
	n=$((n + 1))
	echo "ok $n - $1 # SKIP $2"
}

# same A B: runs A and B printed the same keys and values, but for where
# the memory is (paths, addresses, alignment, mshare)
same() {
	for r in "$1" "$2"; do
		grep -vE '^([a-z]+_(path|vma|mshare)|aligned)=' "$T/$r.out" > "$T/$r.cmp"
	done
	if cmp -s "$T/$1.cmp" "$T/$2.cmp"; then
		return 0
	fi
	diff "$T/$1.cmp" "$T/$2.cmp" | sed 's/^/# diff: /'
	return 1
}

# --- shared anonymous memory ------------------------------------------------

run plain_mmap $P mmap 64M
check "plain: mmap 64M is ordinary shared memory, shared with a child" \
	'[ $rc = 0 ] && [ "$(kv plain_mmap map_mshare)" = 0 ] && [ "$(kv plain_mmap shared)" = 1 ]'

run mr_mmap $R -- $P mmap 64M
check "mshare-run: mmap 64M lands in an mshare attachment, 1 GiB aligned" \
	'[ $rc = 0 ] && [ "$(kv mr_mmap map_mshare)" = 1 ] && [ "$(kv mr_mmap aligned)" = 1 ]'
check "mshare-run: unnamed by default (/mshare (deleted))" \
	'[ "$(kv mr_mmap map_path)" = "/mshare (deleted)" ]'
check "mshare-run: the attachment is the region (1 GiB VMA)" \
	'v=$(kv mr_mmap map_vma); [ $(( ${v#*-} - ${v%-*} )) = 1073741824 ]'
check "mshare-run: shared with the child, munmap detaches, all as plain" \
	'[ "$(kv mr_mmap shared)" = 1 ] && [ "$(kv mr_mmap munmap)" = ok ] &&
	 [ "$(kv mr_mmap after_mapped)" = 0 ] && same plain_mmap mr_mmap'
check "mshare-run: silent without --verbose" '[ ! -s "$T/mr_mmap.err" ]'

run mr_small $R -s 128M -- $P mmap 64M
check "below --min-size: plain shared memory" \
	'[ $rc = 0 ] && [ "$(kv mr_small map_mshare)" = 0 ] && same plain_mmap mr_small'

run mr_verbose $R -v -- $P mmap 64M
check "--verbose says what went in a region" \
	'[ $rc = 0 ] && grep -q "mmap 64M: region (unnamed) of 1G at 0x" "$T/mr_verbose.err" &&
	 grep -q "detached 0x" "$T/mr_verbose.err"'

run mr_big $R -- $P mmap 1536M sparse
check "mmap 1.5G: a 2 GiB region, same behaviour" \
	'[ $rc = 0 ] && [ "$(kv mr_big map_mshare)" = 1 ] &&
	 v=$(kv mr_big map_vma); [ $(( ${v#*-} - ${v%-*} )) = 2147483648 ] &&
	 [ "$(kv mr_big shared)" = 1 ] && [ "$(kv mr_big after_mapped)" = 0 ]'

run plain_partial $P partial 64M
run mr_partial $R -- $P partial 64M
check "plain: munmap of half a shared mapping works" \
	'[ "$(kv plain_partial partial_munmap)" = ok ]'
check "mshare-run: munmap of half of it is EINVAL, and says why, the rest intact" \
	'[ "$(kv mr_partial map_mshare)" = 1 ] && [ "$(kv mr_partial partial_munmap)" = EINVAL ] &&
	 [ "$(kv mr_partial first_half)" = 1 ] && grep -q "covers part of the mshare mapping" "$T/mr_partial.err"'
check "mshare-run: munmap of the first half alone: EINVAL too" \
	'[ "$(kv mr_partial munmap)" = EINVAL ]'

# --- names ----------------------------------------------------------------

rm -f "$T/go"
$R -n mrtest -m 0640 -- $P hold 64M "$T/go" 2 > "$T/hold.out" 2> "$T/hold.err" &
hold=$!
pids="$pids $hold"
i=0
while ! grep -q '^ready' "$T/hold.out" 2>/dev/null && [ $i -lt 600 ]; do
	sleep 0.1
	i=$((i + 1))
done
last=hold
rc=-
check "--name: the regions are named NAME and NAME-2" \
	'[ "$(kv hold map0_path)" = "$D/mrtest" ] && [ "$(kv hold map1_path)" = "$D/mrtest-2" ]'
run ls $M ls
check "mshare ls shows both, mode -rw-r-----, one attachment and one process each" \
	'[ $rc = 0 ] && tr -s " " < "$T/ls.out" | grep -qE "^mrtest 1\.0G root -rw-r----- 1 1 64M " &&
	 tr -s " " < "$T/ls.out" | grep -qE "^mrtest-2 1\.0G root -rw-r----- 1 1 64M "'
run stat $M --json stat mrtest
check "mshare stat: 64 MiB resident in the region" \
	'[ $rc = 0 ] && grep -q "\"resident\":67108864" "$T/stat.out"'
touch "$T/go"
wait $hold
rc=$?
last=hold
check "the names go when their creator unmaps and exits" \
	'[ $rc = 0 ] && [ ! -e "$D/mrtest" ] && [ ! -e "$D/mrtest-2" ]'

# A name that is taken: the region gets the next one, the other is untouched
$M create mrtest 1G > /dev/null 2>&1
run named2 $R -n mrtest -- $P mmap 64M
check "a taken name: the next one (mrtest-2); the existing region stays" \
	'[ "$(kv named2 map_path)" = "$D/mrtest-2" ] && [ -e "$D/mrtest" ] && [ ! -e "$D/mrtest-2" ]'
rm -f "$D/mrtest"

# --- huge pages -------------------------------------------------------------

free=$(sed -n 's/^HugePages_Free: *//p' /proc/meminfo)
if [ "${free:-0}" -ge 128 ]; then
	run plain_huge $P mmap 256M hugetlb
	run mr_huge $R -v -- $P mmap 256M hugetlb
	check "MAP_HUGETLB with huge pages free: in the region, as hugetlb (128 pages used)" \
		'[ $rc = 0 ] && [ "$(kv mr_huge mmap)" = ok ] && [ "$(kv mr_huge map_mshare)" = 1 ] &&
		 [ "$(kv mr_huge hugepages_used)" = 128 ] && grep -q "(hugetlb): region" "$T/mr_huge.err"'
	check "MAP_HUGETLB: same behaviour as plain" 'same plain_huge mr_huge'
else
	skip "MAP_HUGETLB in a region" "only ${free:-0} free huge pages"
	skip "MAP_HUGETLB: same behaviour as plain" "only ${free:-0} free huge pages"
fi
# more than there is: ENOMEM either way, as PostgreSQL's huge_pages=try expects
big=$(( (${free:-0} + 64) * 2 ))M
run plain_nohuge $P mmap "$big" hugetlb
run mr_nohuge $R -v -- $P mmap "$big" hugetlb
check "MAP_HUGETLB beyond the free huge pages: ENOMEM, as plain" \
	'[ "$(kv plain_nohuge mmap)" = ENOMEM ] && [ "$(kv mr_nohuge mmap)" = ENOMEM ]'
check "... and --verbose says the region was given up" \
	'grep -q "of huge pages in the region: Cannot allocate memory: plain mmap" "$T/mr_nohuge.err"'
check "... and leaves no region behind" '[ -z "$(ls $D | grep -v mshare_info)" ]'

# --- System V ---------------------------------------------------------------

# 64 MiB and a bit: shm_segsz must be exactly that
run plain_sysv $P sysv 67121209
check "plain: System V segment by key: EEXIST, lookup, two attaches, IPC_STAT, RMID" \
	'[ $rc = 0 ] && [ "$(kv plain_sysv shm_mshare)" = 0 ] && [ "$(kv plain_sysv excl)" = EEXIST ] &&
	 [ "$(kv plain_sysv shared)" = 1 ] && [ "$(kv plain_sysv rmid)" = ok ]'
run mr_sysv $R -v -- $P sysv 67121209
check "mshare-run: shmat gives an mshare attachment, 1 GiB aligned" \
	'[ $rc = 0 ] && [ "$(kv mr_sysv shm_mshare)" = 1 ] && [ "$(kv mr_sysv aligned)" = 1 ]'
check "mshare-run: the region is named mshare-run-shm-ID" \
	'case "$(kv mr_sysv shm_path)" in "$D"/mshare-run-shm-[0-9]*) true ;; *) false ;; esac'
check "mshare-run: segsz is what was asked, nattch counts the attaches" \
	'[ "$(kv mr_sysv segsz)" = 67121209 ] && [ "$(kv mr_sysv nattch)" = 1 ] &&
	 [ "$(kv mr_sysv nattch_after_child)" = 1 ] && [ "$(kv mr_sysv nattch_end)" = 0 ]'
check "mshare-run: EEXIST, lookups, a bigger size EINVAL, SHM_RDONLY, shmdt, RMID as plain" \
	'same plain_sysv mr_sysv'
check "mshare-run: IPC_RMID removed the region's name" \
	'[ -z "$(ls $D | grep mshare-run-shm)" ] && grep -q "IPC_RMID [0-9]*: removed region" "$T/mr_sysv.err"'
check "mshare-run: no stub segment left (ipcs)" \
	'! ipcs -m 2>/dev/null | grep -q " 3989 "'
run mr_sysv_named $R -n mrtest -- $P sysv 64M
check "--name: System V regions are NAME-shm-ID" \
	'[ $rc = 0 ] && case "$(kv mr_sysv_named shm_path)" in "$D"/mrtest-shm-[0-9]*) true ;; *) false ;; esac'
run mr_sysv_small $R -- $P sysv 16M
check "a segment below --min-size stays plain" \
	'[ $rc = 0 ] && [ "$(kv mr_sysv_small shm_mshare)" = 0 ] && [ "$(kv mr_sysv_small rmid)" = ok ]'
run mr_nosysv $R --no-sysv -- $P sysv 67121209
check "--no-sysv: System V stays plain" \
	'[ $rc = 0 ] && [ "$(kv mr_nosysv shm_mshare)" = 0 ] && same plain_sysv mr_nosysv'
if [ "${free:-0}" -ge 128 ]; then
	run plain_sysv_huge $P sysv 256M hugetlb
	run mr_sysv_huge $R -- $P sysv 256M hugetlb
	check "SHM_HUGETLB: in the region, same behaviour" \
		'[ $rc = 0 ] && [ "$(kv mr_sysv_huge shm_mshare)" = 1 ] && same plain_sysv_huge mr_sysv_huge'
else
	skip "SHM_HUGETLB in a region" "only ${free:-0} free huge pages"
fi
run plain_sysv_nohuge $P sysv "$big" hugetlb
run mr_sysv_nohuge $R -- $P sysv "$big" hugetlb
check "SHM_HUGETLB beyond the free huge pages: ENOMEM, as plain; nothing left" \
	'[ "$(kv plain_sysv_nohuge shmget)" = ENOMEM ] && [ "$(kv mr_sysv_nohuge shmget)" = ENOMEM ] &&
	 [ -z "$(ls $D | grep -v mshare_info)" ]'

# --- without msharefs: regions stay unnamed, System V passes through ----------

run nofs_mmap env MSHARE_DIR=/tmp $R -v -- $P mmap 64M
check "no msharefs (ENODEV): mmap still goes in an unnamed region" \
	'[ $rc = 0 ] && [ "$(kv nofs_mmap map_mshare)" = 1 ] && same plain_mmap nofs_mmap'
check "... and --verbose says so once" \
	'[ "$(grep -c "msharefs is not mounted" "$T/nofs_mmap.err")" = 1 ]'
run nofs_sysv env MSHARE_DIR=/tmp $R -n mrtest -- $P sysv 67121209
check "no msharefs: System V stays plain" \
	'[ $rc = 0 ] && [ "$(kv nofs_sysv shm_mshare)" = 0 ] && same plain_sysv nofs_sysv'
run nofs_named env MSHARE_DIR=/tmp $R -v -n mrtest -- $P mmap 64M
check "no msharefs: --name cannot name, the mapping works unnamed" \
	'[ $rc = 0 ] && [ "$(kv nofs_named map_path)" = "/mshare (deleted)" ] &&
	 grep -q "cannot name the region mrtest" "$T/nofs_named.err"'

# --- the launcher -----------------------------------------------------------

run static $R -v -- /bin/busybox true
check "a static program: --verbose warns that LD_PRELOAD cannot reach it" \
	'[ $rc = 0 ] && grep -q "is statically linked" "$T/static.err"'
run notfound $R -- /nonexistent
check "a program that is not there: 127" '[ $rc = 127 ] && grep -q "/nonexistent" "$T/notfound.err"'
run noexec $R -- /proc/version
check "a program that cannot run: 126" '[ $rc = 126 ]'
run usage $R --bogus true
check "a bad option: 125 and the usage hint" \
	'[ $rc = 125 ] && grep -q "unknown option" "$T/usage.err" && grep -q "mshare-run --help" "$T/usage.err"'
run nolib $R --library /nonexistent.so -- true
check "a missing --library: 125" '[ $rc = 125 ] && grep -q "cannot find the preload library" "$T/nolib.err"'
run exitcode $R -- /bin/sh -c 'exit 7'
check "the program's exit status is mshare-run's" '[ $rc = 7 ]'
run dry $R --dry-run -n db -s 1G -- prog arg
check "--dry-run prints the environment and the command" \
	'[ $rc = 0 ] && grep -q "^# mshare: yes" "$T/dry.out" && grep -q "^LD_PRELOAD=/.*/libmshare-run.so$" "$T/dry.out" &&
	 grep -q "^MSHARE_RUN_MIN_SIZE=1073741824$" "$T/dry.out" && grep -q "^MSHARE_RUN_NAME=db$" "$T/dry.out" &&
	 grep -q "^prog arg$" "$T/dry.out"'
run env $R -- /bin/sh -c 'echo "$LD_PRELOAD"'
check "LD_PRELOAD is set for the program and its children" \
	'[ $rc = 0 ] && grep -q "libmshare-run.so" "$T/env.out"'
run exec_child $R -- /bin/sh -c "$P mmap 64M"
check "a program started by a shell under mshare-run gets it too" \
	'[ $rc = 0 ] && [ "$(kv exec_child map_mshare)" = 1 ]'

echo "# $n tests, $failed failed"
[ "$failed" = 0 ]
