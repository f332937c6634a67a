#!/usr/bin/env bash
# make run: boot the mshare kernel and show what N processes save in page
# tables when they read the same memory through an mshare region instead of
# an ordinary MAP_SHARED memfd.
set -uo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
B=${BUILD:-$top/build}
N=${DEMO_N:-1 8 32}
cat > "$B/demo.job" <<JOB
echo "== mshare demo: one region attached by N processes, against a MAP_SHARED memfd"
/files/pt-savings -s ${DEMO_MIB:-256} $N
JOB
exec "$top/harness/phase.sh" demo "$top/harness/run-vm.sh" --name demo --files "$B/samples" "$B/demo.job"
