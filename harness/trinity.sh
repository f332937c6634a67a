#!/usr/bin/env bash
# Debian's trinity over the mm system calls, inside an mshare attachment,
# for a bounded time, on the debug kernel; gated by tapcheck.py like make
# check (the TAP below and every kernel report in the guest log).
#
#   harness/trinity.sh [SECONDS] [SEED]     (default 300 s, a fresh seed)
#
# trinity is dynamically linked: its loader and libc go into the guest with
# it.  tests/trinity/mshare-preload.c, preloaded, puts trinity's initial
# mappings (the address arguments its children fuzz with) strictly inside
# one 1 GiB region attachment that all its children share; see there.
# Logs: build/trinity.{job,guest}.log.  Not in make check: trinity's
# children run concurrently, so a seed does not replay a run exactly.
set -uo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
B=${BUILD:-$top/build}
secs=${1:-${TRINITY_SECONDS:-300}}
seed=${2:-${TRINITY_SEED:-$(( $(od -An -N4 -tu4 /dev/urandom) ))}}
command -v trinity >/dev/null || { echo "trinity.sh: no trinity; run make deps" >&2; exit 1; }
F=$B/trinity.files
rm -rf "$F" && mkdir -p "$F"
cp /usr/bin/trinity "$F/"
for lib in $(ldd /usr/bin/trinity | awk '/=> \//{print $3} /^\t\/lib/{print $1}'); do
	cp -L "$lib" "$F/"
done
gcc -O2 -Wall -Wextra -Werror -shared -fPIC -o "$F/mshare-preload.so" \
	"$top/tests/trinity/mshare-preload.c" || exit 1
ld=$(basename "$(ldd /usr/bin/trinity | awk '/^\t\/lib/{print $1}')")
calls="mmap munmap mprotect madvise mremap mlock mlock2 munlock mlockall munlockall msync mincore remap_file_pages process_madvise"
known=$(cd /tmp && trinity -l off -L 2>/dev/null)
copts=
for c in $calls; do
	printf '%s\n' "$known" | grep -qw "$c" && copts="$copts -c $c"
done
echo "trinity.sh: $secs s, seed $seed, syscalls:$copts"

job=$B/trinity.job
cat > "$job" <<EOF
# Guest job of harness/trinity.sh
kmark() { echo "<7>\$*" > /dev/kmsg; }
cd /tmp
chmod 1777 /tmp
echo "### BEGIN trinity"
kmark "### BEGIN trinity"
echo "TAP version 13"
echo "1..3"
ulimit -l 65536
log=/tmp/mshare-trinity.log
: > \$log; chmod 666 \$log
t0=\$(date +%s)
# As an unprivileged user (trinity refuses root without --dangerous).
# Its file list from one small victim directory: walking /proc and /sys
# takes trinity's whole time budget under TCG.
mkdir -p /tmp/victims && echo victim > /tmp/victims/file && chmod -R a+rwX /tmp/victims
su -s /bin/sh user -c "cd /tmp && MSHARE_TRINITY_LOG=\$log timeout -s INT $secs \
	/files/$ld --library-path /files --preload /files/mshare-preload.so \
	/files/trinity -q -l off -a 64 -C 4 -V /tmp/victims --disable-fds=sockets,perf,drm -s $seed $copts; \
	echo trinity-rc=\\\$?" > /tmp/trinity.out 2>&1 &
# Sample which processes have the attachment mapped while it runs.
seen=0
while kill -0 \$! 2>/dev/null; do
	n=\$(grep -l mshare /proc/[0-9]*/maps 2>/dev/null | wc -l)
	[ "\$n" -gt "\$seen" ] && seen=\$n
	sleep 5
done
# trinity stops its children on SIGINT; whatever is left is killed.
sleep 10
pkill -KILL -u user 2>/dev/null
wait
t1=\$(date +%s)
tail -n 30 /tmp/trinity.out | sed 's/^/# /'
grep -v 'placed 0x' \$log | sed 's/^/# /'
placed=\$(grep -c 'placed 0x' \$log)
if [ "\$placed" -gt 0 ]; then
	echo "ok 1 - trinity's initial mappings placed inside the attachment: \$placed"
else
	echo "not ok 1 - no trinity mapping placed inside an attachment"
fi
if [ "\$seen" -gt 1 ]; then
	echo "ok 2 - at most \$seen processes had the attachment mapped at once (trinity and its children)"
else
	echo "not ok 2 - only \$seen processes had the attachment mapped"
fi
if grep -q 'Ran [0-9]* syscalls\|syscalls. [0-9]* success' /tmp/trinity.out || [ \$(( t1 - t0 )) -ge $secs ]; then
	echo "ok 3 - trinity ran \$(( t1 - t0 )) s (seed $seed)"
else
	echo "not ok 3 - trinity stopped after \$(( t1 - t0 )) s of $secs"
fi
echo "### END trinity rc=0"
kmark "### END trinity rc=0"
EOF
t0=$(date +%s)
"$top/harness/run-vm.sh" --name trinity --no-tests --files "$F" --timeout $(( secs + 900 )) "$job" \
	> "$B/trinity.console" 2>&1
vmrc=$?
echo "[time] trinity boot-and-run: $(( $(date +%s) - t0 ))s"
grep -E '^(ok|not ok|# MSHARE)' "$B/trinity.job.log" 2>/dev/null
[ $vmrc = 0 ] || echo "trinity.sh: the VM run failed (rc=$vmrc); guest log: $B/trinity.guest.log"
python3 "$top/harness/tapcheck.py" --quiet --job "$B/trinity.job.log" --guest "$B/trinity.guest.log"
