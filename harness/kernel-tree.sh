#!/usr/bin/env bash
# Prepare build/linux: unpack Debian's linux-source-6.12 once, keep the patch
# series from patches/ applied, and overlay this repo's kernel files.
# Everything is incremental: a file is rewritten only when its content
# changes, so kbuild recompiles only what really changed.
#
#   kernel-tree.sh [FLAVOUR]
#
# Each kernel flavour (debug: build/linux, prod: build/linux-prod) has a
# source tree of its own, built in place: kbuild cannot build out of tree
# (O=) from a source tree that was itself built in place, and the debug
# tree has always been.  Both get the same source, patches and files.
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
B=${BUILD:-$top/build}
flavour=${1:-${FLAVOUR:-debug}}
case "$flavour" in
debug) tree=$B/linux ;;
prod) tree=$B/linux-prod ;;
*) echo "kernel-tree: unknown flavour '$flavour' (debug or prod)" >&2; exit 2 ;;
esac
state=$tree/.mshare
tarball=/usr/src/linux-source-6.12.tar.xz
want=$(cat "$top/KERNEL_VERSION")
have=$(dpkg-query -W -f='${Version}' linux-source-6.12 2>/dev/null || true)

[ -f "$tarball" ] || { echo "kernel-tree: $tarball missing; run 'make deps'" >&2; exit 1; }
if [ "$have" != "$want" ]; then
	echo "kernel-tree: NOTE: KERNEL_VERSION asks for linux-source-6.12 $want," \
	     "but $have is installed (the newest 6.12.y available); using it" >&2
fi

# 1. Unpack, once per source package version.
if [ ! -f "$state/unpacked" ] || [ "$(cat "$state/unpacked")" != "$have" ]; then
	echo "kernel-tree: unpacking linux-source-6.12 $have into $tree"
	rm -rf "$tree" "$tree.tmp"
	mkdir -p "$tree.tmp"
	tar -xf "$tarball" -C "$tree.tmp"
	mv "$tree.tmp"/linux-source-6.12 "$tree"
	rmdir "$tree.tmp"
	mkdir -p "$state/applied"
	echo "$have" > "$state/unpacked"
fi

# 2. The patch series: patches/*.patch in name order.  Patches already applied
# in the same order and with the same content are left alone; from the first
# difference on, the old ones are reversed and the new ones applied.
mapfile -t new < <(cd "$top/patches" 2>/dev/null && ls -1 -- *.patch 2>/dev/null | sort)
mapfile -t old < <(cd "$state/applied" && ls -1 -- *.patch 2>/dev/null | sort)
k=0
while [ $k -lt ${#new[@]} ] && [ $k -lt ${#old[@]} ] &&
      [ "${new[$k]}" = "${old[$k]}" ] &&
      cmp -s "$top/patches/${new[$k]}" "$state/applied/${old[$k]}"; do
	k=$((k + 1))
done
for ((i = ${#old[@]} - 1; i >= k; i--)); do
	echo "kernel-tree: reverting ${old[$i]}"
	patch -d "$tree" -p1 -R -s -f < "$state/applied/${old[$i]}"
	rm -f "$state/applied/${old[$i]}"
done
for ((i = k; i < ${#new[@]}; i++)); do
	echo "kernel-tree: applying ${new[$i]}"
	if ! patch -d "$tree" -p1 -s -f -N < "$top/patches/${new[$i]}"; then
		echo "kernel-tree: ${new[$i]} does not apply" >&2
		exit 1
	fi
	cp "$top/patches/${new[$i]}" "$state/applied/"
done

# 3. Overlay the new kernel files at their kernel paths.
: > "$state/overlay.new"
for d in mm fs include arch kernel lib Documentation; do
	[ -d "$top/$d" ] || continue
	(cd "$top" && find "$d" -type f) >> "$state/overlay.new"
done
sort -o "$state/overlay.new" "$state/overlay.new"
n=0
while read -r f; do
	if ! cmp -s "$top/$f" "$tree/$f"; then
		mkdir -p "$(dirname "$tree/$f")"
		cp "$top/$f" "$tree/$f"
		n=$((n + 1))
	fi
done < "$state/overlay.new"
if [ -f "$state/overlay" ]; then
	comm -23 "$state/overlay" "$state/overlay.new" | while read -r f; do
		echo "kernel-tree: removing $f (no longer in the repo)"
		rm -f "$tree/$f"
	done
fi
mv "$state/overlay.new" "$state/overlay"
echo "kernel-tree ($flavour): $(wc -l < "$state/overlay") overlay files ($n updated), ${#new[@]} patches"
