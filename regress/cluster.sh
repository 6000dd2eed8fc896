#!/bin/sh
# A local cluster of independent kmd nodes inside a network namespace:
# node K runs on 127.0.0.K (PostgreSQL on 127.0.0.K:5432) with its own
# config, control socket and data directory under $KMD_CLUSTER_DIR/nodeK.
# Nothing listens outside the namespace.  Run as root.
#
#   regress/cluster.sh up N          start nodes 1..N (N <= 21: a cluster's
#                                    20, and one to be refused)
#   regress/cluster.sh ctl K ARGS    kmctl ARGS against node K
#   regress/cluster.sh sql K SQL     run SQL on node K's database (values)
#   regress/cluster.sh cut K         partition node K from the others (nft)
#   regress/cluster.sh heal K        undo cut K
#   regress/cluster.sh freeze K      SIGSTOP node K's PostgreSQL
#   regress/cluster.sh thaw K        SIGCONT node K's PostgreSQL
#   regress/cluster.sh list          the nodes, their pids and sockets
#   regress/cluster.sh down          stop everything, remove namespace and files
#
# KMD, KMCTL: the binaries (default build/kmd, build/kmctl);
# KMD_CLUSTER_DIR (default /tmp/kmd-cluster), KMD_CLUSTER_NS (default
# kmd-cluster) allow several clusters side by side.  KMD_CLUSTER_SYSLOG=1
# runs each kmd detached, logging to syslog, with its /dev/log bound to
# a listener that writes nodeK/syslog.  KMD_CLUSTER_EXTRA: lines added to
# the kmd.conf of each node started, %K standing for the node's number.
#
# Node K's PostgreSQL runs as its own user, kmdpgK: on one loopback every
# connection leaves from 127.0.0.1, so a partition tells the nodes' traffic
# apart by the socket's owner (nft meta skuid) and by conntrack marks.
set -u
top=$(cd "$(dirname "$0")/.." && pwd)
KMD=${KMD:-$top/build/kmd}
KMCTL=${KMCTL:-$top/build/kmctl}
DIR=${KMD_CLUSTER_DIR:-/tmp/kmd-cluster}
NS=${KMD_CLUSTER_NS:-kmd-cluster}

die() { echo "cluster.sh: $*" >&2; exit 1; }
usage() { sed -n '7,16s/^# //p' "$0" >&2; exit 1; }
node_arg() {
	case ${1:-} in ''|*[!0-9]*) die "give a node number" ;; esac
	[ -d "$DIR/node$1" ] || die "node $1 is not set up"
}
ns() { ip netns exec "$NS" "$@"; }

node_conf() {
	k=$1 d=$DIR/node$1
	mkdir -p "$d"
	chmod 755 "$DIR" "$d"
	cat > "$d/kmd.conf" <<EOF
socket "$d/kmd.sock"
datadir "$d/data"
host "127.0.0.$k"
api listen "127.0.0.$k" port 8443
dbuser "kmdpg$k"
EOF
	[ -n "${KMD_CLUSTER_EXTRA:-}" ] &&
	    printf '%s\n' "$KMD_CLUSTER_EXTRA" | sed "s/%K/$k/g" >> "$d/kmd.conf"
	id "kmdpg$k" >/dev/null 2>&1 || useradd --system --no-create-home \
	    --home-dir /nonexistent --shell /usr/sbin/nologin "kmdpg$k" ||
	    die "cannot create user kmdpg$k"
}

# The syslog listener of node K: datagrams on nodeK/log.sock to nodeK/syslog.
syslog_listen() {
	d=$DIR/node$1
	[ -f "$d/syslog.pid" ] && kill "$(cat "$d/syslog.pid")" 2>/dev/null
	rm -f "$d/log.sock"
	python3 -c '
import socket, sys
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
s.bind(sys.argv[1])
with open(sys.argv[2], "ab", buffering=0) as out:
    while True:
        out.write(s.recv(8192).rstrip(b"\0\n") + b"\n")
' "$d/log.sock" "$d/syslog" </dev/null >/dev/null 2>&1 &
	echo $! > "$d/syslog.pid"
	i=0
	until [ -S "$d/log.sock" ]; do
		i=$((i + 1)); [ $i -gt 50 ] && die "syslog listener of node $1"
		sleep 0.1
	done
}

node_up() {
	k=$1 d=$DIR/node$1
	node_conf "$k"
	if [ "${KMD_CLUSTER_SYSLOG:-}" = 1 ]; then
		syslog_listen "$k"
		# the mount point, on a machine without a syslogd
		if [ ! -e /dev/log ]; then
			: > /dev/log && touch "$DIR/made-dev-log"
		fi
		rm -f "$d/kmd.pid"
		unshare -m --propagation private sh -c "mount --bind \
		    '$d/log.sock' /dev/log && exec ip netns exec '$NS' \
		    '$KMD' -f '$d/kmd.conf'" >>"$d/kmd.log" 2>&1 </dev/null
		return
	fi
	ip netns exec "$NS" setsid "$KMD" -d -f "$d/kmd.conf" \
	    >>"$d/kmd.log" 2>&1 </dev/null &
	echo $! > "$d/kmd.pid"
}

# A detached kmd's pid, from its own answer.
note_pid() {
	d=$DIR/node$1
	[ -s "$d/kmd.pid" ] && return
	"$KMCTL" -s "$d/kmd.sock" status 2>/dev/null |
	    sed -n 's/.*"pid": \([0-9]*\),.*/\1/p' | head -1 > "$d/kmd.pid"
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
		note_pid "$k"
	done
}

cmd_up() {
	n=${1:-}
	case $n in ''|*[!0-9]*) die "up: give a node count from 1 to 21" ;; esac
	[ "$n" -ge 1 ] && [ "$n" -le 21 ] || die "up: 1 to 21 nodes"
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

cmd_sql() {
	node_arg "${1:-}"
	k=$1; shift
	(cd / && ns runuser -u "kmdpg$k" -- psql -X -A -t -q \
	    -h "$DIR/node$k/data/run" -U kmd kmd -c "$*")
}

# Node K's PostgreSQL processes: the postmaster and its children.
pg_pids() {
	pm=$(head -1 "$DIR/node$1/data/pg/data/postmaster.pid" 2>/dev/null) ||
	    die "node $1 has no PostgreSQL running"
	echo "$pm" $(pgrep -P "$pm")
}

cmd_freeze() { node_arg "${1:-}"; kill -STOP $(pg_pids "$1"); }
cmd_thaw() { node_arg "${1:-}"; kill -CONT $(pg_pids "$1"); }

# Partition node K: nothing from its PostgreSQL leaves for another
# address, nothing reaches 127.0.0.K:5432 from elsewhere, and a marked
# connection is dropped both ways (the other end's replies included).
cmd_cut() {
	node_arg "${1:-}"
	ns nft -f - <<NFT || die "nft failed"
table inet kmdcut$1 {
	chain out {
		type filter hook output priority 0; policy accept;
		ct mark 0x6b$1 drop
		meta skuid "kmdpg$1" ip daddr != 127.0.0.$1 ct mark set 0x6b$1 drop
		ip daddr 127.0.0.$1 tcp dport 5432 meta skuid != "kmdpg$1" ct mark set 0x6b$1 drop
	}
}
NFT
}

cmd_heal() {
	node_arg "${1:-}"
	ns nft delete table inet "kmdcut$1" 2>/dev/null
	return 0
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
	for d in "$DIR"/node*; do
		[ -f "$d/syslog.pid" ] && kill "$(cat "$d/syslog.pid")" 2>/dev/null
	done
	if [ -f "$DIR/made-dev-log" ] && [ -f /dev/log ] && [ ! -s /dev/log ]; then
		rm -f /dev/log
	fi
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
sql) cmd_sql "$@" ;;
cut) cmd_cut "$@" ;;
heal) cmd_heal "$@" ;;
freeze) cmd_freeze "$@" ;;
thaw) cmd_thaw "$@" ;;
list) cmd_list ;;
down) cmd_down ;;
*) usage ;;
esac
