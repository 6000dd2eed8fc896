# The control socket: root only by mode and by peer credentials.
. regress/e2e/lib.sh
start_kmd || finish

asnobody() { setpriv --reuid=nobody --regid=nogroup --clear-groups "$@"; }

check "socket is 0600 root:root" \
    test "$(stat -c '%a %U %G' "$SOCK")" = "600 root root"
out=$(asnobody "$KMCTL" -s "$SOCK" status 2>&1); rc=$?
check "non-root kmctl refused by the socket's mode" \
    sh -c "[ $rc -eq 1 ] && [ '$out' = 'kmctl: cannot connect to kmd at $SOCK: Permission denied' ]"

chmod 0666 "$SOCK"
out=$(asnobody "$KMCTL" -s "$SOCK" status 2>&1); rc=$?
check "non-root refused by peer credentials even on an open socket" \
    sh -c "[ $rc -eq 1 ] && echo '$out' | grep -q 'permission denied: uid 65534'"
check "refusal logged" grep -q "uid 65534 may not use the control socket" "$LOG"
stop_kmd

# With a socket group, members get in.
write_conf 'socket group "nogroup"'
start_kmd || finish
check "group socket is 0660 root:nogroup" \
    test "$(stat -c '%a %U %G' "$SOCK")" = "660 root nogroup"
check "a member of the socket group may use kmctl" \
    asnobody "$KMCTL" -s "$SOCK" cluster info
finish
