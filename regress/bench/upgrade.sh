#!/bin/sh
# `make bench`, fifth part: cluster upgrade finish on 3 nodes.  Each
# trial: a cluster of 3 on this kmd, every node restarted on the next
# release (make next), a writer on every node (kmctl keys create, one
# after another); then cluster upgrade finish on node 1.  Measured: the
# write pause the finish reports (from the first node paused to every
# node at the new schema, resumed), the finish's whole time (kmctl's
# round trip, the membership lease included), and the slowest key write
# acknowledged while it ran; p50 and max over the trials.
#
# Environment: KMD, KMCTL, KMD_NEXT (build/next/kmd); BENCH_TRIALS (3).
# Exit status 0 when the runs completed, whether or not the goals are met.
cd "$(dirname "$0")/../.." || exit 1
. regress/e2e/lib.sh
. regress/e2e/cluster_lib.sh B
NEXT=${KMD_NEXT:-$PWD/build/next/kmd}
: "${BENCH_TRIALS:=3}"
CUR=$KMD CURCTL=$KMCTL
[ -x "$NEXT" ] || { echo "bench: $NEXT not built (make next)" >&2; exit 1; }
GOAL_PAUSE_MS=5000

now_ms() { echo $(($(date +%s%N) / 1000000)); }
# writer K: keys made on node K until $T/stop, each one's latency (ms)
# in $T/lat-K
writer() {
	i=0
	while [ ! -e "$T/stop" ]; do
		i=$((i + 1)) a=$(now_ms)
		$C ctl "$1" keys create --name="b$1-$i" >/dev/null 2>&1 &&
		    echo "$(($(now_ms) - a))" >>"$T/lat-$1"
	done
}
# p50 / max of the numbers in a file
stats() {
	sort -n "$1" | awk '{ v[NR] = $1 } END {
	    printf "p50 %d / max %d ms", v[int((NR + 1) / 2)], v[NR] }'
}

: >"$T/pause"; : >"$T/whole"; : >"$T/slowest"
for trial in $(seq 1 "$BENCH_TRIALS"); do
	KMD=$CUR KMCTL=$CURCTL
	rm -f "$D"/node*/kmctl
	cluster_of_3 >/dev/null
	S=$(q 1 "SELECT version FROM kmd_schema")
	for k in 1 2 3; do
		stop_node $k
		cp "$(dirname "$NEXT")/kmctl" "$D/node$k/kmctl"
		KMD=$NEXT $C up 3 >/dev/null
	done
	wait_for 60 sh -c "[ \"\$($C ctl 1 cluster upgrade status | grep -c 0.3.0-next)\" -ge 4 ]"
	rm -f "$T/stop" "$T"/lat-*
	for k in 1 2 3; do writer $k & done
	sleep 3
	a=$(now_ms)
	$C ctl 1 cluster upgrade finish -y >"$T/fin" 2>&1
	rc=$?
	b=$(now_ms)
	sleep 2
	touch "$T/stop"
	wait
	p=$(sed -n 's/.*writes were paused for \([0-9]*\) ms.*/\1/p' "$T/fin")
	if [ "$rc" -ne 0 ] || [ -z "$p" ]; then
		echo "trial $trial: the finish failed: $(cat "$T/fin")"
	else
		echo "$p" >>"$T/pause"
		echo "$((b - a))" >>"$T/whole"
		cat "$T"/lat-* | sort -n | tail -n 1 >>"$T/slowest"
		echo "trial $trial: writes paused $p ms, finish $((b - a)) ms," \
		    "slowest write $(tail -n 1 "$T/slowest") ms, schema" \
		    "$(q 3 "SELECT version FROM kmd_schema") (from $S)"
	fi
	$C down >/dev/null 2>&1
done
[ -s "$T/pause" ] || exit 1
table_row "upgrade finish, 3 nodes: writes paused" "$(stats "$T/pause")" \
    "<= $GOAL_PAUSE_MS ms"
table_row "... the finish, kmctl's round trip" "$(stats "$T/whole")"
table_row "... slowest key write acknowledged" "$(stats "$T/slowest")"
echo "upgrade finish: writes paused $(stats "$T/pause"); the finish" \
    "$(stats "$T/whole"); slowest write $(stats "$T/slowest")"
