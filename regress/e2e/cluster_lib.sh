# Helpers for the multi-node end-to-end tests, on top of lib.sh: a cluster
# of regress/cluster.sh nodes in a namespace of the test's own ($1 names
# it), and the join's steps.  Source after lib.sh: . regress/e2e/cluster_lib.sh X
export KMD KMCTL KMD_CLUSTER_DIR="$T/cluster" KMD_CLUSTER_NS="kmd-e2e-$1$$"
C="sh regress/cluster.sh"
D=$KMD_CLUSTER_DIR
CREDS_DIR=$T
down() { touch "$T/stop"; $C down >/dev/null 2>&1; }
trap 'down; cleanup' EXIT INT TERM

ns() { ip netns exec "$KMD_CLUSTER_NS" "$@"; }
# q K SQL: run SQL on node K's database, values only
q() { $C sql "$1" "$2"; }
# q_is K SQL VALUE: the query's answer on node K is VALUE
q_is() { [ "$(q "$1" "$2")" = "$3" ]; }
# q_all N SQL VALUE: the query's answer is VALUE on each of nodes 1..N
q_all() {
	for k in $(seq 1 "$1"); do q_is "$k" "$2" "$3" || return 1; done
}

# cluster_of_3: nodes 1..3 up, a cluster made on node 1 (user admin,
# password secret-password), nodes 2 and 3 joined through node 1
cluster_of_3() {
	check "up 3" $C up 3
	check "node 1: cluster new" $C ctl 1 cluster new --host=127.0.0.1 \
	    --url=https://127.0.0.1:8443
	echo secret-password | $C ctl 1 users set-password --name admin >/dev/null
	creds 2 1
	check "node 2 joins" join 2 1 -y --block
	creds 3 1
	check "node 3 joins" join 3 1 -y --block
}

# writes K N TAG: N rows written on node K, named TAG-1..TAG-N
writes() {
	q_is "$1" "WITH w AS (INSERT INTO kmd_keys (key_id, name, version,
	    algorithm, material_sealed) SELECT gen_random_uuid(), '$3-' || i, 1,
	    'aes256', '\\x01' FROM generate_series(1, $2) i RETURNING 1)
	    SELECT count(*) FROM w" "$2"
}

# same_keys K...: nodes K... hold the same kmd_keys as node 1
same_keys() {
	sql="SELECT md5(string_agg(key_id::text || name, ',' ORDER BY key_id))
	    FROM kmd_keys"
	s=$(q 1 "$sql")
	for k in "$@"; do q_is "$k" "$sql" "$s" || return 1; done
}

# no sanitizer report in any node's log
nodes_clean() {
	! grep -Eq 'ERROR: (Address|Leak)Sanitizer|runtime error:' "$D"/node*/kmd.log
}
