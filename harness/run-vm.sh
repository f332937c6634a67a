#!/usr/bin/env bash
# Boot build/bzImage under TCG with an initramfs of busybox, the test
# programs and a job script, and run the job.
#
#   run-vm.sh [--files DIR] [--overlay DIR] [--timeout SECS] [--name NAME]
#             [--no-tests] [--kernel debug|prod|PATH] [--mem SIZE] [--cpus N]
#             JOB-SCRIPT
#
# The guest's console (kernel log) goes to build/NAME.guest.log, the job's
# output to build/NAME.job.log and to stdout.  Exits 0 if the guest ran the
# job and powered off, 124 if it hung and was killed, 1 on any other trouble.
# --no-tests leaves build/tests out of the initramfs (a smaller, faster
# boot for jobs that bring their own programs).  --files DIR is copied to
# /files, --overlay DIR onto / (programs that need their own paths, such as
# PostgreSQL's /usr/lib/postgresql and /usr/share/postgresql).
#
# The console carries every kernel message (ignore_loglevel): a WARN() or a
# lockdep report is KERN_WARNING, which loglevel=4 would hide from the log
# that tapcheck.py gates on.  printk.devkmsg=on keeps /dev/kmsg writes (the
# test markers) from being rate-limited.
#
# --kernel picks the kernel flavour: debug (build/bzImage, the default),
# prod (build/bzImage-prod, see harness/kernel-build.sh) or a bzImage path.
# --mem (4G, K/M/G) and --cpus (2) size the guest; they override VM_MEM and
# VM_CPUS.
#
# Environment: VM_KERNEL (debug), VM_CPUS (2), VM_MEM (4G), VM_NUMA (2: NUMA
# nodes, when there are at least as many CPUs; 1: none), VM_TIMEOUT (1800),
# VM_APPEND (more kernel parameters).
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
B=${BUILD:-$top/build}
files=
overlay=
timeout=${VM_TIMEOUT:-1800}
name=vm
with_tests=1
kernel=${VM_KERNEL:-debug}
while [ $# -gt 1 ]; do
	case "$1" in
	--kernel) kernel=$2; shift 2 ;;
	--mem) VM_MEM=$2; shift 2 ;;
	--cpus) VM_CPUS=$2; shift 2 ;;
	--files) files=$2; shift 2 ;;
	--overlay) overlay=$2; shift 2 ;;
	--timeout) timeout=$2; shift 2 ;;
	--name) name=$2; shift 2 ;;
	--no-tests) with_tests=0; shift ;;
	*) break ;;
	esac
done
job=${1:?usage: run-vm.sh [--files DIR] [--overlay DIR] [--timeout S] [--name N] [--no-tests] [--kernel debug|prod|PATH] [--mem SIZE] [--cpus N] JOB-SCRIPT}
case "$kernel" in
debug) image=$B/bzImage ;;
prod) image=$B/bzImage-prod ;;
*) image=$kernel ;;
esac
[ -f "$image" ] || { echo "run-vm: no $image; build the kernel first" >&2; exit 1; }

# The initramfs: busybox, /init, the tests, this run's job and extra files,
# staged in a directory of this run's own (two runs with different names
# may go on at once) and removed once packed.
root=$B/initramfs.$name
rm -rf "$root" && mkdir -p "$root"/{bin,sbin,etc,proc,sys,dev,tmp,tests,root}
cp /bin/busybox "$root/bin/busybox"
cp "$top/harness/init.sh" "$root/init"
cp "$top/harness/run-tests.sh" "$root/bin/run-tests"
chmod +x "$root/init" "$root/bin/run-tests"
printf 'root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/:/bin/false\nuser:x:1000:1000:user:/tmp:/bin/sh\n' > "$root/etc/passwd"
printf 'root:x:0:\nnogroup:x:65534:\nuser:x:1000:\n' > "$root/etc/group"
if [ "$with_tests" = 1 ] && [ -d "$B/tests" ]; then
	cp -a "$B/tests/." "$root/tests/"
fi
cp "$job" "$root/job.sh"
if [ -n "$files" ]; then
	mkdir -p "$root/files"
	cp -a "$files/." "$root/files/"
fi
if [ -n "$overlay" ]; then
	cp -a "$overlay/." "$root/"
fi
# Dynamically linked programs (mshare-run's preload library and the
# programs it runs, PostgreSQL) need the loader and their libraries.
"$top/harness/guest-libs.sh" "$root" >&2
(cd "$root" && find . | cpio -o -H newc --quiet) | gzip -1 > "$B/$name.initramfs.gz"
rm -rf "$root"

log=$B/$name.guest.log
out=$B/$name.job.log
rm -f "$log" "$out"
# Two NUMA nodes (half the memory each, the CPUs split between them) unless
# VM_NUMA=1, so that mbind/migrate_pages tests have somewhere to move pages.
# Every CPU is a socket of its own: CPUs that QEMU made cores of one socket
# but put on different nodes look to the kernel like cache siblings across
# nodes, and it warns (WARNING in topology_sane) when it brings them up.
mem=${VM_MEM:-4G}
case "$mem" in
*G) mb=$(( ${mem%G} * 1024 )) ;;
*M) mb=${mem%M} ;;
*) mb=$mem ;;
esac
cpus=${VM_CPUS:-2}
nodes=${VM_NUMA:-2}
if [ "$nodes" -gt "$cpus" ]; then
	[ -z "${VM_NUMA:-}" ] || echo "run-vm: $cpus CPU(s) cannot fill $nodes NUMA nodes; booting one node" >&2
	nodes=1
fi
numa=()
if [ "$nodes" -gt 1 ]; then
	left=$mb
	for ((n = 0; n < nodes; n++)); do
		size=$(( n == nodes - 1 ? left : mb / nodes ))
		left=$(( left - size ))
		numa+=(-object memory-backend-ram,id=m$n,size=${size}M -numa node,nodeid=$n,memdev=m$n)
	done
	for ((c = 0; c < cpus; c++)); do
		numa+=(-numa cpu,node-id=$(( c * nodes / cpus )),socket-id=$c)
	done
fi
set +e
timeout -k 10 "$timeout" qemu-system-x86_64 -accel tcg -cpu max \
	-smp "$cpus,sockets=$cpus,cores=1,threads=1" -m "${mb}M" "${numa[@]}" \
	-display none -monitor none -no-reboot \
	-kernel "$image" -initrd "$B/$name.initramfs.gz" \
	-append "console=ttyS0 panic=-1 ignore_loglevel printk.devkmsg=on ${VM_APPEND:-}" \
	-serial file:"$log" -serial stdio < /dev/null | tr -d '\r' | tee "$out"
rc=${PIPESTATUS[0]}
set -e
if [ "$rc" = 124 ] || [ "$rc" = 137 ]; then
	echo "run-vm: the guest hung and was killed after ${timeout}s (log: $log)" >&2
	exit 124
fi
if ! grep -q '^### JOB-EXIT' "$out"; then
	echo "run-vm: the guest stopped before the job finished (qemu rc=$rc; log: $log)" >&2
	exit 1
fi
exit 0
