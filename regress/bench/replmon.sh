#!/bin/sh
# `make bench`, third part: the replication monitor and replication itself,
# on a 3-node cluster (regress/cluster.sh, a namespace and temp dir of its
# own, removed at the end).
#
#   1. detection: node 3's PostgreSQL frozen (SIGSTOP; TCP still answers)
#      BENCH_TRIALS times, then node 3 cut off by nftables as many times:
#      the seconds from the fault until node 1 lists node 3 down (polled
#      every 0.05 s); p50 and max of each.  Between trials the fault is
#      undone and the cluster waits until every node is ready again (also
#      timed: the recovery).
#   2. lag: every node writes BENCH_RATE rows/s (pgbench -R, one row per
#      transaction: a new key's first version, as keys create writes) for
#      BENCH_SECS s, and no node may call another down
#      meanwhile (node-down alarms raised, counted on every node).  On each node a REPLICA trigger (bench
#      only) stamps the arrival of every row applied from another node: lag
#      = arrival - the row's clock_timestamp() at its origin.  p50, p99 and
#      max over all rows on all nodes; apply rate: rows/s each node applied.
#   3. idle: BENCH_IDLE_SECS s with nothing to do; again no node-down.
#
# Environment: KMD, KMCTL; BENCH_TRIALS (10), BENCH_RATE (1000), BENCH_SECS
# (30), BENCH_IDLE_SECS (600), PGBIN (/usr/lib/postgresql/15/bin).  Exit status 0 when the runs
# completed, whether or not the goals are met.
set -u
cd "$(dirname "$0")/../.." || exit 1
top=$(pwd)
: "${KMD:=$top/build/kmd}"
: "${KMCTL:=$top/build/kmctl}"
: "${BENCH_TRIALS:=10}"
: "${BENCH_RATE:=1000}"
: "${BENCH_SECS:=30}"
: "${BENCH_IDLE_SECS:=600}"
: "${PGBIN:=/usr/lib/postgresql/15/bin}"
GOAL_P50_S=1.5
GOAL_MAX_S=2
GOAL_P99_MS=100

die() { echo "bench: $*" >&2; exit 1; }
[ "$(id -u)" -eq 0 ] || die "run as root (kmd must start as root)"
[ -x "$KMD" ] && [ -x "$KMCTL" ] || die "$KMD or $KMCTL not built (make)"
[ -x "$PGBIN/pgbench" ] || die "no $PGBIN/pgbench (install postgresql-15)"

T=$(mktemp -d /tmp/kmd-bench-replmon.XXXXXX) || exit 1
chmod 755 "$T"
export KMD KMCTL KMD_CLUSTER_NS="kmd-bench-rm-$$" KMD_CLUSTER_DIR="$T/c" \
    CREDS_DIR="$T"
C="sh regress/cluster.sh"
D=$KMD_CLUSTER_DIR
PIDS=
cleanup() {
	for p in $PIDS; do kill "$p" 2>/dev/null; done
	$C down >/dev/null 2>&1
	ip netns del "$KMD_CLUSTER_NS" 2>/dev/null
	rm -rf "$T"
}
trap cleanup EXIT
trap 'exit 130' INT TERM
. regress/common.sh

now() { date +%s.%N; }
secs() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", b - a }'; }
# p50 and max of the numbers in a file, one per line
stats() {
	sort -n "$1" | awk '{ v[NR] = $1 } END {
	    printf "p50 %.2f s, max %.2f s (%d trials)", v[int((NR + 1) / 2)],
	    v[NR], NR }'
}
sql() { $C sql "$@"; }
code_of() {
	"$KMCTL" -s "$D/node$1/kmd.sock" cluster nodes get --id="$2" 2>/dev/null |
	    sed -n 's/.*"code": "\(.*\)".*/\1/p'
}
all_ready() { ready_n 3 1 2 3; }
# downs_since TS: node-down alarms raised after TS, on all three nodes
downs_since() {
	n=0
	for k in 1 2 3; do
		n=$((n + $(sql "$k" "SELECT count(*) FROM kmd_alarms WHERE
		    kind = 'node-down' AND raised > '$1'")))
	done
	echo "$n"
}

echo "bench: a 3-node cluster ..."
$C up 3 >/dev/null || die "cluster up failed"
$C ctl 1 cluster new --host=127.0.0.1 --url=https://127.0.0.1:8443 >/dev/null || die "cluster new failed"
for k in 2 3; do
	creds "$k" 1 && join "$k" 1 -y --block >/dev/null 2>&1 ||
	    die "node $k did not join"
done
wait_for 30 all_ready || die "the cluster is not ready"
# every node hears both peers' heartbeats (a node beats from its first
# tick as a ready member, a moment after the lists call it ready)
beating() {
	for k in 1 2 3; do
		[ "$(sql "$k" "SELECT count(*) FROM kmd_peer_seen WHERE beat")" = 2 ] ||
		    return 1
	done
}
wait_for 30 beating || die "the nodes do not hear each other's heartbeats"
N3=$(id_of 3)

# ---- 1. detection -----------------------------------------------------------
# trial FAULT UNDO OUT: one detection, its seconds appended to OUT
trial() {
	$C "$1" 3 || die "$1 3 failed"
	t0=$(now) t1=
	for i in $(seq 1 400); do
		if [ "$(code_of 1 "$N3")" = d ]; then t1=$(now); break; fi
		sleep 0.05
	done
	[ -n "$t1" ] || die "node 1 never saw node 3 down ($1)"
	secs "$t0" "$t1" >>"$3"
	echo >>"$3"
	$C "$2" 3
	t0=$(now)
	wait_for 120 all_ready || die "not ready again after $2"
	secs "$t0" "$(now)" >>"$3.back"
	echo >>"$3.back"
}
for f in freeze:thaw cut:heal; do
	echo "bench: detection, $BENCH_TRIALS trials of ${f%:*} ..."
	for i in $(seq 1 "$BENCH_TRIALS"); do
		trial "${f%:*}" "${f#*:}" "$T/${f%:*}"
	done
done

# ---- 2. lag under writes on every node ----------------------------------------
echo "bench: every node writes $BENCH_RATE rows/s for $BENCH_SECS s ..."
LOAD_T0=$(sql 1 "SELECT now()")
for k in 1 2 3; do
	sql "$k" "CREATE TABLE bench_arrival (key_id uuid, arrived timestamptz);
	    CREATE FUNCTION bench_arrive() RETURNS trigger LANGUAGE plpgsql AS
	    \$\$ BEGIN INSERT INTO bench_arrival VALUES (NEW.key_id,
	    clock_timestamp()); RETURN NULL; END \$\$;
	    CREATE TRIGGER bench_arrive AFTER INSERT ON kmd_keys FOR EACH ROW
	    EXECUTE FUNCTION bench_arrive();
	    ALTER TABLE kmd_keys ENABLE REPLICA TRIGGER bench_arrive" >/dev/null ||
	    die "bench trigger on node $k"
done
cat >"$T/insert.sql" <<'EOF'
INSERT INTO kmd_keys (key_id, name, version, algorithm, material_sealed, created) VALUES (gen_random_uuid(), gen_random_uuid()::text, 0, 'bench', '\x01', clock_timestamp());
EOF
chmod 644 "$T/insert.sql"
for k in 1 2 3; do
	(cd / && ip netns exec "$KMD_CLUSTER_NS" runuser -u "kmdpg$k" -- \
	    "$PGBIN/pgbench" -n -h "$D/node$k/data/run" -U kmd -c 4 -j 2 \
	    -R "$BENCH_RATE" -T "$BENCH_SECS" -f "$T/insert.sql" kmd \
	    >"$T/pgbench$k.out" 2>&1) &
	PIDS="$PIDS $!"
done
sleep 2
summary_rate() {
	$C ctl 1 cluster summary | python3 -c '
import json, sys
d = json.load(sys.stdin)
for rep, r in d["resources"].items():
    for n, e in r["clusterSummary"].items():
        if "applyRate" in e["nodeInfo"]:
            print(e["nodeInfo"]["applyRate"])' | sort -n | tail -1
}
sleep $((BENCH_SECS / 2))
RATE_BYTES=$(summary_rate)
wait
PIDS=
total=0
for k in 1 2 3; do
	n=$(sql "$k" "SELECT count(*) FROM kmd_keys WHERE algorithm = 'bench'
	    AND key_id NOT IN (SELECT key_id FROM bench_arrival)")
	total=$((total + n))
done
echo "bench: $total rows written; waiting until every node has them all ..."
wait_for 120 sh -c "for k in 1 2 3; do [ \$($C sql \$k \"SELECT count(*) FROM
    kmd_keys WHERE algorithm = 'bench'\") = $total ] || exit 1; done" ||
    die "the rows did not all arrive"
for k in 1 2 3; do
	sql "$k" "SELECT extract(epoch FROM a.arrived - k.created) * 1000 FROM
	    bench_arrival a JOIN kmd_keys k USING (key_id)" >>"$T/lag"
	sql "$k" "SELECT round(count(*) / extract(epoch FROM max(arrived) -
	    min(arrived))) FROM bench_arrival" >>"$T/apply"
done
LOAD_DOWNS=$(downs_since "$LOAD_T0")

# ---- 3. idle ------------------------------------------------------------------
echo "bench: idle for $BENCH_IDLE_SECS s ..."
IDLE_T0=$(sql 1 "SELECT now()")
sleep "$BENCH_IDLE_SECS"
IDLE_DOWNS=$(downs_since "$IDLE_T0")

LAG=$(sort -n "$T/lag" | awk '{ v[NR] = $1 } END {
    printf "p50 %.1f ms, p99 %.1f ms, max %.1f ms (%d rows)",
    v[int(NR * 0.5)], v[int(NR * 0.99)], v[NR], NR }')
P99=$(sort -n "$T/lag" | awk '{ v[NR] = $1 } END { printf "%.1f", v[int(NR * 0.99)] }')

echo
echo "== bench: replication monitor and lag (3 nodes) =="
echo "detection, node 3 frozen:        $(stats "$T/freeze")"
echo "  back to ready after thaw:      $(stats "$T/freeze.back")"
echo "detection, node 3 cut off:       $(stats "$T/cut")"
echo "  back to ready after heal:      $(stats "$T/cut.back")"
echo "lag, $BENCH_RATE rows/s on each node: $LAG"
echo "apply rate (rows/s per node):    $(tr '\n' ' ' <"$T/apply")"
echo "applyRate in the summary:        ${RATE_BYTES:-?} bytes/s (largest)"
for k in 1 2 3; do
	echo "pgbench node $k: $(grep -E '^tps' "$T/pgbench$k.out" | head -1)"
done
echo "node-down alarms, under load:   $LOAD_DOWNS (${BENCH_SECS} s)"
echo "node-down alarms, idle:         $IDLE_DOWNS (${BENCH_IDLE_SECS} s)"
# p50 of each kind and the worst of all against the goals
p50s=$(for f in freeze cut; do sort -n "$T/$f" | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }'; done | sort -n | tail -1)
worst=$(sort -n "$T/freeze" "$T/cut" | tail -1)
echo "goal: detection p50 <= ${GOAL_P50_S} s and max <= ${GOAL_MAX_S} s, no false down: $(awk -v p="$p50s" -v w="$worst" -v a="$LOAD_DOWNS" -v b="$IDLE_DOWNS" -v g=$GOAL_P50_S -v m=$GOAL_MAX_S 'BEGIN { print (p <= g && w <= m && a == 0 && b == 0) ? "met" : "NOT met" }')"
echo "goal: lag p99 under ${GOAL_P99_MS} ms: $(awk -v p="$P99" -v g=$GOAL_P99_MS 'BEGIN { print (p < g) ? "met" : "NOT met" }')"
table_row "detection, PostgreSQL frozen" "$(stats "$T/freeze")" "p50 <= $GOAL_P50_S s, max <= $GOAL_MAX_S s"
table_row "detection, node cut off (nft)" "$(stats "$T/cut")" "p50 <= $GOAL_P50_S s, max <= $GOAL_MAX_S s"
table_row "false down, ${BENCH_SECS} s of load / ${BENCH_IDLE_SECS} s idle" "$LOAD_DOWNS / $IDLE_DOWNS node-down alarms" "0"
table_row "back to ready, thaw" "$(stats "$T/freeze.back")"
table_row "back to ready, heal" "$(stats "$T/cut.back")"
table_row "lag, 3 nodes x $BENCH_RATE rows/s" "$LAG" "p99 < $GOAL_P99_MS ms"
table_row "apply rate, rows/s per node" "$(tr '\n' ' ' <"$T/apply")"
