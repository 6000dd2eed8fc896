# The parent runs as root and keeps PostgreSQL's files in <datadir>/pg,
# which belongs to the database user: whoever runs code as that user (a
# COPY ... PROGRAM, a PostgreSQL bug) can put a symbolic link anywhere in
# it.  None may lead the parent to write, chown, read or signal anything
# of root's: each file the parent touches there is touched as the
# database user, and a stale postmaster.pid is believed only for a
# process of that user.  Each attack below is planted while kmd is
# stopped; kmd then starts and serves as before.
. regress/e2e/lib.sh
write_conf
PG=$T/data/pg
RUN=$T/data/run
as_db() { runuser -u postgres -- "$@"; }
sql() { as_db psql -h "$RUN" -U kmd -d postgres -XAtc "$1"; }
ready() { sql 'select 1' | grep -qx 1; }
# what root keeps: a file, a directory, a secret, each root's alone
V=$T/victim
mkdir -m 700 "$V" "$V/dir"
for f in conf log secret; do echo "root's own $f" >"$V/$f"; chmod 600 "$V/$f"; done
chmod 711 "$V"
# untouched F: root's file, mode 600, with the words it had
untouched() { [ "$(stat -c %U:%a "$V/$1")" = root:600 ] &&
    [ "$(cat "$V/$1")" = "root's own $1" ]; }

start_kmd || finish
check "postgres accepts connections" wait_for 30 ready
stop_kmd

# Round 1: a link in place of the file written next (postgresql.conf's
# temporary), of postgres.log (opened for postgres's output), and of the
# allowed peers' list (read into pg_ident.conf).
as_db ln -s "$V/conf" "$PG/data/postgresql.conf.tmp"
as_db mv "$PG/postgres.log" "$PG/postgres.log.old"
as_db ln -s "$V/log" "$PG/postgres.log"
as_db ln -sf "$V/secret" "$PG/allowed-peers"
start_kmd || finish
check "round 1: postgres accepts connections" wait_for 30 ready
check "... root's file behind postgresql.conf.tmp: untouched" untouched conf
check "... root's file behind postgres.log: untouched" untouched log
check "... postgres logs to a file of its own again" \
    sh -c "[ ! -L $PG/postgres.log ] && [ \$(stat -c %U $PG/postgres.log) = postgres ] &&
    grep -q 'ready to accept connections' $PG/postgres.log"
check "... root's secret behind allowed-peers: untouched" untouched secret
check "... and not copied into pg_ident.conf" \
    sh -c "! grep -q \"root's own\" $PG/data/pg_ident.conf"
stop_kmd

# Round 2: a link in place of the TLS directory, which is made (and its
# mode set) at every start.
as_db mv "$PG/data/kmd-tls" "$PG/data/kmd-tls.old"
as_db ln -s "$V/dir" "$PG/data/kmd-tls"
start_kmd || finish
check "round 2: postgres accepts connections" wait_for 30 ready
check "... root's directory behind kmd-tls: still root's, mode 700" \
    test "$(stat -c %U:%a "$V/dir")" = root:700
check "... kmd-tls is a directory of the database user's again" \
    sh -c "[ ! -L $PG/data/kmd-tls ] && [ \$(stat -c %U:%a $PG/data/kmd-tls) = postgres:700 ]"
stop_kmd

# Round 3: a stale postmaster.pid naming a process of root's whose name
# is postgres: an earlier kmd's postgres would be stopped, this is not.
# (perl as "postgres", with SIGINT and SIGQUIT not ignored, as they are
# in a background job of sh)
cp "$(command -v perl)" "$V/postgres"
"$V/postgres" -e '$SIG{INT} = $SIG{QUIT} = "DEFAULT"; sleep 300' &
VICTIM=$!
as_db sh -c "echo $VICTIM >$PG/data/postmaster.pid"
# (postgres itself refuses to start while that file names a live process)
"$KMD" -d -f "$CONF" >>"$LOG" 2>&1 &
KPID=$!
check "round 3: kmd started" wait_for 10 grep -q "started postgres" "$LOG"
check "... root's process named postgres, in postmaster.pid: not signalled" \
    kill -0 "$VICTIM"
kill "$VICTIM"; wait "$VICTIM" 2>/dev/null
as_db rm -f "$PG/data/postmaster.pid"
check "... and once that file is gone, postgres starts" wait_for 30 ready
stop_kmd
finish
