#!/bin/sh
# Run every regress/e2e/t_*.sh (or those named) and count PASS/FAIL lines.
# Needs root: kmd starts as root and drops to the worker user.
cd "$(dirname "$0")/../.." || exit 1
if [ "$(id -u)" -ne 0 ]; then
	echo "e2e: run as root (kmd must start as root)" >&2
	exit 1
fi
# Every test runs inside a network namespace of its own making, so each
# kmd's PostgreSQL has 127.0.0.1:5432 to itself and nothing listens outside.
if [ -z "${KMD_E2E_NETNS:-}" ]; then
	ns=kmd-e2e-$$
	ip netns add "$ns" || exit 1
	ip netns exec "$ns" ip link set lo up
	KMD_E2E_NETNS=$ns ip netns exec "$ns" sh "$0" "$@"
	rc=$?
	ip netns pids "$ns" 2>/dev/null | xargs -r kill -9 2>/dev/null
	ip netns del "$ns"
	exit $rc
fi
pass=0 failed=0 out=$(mktemp) start=$(date +%s)
for t in ${*:-regress/e2e/t_*.sh}; do
	echo "== $t"
	t0=$(date +%s)
	sh "$t" >"$out" 2>&1
	rc=$?
	cat "$out"
	echo "-- $t: $(($(date +%s) - t0)) s"
	p=$(grep -c '^PASS:' "$out")
	f=$(grep -c '^FAIL:' "$out")
	if [ "$rc" -ne 0 ] && [ "$f" -eq 0 ]; then
		echo "FAIL: $t exited $rc"; f=1
	fi
	pass=$((pass + p)) failed=$((failed + f))
done
rm -f "$out"
echo "e2e: $pass passed, $failed failed, $(($(date +%s) - start)) s"
[ "$failed" -eq 0 ]
