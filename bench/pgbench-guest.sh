#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
#
# Guest side of bench/pgbench.sh: Debian's PostgreSQL, unmodified, run as
# an unprivileged user with shared_buffers in shared anonymous memory
# (shared_memory_type=mmap, huge_pages=off), once plainly and once under
# mshare-run, in this one boot, on one database.
#
# The database is made once (initdb, pgbench -i), then for each mode:
# start the server, pg_prewarm everything into shared buffers, and for
# each client count run pgbench -S for a fixed time while sampling
# PageTables and the backends' minor faults; then a connection storm
# (pgbench -C: a new connection for every transaction).  Results are
# "PGB key=value" lines for the host; progress goes to stdout as "#".
#
# Environment (set by the host's job script): PGB_SB (shared_buffers),
# PGB_SCALE, PGB_CLIENTS ("16 64"), PGB_TIME (seconds per run),
# PGB_STORM (clients of the storm), PGB_STORM_TX (connections per storm
# client), PGB_MODES ("plain mshare").
PGBIN=/usr/lib/postgresql/15/bin
export PATH=$PGBIN:$PATH
export TZ=UTC
SB=${PGB_SB:-1GB}
SCALE=${PGB_SCALE:-50}
CLIENTS=${PGB_CLIENTS:-16 64}
TIME=${PGB_TIME:-60}
STORM=${PGB_STORM:-64}
STORM_TX=${PGB_STORM_TX:-4}
MODES=${PGB_MODES:-plain mshare}
U=user
D=/tmp/pgdata
L=/tmp/pglog
SOCK=/tmp

say() { echo "# $(date +%T) $*"; }
res() { echo "PGB $*"; }
die() {
	say "FAILED: $*"
	for f in $L/*; do
		[ -f "$f" ] && tail -n 30 "$f" | sed "s|^|# $(basename "$f"): |"
	done
	res "error=$*"
	exit 1
}
as_user() { su -s /bin/sh $U -c "cd /tmp && $1"; }
kb() { sed -n "s/^$1: *\([0-9]*\) kB/\1/p" /proc/meminfo; }
now_ms() { awk '{ printf "%d\n", $1 * 1000 }' /proc/uptime; }
psql_u() { as_user "psql -X -q -At -h $SOCK -U $U -d postgres -c \"$1\""; }

maxc=0
for c in $CLIENTS $STORM; do [ "$c" -gt "$maxc" ] && maxc=$c; done

mkdir -p $D $L
chown $U:$U $D $L
chmod 700 $D
echo 0 > /proc/sys/vm/nr_hugepages
say "PostgreSQL $(postgres --version | sed 's/.* //; s/)$//'), shared_buffers=$SB, scale $SCALE, clients $CLIENTS, ${TIME}s, storm $STORM x $STORM_TX, modes: $MODES"
res "pg_version=$(postgres --version | sed 's/.* //; s/)$//')"

t0=$(now_ms)
as_user "initdb -D $D --no-locale -E UTF8 -A trust -U $U > $L/initdb.log 2>&1" || die "initdb"
cat >> $D/postgresql.conf <<EOF
shared_buffers = $SB
huge_pages = off
shared_memory_type = mmap
dynamic_shared_memory_type = posix
max_connections = $((maxc + 10))
listen_addresses = ''
unix_socket_directories = '$SOCK'
fsync = off
synchronous_commit = off
full_page_writes = off
wal_level = minimal
max_wal_senders = 0
max_wal_size = 8GB
checkpoint_timeout = 1h
autovacuum = off
jit = off
max_parallel_workers_per_gather = 0
max_worker_processes = 4
logging_collector = off
log_min_messages = warning
EOF
say "initdb: $(( ($(now_ms) - t0) / 1000 ))s"

start() {
	if [ "$1" = mshare ]; then
		as_user "mshare-run -v -n pg -- pg_ctl -D $D -l $L/server-$1.log -w -t 900 start" \
			> $L/start-$1.log 2>&1
	else
		as_user "pg_ctl -D $D -l $L/server-$1.log -w -t 900 start" > $L/start-$1.log 2>&1
	fi
}
stop() {
	as_user "pg_ctl -D $D -m fast -w -t 900 stop" > $L/stop.log 2>&1
}
postmaster() { head -n 1 $D/postmaster.pid; }
# The backends serving pgbench: the server's client backends, but the one
# that answers this query (pg_stat_activity: no guessing from process
# titles).
backends() {
	psql_u "SELECT pid FROM pg_stat_activity WHERE backend_type = 'client backend' AND pid <> pg_backend_pid()"
}
# Sum of the minor faults of the given pids
minflt_sum() {
	t=0
	for p in "$@"; do
		f=$(awk '{ print $10 }' "/proc/$p/stat" 2>/dev/null)	# gone: 0
		t=$((t + ${f:-0}))
	done
	echo $t
}
# pgbench's figure on the line that starts with $2 in file $1
pgb_val() { sed -n "s/^$2 *= *\([0-9.]*\).*/\1/p" "$1" | head -n 1; }
pgb_fail() { sed -n 's/^number of failed transactions: \([0-9]*\).*/\1/p' "$1" | head -n 1; }

# The database, once
t0=$(now_ms)
start plain || die "start for pgbench -i"
as_user "pgbench -h $SOCK -U $U -i -s $SCALE -I dtGvp -q postgres > $L/init.log 2>&1" || die "pgbench -i"
psql_u "CREATE EXTENSION pg_prewarm" > /dev/null || die "CREATE EXTENSION pg_prewarm"
dbmb=$(psql_u "SELECT pg_database_size('postgres') / 1048576")
stop || die "stop after pgbench -i"
say "pgbench -i -s $SCALE: $(( ($(now_ms) - t0) / 1000 ))s, database ${dbmb} MB"
res "db_mb=$dbmb"
sync

for mode in $MODES; do
	t0=$(now_ms)
	pt_boot=$(kb PageTables)
	start $mode || die "start ($mode)"
	pm=$(postmaster)
	res "$mode.start_ms=$(( $(now_ms) - t0 ))"
	if [ "$mode" = mshare ]; then
		grep -q "/sys/fs/mshare/pg" /proc/$pm/maps || die "the postmaster's shared memory is not in the region pg"
		sed 's/^/# start: /' $L/start-$mode.log
		mshare ls | sed 's/^/# mshare ls: /'
		res "$mode.region=$(grep -c "/sys/fs/mshare/pg" /proc/$pm/maps)"
	else
		grep -q "/sys/fs/mshare" /proc/$pm/maps && die "plain: the memory is in a region"
	fi
	t1=$(now_ms)
	blocks=$(psql_u "SELECT sum(pg_prewarm(c.oid::regclass)) FROM pg_class c WHERE c.relname LIKE 'pgbench_%' AND c.relkind IN ('r', 'i')")
	res "$mode.prewarm_blocks=$blocks"
	res "$mode.prewarm_ms=$(( $(now_ms) - t1 ))"
	say "$mode: server up, prewarmed $blocks blocks in $(( ($(now_ms) - t1) / 1000 ))s"

	for n in $CLIENTS; do
		out=$L/pgbench-$mode-$n.log
		pt0=$(kb PageTables)
		as_user "pgbench -h $SOCK -U $U -n -S -c $n -j 2 -T $TIME postgres > $out 2>&1" &
		bg=$!
		# every client connected
		i=0
		while [ $(( $(backends | wc -l) )) -lt "$n" ] && [ $i -lt 600 ] &&
		      kill -0 $bg 2>/dev/null; do
			sleep 1
			i=$((i + 1))
		done
		bk=$(backends)
		nb=$(echo $bk | wc -w)
		# sample PageTables through the run; faults near its end
		ptmax=0 flt=0 samples=0
		left=$((TIME - 3))
		while [ $left -gt 0 ] && kill -0 $bg 2>/dev/null; do
			pt=$(kb PageTables)
			[ "$pt" -gt "$ptmax" ] && ptmax=$pt
			flt=$(minflt_sum $bk)
			samples=$((samples + 1))
			sleep 1
			left=$((left - 1))
		done
		wait $bg
		rc=$?
		[ $rc = 0 ] || die "pgbench -S -c $n ($mode) rc=$rc: $(tail -n 3 $out)"
		tps=$(pgb_val $out tps)
		fails=$(pgb_fail $out)
		conn=$(pgb_val $out "initial connection time")
		res "$mode.c$n.tps=$tps"
		res "$mode.c$n.failed=${fails:-0}"
		res "$mode.c$n.xacts=$(sed -n 's/^number of transactions actually processed: \([0-9]*\).*/\1/p' $out)"
		res "$mode.c$n.conn_ms=$conn"
		res "$mode.c$n.pt_idle_kb=$pt0"
		res "$mode.c$n.pt_max_kb=$ptmax"
		res "$mode.c$n.pt_clients_kb=$((ptmax - pt0))"
		res "$mode.c$n.backends=$nb"
		[ "$nb" -gt 0 ] || die "pgbench -S -c $n ($mode): no client backend seen"
		# connecting took the whole run: nothing was measured (PGB_TIME)
		[ $samples -gt 0 ] || die "pgbench -S -c $n ($mode): the run ended before the clients were all connected"
		res "$mode.c$n.minflt_per_backend=$((flt / nb))"
		say "$mode, $n clients: tps $tps, failed ${fails:-?}, PageTables +$((ptmax - pt0)) kB, $((flt / nb)) minor faults per backend ($nb backends)"
	done

	# the connection storm: every transaction on a new connection
	out=$L/storm-$mode.log
	t1=$(now_ms)
	as_user "pgbench -h $SOCK -U $U -n -S -C -c $STORM -j 2 -t $STORM_TX postgres > $out 2>&1" ||
		die "storm ($mode): $(tail -n 3 $out)"
	res "$mode.storm.conn_ms=$(pgb_val $out "average connection time")"
	res "$mode.storm.failed=$(pgb_fail $out)"
	res "$mode.storm.connections=$((STORM * STORM_TX))"
	res "$mode.storm.wall_ms=$(( $(now_ms) - t1 ))"
	say "$mode storm: $((STORM * STORM_TX)) connections, average connection time $(pgb_val $out "average connection time") ms"

	stop || die "stop ($mode)"
	if [ "$mode" = mshare ]; then
		left=$(ls /sys/fs/mshare | grep -c '^pg')
		res "$mode.regions_left=$left"
		[ "$left" = 0 ] || die "the region pg is still named after the server stopped"
	fi
	sleep 1
	res "$mode.pt_after_kb=$(kb PageTables)"
	res "$mode.pt_boot_kb=$pt_boot"
done
res "done=1"
