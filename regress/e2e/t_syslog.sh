# Without -d, every process logs to syslog with facility LOG_DAEMON and
# names itself.  A datagram listener stands in for syslogd on /dev/log:
# in a private mount namespace when the machine has a syslogd already.
. regress/e2e/lib.sh
write_conf

cat > "$T/listen.py" <<'PY'
import socket, sys
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
s.bind(sys.argv[1])
with open(sys.argv[2], 'ab', buffering=0) as out:
    while True:
        out.write(s.recv(8192).rstrip(b'\0\n') + b'\n')
PY
if [ -e /dev/log ]; then
	# Our listener over the real /dev/log, seen only by this kmd.
	python3 "$T/listen.py" "$T/log.sock" "$T/syslog" &
	wait_for 5 test -S "$T/log.sock"
	unshare -m --propagation private sh -c \
	    "mount --bind $T/log.sock /dev/log && exec $KMD -v -f $CONF"
else
	python3 "$T/listen.py" /dev/log "$T/syslog" &
	wait_for 5 test -S /dev/log
	"$KMD" -v -f "$CONF"
fi
LPID=$!
check "kmd came up detached" wait_for 10 ctl status
KPID=$(ctl status | sed -n 's/.*"pid": \([0-9]*\),.*/\1/p' | head -1)
check "the parent logs its start, facility daemon, level info" \
    wait_for 5 grep -q '^<30>.*kmd\[[0-9]*\]: parent: kmd .* started' "$T/syslog"
for role in replmon joiner hsm api; do
	check "$role logs through syslog under its own name (debug)" \
	    wait_for 5 grep -q "^<31>.*kmd\[[0-9]*\]: $role: running as uid" "$T/syslog"
done
kill -9 "$(wpid hsm)"
check "a worker's death is logged at LOG_ERR" \
    wait_for 5 grep -q '^<27>.*parent: hsm (pid [0-9]*) was killed by signal 9' "$T/syslog"
kill -TERM "$KPID"
check "the stop is logged" wait_for 10 grep -q 'parent: stopped' "$T/syslog"
KPID=
kill "$LPID" 2>/dev/null
if [ "$(readlink -f /dev/log)" = /dev/log ] && [ -S /dev/log ] &&
    ! [ -e "$T/log.sock" ]; then
	rm -f /dev/log
fi
cat "$T/syslog" >> "$LOG"
finish
