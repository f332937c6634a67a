#!/usr/bin/env bash
# Host-side tests of harness/tapcheck.py on recorded logs.  Prints TAP.
# These prove the gate can fail: a failed assertion, a crashed program, a
# short plan and each kind of kernel report must all give a non-zero exit,
# and each kernel report must be named after the program it appeared in.
set -u
here=$(cd "$(dirname "$0")" && pwd)
tc="python3 $here/../../harness/tapcheck.py"
S=$here/samples
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
n=0
fails=0
out= rc= last=
# run ARGS...: run tapcheck, keep its output, exit code and last line.
run() {
	out=$($tc "$@" 2>&1)
	rc=$?
	last=$(printf '%s\n' "$out" | tail -n 1)
}
# expect NAME EXPECTED-RC EXPECTED-LAST-LINE [REGEX...]: one TAP result for
# the last run.  Each REGEX (grep -E) must match a line of the output; one
# starting with '!' must match none.
expect() {
	local name=$1 want_rc=$2 want_line=$3 re bad=
	shift 3
	for re in "$@"; do
		case "$re" in
		!*) printf '%s\n' "$out" | grep -qE -- "${re#!}" && bad="$bad output has '${re#!}';" ;;
		*) printf '%s\n' "$out" | grep -qE -- "$re" || bad="$bad no '$re' in output;" ;;
		esac
	done
	n=$((n + 1))
	if [ "$rc" = "$want_rc" ] && [ "$last" = "$want_line" ] && [ -z "$bad" ]; then
		echo "ok $n $name"
	else
		echo "not ok $n $name"
		echo "#   want rc=$want_rc last='$want_line'; got rc=$rc last='$last';$bad"
		printf '%s\n' "$out" | sed 's/^/#     /' | head -n 40
		fails=$((fails + 1))
	fi
}
# check NAME EXPECTED-RC EXPECTED-LAST-LINE ARGS...
check() {
	local name=$1 want_rc=$2 want_line=$3
	shift 3
	run "$@"
	expect "$name" "$want_rc" "$want_line"
}
echo "TAP version 13"
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

# Program naming: the kernel log's BEGIN/END markers place each report.
run --job $S/clean.job.log --guest $S/warn.guest.log
expect "a WARNING is named after its program" 1 "2 passed, 1 failed, 1 skipped" \
	'^FAIL  kernel log \[pgtable_baseline\] line 4: .*WARNING: CPU: 1 PID: 77 at mm/mshare/fault.c:120'
run --job $S/clean.job.log --guest $S/rss.guest.log
expect "a report after the last END is named shutdown" 1 "2 passed, 1 failed, 1 skipped" \
	'^FAIL  kernel log \[shutdown\] line 3: .*BUG: Bad rss-counter'
run --job $S/programs.job.log --guest $S/programs.guest.log
expect "reports in a multi-program log: one failure each, none for stack frames" 1 "3 passed, 5 failed"
expect "a report before the first BEGIN is named boot" 1 "3 passed, 5 failed" \
	'^FAIL  kernel log \[boot\] line 4: WARNING: CPU: 1 PID: 0 at arch/x86/kernel/smpboot.c:431 topology_sane'
expect "reports inside programs are named after them" 1 "3 passed, 5 failed" \
	'^FAIL  kernel log \[msharefs\] line [0-9]+: WARNING: .* inc_nlink' \
	'^FAIL  kernel log \[mshare_gup\] line [0-9]+: WARNING: .* gup_fast_folio_allowed' \
	'!^FAIL .*page_table_check_set' '!^FAIL .*RIP:'
expect "a report between programs is named after the one that ended" 1 "3 passed, 5 failed" \
	'^FAIL  kernel log \[after mshare_gup\] line [0-9]+: BUG: Bad rss-counter'
expect "a panic after the last program is named shutdown" 1 "3 passed, 5 failed" \
	'^FAIL  kernel log \[shutdown\] line [0-9]+: Kernel panic'
expect "benign boot lines (kmemleak init, rcu) do not fail" 1 "3 passed, 5 failed" \
	'!^FAIL .*kmemleak: Kernel memory leak detector' '!^FAIL .*Hierarchical RCU'

# Blind gate: programs ran, but the kernel log has none of their markers.
sed '/### /d' $S/clean.guest.log > "$tmp/blind.guest.log"
run --job $S/clean.job.log --guest "$tmp/blind.guest.log"
expect "a kernel log without the job's markers fails (blind)" 1 "2 passed, 1 failed, 1 skipped" \
	'^FAIL  kernel log is blind'

# Every kind of kernel report fails a clean run and is named: one guest log
# per line of samples/reports.txt, the report inside pgtable_baseline, after
# a printk timestamp or not.
i=0
while IFS= read -r rep; do
	case "$rep" in '#'* | '') continue ;; esac
	i=$((i + 1))
	ts=
	[ $((i % 2)) = 0 ] && ts="[   12.345678] "
	{
		echo "${ts}Run /init as init process"
		echo "${ts}### BEGIN pgtable_baseline"
		echo "$ts$rep"
		echo "${ts} dump_stack_lvl+0x5d/0x80"
		echo "${ts}### END pgtable_baseline rc=0"
	} > "$tmp/r$i.guest.log"
	run --job $S/clean.job.log --guest "$tmp/r$i.guest.log"
	lit=$(printf '%s' "$rep" | sed 's/[][\.*^$()+?{}|]/\\&/g')
	expect "report fails and is named: $rep" 1 "2 passed, 1 failed, 1 skipped" \
		"^FAIL  kernel log \[pgtable_baseline\] line 3: .*$lit"
done < $S/reports.txt
echo "1..$n"
exit $((fails != 0))
