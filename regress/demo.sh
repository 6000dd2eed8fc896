#!/bin/sh
# demo.sh BUILDDIR: start kmd in the foreground with a throw-away config,
# show what kmctl sees, stop it.  Run as root (make demo).
set -u
B=$1
if [ "$(id -u)" -ne 0 ]; then
	echo "demo: run as root (kmd starts as root and drops privileges)" >&2
	exit 1
fi
T=$(mktemp -d /tmp/kmd-demo.XXXXXX)
chmod 755 "$T"
trap 'kill $KPID 2>/dev/null; wait $KPID 2>/dev/null; rm -rf "$T"' EXIT INT TERM
printf 'socket "%s/kmd.sock"\ndatadir "%s/data"\n' "$T" "$T" > "$T/kmd.conf"

say() { printf '\n\033[1m$ %s\033[0m\n' "$*"; }

say kmd -n -f "$T/kmd.conf"
"$B/kmd" -n -f "$T/kmd.conf"
say kmd -d -f "$T/kmd.conf" "&"
"$B/kmd" -d -f "$T/kmd.conf" &
KPID=$!
i=0
until "$B/kmctl" -s "$T/kmd.sock" status >/dev/null 2>&1; do
	i=$((i + 1))
	if [ $i -gt 50 ]; then echo "demo: kmd did not come up" >&2; exit 1; fi
	sleep 0.1
done
say kmctl cluster info
"$B/kmctl" -s "$T/kmd.sock" cluster info
say kmctl status
"$B/kmctl" -s "$T/kmd.sock" status
say ps -o pid,user,args --ppid $KPID
ps -o pid,user,args --ppid $KPID
say kill -TERM $KPID
kill -TERM $KPID
wait $KPID
KPID=
echo "demo: kmd stopped; socket removed: $(test -e "$T/kmd.sock" && echo no || echo yes)"
