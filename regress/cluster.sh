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
#   regress/cluster.sh cut K [reject]
#                                    partition node K from the others (nft
#                                    drop; reject: a TCP reset at once)
#   regress/cluster.sh split G G... [reject]
#                                    nodes of different groups (each G a
#                                    list: "1 2") cannot reach each other;
#                                    within a group, and nodes in none, can
#   regress/cluster.sh bridge K A C [reject]
#                                    node K reaches both sides, the nodes of
#                                    A and of C not each other (split A C)
#   regress/cluster.sh heal [K]      undo cut K; without K every cut, split
#                                    and bridge
#   regress/cluster.sh freeze K      SIGSTOP node K's PostgreSQL
#   regress/cluster.sh thaw K        SIGCONT node K's PostgreSQL
#   regress/cluster.sh skew K SECS   node K's PostgreSQL clock SECS (+1.5,
#                                    -5, 0) off; needs KMD_CLUSTER_FAKETIME
#   regress/cluster.sh fill K [MB]   fill node K's data filesystem up,
#                                    MB (0) left free; needs
#                                    KMD_CLUSTER_DISK_MB
#   regress/cluster.sh unfill K      free what fill took
#   regress/cluster.sh list          the nodes, their pids and sockets
#   regress/cluster.sh down          stop everything, remove namespace and files
#
# KMD, KMCTL: the binaries (default build/kmd, build/kmctl; an executable
# nodeK/kmctl serves node K instead, for a node on another release);
# KMD_CLUSTER_DIR (default /tmp/kmd-cluster), KMD_CLUSTER_NS (default
# kmd-cluster) allow several clusters side by side.  KMD_CLUSTER_SYSLOG=1
# runs each kmd detached, logging to syslog, with its /dev/log bound to
# a listener that writes nodeK/syslog.  KMD_CLUSTER_EXTRA: lines added to
# the kmd.conf of each node started, %K standing for the node's number.
# KMD_CLUSTER_FAKETIME=1: each node started runs its PostgreSQL under
# libfaketime (below), so that skew can set its clock.
# KMD_CLUSTER_DISK_MB=M: each node set up keeps its data directory on a
# filesystem of its own of M MB (a tmpfs), for fill.
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
usage() { sed -n '7,32s/^# //p' "$0" >&2; exit 1; }
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
	[ "${KMD_CLUSTER_FAKETIME:-}" = 1 ] && faketime_pgbin "$k"
	if [ -n "${KMD_CLUSTER_DISK_MB:-}" ] && ! mountpoint -q "$d/data"; then
		mkdir -p "$d/data"
		mount -t tmpfs -o "size=${KMD_CLUSTER_DISK_MB}m,mode=0711" \
		    "kmd-disk-$k" "$d/data" || die "cannot mount node $k's data"
	fi
	[ -n "${KMD_CLUSTER_EXTRA:-}" ] &&
	    printf '%s\n' "$KMD_CLUSTER_EXTRA" | sed "s/%K/$k/g" >> "$d/kmd.conf"
	id "kmdpg$k" >/dev/null 2>&1 || useradd --system --no-create-home \
	    --home-dir /nonexistent --shell /usr/sbin/nologin "kmdpg$k" ||
	    die "cannot create user kmdpg$k"
}

# Clock skew.  kmd runs pgbin/postgres with the environment it has, so a
# node's own pgbin, nodeK/pgbin, holds links to PostgreSQL's programs and
# a postgres that preloads libfaketime and then runs the real one.  The
# offset is read from nodeK/faketime ("+0" at first; libfaketime reads it
# again at most a second later, FAKETIME_CACHE_DURATION), so skew steps
# the wall clock of the running PostgreSQL, as an NTP step would, with no
# restart.  The monotonic clock stays true (FAKETIME_DONT_FAKE_MONOTONIC;
# PostgreSQL times its waits with it), file times too (NO_FAKE_STAT).
#
# libfaketime wraps select(), poll() and epoll_wait() and reads the true
# clock for as long as they wait.  PostgreSQL 15's postmaster forks its
# background workers (pglogical's apply and sync workers among them) from
# a signal handler while it waits in select(): each of them would keep the
# true clock for good.  A second preload ahead of libfaketime,
# faketime-waits.so, gives those calls back to the C library: with an
# offset and no rate libfaketime has nothing to change in them.
# libfaketime keeps a semaphore and a segment in /dev/shm per postmaster;
# down removes those a killed one left.
faketime_waits() {
	so=$DIR/faketime-waits.so
	[ -f "$so" ] && return
	command -v cc >/dev/null || die "no C compiler for $so (sh etc/install-deps)"
	cat > "$DIR/faketime-waits.c" <<'EOF'
#include <sys/epoll.h>
#include <sys/select.h>
#include <sys/syscall.h>
#include <poll.h>
#include <signal.h>
#include <unistd.h>

int __select(int, fd_set *, fd_set *, fd_set *, struct timeval *);
int __poll(struct pollfd *, nfds_t, int);

int select(int n, fd_set *r, fd_set *w, fd_set *e, struct timeval *t)
{ return __select(n, r, w, e, t); }
int poll(struct pollfd *f, nfds_t n, int t)
{ return __poll(f, n, t); }
int epoll_pwait(int fd, struct epoll_event *ev, int n, int t,
    const sigset_t *m)
{ return syscall(SYS_epoll_pwait, fd, ev, n, t, m, _NSIG / 8); }
int epoll_wait(int fd, struct epoll_event *ev, int n, int t)
{ return epoll_pwait(fd, ev, n, t, NULL); }
EOF
	cc -shared -fPIC -O2 -o "$so.tmp" "$DIR/faketime-waits.c" &&
	    chmod 755 "$so.tmp" && mv -f "$so.tmp" "$so" ||
	    die "cannot build $so"
}

faketime_pgbin() {
	d=$DIR/node$1 real=${KMD_CLUSTER_PGBIN:-/usr/lib/postgresql/15/bin}
	lib=$(ls /usr/lib/*/faketime/libfaketime.so.1 \
	    /usr/lib/faketime/libfaketime.so.1 2>/dev/null | head -1)
	[ -n "$lib" ] || die "no libfaketime.so.1 (install libfaketime: sh etc/install-deps)"
	faketime_waits
	rm -rf "$d/pgbin"
	mkdir -p "$d/pgbin"
	for f in "$real"/*; do ln -s "$f" "$d/pgbin/"; done
	rm -f "$d/pgbin/postgres"
	cat > "$d/pgbin/postgres" <<EOF
#!/bin/sh
# node $1's PostgreSQL, its wall clock off by what $d/faketime says
export LD_PRELOAD="$DIR/faketime-waits.so $lib" \\
    FAKETIME_TIMESTAMP_FILE=$d/faketime FAKETIME_CACHE_DURATION=1 \\
    FAKETIME_DONT_FAKE_MONOTONIC=1 NO_FAKE_STAT=1
exec $real/postgres "\$@"
EOF
	chmod 755 "$d/pgbin" "$d/pgbin/postgres"
	[ -f "$d/faketime" ] || echo "+0" > "$d/faketime"
	chmod 644 "$d/faketime"
	echo "pgbin \"$d/pgbin\"" >> "$d/kmd.conf"
}

cmd_skew() {
	node_arg "${1:-}"
	d=$DIR/node$1 s=${2:-}
	case $s in
	''|*[!0-9.+-]*|?*[+-]*) die "skew: give seconds, such as +1.5, -5 or 0" ;;
	[+-]*) ;;
	*) s=+$s ;;
	esac
	grep -q "^pgbin \"$d/pgbin\"" "$d/kmd.conf" 2>/dev/null ||
	    die "node $1 runs its PostgreSQL without libfaketime (up it with KMD_CLUSTER_FAKETIME=1)"
	echo "$s" > "$d/faketime.new" && chmod 644 "$d/faketime.new" &&
	    mv -f "$d/faketime.new" "$d/faketime"
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

# node_kmctl K: the kmctl for node K: its own when it runs another
# release (nodeK/kmctl), else KMCTL
node_kmctl() {
	if [ -x "$DIR/node$1/kmctl" ]; then echo "$DIR/node$1/kmctl"
	else echo "$KMCTL"; fi
}

# A detached kmd's pid, from its own answer.
note_pid() {
	d=$DIR/node$1
	[ -s "$d/kmd.pid" ] && return
	"$(node_kmctl "$1")" -s "$d/kmd.sock" status 2>/dev/null |
	    sed -n 's/.*"pid": \([0-9]*\),.*/\1/p' | head -1 > "$d/kmd.pid"
}

# Wait until every node answers with its database up and its schema
# current (version shows the schema only then; before, operations are
# refused as not ready).
wait_up() {
	n=$1 i=0
	for k in $(seq 1 "$n"); do
		until "$(node_kmctl "$k")" -s "$DIR/node$k/kmd.sock" version \
		    2>/dev/null | grep -q '"schemaVersion": [0-9]'; do
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
	exec "$(node_kmctl "$k")" -s "$DIR/node$k/kmd.sock" "$@"
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

# (a backend may end between pgrep and kill: not an error)
# fill K [MB]: one file takes node K's data filesystem's free space but MB
cmd_fill() {
	node_arg "${1:-}"
	mountpoint -q "$DIR/node$1/data" || die "fill: node $1's data has no filesystem of its own (KMD_CLUSTER_DISK_MB)"
	avail=$(df -B1 --output=avail "$DIR/node$1/data" | tail -1)
	take=$((avail - ${2:-0} * 1048576))
	[ "$take" -gt 0 ] || return 0
	fallocate -l "$take" "$DIR/node$1/data/fill" ||
	    dd if=/dev/zero of="$DIR/node$1/data/fill" bs=1M \
	    count=$((take / 1048576)) 2>/dev/null
	:
}
cmd_unfill() { node_arg "${1:-}"; rm -f "$DIR/node$1/data/fill"; }
cmd_freeze() { node_arg "${1:-}"; p=$(pg_pids "$1") || exit 1; kill -STOP $p 2>/dev/null; :; }
cmd_thaw() { node_arg "${1:-}"; p=$(pg_pids "$1") || exit 1; kill -CONT $p 2>/dev/null; :; }

# The action of a partition's rules: drop, or reject with a TCP reset
# (an established connection's next packet either way gets one, so both
# ends fail at once).  The resets reject sends pass the output hook too,
# in the marked connection: the first rule lets them out.
nft_act() {
	case ${1:-drop} in
	drop) ACT=drop TCP= RST= ;;
	reject) ACT="reject with tcp reset" TCP="meta l4proto tcp"
		RST="tcp flags & rst == rst accept" ;;
	*) die "drop or reject, not $1" ;;
	esac
}

# Partition node K: nothing from its PostgreSQL leaves for another
# address, nothing reaches 127.0.0.K:5432 from elsewhere, and a marked
# connection is dropped (or reset) both ways, the other end's replies
# included.
cmd_cut() {
	node_arg "${1:-}"
	nft_act "${2:-drop}"
	ns nft delete table inet "kmdcut$1" 2>/dev/null
	ns nft -f - <<NFT || die "nft failed"
table inet kmdcut$1 {
	chain out {
		type filter hook output priority 0; policy accept;
		$RST
		ct mark 0x6b$1 $TCP $ACT
		ct mark 0x6b$1 drop
		meta skuid "kmdpg$1" ip daddr != 127.0.0.$1 $TCP ct mark set 0x6b$1 $ACT
		meta skuid "kmdpg$1" ip daddr != 127.0.0.$1 drop
		ip daddr 127.0.0.$1 tcp dport 5432 meta skuid != "kmdpg$1" ct mark set 0x6b$1 $ACT
	}
}
NFT
}

# Groups that cannot reach each other (split, bridge): for every node X
# of one group and Y of another, a connection X's PostgreSQL opens to
# 127.0.0.Y:5432 (pglogical's, dblink's: all traffic between nodes) is
# marked and dropped or reset, and so are the marked connection's packets
# either way.  One table, kmdsplit; a new split replaces the last.  Y's
# answers go to 127.0.0.1 from Y's socket and name no X: what Y's
# walsender sends on an open connection passes until X's end sends
# anything, its ACK included, so at most one burst, as a partition in
# the middle of a transfer would let through.
cmd_split() {
	mode=drop
	for a in "$@"; do :; done
	case ${a:-} in drop|reject) mode=$a ;; esac
	nft_act "$mode"
	groups=0 rules=
	for g in "$@"; do
		case $g in drop|reject) continue ;; esac
		groups=$((groups + 1))
		for x in $g; do node_arg "$x"; eval "grp_$x=$groups"; done
	done
	[ "$groups" -ge 2 ] || die "split: give two groups or more, such as \"1 2\" \"3 4 5\""
	for g in "$@"; do
		for x in $g; do
			case $x in drop|reject) continue ;; esac
			for h in "$@"; do
				for y in $h; do
					case $y in drop|reject) continue ;; esac
					eval "gx=\$grp_$x gy=\$grp_$y"
					[ "$gx" = "$gy" ] && continue
					rules="$rules
		meta skuid \"kmdpg$x\" ip daddr 127.0.0.$y tcp dport 5432 ct mark set 0x6c00 $ACT"
				done
			done
		done
	done
	ns nft delete table inet kmdsplit 2>/dev/null
	ns nft -f - <<NFT || die "nft failed"
table inet kmdsplit {
	chain out {
		type filter hook output priority 0; policy accept;
		$RST
		ct mark 0x6c00 $TCP $ACT
		ct mark 0x6c00 drop$rules
	}
}
NFT
}

# bridge K A C [reject]: K reaches both sides; split A C, K in neither.
cmd_bridge() {
	node_arg "${1:-}"
	[ $# -ge 3 ] || die "bridge: give the bridge node and two sides"
	for x in $2 $3; do
		[ "$x" != "$1" ] || die "bridge: node $1 is on a side"
	done
	b=$1; shift
	cmd_split "$@"
}

# heal K: undo cut K; heal: undo every cut, split and bridge.
cmd_heal() {
	if [ $# -gt 0 ]; then
		node_arg "$1"
		ns nft delete table inet "kmdcut$1" 2>/dev/null
		return 0
	fi
	for t in $(ns nft list tables 2>/dev/null |
	    sed -n 's/^table inet \(kmdcut[0-9]*\|kmdsplit\)$/\1/p'); do
		ns nft delete table inet "$t"
	done
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
	# what libfaketime kept in /dev/shm for a postmaster that was killed
	for f in /dev/shm/faketime_shm_* /dev/shm/sem.faketime_sem_*; do
		[ -e "$f" ] || continue
		case $(stat -c %U "$f") in kmdpg[0-9]*) ;; *) continue ;; esac
		kill -0 "${f##*_}" 2>/dev/null || rm -f "$f"
	done
	for d in "$DIR"/node*; do
		mountpoint -q "$d/data" 2>/dev/null && umount "$d/data"
	done
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
split) cmd_split "$@" ;;
bridge) cmd_bridge "$@" ;;
skew) cmd_skew "$@" ;;
heal) cmd_heal "$@" ;;
freeze) cmd_freeze "$@" ;;
fill) cmd_fill "$@" ;;
unfill) cmd_unfill "$@" ;;
thaw) cmd_thaw "$@" ;;
list) cmd_list ;;
down) cmd_down ;;
*) usage ;;
esac
