# Upgrades, the window: a cluster of 3 on this kmd (schema N); node 2
# restarted on the next release (build/next, make next: schema N + 1,
# whose step adds a column to a replicated table).  It runs in the
# window: its node-local part only, its database still at N, and it
# replicates both ways with the nodes at N.  Every node shows each
# node's kmd and schema.  Refused, each with nothing changed: a join
# while the window is open; this kmd on a database of N + 1; and back on
# this kmd, node 2 runs as before.
. regress/e2e/lib.sh
. regress/e2e/cluster_lib.sh U
NEXT=${KMD_NEXT:-$PWD/build/next/kmd}
check "the next release is built (make next)" test -x "$NEXT"

# listed K ID: "kmdVersion schemaVersion" of node ID in node K's list
listed() {
	$C ctl "$1" cluster nodes get --id="$2" | python3 -c 'import json,sys
n = json.load(sys.stdin)
print(n["kmdVersion"], n.get("schemaVersion", "-"))'
}
# listed_all IDS WANT: every node of 1..3 lists each of IDS as WANT
listed_all() {
	for k in 1 2 3; do for n in $1; do
		[ "$(listed "$k" "$n")" = "$2" ] || return 1
	done; done
}

cluster_of_3
V=$($C ctl 1 version | sed -n 's/.*"kmdVersion": "\([^"]*\)".*/\1/p')
S=$(q 1 "SELECT version FROM kmd_schema")
N2=$(id_of 2)
check "every node lists each node's kmd and schema ($V, $S)" \
    listed_all "$(id_of 1) $N2 $(id_of 3)" "$V $S"
check "the cluster's committed schema is the nodes' ($S)" \
    q_all 3 "SELECT schema_version FROM kmd_cluster" "$S"

check "upgrade status: no window" test "$(upgrade_status 1 windowOpen)" = False
check "... says every node runs kmd $V at schema $S" test "$(upgrade_status 1 next)" = \
    "no upgrade under way: every node runs kmd $V at schema $S"

# ---- node 2 on the next release: the window ----
stop_node 2
KMD=$NEXT $C up 3 >/dev/null
check "node 2 runs the next release" sh -c "$C ctl 2 version |
    grep -q '\"kmdVersion\": \"0.3.0-next\"'"
check "... in the window: it says so, and what to run when all are on it" \
    grep -q "upgrade window: this kmd knows schema $((S + 1)), the cluster is at $S; .* kmctl cluster upgrade finish" \
    "$D/node2/kmd.log"
check "... its database still at schema $S" \
    q_is 2 "SELECT version FROM kmd_schema" "$S"
check "... without the next step's column" q_is 2 "SELECT count(*) FROM
    information_schema.columns WHERE table_name = 'kmd_keys' AND
    column_name = 'description'" 0
check "every node lists node 2 at the next release, schema $S" \
    wait_for 20 listed_all "$N2" "0.3.0-next $S"
check "upgrade status on node 2: a window to schema $((S + 1)), nodes 1 and 3
    named" test "$(upgrade_status 2 next)" = "upgrade window to schema $((S + 1)): \
127.0.0.1, 127.0.0.3 still run kmd $V; restart each on kmd 0.3.0-next, one at \
a time, then kmctl cluster upgrade finish"
check "... on node 1 too, the newer kmd named" test "$(upgrade_status 1 next)" = \
    "upgrade window: 127.0.0.2 run kmd 0.3.0-next, this node kmd $V (schema \
$S): restart every node on the newer one, then kmctl cluster upgrade finish; \
or those on the older one to close it"
TOKEN=$(ns curl -sk -d '{"username":"admin","password":"secret-password"}' \
    https://127.0.0.1:8443/api/v1/auth/tokens | python3 -c \
    'import json,sys; print(json.load(sys.stdin)["token"])')
rest_upgrade() {
	ns curl -sk -H "Authorization: Bearer $TOKEN" \
	    https://127.0.0.1:8443/api/v1/cluster/upgrade | python3 -c '
import json, sys
u = json.load(sys.stdin)
print(u["windowOpen"], u["committedSchema"], len(u["nodes"]))'
}
check "REST GET cluster/upgrade: the same" test "$(rest_upgrade)" = "True $S 3"
check "rows written on node 2 reach nodes 1 and 3" writes 2 20 from-next
check "..." wait_for 30 q_all 3 "SELECT count(*) FROM kmd_keys WHERE name
    LIKE 'from-next-%'" 20
check "rows written on node 1 reach node 2" writes 1 20 from-old
check "..." wait_for 30 q_is 2 "SELECT count(*) FROM kmd_keys WHERE name
    LIKE 'from-old-%'" 20
# ---- a join while the window is open: refused, nothing changed ----
check "up 4" $C up 4
creds 4 1
out=$(join 4 1 -y --block 2>&1); rc=$?
check "a join during the window: exit 1" test "$rc" = 1
check "... an upgrade is under way, the versions named, finish it first" \
    has "$out" "the members run kmd $V, 0.3.0-next: an upgrade is under way; finish it"
check "... node 4 is not clustered" sh -c "$C ctl 4 cluster info |
    grep -q 'not clustered'"
check "... the members hold no lease and no trace of it" q_all 3 \
    "SELECT count(*) FROM kmd_lease WHERE expires > clock_timestamp()" 0

# ---- this kmd on a database of the next schema: refused ----
stop_node 4
KMD=$NEXT $C up 4 >/dev/null
check "node 4 on the next release, alone: its database at schema $((S + 1))" \
    q_is 4 "SELECT version FROM kmd_schema" "$((S + 1))"
stop_node 4
timeout 120 ip netns exec "$KMD_CLUSTER_NS" "$KMD" -d -f "$D/node4/kmd.conf" \
    >"$T/old4.out" 2>&1 </dev/null
rc=$?
check "this kmd on it: kmd stops, exit 78" test "$rc" = 78
check "... saying why and what to run" grep -q "database is at schema \
$((S + 1)), newer than this kmd knows ($S): run the kmd this node ran before" \
    "$T/old4.out"
check "... its database left at schema $((S + 1))" sh -c "KMD=$NEXT $C up 4 \
    >/dev/null && [ \"\$($C sql 4 'SELECT version FROM kmd_schema')\" = \
    $((S + 1)) ]"

# ---- back on this kmd within the window ----
stop_node 2
$C up 3 >/dev/null
check "node 2 back on kmd $V: it runs" sh -c "$C ctl 2 version |
    grep -q '\"kmdVersion\": \"$V\"'"
check "... and every node lists it so" wait_for 20 listed_all "$N2" "$V $S"
check "... the window closed" test "$(upgrade_status 1 windowOpen)" = False
check "rows written on node 2 reach node 3" writes 2 5 back
check "..." wait_for 30 q_is 3 "SELECT count(*) FROM kmd_keys WHERE name
    LIKE 'back-%'" 5

check "no sanitizer report in the nodes' logs" sh -c \
    "! grep -l 'Sanitizer' $D/node*/kmd.log $T/old4.out"
finish
