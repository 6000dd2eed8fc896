# How a node's status as the cluster sees it comes out of the nodes'
# replicated views (kmd_node_status), on one node whose monitor is slowed
# to a tick a minute, so that the views are the test's own: agreement,
# "nodes are in different states across databases", a down reporter's
# stale view that does not count, unknown-free joining and removed nodes.
. regress/e2e/lib.sh
write_conf 'replmon interval 60000'
RUN=$T/data/run
sql() { runuser -u postgres -- psql -h "$RUN" -U kmd -d kmd -XAtqc "$1"; }
start_kmd || finish
check "cluster new" ctl cluster new --host=127.0.0.1 --url=https://127.0.0.1:8443
ME=$(sql "SELECT node_id FROM kmd_local")
F1=11111111-1111-1111-1111-111111111111
F2=22222222-2222-2222-2222-222222222222
F3=33333333-3333-3333-3333-333333333333
F4=44444444-4444-4444-4444-444444444444
sql "INSERT INTO kmd_nodes (node_id, host, public_address, state, version, cert)
    VALUES ('$F1', 'f1', 'f1', 'r', '0.1.0', 'x'), ('$F2', 'f2', 'f2', 'r', '0.1.0', 'x'),
    ('$F3', 'f3', 'f3', 'r', '0.1.0', 'x'), ('$F4', 'f4', 'f4', 'i', '0.1.0', 'x')"
# view REPORTER NODE CODE: REPORTER's view of NODE
view() {
	sql "INSERT INTO kmd_node_health VALUES ('$1', '$2',
	    '{\"nodeInfo\": {\"status\": {\"code\": \"$3\"}}}', now())
	    ON CONFLICT (reporter, peer) DO UPDATE SET view = EXCLUDED.view"
}
code() { ctl cluster nodes get --id="$1" | sed -n 's/.*"code": "\(.*\)".*/\1/p'; }

# This node sees F1 and F2 ready and F3 down.
view "$ME" "$F1" r; view "$ME" "$F2" r; view "$ME" "$F3" d
check "no view of a node by anyone but this node: its own view" test "$(code "$F1")" = r
view "$F1" "$F2" d
check "F1 (trusted) sees F2 down, this node ready: different states" \
    test "$(code "$F2")" = x
says() { ctl "$@" | grep -q "$LAST"; }
LAST='"description": "nodes are in different states across databases"'
check "... described as the reference does" says cluster nodes get --id="$F2"
view "$F1" "$F2" r
check "F1 agrees again: ready" test "$(code "$F2")" = r
view "$F3" "$F2" d
check "F3 is down here: its stale view of F2 does not count" test "$(code "$F2")" = r
view "$F1" "$F3" d
check "F3 down by every trusted view: down" test "$(code "$F3")" = d
view "$F1" "$ME" d
check "a trusted peer sees this node down: different states for this node too" \
    test "$(code "$ME")" = x
view "$F1" "$ME" r
check "a joining node shows its stage, whatever the views" test "$(code "$F4")" = i
sql "UPDATE kmd_nodes SET state = 'v' WHERE node_id = '$F3'"
check "a removed node is not listed" test -z "$(ctl cluster nodes list | grep "$F3")"
check "but can be asked for: removed" test "$(code "$F3")" = v
LAST='"total": 4'
check "nodes list counts 4 nodes" says cluster nodes list
LAST='"code": "r"'
check "cluster info of this node: ready" says cluster info
check "no sanitizer report" sanitizer_clean
finish
