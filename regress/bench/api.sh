#!/bin/sh
# `make bench`: requests/s and latency of the HTTPS API (GET /api/v1/cluster
# with a bearer token, keep-alive) measured with wrk, next to nginx serving
# the same body over TLS from a static file with the same key.  Not part of
# `make check`: the figures depend on the machine.
#
# Everything runs inside a network namespace of its own (kmd on 127.0.0.1,
# nginx on 127.0.0.2, nothing outside 127.0.0.0/8) and in a temp dir; both
# are removed at the end, on failure too.  With two or more CPUs the server
# under test runs on CPU 0 and wrk on CPU 1.  Run as root, after `make`.
#
# Environment:
#   KMD, KMCTL      the binaries (default build/kmd, build/kmctl)
#   BENCH_DURATION  wrk's -d (default 10s)
#   BENCH_CONNS     wrk's -c (default 16)
#   BENCH_PIN       tree: kmd's whole process tree (parent, workers, its
#                   PostgreSQL) on CPU 0, as nginx's master and worker are
#                   (default); api: only the api worker; none: no pinning
#   BENCH_KEEP=1    keep the temp dir (logs, wrk output) and say where
#
# Exit status 0 when both runs completed, whether or not the goals are met.
set -u
cd "$(dirname "$0")/../.." || exit 1
top=$(pwd)
: "${KMD:=$top/build/kmd}"
: "${KMCTL:=$top/build/kmctl}"
: "${BENCH_DURATION:=10s}"
: "${BENCH_CONNS:=16}"
: "${BENCH_PIN:=tree}"
: "${BENCH_KEEP:=0}"
KMD_ADDR=127.0.0.1
NGX_ADDR=127.0.0.2
PORT=8443
PATH_Q=/api/v1/cluster
GOAL_RATIO=0.5		# kmd's requests/s at least half of nginx's
GOAL_P99_MS=10		# kmd's p99 latency under 10 ms
NGINX=/usr/sbin/nginx

die() { echo "bench: $*" >&2; exit 1; }

# ---- outside the namespace: packages, namespace, temp dir ----------------
install_deps() {
	missing=""
	s=$(dpkg-query -W -f='${Status}' wrk 2>/dev/null || true)
	case "$s" in
	*" installed") ;;
	*) missing="$missing wrk" ;;
	esac
	# Any installed nginx flavour will do; nginx-light when there is none
	# (installing it would replace another flavour).
	[ -x "$NGINX" ] || missing="$missing nginx-light"
	[ -n "$missing" ] || return 0
	echo "bench: installing:$missing"
	export DEBIAN_FRONTEND=noninteractive
	# Debian's nginx package starts the system's nginx on port 80; keep it
	# from starting unless the machine already has a policy of its own.
	policy=/usr/sbin/policy-rc.d made_policy=
	if [ ! -e "$policy" ]; then
		printf '#!/bin/sh\nexit 101\n' > "$policy" && chmod 755 "$policy" &&
		    made_policy=1
	fi
	apt-get update -qq &&
	    apt-get install -y -qq --no-install-recommends $missing </dev/null
	rc=$?
	[ -n "$made_policy" ] && rm -f "$policy"
	[ $rc -eq 0 ] || die "apt-get install$missing failed"
}

if [ -z "${KMD_BENCH_NETNS:-}" ]; then
	[ "$(id -u)" -eq 0 ] || die "run as root (kmd must start as root)"
	install_deps
	[ -x "$KMD" ] && [ -x "$KMCTL" ] || die "$KMD or $KMCTL not built (make)"
	getent passwd _kmd >/dev/null || die "no user _kmd: run etc/install-deps"
	ns=kmd-bench-$$
	T=$(mktemp -d /tmp/kmd-bench.XXXXXX) || exit 1
	chmod 755 "$T"
	outer_cleanup() {
		# Whatever the run below left in the namespace is ours.
		ip netns pids "$ns" 2>/dev/null | xargs -r kill -9 2>/dev/null
		ip netns del "$ns" 2>/dev/null
		if [ "$BENCH_KEEP" = 1 ]; then
			echo "bench: kept $T"
		else
			rm -rf "$T"
		fi
	}
	# On INT or TERM the run below is told to stop (it stops kmd and nginx
	# gracefully), then the namespace and temp dir go as on any exit.
	child= stopped=
	trap outer_cleanup EXIT
	trap 'stopped=1; [ -n "$child" ] && kill -TERM "$child" 2>/dev/null' \
	    INT TERM
	ip netns add "$ns" || die "cannot create network namespace $ns"
	ip netns exec "$ns" ip link set lo up || die "no loopback in $ns"
	KMD_BENCH_NETNS=$ns KMD_BENCH_DIR=$T KMD=$KMD KMCTL=$KMCTL \
	    ip netns exec "$ns" sh "$0" "$@" &
	child=$!
	while :; do
		wait "$child"
		rc=$?
		kill -0 "$child" 2>/dev/null || break
	done
	[ -z "$stopped" ] || rc=130
	exit $rc
fi

# ---- inside the namespace --------------------------------------------------
T=$KMD_BENCH_DIR
SOCK=$T/kmd.sock
CONF=$T/kmd.conf
LOG=$T/kmd.log
N=$T/nginx
URL_KMD=https://$KMD_ADDR:$PORT$PATH_Q
URL_NGX=https://$NGX_ADDR:$PORT$PATH_Q
KPID= NPID= OK=

stop_pid() {	# PID SIGNAL: signal it, wait up to 40 s, then kill it
	[ -n "$1" ] || return 0
	kill "-$2" "$1" 2>/dev/null
	i=0
	while kill -0 "$1" 2>/dev/null && [ $i -lt 400 ]; do
		sleep 0.1; i=$((i + 1))
	done
	kill -9 "$1" 2>/dev/null
	wait "$1" 2>/dev/null
}

inner_cleanup() {
	stop_pid "$NPID" QUIT
	stop_pid "$KPID" TERM
	if [ -z "$OK" ]; then
		[ -s "$LOG" ] && { echo "--- kmd log (last lines) ---"; tail -n 30 "$LOG"; }
		[ -s "$N/error.log" ] && { echo "--- nginx error log ---"; tail -n 30 "$N/error.log"; }
	fi
}
trap inner_cleanup EXIT
trap 'exit 130' INT TERM

ctl() { "$KMCTL" -s "$SOCK" "$@"; }

. regress/common.sh

# get URL OUT: GET with the token; true on 200
get() {
	[ "$(curl -sk -o "$2" -w '%{http_code}' -H "Authorization: Bearer $TOKEN" \
	    "$1")" = 200 ]
}

# pin_tree CPU PID: PID, its threads and all its descendants
pin_tree() {
	taskset -a -p -c "$1" "$2" >/dev/null 2>&1
	for c in $(pgrep -P "$2"); do
		pin_tree "$1" "$c"
	done
}

tls_of() {
	curl -skv -o /dev/null -H "Authorization: Bearer $TOKEN" "$1" 2>&1 |
	    sed -n 's/^\* SSL connection using //p' | head -n 1
}

# kmd: config, start, password, cluster, token
cat > "$CONF" <<EOF
socket "$SOCK"
datadir "$T/data"
api listen "$KMD_ADDR" port $PORT
api token lifetime 86400
EOF
"$KMD" -d -f "$CONF" >>"$LOG" 2>&1 </dev/null &
KPID=$!
wait_for 60 ctl cluster info || die "kmd did not come up"
printf 'bench-password\n' | ctl users set-password --name admin >/dev/null ||
    die "users set-password failed"
ctl cluster new --host "$KMD_ADDR" --url "https://$KMD_ADDR:$PORT" >/dev/null ||
    die "cluster new failed"
login() {
	curl -sk -XPOST "https://$KMD_ADDR:$PORT/api/v1/auth/tokens" \
	    -d '{"username":"admin","password":"bench-password"}' > "$T/login.json" &&
	    TOKEN=$(sed -n 's/.*"token" *: *"\([^"]*\)".*/\1/p' "$T/login.json") &&
	    [ -n "$TOKEN" ]
}
wait_for 30 login || die "no token from POST /api/v1/auth/tokens: $(cat "$T/login.json" 2>/dev/null)"
get "$URL_KMD" "$T/kmd-body.json" || die "GET $PATH_Q from kmd is not 200"

# nginx: the same body, key and certificate
mkdir -p "$N/www"
cp "$T/kmd-body.json" "$N/www/cluster.json"
cp "$T/data/api/api.crt" "$N/api.crt"
(umask 077 && cp "$T/data/api/api.key" "$N/api.key")
chmod 755 "$N" "$N/www"
chmod 644 "$N/www/cluster.json"
sed -e "s,@DIR@,$N,g" -e "s,@ADDR@,$NGX_ADDR,g" -e "s,@PORT@,$PORT,g" \
    regress/bench/nginx.conf.in > "$N/nginx.conf"
"$NGINX" -q -t -p "$N/" -c "$N/nginx.conf" -e "$N/error.log" ||
    die "nginx rejects $N/nginx.conf"
"$NGINX" -p "$N/" -c "$N/nginx.conf" -e "$N/error.log" </dev/null \
    >>"$N/error.log" 2>&1 &
NPID=$!
wait_for 10 get "$URL_NGX" "$T/nginx-body.json" || die "nginx did not come up"
cmp -s "$T/kmd-body.json" "$T/nginx-body.json" ||
    die "nginx's body differs from kmd's"

# CPUs: servers on 0, wrk on 1
WRK_PIN=
pin_note="no pinning"
if [ "$(nproc)" -ge 2 ] && [ "$BENCH_PIN" != none ]; then
	wait_for 10 pgrep -P "$KPID" -x "kmd: api" || die "no api worker"
	case "$BENCH_PIN" in
	api)	taskset -a -p -c 0 "$(pgrep -P "$KPID" -x "kmd: api")" >/dev/null
		pin_note="kmd's api worker on CPU 0 (its parent, replmon and PostgreSQL unpinned)" ;;
	*)	pin_tree 0 "$KPID"
		pin_note="kmd (parent, workers, its PostgreSQL) on CPU 0" ;;
	esac
	pin_tree 0 "$NPID"
	pin_note="$pin_note; nginx (master, 1 worker) on CPU 0; wrk on CPU 1"
	WRK_PIN="taskset -c 1"
fi

WRK_ARGS="-t1 -c$BENCH_CONNS -d$BENCH_DURATION --latency"
run_wrk() {	# URL OUT
	$WRK_PIN wrk $WRK_ARGS -H "Authorization: Bearer $TOKEN" "$1" > "$2" 2>&1 ||
	    { cat "$2"; die "wrk against $1 failed"; }
}
echo "bench: wrk $WRK_ARGS, keep-alive, GET $PATH_Q ($(wc -c < "$T/kmd-body.json") byte JSON body)"
echo "bench: $pin_note"
echo "bench: TLS kmd: $(tls_of "$URL_KMD"); nginx: $(tls_of "$URL_NGX")"
echo "bench: kmd at $URL_KMD ..."
run_wrk "$URL_KMD" "$T/wrk-kmd.txt"
echo "bench: nginx $("$NGINX" -v 2>&1 | sed 's/.*nginx\///') at $URL_NGX ..."
run_wrk "$URL_NGX" "$T/wrk-nginx.txt"
# health: each check reads the database and probes the root of trust
# (the probe's answer kept 1 s); every state's code 200 for wrk
URL_H="https://$KMD_ADDR:$PORT/api/v1/system/health?readycode=200&notclusteredcode=200"
echo "bench: kmd health at $URL_H ..."
run_wrk "$URL_H" "$T/wrk-health.txt"

# ---- figures ---------------------------------------------------------------
rps() { awk '/^Requests\/sec:/ { print $2 }' "$1"; }
# pct FILE N: wrk's N% latency in ms
pct() {
	awk -v p="$2%" '$1 == p {
		v = $2
		if (v ~ /us$/) { sub(/us$/, "", v); v /= 1000 }
		else if (v ~ /ms$/) sub(/ms$/, "", v)
		else if (v ~ /m$/) { sub(/m$/, "", v); v *= 60000 }
		else if (v ~ /s$/) { sub(/s$/, "", v); v *= 1000 }
		printf "%.2f", v }' "$1"
}
# errs FILE: non-2xx answers plus socket errors
errs() {
	awk '/Non-2xx or 3xx responses:/ { n += $NF }
	    /Socket errors:/ { gsub(",", ""); n += $4 + $6 + $8 + $10 }
	    END { print n + 0 }' "$1"
}
K_RPS=$(rps "$T/wrk-kmd.txt") N_RPS=$(rps "$T/wrk-nginx.txt")
K_P50=$(pct "$T/wrk-kmd.txt" 50) N_P50=$(pct "$T/wrk-nginx.txt" 50)
K_P99=$(pct "$T/wrk-kmd.txt" 99) N_P99=$(pct "$T/wrk-nginx.txt" 99)
K_ERR=$(errs "$T/wrk-kmd.txt") N_ERR=$(errs "$T/wrk-nginx.txt")
[ -n "$K_RPS" ] && [ -n "$N_RPS" ] && [ -n "$K_P99" ] && [ -n "$N_P99" ] || {
	cat "$T/wrk-kmd.txt" "$T/wrk-nginx.txt"; die "cannot read wrk's output"; }

for f in kmd nginx; do
	echo "--- wrk against $f"
	sed 's/^/    /' "$T/wrk-$f.txt"
done
awk -v kr="$K_RPS" -v nr="$N_RPS" -v k50="$K_P50" -v n50="$N_P50" \
    -v k99="$K_P99" -v n99="$N_P99" -v ke="$K_ERR" -v ne="$N_ERR" \
    -v gr="$GOAL_RATIO" -v gp="$GOAL_P99_MS" 'BEGIN {
	ratio = nr > 0 ? kr / nr : 0
	printf "\n%-22s %12s %10s %10s %8s\n", "", "requests/s", "p50 ms",
	    "p99 ms", "errors"
	printf "%-22s %12.1f %10.2f %10.2f %8d\n", "kmd   (" "'"$KMD_ADDR"'" ")",
	    kr, k50, k99, ke
	printf "%-22s %12.1f %10.2f %10.2f %8d\n", "nginx (" "'"$NGX_ADDR"'" ")",
	    nr, n50, n99, ne
	r50 = n50 > 0 ? k50 / n50 : 0
	r99 = n99 > 0 ? k99 / n99 : 0
	printf "%-22s %12.3f %10.2f %10.2f\n", "kmd/nginx", ratio, r50, r99
	g1 = (ratio >= gr && ke == 0) ? "met" : "NOT MET"
	g2 = (k99 < gp && ke == 0) ? "met" : "NOT MET"
	printf "\ngoal: kmd requests/s >= %.1f x nginx   %s (%.3f)\n", gr, g1,
	    ratio
	printf "goal: kmd p99 < %d ms                  %s (%.2f ms)\n", gp, g2,
	    k99
	if (ke > 0)
		printf "(kmd answered %d requests with an error or lost them:" \
		    " goals not met)\n", ke
}'
table_row "API GET /cluster, requests/s" "$(awk -v k="$K_RPS" -v n="$N_RPS" \
    'BEGIN { printf "%.0f (nginx %.0f, ratio %.2f)", k, n, (n > 0 ? k / n : 0) }')" \
    ">= $GOAL_RATIO x nginx"
table_row "API GET /cluster, p99" "$K_P99 ms (nginx $N_P99 ms), $K_ERR errors" \
    "< $GOAL_P99_MS ms"
table_row "API GET system/health (database read, RoT probe), requests/s" \
    "$(rps "$T/wrk-health.txt"), p99 $(pct "$T/wrk-health.txt" 99) ms, $(errs "$T/wrk-health.txt") errors" ""
OK=1
