#!/usr/bin/env bash
# Kernel-side lint, as TAP: checkpatch --strict on every new kernel file and
# every patch, and a W=1 build of the new directories with no warnings.
set -u
top=$(cd "$(dirname "$0")/.." && pwd)
B=${BUILD:-$top/build}
K=$B/linux
cp=$K/scripts/checkpatch.pl
cd "$top"
files=$(git ls-files 'mm/*.[ch]' 'fs/*.[ch]' 'include/*.h' 'kernel/*.[ch]' 'arch/*.[ch]' 2>/dev/null ||
	find mm fs include -name '*.[ch]')
dirs=$(for d in mm/mshare fs/msharefs; do [ -d "$d" ] && echo "$d/"; done)
n=0
fails=0
result() {
	n=$((n + 1))
	if [ "$1" = 0 ]; then echo "ok $n $2"; else echo "not ok $n $2"; fails=$((fails + 1)); fi
}
echo "TAP version 13"
mans=$(git ls-files 'userspace/*.[1-8]' 2>/dev/null || find userspace -name '*.[1-8]')
echo "1..$(( $(echo $files | wc -w) + $(ls patches/*.patch 2>/dev/null | wc -l) + $(echo $dirs | wc -w) + $(echo $mans | wc -w) + 2 ))"
for f in $files; do
	out=$(perl "$cp" --no-tree --strict --terse -f "$f" 2>&1 | grep -E 'ERROR|WARNING|CHECK')
	result $([ -z "$out" ] && echo 0 || echo 1) "checkpatch --strict $f"
	[ -z "$out" ] || printf '%s\n' "$out" | sed 's/^/# /'
done
for p in patches/*.patch; do
	# checkpatch reads the patch from stdin: given a path inside a git
	# work tree it misreads blank context lines.
	out=$(perl "$cp" --no-tree --strict --terse - < "$p" 2>&1 | grep -E 'ERROR|WARNING|CHECK')
	result $([ -z "$out" ] && echo 0 || echo 1) "checkpatch --strict $p"
	[ -z "$out" ] || printf '%s\n' "$out" | sed 's/^/# /'
done
for d in $dirs; do
	out=$(make -C "$K" -s W=1 CC="${LINT_CC:-gcc}" "$d" 2>&1 | grep -E 'warning:|error:')
	result $([ -z "$out" ] && echo 0 || echo 1) "W=1 build of $d"
	[ -z "$out" ] || printf '%s\n' "$out" | head -20 | sed 's/^/# /'
done
# sparse: clean in our files and on every line our patches add; upstream's
# own warnings in the hooked files are listed, not counted.
out=$(bash "$top/harness/sparse-check.sh" 2>&1)
rc=$?
newl=$(printf '%s\n' "$out" | grep '^NEW' || true)
oldn=$(printf '%s\n' "$out" | grep -c '^OLD' || true)
result $([ $rc = 0 ] && [ -z "$newl" ] && echo 0 || echo 1) \
	"sparse (C=2) of mm/mshare/, fs/msharefs/ and the hooked files ($oldn upstream warnings in hooked files)"
[ $rc = 0 ] || printf '%s\n' "$out" | head -5 | sed 's/^/# /'
[ -z "$newl" ] || printf '%s\n' "$newl" | head -40 | sed 's/^/# /'
printf '%s\n' "$out" | grep '^OLD' | head -${LINT_SHOW_OLD:-0} | sed 's/^/# /'
# The hooks with the feature off: CONFIG_MSHARE=n in a tree of its own.
out=$(bash "$top/harness/nomshare-build.sh" 2>&1)
rc=$?
result $([ $rc = 0 ] && [ -z "$out" ] && echo 0 || echo 1) \
	"CONFIG_MSHARE=n build of mm/ fs/ kernel/ arch/x86/mm/ arch/x86/entry/ without warnings"
[ -z "$out" ] || printf '%s\n' "$out" | head -40 | sed 's/^/# /'
for m in $mans; do
	# .so pages are links: render them from their directory's parent
	out=$(cd "$(dirname "$m")/.." && groff -man -Tutf8 -ww -z "$(basename "$(dirname "$m")")/$(basename "$m")" 2>&1)
	result $([ -z "$out" ] && echo 0 || echo 1) "groff -ww $m"
	[ -z "$out" ] || printf '%s\n' "$out" | head -10 | sed 's/^/# /'
done
exit $((fails != 0))
