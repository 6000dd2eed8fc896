#!/bin/sh
# make check-prometheus: the real Prometheus (Debian's package) scrapes
# /metrics of a 3-node cluster over HTTPS with a viewer's token, each
# node's own certificate checked against the CA file the node made;
# every target healthy; figures read back through Prometheus' query API:
# three nodes each seeing two peers up, then node 3's PostgreSQL frozen
# and kmd_peer_up of it 0 on nodes 1 and 2, a node-down alarm counted;
# back to 1 once thawed.  Needs root; KMD and KMCTL name the binaries.
cd "$(dirname "$0")/.." || exit 1
. regress/e2e/lib.sh
. regress/e2e/cluster_lib.sh P
check "promtool and prometheus are installed (etc/install-deps)" \
    sh -c "command -v prometheus && command -v promtool"
cluster_of_3
echo viewer-Prom-Pass-1 | $C ctl 1 users create --name prom --role viewer \
    >/dev/null
# A token is signed by the node that issued it, so each node gets its own
# (the user replicated to it).
login() {
	ns curl -sk -d '{"username":"prom","password":"viewer-Prom-Pass-1"}' \
	    "https://127.0.0.$1:8443/api/v1/auth/tokens" |
	    sed -n 's/.*"token":"\([^"]*\)".*/\1/p' >"$T/token$1"
	[ -s "$T/token$1" ]
}
for k in 1 2 3; do
	check "node $k: a viewer's token for its scrape" wait_for 20 login "$k"
done
{
	printf 'global:\n  scrape_interval: 1s\n  scrape_timeout: 1s\n'
	printf 'scrape_configs:\n'
	for k in 1 2 3; do
		cat <<EOF
  - job_name: kmd$k
    scheme: https
    authorization:
      credentials_file: $T/token$k
    tls_config:
      ca_file: $D/node$k/data/api/api.crt
    static_configs:
      - targets: ['127.0.0.$k:8443']
        labels:
          node: '$k'
EOF
	done
} >"$T/prometheus.yml"
check "promtool check config: the scrape configuration is valid" \
    promtool check config "$T/prometheus.yml"
ns prometheus --config.file="$T/prometheus.yml" \
    --storage.tsdb.path="$T/tsdb" --web.listen-address=127.0.0.1:9090 \
    >"$T/prometheus.log" 2>&1 &
PROM=$!
# query PROMQL: the values of the answer's series, sorted, one a line
query() {
	ns curl -s --data-urlencode "query=$1" \
	    http://127.0.0.1:9090/api/v1/query | python3 -c 'import json,sys
d = json.load(sys.stdin)["data"]["result"]
print("\n".join(sorted(r["value"][1] for r in d)))'
}
check "Prometheus answers" wait_for 30 sh -c \
    "ip netns exec $KMD_CLUSTER_NS curl -sf http://127.0.0.1:9090/-/ready"
check "every target is scraped, healthy (up 1 x 3)" wait_for 30 sh -c \
    "[ \"\$(ip netns exec $KMD_CLUSTER_NS curl -s 'http://127.0.0.1:9090/api/v1/query?query=sum(up)' |
    python3 -c 'import json,sys; print(json.load(sys.stdin)[\"data\"][\"result\"][0][\"value\"][1])')\" = 3 ]"
both_up() { [ "$(query 'sum by (node) (kmd_peer_up)' | tr '\n' ' ')" = "$1" ]; }
check "each node sees its two peers up (read back through PromQL)" \
    wait_for 30 both_up "2 2 2 "
N3=$(id_of 3)
$C freeze 3
check "node 3 frozen: nodes 1 and 2 report it down (kmd_peer_up 0)" \
    wait_for 30 sh -c "[ \"\$(ip netns exec $KMD_CLUSTER_NS curl -s --data-urlencode 'query=kmd_peer_up{peer=\"$N3\"}' http://127.0.0.1:9090/api/v1/query |
    python3 -c 'import json,sys; print(sorted(r[\"value\"][1] for r in json.load(sys.stdin)[\"data\"][\"result\"]))')\" = \"['0', '0']\" ]"
check "... and a node-down alarm on each of them" wait_for 30 sh -c \
    "[ \"\$(ip netns exec $KMD_CLUSTER_NS curl -s --data-urlencode 'query=sum(kmd_alarms_active{kind=\"node-down\"})' http://127.0.0.1:9090/api/v1/query |
    python3 -c 'import json,sys; print(json.load(sys.stdin)[\"data\"][\"result\"][0][\"value\"][1])')\" = 2 ]"
$C thaw 3
check "thawed: every node sees two peers up again" wait_for 60 both_up "2 2 2 "
check "the scrapes counted under GET metrics in the API's own counter" \
    sh -c "[ \"\$(ip netns exec $KMD_CLUSTER_NS curl -s --data-urlencode 'query=min(kmd_api_requests_total{route=\"GET metrics\",code=\"200\"})' http://127.0.0.1:9090/api/v1/query |
    python3 -c 'import json,sys; print(int(float(json.load(sys.stdin)[\"data\"][\"result\"][0][\"value\"][1])))')\" -ge 10 ]"
kill "$PROM"
wait "$PROM" 2>/dev/null
check "no sanitizer report in the nodes' logs" nodes_clean
[ "$FAILS" -eq 0 ] || { echo "--- prometheus log ---"; tail -20 "$T/prometheus.log"; }
exit "$FAILS"
