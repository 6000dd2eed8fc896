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
for k in 1 2; do
	check "cluster verify in the window, on node $k: the same everywhere" \
	    sh -c "$C ctl $k cluster verify | grep -q '\"same\": true'"
done
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

# ---- cluster upgrade finish ----
out=$($C ctl 1 cluster upgrade finish -y 2>&1); rc=$?
check "finish with no step to take: refused" refused $rc "$out" \
    "no upgrade to finish: the cluster is at schema $S, the newest this kmd ($V) knows; nothing was changed"
cp "$(dirname "$NEXT")/kmctl" "$T/kmctl-next"
stop_node 2
cp "$T/kmctl-next" "$D/node2/kmctl"
KMD=$NEXT $C up 3 >/dev/null
check "node 2 on the next release again" wait_for 20 listed_all "$N2" "0.3.0-next $S"
out=$($C ctl 2 cluster upgrade finish -y 2>&1); rc=$?
check "finish while nodes 1 and 3 run kmd $V: refused, both named" refused \
    $rc "$out" "not every node runs kmd 0.3.0-next (schema $((S + 1))): 127.0.0.1 (kmd $V), 127.0.0.3 (kmd $V); restart each"
# unpaused: the schema, no pause, no live lease, as a row per node
calm="SELECT (SELECT version FROM kmd_schema) || '/' || (SELECT count(*)
    FROM kmd_local WHERE paused_until IS NOT NULL) || '/' || (SELECT count(*)
    FROM kmd_lease WHERE expires > clock_timestamp())"
# calm_on WANT K...: $calm on each node K is WANT
calm_on() {
	w=$1; shift
	for k in "$@"; do q_is "$k" "$calm" "$w" || return 1; done
}
check "... nothing changed: schema $S everywhere, no pause, no lease" \
    wait_for 20 q_all 3 "$calm" "$S/0/0"
check "a peer's certificate pauses no writes without the finish's lease" \
    peer_says 2 1 "SELECT kmd_peer_pause(gen_random_uuid(), 30)" \
    "no longer holds its lease"
check "... nor does a pause it names end one" \
    peer_says 2 1 "SELECT kmd_peer_pause(gen_random_uuid(), 0)" "^$"
check "... node 1 is not paused" q_is 1 "SELECT count(*) FROM kmd_local
    WHERE paused_until IS NOT NULL" 0
for k in 1 3; do
	stop_node $k
	cp "$T/kmctl-next" "$D/node$k/kmctl"
	KMD=$NEXT $C up 3 >/dev/null
done
check "every node runs the next release" wait_for 30 listed_all \
    "$(id_of 1) $N2 $(id_of 3)" "0.3.0-next $S"
stop_node 2
out=$($C ctl 1 cluster upgrade finish -y 2>&1); rc=$?
check "finish with node 2 down: refused, nothing changed" refused $rc "$out" \
    "unreachable.*nothing was changed"
check "... schema $S on nodes 1 and 3, no pause, no lease" wait_for 20 \
    calm_on "$S/0/0" 1 3
KMD=$NEXT $C up 3 >/dev/null
check "node 2 back" wait_for 30 ready 2
# sql_writer K: rows inserted on node K until $T/stop, each acknowledged
# one's name in $T/acked-K (a write refused during the pause is not)
sql_writer() {
	i=0
	while [ ! -e "$T/stop" ]; do
		i=$((i + 1))
		writes "$1" 1 "f$1-$i" 2>/dev/null &&
		    echo "f$1-$i-1" >>"$T/acked-$1"
	done
}
rm -f "$T/stop" "$T"/acked-*
for k in 1 2 3; do : >"$T/acked-$k"; sql_writer $k & done
sleep 2
# two finishes at once, through nodes 1 and 3
for k in 1 3; do
	($C ctl $k cluster upgrade finish -y >"$T/fin$k" 2>&1
	echo $? >"$T/fin$k.rc") &
	eval "F$k=\$!"
done
wait "$F1" "$F3"
rcs=$(cat "$T/fin1.rc" "$T/fin3.rc" | sort | tr -d '\n')
# At most one goes on; both may be refused, each having met the other's
# grant on some member (the lease's rule is "at most one").
check "two finishes at once, through nodes 1 and 3: not both went on" \
    test "$rcs" != 00
for k in 1 3; do
	grep -q '"next": "upgrade finished' "$T/fin$k" && continue
	check "... node $k's refused: the finish under way, or nothing left to do" \
	    grep -Eq "upgrade finish is under way|no upgrade to finish" "$T/fin$k"
done
if [ "$rcs" = 11 ]; then
	echo "both were refused: the finish again, on node 1"
	wait_for 30 sh -c "$C ctl 1 cluster upgrade finish -y >$T/fin1 2>&1"
fi
sleep 2
touch "$T/stop"
wait
ok=$(grep -l '"next": "upgrade finished' "$T/fin1" "$T/fin3")
check "the finish says the cluster is at schema $((S + 1)) and how long writes paused" \
    grep -Eq "upgrade finished: the cluster is at schema $((S + 1)) on its 3 node\(s\); writes were paused for [0-9]+ ms" $ok
echo "the write pause: $(grep -o 'paused for [0-9]* ms; [0-9]* ms in all' $ok)"
check "every node at schema $((S + 1)), unpaused, no lease" \
    wait_for 20 q_all 3 "$calm" "$((S + 1))/0/0"
check "... the cluster's committed schema $((S + 1)) on every node" \
    q_all 3 "SELECT schema_version FROM kmd_cluster" "$((S + 1))"
check "... the step's column on every node" q_all 3 "SELECT count(*) FROM
    information_schema.columns WHERE table_name = 'kmd_keys' AND
    column_name = 'description'" 1
check "... no marker of the pause left" wait_for 20 q_all 3 \
    "SELECT count(*) FROM kmd_join_markers WHERE join_id <> kmd_beat_id(origin)" 0
acked=$(cat "$T"/acked-* | paste -sd, -)
A=$(cat "$T"/acked-* | wc -l)
echo "writers during the finish: $A rows acknowledged"
check "every row acknowledged during the finish ($A) on every node" \
    wait_for 30 q_all 3 "SELECT count(*) FROM kmd_keys WHERE name = ANY
    ('{$acked}')" "$A"
check "identical keys on the three nodes" wait_for 30 same_keys 2 3
q 1 "UPDATE kmd_keys SET description = 'set on 1' WHERE name = 'from-old-1'" >/dev/null
q 3 "UPDATE kmd_keys SET description = 'set on 3' WHERE name = 'from-next-1'" >/dev/null
check "the new column's values replicate: node 1's to node 3" wait_for 30 \
    q_is 3 "SELECT description FROM kmd_keys WHERE name = 'from-old-1'" "set on 1"
check "... and node 3's to node 1" wait_for 30 \
    q_is 1 "SELECT description FROM kmd_keys WHERE name = 'from-next-1'" "set on 3"
check "upgrade status: no window, every node at the next release" \
    test "$(upgrade_status 2 next)" = "no upgrade under way: every node runs kmd 0.3.0-next at schema $((S + 1))"
# a node on this (older) kmd cannot join the upgraded cluster
check "up 5, on kmd $V" $C up 5
creds 5 1
out=$(join 5 1 -y --block 2>&1); rc=$?
check "an older node's join to the upgraded cluster: refused, versions named" \
    refused $rc "$out" "0.3.0-next"
[ $rc -eq 1 ] || echo "the join said: $out"
check "... node 5 is not clustered" sh -c "$C ctl 5 cluster info |
    grep -q 'not clustered'"
cp "$T/kmctl-next" "$D/node4/kmctl"
creds 4 1
check "node 4, on the next release, joins the upgraded cluster" join 4 1 -y --block
check "... with the column's values" wait_for 30 q_is 4 "SELECT description
    FROM kmd_keys WHERE name = 'from-next-1'" "set on 3"

check "no sanitizer report in the nodes' logs" sh -c \
    "! grep -l 'Sanitizer' $D/node*/kmd.log $T/old4.out"
finish
