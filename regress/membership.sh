#!/bin/sh
# make check-membership: the membership rules tried again and again, and
# the stalls make check has no time for.
#   - MEMBERSHIP_ROUNDS (default 10) rounds of three joins started at
#     once, nodes 4 and 5 through two different members on odd rounds and
#     through the same member on even ones, node 6 through a third: at
#     most one goes on at a time; afterwards every ready node has a slot
#     and a subscription for every other, keys made on each new node
#     reach the other, and no node sees another in different states.  The
#     new nodes are removed for the next round.
#   - kill -9 of the joining node's kmd, and a cut-off, at each of the
#     five stages (MEMBERSHIP_STAGES, default "creating b i c o"): every
#     member leaves joining within 40 s and keeps no slot or
#     subscription of it; nodes delete --force removes it; the next join
#     goes through.
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
# slots_for ID: SQL, the slots a member keeps for node ID: its direct
# one and the catch-up slot of a join ID ran through it
slots_for() {
	echo "SELECT count(*) FROM pg_replication_slots, kmd_local l WHERE
	    slot_name IN (kmd_slot_name(l.node_id, '$1'), 'pgl_' ||
	    kmd_short(current_database()) || '_' || kmd_short('kmd_' ||
	    kmd_hex(l.node_id, 32)) || '_' || kmd_short('kmd_cu_' ||
	    kmd_hex('$1', 12)))"
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
	creds 4 1 && creds 5 "$m5" && creds 6 3 ||
	    fail "round $r: credentials"
	join 4 1 -y --block >"$T/j4.out" 2>&1 &
	p4=$!
	join 5 "$m5" -y --block >"$T/j5.out" 2>&1 &
	p5=$!
	join 6 3 -y --block >"$T/j6.out" 2>&1 &
	p6=$!
	wait $p4; r4=$?
	wait $p5; r5=$?
	wait $p6; r6=$?
	echo "round $r: join 4 through 1: $r4, join 5 through $m5: $r5, join 6 through 3: $r6"
	check "round $r: of three, at most one went on" \
	    test $(((r4 != 0) + (r5 != 0) + (r6 != 0))) -ge 2
	for k in 4 5 6; do
		if ! ready "$k"; then
			check "round $r: node $k, refused, says why" grep -q \
			    'holds the lease\|one join at a time' "$T/j$k.out"
			check "round $r: node $k joins after" join $k 1 -y --block
		fi
	done
	check "round $r: six nodes ready" wait_for 30 all_ready 1 2 3 4 5 6
	check "round $r: a slot and a subscription for every other node" \
	    wait_for 60 subs_all 1 2 3 4 5 6
	writes 4 3 "r$r-from4"
	writes 5 3 "r$r-from5"
	check "round $r: keys from node 4 reach node 5 and the other way" \
	    wait_for 30 sh -c "[ \"\$(sh regress/cluster.sh sql 5 \"SELECT count(*) FROM kmd_keys WHERE name LIKE 'r$r-from4-%'\")\" = 3 ] && [ \"\$(sh regress/cluster.sh sql 4 \"SELECT count(*) FROM kmd_keys WHERE name LIKE 'r$r-from5-%'\")\" = 3 ]"
	check "round $r: no node sees another in different states" wait_for 30 \
	    q_all 6 "SELECT count(*) FROM kmd_node_status WHERE code = 'x'" 0
	for k in 4 5 6; do
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

# ---- the joining node's kmd killed (-9), or the node cut off, at each
# of the five stages: every member leaves joining, keeps no slot or
# subscription of it, and the next join goes through.  A larger
# database makes the stages last; the stage hit is the first seen at or
# after the one aimed at. ----
writes 1 100000 bulk
check "the larger database on every member" wait_for 180 same_keys 2 3
JOINING="('creating', 'b', 'i', 'c', 'o')"
# of4 SQL: SQL about node 4 ($N4), on every member, all answering 0
of4() { q_all 3 "$1" 0; }
for stage in ${MEMBERSHIP_STAGES:-creating b i c o}; do
	for fault in kill cut; do
		e="$stage/$fault"
		# (a node just reset answers csr once its database is up)
		wait_for 30 creds 4 1 || fail "$e: credentials"
		N4=$(q 1 "SELECT node_id FROM kmd_nodes WHERE state = 'p' AND
		    host = '127.0.0.4'")
		join 4 1 -y --block >"$T/jk.out" 2>&1 &
		jp=$!
		at=$(python3 - "$stage" "$N4" <<'PY'
import subprocess, sys, time
order = ["p", "creating", "b", "i", "c", "o", "r", "k"]
aim, node = order.index(sys.argv[1]), sys.argv[2]
end = time.time() + 60
while time.time() < end:
    s = subprocess.run(["sh", "regress/cluster.sh", "sql", "1",
        "SELECT state FROM kmd_nodes WHERE node_id = '%s'" % node],
        capture_output=True, text=True).stdout.strip()
    if s in order and order.index(s) >= aim:
        print(s)
        break
PY
)
		if [ "$fault" = kill ]; then
			kill -9 "$(cat "$D/node4/kmd.pid")"
		else
			$C cut 4
		fi
		echo "$e: node 4 was at ${at:-?} when hit"
		[ -n "$at" ] || tail -3 "$T/jk.out"
		check "$e: the fault hit the join (not before, not after)" \
		    sh -c "case '$at' in creating|b|i|c|o) ;; *) exit 1 ;; esac"
		check "$e: every member leaves joining within 40 s" wait_for 40 \
		    of4 "SELECT count(*) FROM kmd_nodes WHERE node_id = '$N4'
		    AND state IN $JOINING"
		check "$e: no member keeps a slot for it (60 s)" wait_for 60 \
		    of4 "$(slots_for "$N4")"
		if [ "$fault" = kill ]; then $C up 4 >/dev/null; else $C heal 4; fi
		wait "$jp"
		check "$e: nor a subscription from it (60 s)" wait_for 60 \
		    of4 "SELECT count(*) FROM pglogical.subscription WHERE
		    sub_name = kmd_sub_name('$N4', (SELECT node_id FROM
		    kmd_local))"
		check "$e: node 4 is not ready" sh -c "! $C ctl 4 cluster info |
		    grep -q '\"code\": \"r\"'"
		# (its grants lapse 15 s after its last renewal; until then
		# a change is refused, saying the join was killed)
		check "$e: the killed join's grants lapse on every member (20 s)" \
		    wait_for 20 q_all 3 "SELECT count(*) FROM kmd_lease WHERE
		    expires > clock_timestamp()" 0
		check "$e: nodes delete --force removes the killed node" \
		    $C ctl 1 cluster nodes delete --id="$N4" -y --force
		creds 5 2
		check "$e: the next join goes through" join 5 2 -y --block
		check "$e: node 5 removed" $C ctl 1 cluster nodes delete \
		    --id="$(id_of 5)" -y
		check "$e: node 5: cluster delete" \
		    wait_for 60 $C ctl 5 cluster delete -y
		$C ctl 4 services reset --yes >/dev/null 2>&1
		check "$e: node 4 reset, not clustered" wait_for 60 sh -c \
		    "$C ctl 4 cluster info 2>/dev/null | grep -q 'not clustered'"
		check "$e: three nodes, each with a slot per other" \
		    wait_for 60 subs_all 1 2 3
	done
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
    wait_for 90 sh -c "for k in 1 3; do [ \"\$(sh regress/cluster.sh sql \$k \"$(slots_for "$N4")\")\" = 0 ] || exit 1; done"
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
