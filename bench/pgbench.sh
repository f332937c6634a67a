#!/usr/bin/env bash
# make bench-pgbench: Debian's PostgreSQL, unmodified, on the mshare kernel,
# plainly and under mshare-run(1), in one VM boot (bench/pgbench-guest.sh
# does the guest's part).  Prints a table of both modes with their ratios
# and writes it to build/pgbench.txt (raw figures: build/pgbench.job.log).
#
#   bench/pgbench.sh            shared_buffers 1GB, scale 50 (~750 MB),
#                               16 and 64 clients, 60 s each, a storm of
#                               64 x 4 connections
#   QUICK=1 bench/pgbench.sh    256MB, scale 10, 16 clients, 15 s, 16 x 2
#
# Environment: PGB_SB, PGB_SCALE, PGB_CLIENTS, PGB_TIME, PGB_STORM,
# PGB_STORM_TX, PGB_MODES override the sizes; BENCH_KERNEL (prod; debug or a bzImage path),
# VM_MEM (6G), VM_TIMEOUT (7200).  Exits 1 if the run failed or any
# pgbench transaction failed.
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
B=${BUILD:-$top/build}
PGV=15
PGLIB=/usr/lib/postgresql/$PGV
PGSHARE=/usr/share/postgresql/$PGV

if [ -n "${QUICK:-}" ] && [ "${QUICK}" != 0 ]; then
	: "${PGB_SB:=256MB}" "${PGB_SCALE:=10}" "${PGB_CLIENTS:=16}" "${PGB_TIME:=15}"
	: "${PGB_STORM:=16}" "${PGB_STORM_TX:=2}"
fi
: "${PGB_SB:=1GB}" "${PGB_SCALE:=50}" "${PGB_CLIENTS:=16 64}" "${PGB_TIME:=60}"
: "${PGB_STORM:=64}" "${PGB_STORM_TX:=4}" "${PGB_MODES:=plain mshare}"

for f in "$PGLIB/bin/postgres" "$PGLIB/bin/pgbench" "$PGLIB/lib/pg_prewarm.so"; do
	[ -e "$f" ] || { echo "pgbench: $f is missing: make deps installs postgresql and postgresql-contrib" >&2; exit 1; }
done
for f in "$B/mshare-run/mshare-run" "$B/mshare-run/libmshare-run.so" "$B/bin/mshare"; do
	[ -e "$f" ] || { echo "pgbench: $f is missing: make bench-pgbench builds it" >&2; exit 1; }
done

# The guest's extra files, at their own paths: the server, initdb, pg_ctl,
# pgbench, psql, the modules initdb and pg_prewarm need, the share files
# and the UTC zone.  run-vm.sh adds their shared libraries.
ov=$B/pgbench.overlay
rm -rf "$ov"
mkdir -p "$ov$PGLIB/bin" "$ov$PGLIB/lib" "$ov/usr/share/postgresql" "$ov/usr/share/zoneinfo/Etc" "$ov/bench"
for p in postgres initdb pg_ctl pgbench psql; do
	cp -L "$PGLIB/bin/$p" "$ov$PGLIB/bin/"
done
for m in pg_prewarm plpgsql dict_snowball; do
	cp -L "$PGLIB/lib/$m.so" "$ov$PGLIB/lib/"
done
cp -a "$PGSHARE" "$ov/usr/share/postgresql/"
cp -L /usr/share/zoneinfo/UTC "$ov/usr/share/zoneinfo/UTC"
cp -L /usr/share/zoneinfo/UTC "$ov/usr/share/zoneinfo/Etc/UTC"
install -m 755 "$top/bench/pgbench-guest.sh" "$ov/bench/pgbench-guest.sh"
# mshare-run finds its library next to itself
mkdir -p "$ov/usr/bin"
cp "$B/mshare-run/mshare-run" "$B/mshare-run/libmshare-run.so" "$B/bin/mshare" "$ov/usr/bin/"

job=$B/pgbench.job
{
	for v in PGB_SB PGB_SCALE PGB_CLIENTS PGB_TIME PGB_STORM PGB_STORM_TX PGB_MODES; do
		printf "export %s='%s'\n" "$v" "${!v}"
	done
	echo 'sh /bench/pgbench-guest.sh'
} > "$job"

echo "pgbench: shared_buffers=$PGB_SB scale=$PGB_SCALE clients='$PGB_CLIENTS' ${PGB_TIME}s storm=${PGB_STORM}x${PGB_STORM_TX} modes='$PGB_MODES'"
t0=$(date +%s)
set +e
VM_MEM=${VM_MEM:-6G} VM_APPEND="HUGEPAGES=0 ${VM_APPEND:-}" \
	"$top/harness/run-vm.sh" --name pgbench --kernel "${BENCH_KERNEL:-prod}" --no-tests \
		--timeout "${VM_TIMEOUT:-7200}" --overlay "$ov" "$job" |
	grep --line-buffered '^#'
vmrc=${PIPESTATUS[0]}
set -e
echo "[time] bench-pgbench: $(( $(date +%s) - t0 ))s" >&2
rm -rf "$ov"
log=$B/pgbench.job.log
[ "$vmrc" = 0 ] || { echo "pgbench: the VM run failed (rc=$vmrc; $B/pgbench.guest.log)" >&2; exit 1; }
grep -q '^PGB done=1' "$log" || { echo "pgbench: the guest did not finish: $(grep '^PGB error=' "$log")" >&2; exit 1; }

python3 - "$log" "$PGB_CLIENTS" "$PGB_SB" "$PGB_SCALE" "$PGB_TIME" "$PGB_MODES" <<'EOF' | tee "$B/pgbench.txt"
import sys
log, clients, sb, scale, secs, modes = sys.argv[1:7]
v = {}
for line in open(log):
    if line.startswith("PGB ") and "=" in line:
        k, _, val = line[4:].strip().partition("=")
        v[k] = val
clients = clients.split()

def num(k):
    try:
        return float(v[k])
    except (KeyError, ValueError):
        return None

rows = []
def row(label, key, better="lower", fmt="%.0f"):
    p, m = num("plain." + key), num("mshare." + key)
    if p is None or m is None:
        rows.append((label, "-", "-", "-"))
        return
    if better == "lower":
        ratio = "%.1fx less" % (p / m) if m else ("inf" if p else "=")
        if m > p:
            ratio = "%.2fx more" % (m / p) if p else "more"
    else:
        ratio = "%.2fx" % (m / p) if p else "-"
    rows.append((label, fmt % p, fmt % m, ratio))

for n in clients:
    c = "c%s." % n
    row("PageTables growth, %s clients connected (kB)" % n, c + "pt_clients_kb")
    p, m = num("plain." + c + "pt_clients_kb"), num("mshare." + c + "pt_clients_kb")
    if p is not None and m is not None:
        v["plain." + c + "pt_per"] = str(p / int(n))
        v["mshare." + c + "pt_per"] = str(m / int(n))
    row("  per client (kB)", c + "pt_per", fmt="%.1f")
    row("minor faults per backend, %s clients" % n, c + "minflt_per_backend")
    row("tps, %s clients (mshare/plain)" % n, c + "tps", better="higher", fmt="%.1f")
    row("initial connection time, %s clients (ms)" % n, c + "conn_ms", fmt="%.1f")
    row("failed transactions, %s clients" % n, c + "failed")
row("connection storm: average connection time (ms)", "storm.conn_ms", fmt="%.2f")
row("connection storm: failed transactions", "storm.failed")
row("prewarm time (ms)", "prewarm_ms")

print("PostgreSQL %s, shared_buffers %s (shared_memory_type=mmap, huge_pages=off), "
      "pgbench scale %s (database %s MB), pgbench -S %s s per run, connection storm %s connections"
      % (v.get("pg_version", "?"), sb, scale, v.get("db_mb", "?"), secs,
         v.get("plain.storm.connections", "?")))
print("plain: shared memory as PostgreSQL maps it; mshare: the same server under mshare-run -n pg")
print("modes run in this order: %s (the order matters under TCG: run both orders)" % modes)
print("(TCG guest: compare the ratios, not the absolute figures)")
print()
w = max(len(r[0]) for r in rows)
print("%-*s  %12s  %12s  %s" % (w, "", "plain", "mshare", "ratio"))
for r in rows:
    print("%-*s  %12s  %12s  %s" % (w, r[0], r[1], r[2], r[3]))
bad = [k for k in v if k.endswith("failed") and v[k] not in ("0", "")]
if bad:
    print("\nFAILED transactions: " + ", ".join("%s=%s" % (k, v[k]) for k in bad))
    sys.exit(1)
EOF
