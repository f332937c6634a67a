#!/bin/sh
# Guest side: run every test program listed in /tests/LIST (or the programs
# given as arguments: names in /tests, or paths), each under a timeout,
# framing its TAP output with BEGIN/END markers for the host parser.
#
# The kernel log gets the markers too, so that tapcheck.py can name the
# program a kernel report appeared in.  They go through /dev/kmsg, in
# order with the kernel's own messages, at KERN_DEBUG: if the console
# filtered by level (loglevel=4 hides KERN_WARNING, i.e. every WARN()), the
# markers would be missing too and tapcheck fails the run as blind.
cd /tmp
kmark() {
	if [ -w /dev/kmsg ]; then
		echo "<7>$*" > /dev/kmsg
	else
		echo "$*" > /dev/console
	fi
}
if [ $# -gt 0 ]; then
	progs="$*"
else
	progs=$(cat /tests/LIST)
fi
for p in $progs; do
	case "$p" in
	*/*) t=${p##*/} ;;
	*) t=$p; p=/tests/$p ;;
	esac
	echo "### BEGIN $t"
	kmark "### BEGIN $t"
	echo "### MEMINFO-BEFORE $t $(grep -E '^(PageTables|Shmem|AnonPages):' /proc/meminfo | tr -s ' ' | tr '\n' ' ')"
	# /tests/NAME.timeout: that program's own limit (mm_selftests).
	tmo=${TEST_TIMEOUT:-600}
	[ -f "/tests/$t.timeout" ] && tmo=$(cat "/tests/$t.timeout")
	timeout -s KILL "$tmo" "$p"
	rc=$?
	echo "### MEMINFO-AFTER $t $(grep -E '^(PageTables|Shmem|AnonPages):' /proc/meminfo | tr -s ' ' | tr '\n' ' ')"
	echo "### END $t rc=$rc"
	kmark "### END $t rc=$rc"
done
