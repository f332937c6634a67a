#!/usr/bin/env bash
# phase.sh NAME CMD...: run CMD and print how long the phase took.
name=$1
shift
t0=$(date +%s)
"$@"
rc=$?
echo "[time] $name: $(( $(date +%s) - t0 ))s (rc=$rc)" | sed "s/ (rc=0)//" >&2
exit $rc
