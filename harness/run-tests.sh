#!/bin/sh
# Guest side: run every test program listed in /tests/LIST, each under a
# timeout, framing its TAP output with BEGIN/END markers for the host parser.
cd /tmp
for t in $(cat /tests/LIST); do
	echo "### BEGIN $t"
	# The kernel log gets the markers too, to place what it reports.
	echo "### BEGIN $t" > /dev/console
	echo "### MEMINFO-BEFORE $t $(grep -E '^(PageTables|Shmem|AnonPages):' /proc/meminfo | tr -s ' ' | tr '\n' ' ')"
	timeout -s KILL "${TEST_TIMEOUT:-600}" /tests/$t
	rc=$?
	echo "### MEMINFO-AFTER $t $(grep -E '^(PageTables|Shmem|AnonPages):' /proc/meminfo | tr -s ' ' | tr '\n' ' ')"
	echo "### END $t rc=$rc"
	echo "### END $t rc=$rc" > /dev/console
done
