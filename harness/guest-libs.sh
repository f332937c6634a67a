#!/usr/bin/env bash
# guest-libs.sh ROOT: make the dynamically linked programs and libraries
# staged in ROOT (an initramfs tree) runnable in the guest: copy the
# dynamic loader and every shared library they need (as ldd(1) finds them
# on this host, at the same paths), glibc's NSS "files" module, and an
# nsswitch.conf that uses it.  Static programs need nothing and get
# nothing.  Prints how many objects it copied.
set -euo pipefail
root=${1:?usage: guest-libs.sh ROOT}
list=$(mktemp)
trap 'rm -f "$list"' EXIT

is_elf() {
	[ "$(head -c 4 "$1" 2>/dev/null | od -An -c | tr -d ' ')" = '177ELF' ]
}

dyn=0
while IFS= read -r -d '' f; do
	is_elf "$f" || continue
	# ldd says "not a dynamic executable" (and fails) for static programs
	out=$(ldd "$f" 2>/dev/null) || continue
	dyn=$((dyn + 1))
	printf '%s\n' "$out" | sed -n -e 's/^.*=> \(\/[^ ]*\) (0x.*$/\1/p' \
		-e 's/^[[:space:]]*\(\/[^ ]*\) (0x.*$/\1/p' >> "$list"
done < <(find "$root" -type f -size +1k -print0)

[ "$dyn" -gt 0 ] || { echo "guest-libs: no dynamic programs"; exit 0; }
# NSS: getpwnam() and the like dlopen() it, which ldd cannot see
for m in /lib/x86_64-linux-gnu/libnss_files.so.2; do
	[ -e "$m" ] && echo "$m" >> "$list"
done
n=0
for lib in $(sort -u "$list"); do
	[ -e "$root$lib" ] && continue
	mkdir -p "$root$(dirname "$lib")"
	cp -L "$lib" "$root$lib"
	n=$((n + 1))
done
if [ ! -e "$root/etc/nsswitch.conf" ]; then
	mkdir -p "$root/etc"
	printf 'passwd: files\ngroup: files\nshadow: files\nhosts: files\n' > "$root/etc/nsswitch.conf"
fi
echo "guest-libs: $dyn dynamic objects, $n libraries copied"
