# Start-up checks, SIGHUP, SIGTERM, a killed parent, kmd -n.
. regress/e2e/lib.sh
write_conf

out=$(setpriv --reuid=nobody --regid=nogroup --clear-groups "$KMD" -d -f "$CONF" 2>&1); rc=$?
check "non-root kmd: exit 1 with a clear error" \
    sh -c "[ $rc -eq 1 ] && echo '$out' | grep -q 'must be started as root'"

write_conf 'user "kmd_nosuchuser"'
out=$("$KMD" -d -f "$CONF" 2>&1); rc=$?
check "missing worker user: exit 1, says how to create it" \
    refused $rc "$out" "replmon's user 'kmd_nosuchuser_replmon' does not exist; create it with: useradd --system"

check "kmd -n accepts etc/kmd.conf" "$KMD" -n -f etc/kmd.conf
for c in regress/conf/*.conf; do
	[ -f "${c%.conf}.ok" ] || continue
	check "kmd -n $c matches ${c%.conf}.ok" \
	    sh -c "$KMD -n -f $c | cmp -s - ${c%.conf}.ok"
done
printf 'user "_kmd"\nport 8443\n' > "$T/bad.conf"
out=$("$KMD" -n -f "$T/bad.conf" 2>&1); rc=$?
check "bad config: exit 1 with file:line" \
    sh -c "[ $rc -eq 1 ] && echo '$out' | grep -q '^$T/bad.conf:2: unknown keyword'"

write_conf
start_kmd || finish
out=$("$KMD" -d -f "$CONF" 2>&1); rc=$?
check "a second kmd on the same socket is refused" \
    sh -c "[ $rc -eq 1 ] && echo '$out' | grep -q 'another kmd is running'"

out=$("$KMD" -f "$CONF" 2>&1); rc=$?
check "without -d too, a busy socket fails before kmd detaches" \
    sh -c "[ $rc -eq 1 ] && echo '$out' | grep -q 'another kmd is running'"

write_conf 'host "10.0.0.1"'
kill -HUP "$KPID"
check "SIGHUP with a good config reloads" \
    wait_for 3 grep -q "configuration reloaded" "$LOG"
echo 'bogus line' >> "$CONF"
kill -HUP "$KPID"
check "SIGHUP with a bad config keeps the old one" \
    wait_for 3 grep -q "reload failed, keeping the running config: $CONF:4: unknown keyword 'bogus'" "$LOG"
check "kmd still answers after a failed reload" ctl cluster info
printf '1234\n' >"$T/pin0"; chmod 600 "$T/pin0"
write_conf 'hsm module "/usr/lib/softhsm/libsofthsm2.so"' 'hsm token "x"' \
    "hsm pin-file \"$T/pin0\""
kill -HUP "$KPID"
check "SIGHUP with hsm added: kept for the next start, and said so" \
    wait_for 3 grep -q "reload: hsm changes take effect when kmd restarts" "$LOG"
hsm_ok() { ctl health | grep -q '"hsm": "ok"'; }
check "... the software root of trust still answers health's probe" hsm_ok

pids="$KPID $(wpid replmon) $(wpid joiner) $(wpid hsm) $(wpid api)"
stop_kmd
gone() { for p in $pids; do kill -0 "$p" 2>/dev/null && return 1; done; return 0; }
check "SIGTERM: every kmd process is gone" wait_for 5 gone
check "SIGTERM: the socket is removed" test ! -e "$SOCK"
check "SIGTERM: stop logged" grep -q "stopped" "$LOG"

write_conf
start_kmd || finish
pids="$(wpid replmon) $(wpid joiner) $(wpid hsm) $(wpid api)"
kill -9 "$KPID"; wait "$KPID" 2>/dev/null; KPID=
check "parent killed: the workers exit by themselves" wait_for 5 gone
check "parent killed: a stale socket is left" test -S "$SOCK"
start_kmd
check "the next start takes over the stale socket" ctl cluster info
stop_kmd

# Without -d kmd detaches, logs to syslog, and stops on SIGTERM all the same.
"$KMD" -f "$CONF" >>"$LOG" 2>&1; rc=$?
check "kmd without -d returns 0 once detached" test $rc -eq 0
check "the detached kmd answers" wait_for 10 ctl status
dpid=$(ctl status | sed -n 's/.*"pid": \([0-9]*\),.*/\1/p' | head -1)
check "the detached parent runs as root" test "$(ps -o user= -p "$dpid")" = root
kill -TERM "$dpid"
check "the detached kmd stops on SIGTERM and removes its socket" \
    wait_for 10 test ! -e "$SOCK"
finish
