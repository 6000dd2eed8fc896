# The WAL a node keeps for a peer is bounded: two nodes with "wal
# max-retained 1" (MB); node 2's PostgreSQL frozen while node 1 writes
# 48 MB: the wal-retained alarm comes first (before the bound), then
# PostgreSQL lets node 1's slot for node 2 go at a checkpoint rather than
# keep WAL without end, and node 1 raises slot-lost naming node 2 and
# what to do; its disk is not filled.  Node 2, back but unable to catch
# up, shows as lost on node 1 (status "l"), is refused removal without
# --force.  Then node 1 is frozen while node 2 writes, so that node 2's
# slot for node 1 is lost too and a key and a user made on node 2 exist
# there only: its removal with --force is refused naming them (and not a
# key both nodes hold, nor a user node 1 made again later); with node 2
# out of reach, refused saying so; removed with --force
# --discard-unsent, and the alarm clears.
. regress/e2e/lib.sh
. regress/e2e/cluster_lib.sh W
export KMD_CLUSTER_EXTRA='wal max-retained 1'
cluster_of 2
N2=$(id_of 2)
N1=$(id_of 1)
$C ctl 2 keys create --name=both >/dev/null
check "a key made on node 2 reaches node 1" \
    wait_for 20 q_is 1 "SELECT count(*) FROM kmd_keys WHERE name = 'both'" 1
check "node 1's PostgreSQL bounds a slot at 1 MB" \
    q_is 1 "SHOW max_slot_wal_keep_size" 1MB
slot="kmd_slot_name((SELECT node_id FROM kmd_local), '$N2')"
check "node 1 keeps a slot for node 2, its WAL reserved" \
    wait_for 20 q_is 1 "SELECT wal_status FROM pg_replication_slots WHERE slot_name = $slot" reserved
$C freeze 2
# 48 rows of 1 MB (random, so that compression keeps them large)
q 1 "INSERT INTO kmd_keys (key_id, name, version, algorithm, material_sealed)
    SELECT gen_random_uuid(), 'big-' || i, 1, 'aes256',
    (SELECT string_agg(md5(random()::text), '')::bytea FROM generate_series(1, 32768))
    FROM generate_series(1, 48) i" >/dev/null
check "node 1: the wal-retained alarm for node 2 comes before the bound" \
    wait_for 20 sh -c "$C ctl 1 alarms list | grep -q 'of WAL for node $N2.*above 0 MB (at 1 MB, the bound'"
q 1 "CHECKPOINT" >/dev/null
check "at the checkpoint PostgreSQL lets the slot go (lost), not the disk" \
    wait_for 20 q_is 1 "SELECT wal_status FROM pg_replication_slots WHERE slot_name = $slot" lost
check "node 1 raises slot-lost, naming node 2 and what to do" \
    wait_for 20 sh -c "$C ctl 1 alarms list | grep -q 'for node $N2) on this node was lost.*cluster nodes delete --id=$N2 --force) and join it again'"
$C thaw 2
# node 2 cannot catch up from node 1 any more (its subscription retries
# and fails): node 1 shows it lost, a status of its own
check "node 1 shows node 2 lost (code l), saying what to do" wait_for 20 \
    sh -c "$C ctl 1 cluster nodes get --id=$N2 | grep -q '\"code\": \"l\"'"
check "... its description" sh -c "$C ctl 1 cluster nodes get --id=$N2 |
    grep -q '\"description\": \"lost: its replication slot was let go; it must join again\"'"
$C ctl 1 cluster summary >"$T/summary"
check "... node 1's summary of node 2: BAD, slot lost" \
    grep -q '"summary": "BAD:its replication slot here was lost"' "$T/summary"
check "... and its clusterErrors say why and what to do" grep -q \
    "replication slot for node $N2 (127.0.0.2) was lost: .*delete --id=$N2 --force), run services reset on it and join it again" "$T/summary"
check "... no node-down alarm beside slot-lost (it is not coming back)" \
    sh -c "! $C ctl 1 alarms list | grep -q '\"kind\": \"node-down\"'"
out=$($C ctl 1 cluster nodes delete --id="$N2" -y 2>&1); rc=$?
check "nodes delete without --force: refused, saying why and what to do" \
    refused $rc "$out" "cannot catch up: its replication slot on this node was lost.*--force.*services reset"
# node 2's own stream cut off as well: node 1 frozen while node 2 writes
$C freeze 1
q 2 "CREATE TABLE filler AS SELECT (SELECT string_agg(md5(random()::text),
    '')::bytea FROM generate_series(1, 32768)) AS b FROM generate_series(1, 48)
    " >/dev/null
q 2 "CHECKPOINT" >/dev/null
check "node 2's slot for node 1 is lost too" wait_for 20 q_is 2 \
    "SELECT wal_status FROM pg_replication_slots WHERE slot_name =
    kmd_slot_name((SELECT node_id FROM kmd_local), '$N1')" lost
# written once the slot is gone (before, what node 2 had sent could still
# be in flight to node 1): these can never reach node 1
$C ctl 2 keys create --name=only-on-2 >/dev/null
printf 'only-on-2-pass\n' | $C ctl 2 users create --name=u2 --role=viewer >/dev/null
printf 'older-on-2-pass\n' | $C ctl 2 users create --name=x --role=viewer >/dev/null
$C thaw 1
# a later write of the same row on node 1 wins anyway: not named
printf 'newer-on-1-pass\n' | $C ctl 1 users create --name=x --role=admin >/dev/null
check "node 2 shows node 1 lost in turn" wait_for 20 \
    sh -c "$C ctl 2 cluster nodes get --id=$N1 | grep -q '\"code\": \"l\"'"
out=$($C ctl 2 services reset </dev/null 2>&1); rc=$?
check "services reset on node 2 warns that its writes since exist there only" \
    refused $rc "$out" "WARNING: node $N1 (127.0.0.1) cannot receive this node's writes any more.*cluster nodes delete --id=$N2 --force names it first"
check "... and, with no terminal to ask, wipes nothing" \
    q_is 2 "SELECT count(*) FROM kmd_keys WHERE name = 'only-on-2'" 1
out=$(timeout 60 $C ctl 1 cluster nodes delete --id="$N2" -y --force 2>&1); rc=$?
check "--force: refused, naming node 2's writes that node 1 lacks, oldest first" \
    refused $rc "$out" \
    "node $N2 (127.0.0.2) holds 2 write(s) made there after its stream here stopped, which this node lacks (key only-on-2 version [0-9]*, user u2).*--force --discard-unsent"
[ $rc -eq 1 ] || { echo "nodes delete said: $out"; grep -E "unsent|lacks|asking it|lost here|removed node" "$D"/node1/kmd.log | tail; }
check "... node 2 is still a member, node 1 still without the key" \
    q_is 1 "SELECT n.state || count(k.*) FROM kmd_nodes n LEFT JOIN kmd_keys k
    ON k.name = 'only-on-2' WHERE n.node_id = '$N2' GROUP BY n.state" r0
out=$($C ctl 1 cluster nodes delete --id="$N2" -y --discard-unsent 2>&1); rc=$?
check "--discard-unsent without --force: refused" \
    refused $rc "$out" "discard-unsent goes with --force"
$C freeze 2
out=$(timeout 60 $C ctl 1 cluster nodes delete --id="$N2" -y --force 2>&1); rc=$?
check "node 2 out of reach: --force refused, saying it could not be asked" \
    refused $rc "$out" "could not be asked .*gone for good, remove it with --force --discard-unsent"
[ $rc -eq 1 ] || { echo "nodes delete said: $out"; grep -E "unsent|lacks|asking it|lost here|removed node" "$D"/node1/kmd.log | tail; }
out=$(timeout 60 $C ctl 1 cluster nodes delete --id="$N2" -y --force \
    --discard-unsent 2>&1); rc=$?
check "node 2 removed with --force --discard-unsent, at once" test $rc -eq 0
[ $rc -eq 0 ] || echo "nodes delete said: $out"
$C thaw 2
check "... its lost slot is gone from node 1, and the alarm clears" \
    wait_for 20 sh -c "! $C ctl 1 alarms list | grep -q slot-lost"
check "no sanitizer report in the nodes' logs" nodes_clean
down
finish
