# make install honours PREFIX and DESTDIR.
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
finish
