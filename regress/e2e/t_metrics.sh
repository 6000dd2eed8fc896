# Prometheus metrics on one node: GET /metrics (and /api/v1/metrics)
# needs a token of a viewer or above; the text is what promtool accepts;
# its figures move with what happens: the clustered gauge, the requests
# counted by the catalogue's route (a made-up path is "other", so no
# client makes new series), the latency histogram.  The peers' figures:
# t_replmon.sh; the real Prometheus scraping a cluster: make
# check-prometheus.
. regress/e2e/lib.sh
U=https://127.0.0.1:8443
PW=e2e-Metrics-Pass-5

token() {
	curl -sk -d "{\"username\":\"$1\",\"password\":\"$2\"}" \
	    "$U/api/v1/auth/tokens" | python3 -c 'import json,sys
print(json.load(sys.stdin)["token"])'
}
# scrape [TOKEN] [PATH]: the status; the text in $T/m
scrape() {
	curl -sk -o "$T/m" -D "$T/hdr" -w '%{http_code}' \
	    ${1:+-H "Authorization: Bearer $1"} "$U${2:-/metrics}"
}
# val 'NAME{LABELS}': a sample's value in $T/m
val() { grep -v '^#' "$T/m" | grep -F "$1 " | head -1 | awk '{print $NF}'; }

start_kmd || finish
printf '%s\n' "$PW" | ctl users set-password --name admin >/dev/null
printf 'viewer-Pass-5\n' | ctl users create --name vic --role viewer >/dev/null
TV=$(token vic viewer-Pass-5)

check "/metrics without a token: 401" test "$(scrape)" = 401
check "... with a token nobody issued: 401" \
    test "$(scrape "$(printf '%064d' 0)")" = 401
check "a viewer's token: 200" test "$(scrape "$TV")" = 200
check "... Prometheus' text format 0.0.4" \
    sh -c "tr -d '\r' <$T/hdr | grep -qi '^Content-Type: text/plain; version=0.0.4'"
check "promtool check metrics: clean" sh -c "promtool check metrics <$T/m"
check "not clustered: kmd_clustered 0, no peers" \
    sh -c "[ '$(val kmd_clustered)' = 0 ] && [ '$(val kmd_peers)' = 0 ]"
check "the software root of trust is up" test "$(val kmd_hsm_up)" = 1
check "every alarm kind shown, none active" \
    sh -c "[ \$(grep -c '^kmd_alarms_active{kind=' $T/m) -ge 8 ] && ! grep -q '^kmd_alarms_active{.*} [1-9]' $T/m"

ctl cluster new --host=127.0.0.1 --url=$U >/dev/null
check "clustered: kmd_clustered 1 within a monitor tick" wait_for 15 sh -c \
    "[ \$(curl -sk -H 'Authorization: Bearer $TV' $U/metrics | grep '^kmd_clustered ' | cut -d' ' -f2) = 1 ]"
scrape "$TV" >/dev/null
check "... the certificate's time left: about a year or more" \
    sh -c "[ '$(val kmd_cert_expiry_seconds)' -gt $((300 * 86400)) ]"
before=$(val 'kmd_api_requests_total{route="GET system/health",code="200"}')
for i in 1 2 3; do curl -sk -o /dev/null "$U/api/v1/system/health"; done
for i in 1 2; do curl -sk -o /dev/null "$U/api/v1/no/such/thing/$i$$"; done
scrape "$TV" >/dev/null
check "three health checks counted under their route" test \
    "$(val 'kmd_api_requests_total{route="GET system/health",code="200"}')" = $((${before:-0} + 3))
check "made-up paths are one series, other/404, not one each" \
    sh -c "[ \"\$(grep -c 'no/such' $T/m)\" = 0 ] && [ '$(val 'kmd_api_requests_total{route="other",code="404"}')' -ge 2 ]"
check "the latency histogram: +Inf bucket equals the count" sh -c "[ \
    '$(val 'kmd_api_request_duration_seconds_bucket{route="GET system/health",le="+Inf"}')' = \
    '$(val 'kmd_api_request_duration_seconds_count{route="GET system/health"}')' ]"
promtool check metrics <"$T/m" >"$T/promtool" 2>&1
check "still clean for promtool" test ! -s "$T/promtool"
[ -s "$T/promtool" ] && cat "$T/promtool"
# The WAL bound and the free disk: PostgreSQL's max_slot_wal_keep_size
# from kmd.conf (by default a quarter of the data filesystem, 1 GB at
# least), both taken over by SIGHUP with no restart.
sql() { runuser -u postgres -- psql -h "$T/data/run" -U kmd -d kmd -XAtqc "$1"; }
check "max_slot_wal_keep_size is set (PostgreSQL's default -1 keeps all)" \
    sh -c "[ \"\$(runuser -u postgres -- psql -h $T/data/run -U kmd -d kmd -XAtqc 'SHOW max_slot_wal_keep_size')\" != -1 ]"
check "... at least 1 GB, as the metrics say too" \
    sh -c "[ '$(val kmd_wal_max_retained_bytes)' -ge $((1024 * 1024 * 1024)) ]"
check "the data filesystem's free space is in the metrics" \
    sh -c "[ '$(val kmd_disk_free_bytes)' -gt 0 ] && [ '$(val kmd_disk_size_bytes)' -ge '$(val kmd_disk_free_bytes)' ]"
rp=$(wpid replmon)
cp "$CONF" "$T/conf0"
printf 'wal max-retained 1500\nalarm disk-free 99\n' >>"$CONF"
kill -HUP "$KPID"
check "SIGHUP: max_slot_wal_keep_size 1500MB in PostgreSQL" wait_for 10 sh -c \
    "[ \"\$(runuser -u postgres -- psql -h $T/data/run -U kmd -d kmd -XAtqc 'SHOW max_slot_wal_keep_size')\" = 1500MB ]"
alarm_has() { ctl alarms list | grep -q "$1"; }
check "... a disk-free alarm at 99 %, saying what to do" wait_for 10 \
    alarm_has "the data directory's filesystem has .* free .*below 99%: make room"
scrape "$TV" >/dev/null
check "... in the metrics: disk-free 1, the bound 1500 MB" sh -c \
    "[ '$(val 'kmd_alarms_active{kind="disk-free"}')' = 1 ] && [ '$(val kmd_wal_max_retained_bytes)' = $((1500 * 1024 * 1024)) ]"
check "... the same replmon process" test "$(wpid replmon)" = "$rp"
cp "$T/conf0" "$CONF"
kill -HUP "$KPID"
no_alarm() { ! alarm_has "$1"; }
check "SIGHUP back: the alarm clears" wait_for 10 no_alarm disk-free
# -o table: a list-like answer as a table, the same locally and over
# HTTPS; what is not a list stays JSON; another format is refused
ctl -o table users list >"$T/tab"
check "-o table users list: a header and a row per user" sh -c \
    "head -1 $T/tab | grep -q '^NAME  *ROLE  *CREATED' && [ \$(wc -l <$T/tab) = 3 ] && grep -q '^vic  *viewer ' $T/tab"
ctl cluster nodes list -o table >"$T/tab"
check "cluster nodes list -o table (after the command): its status by description" \
    sh -c "head -1 $T/tab | grep -q '^NODEID' && grep -q ' ready ' $T/tab"
"$KMCTL" --url "$U" --user admin --password "$PW" --cacert "$T/data/api/api.crt" \
    -o table users list >"$T/tabr"
check "... over HTTPS, the same table" cmp -s "$T/tabr" "$(ctl -o table users list >"$T/tabl"; echo "$T/tabl")"
check "-o table version: not a list, JSON as ever" \
    sh -c "\"$KMCTL\" -s $SOCK -o table version | python3 -c 'import json,sys; json.load(sys.stdin)'"
out=$(ctl -o yaml status 2>&1); rc=$?
check "-o yaml: refused, names the two" refused $rc "$out" "json or table, not 'yaml'"
check "/api/v1/metrics: the same" test "$(scrape "$TV" /api/v1/metrics)" = 200
check "POST /metrics: 405" \
    test "$(curl -sk -X POST -o /dev/null -w '%{http_code}' -H "Authorization: Bearer $TV" $U/metrics)" = 405
finish
