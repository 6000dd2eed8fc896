# Removal and reset end to end, 3 nodes: node 1 removes node 3 while node
# 2 is cut off, without node 3's last writes; node 3 is fenced, node 2 takes
# its last writes when back, then no subscription from node 3 and no slot
# for it is left on nodes 1 and 2, they list 2 nodes, and node 3's
# certificate is refused.  Node 3 leaves
# with cluster delete and joins again.  A removal while node 2 is down:
# node 2 cleans up when it returns.  Of two nodes, the younger cannot
# remove the older while it is down; --force for a node that is down.
# services reset: a fresh node that can make a new cluster.
. regress/e2e/lib.sh
. regress/e2e/cluster_lib.sh M
cluster_of_3

# subs_slots K ID: on node K, subscriptions from ID plus slots for ID
subs_slots() {
	q "$1" "SELECT (SELECT count(*) FROM pglogical.subscription WHERE
	    sub_name = kmd_sub_name('$2', (SELECT node_id FROM kmd_local))) +
	    (SELECT count(*) FROM pg_replication_slots WHERE slot_name =
	    kmd_slot_name((SELECT node_id FROM kmd_local), '$2'))"
}
gone() { # gone ID K...: nothing of ID's replication left on nodes K...
	id=$1; shift
	for k in "$@"; do [ "$(subs_slots "$k" "$id")" = 0 ] || return 1; done
}
# as_node K M: whether node K's certificate gets into node M
as_node() { as_peer "$1" "$2" "SELECT 'in'"; }
cert_refused() { as_node "$1" "$2" | grep -q 'authentication failed'; }

check "3 ready nodes on every node" wait_for 15 ready_n 3 1 2 3
N1=$(id_of 1) N2=$(id_of 2) N3=$(id_of 3)
check "before: node 1 has node 3's subscription and slot" \
    test "$(subs_slots 1 "$N3")" = 2
check "before: node 3's certificate gets into node 1" \
    test "$(as_node 3 1)" = in
peer_powerless 3 1
check "peer 3 on 1: a member's subscription to it stays" \
    peer_says 3 1 "SELECT kmd_peer_unsubscribe()" "is a member here"
check "... and there it is" test "$(subs_slots 1 "$N3")" = 2

# ---- what is refused ----
out=$($C ctl 1 cluster nodes delete --id="$N1" -y 2>&1); rc=$?
check "deleting itself: refused" refused $rc "$out" "A node cannot remove itself"
out=$($C ctl 1 cluster nodes delete --id=00000000-0000-0000-0000-000000000000 -y 2>&1); rc=$?
check "an unknown node: refused" refused $rc "$out" "no node 00000000"
out=$($C ctl 1 cluster nodes delete --id="$N3" </dev/null 2>&1); rc=$?
check "without -y and no terminal: refused" refused $rc "$out" "give -y to confirm"
out=$($C ctl 1 cluster delete -y 2>&1); rc=$?
check "cluster delete on a member: refused, says how to remove it" \
    refused $rc "$out" "still a member of cluster .*cluster nodes delete --id=$N1"
check "nothing changed: 3 ready nodes" ready_n 3 1 2 3

# ---- node 1 removes node 3, whose last writes node 2 has not yet ----
# Node 2 is cut off while node 3 writes; node 1 has the rows.  After the
# removal node 3 is fenced (it refuses writes of its own) and node 2, back,
# takes node 3's stream up to the fence before its subscription goes: the
# nodes left hold the same rows.  cluster delete on node 3 waits for that.
$C cut 2
check "node 1 sees node 2 down" wait_for 15 sh -c \
    "$C ctl 1 cluster nodes get --id=$N2 | grep -q '\"code\": \"d\"'"
check "node 3 writes 100 rows while node 2 is cut off" writes 3 100 last-of-3
check "node 1 has them" wait_for 10 q_is 1 "SELECT count(*) FROM kmd_keys WHERE name LIKE 'last-of-3-%'" 100
check "node 2 has none of them" q_is 2 "SELECT count(*) FROM kmd_keys WHERE name LIKE 'last-of-3-%'" 0
out=$($C ctl 1 cluster nodes delete --id="$N3" -y 2>&1); rc=$?
check "node 1 removes node 3" test $rc -eq 0
check "the answer: node 1's cluster, 2 nodes" sh -c "echo '$out' | grep -q '\"nodeCount\": 2'"
check "node 3 is fenced: its fence position is recorded" \
    wait_for 10 q_is 3 "SELECT fence_lsn IS NOT NULL FROM kmd_local" t
out=$(q 3 "INSERT INTO kmd_keys (key_id, name, version, algorithm, material_sealed) VALUES (gen_random_uuid(), 'after-fence', 1, 'aes', '\\x01')" 2>&1)
check "node 3 refuses a write of its own, saying to run cluster delete" \
    sh -c "echo '$out' | grep -q 'removed from the cluster: run kmctl cluster delete'"
check "node 1, which has node 3's writes, drops its subscription from it" \
    wait_for 15 gone "$N3" 1
check "node 2, cut off, keeps its subscription from node 3" \
    test "$(q 2 "SELECT count(*) FROM pglogical.subscription WHERE sub_name = kmd_sub_name('$N3', '$N2')")" = 1
$C heal 2
check "node 2, back, takes node 3's last writes, then drops its subscription and slot" \
    wait_for 60 gone "$N3" 1 2
check "node 2 has node 3's 100 last writes" \
    q_is 2 "SELECT count(*) FROM kmd_keys WHERE name LIKE 'last-of-3-%'" 100
check "nodes 1 and 2 hold the same rows" wait_for 10 same_keys 2
check "nodes 1 and 2 list 2 nodes" sh -c \
    "$C ctl 1 cluster nodes list | grep -q '\"total\": 2' && $C ctl 2 cluster nodes list | grep -q '\"total\": 2'"
# node 2 was cut off: back to ready after a heal takes up to pglogical's
# reconnect back-off (make bench: max 28 s)
check "2 ready nodes on nodes 1 and 2" wait_for 40 ready_n 2 1 2
check "node 3 knows it was removed" \
    wait_for 10 sh -c "$C ctl 3 cluster info | grep -q '\"removed\"\\|\"code\": \"v\"'"
check "node 3's certificate is refused by node 1" wait_for 10 cert_refused 3 1
check "and by node 2" wait_for 10 cert_refused 3 2
check "node 2's certificate still gets into node 1" test "$(as_node 2 1)" = in
check "node 3's heartbeat row is gone from nodes 1 and 2" wait_for 10 q_all 2 \
    "SELECT count(*) FROM kmd_join_markers WHERE origin = '$N3'" 0
check "writes on node 1 reach node 2" writes 1 100 after-removal
check "node 2 has them" wait_for 10 q_is 2 "SELECT count(*) FROM kmd_keys WHERE name LIKE 'after-removal-%'" 100

# ---- node 3 leaves and joins again ----
out=$($C ctl 3 cluster delete -y 2>&1); rc=$?
check "node 3: cluster delete" test $rc -eq 0
check "node 3 is in no cluster" sh -c "$C ctl 3 cluster info | grep -q '\"code\": \"none\"'"
check "node 3 has no pglogical node, subscription or slot left" \
    q_is 3 "SELECT (SELECT count(*) FROM pglogical.subscription) + (SELECT count(*) FROM pglogical.node) + (SELECT count(*) FROM pg_replication_slots)" 0
check "node 3 kept its users" q_is 3 "SELECT count(*) FROM kmd_users" 1
out=$($C ctl 3 cluster delete -y 2>&1); rc=$?
check "cluster delete again: refused, in no cluster" refused $rc "$out" "in no cluster"
creds 3 1
check "node 3 joins again" join 3 1 -y --block
check "3 ready nodes on every node again" wait_for 15 ready_n 3 1 2 3
N3B=$(id_of 3)
check "node 3 has a new id" test "$N3B" != "$N3"
check "identical data on the 3 nodes" wait_for 10 same_keys 2 3

# ---- a removal while node 2 is down, through the REST API ----
kill -TERM "$(cat "$D/node2/kmd.pid")"
wait_for 20 sh -c "! kill -0 $(cat "$D/node2/kmd.pid") 2>/dev/null"
check "node 1 sees node 2 down" wait_for 10 sh -c \
    "$C ctl 1 cluster nodes get --id=$N2 | grep -q '\"code\": \"d\"'"
U=https://127.0.0.1:8443/api/v1
tok=$(ns curl -sk -d '{"username":"admin","password":"secret-password"}' \
    "$U/auth/tokens" | sed -n 's/.*"token":"\([^"]*\)".*/\1/p')
check "REST DELETE nodes/{node 3}: 200" sh -c "[ \$(ip netns exec $KMD_CLUSTER_NS curl -sk -o $T/del.json -w '%{http_code}' -X DELETE -H 'Authorization: Bearer $tok' $U/nodes/$N3B) = 200 ]"
check "node 1 drops node 3's subscription and slot" wait_for 10 gone "$N3B" 1
# node 2, down, has not taken node 3's last writes: cluster delete on node
# 3 refuses rather than leave node 2 without them, once node 2 has not
# been connected for 12 s (not the 40 s it waits for a connected node)
check "node 3 knows it was removed" wait_for 15 sh -c \
    "$C ctl 3 cluster info | grep -q '\"code\": \"v\"'"
check "... its health: 473" test "$(health 3)" = 473
check "... 503 if the balancer asks so (removedcode=503)" \
    test "$(health 3 '?removedcode=503')" = 503
t0=$(date +%s)
out=$($C ctl 3 cluster delete -y 2>&1); rc=$?
t1=$(date +%s)
check "cluster delete on node 3 while node 2 is down: refused, names node 2" \
    refused $rc "$out" "127.0.0.2 have not taken this node's last writes"
check "... without waiting out the 40 s meant for a connected node" \
    test $((t1 - t0)) -lt 30
check "node 3 keeps the slot node 2 drains from" \
    q_is 3 "SELECT count(*) FROM pg_replication_slots WHERE slot_name = kmd_slot_name('$N3B', '$N2')" 1
$C up 3 >/dev/null
check "node 2 comes back" wait_for 20 sh -c "$C ctl 2 cluster info | grep -q nodeID"
check "node 2 cleans up when it returns" wait_for 20 gone "$N3B" 2
check "nodes 1 and 2: 2 ready nodes" wait_for 20 ready_n 2 1 2

# ---- two nodes, one down: the younger may never remove the older ----
N1=$(id_of 1)
K1=$(cat "$D/node1/kmd.pid")
kill -TERM "$K1"
wait_for 20 sh -c "! kill -0 $K1 2>/dev/null"
wait_for 10 sh -c "$C ctl 2 cluster nodes get --id=$N1 | grep -q '\"code\": \"d\"'"
out=$($C ctl 2 cluster nodes delete --id="$N1" -y --force 2>&1); rc=$?
check "node 2 (the younger) with --force cannot remove node 1 (the older, down)" \
    refused $rc "$out" "granted the membership lease.*nothing was changed"
check "... node 1 stays a member on node 2" q_is 2 \
    "SELECT state FROM kmd_nodes WHERE node_id = '$N1'" r
$C up 1 >/dev/null
check "node 1 back: 2 ready nodes on both" wait_for 30 ready_n 2 1 2

# ---- --force for a node that is down ----
kill -TERM "$(cat "$D/node2/kmd.pid")"
wait_for 20 sh -c "! kill -0 $(cat "$D/node2/kmd.pid") 2>/dev/null"
wait_for 10 sh -c "$C ctl 1 cluster nodes get --id=$N2 | grep -q '\"code\": \"d\"'"
out=$($C ctl 1 cluster nodes delete --id="$N2" -y 2>&1); rc=$?
check "deleting a down node without --force: refused, says --force" \
    refused $rc "$out" "is not ready (its status: down): to remove it anyway.*--force"
out=$($C ctl 1 cluster nodes delete --id="$N2" -y --force 2>&1); rc=$?
check "with --force: removed" test $rc -eq 0
check "node 1 alone, ready" wait_for 10 ready_n 1 1
check "node 1 keeps no slot at all" wait_for 10 q_is 1 "SELECT count(*) FROM pg_replication_slots" 0

# ---- services reset on node 3 ----
out=$($C ctl 3 services reset </dev/null 2>&1); rc=$?
check "services reset without -y and no terminal: refused" refused $rc "$out" "give -y"
out=$($C ctl 3 services reset -y 2>&1); rc=$?
check "services reset -y: answered at once" test $rc -eq 0
check "the answer says the node is being reset" sh -c "echo '$out' | grep -q resetting"
check "node 3 answers again, in no cluster" wait_for 60 sh -c \
    "$C ctl 3 cluster info 2>/dev/null | grep -q '\"code\": \"none\"'"
check "node 3's database is fresh: no users, no keys" \
    wait_for 20 q_is 3 "SELECT (SELECT count(*) FROM kmd_users) + (SELECT count(*) FROM kmd_keys)" 0
check "node 3 can make a new cluster" $C ctl 3 cluster new --host=127.0.0.3 \
    --url=https://127.0.0.3:8443
check "node 3 is ready, alone" wait_for 10 ready_n 1 3
check "no sanitizer report in the nodes' logs" nodes_clean
down
finish
