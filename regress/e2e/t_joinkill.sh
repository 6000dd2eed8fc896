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
q 1 "INSERT INTO kmd_keys (key_id, name, version, algorithm, material_sealed) SELECT gen_random_uuid(), 'bulk-' || i, 1, 'aes256', decode(repeat('ab', 512), 'hex') FROM generate_series(1, 350000) i" >/dev/null
check "node 2 has the bulk rows" \
    wait_for 120 q_is 2 "SELECT count(*) FROM kmd_keys" 350000

creds 3 1
# The joining node's joiner dies mid-join: the join is killed, not stuck.
# A trigger on node 3 holds the copy at one row for 60 s, so the kill
# comes while the copy is under way however fast this machine copies:
# the copy must end with the join (its rows rolled back), not run on and
# keep the indexes' build waiting behind it.
q 3 "CREATE FUNCTION e2e_hold() RETURNS trigger LANGUAGE plpgsql AS \$\$
    BEGIN IF NEW.name = 'bulk-300000' THEN PERFORM pg_sleep(60); END IF;
    RETURN NEW; END \$\$; CREATE TRIGGER e2e_hold BEFORE INSERT ON kmd_keys
    FOR EACH ROW EXECUTE FUNCTION e2e_hold(); ALTER TABLE kmd_keys ENABLE
    ALWAYS TRIGGER e2e_hold" >/dev/null
join 3 1 -y >/dev/null 2>&1
check "node 3 reaches the initial sync (first try)" wait_for 30 sh -c "[ \"\$($C ctl 3 cluster info | grep -c 'initial sync')\" = 1 ]"
check "... its copy held at a row on node 3" wait_for 60 q_is 3 "SELECT
    count(*) FROM pg_stat_activity WHERE application_name LIKE '%\\_copy'
    AND wait_event = 'PgSleep'" 1
kill -9 "$(pgrep -P "$(cat "$D/node3/kmd.pid")" -x 'kmd: joiner')"
check "the restarted joiner marks the join killed, interrupted" \
    wait_for 20 sh -c "$C ctl 3 cluster info | grep -q '\"error\": \"the join was interrupted'"
check "... and the copy's backend on node 3 ends with it (not left to finish)" \
    wait_for 10 q_is 3 "SELECT count(*) FROM pg_stat_activity WHERE application_name LIKE '%\\_copy'" 0
check "the interrupted join's node has kmd_keys' primary key again" \
    wait_for 30 q_is 3 "SELECT count(*) FROM pg_constraint WHERE conname = 'kmd_keys_pkey'" 1
check "... and none of the copy's rows (its transaction rolled back)" \
    q_is 3 "SELECT count(*) FROM kmd_keys" 0

# The member's PostgreSQL frozen while the copy is held: the lease
# lapses, the join is killed, and its copy ends with it (a copy from a
# frozen member would otherwise hang on until TCP gives up).
join 3 1 -y >/dev/null 2>&1
check "frozen member: node 3's copy held at a row again" wait_for 60 q_is 3 \
    "SELECT count(*) FROM pg_stat_activity WHERE application_name LIKE
    '%\\_copy' AND wait_event = 'PgSleep'" 1
$C freeze 1
check "... node 1's PostgreSQL frozen: node 3's join is killed" \
    wait_for 40 sh -c "$C ctl 3 cluster info | grep -q '\"code\": \"k\"'"
check "... and its copy ends with it" wait_for 10 q_is 3 "SELECT count(*) FROM
    pg_stat_activity WHERE application_name LIKE '%\\_copy'" 0
check "... node 3 has its primary key again, no copied row" wait_for 30 \
    q_is 3 "SELECT (SELECT count(*) FROM pg_constraint WHERE conname =
    'kmd_keys_pkey') || ' ' || (SELECT count(*) FROM kmd_keys)" "1 0"
$C thaw 1
q 3 "DROP TRIGGER e2e_hold ON kmd_keys; DROP FUNCTION e2e_hold()" >/dev/null
check "... node 1 thawed: node 3 shows killed there, not joining" wait_for 30 \
    sh -c "$C ctl 1 cluster nodes list | grep -q 'killed'"

out=$(join 3 1 -y 2>&1); rc=$?
check "the join again: started" test $rc -eq 0
f0=$FAILS
check "node 3 reaches the initial sync" wait_for 60 sh -c "[ \"\$($C ctl 3 cluster info | grep -c 'initial sync')\" = 1 ]"
[ "$FAILS" = "$f0" ] || { echo "the join said: $out"; $C ctl 3 cluster info; }
# (each check from here to node 1's kill runs while the sync does: a
# failure prints what node 2 and node 3 show)
f0=$FAILS
check "a member shows the stage too: node 2 lists node 3 in initial sync" \
    sh -c "$C ctl 2 cluster nodes list | grep -q 'joining: initial sync (3/5)'"
[ "$FAILS" = "$f0" ] || { $C ctl 2 cluster nodes list; $C ctl 3 cluster info; }
check "health of the joining node: 472" test "$(health 3)" = 472
check "... 200 when the balancer asks with joiningcode=200" \
    test "$(health 3 '?joiningcode=200')" = 200
check "... kmctl health there: exit 2" sh -c "$C ctl 3 health >/dev/null; [ \$? -eq 2 ]"
out=$($C ctl 1 cluster nodes create --csr="$T/n3.csr" --newnodehost=127.0.0.9 2>&1); rc=$?
check "nodes create while a node joins: refused, one join at a time" \
    refused $rc "$out" "holds the lease: join of node .* is under way"
kill -9 "$(cat "$D/node1/kmd.pid")"
echo "node 1 killed during node 3's initial sync"
check "node 3 ends killed" wait_for 60 sh -c "[ \"\$($C ctl 3 cluster info | grep -c '\"code\": \"k\"')\" = 1 ]"
check "health of the killed join's node: still 472, not serving" \
    test "$(health 3)" = 472
check "a killed node keeps kmd_keys' (name, version) index" \
    wait_for 10 q_is 3 "SELECT count(*) FROM pg_indexes WHERE indexname = 'kmd_keys_name_version'" 1
check "... and its primary key (the copy went without)" \
    wait_for 10 q_is 3 "SELECT count(*) FROM pg_constraint WHERE conname = 'kmd_keys_pkey'" 1
f0=$FAILS
check "cluster info on node 3 says why: the member out of reach" \
    sh -c "$C ctl 3 cluster info | grep -Eq '\"error\": \".*(down for|lease lapsed.*127.0.0.1|unreachable)'"
[ "$FAILS" = "$f0" ] || $C ctl 3 cluster info
check "node 2 still works: a write there is kept" \
    q_is 2 "INSERT INTO kmd_keys (key_id, name, version, algorithm, material_sealed) VALUES (gen_random_uuid(), 'while-1-down', 1, 'aes256', '\\x01') RETURNING name" while-1-down

check "node 1 comes back" $C up 3
check "node 1 gets node 2's write from while it was down" \
    wait_for 60 q_is 1 "SELECT count(*) FROM kmd_keys WHERE name = 'while-1-down'" 1
# The retry copies into a kmd_keys without indexes (the member holds more
# than 128 MB) while nodes 1 and 2 insert keys and delete bulk ones: an
# update or delete that reached node 3 before its key index was back
# would stop its apply worker.
churn() {
	k=$1 i=0
	while [ ! -f "$T/stop" ]; do
		i=$((i + 1))
		q "$k" "INSERT INTO kmd_keys (key_id, name, version, algorithm, material_sealed) VALUES (gen_random_uuid(), 'c$k-$i', 1, 'aes256', '\\x01')" >/dev/null 2>&1 &&
		    echo "c$k-$i" >>"$T/ins$k"
		n=$(q "$k" "DELETE FROM kmd_keys WHERE name = 'bulk-$((k * 100000 + i))' RETURNING name" 2>/dev/null) &&
		    [ -n "$n" ] && echo "$n" >>"$T/del$k"
	done
}
rm -f "$T/stop"
for k in 1 2; do : >"$T/ins$k"; : >"$T/del$k"; churn $k & done
join 3 1 -y --block >"$T/join3.out" 2>&1 &
jpid=$!
check "node 3 reaches the initial sync (retry)" wait_for 30 sh -c "$C ctl 3 cluster info | grep -q 'initial sync'"
out=$($C ctl 3 keys list 2>&1); rc=$?
check "keys asked of the joining node: refused, ask a member" \
    refused $rc "$out" "joining a cluster .*ask a member"
wait "$jpid"; rc=$?
out=$(cat "$T/join3.out")
touch "$T/stop"
wait
check "the retry of node 3's join succeeds, with writes and deletes on 1 and 2" \
    test $rc -eq 0
check "node 3 is ready" ready 3
check "... its health: 200" wait_for 10 health_is 3 200
check "node 3 took the copy without indexes, their build queued behind it" \
    grep -q "indexes will be built as soon as the copy commits" "$D/node3/kmd.log"
check "... and subscribed to every member while they were built" \
    grep -q "copied; subscribing to every member while kmd_keys' indexes are built" "$D/node3/kmd.log"
cat "$T/ins1" "$T/ins2" | sort >"$T/ins"
cat "$T/del1" "$T/del2" | sort >"$T/del"
echo "during the retry: $(wc -l <"$T/ins") inserts, $(wc -l <"$T/del") deletes acknowledged"
check "the churn deleted during the join" test "$(wc -l <"$T/del")" -gt 10
check "the three nodes settle on the same keys" wait_for 60 same_keys 2 3
check "node 3 holds the rows of the copy and the churn" \
    q_is 3 "SELECT count(*) FROM kmd_keys" "$((350001 + $(wc -l <"$T/ins") - $(wc -l <"$T/del")))"
for k in 1 2 3; do
	q "$k" "SELECT name FROM kmd_keys WHERE name LIKE 'c%' OR name LIKE 'bulk-%' ORDER BY 1" | sort >"$T/have$k"
	check "node $k: every acknowledged insert there, every acknowledged delete gone" \
	    sh -c "[ -z \"\$(comm -23 $T/ins $T/have$k)\" ] && [ -z \"\$(comm -12 $T/del $T/have$k)\" ]"
done
check "node 3 has kmd_keys' primary key and (name, version) index back" \
    q_is 3 "SELECT count(*) FROM pg_indexes WHERE tablename = 'kmd_keys'" 2
check "no apply worker on node 3 met a table without its key" \
    sh -c "! grep -q 'REPLICA IDENTITY' $D/node3/data/pg/postgres.log"
check "node 1 lists 3 ready nodes (within seconds)" \
    wait_for 15 ready_n 3 1
check "no sanitizer report in the nodes' logs" nodes_clean
down
finish
