#!/bin/sh
# make check-membership: the membership rules tried again and again, and
# the stalls make check has no time for.
#   - MEMBERSHIP_ROUNDS (default 10) rounds of two joins started at once,
#     through two different members on odd rounds and through the same
#     member on even ones: at most one goes on at a time; afterwards every
#     ready node has a slot and a subscription for every other, keys made
#     on each new node reach the other, and no node sees another in
#     different states.  Both new nodes are removed for the next round.
#   - A join whose node and whose sponsor are both stopped (SIGSTOP): the
#     other members raise the join-stalled alarm, nodes delete --force
#     removes the joining node, and every member drops what it had of it.
# Needs root; KMD and KMCTL name the binaries.
cd "$(dirname "$0")/.." || exit 1
. regress/e2e/lib.sh
. regress/e2e/cluster_lib.sh R
ROUNDS=${MEMBERSHIP_ROUNDS:-10}

# subs_all K...: each node K has one slot and one subscription per other
subs_all() {
	n=$(($# - 1))
	for k in "$@"; do
		q_is "$k" "SELECT (SELECT count(*) FROM pg_replication_slots) ||
		    '/' || (SELECT count(*) FROM pglogical.subscription)" "$n/$n" ||
		    return 1
	done
}
# all_ready K...: every node K is ready
all_ready() { for k in "$@"; do ready "$k" || return 1; done; }

check "up 6" $C up 6
check "node 1: cluster new" $C ctl 1 cluster new --host=127.0.0.1 \
    --url=https://127.0.0.1:8443
creds 2 1
check "node 2 joins" join 2 1 -y --block
creds 3 1
check "node 3 joins" join 3 1 -y --block

r=1
while [ $r -le "$ROUNDS" ]; do
	if [ $((r % 2)) -eq 1 ]; then m5=2; else m5=1; fi
	creds 4 1 && creds 5 "$m5" || fail "round $r: credentials"
	join 4 1 -y --block >"$T/j4.out" 2>&1 &
	p4=$!
	join 5 "$m5" -y --block >"$T/j5.out" 2>&1 &
	p5=$!
	wait $p4; r4=$?
	wait $p5; r5=$?
	echo "round $r: join 4 through 1: $r4, join 5 through $m5: $r5"
	check "round $r: not both went on" test $((r4 + r5)) -ge 1
	for k in 4 5; do
		if ! ready "$k"; then
			check "round $r: node $k, refused, says why" grep -q \
			    'holds the lease\|membership' "$T/j$k.out"
			check "round $r: node $k joins after" join $k 1 -y --block
		fi
	done
	check "round $r: five nodes ready" wait_for 30 all_ready 1 2 3 4 5
	check "round $r: a slot and a subscription for every other node" \
	    wait_for 60 subs_all 1 2 3 4 5
	writes 4 3 "r$r-from4"
	writes 5 3 "r$r-from5"
	check "round $r: keys from node 4 reach node 5 and the other way" \
	    wait_for 30 sh -c "[ \"\$(sh regress/cluster.sh sql 5 \"SELECT count(*) FROM kmd_keys WHERE name LIKE 'r$r-from4-%'\")\" = 3 ] && [ \"\$(sh regress/cluster.sh sql 4 \"SELECT count(*) FROM kmd_keys WHERE name LIKE 'r$r-from5-%'\")\" = 3 ]"
	check "round $r: no node sees another in different states" wait_for 30 \
	    q_all 5 "SELECT count(*) FROM kmd_node_status WHERE code = 'x'" 0
	for k in 4 5; do
		id=$(id_of $k)
		check "round $r: node $k removed" $C ctl 1 cluster nodes delete \
		    --id="$id" -y
		check "round $r: node $k: cluster delete" \
		    wait_for 60 $C ctl $k cluster delete -y
	done
	check "round $r: three nodes, each with a slot per other" \
	    wait_for 60 subs_all 1 2 3
	r=$((r + 1))
done

# ---- a join whose node and sponsor both stop ----
creds 4 2
join 4 2 -y >/dev/null 2>&1
check "node 4's join is under way" wait_for 20 sh -c \
    "$C ctl 4 cluster info | grep -q joining"
N4=$(id_of 4)
for k in 4 2; do
	p=$(cat "$D/node$k/kmd.pid")
	kill -STOP "$p" $(pgrep -P "$p")
done
echo "node 4 (joining) and node 2 (its sponsor) stopped"
check "node 1 raises the join-stalled alarm for node 4" wait_for 40 \
    q_is 1 "SELECT count(*) FROM kmd_alarms WHERE kind = 'join-stalled' AND subject = '$N4' AND cleared IS NULL" 1
out=$($C ctl 1 cluster nodes delete --id="$N4" -y 2>&1); rc=$?
check "nodes delete without --force: refused, says --force" \
    refused $rc "$out" "is joining.*--force"
check "nodes delete --force of the stalled joining node" \
    $C ctl 1 cluster nodes delete --id="$N4" -y --force
check "nodes 1 and 3 keep nothing of node 4 (a slot and a sub each)" \
    wait_for 90 sh -c "for k in 1 3; do [ \"\$(sh regress/cluster.sh sql \$k \"SELECT count(*) FROM pg_replication_slots WHERE slot_name LIKE '%' || kmd_short('kmd_' || kmd_hex('$N4', 32)) || '%' OR slot_name = kmd_slot_name((SELECT node_id FROM kmd_local), '$N4')\")\" = 0 ] || exit 1; done"
check "the alarm clears on node 1" wait_for 30 \
    q_is 1 "SELECT count(*) FROM kmd_alarms WHERE kind = 'join-stalled' AND cleared IS NULL" 0
for k in 4 2; do
	p=$(cat "$D/node$k/kmd.pid")
	kill -CONT "$p" $(pgrep -P "$p")
done
check "node 2 comes back ready, three nodes" wait_for 60 all_ready 1 2 3
check "node 4 ends its join (killed or removed), not ready" wait_for 60 \
    sh -c "! $C ctl 4 cluster info | grep -q '\"code\": \"r\"' && ! $C ctl 4 cluster info | grep -q joining"
check "no node sees node 4 ready" q_all 3 \
    "SELECT count(*) FROM kmd_nodes WHERE node_id = '$N4' AND state = 'r'" 0
check "no sanitizer report" nodes_clean
echo "check-membership: $FAILS failed"
exit "$FAILS"
