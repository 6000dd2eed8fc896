# The WAL a node keeps for a peer is bounded: two nodes with "wal
# max-retained 1" (MB); node 2's PostgreSQL frozen while node 1 writes
# 48 MB: the wal-retained alarm comes first (before the bound), then
# PostgreSQL lets node 1's slot for node 2 go at a checkpoint rather than
# keep WAL without end, and node 1 raises slot-lost naming node 2 and
# what to do; its disk is not filled.  Node 2, back but unable to catch
# up, is removed with --force and the alarm clears.
. regress/e2e/lib.sh
. regress/e2e/cluster_lib.sh W
export KMD_CLUSTER_EXTRA='wal max-retained 1'
check "up 2" $C up 2
check "node 1: cluster new" $C ctl 1 cluster new --host=127.0.0.1 \
    --url=https://127.0.0.1:8443
creds 2 1
check "node 2 joins" join 2 1 -y --block
N2=$(id_of 2)
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
# and fails, so node 1 may see it down or flapping): removed with --force,
# which waits on no drain
out=$(timeout 60 $C ctl 1 cluster nodes delete --id="$N2" -y --force 2>&1); rc=$?
check "node 2 removed with --force, at once" test $rc -eq 0
[ $rc -eq 0 ] || echo "nodes delete said: $out"
check "... its lost slot is gone from node 1, and the alarm clears" \
    wait_for 20 sh -c "! $C ctl 1 alarms list | grep -q slot-lost"
check "no sanitizer report in the nodes' logs" nodes_clean
down
finish
