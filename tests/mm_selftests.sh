#!/bin/sh
# The kernel's own mm selftests (tools/testing/selftests/mm, built static
# into /tests/mm by the Makefile), run one by one as tests/mm-selftests/list
# says.  This program only runs them and records each result; whether a
# result is acceptable is decided on the host, against the unpatched
# kernel's baseline (harness/mm-selftests-compare.py), since some of them
# fail or skip on the unpatched kernel too.
#
# Each test's output is kept, indented, between lines
#   # MMST BEGIN ID
#   # MMST RESULT ID pass|fail|skip rc=N secs=S
# (each output line starts "#| ").  Its own TAP lines ("ok N desc" /
# "not ok N desc") are read by the host as subtests.  The program's own TAP is one result: every listed test ran
# and every binary was there.
#
#   mm_selftests.sh [DIR]   (DIR: the binaries and list; default /tests/mm)
dir=${1:-/tests/mm}
cd "$dir" || { echo "1..1"; echo "not ok 1 - no $dir"; exit 1; }
echo "TAP version 13"
echo "1..1"
# gup_test and split_huge_page_test need debugfs (make check's job mounts
# it; the baseline's does not).
grep -q ' /sys/kernel/debug ' /proc/mounts ||
	mount -t debugfs debugfs /sys/kernel/debug 2>/dev/null
hp=$(cat /proc/sys/vm/nr_hugepages)
shmmax=$(cat /proc/sys/kernel/shmmax)
shmall=$(cat /proc/sys/kernel/shmall)
# As run_vmtests.sh does: enough free huge pages (256 MiB) for the hugetlb
# tests; the guest reserves more at boot.
[ "$hp" -ge 128 ] || echo 128 > /proc/sys/vm/nr_hugepages
echo "# MMST KERNEL $(uname -r) $(uname -v)"
echo "# MMST HUGEPAGES $(cat /proc/sys/vm/nr_hugepages)"
missing=0
ran=0
t_all=$(date +%s)
while read -r id tmo cmd; do
	case "$id" in
	''|'#'*) continue ;;
	SETUP) sh -c "$tmo $cmd"; continue ;;
	esac
	bin=$(echo "$cmd" | tr ' ' '\n' | grep -m1 '^\./')
	echo "# MMST BEGIN $id"
	if [ ! -x "$bin" ]; then
		echo "# MMST RESULT $id missing rc=127 secs=0"
		missing=$((missing + 1))
		continue
	fi
	t0=$(date +%s)
	rm -f /tmp/.mmst.rc
	{
		timeout -s KILL "$tmo" sh -c "$cmd" < /dev/null 2>&1
		echo $? > /tmp/.mmst.rc
	} | sed 's/^/#| /'
	rc=$(cat /tmp/.mmst.rc 2>/dev/null || echo 255)
	secs=$(( $(date +%s) - t0 ))
	case "$rc" in
	0) r=pass ;;
	4) r=skip ;;
	*) r=fail ;;
	esac
	echo "# MMST RESULT $id $r rc=$rc secs=$secs"
	ran=$((ran + 1))
	# What a test changed for itself is put back for the next one.
	echo "$shmmax" > /proc/sys/kernel/shmmax
	echo "$shmall" > /proc/sys/kernel/shmall
done < list
echo "$hp" > /proc/sys/vm/nr_hugepages
echo "$shmmax" > /proc/sys/kernel/shmmax
echo "$shmall" > /proc/sys/kernel/shmall
echo "# MMST DONE ran=$ran missing=$missing secs=$(( $(date +%s) - t_all ))"
if [ "$missing" = 0 ]; then
	echo "ok 1 - $ran mm selftests ran (results checked on the host against the unpatched baseline)"
else
	echo "not ok 1 - $missing mm selftests missing from $dir"
fi
