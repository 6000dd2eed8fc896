# The replication monitor end to end, 3 nodes logging to (their own)
# syslog.  Node 3's PostgreSQL frozen, then node 3 cut off by nftables:
# nodes 1 and 2 show it down within 5 s, with an alarm and one syslog line
# each, and go on taking writes; back, node 3 catches up (identical data),
# and the same when node 3 is stopped and started;
# the alarms clear with a syslog line and every node is ready again.
# cluster summary and alarms list, locally and over HTTPS, field by field.
# Last, the WAL, clock-skew and certificate alarms through their limits.
. regress/e2e/lib.sh
. regress/e2e/cluster_lib.sh R
export KMD_CLUSTER_SYSLOG=1
cluster_of_3

N1=$(id_of 1) N2=$(id_of 2) N3=$(id_of 3)
# status K ID: node K's status code for node ID
status() {
	$C ctl "$1" cluster nodes get --id="$2" |
	    sed -n 's/.*"code": "\(.*\)".*/\1/p'
}
all_ready() { ready_n 3 1 2 3; }
both_see_3() { [ "$(status 1 "$N3")" = "$1" ] && [ "$(status 2 "$N3")" = "$1" ]; }
# alarm_up K TEXT: node K has an active alarm saying TEXT
alarm_up() { $C ctl "$1" alarms list | grep -q "$2"; }
no_alarms() { $C ctl "$1" alarms list | grep -q '"total": 0'; }
# syslog_count K TEXT: lines saying TEXT in node K's syslog
syslog_count() { grep -c "$2" "$D/node$1/syslog"; }
# summary_ok K N [STALE]: node K's summary passes summary_check.py
summary_ok() {
	$C ctl "$1" cluster summary >"$T/summary.json" &&
	    python3 regress/e2e/summary_check.py "$2" ${3:-} <"$T/summary.json" \
	    2>"$T/why" || { cat "$T/why" >>"$T/why.all"; return 1; }
}

check "all three nodes ready, on every node" wait_for 15 all_ready
check "no alarm anywhere (no unknown-slot either)" sh -c "$C ctl 1 alarms list | grep -q '\"total\": 0' &&
    $C ctl 3 alarms list | grep -q '\"total\": 0'"
# The heartbeat of its own: one small row a node, on every node, each
# peer's marked as beating where it arrives, and stamped again and again.
beat_of() { q "$1" "SELECT made FROM kmd_join_markers WHERE join_id = kmd_beat_id('$2')"; }
check "heartbeats: one row of each node's, on every node" \
    wait_for 10 q_all 3 "SELECT count(*) FROM kmd_join_markers WHERE join_id =
    kmd_beat_id(origin)" 3
check "... each node's two peers beat there" q_all 3 "SELECT count(*) FROM
    kmd_peer_seen WHERE beat" 2
B=$(beat_of 1 "$N2")
beat_moved() { [ "$(beat_of 1 "$N2")" != "$B" ]; }
check "... node 2's, as node 1 has it, is stamped again" wait_for 5 beat_moved
check "... nodes answer their own heartbeat's times, not a peer's" \
    q_is 2 "SELECT count(*) FROM kmd_beat()" 2
# A peer without the heartbeat (an older kmd, during an upgrade) is heard
# from only at its ticks: node 1 made deaf to beats, ticking every 2 s,
# its peers every 3 s (SIGHUP), samples their silence at 0-1, 1-2 and
# 2-3 s, past its down-after of 1.25 s; it never calls them down, for
# it gives a peer that does not beat two and a half of its ticks.
q 1 "ALTER TABLE kmd_join_markers DISABLE TRIGGER kmd_beat;
    UPDATE kmd_peer_seen SET beat = false" >/dev/null
for k in 1 2 3; do
	cp "$D/node$k/kmd.conf" "$T/node$k.conf.0"
	echo "replmon interval $([ $k = 1 ] && echo 2000 || echo 3000)" \
	    >>"$D/node$k/kmd.conf"
	kill -HUP "$(cat "$D/node$k/kmd.pid")"
done
never_down() {
	for i in $(seq 1 24); do
		s2=$(status 1 "$N2") s3=$(status 1 "$N3")
		[ "$s2" = r ] && [ "$s3" = r ] || { echo "node 1 sees: $s2 $s3"; return 1; }
		sleep 0.5
	done
}
check "peers heard only every 3 s: node 1 never calls them down (12 s)" never_down
check "... none beats, as node 1 has it" q_is 1 "SELECT count(*) FROM
    kmd_peer_seen WHERE beat" 0
for k in 1 2 3; do
	cp "$T/node$k.conf.0" "$D/node$k/kmd.conf"
	kill -HUP "$(cat "$D/node$k/kmd.pid")"
done
q 1 "ALTER TABLE kmd_join_markers ENABLE REPLICA TRIGGER kmd_beat" >/dev/null
check "... beats heard again" wait_for 10 q_is 1 "SELECT count(*) FROM
    kmd_peer_seen WHERE beat" 2
check "summary: the reference's fields, 3 reporters x 3 nodes, all GOOD" \
    wait_for 5 summary_ok 1 3
check "summary on node 3 too, and every entry GOOD" \
    sh -c "$C ctl 3 cluster summary | python3 regress/e2e/summary_check.py 3 &&
    [ \$($C ctl 3 cluster summary | grep -c '\"summary\": \"GOOD\"') = 9 ]"

# node 1's /metrics (its admin's token): a sample's value
mtok=$(ns curl -sk -d '{"username":"admin","password":"secret-password"}' \
    https://127.0.0.1:8443/api/v1/auth/tokens | sed -n 's/.*"token":"\([^"]*\)".*/\1/p')
scrape1() {
	ns curl -sk -H "Authorization: Bearer $mtok" https://127.0.0.1:8443/metrics
}
metric_is() { [ "$(scrape1 | grep -v '^#' | grep -F "$1 " | awk '{print $NF}')" = "$2" ]; }
check "metrics on node 1: node 2 up" wait_for 10 metric_is "kmd_peer_up{peer=\"$N2\",host=\"127.0.0.2\"}" 1
check "... node 3 connected" wait_for 10 metric_is "kmd_peer_connected{peer=\"$N3\",host=\"127.0.0.3\"}" 1
check "... no node-down alarm" metric_is 'kmd_alarms_active{kind="node-down"}' 0

# ---- node 3's PostgreSQL frozen (SIGSTOP): alive to TCP, silent ----
$C freeze 3
check "frozen: nodes 1 and 2 show node 3 down within 5 s" wait_for 5 both_see_3 d
check "node 1 raised an alarm naming node 3 and what to do" \
    alarm_up 1 "node $N3 (127.0.0.3) is down.*cluster nodes delete --id=$N3"
check "node 2 raised one too" alarm_up 2 "node $N3 (127.0.0.3) is down"
check "node 1's metrics: kmd_peer_up of node 3 is 0" wait_for 10 metric_is "kmd_peer_up{peer=\"$N3\",host=\"127.0.0.3\"}" 0
check "... of node 2: 1" metric_is "kmd_peer_up{peer=\"$N2\",host=\"127.0.0.2\"}" 1
check "... kmd_peer_status of node 3: code d" metric_is "kmd_peer_status{peer=\"$N3\",host=\"127.0.0.3\",code=\"d\"}" 1
check "... kmd_alarms_active node-down: 1" metric_is 'kmd_alarms_active{kind="node-down"}' 1
check "... the text still clean for promtool" sh -c "ip netns exec $KMD_CLUSTER_NS curl -sk -H 'Authorization: Bearer $mtok' https://127.0.0.1:8443/metrics | promtool check metrics"
check "one syslog line on node 1 (daemon.err)" \
    wait_for 2 test "$(syslog_count 1 "^<27>.*replmon: alarm: node $N3 (127.0.0.3) is down")" = 1
check "one syslog line on node 2" \
    wait_for 2 test "$(syslog_count 2 "replmon: alarm: node $N3 (127.0.0.3) is down")" = 1
check "node 1 still takes writes" writes 1 200 frozen1
check "node 2 still takes writes" writes 2 200 frozen2
check "summary on node 1: node 3 BAD:node is inactive, with its error" \
    sh -c "$C ctl 1 cluster summary | python3 -c '
import json, sys
e = json.load(sys.stdin)[\"resources\"][\"$N1\"][\"clusterSummary\"][\"$N3\"]
assert e[\"summary\"] == \"BAD:node is inactive\", e[\"summary\"]
assert e[\"nodeInfo\"][\"status\"] == {\"code\": \"d\", \"description\": \"down\"}
assert \"is down\" in e[\"clusterErrors\"][0][\"errorMessage\"]
'"
check "still one syslog line per transition on node 1" \
    test "$(syslog_count 1 "alarm: node $N3")" = 1
$C thaw 3
check "thawed: node 3 has the writes of nodes 1 and 2" \
    wait_for 30 q_is 3 "SELECT count(*) FROM kmd_keys WHERE name LIKE 'frozen_-%'" 400
check "ready again on every node" wait_for 30 all_ready
check "node 1's alarm cleared" wait_for 10 no_alarms 1
check "node 2's alarm cleared" wait_for 10 no_alarms 2
check "a syslog line says so on node 1" \
    test "$(syslog_count 1 "alarm cleared: node $N3 (127.0.0.3) is up again")" = 1
check "the cleared alarm is kept: alarms list --all" \
    sh -c "$C ctl 1 alarms list --all | grep -q '\"active\": false'"
check "identical data on the 3 nodes" wait_for 10 same_keys 2 3

# ---- node 3 cut off by nftables, writing on its own side too ----
$C cut 3
check "cut: nodes 1 and 2 show node 3 down within 5 s" wait_for 5 both_see_3 d
check "node 3 shows nodes 1 and 2 down" wait_for 5 sh -c \
    "[ \$($C ctl 3 cluster nodes list | grep -c '\"code\": \"d\"') = 2 ]"
check "node 3 raised alarms for both" \
    sh -c "[ \$($C ctl 3 alarms list | grep -c 'is down: nothing received') = 2 ]"
check "alarm and syslog line on node 1" sh -c "$C ctl 1 alarms list | grep -q 'node $N3' &&
    [ \$(grep -c 'alarm: node $N3' $D/node1/syslog) = 2 ]"
check "writes on node 1 during the cut" writes 1 300 cut1
check "writes on node 2 during the cut" writes 2 300 cut2
check "writes on node 3 during the cut" writes 3 300 cut3
F0=$FAILS
check "node 1's summary: node 3's view is the stale one" \
    wait_for 10 summary_ok 1 3 "$N3"
[ "$FAILS" = "$F0" ] || tail -3 "$T/why.all"
$C heal 3
check "healed: every write on every node" wait_for 60 sh -c \
    "for k in 1 2 3; do [ \"\$($C sql \$k \"SELECT count(*) FROM kmd_keys WHERE name LIKE 'cut_-%'\")\" = 900 ] || exit 1; done"
check "ready again on every node" wait_for 30 all_ready
check "alarms cleared on nodes 1, 2 and 3" wait_for 10 sh -c \
    "for k in 1 2 3; do $C ctl \$k alarms list | grep -q '\"total\": 0' || exit 1; done"
check "identical data on the 3 nodes" wait_for 10 same_keys 2 3
check "summary GOOD again everywhere" wait_for 10 sh -c \
    "[ \$($C ctl 2 cluster summary | grep -c '\"summary\": \"GOOD\"') = 9 ]"

# ---- node 3 stopped: its kmd and PostgreSQL shut down, then started ----
kill -TERM "$(cat "$D/node3/kmd.pid")"
check "stopped: nodes 1 and 2 show node 3 down within 5 s" wait_for 5 both_see_3 d
check "writes on node 1 while node 3 is stopped" writes 1 100 stop1
check "node 1's view of it: disconnected, behind, its lags intervals that are
    not zero" sh -c "$C ctl 1 cluster summary | python3 -c '
import json, re, sys
e = json.load(sys.stdin)[\"resources\"][\"$N1\"][\"clusterSummary\"][\"$N3\"]
ni = e[\"nodeInfo\"]
assert ni[\"state\"] == \"disconnected\" and ni[\"replayLagBytes\"] > 0, ni
for f in (\"writeLag\", \"flushLag\", \"replayLag\",
          \"catchupInterval\"):
    v = ni.get(f, \"\")
    assert re.match(r\"^\\d\\d:\\d\\d:\\d\\d(\\.\\d{1,3})?$\", v) and \\
        v != \"00:00:00\", (f, v)
'"
rm -f "$D/node3/kmd.pid"
check "node 3 starts again" $C up 3
check "node 3 catches up" \
    wait_for 30 q_is 3 "SELECT count(*) FROM kmd_keys WHERE name LIKE 'stop1-%'" 100
check "ready again on every node" wait_for 30 all_ready
check "alarms cleared on nodes 1 and 2" wait_for 15 sh -c \
    "$C ctl 1 alarms list | grep -q '\"total\": 0' && $C ctl 2 alarms list | grep -q '\"total\": 0'"
check "identical data on the 3 nodes" wait_for 10 same_keys 2 3

# ---- over HTTPS ----
U=https://127.0.0.1:8443/api/v1
tok=$(ns curl -sk -d '{"username":"admin","password":"secret-password"}' \
    "$U/auth/tokens" | sed -n 's/.*"token":"\([^"]*\)".*/\1/p')
check "REST GET cluster/summary: the same shape" sh -c \
    "ip netns exec $KMD_CLUSTER_NS curl -sfk -H 'Authorization: Bearer $tok' $U/cluster/summary |
    python3 regress/e2e/summary_check.py 3 2>>$T/why.all"
echo "node 1's alarms:"; $C ctl 1 alarms list --all | grep -E '"(kind|subject|raised|cleared)"'
check "REST GET alarms?all=1: node 1's alarms for node 3, all cleared" sh -c \
    "ip netns exec $KMD_CLUSTER_NS curl -sfk -H 'Authorization: Bearer $tok' '$U/alarms?all=1' |
    python3 -c 'import json,sys; d=json.load(sys.stdin); r=d[\"resources\"]; assert d[\"total\"] == len(r) >= 2 and not any(a[\"active\"] for a in r) and sum(a[\"subject\"] == \"$N3\" and a[\"kind\"] == \"node-down\" for a in r) >= 2, d'"
check "REST GET alarms?all=2: 400 names the parameter" sh -c \
    "ip netns exec $KMD_CLUSTER_NS curl -sk -H 'Authorization: Bearer $tok' '$U/alarms?all=2' |
    grep -q \"query parameter 'all'\""
check "REST GET alarms without a token: 401" sh -c \
    "[ \$(ip netns exec $KMD_CLUSTER_NS curl -sk -o /dev/null -w '%{http_code}' $U/alarms) = 401 ]"
check "kmctl remote: cluster summary, the same shape" sh -c \
    "ip netns exec $KMD_CLUSTER_NS $KMCTL --url=https://127.0.0.1:8443 --user=admin --password=secret-password --nosslverify cluster summary | python3 regress/e2e/summary_check.py 3 2>>$T/why.all"
check "kmctl remote: alarms list" sh -c \
    "ip netns exec $KMD_CLUSTER_NS $KMCTL --url=https://127.0.0.1:8443 --user=admin --password=secret-password --nosslverify alarms list --all | grep -q '\"active\": false'"

# ---- the other alarms, through their limits: node 2 restarted with a
# 1 MB WAL limit, any clock skew and 10 years' certificate notice ----
kill -TERM "$(cat "$D/node2/kmd.pid")"
wait_for 20 sh -c "! kill -0 $(cat "$D/node2/kmd.pid") 2>/dev/null"
rm -f "$D/node2/kmd.pid"
KMD_CLUSTER_EXTRA='alarm retained-wal 1
alarm clock-skew 0
alarm cert-expiry 3650' $C up 3 >/dev/null
check "node 2: the certificate alarm, with the date" \
    wait_for 15 alarm_up 2 "certificate expires on 20[0-9-]* (in [0-9]* days)"
check "node 2: a clock-skew alarm for node 1" \
    wait_for 15 alarm_up 2 "the clock of node $N1 (127.0.0.1) is .* ms off"
check "node 2's own summary entry: BAD:certificate expires" \
    sh -c "$C ctl 2 cluster summary | grep -q 'BAD:certificate expires in'"
# The same limits on node 1 by SIGHUP alone: its replmon, not restarted,
# applies them at once.
rm1=$(pgrep -P "$(cat "$D/node1/kmd.pid")" -x "kmd: replmon")
cp "$D/node1/kmd.conf" "$T/node1.conf"
printf 'alarm retained-wal 1\nalarm cert-expiry 3650\n' >>"$D/node1/kmd.conf"
kill -HUP "$(cat "$D/node1/kmd.pid")"
check "node 1, SIGHUP: the certificate alarm without a restart" \
    wait_for 15 alarm_up 1 "certificate expires on 20[0-9-]*"
check "... the same replmon process" \
    test "$(pgrep -P "$(cat "$D/node1/kmd.pid")" -x "kmd: replmon")" = "$rm1"
$C freeze 3
check "3 MB written on node 2 while node 3 is frozen" \
    writes 2 3000 "$(head -c 1000 /dev/zero | tr '\0' w)"
check "node 2: a retained-WAL alarm for node 3, saying what to do" \
    wait_for 15 alarm_up 2 "keeps [0-9]* MB of WAL for node $N3.*cluster nodes delete --id=$N3"
check "node 1 too, at the 1 MB it was given by SIGHUP" \
    wait_for 15 alarm_up 1 "keeps [0-9]* MB of WAL for node $N3.*above 1 MB"
$C thaw 3
check "node 2's WAL alarm clears once node 3 has caught up" \
    wait_for 60 sh -c "! $C ctl 2 alarms list | grep -q 'of WAL for node'"
cp "$T/node1.conf" "$D/node1/kmd.conf"
kill -HUP "$(cat "$D/node1/kmd.pid")"
check "node 1, the limits taken out and SIGHUP: its certificate alarm clears" \
    wait_for 15 sh -c "! $C ctl 1 alarms list | grep -q 'certificate expires'"

# A slot of no node's (no alarm of the kind while the three nodes' own
# slots were there, above): named, not dropped.
q 1 "SELECT pg_create_logical_replication_slot('stray_by_test', 'pglogical_output')" >/dev/null
check "a slot of no node's on node 1: an unknown-slot alarm naming it" \
    wait_for 10 alarm_up 1 "replication slot stray_by_test on this node belongs to no node"
check "... on node 1 alone" sh -c "! $C ctl 2 alarms list | grep -q unknown-slot"
check "... and the slot is left" \
    q_is 1 "SELECT count(*) FROM pg_replication_slots WHERE slot_name = 'stray_by_test'" 1
q 1 "SELECT pg_drop_replication_slot('stray_by_test')" >/dev/null
check "dropped: the alarm clears" \
    wait_for 10 sh -c "! $C ctl 1 alarms list | grep -q unknown-slot"
check "no sanitizer report" nodes_clean
[ -s "$T/why.all" ] && { echo "--- summary checks that failed ---"; cat "$T/why.all"; }
down
finish
