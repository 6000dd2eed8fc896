#!/bin/sh
# `make bench`, fourth part: the keys the cluster serves, through the HTTPS
# API of one node (regress/cluster.sh, a namespace and temp dir of its own,
# removed at the end), measured with wrk:
#
#   keys create/s   POST /api/v1/vault/keys2, a new name each time: the hsm
#                   worker opens the KEK, makes and seals the material, the
#                   row is committed (and would replicate)
#   encrypt/s       POST /api/v1/crypto/encrypt of 64 bytes: the key looked
#                   up, the KEK and the material opened, AES-256-GCM;
#                   and again during a password-guessing run (guess.py)
#   decrypt/s       POST /api/v1/crypto/decrypt of that ciphertext
#   GET cluster/s   GET /api/v1/cluster in the same run, with the same
#                   wrk settings: what the TLS and HTTP path alone serves
#   memory          resident (RSS) and proportional (PSS) memory of each
#                   kmd process and of the PostgreSQL instance, idle
#
# once with the software root of trust and once with the KEK in a SoftHSM2
# token (made here, with a SOFTHSM2_CONF of its own).  Every request must
# succeed: a non-2xx answer fails the run.
#
# Environment: KMD, KMCTL; BENCH_DURATION (wrk's -d, 10s), BENCH_CONNS
# (wrk's -c, 8).  Exit status 0 when the runs completed.
set -u
cd "$(dirname "$0")/../.." || exit 1
top=$(pwd)
: "${KMD:=$top/build/kmd}"
: "${KMCTL:=$top/build/kmctl}"
: "${BENCH_DURATION:=10s}"
: "${BENCH_CONNS:=8}"
MODULE=/usr/lib/softhsm/libsofthsm2.so

die() { echo "bench: $*" >&2; exit 1; }
[ "$(id -u)" -eq 0 ] || die "run as root (kmd must start as root)"
[ -x "$KMD" ] && [ -x "$KMCTL" ] || die "$KMD or $KMCTL not built (make)"
command -v wrk >/dev/null || die "no wrk (make bench installs it)"
[ -f "$MODULE" ] || die "no $MODULE (etc/install-deps installs softhsm2)"

T=$(mktemp -d /tmp/kmd-bench-keys.XXXXXX) || exit 1
chmod 755 "$T"
export KMD KMCTL KMD_CLUSTER_NS="kmd-bench-keys-$$" KMD_CLUSTER_DIR="$T/c"
C="sh regress/cluster.sh"
cleanup() { $C down >/dev/null 2>&1; rm -rf "$T"; }
trap cleanup EXIT
trap 'exit 130' INT TERM
ns() { ip netns exec "$KMD_CLUSTER_NS" "$@"; }
. regress/common.sh

# The SoftHSM2 token of the second run.
export SOFTHSM2_CONF=$T/softhsm2.conf
mkdir -p "$T/tokens"
printf 'directories.tokendir = %s\nobjectstore.backend = file\nlog.level = ERROR\n' \
    "$T/tokens" >"$SOFTHSM2_CONF"
softhsm2-util --init-token --free --label bench --pin 1234 --so-pin 5678 \
    >/dev/null || die "cannot make a SoftHSM2 token"
chown -R _kmd_hsm "$T/tokens"
printf '1234\n' >"$T/pin"
chmod 600 "$T/pin"

URL=https://127.0.0.1:8443/api/v1
# wrk scripts: a new name per request; a fixed 64-byte plaintext
cat >"$T/create.lua" <<'EOF'
local n = 0
request = function()
	n = n + 1
	return wrk.format(nil, nil, nil,
	    string.format('{"name":"b%d-%d"}', math.random(1, 1000000000), n))
end
EOF
P64=$(head -c 64 /dev/zero | tr '\0' k | base64 -w0)
printf 'wrk.body = %s\n' "'{\"id\":\"bench-enc\",\"plaintext\":\"$P64\"}'" \
    >"$T/encrypt.lua"

# wrk_run NAME SCRIPT PATH: requests/s and p99; dies on any error answer
wrk_run() {
	ns wrk -t1 -c"$BENCH_CONNS" -d"$BENCH_DURATION" --latency -s "$2" \
	    -H "Authorization: Bearer $TOKEN" \
	    -H "Content-Type: application/json" \
	    "$URL/$3" >"$T/$1.out" 2>&1 || die "wrk failed: $(cat "$T/$1.out")"
	if grep -q "Non-2xx" "$T/$1.out"; then
		ns curl -sk -XPOST -H "Authorization: Bearer $TOKEN" \
		    -d "$(sed -n "s/^wrk.body = '\(.*\)'/\1/p" "$2")" \
		    "$URL/$3" >&2
		die "$1: $(grep Non-2xx "$T/$1.out")"
	fi
	RPS=$(sed -n 's/^Requests\/sec: *//p' "$T/$1.out")
	P99=$(sed -n 's/^ *99% *//p' "$T/$1.out")
}

# kb PID...: their resident (RSS) and proportional (PSS) memory, in kB
kb() {
	for p in "$@"; do
		awk '/^(Rss|Pss):/ {print $1, $2}' "/proc/$p/smaps_rollup" \
		    2>/dev/null
	done | awk '{s[$1] += $2} END {printf "%.1f MB RSS, %.1f MB PSS",
	    s["Rss:"] / 1024, s["Pss:"] / 1024}'
}
# memory: each kmd process of node 1, and its PostgreSQL, idle in a
# cluster of one
memory() {
	sleep 3
	kp=$(cat "$KMD_CLUSTER_DIR/node1/kmd.pid")
	printf '%-28s %s\n' "memory, kmd parent" "$(kb "$kp")"
	table_row "memory idle, kmd parent" "$(kb "$kp")"
	for r in replmon joiner hsm api; do
		wp=$(pgrep -P "$kp" -x "kmd: $r")
		printf '%-28s %s\n' "memory, kmd $r" "$(kb "$wp")"
		table_row "memory idle, kmd $r" "$(kb "$wp")"
	done
	pm=$(pgrep -P "$kp" -x postgres)
	pp="$pm $(pgrep -P "$pm" | tr '\n' ' ')"
	printf '%-28s %s\n' "memory, PostgreSQL" \
	    "$(kb $pp) ($(echo $pp | wc -w) processes)"
	table_row "memory idle, PostgreSQL instance" \
	    "$(kb $pp) ($(echo $pp | wc -w) processes)"
}

# guessing: encrypt again while wrong logins come from 10000 addresses
# as fast as the API answers them (regress/bench/guess.py): each login
# check is an argon2id hash on the joiner's hashing thread, which the
# rest of the joiner's work does not wait for
guessing() {
	secs=${BENCH_DURATION%s}
	ns python3 regress/bench/guess.py 127.0.0.1:8443 $((secs + 4)) \
	    10000 16 >"$T/guess.out" 2>&1 &
	gp=$!
	sleep 2
	wrk_run guess-encrypt "$T/encrypt.lua" crypto/encrypt
	wait "$gp"
	logins=$(awk '{printf "%s%s %s", (NR > 1 ? ", " : ""), $2, $1}' \
	    "$T/guess.out")
	printf '%-28s %10s %10s\n' "encrypt/s while guessed at" "$RPS" \
	    "p99 $P99"
	printf '%-28s %s\n' "  logins answered" "$logins"
	table_row "encrypt/s (64 B) during a login-guessing run" \
	    "$RPS (p99 $P99); logins: $logins"
}

# run LABEL EXTRA: one node with kmd.conf lines EXTRA, both measures
run() {
	KMD_CLUSTER_EXTRA=$2 $C up 1 >/dev/null || die "$1: node did not start"
	$C ctl 1 cluster new --host=127.0.0.1 --url=https://127.0.0.1:8443 \
	    >/dev/null || die "$1: cluster new failed"
	echo bench-password | $C ctl 1 users set-password --name admin ||
	    die "$1: set-password failed"
	TOKEN=$(ns curl -sk -XPOST "$URL/auth/tokens" \
	    -d '{"username":"admin","password":"bench-password"}' |
	    sed -n 's/.*"token" *: *"\([^"]*\)".*/\1/p')
	[ -n "$TOKEN" ] || die "$1: no token"
	$C ctl 1 keys create --name=bench-enc >/dev/null ||
	    die "$1: keys create failed"
	# POST with a body: wrk's method comes from the script
	sed -i '1i wrk.method = "POST"' "$T/create.lua" "$T/encrypt.lua"
	[ "$1" = software ] && memory
	wrk_run "$1-create" "$T/create.lua" vault/keys2
	printf '%-28s %10s %10s\n' "$1: keys create/s" "$RPS" "p99 $P99"
	table_row "keys create/s, $1 RoT" "$RPS (p99 $P99)"
	wrk_run "$1-encrypt" "$T/encrypt.lua" crypto/encrypt
	printf '%-28s %10s %10s\n' "$1: encrypt/s (64 B)" "$RPS" "p99 $P99"
	table_row "encrypt/s (64 B), $1 RoT" "$RPS (p99 $P99)"
	enc=$RPS
	CT=$(ns curl -sk -XPOST -H "Authorization: Bearer $TOKEN" \
	    -d "{\"id\":\"bench-enc\",\"plaintext\":\"$P64\"}" \
	    "$URL/crypto/encrypt" | sed -n 's/.*"ciphertext" *: *"\([^"]*\)".*/\1/p')
	[ -n "$CT" ] || die "$1: no ciphertext"
	printf 'wrk.method = "POST"\nwrk.body = %s\n' \
	    "'{\"id\":\"bench-enc\",\"ciphertext\":\"$CT\"}'" >"$T/decrypt.lua"
	wrk_run "$1-decrypt" "$T/decrypt.lua" crypto/decrypt
	printf '%-28s %10s %10s\n' "$1: decrypt/s (64 B)" "$RPS" "p99 $P99"
	table_row "decrypt/s (64 B), $1 RoT" "$RPS (p99 $P99)"
	printf '' >"$T/get.lua"
	wrk_run "$1-get" "$T/get.lua" cluster
	printf '%-28s %10s %10s\n' "$1: GET cluster/s" "$RPS" "p99 $P99"
	table_row "GET cluster/s beside them, $1 RoT" "$RPS (p99 $P99);\
 encrypt at $(awk -v e="$enc" -v g="$RPS" 'BEGIN { printf "%.2f", e / g }') x" \
	    "encrypt >= 0.5 x"
	[ "$1" = software ] && guessing
	printf '%-28s %10s\n' "$1: keys made" \
	    "$($C sql 1 "SELECT count(*) FROM kmd_keys")"
	sed -i '1d' "$T/create.lua" "$T/encrypt.lua"
	$C down >/dev/null 2>&1
}

echo "keys through the API: one node, wrk -t1 -c$BENCH_CONNS -d$BENCH_DURATION, $(nproc) CPUs"
run software ""
run softhsm2 "hsm module \"$MODULE\"
hsm token \"bench\"
hsm pin-file \"$T/pin\""
