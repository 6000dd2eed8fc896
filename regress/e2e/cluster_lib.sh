# Helpers for the multi-node end-to-end tests, on top of lib.sh: a cluster
# of regress/cluster.sh nodes in a namespace of the test's own ($1 names
# it), and the join's steps.  Source after lib.sh: . regress/e2e/cluster_lib.sh X
export KMD KMCTL KMD_CLUSTER_DIR="$T/cluster" KMD_CLUSTER_NS="kmd-e2e-$1$$"
C="sh regress/cluster.sh"
D=$KMD_CLUSTER_DIR
CREDS_DIR=$T
down() { touch "$T/stop"; $C down >/dev/null 2>&1; }
# After a failure, the end of each node's log: what CI shows of the cause.
node_logs() {
	[ "$FAILS" -ne 0 ] || return 0
	for l in "$D"/node*/kmd.log; do
		[ -s "$l" ] || continue
		echo "--- the last lines of $l ---"; tail -n 40 "$l"
	done
}
trap 'node_logs; down; cleanup' EXIT
trap 'exit 130' INT TERM

ns() { ip netns exec "$KMD_CLUSTER_NS" "$@"; }
# health K [QUERY]: the status of node K's GET system/health (no token)
health() {
	ns curl -sk -m 20 -o /dev/null -w '%{http_code}' \
	    "https://127.0.0.$1:8443/api/v1/system/health${2:-}"
}
health_is() { [ "$(health "$1")" = "$2" ]; }
# q K SQL: run SQL on node K's database, values only
q() { $C sql "$1" "$2"; }
# q_is K SQL VALUE: the query's answer on node K is VALUE
q_is() { [ "$(q "$1" "$2")" = "$3" ]; }
# q_all N SQL VALUE: the query's answer is VALUE on each of nodes 1..N
q_all() {
	for k in $(seq 1 "$1"); do q_is "$k" "$2" "$3" || return 1; done
}

# as_peer K M SQL: SQL on node M's PostgreSQL over TLS with node K's
# certificate (as kmd_repl, the role of every peer), with its errors; K
# may be a directory with server.crt, server.key and ca.crt instead
as_peer() {
	case $1 in
	/*) t=$1 u=root ;;
	*) t=$D/node$1/data/pg/data/kmd-tls u=kmdpg$1 ;;
	esac
	(cd / && ns runuser -u "$u" -- env PGSSLCERT="$t/server.crt" \
	    PGSSLKEY="$t/server.key" PGSSLROOTCERT="$t/ca.crt" \
	    psql -X -A -t -v ON_ERROR_STOP=1 "host=127.0.0.$2 dbname=kmd \
	    user=kmd_repl sslmode=verify-full connect_timeout=5" -c "$3" 2>&1)
}
# peer_says K M SQL TEXT: ... and its answer or error has TEXT
peer_says() { has "$(as_peer "$1" "$2" "$3")" "$4"; }
# peer_powerless K M: what node K's certificate must not do on node M,
# each refused by PostgreSQL's privileges or by the function's own check
peer_powerless() {
	k=$1 m=$2 peer=${3:-peer $1}
	denied="permission denied\|must be superuser"
	me=$(q "$m" "SELECT node_id FROM kmd_local")
	check "$peer on $m: logs in, no superuser" \
	    peer_says "$k" "$m" "SELECT 'in', rolsuper FROM pg_roles WHERE
	    rolname = current_user" "^in|f$"
	for s in "COPY (SELECT 1) TO PROGRAM 'id'" \
	    "SELECT pg_read_file('PG_VERSION')" \
	    "SELECT lo_import('/etc/hostname')" \
	    "SELECT pg_ls_dir('.')" \
	    "SELECT pglogical.create_subscription('x', 'host=127.0.0.9')" \
	    "SELECT pglogical.replicate_ddl_command('SELECT 1')" \
	    "SELECT pglogical.alter_node_add_interface('a', 'b', 'c')" \
	    "SELECT pglogical.alter_subscription_disable('x', true)" \
	    "SELECT dblink_connect('x', 'host=127.0.0.1 password=x')" \
	    "SELECT kmd_fence()" "SELECT kmd_join_reap(1)" \
	    "UPDATE kmd_nodes SET host = host" "DELETE FROM kmd_keys" \
	    "SELECT * FROM kmd_local" "SELECT * FROM kmd_lease" \
	    "SELECT * FROM kmd_beat()" \
	    "INSERT INTO kmd_join_markers VALUES (kmd_beat_id('$me'), '$me')" \
	    "CREATE TABLE kmd_x ()" "SET ROLE kmd" \
	    "ALTER ROLE kmd_repl SUPERUSER"; do
		check "$peer on $m refused: $s" \
		    peer_says "$k" "$m" "$s" "$denied"
	done
	check "$peer on $m: takes no lease for another holder" \
	    peer_says "$k" "$m" "SELECT kmd_lease_take(gen_random_uuid(),
	    '$me', 'join', '$me', 0, 10, '')" "refused: the caller"
	check "$peer on $m: registers no join without its lease" \
	    peer_says "$k" "$m" "SELECT kmd_join_register(gen_random_uuid(),
	    '$me', 'h', 'h', 'v', 'c', 'software')" "no longer holds its lease"
	check "$peer on $m: no fence of a node not removed" \
	    peer_says "$k" "$m" "SELECT kmd_peer_drained()" "is not removed"
	e=$(q "$m" "SELECT kmd_epoch()")
	check "$peer on $m: a lease given back, not its own" peer_says \
	    "$k" "$m" "SELECT kmd_lease_release(gen_random_uuid(),
	    $((e + 1000)))" "^$"
	check "... pushes the epoch no further" \
	    q_is "$m" "SELECT kmd_epoch()" "$e"
}

# cluster_of N [PASSWORD]: nodes 1..N up, a cluster made on node 1 (with
# PASSWORD, user admin's password), the others joined through node 1
cluster_of() {
	check "up $1" $C up "$1"
	check "node 1: cluster new" $C ctl 1 cluster new --host=127.0.0.1 \
	    --url=https://127.0.0.1:8443
	[ -z "${2:-}" ] ||
	    echo "$2" | $C ctl 1 users set-password --name admin >/dev/null
	for k in $(seq 2 "$1"); do
		creds "$k" 1
		check "node $k joins" join "$k" 1 -y --block
	done
}
cluster_of_3() { cluster_of 3 secret-password; }

# upgrade_status K FIELD: a field of node K's cluster upgrade status
upgrade_status() {
	$C ctl "$1" cluster upgrade status | python3 -c 'import json,sys
print(json.load(sys.stdin)[sys.argv[1]])' "$2"
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
