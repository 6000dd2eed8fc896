# Six processes with the right users, titles and sandbox.
. regress/e2e/lib.sh
start_kmd || finish

kuid=$(id -u _kmd)
check "status lists six processes (parent, postgres, four workers)" \
    test "$(ctl status | grep -c '"role"')" -eq 6
check "parent runs as root" test "$(ps -o user= -p "$KPID")" = root
for role in replmon joiner hsm api; do
	pid=$(wpid $role)
	if [ -z "$pid" ]; then fail "$role is running"; continue; fi
	st=/proc/$pid/status
	check "$role title shows its role" \
	    test "$(tr '\0' ' ' < /proc/$pid/cmdline | cut -d' ' -f1-4)" = "kmd: $role -P $role"
	check "$role: real, effective, saved uid $kuid" \
	    grep -Eq "^Uid:[[:space:]]+$kuid[[:space:]]+$kuid[[:space:]]+$kuid[[:space:]]+$kuid$" "$st"
	check "$role: no supplementary group but its own" \
	    grep -Eq "^Groups:[[:space:]]+$(id -g _kmd)[[:space:]]*$" "$st"
	check "$role: NO_NEW_PRIVS set" grep -Eq '^NoNewPrivs:[[:space:]]+1' "$st"
	check "$role: not dumpable (its /proc files stay root's)" \
	    test "$(stat -c %U "$st")" = root
	check "$role: status reports user _kmd" \
	    sh -c "$KMCTL -s $SOCK status | grep -A3 '\"role\": \"$role\"' | grep -q '\"user\": \"_kmd\"'"
	case $role in
	replmon) want="$T/data/run" ;;
	api) want="$T/data/empty" ;;
	*) want=/ ;;
	esac
	check "$role: root directory is $want" \
	    test "$(readlink /proc/$pid/root)" = "$want"
done
finish
