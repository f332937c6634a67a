#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
#
# mshare-run(1) and page tables: a program (/tests/mr-probe, dynamically
# linked, unmodified) fills 1 GiB of shared anonymous memory and forks 64
# children that read all of it, once with the region made by libmshare's
# API (native) and once plainly under mshare-run.  The children must pay
# no more page tables and take no more faults under mshare-run than with
# the native API, and far less than with plain MAP_SHARED (2 children of
# 256 MiB, scaled to 1 GiB).  TAP output.  POSIX sh.

R=$(command -v mshare-run || echo /tests/bin/mshare-run)
P=/tests/mr-probe
T=$(mktemp -d /tmp/mshare_run_pt.XXXXXX) || exit 1
n=0
failed=0
trap 'rm -rf "$T"' EXIT

echo "1..6"

run() {
	name=$1
	shift
	"$@" >"$T/$name.out" 2>"$T/$name.err"
	rc=$?
	last=$name
}
kv() {
	sed -n "s/^$2=//p" "$T/$1.out" | head -n 1
}
check() {
	desc=$1
	shift
	n=$((n + 1))
	if eval "$*"; then
		echo "ok $n - $desc"
	else
		echo "not ok $n - $desc"
		failed=$((failed + 1))
		echo "# condition: $*"
		echo "# last run: $last rc=$rc"
		sed 's/^/# out: /' "$T/$last.out" 2>/dev/null | head -40
		sed 's/^/# err: /' "$T/$last.err" 2>/dev/null | head -20
	fi
}

kids=${MR_KIDS:-64}
run native $P forks "$kids" 1G native
check "native API: $kids children read 1 GiB" \
	'[ $rc = 0 ] && [ "$(kv native children)" = "$kids" ] && [ "$(kv native map_mshare)" = 1 ]'
run mr_forks $R -- $P forks "$kids" 1G
check "mshare-run: $kids children read 1 GiB through the region" \
	'[ $rc = 0 ] && [ "$(kv mr_forks children)" = "$kids" ] && [ "$(kv mr_forks map_mshare)" = 1 ]'
# the plain baseline: 2 children of 256 MiB, the cost per GiB scaled up
run plain_forks $P forks 2 256M
check "plain: 2 children read 256 MiB" '[ $rc = 0 ] && [ "$(kv plain_forks children)" = 2 ]'
nat=$(kv native pt_per_child_kb)
mr=$(kv mr_forks pt_per_child_kb)
pl=$(( $(kv plain_forks pt_per_child_kb) * 4 ))
echo "# PageTables per child, 1 GiB shared: native API ${nat} kB, mshare-run ${mr} kB, plain MAP_SHARED ~${pl} kB (from 256 MiB x 4)"
echo "# minor faults per child: native $(kv native minflt_per_child), mshare-run $(kv mr_forks minflt_per_child), plain $(( $(kv plain_forks minflt_per_child) * 4 )) (scaled)"
last=mr_forks
check "mshare-run: PageTables per child within 16 kB of the native API's" \
	'[ "$mr" -le $(( nat + 16 )) ]'
check "mshare-run: PageTables per child under 1/20 of plain's (no per-child PTEs for the GiB)" \
	'[ $(( mr * 20 )) -lt "$pl" ] && [ "$pl" -ge 1536 ]'
check "mshare-run: children take no more minor faults than with the native API (+64)" \
	'[ "$(kv mr_forks minflt_per_child)" -le $(( $(kv native minflt_per_child) + 64 )) ]'

echo "# $n tests, $failed failed"
[ "$failed" = 0 ]
