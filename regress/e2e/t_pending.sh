# Pending nodes end to end, on a cluster of 2: nodes create records the
# new node before it answers.  Every member lists it pending (status p,
# its host and expiry, in nodes list/get and the summary) and accepts its
# certificate; a CSR is signed once.  nodes delete revokes it: every
# member refuses its certificate and its join is refused, saying why.
# Credentials from node 2, which issues them for 25 s, expire: shown as
# expired, refused.  Pending nodes count toward the 20 nodes until they
# expire; above 6, nodes create gives the size advice.  (Every other
# test's join registers over the pending row nodes create wrote.)
. regress/e2e/lib.sh
. regress/e2e/cluster_lib.sh P
check "up 1" $C up 1
check "up 2 and 3, issuing credentials for 25 s" \
    env KMD_CLUSTER_EXTRA="pending-node lifetime 25" $C up 3
check "node 1: cluster new" $C ctl 1 cluster new --host=127.0.0.1 \
    --url=https://127.0.0.1:8443
creds 2 1
check "node 2 joins" join 2 1 -y --block
check "2 ready nodes on nodes 1 and 2" wait_for 15 ready_n 2 1 2

# pend K ID DESC: node K shows node ID pending with DESC, host and expiry
pend() {
	out=$($C ctl "$1" cluster nodes get --id="$2") &&
	    has "$out" '"code": "p"' && has "$out" "\"description\": \"$3\"" &&
	    has "$out" '"host": "127.0.0.3"' &&
	    has "$out" '"expires": "20[0-9-]*T[0-9:.]*Z"'
}
# summary_pend K ID DESC: in node K's summary, every reporter shows ID so
summary_pend() {
	$C ctl "$1" cluster summary >"$T/summary.json" &&
	python3 regress/e2e/summary_check.py 2 <"$T/summary.json" &&
	python3 -c 'import json, sys
d = json.load(open(sys.argv[1]))
for r in d["resources"].values():
    n = r["clusterSummary"][sys.argv[2]]["nodeInfo"]
    assert n["status"] == {"code": "p", "description": sys.argv[3]}, n
    assert n["host"] == "127.0.0.3" and n["expires"], n' \
	    "$T/summary.json" "$2" "$3"
}
# accepted_by M: node 3's certificate gets into member M (the preflight)
accepted_by() { join 3 "$1" </dev/null 2>&1 | grep -q "preflight: member *ok"; }
# refused_by M: member M refuses node 3's certificate
refused_by() {
	join 3 "$1" </dev/null 2>&1 |
	    grep -q "member *FAILED.*refuses this node's certificate"
}
# create K: nodes create on node K for node 3's request in $T/n3.csr;
# the credentials, if any, in $T/cred3.json and $T/n3.crt
create() {
	$C ctl "$1" cluster nodes create --csr="$T/n3.csr" \
	    --newnodehost=127.0.0.3 2>&1 >"$T/cred.new" || return 1
	mv "$T/cred.new" "$T/cred3.json"
	field "$T/cred3.json" cert >"$T/n3.crt"
}
csr3() {
	$C ctl 3 cluster csr --host=127.0.0.3 >"$T/csr3.json" &&
	    field "$T/csr3.json" csr >"$T/n3.csr"
}
P="pending: credentials issued, not joined yet"
X="pending: credentials expired"

# ---- nodes create: node 3 is pending ----
check "nodes create for node 3 on node 1" creds 3 1
N3=$(q 3 "SELECT node_id FROM kmd_join_pending")
check "node 1 accepts its id in pg_ident.conf by the time it answers" \
    grep -q "^peers $N3 kmd_repl$" "$D/node1/data/pg/data/pg_ident.conf"
check "node 1 shows node 3 pending, its host and expiry" pend 1 "$N3" "$P"
check "so does node 2" wait_for 10 pend 2 "$N3" "$P"
check "nodes list counts it; cluster info's nodeCount does not" sh -c \
    "$C ctl 1 cluster nodes list | grep -q '\"total\": 3' &&
    $C ctl 1 cluster info | grep -q '\"nodeCount\": 2'"
check "node 1's summary: pending in both nodes' views" \
    wait_for 15 summary_pend 1 "$N3" "$P"
check "no alarm about it" sh -c "! $C ctl 1 alarms list | grep -q $N3"
check "both members accept its id in pg_ident.conf" \
    wait_for 10 sh -c "grep -q '^peers $N3 kmd_repl$' $D/node1/data/pg/data/pg_ident.conf &&
    grep -q '^peers $N3 kmd_repl$' $D/node2/data/pg/data/pg_ident.conf"
check "node 1 accepts its certificate" accepted_by 1
check "node 2 accepts it" accepted_by 2

# ---- credentials one admin token can mint, with a key of one's own ----
TH=$T/thief TID=$(cat /proc/sys/kernel/random/uuid)
mkdir -p "$TH" && cp "$D/node1/data/pg/data/kmd-tls/ca.crt" "$TH/"
openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes \
    -keyout "$TH/server.key" -subj "/CN=$TID" -out "$TH/r.csr" -addext \
    "1.3.6.1.4.1.57264.42.1=DER:$(openssl rand -hex 32)" 2>/dev/null
ID1=$D/node1/data/pg/data/pg_ident.conf
$C ctl 1 cluster nodes create --csr="$TH/r.csr" --newnodehost=127.0.0.9 \
    >"$TH/cred.json"; rc=$?
n=$(grep -c "^peers $TID " "$ID1")
check "nodes create signs a request made outside kmd" test $rc -eq 0
check "... node 1 accepts its id by the time nodes create answers" \
    test "$n" = 1
field "$TH/cred.json" cert >"$TH/server.crt"
check "node 1 accepts that certificate, once nodes create has answered" \
    peer_says "$TH" 1 "SELECT 'in'" "^in$"
peer_powerless "$TH" 1 "a pending node's certificate"
check "... takes the lease for its own join only" peer_says "$TH" 1 \
    "SELECT kmd_lease_take(gen_random_uuid(), '$TID', 'create', NULL, 0,
    10, '')" "no member; it may take the lease for its own join only"
check "... no member subscribes to a node not joining" \
    peer_says "$TH" 1 "SELECT kmd_peer_subscribe(gen_random_uuid())" \
    "is not joining on this member"
as_peer "$TH" 1 "SELECT kmd_peer_kill('x')" >/dev/null
check "... its kill leaves its pending row" \
    q_is 1 "SELECT state FROM kmd_nodes WHERE node_id = '$TID'" p
$C ctl 1 cluster nodes delete --id="$TID" -y >/dev/null; rc=$?
n=$(grep -c "^peers $TID " "$ID1")
check "nodes delete revokes it" test $rc -eq 0
check "... node 1 refuses its id by the time nodes delete answers" \
    test "$n" = 0
check "then its certificate is refused, once nodes delete has answered" \
    peer_says "$TH" 1 "SELECT 'in'" "authentication failed"
out=$(create 2); rc=$?
check "the same CSR again, on node 2: refused, issued already" \
    refused $rc "$out" "issued credentials already (pending.*cluster csr again"

# ---- nodes delete revokes it ----
out=$($C ctl 1 cluster nodes delete --id="$N3" -y 2>&1); rc=$?
check "nodes delete of the pending node, without --force" test $rc -eq 0
check "its answer counts 2 nodes" has "$out" '"nodeCount": 2'
check "node 2 lists 2 nodes" wait_for 10 sh -c \
    "$C ctl 2 cluster nodes list | grep -q '\"total\": 2'"
check "node 1 refuses node 3's certificate" wait_for 10 refused_by 1
check "node 2 too" wait_for 10 refused_by 2
out=$(join 3 1 -y 2>&1); rc=$?
check "a join with the revoked credentials: refused, says why" \
    refused $rc "$out" "refuses this node's certificate: its credentials were revoked"
check "node 3 is still not clustered" sh -c \
    "$C ctl 3 cluster info | grep -q 'not clustered'"
out=$(create 1); rc=$?
check "the revoked node's CSR again: refused" \
    refused $rc "$out" "issued credentials already (removed)"

# ---- credentials from node 2 expire after 25 s ----
csr3; out=$(create 2); rc=$?
check "a new request; node 2 issues its credentials" test $rc -eq 0
N3B=$(q 3 "SELECT node_id FROM kmd_join_pending")
check "node 2 accepts the new certificate while pending" accepted_by 2
check "shown pending on node 1" wait_for 15 pend 1 "$N3B" "$P"
check "after 25 s, expired on node 1" wait_for 40 pend 1 "$N3B" "$X"
check "and on node 2" wait_for 5 pend 2 "$N3B" "$X"
check "node 2 refuses its certificate" wait_for 5 refused_by 2
check "node 1 accepts its id no more" wait_for 5 sh -c \
    "! grep -q '^peers $N3B ' $D/node1/data/pg/data/pg_ident.conf"
check "node 1's summary: expired" wait_for 10 summary_pend 1 "$N3B" "$X"

# ---- pending nodes count toward the 20; above 6, the advice ----
# fake K LIFETIME: K pending rows on node 1, expiring after LIFETIME
fake() {
	q 1 "INSERT INTO kmd_nodes (node_id, host, public_address, state,
	    version, cert, expires) SELECT gen_random_uuid(), 'fake', 'fake',
	    'p', '0', 'x', now() + interval '$2' FROM generate_series(1, $1)"
}
fake 5 "1 hour" >/dev/null
csr3; out=$(create 1); rc=$?
check "7 nodes with 5 pending, one more: issued, with the size advice" \
    sh -c "[ $rc -eq 0 ]" && check "... the advice, on stderr" \
    has "$out" "nodes create: size .*recommended cluster size is 4-6 nodes"
fake 12 "1 hour" >/dev/null
csr3; out=$(create 1); rc=$?
check "20 nodes, 18 of them pending: refused" \
    refused $rc "$out" "has 20 nodes, the most"
q 1 "UPDATE kmd_nodes SET expires = now() - interval '1 s' WHERE host = 'fake'" >/dev/null
out=$(create 1); rc=$?
check "once they expired they count no more: issued" test $rc -eq 0

check "no sanitizer report in the nodes' logs" nodes_clean
down
finish
