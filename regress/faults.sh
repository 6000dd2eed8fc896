#!/bin/sh
# `make check-faults`: seeded fault injection on a cluster of
# FAULT_NODES (3) with a writer on every node, each recording the inserts
# its node acknowledged.  Each episode injects one fault on one node for
# a few seconds, chosen from the seed:
#
#   cut      nftables drops the node's traffic (regress/cluster.sh cut)
#   freeze   SIGSTOP of the node's PostgreSQL, then SIGCONT
#   pgkill   SIGKILL of the node's postmaster (kmd starts it again)
#   worker   SIGKILL of one of the node's workers (replmon, joiner, hsm,
#            api; the parent starts it again)
#   parent   SIGKILL of the node's kmd parent, then the node started again
#
# then undoes it and checks: every node ready on every node within
# FAULT_BOUND seconds (the time is printed), every acknowledged insert
# present on every node, all nodes holding the same rows.  A failing
# episode prints its seed and number; FAULT_SEED=S FAULT_FROM=I replays
# from episode I of seed S.
#
# Environment: KMD, KMCTL; FAULT_EPISODES (50), FAULT_SEED (the time),
# FAULT_FROM (1), FAULT_NODES (3), FAULT_BOUND (90).
# Exit status: the number of failed checks.
set -u
cd "$(dirname "$0")/.." || exit 1
top=$(pwd)
: "${KMD:=$top/build/kmd}"
: "${KMCTL:=$top/build/kmctl}"
: "${FAULT_EPISODES:=50}"
: "${FAULT_SEED:=$(date +%s)}"
: "${FAULT_FROM:=1}"
: "${FAULT_NODES:=3}"
: "${FAULT_BOUND:=90}"
N=$FAULT_NODES

die() { echo "check-faults: $*" >&2; exit 1; }
[ "$(id -u)" -eq 0 ] || die "run as root (kmd must start as root)"
[ -x "$KMD" ] && [ -x "$KMCTL" ] || die "$KMD or $KMCTL not built (make)"

T=$(mktemp -d /tmp/kmd-faults.XXXXXX) || exit 1
chmod 755 "$T"
export KMD KMCTL KMD_CLUSTER_NS="kmd-faults-$$" KMD_CLUSTER_DIR="$T/c"
C="sh regress/cluster.sh"
D=$KMD_CLUSTER_DIR
CREDS_DIR=$T
. regress/common.sh
cleanup() {
	touch "$T/stop"
	wait 2>/dev/null
	$C down >/dev/null 2>&1
	rm -rf "$T"
}
trap cleanup EXIT
trap 'exit 130' INT TERM
q() { $C sql "$1" "$2"; }

echo "check-faults: $N nodes, seed $FAULT_SEED, episodes $FAULT_FROM..$FAULT_EPISODES"
check "up $N" $C up "$N"
check "node 1: cluster new" $C ctl 1 cluster new --host=127.0.0.1 \
    --url=https://127.0.0.1:8443
for k in $(seq 2 "$N"); do
	if creds "$k" 1 && join "$k" 1 -y --block >/dev/null 2>&1; then
		ok "node $k joins"
	else
		fail "node $k joins"
	fi
done
[ "$FAILS" -eq 0 ] || exit "$FAILS"

# writer K: inserts on node K's database; the acknowledged ones (psql
# exit 0) go to acked.K.  It pauses while $T/pause exists.
writer() {
	k=$1 i=0
	while [ ! -e "$T/stop" ]; do
		if [ -e "$T/pause" ]; then
			touch "$T/paused.$k"; sleep 0.2; continue
		fi
		rm -f "$T/paused.$k"
		i=$((i + 1))
		q "$k" "INSERT INTO kmd_keys (key_id, name, version, algorithm,
		    material_sealed) VALUES (gen_random_uuid(), 'w$k-$i', 1,
		    'aes', '\\x01')" >/dev/null 2>&1 && echo "w$k-$i" >>"$T/acked.$k"
	done
}
for k in $(seq 1 "$N"); do writer "$k" & done

# pick SEED I: "fault node worker" for episode I, from md5 of "SEED-I"
# (mawk's rand() after srand() picked some kinds and nodes rarely)
pick() {
	h=$(printf '%s-%s' "$1" "$2" | md5sum | cut -c1-12)
	awk -v h="$h" -v n="$N" 'BEGIN {
	    split("cut freeze pgkill worker parent", f, " ")
	    a = 0; for (j = 1; j <= 4; j++) a = a * 16 + index("0123456789abcdef", substr(h, j, 1)) - 1
	    b = 0; for (j = 5; j <= 8; j++) b = b * 16 + index("0123456789abcdef", substr(h, j, 1)) - 1
	    c = 0; for (j = 9; j <= 12; j++) c = c * 16 + index("0123456789abcdef", substr(h, j, 1)) - 1
	    printf "%s %d %d\n", f[1 + a % 5], 1 + b % n, 1 + c % 4 }'
}
pid_of() { cat "$D/node$1/kmd.pid" 2>/dev/null; }
inject() {
	case $1 in
	cut) $C cut "$2" ;;
	freeze) $C freeze "$2" ;;
	pgkill) kill -9 "$(pgrep -P "$(pid_of "$2")" -x postgres)" ;;
	worker)
		r=$(echo replmon joiner hsm api | cut -d' ' -f"$3")
		kill -9 "$(pgrep -P "$(pid_of "$2")" -x "kmd: $r")" ;;
	parent)
		p=$(pid_of "$2")
		kill -9 "$p"
		wait_for 20 sh -c "! pgrep -P $p >/dev/null && ! kill -0 $p 2>/dev/null"
		rm -f "$D/node$2/kmd.pid" ;;
	esac
}
undo() {
	case $1 in
	cut) $C heal "$2" ;;
	freeze) $C thaw "$2" ;;
	parent) $C up "$N" >/dev/null 2>&1 ;;
	esac
}
same_rows() {
	s=$(q 1 "SELECT md5(string_agg(key_id::text || name, ',' ORDER BY key_id)) FROM kmd_keys")
	for k in $(seq 2 "$N"); do
		[ "$(q "$k" "SELECT md5(string_agg(key_id::text || name, ',' ORDER BY key_id)) FROM kmd_keys")" = "$s" ] || return 1
	done
}
has_acked() {
	sort "$T"/acked.* >"$T/acked.all" 2>/dev/null
	for k in $(seq 1 "$N"); do
		q "$k" "SELECT name FROM kmd_keys WHERE name LIKE 'w%'" |
		    sort >"$T/present.$k"
		[ -z "$(comm -23 "$T/acked.all" "$T/present.$k")" ] || return 1
	done
}
all_ready() { ready_n "$N" $(seq 1 "$N"); }

: >"$T/times"
for i in $(seq "$FAULT_FROM" "$FAULT_EPISODES"); do
	set -- $(pick "$FAULT_SEED" "$i")
	ef=$1 ek=$2 ew=$3	# the helpers' loops use k
	sleep 1
	inject "$ef" "$ek" "$ew"
	sleep 3
	undo "$ef" "$ek"
	t0=$(date +%s.%N)
	if ! wait_for "$FAULT_BOUND" all_ready; then
		fail "episode $i ($ef node $ek): every node ready within $FAULT_BOUND s (replay: FAULT_SEED=$FAULT_SEED FAULT_FROM=$i)"
		break
	fi
	t1=$(date +%s.%N)
	echo "$t0 $t1" | awk '{ printf "%.1f\n", $2 - $1 }' >>"$T/times"
	touch "$T/pause"
	wait_for 30 sh -c "for k in $(seq -s ' ' 1 "$N"); do [ -e $T/paused.\$k ] || exit 1; done"
	if wait_for 60 has_acked && wait_for 30 same_rows; then
		printf 'PASS: episode %d: %s node %d, ready after %s s, %d acknowledged inserts on every node, same rows\n' \
		    "$i" "$ef" "$ek" "$(tail -1 "$T/times")" "$(wc -l <"$T/acked.all")"
	else
		fail "episode $i ($ef node $ek): acknowledged inserts on every node, same rows (replay: FAULT_SEED=$FAULT_SEED FAULT_FROM=$i)"
		for n in $(seq 1 "$N"); do
			echo "  node $n lacks: $(comm -23 "$T/acked.all" "$T/present.$n" | head -5 | tr '\n' ' ')"
		done
		rm -f "$T/pause"
		break
	fi
	rm -f "$T/pause"
done
sort -n "$T/times" | awk '{ v[NR] = $1 } END { if (NR) printf "ready again after a fault: p50 %.1f s, max %.1f s (%d episodes)\n", v[int((NR + 1) / 2)], v[NR], NR }'
echo "check-faults: seed $FAULT_SEED, $FAILS failed"
exit "$FAILS"
