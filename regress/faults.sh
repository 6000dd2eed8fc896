#!/bin/sh
# `make check-faults`: seeded fault injection on a cluster of
# FAULT_NODES (3) with a writer on every node, each recording the inserts
# its node acknowledged.  Each episode injects one fault, its kind and
# nodes chosen from the seed (regress/cluster.sh does the network and the
# clock):
#
#   cut      nftables drops node K's traffic (cluster.sh cut K)
#   reject   the same with a TCP reset at once (cut K reject)
#   split    a minority that cannot reach the majority: on 3 or 4 nodes
#            K against the others, on 5 or more K and K+1 against the
#            rest (cluster.sh split; drop or reject)
#   bridge   node K reaches everyone, the other nodes in two halves that
#            cannot reach each other (cluster.sh bridge; drop or reject)
#   freeze   SIGSTOP of node K's PostgreSQL, then SIGCONT
#   freeze2  the same on two nodes at once
#   pgkill   SIGKILL of node K's postmaster (kmd starts it again)
#   worker   SIGKILL of one of node K's workers (replmon, joiner, hsm,
#            api; the parent starts it again)
#   parent   SIGKILL of node K's kmd parent, then the node started again
#   skew     node K's PostgreSQL clock stepped +1.5 s, -1.5 s (under the
#            2 s alarm), +5 s or -5 s (over it: some node must raise the
#            clock-skew alarm) through libfaketime, then stepped back
#            (cluster.sh skew; every node runs under KMD_CLUSTER_FAKETIME)
#   remove   while node F is cut (drop or reject) or frozen, or node K
#            itself is cut, node M removes node K (cluster nodes delete);
#            the fault ends; K runs cluster delete (a K that was cut off
#            may never learn of its removal: services reset instead) and
#            joins again through M, every writer but K's writing, half
#            the time with F frozen for 3 s during the join (a join a
#            frozen member kills is run again, and that is printed)
#   join     a spare node (FAULT_NODES + 1) joins through node M while
#            node X (not M) is cut off (drop or reject), its PostgreSQL
#            frozen, or its kmd parent killed; the fault ends.  The join
#            goes through, or ends killed or refused with its reason and
#            every member leaves joining; then it is run again and goes
#            through.  The spare is removed (nodes delete, cluster
#            delete) for the next episode
#   disk     node K's data directory, on a filesystem of its own (a
#            tmpfs of 512 MB for every node, when this kind is drawn
#            from), filled up to the last byte (cluster.sh fill K): its
#            writes fail, it raises disk-free, the other nodes go on
#            acknowledging writes; then the space is freed (unfill)
#   upgrade  the first time: a rolling upgrade to the next release
#            (KMD_NEXT, make next): every node, spares too, restarted on
#            it in turn, the writers on; then node X (not M) cut off
#            (drop or reject) or frozen, and cluster upgrade finish run
#            on node M: it goes through, or is refused saying why with
#            nothing changed and every node's writes going on; the fault
#            ends, and finish is run again if it was refused; every node
#            at the next schema.  Later draws: node K's kmd stopped
#            (TERM) and started again
#   race     two spares (FAULT_NODES + 1 and + 2) join at once, through
#            two members or through one: never both under way (one is
#            refused at once: the lease's holder, or the preflight's "one
#            join at a time", names the join under way); the one refused joins
#            after; every ready node then has a slot and a subscription
#            per other, and a row written on each spare reaches the
#            other; both are removed
#
# then undoes it and checks: every node ready on every node within
# FAULT_BOUND seconds, and still so 3 s later (8 s after a clock step,
# which may show as a walsender timeout 5 s later); the time from the
# undo to the last time all became ready is printed; every acknowledged
# insert present on every node, all nodes holding the same rows.
#
# What "acknowledged" promises.  An insert counts once psql returned 0
# on its node.  The writer of a node that is removed stops before the
# removal.  A ready node's removal fences it and every node left takes its
# stream up to the fence, a node cut off or frozen meanwhile too, once
# back: what it acknowledged stays promised.  A node removed with --force
# while it is cut off itself drains nothing: what it acknowledged is no
# longer promised (what only it saw goes with it, what an operator
# accepts when removing a node that is down), but it stays in the
# comparison of rows: the nodes left must hold the same ones.  After the
# join the node's writer starts again, and its new inserts are promised
# like any other.
#
# A failing episode prints its seed and number; FAULT_SEED=S FAULT_FROM=I
# replays from episode I of seed S (with the same FAULT_NODES and
# FAULT_KINDS).  At the end: the ready times, p50 and max, per kind and
# over all.
#
# Environment: KMD, KMCTL, KMD_NEXT (the upgrade kind); FAULT_EPISODES (50), FAULT_SEED (the time),
# FAULT_FROM (1), FAULT_NODES (3), FAULT_BOUND (90); FAULT_KINDS: the
# kinds to draw from, such as "skew remove" (default: all of them; a
# subset draws other episodes from the same seed); FAULT_LIST=1 prints
# the episodes the seed picks and runs none (to find a seed, or to see
# what a replay will do); FAULT_LOGS=DIR keeps each node's kmd.log and
# postgres.log there.
# Exit status: the number of failed checks.
set -u
cd "$(dirname "$0")/.." || exit 1
top=$(pwd)
: "${KMD:=$top/build/kmd}"
: "${KMCTL:=$top/build/kmctl}"
: "${FAULT_EPISODES:=50}"
: "${FAULT_SEED:=$(date +%s)}"
: "${FAULT_FROM:=1}"
: "${FAULT_NODES:=3}"
: "${FAULT_BOUND:=90}"
ALL_KINDS="cut reject split bridge freeze freeze2 pgkill worker parent skew disk upgrade remove join race"
: "${FAULT_KINDS:=$ALL_KINDS}"
N=$FAULT_NODES
S1=$((N + 1)) S2=$((N + 2))	# the spares the join and race kinds join
NEXT=${KMD_NEXT:-$top/build/next/kmd}

die() { echo "check-faults: $*" >&2; exit 1; }
[ "$N" -ge 3 ] || die "FAULT_NODES: 3 or more"
for f in $FAULT_KINDS; do
	case " $ALL_KINDS " in *" $f "*) ;; *) die "FAULT_KINDS: no kind $f ($ALL_KINDS)" ;; esac
done

# pick SEED I: "kind node variant other" for episode I, from md5 of
# "SEED-I": four numbers of 16 bits (mawk's rand() after srand() picked
# some kinds and nodes rarely)
pick() {
	h=$(printf '%s-%s' "$1" "$2" | md5sum | cut -c1-16)
	awk -v h="$h" -v n="$N" -v kinds="$FAULT_KINDS" 'BEGIN {
	    nk = split(kinds, f, " ")
	    for (i = 0; i < 4; i++) {
		v[i] = 0
		for (j = 1; j <= 4; j++)
		    v[i] = v[i] * 16 + index("0123456789abcdef", substr(h, 4 * i + j, 1)) - 1
	    }
	    printf "%s %d %d %d\n", f[1 + v[0] % nk], 1 + v[1] % n, v[2], v[3] }'
}
# nth K J: the node J places after node K, round the cluster
nth() { echo $(( ($1 - 1 + $2) % N + 1 )); }
mode_of() { [ $(($1 % 2)) -eq 0 ] && echo drop || echo reject; }

# plan: from "kind node variant other", the fault's words (set as
# globals): what inject and undo do, and a description
plan() {
	ef=$1 ek=$2 ev=$3 eo=$4
	e2= eg1= eg2= emode= eoff= ef2= er= em= ex=
	case $ef in
	cut) desc="cut node $ek" ;;
	reject) desc="cut node $ek (reject)" ;;
	split)
		emode=$(mode_of "$ev")
		if [ "$N" -ge 5 ]; then
			eg1="$ek $(nth "$ek" 1)"
			eg2="$(nth "$ek" 2) $(nth "$ek" 3) $(nth "$ek" 4)"
			for j in $(seq 5 $((N - 1))); do eg2="$eg2 $(nth "$ek" "$j")"; done
		else
			eg1=$ek
			eg2=
			for j in $(seq 1 $((N - 1))); do eg2="$eg2 $(nth "$ek" "$j")"; done
			eg2=${eg2# }
		fi
		desc="split {$eg1} | {$eg2} ($emode)" ;;
	bridge)
		emode=$(mode_of "$ev")
		h=$(( (N - 1) / 2 )) eg1= eg2=
		for j in $(seq 1 $((N - 1))); do
			if [ "$j" -le "$h" ]; then eg1="$eg1 $(nth "$ek" "$j")"
			else eg2="$eg2 $(nth "$ek" "$j")"; fi
		done
		eg1=${eg1# } eg2=${eg2# }
		desc="bridge node $ek between {$eg1} and {$eg2} ($emode)" ;;
	freeze) desc="freeze node $ek" ;;
	freeze2)
		e2=$(nth "$ek" $((1 + eo % (N - 1))))
		desc="freeze nodes $ek and $e2" ;;
	pgkill) desc="SIGKILL node $ek's postmaster" ;;
	worker)
		r=$(echo replmon joiner hsm api | cut -d' ' -f$((1 + ev % 4)))
		desc="SIGKILL node $ek's $r" ;;
	parent) desc="SIGKILL node $ek's kmd parent" ;;
	skew)
		eoff=$(echo +1.5 -1.5 +5 -5 | cut -d' ' -f$((1 + ev % 4)))
		desc="skew node $ek's clock $eoff s" ;;
	disk) desc="fill node $ek's data filesystem" ;;
	upgrade)
		em=$ek
		e2=$(nth "$ek" $((1 + eo % (N - 1))))
		ef2=$(echo cut reject freeze | cut -d' ' -f$((1 + ev % 3)))
		if [ -n "${UPGRADED:-}" ]; then
			desc="restart node $ek's kmd (TERM, then start)"
		else
			desc="rolling upgrade to the next release, then node $em finishes it while node $e2 is $(echo "cut off|cut off (reject)|frozen" | cut -d'|' -f$((1 + ev % 3)))"
		fi ;;
	remove)
		# X faulted (F, or K itself), M removes K and sponsors its
		# join again, F maybe frozen meanwhile
		e2=$(nth "$ek" $((1 + eo % (N - 1))))
		em=$(nth "$ek" $((1 + (eo % (N - 1) + 1 + (eo / 7) % (N - 2)) % (N - 1))))
		ef2=$(echo cut reject freeze self | cut -d' ' -f$((1 + ev % 4)))
		er=$(( (ev / 4) % 2 ))
		ex=$e2
		case $ef2 in
		cut) w="node $e2 is cut off" ;;
		reject) w="node $e2 is cut off (reject)" ;;
		freeze) w="node $e2 is frozen" ;;
		self) w="it is cut off itself" ex=$ek ;;
		esac
		desc="node $em removes node $ek while $w; node $ek joins again$( [ "$er" = 1 ] && echo ", node $e2 frozen for 3 s meanwhile")" ;;
	join|race)
		# M sponsors (race: M and M2), X is faulted
		em=$ek
		e2=$(nth "$ek" $((1 + eo % (N - 1))))
		ef2=$(echo cut reject freeze parent | cut -d' ' -f$((1 + ev % 4)))
		if [ "$ef" = race ]; then
			em2=$( [ $((ev % 2)) -eq 0 ] && echo "$em" || echo "$e2")
			desc="nodes $S1 and $S2 join at once through nodes $em and $em2"
		else
			desc="node $S1 joins through node $em while node $e2 is $(echo "cut off|cut off (reject)|frozen|without its kmd parent" | cut -d'|' -f$((1 + ev % 4)))"
		fi ;;
	esac
}

# FAULT_LIST=1: the episodes the seed picks, and nothing run
if [ "${FAULT_LIST:-}" = 1 ]; then
	for i in $(seq "$FAULT_FROM" "$FAULT_EPISODES"); do
		plan $(pick "$FAULT_SEED" "$i")
		echo "episode $i: $desc"
		[ "$ef" = upgrade ] && UPGRADED=1
	done
	exit 0
fi
[ "$(id -u)" -eq 0 ] || die "run as root (kmd must start as root)"
[ -x "$KMD" ] && [ -x "$KMCTL" ] || die "$KMD or $KMCTL not built (make)"

T=$(mktemp -d /tmp/kmd-faults.XXXXXX) || exit 1
chmod 755 "$T"
export KMD KMCTL KMD_CLUSTER_NS="kmd-faults-$$" KMD_CLUSTER_DIR="$T/c" \
    KMD_CLUSTER_FAKETIME=1
case " $FAULT_KINDS " in
*" disk "*) export KMD_CLUSTER_DISK_MB=512 ;;
esac
C="sh regress/cluster.sh"
D=$KMD_CLUSTER_DIR
CREDS_DIR=$T
. regress/common.sh
cleanup() {
	touch "$T/stop"
	wait 2>/dev/null
	if [ -n "${FAULT_LOGS:-}" ]; then
		for d in "$D"/node*; do
			mkdir -p "$FAULT_LOGS/${d##*/}" &&
			    cp "$d/kmd.log" "$d/data/pg/postgres.log" \
			    "$FAULT_LOGS/${d##*/}/" 2>/dev/null
		done
	fi
	$C down >/dev/null 2>&1
	rm -rf "$T"
}
trap cleanup EXIT
trap 'exit 130' INT TERM
q() { $C sql "$1" "$2"; }
q_is() { [ "$(q "$1" "$2")" = "$3" ]; }

echo "check-faults: $N nodes, seed $FAULT_SEED, episodes $FAULT_FROM..$FAULT_EPISODES, kinds: $FAULT_KINDS"
case " $FAULT_KINDS " in
*" join "*|*" race "*) UP=$S2 ;;
*) UP=$N ;;
esac
check "up $UP" $C up "$UP"
check "node 1: cluster new" $C ctl 1 cluster new --host=127.0.0.1 \
    --url=https://127.0.0.1:8443
for k in $(seq 2 "$N"); do
	if creds "$k" 1 && join "$k" 1 -y --block >/dev/null 2>&1; then
		ok "node $k joins"
	else
		fail "node $k joins"
	fi
done
[ "$FAILS" -eq 0 ] || exit "$FAILS"

# writer K: inserts on node K's database; the acknowledged ones (psql
# exit 0) go to acked.K.  It pauses while $T/pause or $T/pause.K exists.
writer() {
	k=$1 i=0
	while [ ! -e "$T/stop" ]; do
		if [ -e "$T/pause" ] || [ -e "$T/pause.$k" ]; then
			touch "$T/paused.$k"; sleep 0.2; continue
		fi
		rm -f "$T/paused.$k"
		i=$((i + 1))
		q "$k" "INSERT INTO kmd_keys (key_id, name, version, algorithm,
		    material_sealed) VALUES (gen_random_uuid(), 'w$k-$i', 1,
		    'aes', '\\x01')" >/dev/null 2>&1 && echo "w$k-$i" >>"$T/acked.$k"
	done
}
for k in $(seq 1 "$N"); do writer "$k" & done
# paused K...: the writers of nodes K... are between two inserts
paused() {
	for k in "$@"; do [ -e "$T/paused.$k" ] || return 1; done
}

pid_of() { cat "$D/node$1/kmd.pid" 2>/dev/null; }
# kill_parent K: SIGKILL of node K's kmd parent; its workers and
# PostgreSQL go by themselves
kill_parent() {
	p=$(pid_of "$1")
	kill -9 "$p"
	wait_for 20 sh -c "! pgrep -P $p >/dev/null && ! kill -0 $p 2>/dev/null"
	rm -f "$D/node$1/kmd.pid"
}
# fault_on K WHAT, fault_off K WHAT: the remove, join and race kinds'
# fault on node K (cut, reject, freeze, parent)
fault_on() {
	case $2 in
	cut) $C cut "$1" ;;
	reject) $C cut "$1" reject ;;
	freeze) $C freeze "$1" ;;
	parent) kill_parent "$1" ;;
	esac
}
fault_off() {
	case $2 in
	cut|reject) $C heal "$1" ;;
	freeze) $C thaw "$1" ;;
	parent) $C up "$N" >/dev/null 2>&1 ;;
	esac
}
inject() {
	case $ef in
	cut) $C cut "$ek" ;;
	reject) $C cut "$ek" reject ;;
	split) $C split "$eg1" "$eg2" "$emode" ;;
	bridge) $C bridge "$ek" "$eg1" "$eg2" "$emode" ;;
	freeze) $C freeze "$ek" ;;
	freeze2) $C freeze "$ek" && $C freeze "$e2" ;;
	pgkill) kill -9 "$(pgrep -P "$(pid_of "$ek")" -x postgres)" ;;
	worker) kill -9 "$(pgrep -P "$(pid_of "$ek")" -x "kmd: $r")" ;;
	parent) kill_parent "$ek" ;;
	skew) $C skew "$ek" "$eoff" ;;
	disk) $C fill "$ek" ;;
	esac
}
undo() {
	case $ef in
	cut|reject) $C heal "$ek" ;;
	split|bridge) $C heal ;;
	freeze) $C thaw "$ek" ;;
	freeze2) $C thaw "$ek"; $C thaw "$e2" ;;
	parent) $C up "$N" >/dev/null 2>&1 ;;
	skew) $C skew "$ek" 0 ;;
	disk) $C unfill "$ek" ;;
	esac
}

# clock_alarm SINCE: a node has an active clock-skew alarm raised since
# SINCE (ISO 8601, UTC)
clock_alarm() {
	for k in $(seq 1 "$N"); do
		$C ctl "$k" alarms list | python3 -c '
import json, sys
a = json.load(sys.stdin)["resources"]
sys.exit(not any(x["kind"] == "clock-skew" and x["active"] and
    x["raised"] >= sys.argv[1] for x in a))' "$1" && return 0
	done
	return 1
}
iso_now() { date -u +%Y-%m-%dT%H:%M:%S.%6NZ; }

# disk_fault: while node K's disk is full, it raises disk-free (in its
# log: its database may be down, so that no alarm is stored) and another
# node's writer goes on acknowledging inserts
acked_n() { wc -l <"$T/acked.$1" 2>/dev/null || echo 0; }
disk_fault() {
	o=$(nth "$ek" 1)
	before=$(acked_n "$o")
	if ! wait_for 20 grep -q "alarm: the data directory's filesystem has 0% free" "$D/node$ek/kmd.log"; then
		fail "episode $i ($desc): node $ek raises disk-free ($replay)"
		return 1
	fi
	if ! wait_for 20 sh -c "[ \$(wc -l <$T/acked.$o) -gt $before ]"; then
		fail "episode $i ($desc): node $o goes on acknowledging writes ($replay)"
		return 1
	fi
	sleep 3
}

# upgrade_episode: the upgrade kind (see the top), from its start to the
# upgrade finished; t0 when the last fault ended
upgrade_episode() {
	if [ -n "${UPGRADED:-}" ]; then
		stop_node "$ek"
		$C up "$UP" >/dev/null 2>&1 ||
		    { echo "  node $ek did not start again"; return 1; }
		t0=$(date +%s.%N)
		return 0
	fi
	[ -x "$NEXT" ] || { echo "  no next release at $NEXT (make next)"; return 1; }
	s0=$(q 1 "SELECT version FROM kmd_schema")
	export KMD=$NEXT KMCTL=$(dirname "$NEXT")/kmctl
	for k in $(seq 1 "$UP"); do
		stop_node "$k"
		cp "$KMCTL" "$D/node$k/kmctl"
		$C up "$UP" >/dev/null 2>&1 ||
		    { echo "  node $k did not start on the next release"; return 1; }
	done
	UPGRADED=1
	wait_for 60 all_ready || { echo "  not every node ready after the rolling restart"; return 1; }
	fault_on "$e2" "$ef2"
	sleep 2
	out=$($C ctl "$em" cluster upgrade finish -y 2>&1); rc=$?
	[ $rc -eq 0 ] ||
	    echo "  episode $i: finish with node $e2 $ef2: refused: $(echo "$out" | head -1 | cut -c1-200)"
	fault_off "$e2" "$ef2"
	t0=$(date +%s.%N)
	if [ $rc -ne 0 ]; then
		wait_for 60 all_ready || { echo "  not every node ready after the fault"; return 1; }
		out=$($C ctl "$em" cluster upgrade finish -y 2>&1) ||
		    { echo "  node $em: upgrade finish: $out"; return 1; }
	fi
	for k in $(seq 1 "$N"); do
		wait_for 60 q_is "$k" "SELECT version FROM kmd_schema" $((s0 + 1)) ||
		    { echo "  node $k: schema $(q "$k" "SELECT version FROM kmd_schema"), not $((s0 + 1))"; return 1; }
	done
}

# remove_episode: the remove kind, from fault to the node ready again
# cluster delete on node K.  It stops the walsenders of its slots, then
# drops them: a peer's apply worker that connects again in between (one
# that has not applied the removal yet) makes it fail, saying to run it
# again; it is, twice at most, and that is printed.
cluster_delete() {
	for a in 1 2 3; do
		out=$($C ctl "$ek" cluster delete -y 2>&1) && return 0
		echo "  episode $i: node $ek: cluster delete: $(echo "$out" | head -1 | cut -c1-200)"
		sleep 2
	done
	return 1
}

remove_episode() {
	id=$(id_of "$ek")
	[ -n "$id" ] || { echo "  no id for node $ek"; return 1; }
	fault_on "$ex" "$( [ "$ef2" = self ] && echo cut || echo "$ef2")"
	sleep 1
	# node K's writer stops; removed with --force (cut off itself), what
	# it acknowledged is no longer promised
	touch "$T/pause.$ek"
	wait_for 30 paused "$ek" || { echo "  node $ek's writer did not pause"; return 1; }
	[ "$ef2" = self ] && [ -f "$T/acked.$ek" ] &&
	    cat "$T/acked.$ek" >>"$T/gone" && rm -f "$T/acked.$ek"
	# (--force: a node cut off may already show down)
	out=$($C ctl "$em" cluster nodes delete --id="$id" -y \
	    $( [ "$ef2" = self ] && echo --force) 2>&1) ||
	    { echo "  node $em: cluster nodes delete: $out"; return 1; }
	sleep 2
	fault_off "$ex" "$( [ "$ef2" = self ] && echo cut || echo "$ef2")"
	t0=$(date +%s.%N)
	# A node removed while cut off does not learn of it: every node
	# refuses its certificate from then on, the row that says so never
	# reaches it, and it refuses cluster delete.  Its way out is a
	# services reset (which its error names).
	if wait_for $( [ "$ef2" = self ] && echo 15 || echo 60) sh -c \
	    "$C ctl $ek cluster info | grep -q '\"code\": \"[vk]\"'"; then
		cluster_delete || return 1
	elif [ "$ef2" = self ]; then
		echo "  episode $i: node $ek, removed while cut off, still says: $($C ctl "$ek" cluster info | tr -d '\n ' | cut -c1-100); services reset"
		out=$($C ctl "$ek" services reset -y 2>&1) ||
		    { echo "  node $ek: services reset: $out"; return 1; }
		wait_for 60 sh -c "$C ctl $ek cluster info 2>/dev/null | grep -q '\"code\": \"none\"'" ||
		    { echo "  node $ek: not reset within 60 s"; return 1; }
	else
		echo "  node $ek did not learn of its removal: $($C ctl "$ek" cluster info | tr -d '\n ')"
		return 1
	fi
	creds "$ek" "$em" || { echo "  credentials for node $ek from node $em"; return 1; }
	if [ "$er" = 1 ]; then
		(sleep 1; $C freeze "$e2"; sleep 3; $C thaw "$e2") &
		fpid=$!
	fi
	out=$(join "$ek" "$em" -y --block 2>&1); rc=$?
	if [ "$er" = 1 ]; then
		wait "$fpid"
		# A member that stops answering for 3 s (dblink's
		# connect_timeout) kills the join, which says so; the way on
		# is to run it again once the member is back
		if [ $rc -ne 0 ]; then
			echo "  episode $i: the join, node $e2 frozen, failed: $(echo "$out" | grep -m1 -i 'error\|killed' | tr -s ' '); joining again"
			out=$(join "$ek" "$em" -y --block 2>&1); rc=$?
		fi
	fi
	[ $rc -eq 0 ] || { echo "  node $ek: join through node $em: $(echo "$out" | tail -3)"; return 1; }
	rm -f "$T/pause.$ek"
}

# not_joining S: no member shows spare S in a joining state
not_joining() {
	for k in $(seq 1 "$N"); do
		[ "$(q "$k" "SELECT count(*) FROM kmd_nodes WHERE host =
		    '127.0.0.$1' AND state IN ('creating', 'b', 'i', 'c', 'o')")" = 0 ] ||
		    return 1
	done
}
# spare_out S: every row of spare S that counts toward the 20 nodes is
# removed through node M ($em: pending, killed, ready), and S is reset
spare_out() {
	for id in $(q "$em" "SELECT node_id FROM kmd_nodes WHERE host =
	    '127.0.0.$1' AND state NOT IN ('v', 'm')"); do
		$C ctl "$em" cluster nodes delete --id="$id" -y >/dev/null 2>&1 ||
		    out=$($C ctl "$em" cluster nodes delete --id="$id" -y \
		    --force 2>&1) ||
		    { echo "  node $em: nodes delete of node $1 ($id): $out"; return 1; }
	done
	$C ctl "$1" services reset --yes >/dev/null 2>&1
	wait_for 60 sh -c "$C ctl $1 cluster info 2>/dev/null | grep -q 'not clustered'" ||
	    { echo "  node $1: not reset within 60 s"; return 1; }
}
# after_failed S M: the join of spare S through node M failed (its
# client said why): once no member shows S joining, S is ready (the
# join went on without its client) or joins again through M
after_failed() {
	wait_for 60 not_joining "$1" ||
	    { echo "  a member shows node $1 joining 60 s on"; return 1; }
	wait_for "$FAULT_BOUND" all_ready
	if ready "$1"; then
		echo "  episode $i: node $1 is ready: its join went on without its client"
		return 0
	fi
	out=$(join "$1" "$2" -y --block 2>&1) ||
	    { echo "  node $1: join through node $2 again: $(echo "$out" | tail -3)"; return 1; }
}
# join_spare S M: spare S joins through node M, again once if the first
# try is refused or killed (which must say why)
join_spare() {
	out=$(join "$1" "$2" -y --block 2>&1) && return 0
	why=$(echo "$out" | grep -m1 -i 'kmctl:\|killed\|refused\|FAILED' | tr -s ' ' | cut -c1-240)
	echo "  episode $i: node $1's join through node $2 failed: ${why:-no reason given}"
	[ -n "$why" ] || return 1
	after_failed "$1" "$2"
}
join_episode() {
	creds "$S1" "$em" || { echo "  credentials for node $S1 from node $em"; return 1; }
	join "$S1" "$em" -y --block >"$T/join.out" 2>&1 &
	jp=$!
	sleep 1
	fault_on "$e2" "$ef2"
	sleep 3
	fault_off "$e2" "$ef2"
	t0=$(date +%s.%N)
	wait "$jp" && rc=0 || rc=$?
	if [ "$rc" -ne 0 ]; then
		why=$(grep -m1 -i 'kmctl:\|killed\|refused\|FAILED' "$T/join.out" | tr -s ' ' | cut -c1-240)
		echo "  episode $i: the join during the fault failed: ${why:-no reason given: $(tail -3 "$T/join.out" | tr '\n' ' ')}"
		[ -n "$why" ] || return 1
		after_failed "$S1" "$em" || return 1
	fi
	spare_out "$S1"
}
race_episode() {
	creds "$S1" "$em" && creds "$S2" "$em2" ||
	    { echo "  credentials for nodes $S1 and $S2"; return 1; }
	join "$S1" "$em" -y --block >"$T/race1.out" 2>&1 &
	p1=$!
	join "$S2" "$em2" -y --block >"$T/race2.out" 2>&1 &
	p2=$!
	wait "$p1" && r1=0 || r1=$?
	wait "$p2" && r2=0 || r2=$?
	t0=$(date +%s.%N)
	echo "  episode $i: join of node $S1: exit $r1, of node $S2: exit $r2"
	if [ "$r1" -eq 0 ] && [ "$r2" -eq 0 ]; then
		echo "  both joins went on"
		return 1
	fi
	for s in 1 2; do
		eval "r=\$r$s m=\$em$( [ $s = 2 ] && echo 2)"
		[ "$r" -eq 0 ] && continue
		grep -q 'holds the lease\|one join at a time' "$T/race$s.out" ||
		    { echo "  node $((N + s)): refused without naming the join under way: $(tail -2 "$T/race$s.out")"; return 1; }
		join_spare $((N + s)) "$m" || return 1
	done
	wait_for 60 ready_n $S2 $(seq 1 "$S2") ||
	    { echo "  not every node lists $S2 ready"; return 1; }
	for k in $(seq 1 "$S2"); do
		wait_for 60 sh -c "[ \"\$(sh regress/cluster.sh sql $k \"SELECT (SELECT count(*) FROM pg_replication_slots) || '/' || (SELECT count(*) FROM pglogical.subscription)\")\" = $((S2 - 1))/$((S2 - 1)) ]" ||
		    { echo "  node $k lacks a slot or a subscription per other node: $(q "$k" "SELECT (SELECT count(*) FROM pg_replication_slots) || '/' || (SELECT count(*) FROM pglogical.subscription)")"; return 1; }
	done
	q "$S1" "INSERT INTO kmd_keys (key_id, name, version, algorithm,
	    material_sealed) VALUES (gen_random_uuid(), 'race$i-$S1', 1, 'aes',
	    '\\x01')" >/dev/null
	q "$S2" "INSERT INTO kmd_keys (key_id, name, version, algorithm,
	    material_sealed) VALUES (gen_random_uuid(), 'race$i-$S2', 1, 'aes',
	    '\\x01')" >/dev/null
	wait_for 30 sh -c "[ \"\$(sh regress/cluster.sh sql $S1 \"SELECT count(*) FROM kmd_keys WHERE name LIKE 'race$i-%'\")\" = 2 ] && [ \"\$(sh regress/cluster.sh sql $S2 \"SELECT count(*) FROM kmd_keys WHERE name LIKE 'race$i-%'\")\" = 2 ]" ||
	    { echo "  a row written on one spare did not reach the other"; return 1; }
	spare_out "$S1" && spare_out "$S2"
}

same_rows() {
	s=$(q 1 "SELECT md5(string_agg(key_id::text || name, ',' ORDER BY key_id)) FROM kmd_keys")
	for k in $(seq 2 "$N"); do
		[ "$(q "$k" "SELECT md5(string_agg(key_id::text || name, ',' ORDER BY key_id)) FROM kmd_keys")" = "$s" ] || return 1
	done
}
has_acked() {
	sort "$T"/acked.* >"$T/acked.all" 2>/dev/null
	for k in $(seq 1 "$N"); do
		q "$k" "SELECT name FROM kmd_keys WHERE name LIKE 'w%'" |
		    sort >"$T/present.$k"
		[ -z "$(comm -23 "$T/acked.all" "$T/present.$k")" ] || return 1
	done
}
# rows_differ: what each node lacks of the rows any node holds, and
# whether a removed node's writer acknowledged them
rows_differ() {
	for k in $(seq 1 "$N"); do
		q "$k" "SELECT name FROM kmd_keys WHERE name LIKE 'w%'" |
		    sort >"$T/present.$k"
	done
	sort -u "$T"/present.* >"$T/present.any"
	sort -u "$T/gone" 2>/dev/null >"$T/gone.sorted"
	for k in $(seq 1 "$N"); do
		comm -23 "$T/present.any" "$T/present.$k" >"$T/lacks.$k"
		[ -s "$T/lacks.$k" ] || continue
		g=$(comm -12 "$T/lacks.$k" "$T/gone.sorted" | wc -l)
		echo "  node $k lacks $(wc -l <"$T/lacks.$k") rows other nodes hold, $g of them acknowledged by a node later removed: $(head -5 "$T/lacks.$k" | tr '\n' ' ')"
	done
}
all_ready() { ready_n "$N" $(seq 1 "$N"); }
# settled SECONDS: every node ready on every node within FAULT_BOUND s
# of t0, and still so at every check for SECONDS; t1: when they last all
# became ready.  A status that drops again in that time is printed.
settled() {
	end=$(($(date +%s) + FAULT_BOUND))
	while :; do
		wait_for $((end - $(date +%s))) all_ready || return 1
		t1=$(date +%s.%N)
		hold=$(($(date +%s) + $1)) flap=
		while [ "$(date +%s)" -lt "$hold" ]; do
			all_ready || { flap=1; break; }
			sleep 0.5
		done
		[ -z "$flap" ] && return 0
		echo "  episode $i: a node not ready again $(echo "$t1 $(date +%s.%N)" | awk '{ printf "%.1f", $2 - $1 }') s after all were"
	done
}

: >"$T/times"
: >"$T/gone"
for i in $(seq "$FAULT_FROM" "$FAULT_EPISODES"); do
	plan $(pick "$FAULT_SEED" "$i")
	replay="replay: FAULT_SEED=$FAULT_SEED FAULT_FROM=$i FAULT_NODES=$N$( [ "$FAULT_KINDS" != "$ALL_KINDS" ] && echo " FAULT_KINDS=\"$FAULT_KINDS\"")"
	sleep 1
	if [ "$ef" = remove ] || [ "$ef" = join ] || [ "$ef" = race ] ||
	    [ "$ef" = upgrade ]; then
		if ! "${ef}_episode"; then
			fail "episode $i ($desc) ($replay)"
			break
		fi
	else
		since=$(iso_now)
		inject
		if [ "$ef" = disk ] && ! disk_fault; then
			undo
			break
		elif [ "$ef" = skew ]; then
			sleep 6
			case $eoff in
			[+-]5) if ! wait_for 20 clock_alarm "$since"; then
				undo
				fail "episode $i ($desc): a node raises the clock-skew alarm ($replay)"
				break
			fi ;;
			esac
		else
			sleep 3
		fi
		undo
		t0=$(date +%s.%N)
	fi
	# a clock step shows as a walsender timeout (5 s) only later
	if ! settled "$( [ "$ef" = skew ] && echo 8 || echo 3)"; then
		fail "episode $i ($desc): every node ready within $FAULT_BOUND s ($replay)"
		for k in $(seq 1 "$N"); do
			echo "  node $k: $($C ctl "$k" cluster nodes list | grep -c '"code": "r"') ready"
		done
		break
	fi
	echo "$t0 $t1 $ef" | awk '{ printf "%s %.1f\n", $3, $2 - $1 }' >>"$T/times"
	touch "$T/pause"
	wait_for 30 paused $(seq 1 "$N")
	if wait_for 60 has_acked && wait_for 30 same_rows; then
		printf 'PASS: episode %d: %s, ready after %s s, %d acknowledged inserts on every node, same rows\n' \
		    "$i" "$desc" "$(tail -1 "$T/times" | cut -d' ' -f2)" "$(wc -l <"$T/acked.all")"
	else
		fail "episode $i ($desc): acknowledged inserts on every node, same rows ($replay)"
		for n in $(seq 1 "$N"); do
			l=$(comm -23 "$T/acked.all" "$T/present.$n" | wc -l)
			[ "$l" -eq 0 ] ||
			    echo "  node $n lacks $l acknowledged inserts: $(comm -23 "$T/acked.all" "$T/present.$n" | head -5 | tr '\n' ' ')"
		done
		rows_differ
		rm -f "$T/pause"
		break
	fi
	rm -f "$T/pause"
done
# the ready times: per kind and over all
stats() {
	sort -n | awk -v what="$1" '{ v[NR] = $1 } END { if (NR) printf "ready again after %s: p50 %.1f s, max %.1f s (%d episodes)\n", what, v[int((NR + 1) / 2)], v[NR], NR }'
}
for f in $ALL_KINDS; do
	awk -v f="$f" '$1 == f { print $2 }' "$T/times" | stats "$f"
done
cut -d' ' -f2 "$T/times" | stats "any fault"
echo "check-faults: $N nodes, seed $FAULT_SEED, $FAILS failed"
exit "$FAILS"
