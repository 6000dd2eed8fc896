# Health for load balancers: GET and HEAD system/health with no token, a
# code per state (501 not clustered, 200 ready, 503 unavailable), each
# overridden by its query parameter; kmctl health's exit status.  What
# is probed, not assumed: a frozen PostgreSQL and a stopped hsm worker
# each turn health to 503 within seconds, with the reason, and back.
# Polls of a frozen node pile nothing up on its database.  (472 joining
# and 473 removed: t_joinkill.sh and t_remove.sh.)
. regress/e2e/lib.sh
U=https://127.0.0.1:8443/api/v1

# code [QUERY] [CURL ARGS]: GET health's status; the body in $T/body
code() {
	q=${1:-}; [ $# -gt 0 ] && shift
	curl -sk -m 20 -o "$T/body" -D "$T/hdr" -w '%{http_code}' "$@" \
	    "$U/system/health$q"
}
js() {
	python3 -c 'import json,sys; a=sys.argv; j=json.load(open(a[1]))
sys.exit(not eval("(" + a[2] + ")"))' "$T/body" "$@"
}
hdr() { tr -d '\r' <"$T/hdr" | grep -qi "^$1"; }
pg_all() {
	pm=$(head -1 "$T/data/pg/data/postmaster.pid")
	echo "$pm" $(pgrep -P "$pm")
}

start_kmd || finish

# ---- not clustered ----
check "not clustered: 501" test "$(code)" = 501
check "... health notclustered, status none, the RoT probed ok" js \
    "j == {'health': 'notclustered', 'status': {'code': 'none', 'description': j['status']['description']}, 'hsm': 'ok'}"
check "HEAD: 501 too" test "$(code '' --head)" = 501
check "... and no body" test "$(curl -sk --head -o /dev/null -w '%{size_download}' "$U/system/health")" = 0
check "?notclusteredcode=200: 200" test "$(code '?notclusteredcode=200')" = 200
check "... another state's parameter changes nothing" \
    test "$(code '?readycode=299&joiningcode=299')" = 501
for bad in readycode=abc readycode=99 unavailablecode=600 removedcode= \
    notclusteredcode=-200; do
	check "?$bad: 400, names the parameter" sh -c \
	    "[ \"\$(curl -sk -o $T/body -w '%{http_code}' '$U/system/health?$bad')\" = 400 ] &&
	    grep -q \"'${bad%%=*}' must be an HTTP status code from 200 to 599\" $T/body"
done
check "POST health: 405, Allow names GET and HEAD" sh -c \
    "[ \"\$(curl -sk -X POST -D $T/hdr -o /dev/null -w '%{http_code}' $U/system/health)\" = 405 ]"
check "... Allow: GET, HEAD" hdr "Allow: GET, HEAD"
out=$(ctl health); rc=$?
check "kmctl health, not clustered: exit 2" test $rc -eq 2
check "... prints the same JSON" has "$out" '"health": "notclustered"'

# ---- ready ----
ctl cluster new --host=127.0.0.1 --url=https://127.0.0.1:8443 >/dev/null
check "clustered: 200" test "$(code)" = 200
check "... health ready, status r, hsm ok, no error" \
    js "j['health'] == 'ready' and j['status']['code'] == 'r' and j['hsm'] == 'ok' and 'error' not in j"
check "HEAD: 200" test "$(code '' --head)" = 200
check "?readycode=204: 204" test "$(code '?readycode=204')" = 204
check "kmctl health: exit 0" ctl health
PW=e2e-Health-Pass-4
printf '%s\n' "$PW" | ctl users set-password --name admin >/dev/null
out=$("$KMCTL" --url https://127.0.0.1:8443 --user admin --password "$PW" \
    --cacert "$T/data/api/api.crt" health 2>&1); rc=$?
check "kmctl --url health: exit 0, ready" \
    sh -c "[ $rc -eq 0 ] && echo '$out' | grep -q '\"health\": \"ready\"'"

# ---- the monitor's prepared statements outlive a change of schema ----
# Its read is prepared once a connection: a column it returns changing
# type ("cached plan must not change result type") has it prepared
# again, not failing every tick from then on.
psq() {
	runuser -u postgres -- psql -h "$T/data/run" -U kmd -d kmd -XAtqc "$1"
}
# ticked_since [TIME]: this node's own view was written (after TIME)
ticked_since() {
	[ "$(psq "SELECT count(*) FROM kmd_node_health h, kmd_local l WHERE h.reporter = l.node_id AND h.peer = l.node_id AND h.last_updated > '${1:--infinity}'")" = 1 ]
}
check "the monitor writes this node's view" wait_for 10 ticked_since
for ty in varchar text; do
	psq "ALTER TABLE kmd_local ALTER COLUMN node_cert TYPE $ty" >/dev/null
	t0=$(psq "SELECT now()")
	check "node_cert now $ty: the monitor's next ticks are written" \
	    wait_for 10 ticked_since "$t0"
done
psq "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE usename = 'kmd_replmon'" >/dev/null
t0=$(psq "SELECT now()")
check "its connection ended: the ticks go on, prepared on the new one" \
    wait_for 15 ticked_since "$t0"
check "... no tick failed on the stale statement" \
    sh -c "! grep -q 'cached plan must not change result type' '$T/kmd.log'"

# ---- the database frozen: probed, so 503 within seconds ----
kill -STOP $(pg_all)
t0=$(date +%s)
c=$(code)
t1=$(date +%s)
check "postgres frozen: 503" test "$c" = 503
check "... within the 3 s wait, not the client's 20 s" test $((t1 - t0)) -le 8
check "... says the database did not answer, status null" \
    js "j['health'] == 'unavailable' and j['status'] is None and 'did not answer within 3 s' in j['error']"
# 40 polls while it stays frozen: answered at once, none queued on it
pids=
for i in $(seq 1 40); do
	curl -sk -m 20 -o "$T/poll$i" -w '%{http_code}\n' "$U/system/health" \
	    >"$T/pcode$i" &
	pids="$pids $!"
done
wait $pids
check "40 polls of the frozen node: each 503" \
    test "$(cat "$T"/pcode* | sort -u)" = 503
check "... saying the database has not answered for some seconds" \
    grep -q "has not answered a health check for" "$T/poll40"
out=$(ctl health); rc=$?
check "kmctl health meanwhile: exit 2, unavailable" \
    sh -c "[ $rc -eq 2 ] && echo '$out' | grep -q unavailable"
kill -CONT $(pg_all)
check "thawed: 200 again" wait_for 15 sh -c "[ \$(curl -sk -o /dev/null -w '%{http_code}' $U/system/health) = 200 ]"
check "... and the polls left nothing behind on the database" \
    test "$(runuser -u postgres -- psql -h "$T/data/run" -U kmd -d kmd -XAtqc \
    "SELECT count(*) FROM pg_stat_activity WHERE application_name = 'kmd-keys' AND state = 'active' AND pid <> pg_backend_pid()")" = 0

# ---- the hsm worker stopped: its probe times out ----
hp=$(wpid hsm)
kill -STOP "$hp"
sleep 1.5	# past the last probe's answer, kept for 1 s
check "hsm worker stopped: 503" test "$(code)" = 503
check "... the hsm did not answer its probe, the status still read" \
    js "j['health'] == 'unavailable' and j['status']['code'] == 'r' and 'did not answer' in j['error'] and j['hsm'] is None"
check "?unavailablecode=429: 429" test "$(code '?unavailablecode=429')" = 429
kill -CONT "$hp"
check "hsm worker going again: 200" wait_for 10 sh -c "[ \$(curl -sk -o /dev/null -w '%{http_code}' $U/system/health) = 200 ]"

# ---- the joiner gone (killed; the parent restarts it) ----
kill -9 "$(wpid joiner)"
c=$(code)
check "joiner killed: 503 or already back (200), never a hang" \
    sh -c "[ '$c' = 503 ] || [ '$c' = 200 ]"
check "... back: 200" wait_for 20 sh -c "[ \$(curl -sk -o /dev/null -w '%{http_code}' $U/system/health) = 200 ]"
finish
