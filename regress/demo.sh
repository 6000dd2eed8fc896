#!/bin/sh
# demo.sh BUILDDIR [down]: three nodes on 127.0.0.1-3 in a network
# namespace, a cluster made on node 1, what kmctl shows.  The cluster
# stays up for you to try kmctl against; with "down" it is torn down.
set -u
B=$1
export KMD=$B/kmd KMCTL=$B/kmctl
C="sh $(dirname "$0")/cluster.sh"
if [ "$(id -u)" -ne 0 ]; then
	echo "demo: run as root (kmd starts as root and drops privileges)" >&2
	exit 1
fi
say() { printf '\n\033[1m$ %s\033[0m\n' "$*"; }
run() { say "$@"; "$@" || exit 1; }

$C down >/dev/null 2>&1
run $C up 3
run $C ctl 1 cluster info
run $C ctl 1 cluster new --host=127.0.0.1 --url=https://127.0.0.1:8443
run $C ctl 1 cluster info
run $C ctl 2 cluster info
D=${KMD_CLUSTER_DIR:-/tmp/kmd-cluster}
for k in 1 2 3; do
	say "echo demo-password-$k | $C ctl $k users set-password --name admin"
	echo "demo-password-$k" | $C ctl $k users set-password --name admin ||
	    exit 1
done
# Node 2 joins in three steps, node 3 with fulljoin.
rm -f "$D/csr2.json" "$D/cred2.json"
run $C ctl 2 cluster csr --host=127.0.0.2 --out="$D/csr2.json"
run $C ctl 1 cluster nodes create --csr="$D/csr2.json" \
    --newnodehost=127.0.0.2 --out="$D/cred2.json"
run $C ctl 2 cluster join --member=127.0.0.1 --host=127.0.0.2 \
    --credentials="$D/cred2.json" -y --block
run ip netns exec kmd-cluster "$KMCTL" -s "$D/node1/kmd.sock" \
    --cacert "$D/node3/data/api/api.crt" cluster fulljoin \
    --member=127.0.0.1 --newnodehost=127.0.0.3 \
    --newnodeurl=https://127.0.0.3:8443 --newnodeuser=admin \
    --newnodepass=demo-password-3 -y
say "waiting for node 3 to be ready"
until $C ctl 3 cluster info 2>/dev/null | grep -q '"code": "r"'; do sleep 0.5; done
run $C ctl 3 cluster nodes list
run $C ctl 1 status
run $C ctl 1 version
run $C ctl 1 health
# The HTTPS API: node 1's password, now the cluster's, works on node 2.
run ip netns exec kmd-cluster "$KMCTL" --url https://127.0.0.2:8443 \
    --user admin --password demo-password-1 \
    --cacert "$D/node2/data/api/api.crt" cluster info
say "curl https://127.0.0.1:8443/api/v1/system/health (node 1, then node 2)"
ip netns exec kmd-cluster curl -s --cacert "$D/node1/data/api/api.crt" \
    -w ' HTTP %{http_code}\n' https://127.0.0.1:8443/api/v1/system/health
ip netns exec kmd-cluster curl -s --cacert "$D/node2/data/api/api.crt" \
    -w ' HTTP %{http_code}\n' https://127.0.0.2:8443/api/v1/system/health
say "ip netns exec kmd-cluster ss -ltn"
ip netns exec kmd-cluster ss -ltn
if [ "${2:-}" = down ]; then
	run $C down
else
	printf '\nThe cluster is still up.  Try:  sh regress/cluster.sh ctl 2 status\n'
	printf 'Tear it down with:           sh regress/cluster.sh down\n'
fi
