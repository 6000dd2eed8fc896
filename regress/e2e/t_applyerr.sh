# PostgreSQL's own words in the summary: on a cluster of 2, node 2 is made
# unable to apply a change of node 1's (a CHECK of its own on kmd_keys);
# node 2's view of node 1 then carries the apply worker's ERROR as
# PostgreSQL logged it, with its time, which the parent reads from the
# server's log.  A client's error whose text holds a line made to look
# like the postmaster's is not taken for one.  Once the CHECK goes, node
# 1 is ready again on node 2, the key arrives and the error is gone.
. regress/e2e/lib.sh
. regress/e2e/cluster_lib.sh A
cluster_of 2
N1=$(id_of 1)
# errors K ID: node K's clusterErrors about node ID, "time message" a line
errors() {
	$C ctl "$1" cluster summary | python3 -c '
import json, sys
v = json.load(sys.stdin)
for r in v["resources"].values():
    if r["clusterSummary"].get(sys.argv[2], {}).get("nodeInfo", {}).get("isThisNode"):
        for x in r["clusterSummary"][sys.argv[1]]["clusterErrors"] or []:
            print(x["errorTime"], x["errorMessage"])' "$2" "$3"
}
N2=$(id_of 2)
# says TEXT: node 2's view of node 1 has an error holding TEXT
says() { errors 2 "$N1" "$N2" | grep -qF -- "$1"; }
no_errors() { [ -z "$(errors 2 "$N1" "$N2")" ]; }
WORDS='new row for relation "kmd_keys" violates check constraint "e2e_poison"'
APPLY="applying the changes of node $N1 here fails: ERROR: $WORDS"

check "control: node 2 shows no error about node 1" no_errors
# A flood of other lines: the parent skips to the log's end, saying so.
# (made first, then appended at once: the reader takes 1 MB a second,
# and a flood that trickles in is read, not skipped)
yes '2026-01-01 00:00:00.000 UTC [1] LOG:  a flood of lines' |
    head -c 48000000 >"$T/flood"
cat "$T/flood" >>"$D/node2/data/pg/postgres.log"
rm -f "$T/flood"
check "a log grown by 48 MB at once: skipped to its end, and said" \
    wait_for 10 grep -q "PostgreSQL's log grows faster than it is read.*skipped" \
    "$D/node2/kmd.log"
q 2 "ALTER TABLE kmd_keys ADD CONSTRAINT e2e_poison CHECK (name <> 'poison')"
check "node 1 makes key poison" \
    sh -c "$C ctl 1 keys create --name=poison >/dev/null"
check "node 2's view of node 1: the apply worker's ERROR, in PostgreSQL's words" \
    wait_for 30 says "$APPLY"
errors 2 "$N1" "$N2" | grep -F -- "$APPLY" | head -1 >"$T/line"
check "... with the time PostgreSQL logged it (ISO 8601, UTC, to the microsecond as every time kmd shows)" \
    grep -Eq '^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}\.[0-9]{3}000Z ' "$T/line"
check "... and node 2's summary keeps the reference's shape (summary_check.py)" \
    sh -c "$C ctl 2 cluster summary | python3 regress/e2e/summary_check.py 2"
check "... node 1 is down or blocked there" sh -c "$C ctl 2 cluster nodes get --id=$N1 | grep -q '\"code\": \"d\"'"

# A client's error on node 2 whose text breaks into a line shaped like the
# postmaster's, naming that client's own pid and node 2's subscription to
# node 1: PostgreSQL indents a message's further lines, so it is no line.
SUB=$(q 2 "SELECT sub_id FROM pglogical.subscription WHERE sub_name =
    kmd_sub_name('$N1', '$N2')")
q 2 "DO \$\$ BEGIN RAISE EXCEPTION '%', E'forged by a client\\n' ||
    to_char(now() AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24:MI:SS.MS') ||
    ' UTC [1] LOG:  background worker \"pglogical apply 16384:$SUB\" (PID ' ||
    pg_backend_pid() || ') exited with exit code 1'; END \$\$" >/dev/null 2>&1
check "control: the forged line is in node 2's server log" \
    grep -q "forged by a client" "$D/node2/data/pg/postgres.log"
sleep 3
check "a client's error made to look like an apply worker's exit: not taken for one" \
    sh -c "! $C ctl 2 cluster summary | grep -q 'forged by a client'"

q 2 "ALTER TABLE kmd_keys DROP CONSTRAINT e2e_poison"
check "the CHECK gone: node 1 is ready again on node 2" \
    wait_for 30 sh -c "$C ctl 2 cluster nodes get --id=$N1 | grep -q '\"code\": \"r\"'"
check "... the key arrived" wait_for 10 q_is 2 \
    "SELECT count(*) FROM kmd_keys WHERE name = 'poison'" 1
check "... and node 2 shows no error about node 1 any more" \
    wait_for 15 no_errors
check "no sanitizer report in the nodes' logs" nodes_clean
down
finish
