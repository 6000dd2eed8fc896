# The node's PostgreSQL: initdb once, kmd's settings, supervised, stopped.
. regress/e2e/lib.sh
write_conf
PGLOG=$T/data/pg/postgres.log
RUN=$T/data/run

# psql as the OS user postgres, whom pg_ident maps to the role kmd
sql() { runuser -u postgres -- psql -h "$RUN" -U kmd -d postgres -XAtc "$1"; }
ready() { sql 'select 1' | grep -qx 1; }
ms() { date +%s%3N; }
# postgres processes of this test's data directory (others may run too)
ours() { pgrep -u postgres -f "$T/data/pg/data" >/dev/null; }
none_ours() { ! ours; }
pgpid() {
	ctl status | grep -A1 '"role": "postgres"' |
	    sed -n 's/.*"pid": \([0-9]*\),.*/\1/p'
}

t0=$(ms)
start_kmd || finish
check "postgres accepts connections after the first start" wait_for 30 ready
echo "figure: first start (initdb) to accepting connections: $(( $(ms) - t0 )) ms"
check "initdb ran" grep -q "initializing the database" "$LOG"

pgpid=$(pgpid)
check "status shows postgres with its pid" test -n "$pgpid"
check "postgres is the parent's child" test "$(ps -o ppid= -p "$pgpid" | tr -d ' ')" = "$KPID"
check "postgres runs as postgres" test "$(ps -o user= -p "$pgpid")" = postgres
check "postgres listens on the node host, port 5432" \
    sh -c "ss -ltnH | grep -q '127.0.0.1:5432 '"
for s in "wal_level=logical" "track_commit_timestamp=on" \
    "shared_preload_libraries=pglogical" "max_replication_slots=48" \
    "max_wal_senders=48" "pglogical.conflict_resolution=last_update_wins" \
    "ssl=off" "port=5432" "jit=off"; do
	check "setting ${s%%=*} is ${s#*=}" \
	    test "$(sql "show ${s%%=*}")" = "${s#*=}"
done
check "postgres logs to its file" grep -q "ready to accept connections" "$PGLOG"
check "root may not pose as kmd (peer map)" \
    sh -c "! psql -h $RUN -U kmd -d postgres -XAtc 'select 1' 2>&1 | grep -qx 1"
check "no password or TCP login is accepted" \
    sh -c "psql 'host=127.0.0.1 user=kmd dbname=postgres sslmode=disable' -XAtc 'select 1' 2>&1 | grep -q 'no pg_hba.conf entry'"

kill -9 "$pgpid"
check "kill -9 of postgres is logged" \
    wait_for 5 grep -q "postgres (pid $pgpid) was killed by signal 9" "$LOG"
t0=$(ms)
check "postgres is back within 10 s" wait_for 10 ready
echo "figure: postgres restart after kill -9 to accepting connections: $(( $(ms) - t0 )) ms (includes the 1 s backoff)"

pgpid=$(pgpid)
stop_kmd
check "SIGTERM: kmd logs that postgres stopped" grep -q "postgres stopped" "$LOG"
check "SIGTERM: postgres got a fast shutdown" \
    grep -q "received fast shutdown request" "$PGLOG"
check "SIGTERM: postgres is gone" sh -c "! kill -0 $pgpid 2>/dev/null"
check "SIGTERM: no process of this data directory is left" none_ours

t0=$(ms)
start_kmd || finish
check "a later start reuses the data (no second initdb)" \
    test "$(grep -c 'initializing the database' "$LOG")" -eq 1
check "postgres accepts connections after a restart" wait_for 30 ready
echo "figure: later start to accepting connections: $(( $(ms) - t0 )) ms"

kill -9 "$KPID"; wait "$KPID" 2>/dev/null; KPID=
check "parent killed: postgres shuts down by itself" \
    wait_for 30 none_ours
start_kmd || finish
check "the next start recovers (stale socket, stale postmaster.pid)" \
    wait_for 30 ready
finish
