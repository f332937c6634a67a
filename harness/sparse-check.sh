#!/usr/bin/env bash
# sparse (make C=2) over mm/mshare/, fs/msharefs/ and every .c file that
# patches/ hooks, in build/linux (built already).  Prints one line per
# distinct sparse warning or error:
#
#   NEW  path:line:col: warning: ...	in our files, or on a line our patches add
#   OLD  path:line:col: warning: ...	elsewhere in a hooked file (upstream's)
#
# Lines our patches add are found by diffing each hooked file against the
# file with the whole series reversed.  Exits 1 if sparse could not run.
set -uo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
B=${BUILD:-$top/build}
K=$B/linux
command -v sparse >/dev/null || { echo "sparse-check: sparse is not installed (make deps)" >&2; exit 1; }
[ -f "$K/.config" ] || { echo "sparse-check: $K is not configured" >&2; exit 1; }
cd "$top"
hooked=$(grep -h '^+++ b/' patches/*.patch | sed 's|^+++ b/||; s|[[:space:]].*||' | sort -u)
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

# The hooked files as upstream has them: the series reversed, last first.
for f in $hooked; do
	mkdir -p "$tmp/orig/$(dirname "$f")"
	cp "$K/$f" "$tmp/orig/$f" 2>/dev/null || : > "$tmp/orig/$f"
done
for p in $(ls patches/*.patch | sort -r); do
	patch -d "$tmp/orig" -p1 -R -s -f < "$p" >/dev/null 2>&1 ||
		echo "sparse-check: NOTE: $p does not reverse cleanly; its lines may count as old" >&2
done
# Added lines: "path:line" for every line of a hooked file that upstream lacks.
for f in $hooked; do
	diff --unchanged-line-format= --old-line-format= --new-line-format="$f:%dn
" "$tmp/orig/$f" "$K/$f"
done > "$tmp/added"

# Our own files first: everything sparse says while checking them is ours,
# wherever it points (a context imbalance in our function is reported at
# the header line of the lock helper).
make -C "$K" -s -k -j"${JOBS:-$(nproc)}" C=2 CHECK=sparse mm/mshare/ fs/msharefs/ 2>&1 |
	grep -E '^[^ :]+:[0-9]+:[0-9]+: (warning|error):' | sed 's|^\./||' | sort -u | sed 's/^/NEW  /'
targets=
for f in $hooked; do
	case "$f" in *.c) targets="$targets ${f%.c}.o" ;; esac
done
make -C "$K" -s -k -j"${JOBS:-$(nproc)}" C=2 CHECK=sparse $targets > "$tmp/out" 2>&1
grep -E '^[^ :]+:[0-9]+:[0-9]+: (warning|error):' "$tmp/out" | sed 's|^\./||' | sort -u |
while IFS= read -r line; do
	line=${line#./}
	f=${line%%:*}
	rest=${line#*:}
	n=${rest%%:*}
	case "$f" in
	mm/mshare/* | fs/msharefs/* | include/linux/mshare.h | include/uapi/linux/mshare*.h)
		echo "NEW  $line" ;;
	*)
		if grep -qxF "$f:$n" "$tmp/added"; then
			echo "NEW  $line"
		else
			echo "OLD  $line"
		fi ;;
	esac
done
exit 0
