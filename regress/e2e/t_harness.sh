# The local multi-node harness: independent nodes on 127.0.0.K, each its
# own PostgreSQL on port 5432, inside a namespace; torn down completely.
. regress/e2e/lib.sh
export KMD KMCTL KMD_CLUSTER_DIR="$T/cluster" KMD_CLUSTER_NS="kmd-e2e-h$$"
C="sh regress/cluster.sh"
down() { $C down >/dev/null 2>&1; }
trap 'down; cleanup' EXIT
trap 'exit 130' INT TERM

check "up 3 brings three nodes up" $C up 3
listening=$(ip netns exec "$KMD_CLUSTER_NS" ss -ltnH)
for k in 1 2 3; do
	check "node $k: PostgreSQL on 127.0.0.$k:5432 in the namespace" \
	    has "$listening" "127.0.0.$k:5432 "
	check "node $k: its own data directory and socket" \
	    test -S "$KMD_CLUSTER_DIR/node$k/kmd.sock" -a -d "$KMD_CLUSTER_DIR/node$k/data/pg/data"
done
check "nothing of theirs listens outside the namespace" \
    sh -c "! ss -ltnH | grep -Eq '127\.0\.0\.[23]:5432 '"
out=$($C ctl 2 cluster new --host=127.0.0.2 --url=https://127.0.0.2:8443); rc=$?
check "ctl 2 cluster new: node 2 is a cluster of one" \
    sh -c "[ $rc -eq 0 ] && $C ctl 2 cluster info | grep -q '\"nodeCount\": 1'"
check "nodes are independent: node 1 is not clustered" \
    sh -c "$C ctl 1 cluster info | grep -q 'not clustered'"
check "nodes are independent: node 3 is not clustered" \
    sh -c "$C ctl 3 cluster info | grep -q 'not clustered'"
check "node 2 lists itself on 127.0.0.2" \
    sh -c "$C ctl 2 cluster nodes list | grep -q '\"host\": \"127.0.0.2\"'"
check "list shows three running nodes" \
    test "$($C list | grep -c running)" -eq 3
out=$($C ctl 7 status 2>&1); rc=$?
check "ctl against a node that is not up: clear error" \
    refused $rc "$out" "node 7 is not running"
pids=$(ip netns pids "$KMD_CLUSTER_NS" | tr '\n' ' ')
check "down" $C down
check "down: the namespace is gone" \
    sh -c "! ip netns list | grep -q '^$KMD_CLUSTER_NS'"
gone() { for p in $pids; do kill -0 "$p" 2>/dev/null && return 1; done; return 0; }
check "down: every process of the cluster is gone" wait_for 5 gone
check "down: the files are gone" test ! -e "$KMD_CLUSTER_DIR"
finish
