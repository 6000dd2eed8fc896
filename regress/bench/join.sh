#!/bin/sh
# `make bench`, second part: how long `cluster join` takes, for an empty
# cluster and for one whose member holds about 1 GB of keys, next to the
# yardstick of copying the same database with pg_dump | psql on the same
# machine.  Not part of `make check`: the figures depend on the machine.
#
#   1. two fresh nodes; node 1 `cluster new`; node 2 joins (--block): the
#      join time of an empty cluster;
#   2. three fresh nodes; node 1 `cluster new`, then about BENCH_JOIN_MB
#      of rows in kmd_keys (pg_database_size('kmd')); node 2 joins
#      (--block) while `cluster info` on node 2 is watched every 0.1 s,
#      which times each stage, the initial sync (3/5) among them;
#   3. the yardstick: pg_dump of node 1's kmd database piped into psql
#      restoring into a fresh database on node 3, a node like node 2 that
#      joins nothing.  It is dropped after when pglogical is 2.4.3 or
#      later; with 2.4.2 (Debian 12) DROP DATABASE never returns on a kmd
#      node, and the database goes with node 3's data dir instead.
#
# The nodes run through regress/cluster.sh in a network namespace of its
# own (kmd-bench-join-PID; nothing outside 127.0.0.0/8) and in a temp dir;
# both are removed at the end, on failure and on INT/TERM too.  Run as
# root, after `make`.
#
# Environment:
#   KMD, KMCTL      the binaries (default build/kmd, build/kmctl)
#   BENCH_JOIN_MB   the size of node 1's kmd database to join (default 1024)
#   BENCH_BATCH     rows per INSERT while loading (default 100000)
#   PGBIN           PostgreSQL's binaries (default /usr/lib/postgresql/15/bin)
#   BENCH_KEEP=1    keep the temp dir (the nodes' kmd and postgres logs,
#                   stage timings) and say where
#
# Exit status 0 when the runs completed, whether or not the goals are met.
set -u
cd "$(dirname "$0")/../.." || exit 1
top=$(pwd)
: "${KMD:=$top/build/kmd}"
: "${KMCTL:=$top/build/kmctl}"
: "${BENCH_JOIN_MB:=1024}"
: "${BENCH_BATCH:=100000}"
: "${PGBIN:=/usr/lib/postgresql/15/bin}"
: "${BENCH_KEEP:=0}"
GOAL_EMPTY_S=10		# an empty cluster's join under 10 s
GOAL_RATIO=1.2		# the large join at most 1.2 x pg_dump | psql

die() { echo "bench: $*" >&2; exit 1; }

case $BENCH_JOIN_MB in ''|*[!0-9]*|0) die "BENCH_JOIN_MB: a number of MB" ;; esac
case $BENCH_BATCH in ''|*[!0-9]*|0) die "BENCH_BATCH: a number of rows" ;; esac

# ---- outside: checks, temp dir, cleanup ------------------------------------
if [ -z "${KMD_BENCH_DIR:-}" ]; then
	[ "$(id -u)" -eq 0 ] || die "run as root (kmd must start as root)"
	[ -x "$KMD" ] && [ -x "$KMCTL" ] || die "$KMD or $KMCTL not built (make)"
	getent passwd _kmd >/dev/null || die "no user _kmd: run etc/install-deps"
	for b in pg_dump psql createdb dropdb; do
		[ -x "$PGBIN/$b" ] || die "no $PGBIN/$b (install postgresql-15)"
	done
	ns=kmd-bench-join-$$
	T=$(mktemp -d /tmp/kmd-bench-join.XXXXXX) || exit 1
	chmod 755 "$T"
	outer_cleanup() {
		# Whatever the run below left is ours: its clusters, the
		# namespace and anything still in it.
		for d in "$T"/empty "$T"/large; do
			[ -d "$d" ] || continue
			KMD_CLUSTER_DIR=$d KMD_CLUSTER_NS=$ns KMD=$KMD \
			    KMCTL=$KMCTL sh regress/cluster.sh down >/dev/null 2>&1
		done
		if ip netns list 2>/dev/null | grep -q "^$ns\b"; then
			ip netns pids "$ns" 2>/dev/null | xargs -r kill -9 2>/dev/null
			ip netns del "$ns" 2>/dev/null
		fi
		if [ "$BENCH_KEEP" = 1 ]; then
			echo "bench: kept $T"
		else
			rm -rf "$T"
		fi
	}
	# The run below is a session of its own: on INT or TERM all of it
	# (the shell and what it waits for) is told to stop, it takes its
	# clusters down, then the rest goes as on any exit.
	child= stopped=
	trap outer_cleanup EXIT
	trap 'stopped=1; [ -n "$child" ] && { kill -TERM "-$child" ||
	    kill -TERM "$child"; } 2>/dev/null' INT TERM
	KMD_BENCH_NETNS=$ns KMD_BENCH_DIR=$T KMD=$KMD KMCTL=$KMCTL \
	    setsid sh "$0" "$@" &
	child=$!
	while :; do
		wait "$child"
		rc=$?
		kill -0 "$child" 2>/dev/null || break
	done
	[ -z "$stopped" ] || rc=130
	exit $rc
fi

# ---- the run ----------------------------------------------------------------
T=$KMD_BENCH_DIR
export KMD KMCTL KMD_CLUSTER_NS="$KMD_BENCH_NETNS"
C="sh regress/cluster.sh"
D= PHASE= OK=

# use PHASE: the cluster dir of a phase (empty, large)
use() { PHASE=$1 D=$T/$1 CREDS_DIR=$T/$1; export KMD_CLUSTER_DIR="$D"; }

# Keep the nodes' logs in $T/logs, then stop the phase's cluster.
down() {
	[ -n "$D" ] && [ -d "$D" ] || return 0
	mkdir -p "$T/logs"
	for n in "$D"/node*; do
		[ -d "$n" ] || continue
		cp "$n/kmd.log" "$T/logs/$PHASE-${n##*/}-kmd.log" 2>/dev/null
		cp "$n/data/pg/postgres.log" \
		    "$T/logs/$PHASE-${n##*/}-postgres.log" 2>/dev/null
	done
	$C down >/dev/null 2>&1
	D=
}

inner_cleanup() {
	touch "$T/stopwatch"
	[ -n "${WPID:-}" ] && { kill "$WPID" 2>/dev/null; wait "$WPID" 2>/dev/null; }
	if [ -z "$OK" ] && [ -n "$D" ]; then
		for n in "$D"/node*; do
			[ -s "$n/kmd.log" ] && { echo "--- ${n##*/} kmd log (last lines) ---"; tail -n 20 "$n/kmd.log"; }
			[ -s "$n/data/pg/postgres.log" ] && { echo "--- ${n##*/} postgres log (last lines) ---"; tail -n 20 "$n/data/pg/postgres.log"; }
		done
	fi
	down
}
trap inner_cleanup EXIT
trap 'exit 130' INT TERM

now() { date +%s.%N; }
# secs T0 T1: T1 - T0 in seconds
secs() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.3f", b - a }'; }
ns() { ip netns exec "$KMD_CLUSTER_NS" "$@"; }
# pg K ARGS: a PostgreSQL client as node K's database user (pg_ident:
# role kmd; see regress/cluster.sh)
pg() { k=$1; shift; (cd / && ns runuser -u "kmdpg$k" -- "$@"); }
# q K SQL [DB]: node K's database as role kmd; unaligned, tuples only
q() {
	pg "$1" "$PGBIN/psql" -X -A -t -q -v ON_ERROR_STOP=1 \
	    -h "$D/node$1/data/run" -U kmd -d "${3:-kmd}" -c "$2"
}

. regress/common.sh


# timed_join K M OUT: node K joins through member M with --block; every
# line kmctl prints, time-stamped, in OUT; JOIN_S the seconds it took.
timed_join() {
	blob=$(field "$D/cred$1.json" mkek_blob) || return 1
	t0=$(now)
	{
		$C ctl "$1" cluster join --member="127.0.0.$2" \
		    --host="127.0.0.$1" --cert="$D/n$1.crt" \
		    --cachain="$D/ca.crt" --mkek-blob="$blob" -y --block
		echo "exit status $?"
	} 2>&1 | while IFS= read -r l; do echo "$(now) $l"; done >"$3"
	t1=$(now)
	JOIN_S=$(secs "$t0" "$t1")
	grep -q ' exit status 0$' "$3"
}

# watch K OUT: node K's join stage every 0.1 s, "time code" on each
# change, until ready or killed (or $T/stopwatch).
watch() {
	last= seen=
	while [ ! -f "$T/stopwatch" ]; do
		code=$("$KMCTL" -s "$D/node$1/kmd.sock" cluster info 2>/dev/null |
		    sed -n 's/.*"code": *"\([^"]*\)".*/\1/p' | head -n 1)
		if [ -n "$code" ] && [ "$code" != "$last" ]; then
			echo "$(now) $code" >>"$2"
			last=$code
		fi
		case $code in
		none|'') ;;
		r|k) [ -n "$seen" ] && break ;;
		*) seen=1 ;;
		esac
		sleep 0.1
	done
}

# stage OUT CODE: seconds spent in stage CODE, from watch's OUT (empty if
# not seen: a stage shorter than a poll may be)
stage() {
	awk -v c="$2" '$2 == c && !t0 { t0 = $1; next }
	    t0 && $2 != c { printf "%.2f", $1 - t0; exit }' "$1"
}
# stages OUT: every stage's seconds on one line
stages() {
	for s in creating:creating b:bootstrapping i:sync c:catch-up \
	    o:completing; do
		printf ' %s %s' "${s#*:}" "$(stage "$1" "${s%%:*}")"
	done | sed 's/  / - /g; s/ $/ -/'
}

# ---- 1: the empty cluster ---------------------------------------------------
use empty
echo "bench: empty cluster: 2 nodes up in $KMD_CLUSTER_NS ..."
$C up 2 >"$T/up-$PHASE.txt" 2>&1 ||
    { cat "$T/up-$PHASE.txt"; die "cluster.sh up 2 failed"; }
$C ctl 1 cluster new --host=127.0.0.1 --url=https://127.0.0.1:8443 \
    >/dev/null || die "node 1: cluster new failed"
creds 2 1 || die "node 2: cluster csr / nodes create failed"
rm -f "$T/stopwatch"
: >"$T/stages-empty.txt"
watch 2 "$T/stages-empty.txt" &
WPID=$!
timed_join 2 1 "$T/join-empty.txt" || {
	cat "$T/join-empty.txt"; die "node 2 could not join the empty cluster"; }
EMPTY_S=$JOIN_S
touch "$T/stopwatch"
wait "$WPID" 2>/dev/null
WPID=
ESTAGES=$(stages "$T/stages-empty.txt")
echo "bench: empty cluster: node 2 joined in $EMPTY_S s"
down

# ---- 2: the large cluster ---------------------------------------------------
use large
echo "bench: large cluster: 3 nodes up in $KMD_CLUSTER_NS ..."
$C up 3 >"$T/up-$PHASE.txt" 2>&1 ||
    { cat "$T/up-$PHASE.txt"; die "cluster.sh up 3 failed"; }
$C ctl 1 cluster new --host=127.0.0.1 --url=https://127.0.0.1:8443 \
    >/dev/null || die "node 1: cluster new failed"

echo "bench: loading about $BENCH_JOIN_MB MB of keys into node 1 ..."
t0=$(now)
load_keys "$BENCH_JOIN_MB" "$BENCH_BATCH"
ROWS1=$(q 1 "SELECT count(*) FROM kmd_keys")
DB_BYTES=$(q 1 "SELECT pg_database_size('kmd')")
KEYS_BYTES=$(q 1 "SELECT pg_total_relation_size('kmd_keys')")
echo "bench: loaded $ROWS1 rows in $(secs "$t0" "$(now)") s; node 1's kmd" \
    "database: $((DB_BYTES / 1048576)) MB (kmd_keys $((KEYS_BYTES / 1048576)) MB)"
R1=$D/node1/data/run R3=$D/node3/data/run
# wal K: node K's current WAL position
wal() { q "$1" "SELECT pg_current_wal_lsn()"; }
# walmb K LSN: MB of WAL node K wrote since LSN
walmb() { q "$1" "SELECT round(pg_wal_lsn_diff(pg_current_wal_lsn(), '$2') / 1048576)"; }
# ckpts K FROM: checkpoints node K's PostgreSQL started for WAL volume
# after log line FROM
pglog() { echo "$D/node$1/data/pg/postgres.log"; }
ckpts() { tail -n "+$(($2 + 1))" "$(pglog "$1")" | grep -c 'checkpoint starting: wal'; }
loglines() { wc -l <"$(pglog "$1")"; }

# ---- 2a: the join -------------------------------------------------------------
creds 2 1 || die "node 2: cluster csr / nodes create failed"
echo "bench: node 2 joins ($((DB_BYTES / 1048576)) MB) ..."
rm -f "$T/stopwatch"
: >"$T/stages-large.txt"
watch 2 "$T/stages-large.txt" &
WPID=$!
w0=$(wal 2) l0=$(loglines 2)
timed_join 2 1 "$T/join-large.txt" || {
	cat "$T/join-large.txt"; die "node 2 could not join the large cluster"; }
LARGE_S=$JOIN_S
JOIN_WAL=$(walmb 2 "$w0") JOIN_CKPT=$(ckpts 2 "$l0")
touch "$T/stopwatch"
wait "$WPID" 2>/dev/null
WPID=
ROWS2=$(q 2 "SELECT count(*) FROM kmd_keys")
[ "$ROWS2" = "$ROWS1" ] ||
    die "node 2 holds $ROWS2 rows of kmd_keys after the join, node 1 $ROWS1"
SYNC_S=$(stage "$T/stages-large.txt" i)
echo "bench: node 2 joined in $LARGE_S s (initial sync ${SYNC_S:-not seen} s)"
STAGES=$(stages "$T/stages-large.txt")

# ---- 2b: the yardstick: pg_dump | psql ---------------------------------------
# Into a fresh database on node 3, a node like node 2 that joins nothing.
# Everything but pglogical's own catalog rows (CREATE EXTENSION makes them
# empty), so that the copy is no pglogical node.
echo "bench: pg_dump of node 1 | psql into a fresh database on node 3 ..."
pg 3 "$PGBIN/createdb" -h "$R3" -U kmd bench_restore ||
    die "createdb bench_restore on node 3 failed"
q 3 "CHECKPOINT" >/dev/null
w0=$(wal 3) l0=$(loglines 3)
t0=$(now)
{
	pg 1 "$PGBIN/pg_dump" -h "$R1" -U kmd --exclude-table-data='pglogical.*' kmd
	echo $? >"$T/dump.rc"
} 2>"$T/dump.err" | pg 3 "$PGBIN/psql" -X -q -v ON_ERROR_STOP=1 -h "$R3" -U kmd \
    -d bench_restore >/dev/null 2>"$T/restore.err" ||
    { cat "$T/restore.err"; die "psql restoring the dump failed"; }
t1=$(now)
DUMP_S=$(secs "$t0" "$t1")
DUMP_WAL=$(walmb 3 "$w0") DUMP_CKPT=$(ckpts 3 "$l0")
[ "$(cat "$T/dump.rc" 2>/dev/null)" = 0 ] ||
    { cat "$T/dump.err"; die "pg_dump of node 1 failed"; }
ROWS3=$(q 3 "SELECT count(*) FROM kmd_keys" bench_restore)
[ "$ROWS3" = "$ROWS1" ] || die "the restore holds $ROWS3 rows, node 1 $ROWS1"
echo "bench: pg_dump | psql took $DUMP_S s"
# pglogical before 2.4.3 makes DROP DATABASE wait forever on PostgreSQL 15
# (its supervisor never accepts the ProcSignalBarrier; pglogical issues
# 399, 418): then the database goes with node 3's data dir below.
if [ "$(q 3 "SELECT pglogical.pglogical_version_num() >= 20403")" = t ]; then
	pg 3 timeout 60 "$PGBIN/dropdb" -h "$R3" -U kmd bench_restore \
	    2>/dev/null ||
	    echo "bench: dropdb bench_restore on node 3 failed" >&2
else
	echo "bench: pglogical $(q 3 "SELECT pglogical.pglogical_version()") hangs" \
	    "DROP DATABASE; bench_restore goes with node 3"
fi
down

# ---- figures ------------------------------------------------------------------
echo "--- node 2's stages during the large join (time, code)"
sed 's/^/    /' "$T/stages-large.txt"
echo "--- kmctl during the large join"
grep -v -e '^[0-9.]* *[{}"]' -e ' preflight: ' "$T/join-large.txt" |
    sed 's/^/    /'
echo "--- WAL written and checkpoints forced by WAL volume on the copy's side"
echo "    join (node 2): $JOIN_WAL MB, $JOIN_CKPT checkpoints; pg_dump | psql (node 3): $DUMP_WAL MB, $DUMP_CKPT checkpoints"
awk -v es="$EMPTY_S" -v ls="$LARGE_S" -v ss="${SYNC_S:-}" -v ds="$DUMP_S" \
    -v rows="$ROWS2" -v db="$DB_BYTES" -v ge="$GOAL_EMPTY_S" \
    -v gr="$GOAL_RATIO" -v st="$STAGES" -v est="$ESTAGES" 'BEGIN {
	mb = db / 1048576
	ratio = ds > 0 ? ls / ds : 0
	printf "\n%-40s %10s %12s %10s\n", "", "seconds", "rows/s", "MB/s"
	printf "%-40s %10.2f\n", "join, empty cluster", es
	printf "%-40s %10.2f %12.0f %10.1f\n",
	    sprintf("join, %d MB (%d rows), whole", mb, rows), ls, rows / ls,
	    mb / ls
	if (ss != "" && ss > 0)
		printf "%-40s %10.2f %12.0f %10.1f\n",
		    "  of which initial sync (3/5)", ss, rows / ss, mb / ss
	else
		printf "%-40s %10s\n", "  of which initial sync (3/5)",
		    "not seen"
	printf "%-40s %10.2f %12.0f %10.1f\n", "pg_dump | psql, same database",
	    ds, rows / ds, mb / ds
	printf "%-40s %10.2f\n", "join / (pg_dump | psql)", ratio
	printf "stages of the empty join (s):%s\n", est
	printf "stages of the %d MB join (s):%s\n", mb, st
	g1 = es < ge ? "met" : "NOT MET"
	g2 = ratio <= gr ? "met" : "NOT MET"
	printf "\ngoal: empty-cluster join < %d s             %s (%.2f s)\n",
	    ge, g1, es
	printf "goal: %d MB join <= %.1f x pg_dump | psql  %s (%.2f)\n", mb,
	    gr, g2, ratio
	if (ss != "" && ss > 0)
		printf "initial sync: %.0f rows/s, %.1f MB/s (pg_dump | psql:" \
		    " %.0f rows/s, %.1f MB/s)\n", rows / ss, mb / ss,
		    rows / ds, mb / ds
}'
table_row "join, empty cluster" "$EMPTY_S s" "< $GOAL_EMPTY_S s"
table_row "join, $((DB_BYTES / 1048576)) MB of keys" "$(awk -v l="$LARGE_S" \
    -v d="$DUMP_S" 'BEGIN { printf "%.1f s; pg_dump | psql %.1f s; ratio %.2f",
    l, d, (d > 0 ? l / d : 0) }')" "ratio <= $GOAL_RATIO"
[ -n "${SYNC_S:-}" ] && table_row "initial sync (3/5)" "$(awk -v s="$SYNC_S" \
    -v r="$ROWS2" -v b="$DB_BYTES" 'BEGIN { if (s > 0) printf \
    "%.0f rows/s, %.1f MB/s", r / s, b / 1048576 / s }')"
OK=1
