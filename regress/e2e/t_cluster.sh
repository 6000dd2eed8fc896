# cluster new, info, nodes list/get on one node, with real PostgreSQL,
# TLS and pglogical; state survives restarts and crashes.
. regress/e2e/lib.sh
write_conf
RUN=$T/data/run
sql() { runuser -u postgres -- psql -h "$RUN" -U kmd -d kmd -XAtc "$1"; }
field() { sed -n "s/.*\"$1\": \"\{0,1\}\([^\",]*\)\"\{0,1\},\{0,1\}$/\1/p" | head -1; }
start_kmd || finish

out=$(ctl cluster new --host=127.0.0.9 --url=https://127.0.0.1:8443 2>&1); rc=$?
check "cluster new with another node's address: refused, exit 1" \
    refused $rc "$out" "is not this node's address"
out=$(ctl cluster new --host=127.0.0.1 2>&1); rc=$?
check "cluster new without --url: names the flag" \
    sh -c "[ $rc -eq 1 ] && [ '$out' = 'kmctl: cluster new: --url is required' ]"
out=$(ctl cluster new --host=127.0.0.1 --url=http://x 2>&1); rc=$?
check "cluster new with a non-https URL: names the flag" \
    refused $rc "$out" "--url: 'http://x' is not an https:// URL"
check "a refused cluster new changed nothing" \
    test "$(sql 'select count(*) from kmd_local') $(sql 'select count(*) from pglogical.node')" = "0 0"

out=$(ctl cluster new --host=127.0.0.1 --url=https://127.0.0.1:8443); rc=$?
check "cluster new exits 0" test $rc -eq 0
id=$(echo "$out" | field nodeID)
expected="{
  \"nodeID\": \"$id\",
  \"status\": {
    \"code\": \"r\",
    \"description\": \"ready\"
  },
  \"nodeCount\": 1
}"
check "cluster new prints the reference's shape" test "$out" = "$expected"
check "the node id is a UUID" \
    sh -c "echo $id | grep -Eqx '[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}'"
check "cluster info: ready, with nodeCount" test "$(ctl cluster info)" = "$expected"

VS=$(ctl version | python3 -c 'import json,sys; v = json.load(sys.stdin)
print("\"kmdVersion\":\"%s\",\"schemaVersion\":%d" % (v["kmdVersion"],
    v["schemaVersion"]))')
list=$(ctl cluster nodes list)
check "nodes list: skip, limit 256, total 1" \
    sh -c "echo '$list' | tr -d ' \n' | grep -q '^{\"skip\":0,\"limit\":256,\"total\":1,\"resources\":\[{\"nodeID\":\"$id\",\"status\":{\"code\":\"r\",\"description\":\"ready\"},\"host\":\"127.0.0.1\",\"port\":5432,\"publicAddress\":\"127.0.0.1\",\"isThisNode\":true,$VS}\]}$'"
get=$(ctl cluster nodes get --id="$id")
check "nodes get: the node in the same shape" \
    sh -c "echo '$get' | tr -d ' \n' | grep -q '^{\"nodeID\":\"$id\",\"status\":{\"code\":\"r\",\"description\":\"ready\"},\"host\":\"127.0.0.1\",\"port\":5432,\"publicAddress\":\"127.0.0.1\",\"isThisNode\":true,$VS}$'"
check "nodes get accepts the id without dashes" \
    sh -c "$KMCTL -s $SOCK cluster nodes get --id=$(echo $id | tr -d -) | grep -q $id"
out=$(ctl cluster nodes get --id=00000000-0000-0000-0000-000000000000 2>&1); rc=$?
check "nodes get of an unknown id: clear error, exit 1" \
    refused $rc "$out" "no node 00000000-0000-0000-0000-000000000000 in this node's cluster"
out=$(ctl cluster nodes get --id=nope 2>&1); rc=$?
check "nodes get of a malformed id: names the flag" \
    refused $rc "$out" "--id: 'nope' is not a node id"
check "nodes list --skip 1: total 1, no resources" \
    sh -c "$KMCTL -s $SOCK cluster nodes list --skip 1 | tr -d ' \n' | grep -q '\"skip\":1,\"limit\":256,\"total\":1,\"resources\":\[\]'"

out=$(ctl cluster new --host=127.0.0.1 --url=https://127.0.0.1:8443 2>&1); rc=$?
check "cluster new on a clustered node: refused, says what to do" \
    refused $rc "$out" "already in a cluster (node $id); nothing was changed"

check "the pglogical node exists" \
    test "$(sql 'select count(*) from pglogical.node')" = 1
for set in default kmd_join; do
	check "replicated tables are in replication set $set, local ones are not" \
	    test "$(sql "select string_agg(t.set_reloid::text, ',' order by t.set_reloid::text) from pglogical.replication_set_table t join pglogical.replication_set s using (set_id) where s.set_name = '$set'")" = "kmd_cluster,kmd_join_markers,kmd_keys,kmd_node_health,kmd_nodes,kmd_users"
done
check "the CA key is stored sealed, not in clear" \
    sh -c "! runuser -u postgres -- psql -h $RUN -U kmd -d kmd -XAtc 'select convert_from(ca_key_sealed, '\''SQL_ASCII'\'') from kmd_cluster' 2>/dev/null | grep -q 'PRIVATE KEY'"
check "postgres serves TLS" test "$(sql 'show ssl')" = on
tls=$(echo | timeout 5 openssl s_client -starttls postgres -connect 127.0.0.1:5432 \
    -CAfile "$T/data/pg/data/kmd-tls/ca.crt" -verify_return_error 2>&1)
check "its certificate is this node's" has "$tls" "subject=O = kmd, CN = $id"
check "issued by the cluster CA" has "$tls" "issuer=O = kmd, CN = kmd cluster CA"
check "and it verifies against the CA" has "$tls" "Verify return code: 0 (ok)"
check "the TLS key is postgres's alone" \
    test "$(stat -c '%a %U' "$T/data/pg/data/kmd-tls/server.key")" = "600 postgres"
check "the root-of-trust key is root's alone" \
    test "$(stat -c '%a %U' "$T/data/rot.key")" = "600 root"

stop_kmd
start_kmd || finish
check "after a restart: same node id, ready" test "$(ctl cluster info)" = "$expected"
check "after a restart: TLS installed again" \
    wait_for 10 grep -c "installed this node's TLS certificate" "$LOG"

pgpid=$(ctl status | grep -A1 '"role": "postgres"' | sed -n 's/.*"pid": \([0-9]*\),.*/\1/p')
kill -9 "$pgpid"
t0=$(date +%s%3N)
check "kill -9 of postgres: cluster info ready again within 10 s" \
    wait_for 10 sh -c "$KMCTL -s $SOCK cluster info | grep -q '\"code\": \"r\"'"
echo "figure: kill -9 postgres to cluster info ready: $(( $(date +%s%3N) - t0 )) ms"

kill -9 "$KPID"; wait "$KPID" 2>/dev/null; KPID=
start_kmd || finish
check "kill -9 of the parent: the next start recovers, same node, ready" \
    wait_for 30 sh -c "[ \"\$($KMCTL -s $SOCK cluster info)\" = '$expected' ]"
finish
