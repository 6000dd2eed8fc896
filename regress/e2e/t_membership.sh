# Membership changes one at a time, cluster-wide, tried as a race: two
# joins started at once through two different members; nodes create and
# nodes delete while a join holds the lease; a joining node frozen
# (SIGSTOP) past its lease: every member kills its join and drops what it
# had of it, another change goes on, and the frozen node, woken, can not
# finish its join; it joins again.  (The loop: make check-membership.)
. regress/e2e/lib.sh
. regress/e2e/cluster_lib.sh M

# stolen K M SQL: SQL on member M over TLS with node K's certificate
stolen() {
	tls=$D/node$1/data/pg/data/kmd-tls
	ns runuser -u "kmdpg$1" -- psql -X -A -t -q "host=127.0.0.$2 port=5432
	    dbname=kmd user=kmd_repl sslmode=verify-full sslcert=$tls/server.crt
	    sslkey=$tls/server.key sslrootcert=$tls/ca.crt" -c "$3"
}
# slots_subs K: node K's replication slots and subscriptions, "S/U"
slots_subs() {
	q "$1" "SELECT (SELECT count(*) FROM pg_replication_slots) || '/' ||
	    (SELECT count(*) FROM pglogical.subscription)"
}
# status_of K ID: node ID's status code in node K's nodes list
status_of() {
	q "$1" "SELECT code FROM kmd_node_status WHERE node_id = '$2'"
}
# lease_on K: node K's live grant, if any: "kind subject"
lease_on() {
	q "$1" "SELECT kind || ' ' || coalesce(subject::text, '') FROM kmd_lease
	    WHERE expires > clock_timestamp()"
}

check "up 6" $C up 6
check "node 1: cluster new" $C ctl 1 cluster new --host=127.0.0.1 \
    --url=https://127.0.0.1:8443
creds 2 1
check "node 2 joins" join 2 1 -y --block
creds 3 2
check "node 3 joins through node 2" join 3 2 -y --block
check "the epoch counts the changes on every member (2 creates, 2 joins)" \
    wait_for 20 q_all 3 "SELECT kmd_epoch()" 4
check "no member holds a lease between changes" \
    q_all 3 "SELECT count(*) FROM kmd_lease WHERE expires > clock_timestamp()" 0

# ---- two joins at once, through different members ----
creds 4 1
creds 5 2
# enough rows that a join spends a few seconds in its initial sync
writes 1 20000 bulk
check "the bulk rows reached node 3" \
    wait_for 120 q_is 3 "SELECT count(*) FROM kmd_keys" 20000
# The holder renews over connections it keeps to each voter: on node 3,
# a voter of every join here, the session a renewal came over began
# rounds before.  Watched all along: whichever join goes on (one of the
# two at once, or, when both met the other's grant, the one after).
renewed() {
	q_is 3 "SELECT count(*) > 0 FROM pg_stat_activity WHERE
	    usename = 'kmd_repl' AND query LIKE '%kmd_lease_renew%' AND
	    query_start > backend_start + interval '2 s'" t
}
watch_renewal() {
	until [ -e "$T/renew-stop" ]; do
		renewed && { : >"$T/renewed"; return; }
		sleep 0.3
	done
}
watch_renewal &
pw=$!
join 4 1 -y --block >"$T/j4.out" 2>&1 &
p4=$!
join 5 2 -y --block >"$T/j5.out" 2>&1 &
p5=$!
wait $p4; r4=$?
wait $p5; r5=$?
echo "join 4 through node 1: exit $r4; join 5 through node 2: exit $r5"
check "two joins at once: not both went on" test $((r4 + r5)) -ge 1
f0=$FAILS
check "a refused join names the change that holds the lease" sh -c \
    "{ [ $r4 -eq 0 ] || grep -q 'holds the lease: join of node' $T/j4.out; } &&
     { [ $r5 -eq 0 ] || grep -q 'holds the lease: join of node' $T/j5.out; }"
[ "$FAILS" = "$f0" ] || tail -n 3 "$T/j4.out" "$T/j5.out"
for k in 4 5; do
	if ! ready "$k"; then
		check "node $k, refused, was left as it was: not clustered" \
		    sh -c "$C ctl $k cluster info | grep -q 'not clustered'"
		check "node $k joins once the other is done" join $k 1 -y --block
	fi
done
: >"$T/renew-stop"
wait $pw
check "the lease is renewed over a connection kept since an earlier round" \
    test -e "$T/renewed"
check "five nodes ready" sh -c "for k in 1 2 3 4 5; do $C ctl \$k cluster info | grep -q '\"code\": \"r\"' || exit 1; done"
check "every node has one slot and one subscription per other node" \
    wait_for 30 sh -c "for k in 1 2 3 4 5; do [ \"\$(sh regress/cluster.sh sql \$k \"SELECT (SELECT count(*) FROM pg_replication_slots) || '/' || (SELECT count(*) FROM pglogical.subscription)\")\" = 4/4 ] || exit 1; done"
writes 4 5 from4
writes 5 5 from5
check "a key made on node 4 reaches node 5 and the other way" wait_for 30 \
    sh -c "[ \"\$(sh regress/cluster.sh sql 5 \"SELECT count(*) FROM kmd_keys WHERE name LIKE 'from4-%'\")\" = 5 ] && [ \"\$(sh regress/cluster.sh sql 4 \"SELECT count(*) FROM kmd_keys WHERE name LIKE 'from5-%'\")\" = 5 ]"
check "no node sees the others in different states (x)" \
    q_all 5 "SELECT count(*) FROM kmd_node_status WHERE code = 'x'" 0

# ---- a join holds the lease: other changes are refused at once; the
# holder frozen past its lease ----
N5=$(id_of 5)
check "node 5 removed, to join again" $C ctl 1 cluster nodes delete \
    --id="$N5" -y
check "node 5: cluster delete" wait_for 60 $C ctl 5 cluster delete -y
$C ctl 6 cluster csr --host=127.0.0.6 >"$T/csr6.json"
field "$T/csr6.json" csr >"$T/n6.csr"
creds 5 3
join 5 3 -y >"$T/j5b.out" 2>&1
N4=$(id_of 4)
check "node 5's join is under way, past its registration" wait_for 30 \
    sh -c "$C ctl 5 cluster info | grep -Eq 'initial sync|catching up|completing'"
N5=$(id_of 5)
# frozen at once: its lease holds for 13 s more, the changes below take
# a second or two
K5=$(cat "$D/node5/kmd.pid")
kill -STOP "$K5" $(pgrep -P "$K5")
echo "node 5's kmd stopped (SIGSTOP) during its join"
out=$($C ctl 1 cluster nodes create --csr="$T/n6.csr" \
    --newnodehost=127.0.0.6 2>&1); rc=$?
check "nodes create on another member meanwhile: refused, names the join" \
    refused $rc "$out" "holds the lease: join of node $N5"
out=$($C ctl 2 cluster nodes delete --id="$N4" -y 2>&1); rc=$?
check "nodes delete meanwhile: refused, nothing removed" \
    refused $rc "$out" "holds the lease: join of node $N5.*nothing was changed"
# A stolen certificate (member 4's) asks member 1 for the frozen join's
# grant in its holder's name, which would take it over.
E=$(q 1 "SELECT kmd_epoch()")
out=$(stolen 4 1 "SELECT kmd_lease_take(gen_random_uuid(), '$N5', 'join',
    '$N5', $E, 15, '')" 2>&1)
check "another node's certificate cannot take the join's grant in its name" \
    has "$out" "^refused: the caller's certificate is not that of node $N5" ||
    echo "$out"
# The same certificate, even knowing the grant's token, cannot keep it.
TOK=$(q 1 "SELECT token FROM kmd_lease WHERE subject = '$N5'")
out=$(stolen 4 1 "SELECT kmd_lease_renew('$TOK', 15, 'x')" 2>&1)
check "... nor renew it in the join's name, even with its token" \
    has "$out" "^lapsed:" || echo "$out"
check "... the grant on member 1 is still the join's own" q_is 1 \
    "SELECT count(*) FROM kmd_lease WHERE subject = '$N5' AND taken <
    clock_timestamp() - interval '1 second' AND progress IS DISTINCT FROM
    'x'" 1
check "its join is killed on the member that sponsors it, within 30 s" \
    wait_for 30 q_is 3 "SELECT state FROM kmd_nodes WHERE node_id = '$N5'" k
check "... with the reason" q_is 3 "SELECT join_error LIKE '%stopped renewing its lease%' FROM kmd_nodes WHERE node_id = '$N5'" t
check "every member leaves joining (killed) within 30 s" \
    wait_for 30 q_all 4 "SELECT state FROM kmd_nodes WHERE node_id = '$N5'" k
# The slots it used go at once: they hold WAL.  A member's subscription
# from it goes once pglogical can stop its worker, which waits on the
# stopped node; checked again after it wakes.
check "no slot of node 5 stays on any member" \
    wait_for 60 sh -c "for k in 1 2 3 4; do [ \"\$(sh regress/cluster.sh sql \$k \"SELECT count(*) FROM pg_replication_slots\")\" = 3 ] || exit 1; done"
out=$($C ctl 1 cluster nodes create --csr="$T/n6.csr" \
    --newnodehost=127.0.0.6 2>&1); rc=$?
check "another change goes on meanwhile (nodes create)" test $rc -eq 0
kill -CONT "$K5" $(pgrep -P "$K5")
echo "node 5's kmd continued"
check "node 5, woken, ends its join killed: its lease lapsed" \
    wait_for 60 sh -c "$C ctl 5 cluster info | grep -q '\"code\": \"k\"'"
sleep 3
check "... and no member shows it ready" \
    q_all 4 "SELECT state FROM kmd_nodes WHERE node_id = '$N5'" k
check "no subscription from it stays on any member once it is awake" \
    wait_for 60 sh -c "for k in 1 2 3 4; do [ \"\$(sh regress/cluster.sh sql \$k \"SELECT count(*) FROM pglogical.subscription\")\" = 3 ] || exit 1; done"
check "a node whose join was killed joins again" join 5 3 -y --block
check "five nodes ready again, none in different states" wait_for 30 \
    q_all 5 "SELECT count(*) FROM kmd_node_status WHERE code <> 'r' AND node_id IN (SELECT node_id FROM kmd_nodes WHERE state = 'r')" 0
check "no member holds a lease after the changes" wait_for 20 \
    q_all 5 "SELECT count(*) FROM kmd_lease WHERE expires > clock_timestamp()" 0

# ---- two nodes create at once, through two members, for the 20th place:
# never both.  Pending stand-ins make 19 nodes (5 ready, 14 more). ----
q 1 "DELETE FROM kmd_nodes WHERE host = '127.0.0.6'" >/dev/null
q 1 "INSERT INTO kmd_nodes (node_id, host, public_address, state, version,
    cert, expires) SELECT gen_random_uuid(), '127.0.1.' || i, '127.0.1.' ||
    i, 'p', '0.1.0', 'x', now() + interval '1 hour' FROM generate_series(1,
    14) i"
COUNT="SELECT count(*) FROM kmd_nodes WHERE state <> 'v' AND (state <> 'p'
    OR expires > now())"
check "19 nodes counted on nodes 1 and 2" wait_for 10 sh -c \
    "[ \"\$(sh regress/cluster.sh sql 1 \"$COUNT\")\" = 19 ] &&
    [ \"\$(sh regress/cluster.sh sql 2 \"$COUNT\")\" = 19 ]"
# one_create K: nodes create on node K for node 6's request $T/n6.K.csr
one_create() {
	$C ctl "$1" cluster nodes create --csr="$T/n6.$1.csr" \
	    --newnodehost=127.0.0.6 >"$T/create.$1" 2>&1
	echo $? >"$T/rc.$1"
}
# One race here; make check-membership runs RACE_ROUNDS (default 5).
for round in $(seq 1 "${RACE_ROUNDS:-1}"); do
	for k in 1 2; do
		$C ctl 6 cluster csr --host=127.0.0.6 >"$T/csr6.$k.json"
		field "$T/csr6.$k.json" csr >"$T/n6.$k.csr"
	done
	one_create 1 & one_create 2 & wait
	echo "race $round: nodes create on node 1: exit $(cat "$T/rc.1"), on node 2: exit $(cat "$T/rc.2"); $(grep -h -o 'holds the lease\|the cluster has 20 nodes' "$T/create.1" "$T/create.2" | head -1)"
	wins=0
	for k in 1 2; do
		if [ "$(cat "$T/rc.$k")" = 0 ]; then
			wins=$((wins + 1))
		elif ! grep -Eq "holds the lease|the cluster has 20 nodes" \
		    "$T/create.$k"; then
			cat "$T/create.$k"
			wins=9
		fi
	done
	check "race $round for the 20th place: at most one nodes create gets it; a refusal says why" \
	    test "$wins" -le 1
	check "... 20 nodes at most, on both members" wait_for 5 sh -c \
	    "[ \"\$(sh regress/cluster.sh sql 1 \"$COUNT\")\" -le 20 ] &&
	    [ \"\$(sh regress/cluster.sh sql 2 \"$COUNT\")\" -le 20 ]"
	q 1 "DELETE FROM kmd_nodes WHERE host = '127.0.0.6'" >/dev/null
	wait_for 10 sh -c "[ \"\$(sh regress/cluster.sh sql 2 \"$COUNT\")\" = 19 ]"
done
q 1 "DELETE FROM kmd_nodes WHERE host LIKE '127.0.1.%'" >/dev/null

# ---- removal with two of five down: a majority is left ----
N5=$(id_of 5)
for k in 4 5; do
	$C freeze "$k"
	p=$(cat "$D/node$k/kmd.pid")
	kill -STOP "$p" $(pgrep -P "$p")
done
echo "nodes 4 and 5 stopped (SIGSTOP: kmd and PostgreSQL)"
check "nodes 1 to 3 show nodes 4 and 5 down" wait_for 15 sh -c "for k in 1 2 3; do [ \"\$(sh regress/cluster.sh sql \$k \"SELECT count(*) FROM kmd_node_status WHERE code = 'd'\")\" = 2 ] || exit 1; done"
check "two of five down: node 2 removes node 5 (--force), a majority granting" \
    $C ctl 2 cluster nodes delete --id="$N5" -y --force
check "... node 5 removed on nodes 1 to 3" q_all 3 \
    "SELECT state FROM kmd_nodes WHERE node_id = '$N5'" v
for k in 4 5; do
	p=$(cat "$D/node$k/kmd.pid")
	kill -CONT "$p" $(pgrep -P "$p")
	$C thaw "$k"
done
check "node 4, back, is ready on nodes 1 to 4" wait_for 30 ready_n 4 1 2 3 4
check "no member keeps a slot or a subscription of node 5" wait_for 60 \
    q_all 4 "SELECT (SELECT count(*) FROM pg_replication_slots WHERE
    slot_name = kmd_slot_name((SELECT node_id FROM kmd_local), '$N5')) +
    (SELECT count(*) FROM pglogical.subscription WHERE sub_name =
    kmd_sub_name('$N5', (SELECT node_id FROM kmd_local)))" 0
check "no sanitizer report" nodes_clean
finish
