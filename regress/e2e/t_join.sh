# cluster join end to end: a 3-node cluster made by joins, then a 4th node
# joining while every member writes; every acknowledged write must be on
# all four nodes after, with identical tables.  (A member dying during a
# join: t_joinkill.sh.)
. regress/e2e/lib.sh
. regress/e2e/cluster_lib.sh J
check "up 4" $C up 4
check "node 1: cluster new" $C ctl 1 cluster new --host=127.0.0.1 \
    --url=https://127.0.0.1:8443
echo secret-password | $C ctl 1 users set-password --name admin >/dev/null

# The preflight alone, and what it refuses.
creds 2 1
out=$(join 2 1 </dev/null 2>&1); rc=$?
check "without -y and no terminal: refused before anything changes" \
    refused $rc "$out" "give -y to confirm"
check "the preflight was shown first" has "$out" "preflight: clock .*ok"
check "node 2 is still not clustered" sh -c "$C ctl 2 cluster info | grep -q 'not clustered'"
out=$($C ctl 2 cluster join --member=127.0.0.9 --host=127.0.0.2 \
    --cert="$T/n2.crt" --cachain="$T/ca.crt" \
    --mkek-blob="$(field "$T/cred2.json" mkek_blob)" -y 2>&1); rc=$?
check "an unreachable member: refused, says which check" \
    refused $rc "$out" "not reachable with mutual TLS"
check "... and nothing changed" sh -c "$C ctl 2 cluster info | grep -q 'not clustered'"
check "... not even TLS: the preflight's certificate went again" \
    test ! -e "$D/node2/data/pg/data/kmd-tls/server.crt"
out=$(join 2 1 -y --mkek-blob=kmd1:AAAA 2>&1); rc=$?
check "a wrong mkek_blob: refused" refused $rc "$out" "mkek-blob"

# Two joins make a 3-node cluster; the stages show with --block.
out=$(join 2 1 -y --block 2>&1); rc=$?
check "node 2 joins (--block): exit 0" test $rc -eq 0
for s in "creating (1/5)" "ready"; do
	check "--block showed: $s" has "$out" "join: .*$s"
done
check "node 2 ready, 2 nodes" sh -c "$C ctl 2 cluster info | grep -q '\"nodeCount\": 2'"
check "node 2 adopted the cluster's users" \
    test "$(q 2 "SELECT count(*) FROM kmd_users WHERE name = 'admin'")" = 1
creds 3 2
check "node 3 joins through node 2, with --credentials (nodes create --out's file)" \
    $C ctl 3 cluster join --member=127.0.0.2 --host=127.0.0.3 \
    --credentials="$T/cred3.json" -y --block
check "node 1 lists 3 ready nodes (within seconds)" \
    wait_for 15 ready_n 3 1

# A 4th node joins while nodes 1-3 write; every acknowledged write counts.
writer() {
	k=$1 i=0
	while [ ! -f "$T/stop" ]; do
		i=$((i + 1))
		if q "$k" "INSERT INTO kmd_keys (key_id, name, version, algorithm, material_sealed) VALUES (gen_random_uuid(), 'w$k-$i', 1, 'aes256', '\\x01')" >/dev/null 2>&1; then
			echo "w$k-$i" >>"$T/acked$k"
		fi
	done
}
rm -f "$T/stop"
for k in 1 2 3; do : >"$T/acked$k"; writer $k & done
sleep 2
creds 4 3
# The sponsor (node 1) lags: it stops applying nodes 2 and 3 for a few
# seconds, so their writes from before node 4's direct slots reach node 4
# only through node 1's catch-up stream, late.  A join that let go of it
# too early would lose them.
q 1 "SELECT pglogical.alter_subscription_disable(sub_name) FROM pglogical.subscription" >/dev/null
(sleep 6; q 1 "SELECT pglogical.alter_subscription_enable(sub_name) FROM pglogical.subscription" >/dev/null) &
out=$(join 4 1 -y --block 2>&1); rc=$?
echo "node 4: $out" | grep -v preflight | tail -5
check "node 4 joins while every member writes, through a lagging sponsor" \
    test $rc -eq 0
sleep 2
touch "$T/stop"
wait
cat "$T/acked1" "$T/acked2" "$T/acked3" | sort >"$T/acked"
n=$(wc -l <"$T/acked")
echo "acknowledged writes during the join: $n"
check "the writers wrote during the join" test "$n" -gt 100
settled() {
	c1=$(q 1 "SELECT count(*) FROM kmd_keys")
	for k in 2 3 4; do
		[ "$(q $k "SELECT count(*) FROM kmd_keys")" = "$c1" ] || return 1
	done
}
check "replication settles: the same number of keys everywhere" wait_for 60 settled
for k in 1 2 3 4; do
	q $k "SELECT name FROM kmd_keys WHERE name LIKE 'w%' ORDER BY 1" | sort >"$T/have$k"
	check "node $k holds every acknowledged write" \
	    sh -c "[ -z \"\$(comm -23 $T/acked $T/have$k)\" ]"
done
sum() { q "$1" "SELECT md5(string_agg(t::text, ',' ORDER BY t::text)) FROM $2 t"; }
for tb in kmd_keys kmd_users kmd_nodes kmd_cluster; do
	s1=$(sum 1 $tb)
	check "$tb: identical on the 4 nodes" sh -c "[ '$(sum 2 $tb)' = '$s1' ] && [ '$(sum 3 $tb)' = '$s1' ] && [ '$(sum 4 $tb)' = '$s1' ]"
done
check "a full mesh: 3 subscriptions on each node, all replicating" \
    q_all 4 "SELECT count(*) FROM pglogical.show_subscription_status() WHERE status = 'replicating'" 3
check "node 4 has kmd_keys' (name, version) index again, as the others" \
    test "$(q 4 "SELECT count(*) FROM pg_indexes WHERE indexname = 'kmd_keys_name_version'")" = 1
check "no catch-up subscription or join marker is left" \
    test "$(q 4 "SELECT count(*) FROM pglogical.subscription WHERE sub_name LIKE 'kmd_cu_%'")$(q 1 "SELECT count(*) FROM kmd_join_markers WHERE join_id <> kmd_beat_id(origin)")" = 00

# PostgreSQL takes peers only with a certificate of the cluster CA.
id=$(python3 -c 'import uuid; print(uuid.uuid4())')
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes \
    -keyout "$T/rogue.key" -out "$T/rogue.crt" -subj "/CN=$id" -days 1 \
    2>/dev/null
chmod 600 "$T/rogue.key"
peer() {
	ns env PGSSLCERT="$1" PGSSLKEY="$2" PGSSLROOTCERT="$T/ca.crt" \
	    PGCONNECT_TIMEOUT=5 psql -X -A -t "host=127.0.0.1 port=5432 dbname=kmd user=kmd_repl sslmode=verify-full" -c "SELECT 1" 2>&1
}
out=$(peer "$T/rogue.crt" "$T/rogue.key")
check "a certificate of another CA is refused by a node's PostgreSQL" \
    sh -c "! echo '$out' | grep -qx 1"
out=$(peer /nonexistent /nonexistent)
check "no client certificate: refused" sh -c "! echo '$out' | grep -qx 1"
check "a node's own certificate is taken (the same check can pass)" \
    sh -c "[ \"\$(ip netns exec $KMD_CLUSTER_NS env PGSSLCERT=$D/node2/data/pg/data/kmd-tls/server.crt PGSSLKEY=$D/node2/data/pg/data/kmd-tls/server.key PGSSLROOTCERT=$T/ca.crt psql -X -A -t 'host=127.0.0.1 port=5432 dbname=kmd user=kmd_repl sslmode=verify-full' -c 'SELECT 1' 2>&1)\" = 1 ]"

# Node 2's certificate, on node 1: logical replication (pglogical's)
# yes, physical replication no: it would copy the data directory, the
# node's TLS key included.
repl() {
	ns env PGSSLCERT="$D/node2/data/pg/data/kmd-tls/server.crt" \
	    PGSSLKEY="$D/node2/data/pg/data/kmd-tls/server.key" \
	    PGSSLROOTCERT="$T/ca.crt" PGCONNECT_TIMEOUT=5 psql -X -A -t \
	    "host=127.0.0.1 port=5432 dbname=kmd user=kmd_repl sslmode=verify-full replication=$1" \
	    -c "IDENTIFY_SYSTEM" 2>&1
}
out=$(repl database)
check "control: node 2's certificate opens a logical replication connection" \
    sh -c "echo '$out' | grep -q '|kmd$'"
out=$(repl true)
check "... but no physical one (no pg_hba entry for replication)" \
    sh -c "echo '$out' | grep -q 'no pg_hba.conf entry for replication connection'"

check "no sanitizer report in the nodes' logs" nodes_clean
down
finish
