# Six processes with the right users, titles and sandbox; what each
# inherits: no descriptor but its channel and stdio, no environment, no
# core file.
. regress/e2e/lib.sh
# A secret in kmd's environment must reach no worker and no postgres.
export KMD_TEST_CANARY=canary-Env-5h2
start_kmd || finish
unset KMD_TEST_CANARY

# fds_bad PID: a worker's descriptors that are neither stdio (0-2) nor a
# socket, a pipe or an event-loop inode: files it should not hold
fds_bad() {
	for f in /proc/$1/fd/*; do
		n=${f##*/}; l=$(readlink "$f")
		[ "$n" -le 2 ] && continue
		case $l in socket:*|pipe:*|anon_inode:*) ;; *) echo "$n $l" ;; esac
	done
}
# env_bad PID ROLE: names in a worker's environment it should not have
env_bad() {
	tr '\0' '\n' </proc/$1/environ | sed 's/=.*//' |
	    grep -Evx "ASAN_OPTIONS|UBSAN_OPTIONS|LSAN_OPTIONS${2:+|$2}"
}

# each worker's own user: the joiner's is kmd.conf's, the others' suffixed
user_of() { [ "$1" = joiner ] && echo _kmd || echo "_kmd_$1"; }
check "status lists six processes (parent, postgres, four workers)" \
    test "$(ctl status | grep -c '"role"')" -eq 6
check "parent runs as root" test "$(ps -o user= -p "$KPID")" = root
for role in replmon joiner hsm api; do
	pid=$(wpid $role)
	if [ -z "$pid" ]; then fail "$role is running"; continue; fi
	st=/proc/$pid/status
	u=$(user_of $role); kuid=$(id -u "$u")
	check "$role title shows its role" \
	    test "$(tr '\0' ' ' < /proc/$pid/cmdline | cut -d' ' -f1-4)" = "kmd: $role -P $role"
	check "$role: real, effective, saved uid $kuid" \
	    grep -Eq "^Uid:[[:space:]]+$kuid[[:space:]]+$kuid[[:space:]]+$kuid[[:space:]]+$kuid$" "$st"
	check "$role: no supplementary group but its own" \
	    grep -Eq "^Groups:[[:space:]]+$(id -g "$u")[[:space:]]*$" "$st"
	check "$role: NO_NEW_PRIVS set" grep -Eq '^NoNewPrivs:[[:space:]]+1' "$st"
	check "$role: not dumpable (its /proc files stay root's)" \
	    test "$(stat -c %U "$st")" = root
	check "$role: status reports user $u" \
	    sh -c "$KMCTL -s $SOCK status | grep -A3 '\"role\": \"$role\"' | grep -q '\"user\": \"$u\"'"
	case $role in
	replmon) want="$T/data/run" ;;
	api) want="$T/data/empty" ;;
	*) want=/ ;;
	esac
	check "$role: root directory is $want" \
	    test "$(readlink /proc/$pid/root)" = "$want"
	check "$role: no descriptor but stdio, its channel, sockets, pipes" \
	    test -z "$(fds_bad "$pid")"
	[ "$role" = hsm ] && extra=SOFTHSM2_CONF || extra=
	check "$role: nothing of kmd's environment (the canary)" \
	    test -z "$(env_bad "$pid" "$extra")"
	check "$role: no core file (RLIMIT_CORE 0)" \
	    grep -Eq "^Max core file size +0 +0 " /proc/$pid/limits
done
check "control: the canary is in the parent's environment" \
    grep -q canary-Env-5h2 /proc/$KPID/environ
check "the parent: no core file (RLIMIT_CORE 0)" \
    grep -Eq "^Max core file size +0 +0 " /proc/$KPID/limits
pgpid=$(ctl status | grep -A1 '"role": "postgres"' |
    sed -n 's/.*"pid": \([0-9]*\),.*/\1/p')
pg_environ() {
	for p in $pgpid $(pgrep -P "$pgpid"); do tr '\0' '\n' </proc/$p/environ; done
}
check "control: postgres's environment is libpq's TLS files" \
    sh -c "[ -n '$pgpid' ] && tr '\\0' '\\n' </proc/$pgpid/environ | grep -q ^PGSSLKEY="
check "postgres and its backends: not the canary" \
    test -z "$(pg_environ | grep canary)"

# From each worker's user, PostgreSQL: replmon's reaches kmd_replmon
# only, no superuser; hsm's and api's reach nothing.  (The joiner's user
# is the database's owner: see kmd.8, "Privileges".)
RUN=$T/data/run
as_psql() { runuser -u "$1" -- psql -h "$RUN" -U "$2" -d kmd -XAtqc "$3" 2>&1; }
check "control: replmon's user logs in as kmd_replmon, no superuser" \
    test "$(as_psql _kmd_replmon kmd_replmon 'SELECT rolsuper FROM pg_roles WHERE rolname = current_user')" = f
for u in _kmd_replmon _kmd_hsm _kmd_api; do
	for r in kmd postgres kmd_repl; do
		check "$u cannot log in as $r" sh -c \
		    "! runuser -u $u -- psql -h $RUN -U $r -d kmd -XAtqc 'SELECT 1' >/dev/null 2>&1"
	done
done
for u in _kmd_hsm _kmd_api; do
	check "$u cannot log in as kmd_replmon either" sh -c \
	    "! runuser -u $u -- psql -h $RUN -U kmd_replmon -d kmd -XAtqc 'SELECT 1' >/dev/null 2>&1"
done
# pglogical's functions run their effects as a superuser on every node:
# none is open to replmon's role (PUBLIC had them all).
check "kmd_replmon writes no heartbeat row but its node's own, through kmd_beat()" \
    sh -c "as=\$(runuser -u _kmd_replmon -- psql -h $RUN -U kmd_replmon -d kmd -XAtqc \"INSERT INTO kmd_join_markers VALUES (gen_random_uuid(), gen_random_uuid())\" 2>&1); echo \"\$as\" | grep -q 'permission denied'"
check "... and on a node in no cluster, kmd_beat() stamps nothing" \
    test "$(as_psql _kmd_replmon kmd_replmon 'SELECT count(*) FROM kmd_beat()')|$(as_psql postgres kmd 'SELECT count(*) FROM kmd_join_markers')" = "0|0"
check "control: replmon reads what it is granted" \
    sh -c "runuser -u _kmd_replmon -- psql -h $RUN -U kmd_replmon -d kmd -XAtqc 'SELECT count(*) FROM kmd_peer_seen' >/dev/null"
for f in "pglogical.replicate_ddl_command('SELECT 1')" \
    "pglogical.create_subscription('x', 'host=127.0.0.9')" \
    "pglogical.alter_node_add_interface('x', 'y', 'host=127.0.0.9')" \
    "pglogical.show_subscription_status()"; do
	check "kmd_replmon cannot call ${f%%(*}" sh -c \
	    "as=\$(runuser -u _kmd_replmon -- psql -h $RUN -U kmd_replmon -d kmd -XAtqc \"SELECT $f\" 2>&1); echo \"\$as\" | grep -q 'permission denied'"
done
check "no pglogical function is executable by PUBLIC, nor its schema usable" test \
    "$(as_psql postgres kmd "SELECT count(*) FROM pg_proc p WHERE pronamespace = 'pglogical'::regnamespace AND (proacl IS NULL OR EXISTS (SELECT FROM aclexplode(proacl) a WHERE a.grantee = 0))") $(as_psql postgres kmd "SELECT has_schema_privilege('kmd_replmon', 'pglogical', 'USAGE')")" = "0 f"
check "the superusers: kmd, the bootstrap one, no other (not kmd_repl)" test \
    "$(as_psql postgres kmd "SELECT string_agg(rolname, ' ' ORDER BY rolname) FROM pg_roles WHERE rolsuper")" = "kmd"

# The root-of-trust key file is passed to hsm on its channel; a worker
# started while that copy is still queued must not inherit it.  hsm and
# api restarted together, again and again.
for i in 1 2 3 4 5; do
	kill -KILL "$(wpid hsm)" "$(wpid api)" 2>/dev/null
	sleep 1.2
done
wait_for 40 sh -c "[ -n \"\$(pgrep -P $KPID -x 'kmd: api')\" ] &&
    [ -n \"\$(pgrep -P $KPID -x 'kmd: hsm')\" ]"
for role in replmon joiner api; do
	check "after restarts, $role holds no file: no root-of-trust key" \
	    test -z "$(fds_bad "$(wpid $role)")"
done
finish
