#!/bin/sh
# `make check-full`: a cluster of 20 real nodes on this machine, the most
# a cluster may have (regress/cluster.sh, a namespace and temp dir of its
# own, removed at the end).  Node 1 makes the cluster; nodes 2..20 join
# one by one through node 1 (csr, nodes create, join --block); the 20th
# place is asked for twice at once, for nodes 20 and 21 through nodes 1
# and 2: exactly one is issued, and that node joins.  Then: every node
# ready on every node and GOOD in the summary, a write on node 1 read on
# the last, a key made on the last decrypting on node 1, and the other
# node, the 21st, refused with a clear error, changing nothing.  Prints the time
# to form the cluster, each join's time, the resident memory of all kmd
# and PostgreSQL processes, and how long `cluster summary` takes.
#
# The 20 nodes share this machine's CPUs (two, in CI): every node applies
# every peer's heartbeats and views, which costs the machine as a whole
# the cube of the node count, so the nodes run with the longer heartbeat
# kmd.conf(5) gives for nodes that share CPUs (FULL_CONF; the defaults'
# traffic alone saturates two CPUs from 16 nodes on).
#
# Environment: KMD, KMCTL; FULL_NODES (20; fewer for a quick try);
# FULL_CONF (kmd.conf lines for every node).
# Exit status: the number of failed checks.
set -u
cd "$(dirname "$0")/.." || exit 1
top=$(pwd)
: "${KMD:=$top/build/kmd}"
: "${KMCTL:=$top/build/kmctl}"
: "${FULL_NODES:=20}"
: "${FULL_CONF:=replmon interval 2000
replmon down-after 5000}"
N=$FULL_NODES

die() { echo "check-full: $*" >&2; exit 1; }
[ "$(id -u)" -eq 0 ] || die "run as root (kmd must start as root)"
[ -x "$KMD" ] && [ -x "$KMCTL" ] || die "$KMD or $KMCTL not built (make)"

T=$(mktemp -d /tmp/kmd-full.XXXXXX) || exit 1
chmod 755 "$T"
export KMD KMCTL KMD_CLUSTER_NS="kmd-full-$$" KMD_CLUSTER_DIR="$T/c"
export KMD_CLUSTER_EXTRA="$FULL_CONF"
C="sh regress/cluster.sh"
CREDS_DIR=$T
FAILS=0
cleanup() {
	if [ "$FAILS" -ne 0 ]; then
		for k in $(seq 1 $((N + 1))); do
			[ -f "$T/c/node$k/kmd.log" ] || continue
			echo "--- node $k: last lines of kmd.log ---"
			tail -n 15 "$T/c/node$k/kmd.log"
		done
	fi
	$C down >/dev/null 2>&1
	rm -rf "$T"
}
trap cleanup EXIT
trap 'exit 130' INT TERM
. regress/common.sh
ms() { echo $(( $(date +%s%N) / 1000000 )); }
ns() { ip netns exec "$KMD_CLUSTER_NS" "$@"; }
echo "check-full: $N nodes, $(nproc) CPUs, $(free -g | awk '/Mem:/ {print $2}') GiB;" \
    "each node's kmd.conf adds: $(printf '%s' "$FULL_CONF" | tr '\n' ';')"
t0=$(ms)
check "up $N" $C up "$N"
tup=$(ms)
check "node 1: cluster new" $C ctl 1 cluster new --host=127.0.0.1 \
    --url=https://127.0.0.1:8443
echo secret-password | $C ctl 1 users set-password --name admin >/dev/null
# join_timed K: node K joins through node 1 with the credentials it has
join_timed() {
	tj=$(ms)
	if join "$1" 1 -y --block >"$T/join$1.out" 2>&1; then
		printf 'PASS: node %d joins (%.1f s)\n' "$1" \
		    "$(echo "($(ms) - $tj) / 1000" | bc -l)"
	else
		fail "node $1 joins"; tail -5 "$T/join$1.out"
		return 1
	fi
}
last=$N
[ "$N" -eq 20 ] && last=19
broke=0
for k in $(seq 2 "$last"); do
	tj=$(ms)
	if creds "$k" 1 && join "$k" 1 -y --block >"$T/join$k.out" 2>&1; then
		printf 'PASS: node %d joins (%.1f s)\n' "$k" \
		    "$(echo "($(ms) - $tj) / 1000" | bc -l)"
	else
		fail "node $k joins"; tail -5 "$T/join$k.out"
		broke=1
		break
	fi
done
# The 20th place, asked for at once for two nodes through two members.
W=$N L=$((N + 1))
if [ "$N" -eq 20 ] && [ "$broke" -eq 0 ]; then
	check "up node 21" $C up 21
	for k in 20 21; do
		$C ctl $k cluster csr --host=127.0.0.$k >"$T/csr$k.json"
		field "$T/csr$k.json" csr >"$T/n$k.csr"
	done
	$C ctl 1 cluster nodes create --csr="$T/n20.csr" \
	    --newnodehost=127.0.0.20 >"$T/cred20.json" 2>"$T/err20" & p20=$!
	$C ctl 2 cluster nodes create --csr="$T/n21.csr" \
	    --newnodehost=127.0.0.21 >"$T/cred21.json" 2>"$T/err21" & p21=$!
	wait "$p20"; r20=$?
	wait "$p21"; r21=$?
	check "the 20th place for two nodes at once: exactly one issued" \
	    test $((r20 + r21)) -eq 1
	[ "$r20" -eq 0 ] || { W=21; L=20; }
	echo "  node $W got it; node $L: $(cat "$T/err$L")"
	check "  the other refused: the lease is held, or the cluster full" \
	    grep -q "holds the lease\|the most it may have" "$T/err$L"
	field "$T/cred$W.json" cert >"$T/n$W.crt"
	field "$T/cred$W.json" cachain >"$T/ca.crt"
	join_timed "$W"
fi
tjoined=$(ms)
NODES="$(seq 1 19) $W"
[ "$N" -eq 20 ] || NODES=$(seq 1 "$N")
check "every node sees $N ready nodes" wait_for 120 ready_n "$N" $NODES
tready=$(ms)
printf 'formed: %.1f s to start %d nodes, %.1f s of joins, %.1f s until all ready everywhere\n' \
    "$(echo "($tup - $t0) / 1000" | bc -l)" "$N" \
    "$(echo "($tjoined - $tup) / 1000" | bc -l)" \
    "$(echo "($tready - $t0) / 1000" | bc -l)"

# The summary: every reporter's view of every node GOOD.
good() {
	$C ctl 1 cluster summary >"$T/summary.json" && python3 - "$N" "$T/summary.json" <<'EOF'
import json, sys
n = int(sys.argv[1])
d = json.load(open(sys.argv[2]))["resources"]
bad = [(r, k, v["clusterErrors"]) for r, s in d.items()
       for k, v in s["clusterSummary"].items() if v["clusterErrors"]]
sys.exit(not (len(d) == n and
              all(len(s["clusterSummary"]) == n for s in d.values()) and
              not bad))
EOF
}
check "cluster summary: $N reporters, each with $N nodes, all GOOD" \
    wait_for 60 good
t1=$(ms); $C ctl 1 cluster summary >/dev/null; t2=$(ms)
echo "cluster summary on node 1: $((t2 - t1)) ms ($(wc -c <"$T/summary.json") bytes)"

check "a write on node 1" $C sql 1 "INSERT INTO kmd_keys (key_id, name,
    version, algorithm, material_sealed) VALUES (gen_random_uuid(),
    'full-1', 1, 'aes', '\\x01')"
check "is read on node $W" wait_for 30 sh -c \
    "[ \"\$($C sql $W \"SELECT count(*) FROM kmd_keys WHERE name = 'full-1'\")\" = 1 ]"
check "keys create on node $W" $C ctl "$W" keys create --name=full-key
CT=$($C ctl "$W" keys encrypt --name=full-key --plaintext=twenty |
    python3 -c 'import json,sys; print(json.load(sys.stdin)["ciphertext"])')
check "node 1 decrypts what node $W encrypted" wait_for 30 sh -c \
    "$C ctl 1 keys decrypt --name=full-key --ciphertext='$CT' | grep -q dHdlbnR5"

# One more node: refused, nothing changed.
if [ "$N" -eq 20 ]; then
	M=21
	out=$($C ctl 1 cluster nodes create --csr="$T/n$L.csr" \
	    --newnodehost=127.0.0.$L 2>&1); rc=$?
	check "a 21st node (node $L): nodes create refused" test "$rc" -eq 1
	check "  saying the cluster has 20 nodes, the most it may have" \
	    sh -c "echo '$out' | grep -q 'the cluster has 20 nodes, the most it may have'"
	echo "  ($out)"
	check "  node $L is in no cluster" sh -c \
	    "$C ctl $L cluster info | grep -q '\"code\": \"none\"'"
	check "  still 20 nodes, none joining" sh -c \
	    "[ \"\$($C sql 1 \"SELECT count(*) FILTER (WHERE state = 'r') || '/' || count(*) FROM kmd_nodes\")\" = 20/20 ]"
else
	M=$N
fi

# Memory of every process in the cluster's namespace (kmd and PostgreSQL):
# resident (RSS, shared pages counted in each process) and proportional
# (PSS, each shared page split among the processes that map it).
mem() {
	for p in $(ip netns pids "$KMD_CLUSTER_NS"); do
		awk '/^(Rss|Pss):/ {print $1, $2}' "/proc/$p/smaps_rollup" \
		    2>/dev/null
	done | awk '{s[$1] += $2} END {printf "%.0f MB RSS, %.0f MB PSS",
	    s["Rss:"] / 1024, s["Pss:"] / 1024}'
}
echo "memory of $M nodes (kmd and PostgreSQL, $(ip netns pids "$KMD_CLUSTER_NS" | wc -l) processes): $(mem)"
echo "check-full: $FAILS failed"
exit "$FAILS"
