# The first two join steps: cluster csr on the joining node, cluster nodes
# create on a member; locally and over HTTPS; what they refuse.
. regress/e2e/lib.sh
. regress/e2e/cluster_lib.sh j

check "up 2" $C up 2
check "node 1: cluster new" $C ctl 1 cluster new --host=127.0.0.1 \
    --url=https://127.0.0.1:8443

out=$($C ctl 2 cluster csr --host=127.0.0.2 2>&1 >"$T/csr.json"); rc=$?
check "node 2: cluster csr exits 0" test $rc -eq 0
check "csr: exactly the key csr" python3 -c 'import json,sys; j=json.load(open(sys.argv[1])); sys.exit(list(j) != ["csr"])' "$T/csr.json"
field "$T/csr.json" csr >"$T/n2.csr"
check "the CSR's own signature verifies" openssl req -in "$T/n2.csr" -noout -verify
id=$(openssl req -in "$T/n2.csr" -noout -subject | sed 's/.*CN = //')
check "its CN is a node id" sh -c "echo '$id' | grep -Eq '^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$'"
check "node 2 keeps the sealed join keys, not in the clear" \
    sh -c "$C ctl 2 status >/dev/null && ! grep -rq 'BEGIN PRIVATE KEY' $D/node2/data/pg/postgres.log"
check "node 2 is still not clustered" sh -c "$C ctl 2 cluster info | grep -q 'not clustered'"

out=$($C ctl 1 cluster nodes create --csr="$T/n2.csr" \
    --newnodehost=127.0.0.2 2>&1 >"$T/cred.json"); rc=$?
check "node 1: nodes create exits 0" test $rc -eq 0
check "nodes create: cert, cachain, mkek_blob" python3 -c 'import json,sys; j=json.load(open(sys.argv[1])); sys.exit(list(j) != ["cert","cachain","mkek_blob"])' "$T/cred.json"
field "$T/cred.json" cert >"$T/n2.crt"
field "$T/cred.json" cachain >"$T/ca.crt"
check "the certificate verifies under the cluster CA" \
    openssl verify -CAfile "$T/ca.crt" "$T/n2.crt"
check "the CA is node 1's PostgreSQL CA" \
    cmp -s "$T/ca.crt" "$D/node1/data/pg/data/kmd-tls/ca.crt"
check "it names the joining node (CN) and its host (SAN)" \
    sh -c "openssl x509 -in $T/n2.crt -noout -subject | grep -q 'CN = $id' && openssl x509 -in $T/n2.crt -noout -ext subjectAltName | grep -q 'IP Address:127.0.0.2'"
check "it certifies the CSR's key" test \
    "$(openssl req -in "$T/n2.csr" -noout -pubkey)" = \
    "$(openssl x509 -in "$T/n2.crt" -noout -pubkey)"
blob=$(field "$T/cred.json" mkek_blob)
check "the mkek_blob is sealed (kmd1: and base64), no KEK in the clear" \
    sh -c "echo '$blob' | grep -Eq '^kmd1:[A-Za-z0-9+/]+=*$'"
# newcsr F: a new cluster csr on node 2, its CSR in F
newcsr() {
	$C ctl 2 cluster csr --host=127.0.0.2 >"$T/csrb.json" &&
	    field "$T/csrb.json" csr >"$1"
}
out=$($C ctl 1 cluster nodes create --csr="$T/n2.csr" \
    --newnodehost=127.0.0.2 2>&1); rc=$?
check "the same CSR twice: refused, its node is recorded already" \
    refused $rc "$out" "was issued credentials already"
newcsr "$T/n2b.csr"
out=$($C ctl 1 cluster nodes create --csr="$T/n2b.csr" \
    --newnodehost=127.0.0.2 2>/dev/null | python3 -c 'import json,sys; print(json.load(sys.stdin)["mkek_blob"])')
check "each nodes create seals afresh" test -n "$out" -a "$out" != "$blob"

# What they refuse, and that a refusal changes nothing.
out=$($C ctl 1 cluster csr --host=127.0.0.1 2>&1); rc=$?
check "csr on a member: refused" refused $rc "$out" "already in a cluster"
out=$($C ctl 2 cluster nodes create --csr="$T/n2.csr" --newnodehost=127.0.0.2 2>&1); rc=$?
check "nodes create on a node out of any cluster: refused" refused $rc "$out" "not in a cluster"
out=$($C ctl 2 cluster csr --host=127.0.0.9 2>&1); rc=$?
check "csr for another host: refused" refused $rc "$out" "not this node's address"
out=$($C ctl 1 cluster nodes create --csr=/etc/hostname --newnodehost=127.0.0.2 2>&1); rc=$?
check "nodes create with a file that is no PEM: refused" refused $rc "$out" "holds no PEM block"
sed '3s/./A/' "$T/n2.csr" | sed '3s/^A/B/' >"$T/bad.csr"
out=$($C ctl 1 cluster nodes create --csr="$T/bad.csr" --newnodehost=127.0.0.2 2>&1); rc=$?
check "nodes create with a tampered CSR: refused" refused $rc "$out" "csr"
openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes \
    -keyout "$T/x.key" -subj "/CN=$id" -out "$T/foreign.csr" 2>/dev/null
out=$($C ctl 1 cluster nodes create --csr="$T/foreign.csr" --newnodehost=127.0.0.2 2>&1); rc=$?
check "nodes create with a CSR not from cluster csr: refused" refused $rc "$out" "no join sealing key"
out=$($C ctl 1 cluster nodes create --csr="$T/n2.csr" --newnodehost=127.0.0.2 --shared-hsm-partition 2>&1); rc=$?
check "--shared-hsm-partition without an HSM: refused, says why" refused $rc "$out" "keeps its root of trust in no HSM"
check "node 1 still has one ready node, and the two it issued pending" \
    sh -c "[ \$($C ctl 1 cluster nodes list | grep -c '\"code\": \"r\"') = 1 ] && [ \$($C ctl 1 cluster nodes list | grep -c '\"code\": \"p\"') = 2 ]"
# At 20 nodes the cluster is full: 17 pending stand-ins make 20 on node 1
# (ready ones would be asked for the membership lease).
q 1 "INSERT INTO kmd_nodes (node_id, host, public_address, state, version, cert, expires) SELECT gen_random_uuid(), '127.0.1.' || i, '127.0.1.' || i, 'p', '0.1.0', 'x', now() + interval '1 hour' FROM generate_series(1, 17) i"
newcsr "$T/n2c.csr"
out=$($C ctl 1 cluster nodes create --csr="$T/n2c.csr" --newnodehost=127.0.0.2 2>&1); rc=$?
check "nodes create in a cluster of 20: refused, says what to do" \
    refused $rc "$out" "the cluster has 20 nodes, the most it may have"
q 1 "DELETE FROM kmd_nodes WHERE host LIKE '127.0.1.%'"
check "at 3 nodes again nodes create works" \
    sh -c "$C ctl 1 cluster nodes create --csr=$T/n2c.csr --newnodehost=127.0.0.2 >/dev/null"

# Over HTTPS: the same steps, the same JSON shapes.
echo api-password1 | $C ctl 1 users set-password --name admin >/dev/null
echo api-password2 | $C ctl 2 users set-password --name admin >/dev/null
r1() { ns "$KMCTL" --url https://127.0.0.1:8443 --user admin --password api-password1 --cacert "$D/node1/data/api/api.crt" "$@"; }
r2() { ns "$KMCTL" --url https://127.0.0.2:8443 --user admin --password api-password2 --cacert "$D/node2/data/api/api.crt" "$@"; }
r2 cluster csr --host=127.0.0.2 >"$T/rcsr.json"; rc=$?
check "remote cluster csr: exit 0, a CSR" sh -c "[ $rc -eq 0 ] && grep -q 'BEGIN CERTIFICATE REQUEST' $T/rcsr.json"
field "$T/rcsr.json" csr >"$T/r2.csr"
id2=$(openssl req -in "$T/r2.csr" -noout -subject | sed 's/.*CN = //')
check "a newer csr makes a new node id" test "$id2" != "$id"
r1 cluster nodes create --csr="$T/r2.csr" --newnodehost=127.0.0.2 >"$T/rcred.json"; rc=$?
check "remote nodes create: exit 0" test $rc -eq 0
field "$T/rcred.json" cert >"$T/r2.crt"
check "remote: the certificate verifies" openssl verify -CAfile "$T/ca.crt" "$T/r2.crt"
out=$(ns curl -s --cacert "$D/node1/data/api/api.crt" -o /dev/null -w '%{http_code}' -X POST https://127.0.0.1:8443/api/v1/nodes -d '{}'); 
check "POST nodes without a token: 401" test "$out" = 401
tok=$(ns curl -s --cacert "$D/node1/data/api/api.crt" -d '{"username":"admin","password":"api-password1"}' https://127.0.0.1:8443/api/v1/auth/tokens | python3 -c 'import json,sys; print(json.load(sys.stdin)["token"])')
out=$(ns curl -s --cacert "$D/node1/data/api/api.crt" -H "Authorization: Bearer $tok" -w ' %{http_code}' https://127.0.0.1:8443/api/v1/nodes -d '{"csr":"x","newnodehost":"h","sharedHsmPartition":"yes"}')
check "POST nodes: a non-boolean sharedHsmPartition is a 400 naming it" \
    has "$out" "sharedHsmPartition' must be true or false.* 400$"
out=$(ns curl -s --cacert "$D/node1/data/api/api.crt" -H "Authorization: Bearer $tok" -w ' %{http_code}' https://127.0.0.1:8443/api/v1/nodes -d '{"newnodehost":"h"}')
check "POST nodes: a missing csr is a 400 naming it" \
    has "$out" "'csr' is required.* 400$"
# Step 3 over HTTPS too: the joining node's API, its latest CSR's creds.
field "$T/rcred.json" cachain >"$T/rca.crt"
out=$(r2 cluster join --member=127.0.0.1 --host=127.0.0.2 \
    --cert="$T/r2.crt" --cachain="$T/rca.crt" \
    --mkek-blob="$(field "$T/rcred.json" mkek_blob)" -y --block 2>&1); rc=$?
check "remote cluster join --block: exit 0" test $rc -eq 0
check "remote join: the preflight lines came" has "$out" "preflight: member .*ok"
check "remote join: ready" has "$out" '"code": "r"'
check "node 1 lists 2 ready nodes" \
    test "$($C ctl 1 cluster nodes list | grep -c '"code": "r"')" -eq 2
# Node 2 adopted the cluster's users: node 1's password works there now.
out=$(r2 cluster info 2>&1); rc=$?
check "node 2's own old password is gone with its data" \
    refused $rc "$out" "wrong user name or password"
r2b() { ns "$KMCTL" --url https://127.0.0.2:8443 --user admin --password api-password1 --cacert "$D/node2/data/api/api.crt" "$@"; }
out=$(r2b cluster join --member=127.0.0.1 --host=127.0.0.2 \
    --cert="$T/r2.crt" --cachain="$T/rca.crt" \
    --mkek-blob="$(field "$T/rcred.json" mkek_blob)" -y 2>&1); rc=$?
check "the cluster's password logs in on node 2; joining again: refused" \
    refused $rc "$out" "already in a cluster"
check "both kmd logs are free of sanitizer reports" nodes_clean
down
finish
