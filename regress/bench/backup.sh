#!/bin/sh
# `make bench`, backups: how long `backups create` and `backups restore`
# take for a cluster holding about BENCH_BACKUP_MB of keys, next to the
# yardsticks pg_dump -Fc and pg_restore of the same database on the same
# machine.  Not part of `make check`: the figures depend on the machine.
#
#   1. two fresh nodes; node 1 `cluster new`, then about BENCH_BACKUP_MB
#      of rows in kmd_keys (pg_database_size('kmd'));
#   2. node 1: `backups create`, timed; then pg_dump -Fc of its kmd
#      database to a file, timed;
#   3. node 2: `cluster new`, the backup key imported, the file uploaded
#      (not timed), `backups restore -y`, timed; then pg_restore of the
#      dump into a fresh database on node 2, timed.
#
# The nodes run through regress/cluster.sh in a network namespace of its
# own (kmd-bench-backup-PID; nothing outside 127.0.0.0/8) and a temp dir,
# both removed at the end.  Run as root, after `make`.
#
# Environment:
#   KMD, KMCTL        the binaries (default build/kmd, build/kmctl)
#   BENCH_BACKUP_MB   the size of node 1's kmd database (default 1024)
#   PGBIN             PostgreSQL's binaries
#                     (default /usr/lib/postgresql/15/bin)
#
# Exit status 0 when the runs completed, whether or not the goals are met.
set -u
cd "$(dirname "$0")/../.." || exit 1
top=$(pwd)
: "${KMD:=$top/build/kmd}"
: "${KMCTL:=$top/build/kmctl}"
: "${BENCH_BACKUP_MB:=1024}"
: "${PGBIN:=/usr/lib/postgresql/15/bin}"
GOAL_RATIO=1.2		# backup and restore at most 1.2 x pg_dump, pg_restore

die() { echo "bench: $*" >&2; exit 1; }
case $BENCH_BACKUP_MB in ''|*[!0-9]*|0) die "BENCH_BACKUP_MB: a number of MB" ;; esac
[ "$(id -u)" -eq 0 ] || die "run as root (kmd must start as root)"
[ -x "$KMD" ] && [ -x "$KMCTL" ] || die "$KMD or $KMCTL not built (make)"

T=$(mktemp -d /tmp/kmd-bench-backup.XXXXXX) || exit 1
chmod 755 "$T"
export KMD KMCTL KMD_CLUSTER_NS="kmd-bench-backup-$$" KMD_CLUSTER_DIR="$T/c"
C="sh regress/cluster.sh"
D=$T/c
cleanup() { $C down >/dev/null 2>&1; rm -rf "$T"; }
trap cleanup EXIT
trap 'exit 130' INT TERM

now() { date +%s.%N; }
secs() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", b - a }'; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", a / b }'; }
pg() { k=$1; shift; (cd / && ip netns exec "$KMD_CLUSTER_NS" runuser -u "kmdpg$k" -- "$@"); }
q() {
	pg "$1" "$PGBIN/psql" -X -A -t -q -v ON_ERROR_STOP=1 \
	    -h "$D/node$1/data/run" -U kmd -d "${3:-kmd}" -c "$2"
}
js() { python3 -c 'import json,sys; print(json.load(sys.stdin)[sys.argv[1]])' "$1"; }
. regress/common.sh

echo "bench: 2 nodes up in $KMD_CLUSTER_NS ..."
$C up 2 >"$T/up.txt" 2>&1 || { cat "$T/up.txt"; die "cluster.sh up 2 failed"; }
$C ctl 1 cluster new --host=127.0.0.1 --url=https://127.0.0.1:8443 \
    >/dev/null || die "node 1: cluster new failed"
echo "bench: loading about $BENCH_BACKUP_MB MB of keys into node 1 ..."
load_keys "$BENCH_BACKUP_MB" 100000
ROWS=$(q 1 "SELECT count(*) FROM kmd_keys")
MB=$(( $(q 1 "SELECT pg_database_size('kmd')") / 1048576 ))
echo "bench: node 1: $ROWS key versions, $MB MB"

t0=$(now)
OUT=$($C ctl 1 backups create 2>/dev/null) || die "backups create failed"
BACKUP_S=$(secs "$t0" "$(now)")
ID=$(printf '%s' "$OUT" | js id)
BKEY=$(printf '%s' "$OUT" | js backupKey)
SIZE_MB=$(( $(printf '%s' "$OUT" | js size) / 1048576 ))
echo "bench: backups create: $BACKUP_S s, $SIZE_MB MB"
t0=$(now)
pg 1 "$PGBIN/pg_dump" -Fc -h "$D/node1/data/run" -U kmd \
    --exclude-table-data='pglogical.*' kmd >"$T/dump" ||
    die "pg_dump -Fc failed"
DUMP_S=$(secs "$t0" "$(now)")
echo "bench: pg_dump -Fc: $DUMP_S s, $(( $(stat -c %s "$T/dump") / 1048576 )) MB"

echo passphrase-for-bench | $C ctl 1 backup-keys export --id="$BKEY" \
    --file="$T/bk.json" >/dev/null || die "backup-keys export failed"
$C ctl 1 backups download --id="$ID" --file="$T/b.kmdb" >/dev/null ||
    die "backups download failed"
$C ctl 2 cluster new --host=127.0.0.2 --url=https://127.0.0.2:8443 \
    >/dev/null || die "node 2: cluster new failed"
echo passphrase-for-bench | $C ctl 2 backup-keys import --file="$T/bk.json" \
    >/dev/null || die "backup-keys import failed"
$C ctl 2 backups upload --file="$T/b.kmdb" >/dev/null || die "upload failed"
t0=$(now)
$C ctl 2 backups restore --id="$ID" -y >/dev/null 2>"$T/restore.err" ||
    { cat "$T/restore.err"; die "backups restore failed"; }
RESTORE_S=$(secs "$t0" "$(now)")
[ "$(q 2 "SELECT count(*) FROM kmd_keys")" = "$ROWS" ] ||
    die "node 2 holds another number of key versions than node 1"
echo "bench: backups restore: $RESTORE_S s"
pg 2 "$PGBIN/createdb" -h "$D/node2/data/run" -U kmd bench_restore ||
    die "createdb failed"
t0=$(now)
pg 2 "$PGBIN/pg_restore" -h "$D/node2/data/run" -U kmd -d bench_restore \
    </dev/null "$T/dump" 2>"$T/pgr.err" || true
PGRESTORE_S=$(secs "$t0" "$(now)")
[ "$(q 2 "SELECT count(*) FROM kmd_keys" bench_restore)" = "$ROWS" ] ||
    { tail "$T/pgr.err"; die "pg_restore did not restore every row"; }
echo "bench: pg_restore: $PGRESTORE_S s"

RB=$(ratio "$BACKUP_S" "$DUMP_S") RR=$(ratio "$RESTORE_S" "$PGRESTORE_S")
echo "bench: backup $RB x pg_dump -Fc, restore $RR x pg_restore (goal: at most $GOAL_RATIO)"
table_row "backups create ($MB MB, $ROWS rows)" \
    "$BACKUP_S s ($RB x pg_dump -Fc, $DUMP_S s)" "<= $GOAL_RATIO x"
table_row "backups restore (same)" \
    "$RESTORE_S s ($RR x pg_restore, $PGRESTORE_S s)" "<= $GOAL_RATIO x"
