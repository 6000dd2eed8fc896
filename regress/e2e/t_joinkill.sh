# A join whose member is killed during the initial sync: the joining node
# ends killed with the reason in cluster info, the rest of the cluster
# goes on, and a retry succeeds once the member is back.
. regress/e2e/lib.sh
. regress/e2e/cluster_lib.sh K

check "up 3" $C up 3
check "node 1: cluster new" $C ctl 1 cluster new --host=127.0.0.1 \
    --url=https://127.0.0.1:8443
creds 2 1
check "node 2 joins" join 2 1 -y --block
# Enough rows that the initial sync of node 3 takes a while.
q 1 "INSERT INTO kmd_keys (key_id, name, version, algorithm, material_sealed) SELECT gen_random_uuid(), 'bulk-' || i, 1, 'aes256', decode(repeat('ab', 512), 'hex') FROM generate_series(1, 400000) i" >/dev/null
check "node 2 has the bulk rows" \
    wait_for 120 q_is 2 "SELECT count(*) FROM kmd_keys" 400000

creds 3 1
# The joining node's joiner dies mid-join: the join is killed, not stuck.
join 3 1 -y >/dev/null 2>&1
check "node 3 reaches the initial sync (first try)" wait_for 30 sh -c "[ \"\$($C ctl 3 cluster info | grep -c 'initial sync')\" = 1 ]"
kill -9 "$(pgrep -P "$(cat "$D/node3/kmd.pid")" -x 'kmd: joiner')"
check "the restarted joiner marks the join killed, interrupted" \
    wait_for 20 sh -c "$C ctl 3 cluster info | grep -q '\"error\": \"the join was interrupted'"

join 3 1 -y >/dev/null 2>&1
check "node 3 reaches the initial sync" wait_for 30 sh -c "[ \"\$($C ctl 3 cluster info | grep -c 'initial sync')\" = 1 ]"
out=$($C ctl 1 cluster nodes create --csr="$T/n3.csr" --newnodehost=127.0.0.9 2>&1); rc=$?
check "nodes create while a node joins: refused, one join at a time" \
    refused $rc "$out" "one join at a time"
check "a member shows the stage too: node 2 lists node 3 in initial sync" \
    sh -c "$C ctl 2 cluster nodes list | grep -q 'joining: initial sync (3/5)'"
kill -9 "$(cat "$D/node1/kmd.pid")"
echo "node 1 killed during node 3's initial sync"
check "node 3 ends killed" wait_for 60 sh -c "[ \"\$($C ctl 3 cluster info | grep -c '\"code\": \"k\"')\" = 1 ]"
check "a killed node keeps kmd_keys' (name, version) index" \
    wait_for 10 q_is 3 "SELECT count(*) FROM pg_indexes WHERE indexname = 'kmd_keys_name_version'" 1
check "cluster info on node 3 says why" \
    sh -c "$C ctl 3 cluster info | grep -q '\"error\": \".*down for'"
check "node 2 still works: a write there is kept" \
    q_is 2 "INSERT INTO kmd_keys (key_id, name, version, algorithm, material_sealed) VALUES (gen_random_uuid(), 'while-1-down', 1, 'aes256', '\\x01') RETURNING name" while-1-down

check "node 1 comes back" $C up 3
check "node 1 gets node 2's write from while it was down" \
    wait_for 60 q_is 1 "SELECT count(*) FROM kmd_keys WHERE name = 'while-1-down'" 1
out=$(join 3 1 -y --block 2>&1); rc=$?
check "the retry of node 3's join succeeds" test $rc -eq 0
check "node 3 is ready" ready 3
check "node 3 has every row" q_is 3 "SELECT count(*) FROM kmd_keys" 400001
check "node 1 lists 3 ready nodes (within seconds)" \
    wait_for 15 ready_n 3 1
check "no sanitizer report in the nodes' logs" nodes_clean
down
finish
