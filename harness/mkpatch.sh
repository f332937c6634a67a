#!/usr/bin/env bash
# Developer helper: write patches/NAME.patch from the edits made to FILES in
# build/linux, against the pristine files from the source tarball, and mark
# it applied so that kernel-tree.sh leaves the tree alone.
#   harness/mkpatch.sh NAME "Subject line" "Body text" FILE...
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
tree=$top/build/linux
name=$1 subject=$2 body=$3
shift 3
pr=$(mktemp -d)
trap 'rm -rf "$pr"' EXIT
tar -xf /usr/src/linux-source-6.12.tar.xz -C "$pr" --strip-components=1 \
	$(for f in "$@"; do echo "linux-source-6.12/$f"; done)
out=$top/patches/$name.patch
{
	echo "From: mshare developers <mshare@localhost>"
	echo "Subject: [PATCH] $subject"
	echo
	printf '%s\n' "$body" | fold -s -w 72 | sed 's/ *$//'
	echo
	echo "Signed-off-by: mshare developers <mshare@localhost>"
	echo "---"
	for f in "$@"; do
		echo "diff --git a/$f b/$f"
		(cd "$pr" && diff -u --label "a/$f" --label "b/$f" "$f" "$tree/$f") || true
	done
} > "$out"
cp "$out" "$tree/.mshare/applied/"
echo "wrote $out ($(grep -c '^[-+][^-+]' "$out") changed lines)"
