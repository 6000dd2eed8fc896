# The API under load: at most "api max-connections" open at once, each
# request whole within "api read-timeout" (a client trickling header
# lines is closed), and at its file-descriptor limit the api worker
# neither spins nor floods the log, and serves again once the
# connections go.
. regress/e2e/lib.sh
write_conf 'api max-connections 8' 'api read-timeout 3'
start_kmd || finish
URL=https://127.0.0.1:8443/api/v1/system/health
health() { curl -sk -o /dev/null -w '%{http_code}' --max-time "$1" "$URL"; }
# served: any HTTP answer (health is 501 on a node in no cluster)
served() { [ "$(health 3)" != 000 ]; }
load() { python3 regress/e2e/apiload.py "$@"; }
check "control: health answers (501: not clustered)" test "$(health 5)" = 501

# ---- the cap: 12 idle connections, 8 accepted, the rest wait ----
load idle 127.0.0.1 8443 12 25 >"$T/idle" &
LP=$!
wait_for 10 grep -q "opened 12" "$T/idle"
check "at the cap a new request waits (no answer in 1 s)" \
    test "$(health 1)" = 000
check "the log says the cap is reached" \
    wait_for 5 grep -q "8 connections open (api max-connections)" "$LOG"
check "idle connections are closed after the read timeout" wait_for 15 \
    grep -q "closing a connection that sent no whole request in 3 s" "$LOG"
check "then requests are served again" wait_for 20 served
wait "$LP"
check "the server closed all 12 idle connections" grep -q "closed 12 of 12" "$T/idle"

# ---- a request trickled one header line a second is cut off ----
check "a trickling request is closed near the read timeout, not kept" \
    sh -c "python3 regress/e2e/apiload.py trickle 127.0.0.1 8443 20 |
    grep -Eq 'closed after ([2-8]) s'"

# ---- idle between two requests is not slow within one ----
check "a kept-alive connection idle 5 s between requests (read-timeout 3): both answered" \
    sh -c "python3 regress/e2e/apiload.py keepalive 127.0.0.1 8443 5 | grep -q 'both answered'"

# ---- at the worker's file-descriptor limit ----
stop_kmd
write_conf 'api read-timeout 3'
prlimit --nofile=128:128 "$KMD" -d -f "$CONF" >>"$LOG" 2>&1 &
KPID=$!
wait_for 30 ctl cluster info || fail "kmd came up with 128 files"
api=$(wpid api)
check "control: the api worker's fd limit is 128" \
    grep -Eq "^Max open files +128 +128 " "/proc/$api/limits"
load idle 127.0.0.1 8443 200 30 >"$T/idle2" &
LP=$!
wait_for 10 grep -q "opened 200" "$T/idle2"
sleep 1
cpu() { awk '{ print $14 + $15 }' "/proc/$api/stat"; }
c0=$(cpu); sleep 3; c1=$(cpu); hz=$(getconf CLK_TCK)
echo "figure: api worker CPU at its fd limit: $(( (c1 - c0) * 100 / (3 * hz) )) % of a core"
check "at its fd limit the api worker does not spin (under 30 % of a core)" \
    test $(( (c1 - c0) * 100 )) -lt $(( 30 * 3 * hz ))
check "the log shows the failing accept, rate-limited (at most 3 lines)" \
    test "$(grep -c 'accept: Too many open files' "$LOG")" -ge 1 -a \
    "$(grep -c 'accept: Too many open files' "$LOG")" -le 3
check "service is back once the connections go" wait_for 40 served
wait "$LP"
finish
