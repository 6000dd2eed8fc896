# Helpers for the multi-node end-to-end tests, on top of lib.sh: a cluster
# of regress/cluster.sh nodes in a namespace of the test's own ($1 names
# it), and the join's steps.  Source after lib.sh: . regress/e2e/cluster_lib.sh X
export KMD KMCTL KMD_CLUSTER_DIR="$T/cluster" KMD_CLUSTER_NS="kmd-e2e-$1$$"
C="sh regress/cluster.sh"
D=$KMD_CLUSTER_DIR
down() { touch "$T/stop"; $C down >/dev/null 2>&1; }
trap 'down; cleanup' EXIT INT TERM

ns() { ip netns exec "$KMD_CLUSTER_NS" "$@"; }
# q K SQL: run SQL on node K's database, values only
q() { ns su postgres -s /bin/sh -c "psql -X -A -t -q -h $D/node$1/data/run -U kmd kmd -c \"$2\""; }
# field FILE KEY: a string member of a JSON file
field() { python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))[sys.argv[2]], end="")' "$@"; }
# ready K: node K is in a cluster and ready
ready() { $C ctl "$1" cluster info 2>/dev/null | grep -q '"code": "r"'; }

# creds K M: cluster csr on node K, nodes create on node M; files in $T
creds() {
	$C ctl "$1" cluster csr --host="127.0.0.$1" >"$T/csr$1.json" &&
	field "$T/csr$1.json" csr >"$T/n$1.csr" &&
	$C ctl "$2" cluster nodes create --csr="$T/n$1.csr" \
	    --newnodehost="127.0.0.$1" >"$T/cred$1.json" &&
	field "$T/cred$1.json" cert >"$T/n$1.crt" &&
	field "$T/cred$1.json" cachain >"$T/ca.crt"
}

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
