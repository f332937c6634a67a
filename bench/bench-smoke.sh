#!/bin/sh
# make check's smoke test of make bench (TAP), run on the prod kernel: the
# quick bench's page-table case at its smallest size (S = 256 MiB) with
# N = 100 readers, memfd against mshare, and a real assertion: mshare's
# page tables (the region's own included) at least 10x below MAP_SHARED's.
# Not a timing test.
n=${SMOKE_N:-100}
s=${SMOKE_S_MIB:-256}
echo "1..2"
out=$(pt-savings -s "$s" -m memfd,mshare -P "$n" 2>&1)
rc=$?
echo "$out" | sed 's/^/# /'
memfd=$(echo "$out" | awk -v n="$n" '$1 == n && $2 == "memfd" && $6 ~ /^ok/ { print $3 }')
ms=$(echo "$out" | awk -v n="$n" '$1 == n && $2 == "mshare" && $6 ~ /^ok/ { print $3 }')
if [ $rc = 0 ] && [ -n "$memfd" ] && [ -n "$ms" ]; then
	echo "ok 1 pt-savings measured memfd and mshare at N=$n S=${s}M"
else
	echo "not ok 1 pt-savings measured memfd and mshare at N=$n S=${s}M (rc=$rc)"
fi
if [ -n "$memfd" ] && [ -n "$ms" ] && [ "$ms" -gt 0 ] && [ "$memfd" -ge $((ms * 10)) ]; then
	echo "ok 2 mshare page tables ${ms} kB, at least 10x below MAP_SHARED's ${memfd} kB ($((memfd / ms))x)"
else
	echo "not ok 2 mshare page tables ${ms:-?} kB, not 10x below MAP_SHARED's ${memfd:-?} kB"
fi
