#!/bin/sh
# `make bench`: how long a served key's change takes to reach another
# node.  A cluster of 3 (regress/cluster.sh, a namespace and temp dir of
# its own); BENCH_TRIALS times: a key made on node 1 and used on node 3
# (so node 3 keeps its lookup), rotated on node 1 -- until node 3
# encrypts with the new version -- then deleted on node 1 -- until node 3
# refuses it (regress/bench/keyprop.py, node 3 asked over one kept-alive
# HTTPS connection).  Goal: under 1 s.
#
# Environment: KMD, KMCTL, BENCH_TRIALS (20).
set -u
cd "$(dirname "$0")/../.." || exit 1
top=$(pwd)
: "${KMD:=$top/build/kmd}"
: "${KMCTL:=$top/build/kmctl}"
: "${BENCH_TRIALS:=20}"

die() { echo "bench: $*" >&2; exit 1; }
[ "$(id -u)" -eq 0 ] || die "run as root (kmd must start as root)"
[ -x "$KMD" ] && [ -x "$KMCTL" ] || die "$KMD or $KMCTL not built (make)"

T=$(mktemp -d /tmp/kmd-bench-keyprop.XXXXXX) || exit 1
chmod 755 "$T"
export KMD KMCTL KMD_CLUSTER_NS="kmd-bench-kp-$$" KMD_CLUSTER_DIR="$T/c" \
    CREDS_DIR="$T"
C="sh regress/cluster.sh"
cleanup() { $C down >/dev/null 2>&1; rm -rf "$T"; }
trap cleanup EXIT
trap 'exit 130' INT TERM
. regress/common.sh

$C up 3 >/dev/null || die "cluster up failed"
$C ctl 1 cluster new --host=127.0.0.1 --url=https://127.0.0.1:8443 \
    >/dev/null || die "cluster new failed"
echo bench-password | $C ctl 1 users set-password --name admin ||
    die "set-password failed"
for k in 2 3; do
	creds "$k" 1 && join "$k" 1 -y --block >/dev/null 2>&1 ||
	    die "node $k did not join"
done
ip netns exec "$KMD_CLUSTER_NS" python3 regress/bench/keyprop.py \
    127.0.0.1 127.0.0.3 bench-password "$BENCH_TRIALS" >"$T/out" ||
    die "keyprop.py failed: $(tail -n 3 "$T/out")"
for what in rotate delete; do
	line=$(awk -v w="$what" '$1 == w { print $2 * 1000 }' "$T/out" |
	    sort -n | awk '{ v[NR] = $1 } END { printf "p50 %.1f ms, max %.1f ms (%d trials)",
	    v[int((NR + 1) / 2)], v[NR], NR }')
	case $what in
	rotate) seen="node 3 encrypts with the new version" ;;
	*) seen="node 3 refuses it" ;;
	esac
	printf '%-28s %s\n' "key $what on node 1" "$line: $seen"
	table_row "key $what reaches another node's encrypt" "$line" "< 1 s"
done
