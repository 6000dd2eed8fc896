# cluster fulljoin: the three join steps in one command, run against a
# member (its socket, or --url), reaching the joining node over HTTPS.
. regress/e2e/lib.sh
. regress/e2e/cluster_lib.sh f
check "up 3" $C up 3
check "node 1: cluster new" $C ctl 1 cluster new --host=127.0.0.1 \
    --url=https://127.0.0.1:8443
for k in 1 2 3; do
	echo "password-of-$k" | $C ctl $k users set-password --name admin >/dev/null
done

out=$(ns "$KMCTL" -s "$D/node1/kmd.sock" cluster fulljoin --member=127.0.0.1 \
    --newnodehost=127.0.0.2 --newnodeurl=https://127.0.0.2:8443 \
    --newnodeuser=admin --newnodepass=password-of-2 </dev/null 2>&1); rc=$?
check "without -y and no terminal: refused" refused $rc "$out" "give -y"
out=$(ns "$KMCTL" -s "$D/node1/kmd.sock" cluster fulljoin --member=127.0.0.1 \
    --newnodehost=127.0.0.2 -y 2>&1); rc=$?
check "no way to reach the joining node: refused, says what to give" \
    refused $rc "$out" "give --newnodeconfig, or --newnodeurl"
out=$(ns "$KMCTL" -s "$D/node1/kmd.sock" --cacert "$D/node2/data/api/api.crt" \
    cluster fulljoin --member=127.0.0.1 --newnodehost=127.0.0.2 \
    --newnodeurl=https://127.0.0.2:8443 --newnodeuser=admin \
    --newnodepass=wrong-password -y 2>&1); rc=$?
check "a wrong password for the joining node: refused, naming that node" \
    refused $rc "$out" "https://127.0.0.2:8443: wrong user name or password"
check "... before anything changed on node 2" \
    sh -c "$C ctl 2 cluster info | grep -q 'not clustered'"

# From node 1's socket, the joining node by flags.
ns "$KMCTL" -s "$D/node1/kmd.sock" --cacert "$D/node2/data/api/api.crt" \
    cluster fulljoin --member=127.0.0.1 --newnodehost=127.0.0.2 \
    --newnodeurl=https://127.0.0.2:8443 --newnodeuser=admin \
    --newnodepass=password-of-2 -y >"$T/out2" 2>"$T/err2"; rc=$?
check "fulljoin from the member's socket: exit 0" test $rc -eq 0
[ $rc -eq 0 ] || { echo "fulljoin said:"; cat "$T/out2" "$T/err2"; }
for l in "Attempting to get the CSR from the joining node..." \
    "Finished getting the CSR from the joining node..." \
    "Attempting to get the Certificate and CA Chain from the member node..." \
    "Finished getting the Certificate and CA Chain from the member node..." \
    "Attempting to join the new node to the member's cluster..."; do
	check "said: $l" grep -qF "$l" "$T/err2"
done
check "printed the status: creating (1/5)" \
    grep -q '"description": "joining: creating (1/5)"' "$T/out2"
check "node 2 becomes ready" wait_for 60 ready 2
check "fulljoin ended its token on node 2 (logout)" \
    grep -q "DELETE /api/v1/auth/tokens 204" "$D/node2/kmd.log"

# --nosslverify is for the member alone: the joining node's certificate
# is still checked (it is asked first, before the member).
out=$(ns "$KMCTL" --url https://127.0.0.1:8443 --user admin \
    --password password-of-1 --nosslverify cluster fulljoin \
    --member=127.0.0.1 --newnodehost=127.0.0.3 \
    --newnodeurl=https://127.0.0.3:8443 --newnodeuser=admin \
    --newnodepass=password-of-3 -y 2>&1); rc=$?
check "--nosslverify: the joining node's certificate is still checked" \
    refused $rc "$out" "https://127.0.0.3:8443.*certificate is not trusted"
check "... and node 3 is untouched" \
    sh -c "$C ctl 3 cluster info | grep -q 'not clustered'"

# Over HTTPS from anywhere, the joining node from a config file.
printf 'url = https://127.0.0.3:8443\nuser = admin\npassword = password-of-3\ncacert = %s\n' \
    "$D/node3/data/api/api.crt" >"$T/node3.conf"
chmod 600 "$T/node3.conf"
ns "$KMCTL" --url https://127.0.0.1:8443 --user admin \
    --password password-of-1 --cacert "$D/node1/data/api/api.crt" \
    cluster fulljoin --member=127.0.0.1 --newnodehost=127.0.0.3 \
    --newnodeconfig="$T/node3.conf" -y >"$T/out3" 2>"$T/err3"; rc=$?
check "fulljoin over HTTPS with --newnodeconfig: exit 0" test $rc -eq 0
check "node 3 becomes ready" wait_for 60 ready 3
check "the config file now holds the cluster's credentials" \
    grep -q '^password = password-of-1$' "$T/node3.conf"
check "... and kept its other lines, mode 600" \
    sh -c "grep -q '^url = https://127.0.0.3:8443$' $T/node3.conf && [ \$(stat -c %a $T/node3.conf) = 600 ]"
check "the written file logs in on node 3" \
    sh -c "ip netns exec $KMD_CLUSTER_NS $KMCTL --config $T/node3.conf cluster info | grep -q '\"nodeCount\": 3'"
check "node 1 lists 3 ready nodes (within seconds)" \
    wait_for 15 ready_n 3 1

# A password changed on node 1 ends the user's tokens on node 3 too.
tok3=$(ns curl -sk -d '{"username":"admin","password":"password-of-1"}' \
    https://127.0.0.3:8443/api/v1/auth/tokens |
    sed -n 's/.*"token":"\([^"]*\)".*/\1/p')
on3() {
	ns curl -sk -o /dev/null -w '%{http_code}' \
	    -H "Authorization: Bearer $tok3" https://127.0.0.3:8443/api/v1/cluster
}
check "control: a token from node 3 is good" test "$(on3)" = 200
printf 'password-of-1-new\n' | $C ctl 1 users set-password --name admin \
    >/dev/null 2>&1
check "admin's password changed on node 1: its token on node 3 ends" \
    wait_for 15 sh -c "[ \"\$(ip netns exec $KMD_CLUSTER_NS curl -sk -o /dev/null -w '%{http_code}' -H 'Authorization: Bearer $tok3' https://127.0.0.3:8443/api/v1/cluster)\" = 401 ]"
check "node 3's log says why" grep -q "user admin has a new password or role: its API tokens end" "$D/node3/kmd.log"
check "no sanitizer report in the nodes' logs" nodes_clean
down
finish
