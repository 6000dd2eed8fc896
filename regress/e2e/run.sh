#!/bin/sh
# Run every regress/e2e/t_*.sh (or those named) and count PASS/FAIL lines.
# Needs root: kmd starts as root and drops to the worker user.
#
# KMD_E2E_JOBS=N runs the tests in N lanes at once, the longest first
# (regress/e2e/order), each lane in a network namespace of its own: a
# single-node test's PostgreSQL has 127.0.0.1:5432 to itself, and a
# multi-node test makes a namespace of its own anyway.  A test's output
# is printed whole when it ends.  A test that runs longer than
# KMD_E2E_TIMEOUT seconds (900) is stopped (TERM: it takes its nodes
# down) and fails.
cd "$(dirname "$0")/../.." || exit 1
if [ "$(id -u)" -ne 0 ]; then
	echo "e2e: run as root (kmd must start as root)" >&2
	exit 1
fi

# lane NS LIST: the tests named in file LIST, one at a time, each taken
# off the list under a lock, inside namespace NS; counts to LIST.counts
lane() {
	ip netns add "$1" || exit 1
	ip netns exec "$1" ip link set lo up
	KMD_E2E_NETNS=$1 ip netns exec "$1" sh "$0" --lane "$2"
	rc=$?
	ip netns pids "$1" 2>/dev/null | xargs -r kill -9 2>/dev/null
	ip netns del "$1"
	return $rc
}

if [ "${1:-}" = --lane ]; then
	list=$2 out=$(mktemp)
	while :; do
		t=$(flock "$list" sh -c 'head -n 1 "$1"; sed -i 1d "$1"' - "$list")
		[ -n "$t" ] || break
		t0=$(date +%s)
		timeout -k 60 "${KMD_E2E_TIMEOUT:-900}" sh "$t" >"$out" 2>&1
		rc=$?
		[ "$rc" -eq 124 ] && echo "FAIL: $t ran longer than" \
		    "${KMD_E2E_TIMEOUT:-900} s, and was stopped" >>"$out"
		p=$(grep -c '^PASS:' "$out")
		f=$(grep -c '^FAIL:' "$out")
		if [ "$rc" -ne 0 ] && [ "$f" -eq 0 ]; then
			echo "FAIL: $t exited $rc" >>"$out"; f=1
		fi
		flock "$list.counts" sh -c 'echo "== $1"; cat "$2";
		    echo "-- $1: $3 s"; echo "$4 $5" >>"$6"' - "$t" "$out" \
		    "$(($(date +%s) - t0))" "$p" "$f" "$list.counts"
	done
	rm -f "$out"
	exit 0
fi

start=$(date +%s) list=$(mktemp)
# The named tests, or all of them: those regress/e2e/order lists first,
# in its order (longest first), then the rest.
if [ $# -gt 0 ]; then
	printf '%s\n' "$@" >"$list"
else
	{ grep -v '^#' regress/e2e/order; ls regress/e2e/t_*.sh; } |
	    awk '!seen[$0]++ && system("test -f " $0) == 0' >"$list"
fi
: >"$list.counts"
jobs=${KMD_E2E_JOBS:-1}
i=0
while [ "$i" -lt "$jobs" ]; do
	i=$((i + 1))
	lane "kmd-e2e-$$-$i" "$list" &
done
wait
pass=$(awk '{ s += $1 } END { print s + 0 }' "$list.counts")
failed=$(awk '{ s += $2 } END { print s + 0 }' "$list.counts")
ran=$(wc -l <"$list.counts")
if [ -s "$list" ]; then
	echo "FAIL: tests not run (no lane left): $(tr '\n' ' ' <"$list")"
	failed=$((failed + 1))
fi
rm -f "$list" "$list.counts"
echo "e2e: $pass passed, $failed failed, $ran tests, $(($(date +%s) - start)) s"
[ "$failed" -eq 0 ] && [ "$pass" -gt 0 ]
