#!/bin/sh
# A local cluster of independent kmd nodes inside a network namespace:
# node K runs on 127.0.0.K (PostgreSQL on 127.0.0.K:5432) with its own
# config, control socket and data directory under $KMD_CLUSTER_DIR/nodeK.
# Nothing listens outside the namespace.  Run as root.
#
#   regress/cluster.sh up N          start nodes 1..N (N <= 20)
#   regress/cluster.sh ctl K ARGS    kmctl ARGS against node K
#   regress/cluster.sh list          the nodes, their pids and sockets
#   regress/cluster.sh down          stop everything, remove namespace and files
#
# KMD, KMCTL: the binaries (default build/kmd, build/kmctl);
# KMD_CLUSTER_DIR (default /tmp/kmd-cluster), KMD_CLUSTER_NS (default
# kmd-cluster) allow several clusters side by side.
set -u
top=$(cd "$(dirname "$0")/.." && pwd)
KMD=${KMD:-$top/build/kmd}
KMCTL=${KMCTL:-$top/build/kmctl}
DIR=${KMD_CLUSTER_DIR:-/tmp/kmd-cluster}
NS=${KMD_CLUSTER_NS:-kmd-cluster}

die() { echo "cluster.sh: $*" >&2; exit 1; }
usage() { sed -n '7,10s/^# //p' "$0" >&2; exit 1; }

node_conf() {
	k=$1 d=$DIR/node$1
	mkdir -p "$d"
	chmod 755 "$DIR" "$d"
	cat > "$d/kmd.conf" <<EOF
socket "$d/kmd.sock"
datadir "$d/data"
host "127.0.0.$k"
api listen "127.0.0.$k" port 8443
EOF
}

node_up() {
	k=$1 d=$DIR/node$1
	node_conf "$k"
	ip netns exec "$NS" setsid "$KMD" -d -f "$d/kmd.conf" \
	    >>"$d/kmd.log" 2>&1 </dev/null &
	echo $! > "$d/kmd.pid"
}

# Wait until every node answers with its database up.
wait_up() {
	n=$1 i=0
	for k in $(seq 1 "$n"); do
		until "$KMCTL" -s "$DIR/node$k/kmd.sock" cluster info \
		    >/dev/null 2>&1; do
			i=$((i + 1))
			[ $i -gt 1200 ] && die "node $k did not come up; see $DIR/node$k/kmd.log"
			sleep 0.1
		done
	done
}

cmd_up() {
	n=${1:-}
	case $n in ''|*[!0-9]*) die "up: give a node count from 1 to 20" ;; esac
	[ "$n" -ge 1 ] && [ "$n" -le 20 ] || die "up: 1 to 20 nodes"
	[ "$(id -u)" -eq 0 ] || die "run as root"
	[ -x "$KMD" ] || die "$KMD not built (make)"
	if ! ip netns list | grep -qx "$NS\( .*\)\{0,1\}"; then
		ip netns add "$NS" || die "cannot create network namespace $NS"
	fi
	ip netns exec "$NS" ip link set lo up
	mkdir -p "$DIR"
	for k in $(seq 1 "$n"); do
		if [ -f "$DIR/node$k/kmd.pid" ] &&
		    kill -0 "$(cat "$DIR/node$k/kmd.pid")" 2>/dev/null; then
			continue
		fi
		node_up "$k"
	done
	wait_up "$n"
	echo "cluster.sh: $n node(s) up in namespace $NS under $DIR"
}

cmd_ctl() {
	k=${1:-}
	case $k in ''|*[!0-9]*) die "ctl: give a node number" ;; esac
	shift
	[ -S "$DIR/node$k/kmd.sock" ] || die "node $k is not running"
	exec "$KMCTL" -s "$DIR/node$k/kmd.sock" "$@"
}

cmd_list() {
	for d in "$DIR"/node*; do
		[ -f "$d/kmd.pid" ] || continue
		p=$(cat "$d/kmd.pid")
		s=down
		kill -0 "$p" 2>/dev/null && s=running
		printf '%s\t%s\t%s\t%s\n' "${d##*/}" "$p" "$s" "$d/kmd.sock"
	done
}

cmd_down() {
	for d in "$DIR"/node*; do
		[ -f "$d/kmd.pid" ] && kill -TERM "$(cat "$d/kmd.pid")" 2>/dev/null
	done
	i=0
	for d in "$DIR"/node*; do
		[ -f "$d/kmd.pid" ] || continue
		while kill -0 "$(cat "$d/kmd.pid")" 2>/dev/null && [ $i -lt 400 ]; do
			sleep 0.1; i=$((i + 1))
		done
	done
	if ip netns list | grep -q "^$NS\b"; then
		ip netns pids "$NS" 2>/dev/null | xargs -r kill -9 2>/dev/null
		ip netns del "$NS"
	fi
	rm -rf "$DIR"
	echo "cluster.sh: down"
}

cmd=${1:-}
[ $# -gt 0 ] && shift
case $cmd in
up) cmd_up "$@" ;;
ctl) cmd_ctl "$@" ;;
list) cmd_list ;;
down) cmd_down ;;
*) usage ;;
esac
