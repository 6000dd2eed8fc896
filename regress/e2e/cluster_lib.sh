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
# ready K: node K is in a cluster and ready
ready() { $C ctl "$1" cluster info 2>/dev/null | grep -q '"code": "r"'; }

# join K M [flags]: node K joins through member M with creds K's files
join() {
	k=$1 m=$2; shift 2
	$C ctl "$k" cluster join --member="127.0.0.$m" --host="127.0.0.$k" \
	    --cert="$T/n$k.crt" --cachain="$T/ca.crt" \
	    --mkek-blob="$(field "$T/cred$k.json" mkek_blob)" "$@"
}

# no sanitizer report in any node's log
nodes_clean() {
	! grep -Eq 'ERROR: (Address|Leak)Sanitizer|runtime error:' "$D"/node*/kmd.log
}
