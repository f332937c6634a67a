# Guest job for 'make check': every test program, framed for the parser.
# With kmemleak on (make check KMEMLEAK=1 boots with kmemleak=on), what
# boot left is forgotten first, and after the suite two scans look for
# leaks: a program of their own, "kmemleak", so that a leak fails the run.
KL=/sys/kernel/debug/kmemleak
grep -q ' /sys/kernel/debug ' /proc/mounts ||
	mount -t debugfs debugfs /sys/kernel/debug 2>/dev/null
kl_on=0
if [ -w $KL ] && echo clear > $KL 2>/dev/null; then
	kl_on=1
fi
# The fuzzer's seed for the gate: the same run every time (make soak and a
# hand-run mshare_fuzz draw new ones).  Change it when the fuzzer changes.
export MSHARE_FUZZ_SEED=${MSHARE_FUZZ_SEED:-0xf689101615c1c2cc}
run-tests
if [ $kl_on = 1 ]; then
	echo "### BEGIN kmemleak"
	echo "<7>### BEGIN kmemleak" > /dev/kmsg
	t0=$(date +%s)
	# An object is reported once it has been unreferenced for two scans
	# and is older than 5 s.
	sleep 6
	echo scan > $KL
	echo scan > $KL
	n=$(grep -c '^unreferenced object' $KL)
	echo "TAP version 13"
	echo "1..1"
	sed -n '1,60p' $KL | sed 's/^/# /'
	if [ "$n" = 0 ]; then
		echo "ok 1 - kmemleak: no leak after the suite (scans took $(( $(date +%s) - t0 ))s)"
	else
		echo "not ok 1 - kmemleak: $n unreferenced objects after the suite"
	fi
	echo "### END kmemleak rc=0"
	echo "<7>### END kmemleak rc=0" > /dev/kmsg
fi
