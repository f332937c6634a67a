#!/bin/busybox sh
# /init of the test guest.  Mounts what the tests need, runs /job.sh (put in
# the initramfs by the host for each run) with its output on ttyS1, the
# clean channel the host parses, apart from the kernel log on the console
# (ttyS0), then powers off.
/bin/busybox --install -s /bin
export PATH=/bin:/sbin:/usr/bin:/tests/bin:/tests
mkdir -p /proc /sys /dev /tmp /run /mnt
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev 2>/dev/null
mkdir -p /dev/shm /dev/hugepages /sys/fs/cgroup
mount -t tmpfs tmpfs /tmp
mount -t tmpfs tmpfs /dev/shm
mount -t tmpfs tmpfs /run
mount -t hugetlbfs hugetlbfs /dev/hugepages
mount -t cgroup2 cgroup2 /sys/fs/cgroup
if [ -d /sys/fs/mshare ]; then
	mount -t msharefs msharefs /sys/fs/mshare 2>/dev/null
fi
# The console must carry every kernel message: the host's verdict gates on
# WARN()s and lockdep reports, which are KERN_WARNING.  run-vm.sh boots with
# ignore_loglevel; this keeps the level at debug for a kernel booted
# without it.  Nothing in the guest may lower it (dmesg -n).
echo 8 > /proc/sys/kernel/printk
# NUMA balancing is on by default with two nodes; its hinting faults make
# every memory-heavy test many times slower under TCG.  Tests that need it
# (mshare_walkers) switch it on and back off.
[ -w /proc/sys/kernel/numa_balancing ] && echo 0 > /proc/sys/kernel/numa_balancing
# Huge pages for the hugetlb tests: reserved early, before memory fragments.
echo "${HUGEPAGES:-640}" > /proc/sys/vm/nr_hugepages
hostname mshare-guest
out=/dev/ttyS1
[ -c $out ] || out=/dev/null
{
	echo "### GUEST nproc=$(nproc) kernel=$(uname -r)"
	echo "### GUEST hugepages=$(cat /proc/sys/vm/nr_hugepages)"
	echo "### GUEST printk=$(cat /proc/sys/kernel/printk | tr -s '\t ' ' ')" \
		"ignore_loglevel=$(cat /sys/module/printk/parameters/ignore_loglevel 2>/dev/null)" \
		"nodes=$(ls -d /sys/devices/system/node/node* 2>/dev/null | wc -l)"
	sh /job.sh
	echo "### JOB-EXIT $?"
} > $out 2>&1
sync
poweroff -f
