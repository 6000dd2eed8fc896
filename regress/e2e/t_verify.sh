# cluster verify: the keys, users and nodes of every ready node compared.
# A cluster of 3: the same on an idle cluster and while two nodes take
# writes (rows in flight are not differences); then rows changed by hand
# on one node only (written under a replication origin, which pglogical
# does not forward): a key's column, a key only one node has, a user one
# node lacks.  Each is named, by table, key and node, locally and over
# REST, with exit status 3.  A node down is named as not compared.  Two
# verifies at once through one node: one refused; through two: both
# answer.  No marker is left behind, and a peer cannot place a verify's
# marker where a join's would be.
. regress/e2e/lib.sh
. regress/e2e/cluster_lib.sh V

# verify K [kmctl options...]: node K's cluster verify; $out, $rc
verify() {
	k=$1; shift
	out=$($C ctl "$k" "$@" cluster verify 2>"$T/verify.err"); rc=$?
}
# vfield EXPR: a Python expression on the answer (v), printed
vfield() {
	printf '%s\n' "$out" | python3 -c 'import json,sys
v = json.load(sys.stdin)
print(eval(sys.argv[1]))' "$1"
}
# tampered K SQL: SQL on node K under a replication origin: not forwarded
tampered() {
	q "$1" "SELECT pg_replication_origin_create('kmd_test')
	    WHERE NOT EXISTS (SELECT FROM pg_replication_origin WHERE
	    roname = 'kmd_test')" >/dev/null
	q "$1" "SELECT pg_replication_origin_session_setup('kmd_test'); $2"
}

check "up 3" $C up 3
verify 1
check "verify on a node in no cluster: refused, exit 1" \
    refused "$rc" "$(cat "$T/verify.err")" "in no cluster, or not ready"

cluster_of_3
check "200 keys written on node 1" writes 1 200 a
check "... on every node" wait_for 30 same_keys 2 3

verify 1
check "an idle cluster: exit 0" test "$rc" -eq 0
check "... same" test "$(vfield 'v["same"]')" = True
check "... 3 nodes compared" test "$(vfield \
    'sum(1 for n in v["nodes"] if n["compared"])')" = 3
check "... each table the same, on every node" test "$(vfield \
    '[(t["table"], t["same"], len(t["nodes"])) for t in v["tables"]]')" = \
    "[('keys', True, 3), ('users', True, 3), ('nodes', True, 3)]"
check "... 200 keys on each node" test "$(vfield \
    'sorted({n["rows"] for t in v["tables"] if t["table"] == "keys" for n in t["nodes"]})')" = "[200]"
check "... no difference" test "$(vfield 'v["differences"]')" = "[]"
check "... no verify marker left on any node" wait_for 20 q_all 3 \
    "SELECT count(*) FROM kmd_join_markers WHERE join_id <> kmd_beat_id(origin)" 0

# ---- under writes on nodes 2 and 3 ----
(i=0; while [ ! -e "$T/stop_writes" ]; do
	i=$((i + 1)); writes 2 20 "w2-$i" >/dev/null 2>&1
	writes 3 20 "w3-$i" >/dev/null 2>&1
done) &
WPID=$!
sleep 2
verify 1
check "while nodes 2 and 3 take writes: exit 0, same" \
    test "$rc $(vfield 'v["same"]')" = "0 True"
check "... no row differs" test "$(vfield 'v["rowsDiffering"]')" = 0
touch "$T/stop_writes"; wait "$WPID"
check "the writes arrived everywhere" wait_for 30 same_keys 2 3

# ---- rows changed by hand on one node ----
K7=$(q 1 "SELECT key_id FROM kmd_keys WHERE name = 'a-7'")
echo secret-ops | $C ctl 1 users create --name ops --role viewer >/dev/null
check "user ops on node 2" wait_for 20 q_is 2 \
    "SELECT count(*) FROM kmd_users WHERE name = 'ops'" 1
tampered 3 "UPDATE kmd_keys SET kcv = 'tampered' WHERE key_id = '$K7'" \
    >/dev/null
X=$(tampered 3 "INSERT INTO kmd_keys (key_id, name, version, algorithm,
    material_sealed) VALUES (gen_random_uuid(), 'only-3', 1, 'aes256',
    '\\x01') RETURNING key_id" | tail -n 1)
tampered 2 "DELETE FROM kmd_users WHERE name = 'ops'" >/dev/null
sleep 2
check "the changes stayed where they were made" sh -c "[ \
    \"\$($C sql 1 \"SELECT kcv FROM kmd_keys WHERE key_id = '$K7'\")\" != \
    tampered ] && [ \"\$($C sql 1 \"SELECT count(*) FROM kmd_keys WHERE
    key_id = '$X'\")\" = 0 ]"

verify 2
check "rows changed on one node: exit 3" test "$rc" -eq 3
check "... not same, 3 rows differ" test "$(vfield \
    '(v["same"], v["rowsDiffering"])')" = "(False, 3)"
check "... the verdict says so" has "$(vfield 'v["verdict"]')" \
    "3 row(s) differ across the nodes"
check "... keys and users differ, nodes do not" test "$(vfield \
    '[(t["table"], t["same"]) for t in v["tables"]]')" = \
    "[('keys', False), ('users', False), ('nodes', True)]"
N1=$(id_of 1) N2=$(id_of 2) N3=$(id_of 3)
# digest TABLE KEY: "N1 N2 N3" row digests of that difference, - for none
digest() {
	vfield "' '.join((n['row'] or '-')[:6] for d in v['differences'] if
	    d['table'] == '$1' and d['key'] == '$2' for n in sorted(d['nodes'],
	    key=lambda n: ['$N1', '$N2', '$N3'].index(n['nodeID'])))"
}
changed_on_3() {
	set -- $(digest keys "$K7")
	[ "$1" != - ] && [ "$1" = "$2" ] && [ "$3" != - ] && [ "$3" != "$1" ]
}
only_on_3() { set -- $(digest keys "$X"); [ "$1 $2" = "- -" ] && [ "$3" != - ]; }
lacks_2() {
	set -- $(digest users ops)
	[ "$2" = - ] && [ "$1" != - ] && [ "$1" = "$3" ]
}
check "... the key changed on node 3: nodes 1 and 2 agree, node 3 not" \
    changed_on_3
check "... the key only node 3 has: absent on nodes 1 and 2" only_on_3
check "... the user node 2 lacks: absent there only" lacks_2
check "... read in 3 rounds (differences that stay, not in flight)" \
    test "$(vfield 'v["rounds"]')" = 3

# over REST, on node 1
out=$(ns "$KMCTL" --url https://127.0.0.1:8443 --user admin --password \
    secret-password --nosslverify cluster verify 2>"$T/verify.err"); rc=$?
check "over REST: exit 3, the same 3 rows" test "$rc $(vfield \
    'sorted((d["table"], d["key"]) for d in v["differences"]) == sorted([("keys", "'"$K7"'"), ("keys", "'"$X"'"), ("users", "ops")])')" = \
    "3 True"

# ---- two at once ----
$C ctl 1 cluster verify >"$T/v1" 2>"$T/v1.err" & P1=$!
$C ctl 1 cluster verify >"$T/v2" 2>"$T/v2.err" & P2=$!
wait $P1; R1=$?; wait $P2; R2=$?
check "two verifies through node 1 at once: one answers (3), one refused (1)" \
    test "$(printf '%s\n' $R1 $R2 | sort | tr '\n' ' ')" = "1 3 "
check "... naming the verify under way" grep -q \
    "another cluster operation (cluster verify) is under way" \
    "$T/v1.err" "$T/v2.err"
$C ctl 1 cluster verify >"$T/v1" 2>"$T/v1.err" & P1=$!
$C ctl 2 cluster verify >"$T/v2" 2>"$T/v2.err" & P2=$!
wait $P1; R1=$?; wait $P2; R2=$?
check "through nodes 1 and 2 at once: both answer, 3 rows each" sh -c \
    "[ $R1 -eq 3 ] && [ $R2 -eq 3 ] && grep -q '\"rowsDiffering\": 3' \
    $T/v1 && grep -q '\"rowsDiffering\": 3' $T/v2"
check "no verify marker left on any node" wait_for 20 q_all 3 \
    "SELECT count(*) FROM kmd_join_markers WHERE join_id <> kmd_beat_id(origin)" 0

# ---- a peer's marker cannot stand for a join's ----
check "a peer (node 2 on node 1) adds a verify marker under node 3's id" \
    peer_says 2 1 "SELECT kmd_peer_verify_mark('$N3', true)" "^$"
check "... it lands under another id, never node 3's" sh -c "[ \
    \"\$($C sql 1 \"SELECT count(*) FROM kmd_join_markers WHERE join_id =
    '$N3'\")\" = 0 ] && [ \"\$($C sql 1 \"SELECT count(*) FROM
    kmd_join_markers WHERE join_id = kmd_verify_id('$N3')\")\" = 1 ]"
check "... and taken back" peer_says 2 1 \
    "SELECT kmd_peer_verify_mark('$N3', false)" "^$"
check "a peer writes no marker of its own choosing" peer_says 2 1 \
    "INSERT INTO kmd_join_markers VALUES ('$N3', '$N2')" "permission denied"

# ---- repaired by hand, then a node down ----
tampered 3 "UPDATE kmd_keys SET kcv = (SELECT kcv FROM kmd_keys WHERE
    name = 'a-8') WHERE key_id = '$K7'; DELETE FROM kmd_keys WHERE
    key_id = '$X'" >/dev/null
OPS=$(q 1 "SELECT format('(%L, %L, %L::timestamptz, %L)', name, hash,
    created, role) FROM kmd_users WHERE name = 'ops'")
tampered 2 "INSERT INTO kmd_users (name, hash, created, role) VALUES $OPS" \
    >/dev/null
verify 1
check "repaired by hand: exit 0, same" test "$rc $(vfield 'v["same"]')" = \
    "0 True"

stop_node 3
verify 1
check "node 3 down: exit 3" test "$rc" -eq 3
check "... named as not compared, with why" test "$(vfield \
    '[(n["host"], n["compared"], "cannot" in n.get("error", "") or "connect" in n.get("error", "")) for n in v["nodes"]]')" = \
    "[('127.0.0.1', True, False), ('127.0.0.2', True, False), ('127.0.0.3', False, True)]"
check "... and in the verdict" has "$(vfield 'v["verdict"]')" \
    "not compared: 127.0.0.3"
check "no sanitizer report in any node's log" nodes_clean
finish
