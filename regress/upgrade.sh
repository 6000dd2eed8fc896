#!/bin/sh
# make check-upgrade: rolling upgrades of 3 nodes, from the release
# before (make prev, a git tag) to this kmd, then from this kmd to the
# next release (make next); a writer on every node all along: each node
# restarted on the newer one in turn, node 1 killed (-9) in the window
# and started again; then every acknowledged write on every node, the
# same rows everywhere, the database still at the cluster's schema,
# cluster upgrade status naming what to do, and a join refused until the
# upgrade is finished; then cluster upgrade finish with the writers on
# and node 3 killed (-9) meanwhile (the first time once it is paused,
# the second once the step is committed), and a join once it is done.
# Needs root; KMD, KMCTL, KMD_PREV and KMD_NEXT name the binaries.
cd "$(dirname "$0")/.." || exit 1
. regress/e2e/lib.sh
. regress/e2e/cluster_lib.sh G
NEXT=${KMD_NEXT:-$PWD/build/next/kmd}
PREV=${KMD_PREV:-$PWD/build/prev/kmd}
CUR=$KMD
check "the next release is built (make next)" test -x "$NEXT"
check "the release before is built (make prev)" test -x "$PREV"

# writer K: keys made on node K until $T/stop-writer, each acknowledged
# one's name in $T/acked-K
writer() {
	i=0
	while [ ! -e "$T/stop-writer" ]; do
		i=$((i + 1))
		$C ctl "$1" keys create --name="w$1-$i" >/dev/null 2>&1 &&
		    echo "w$1-$i" >>"$T/acked-$1"
		sleep 0.05
	done
}

# status_next_is K TEXT: node K's upgrade status says TEXT is next
status_next_is() { [ "$(upgrade_status "$1" next 2>/dev/null)" = "$2" ]; }

# roll FROM TO WHEN: a cluster of 3 on kmd FROM, rolled to kmd TO, node
# 3 killed during the finish at WHEN (paused, committed); each
# node is driven by the kmctl of the release it runs (kmctl's control
# protocol is that of its own release), the one beside its kmd
roll() {
	from=$1 to=$2 when=$3
	KMD=$from
	KMCTL=$(dirname "$from")/kmctl
	rm -f "$T"/acked* "$T/stop-writer"
	cluster_of_3
	V=$($C ctl 1 version | sed -n 's/.*"kmdVersion": "\([^"]*\)".*/\1/p')
	S=$(q 1 "SELECT version FROM kmd_schema")
	TOV=$(KMD=$to strings "$to" | grep -m1 -x '0\.[0-9]*\.[0-9]*\(-next\)\{0,1\}')
	echo "== from kmd $V (schema $S) to kmd $TOV"
	for k in 1 2 3; do writer $k & eval "W$k=\$!"; done
	sleep 3
	for k in 1 2 3; do
		stop_node $k
		cp "$(dirname "$to")/kmctl" "$D/node$k/kmctl"
		KMD=$to $C up 3 >/dev/null
		check "node $k restarted on kmd $TOV" wait_for 60 sh -c \
		    "$C ctl $k version | grep -q '\"kmdVersion\": \"$TOV\"'"
		if [ $k = 1 ]; then
			want="upgrade window to schema $((S + 1)): 127.0.0.2,\
 127.0.0.3 still run kmd $V; restart each on kmd $TOV, one at a time, then\
 kmctl cluster upgrade finish"
			# (its database may not be ready for a moment)
			check "upgrade status on node 1: a window, nodes 2 and 3 named" \
			    wait_for 20 status_next_is 1 "$want"
			kill -9 "$(cat "$D/node1/kmd.pid")"
			rm -f "$D/node1/kmd.pid"
			sleep 2
			KMD=$to $C up 3 >/dev/null
			check "node 1 killed (-9) in the window: it comes back" \
			    wait_for 60 sh -c "$C ctl 1 version | grep -q $TOV"
		fi
		sleep 3
	done
	touch "$T/stop-writer"
	wait $W1 $W2 $W3
	cat "$T"/acked-* >"$T/acked"
	A=$(wc -l <"$T/acked")
	for k in 1 2 3; do
		echo "writer on node $k: $(wc -l <"$T/acked-$k") keys acknowledged"
		check "the writer on node $k was acknowledged through the restarts" \
		    test -s "$T/acked-$k"
	done
	check "every acknowledged key ($A) on every node" wait_for 60 q_all 3 \
	    "SELECT count(DISTINCT name) FROM kmd_keys WHERE name = ANY
	    ('{$(paste -sd, "$T/acked")}')" "$A"
	check "identical keys on the three nodes" wait_for 60 same_keys 2 3
	check "every node still at schema $S" q_all 3 \
	    "SELECT version FROM kmd_schema" "$S"
	check "upgrade status: every node runs kmd $TOV: finish it" \
	    test "$(upgrade_status 2 next)" = "every node runs kmd $TOV, which \
knows schema $((S + 1)): finish the upgrade (kmctl cluster upgrade finish)"
	KMCTL=$(dirname "$to")/kmctl
	check "up 4 on kmd $TOV" env KMD="$to" $C up 4
	creds 4 2
	out=$(join 4 2 -y --block 2>&1); rc=$?
	check "a join before the upgrade is finished: exit 1" test "$rc" = 1
	check "... finish the upgrade first" has "$out" \
	    "knows schema $((S + 1)), the cluster is at $S (kmd $TOV): if it is being upgraded, finish that first"

	# the finish, a writer on every node, node 3 killed (-9) meanwhile
	rm -f "$T"/acked* "$T/stop-writer"
	for k in 1 2 3; do writer $k & eval "W$k=\$!"; done
	sleep 2
	$C ctl 1 cluster upgrade finish -y >"$T/fin" 2>&1 &
	F=$!
	# node 3 killed as soon as it is seen paused (the finish may be
	# past its step by then: both ends are checked), or once node 1 has
	# committed the step (node 3 may not have applied it yet)
	case $when in
	paused) w="q_is 3 'SELECT paused_until IS NOT NULL FROM kmd_local' t" ;;
	committed) w="q_is 1 'SELECT schema_version FROM kmd_cluster' $((S + 1))" ;;
	esac
	i=0
	until eval "$w" 2>/dev/null || [ $i -ge 1500 ]; do
		i=$((i + 1)); sleep 0.02
	done
	kill -9 "$(cat "$D/node3/kmd.pid")"
	rm -f "$D/node3/kmd.pid"
	wait "$F"; rc=$?
	echo "finish with node 3 killed once $when: exit $rc: $(grep -E '"next"|kmctl' "$T/fin")"
	KMD=$to $C up 3 >/dev/null
	check "node 3 back on kmd $TOV" wait_for 60 sh -c \
	    "$C ctl 3 version | grep -q '\"kmdVersion\": \"$TOV\"'"
	if [ "$(q 1 "SELECT schema_version FROM kmd_cluster")" != $((S + 1)) ]; then
		check "the finish interrupted before the step: exit 1, nothing changed" \
		    sh -c "[ $rc = 1 ] && grep -q 'nothing was changed' $T/fin"
		check "... schema $S on every node" \
		    q_all 3 "SELECT version FROM kmd_schema" "$S"
		check "the finish again, every node up" wait_for 60 sh -c \
		    "$C ctl 1 cluster upgrade finish -y >$T/fin 2>&1"
	fi
	check "every node at schema $((S + 1)), the cluster's committed one" \
	    wait_for 60 q_all 3 "SELECT version || '/' || (SELECT
	    schema_version FROM kmd_cluster) FROM kmd_schema" \
	    "$((S + 1))/$((S + 1))"
	check "no node left paused" wait_for 30 q_all 3 "SELECT count(*) FROM
	    kmd_local WHERE paused_until > clock_timestamp()" 0
	sleep 2
	touch "$T/stop-writer"
	wait $W1 $W2 $W3
	cat "$T"/acked-* >"$T/acked"
	A=$(wc -l <"$T/acked")
	check "every key acknowledged around the finish ($A) on every node" \
	    wait_for 60 q_all 3 "SELECT count(DISTINCT name) FROM kmd_keys
	    WHERE name = ANY ('{$(paste -sd, "$T/acked")}')" "$A"
	check "identical keys on the three nodes" wait_for 60 same_keys 2 3
	check "upgrade status: no window" \
	    test "$(upgrade_status 2 windowOpen)" = False
	out=$(join 4 2 -y --block 2>&1); rc=$?
	check "node 4 on kmd $TOV joins the upgraded cluster" test "$rc" = 0
	[ "$rc" = 0 ] || echo "$out"
	check "no sanitizer report in the nodes' logs" nodes_clean
	$C down >/dev/null 2>&1
}

roll "$PREV" "$CUR" paused
roll "$CUR" "$NEXT" committed
finish
