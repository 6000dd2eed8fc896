# make install honours PREFIX and DESTDIR.  The installed systemd unit:
# its exposure score, and kmd working under its capabilities, umask and
# no_new_privs, telling systemd when it is ready (Type=notify).
. regress/e2e/lib.sh
R=$T/root
make -s install B="$(dirname "$KMD")" DESTDIR="$R" PREFIX=/opt/kmd \
    SYSCONFDIR=/opt/kmd/etc UNITDIR=/opt/kmd/systemd >/dev/null
for f in sbin/kmd bin/kmctl share/man/man8/kmd.8 share/man/man8/kmctl.8 \
    share/man/man5/kmd.conf.5 etc/kmd.conf.example systemd/kmd.service; do
	check "installed /opt/kmd/$f" test -s "$R/opt/kmd/$f"
done
check "binaries are executable" test -x "$R/opt/kmd/sbin/kmd"
check "the unit names the installed kmd" \
    grep -q '^ExecStart=/opt/kmd/sbin/kmd -d -f /etc/kmd.conf$' \
    "$R/opt/kmd/systemd/kmd.service"
check "nothing installed outside DESTDIR's prefix" \
    test "$(ls "$R")" = opt
check "the installed example config parses" \
    "$R/opt/kmd/sbin/kmd" -n -f "$R/opt/kmd/etc/kmd.conf.example"
check "the installed binaries are PIE with full RELRO" \
    sh -c "readelf -hd $R/opt/kmd/sbin/kmd | grep -q 'DYN (Position-Independent' && readelf -d $R/opt/kmd/sbin/kmd | grep -q BIND_NOW"

U=$R/opt/kmd/systemd/kmd.service
score=$(systemd-analyze security --offline=true "$U" 2>&1 |
    sed -n 's/.*Overall exposure level for kmd.service: \([0-9.]*\).*/\1/p')
echo "figure: systemd exposure of the installed unit: $score"
check "the unit's exposure (systemd-analyze security) is at most 3.0" \
    awk -v s="$score" 'BEGIN { exit !(s != "" && s + 0 <= 3.0) }'

# kmd under the unit's bounding set (read from the unit), no_new_privs
# and umask; systemd's notify socket played by a datagram socket.
caps=$(sed -n 's/^CapabilityBoundingSet=//p' "$U" | tr 'A-Z' 'a-z' |
    sed 's/cap_/+/g; s/ /,/g')
check "control: the unit names a bounding set" test -n "$caps"
python3 -c 'import socket, sys
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM); s.bind(sys.argv[1])
s.settimeout(60)
for i in range(2):
    print(s.recv(256).decode().replace("\n", " "), flush=True)' \
    "$T/notify" >"$T/notified" &
NP=$!
wait_for 5 test -S "$T/notify"
write_conf
(umask 077; NOTIFY_SOCKET=$T/notify exec setpriv --bounding-set=-all,$caps \
    --no-new-privs "$KMD" -d -f "$CONF" >>"$LOG" 2>&1) &
KPID=$!
check "kmd under the unit's bounding set and no_new_privs: up" \
    wait_for 30 ctl cluster info
check "it told systemd it is ready, with its pid" \
    wait_for 10 grep -q "^READY=1 MAINPID=$KPID\$" "$T/notified"
check "the bounding set is the unit's" sh -c \
    "grep -q '^CapBnd:[[:space:]]*0*$(setpriv --bounding-set=-all,$caps \
    sh -c 'sed -n "s/^CapBnd:[[:space:]]*0*//p" /proc/self/status')$' /proc/$KPID/status"
check "cluster new under it" ctl cluster new --host=127.0.0.1 \
    --url=https://127.0.0.1:8443
check "keys create and encrypt under it" sh -c \
    "$KMCTL -s $SOCK keys create --name u1 >/dev/null &&
    $KMCTL -s $SOCK keys encrypt --name u1 --plaintext x | grep -q ciphertext"
check "all four workers run" test "$(ctl status | grep -c '"role"')" -eq 6
stop_kmd
check "and STOPPING=1 when it stops" wait_for 10 grep -q "^STOPPING=1" "$T/notified"
kill "$NP" 2>/dev/null
finish
