#!/usr/bin/env bash
# make run: boot the VM and run the demo.  For now the demo is the page-table
# yardstick (what N processes pay without sharing); the SGA demo replaces it.
set -uo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
B=${BUILD:-$top/build}
printf '%s\n' 'echo "== what N processes pay in page tables for one shared mapping, without mshare"' \
	'/tests/pgtable_baseline 2>&1 | grep -E "PageTables|online CPUs|^ok|^not ok"' > "$B/demo.job"
exec "$top/harness/phase.sh" demo "$top/harness/run-vm.sh" --name demo "$B/demo.job"
