#!/usr/bin/env bash
# Developer helper: rewrite the diffs of patches/NAME.patch from build/linux,
# keeping its header (subject and text): every file the patch touches is
# diffed against the pristine file of the source tarball.  Each kernel file
# is touched by one patch only, so this is that patch's whole change.  The
# patch is marked applied so that kernel-tree.sh leaves the tree alone.
#   harness/regen-patch.sh patches/NAME.patch [FILE...]   (FILEs: add files)
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
tree=$top/build/linux
patch=$1
shift
mapfile -t files < <({ grep '^diff --git a/' "$patch" | awk '{print substr($3, 3)}' || true; printf '%s\n' "$@"; } | awk 'NF && !seen[$0]++')
pr=$(mktemp -d)
trap 'rm -rf "$pr"' EXIT
tar -xf /usr/src/linux-source-6.12.tar.xz -C "$pr" --strip-components=1 \
	$(for f in "${files[@]}"; do echo "linux-source-6.12/$f"; done) 2>/dev/null || true
{
	sed '/^diff --git /,$d' "$patch"
	for f in "${files[@]}"; do
		echo "diff --git a/$f b/$f"
		if [ -f "$pr/$f" ]; then
			(cd "$pr" && diff -u --label "a/$f" --label "b/$f" "$f" "$tree/$f") || true
		else
			diff -u --label /dev/null --label "b/$f" /dev/null "$tree/$f" || true
		fi
	done
} > "$patch.new"
mv "$patch.new" "$patch"
cp "$patch" "$tree/.mshare/applied/"
echo "wrote $patch ($(grep -c '^[-+][^-+]' "$patch") changed lines)"
