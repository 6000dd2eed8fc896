# A join that stops making progress ends, everywhere, on a cluster of 2
# whose nodes kill a join after 10 s without progress (join stall-after).
# A transaction left open on member 1 holds up the creation of the
# catch-up subscription's slot there (a logical slot waits for every
# transaction older than itself): node 2's join sits in its initial
# sync, alive and renewing its lease, and moves no further.  While it
# stands, member 1 raises join-stalled; after 10 s node 2 kills it with
# the reason, member 1 shows node 2 killed with that reason, the alarm
# clears, nothing of the join stays on member 1, and node 2 joins again.
. regress/e2e/lib.sh
. regress/e2e/cluster_lib.sh S
check "up 2, a join killed after 10 s without progress" \
    env KMD_CLUSTER_EXTRA="join stall-after 10" $C up 2
check "node 1: cluster new" $C ctl 1 cluster new --host=127.0.0.1 \
    --url=https://127.0.0.1:8443
creds 2 1

# The transaction that holds the slot up, until $T/stop or 120 s.
$C sql 1 "BEGIN; SELECT txid_current(); SELECT pg_sleep(120); COMMIT" \
    >/dev/null 2>&1 &
BLOCKER=$!
check "a transaction is open on node 1" wait_for 10 q_is 1 \
    "SELECT count(*) FROM pg_stat_activity WHERE query LIKE '%pg_sleep(120)%'
    AND backend_xid IS NOT NULL AND pid <> pg_backend_pid()" 1
unblock() {
	q 1 "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE
	    query LIKE '%pg_sleep(120)%' AND pid <> pg_backend_pid()" \
	    >/dev/null 2>&1
	wait "$BLOCKER" 2>/dev/null
}

N2=$(q 1 "SELECT node_id FROM kmd_nodes WHERE state = 'p'")
join 2 1 -y --block >"$T/join.out" 2>&1 &
JOIN=$!
check "node 2's join gets to its initial sync, then stands" \
    wait_for 30 sh -c "[ \"\$(sh regress/cluster.sh sql 1 \"SELECT state FROM kmd_nodes WHERE node_id = '$N2'\")\" = i ]"
# The joining node holds the lease and renews it every 3 s over a
# connection it keeps to each voter; one cut is made again at the next.
check "node 2 renews its lease over a connection kept since an earlier round" \
    wait_for 8 q_is 1 "SELECT count(*) > 0 FROM pg_stat_activity WHERE
    usename = 'kmd_repl' AND query LIKE '%kmd_lease_renew%' AND
    query_start > backend_start + interval '2 s'" t
CUT=$(q 1 "SELECT clock_timestamp() FROM pg_terminate_backend((SELECT pid
    FROM pg_stat_activity WHERE usename = 'kmd_repl' AND query LIKE
    '%kmd_lease_renew%' LIMIT 1))")
check "... that connection cut on node 1: the next renewal makes a new one" \
    wait_for 8 q_is 1 "SELECT count(*) > 0 FROM pg_stat_activity WHERE
    usename = 'kmd_repl' AND query LIKE '%kmd_lease_renew%' AND
    backend_start > '$CUT'" t
check "... and the join holds its lease on node 1" q_is 1 \
    "SELECT count(*) FROM kmd_lease WHERE subject = '$N2' AND
    expires > clock_timestamp()" 1
check "while it stands, node 1 raises join-stalled (after 5 s)" \
    wait_for 15 sh -c "$C ctl 1 alarms list | grep -q 'join of node $N2 .* is stalled: no progress for 5 s'"
wait "$JOIN"
rc=$?
check "the join ends with an error (exit 1)" test "$rc" = 1
check "... saying it made no progress for 10 s, and where" \
    grep -q "no progress for 10 s (at: until the catch-up" "$T/join.out"
check "... and the setting" grep -q "join stall-after" "$T/join.out"
check "node 2 shows itself killed" sh -c "$C ctl 2 cluster info |
    grep -q '\"code\": \"k\"'"
check "node 1 shows node 2 killed" wait_for 10 sh -c \
    "[ \"\$(sh regress/cluster.sh sql 1 \"SELECT state FROM kmd_nodes WHERE node_id = '$N2'\")\" = k ]"
check "... with the reason" q_is 1 "SELECT join_error LIKE
    'no progress for 10 s%' FROM kmd_nodes WHERE node_id = '$N2'" t
[ "$(q 1 "SELECT join_error LIKE 'no progress for 10 s%' FROM kmd_nodes
    WHERE node_id = '$N2'")" = t ] || q 1 "SELECT state, join_error FROM
    kmd_nodes WHERE node_id = '$N2'"
check "node 1 holds no lease for it" q_is 1 \
    "SELECT count(*) FROM kmd_lease WHERE subject = '$N2'" 0
unblock
check "nothing of the join stays on node 1: no slot" wait_for 60 q_is 1 \
    "SELECT count(*) FROM pg_replication_slots" 0
check "... no subscription" q_is 1 \
    "SELECT count(*) FROM pglogical.subscription" 0
check "node 1's join-stalled alarm clears" wait_for 15 sh -c \
    "! $C ctl 1 alarms list | grep -q join-stalled"
out=$(join 2 1 -y --block 2>&1); rc=$?
check "node 2 joins again, with the same credentials" test $rc -eq 0
[ $rc -eq 0 ] || { echo "the join said: $out"; $C ctl 1 cluster nodes list; $C ctl 2 cluster info; }
check "2 ready nodes on nodes 1 and 2" wait_for 15 ready_n 2 1 2

# The sponsor's own kill, for a joining node that renews its lease but
# fails to end its stalled join: a join node 1 sponsors, its grant live,
# its progress standing for longer than node 1's limit and 15 s.
F=$(q 1 "SELECT gen_random_uuid()")
# (the row and its lease in one transaction: a joining node's row with
# no lease is a dead join, which the reconciler's next tick would kill)
q 1 "INSERT INTO kmd_nodes (node_id, host, public_address, state, version,
    cert, sponsor) SELECT '$F', '127.0.1.1', '127.0.1.1', 'i', '0.1.0', 'x',
    node_id FROM kmd_local;
    INSERT INTO kmd_lease VALUES (true, gen_random_uuid(), '$F', 'join',
    '$F', kmd_epoch(), clock_timestamp() + interval '1 hour',
    'initial sync: 100 bytes', clock_timestamp() - interval '20 s',
    clock_timestamp() - interval '30 s')" >/dev/null
check "the sponsor leaves a join alone while its progress is recent (20 s)" \
    q_is 1 "SELECT count(*) FROM kmd_join_reap(10 + 15)" 0
q 1 "UPDATE kmd_lease SET progress_at = clock_timestamp() - interval '26 s'"
# (its reconciler's tick is 2 s; on a loaded machine a tick may come late)
check "... and kills it (its reconciler) once it stood 10 + 15 s" \
    wait_for 15 q_is 1 "SELECT state = 'k' AND join_error ~
    '^the join made no progress for (2[5-9]|[3-4][0-9]) s \(at: initial sync: 100 bytes\)$'
    FROM kmd_nodes WHERE node_id = '$F'" t
check "... its grant goes with it" q_is 1 "SELECT count(*) FROM kmd_lease" 0
q 1 "DELETE FROM kmd_nodes WHERE node_id = '$F'; DELETE FROM kmd_lease" \
    >/dev/null

# A change's step that runs for long holds its grant (kmd_lease_check):
# a renewal goes through meanwhile; whatever ends the grant waits.
TOK=$(q 1 "INSERT INTO kmd_lease VALUES (true, gen_random_uuid(), '$F',
    'join', '$F', kmd_epoch(), clock_timestamp() + interval '1 min', '',
    clock_timestamp(), clock_timestamp()) RETURNING token")
q 1 "BEGIN; SELECT kmd_lease_check('$TOK'); SELECT pg_sleep(8); COMMIT" \
    >/dev/null 2>&1 &
STEP=$!
check "a step holds the grant (its check, then 8 s of work)" wait_for 5 \
    q_is 1 "SELECT count(*) FROM pg_stat_activity WHERE query LIKE
    '%pg_sleep(8)%' AND pid <> pg_backend_pid()" 1
check "... a renewal meanwhile: granted, at once" q_is 1 "SET
    statement_timeout = '3s'; SELECT kmd_lease_renew('$TOK', 60, 'r') = ''" t
check "... and recorded" q_is 1 "SELECT progress FROM kmd_lease" r
check "... a take of the lapsed grant, a release, the reaper: they wait" \
    sh -c "! sh regress/cluster.sh sql 1 \"SET lock_timeout = '1s';
    DELETE FROM kmd_lease WHERE token = '$TOK'\""
wait "$STEP"
q 1 "DELETE FROM kmd_lease" >/dev/null

check "no sanitizer report in the nodes' logs" nodes_clean
down
finish
