# The keys the cluster serves, on 3 nodes with the software root of trust:
# made on one node, used on another, over the socket and over REST; bad
# input refused with the reason; a rotation adds a version and old
# ciphertexts still open; a delete reaches every node; two nodes making
# the same name at once converge without stopping replication; and no
# KEK or key material in clear in any file of any node.
. regress/e2e/lib.sh
. regress/e2e/cluster_lib.sh K

cluster_of_3
k() { n=$1; shift; $C ctl "$n" keys "$@"; }
# rk K ARGS: kmctl keys ARGS against node K over HTTPS
rk() {
	n=$1; shift
	ns "$KMCTL" --url "https://127.0.0.$n:8443" --user admin \
	    --password secret-password --nosslverify keys "$@"
}
j() { python3 -c 'import json,sys; print(json.load(sys.stdin)[sys.argv[1]])' "$1"; }

OUT=$(k 1 create --name=payroll 2>&1)
check "keys create on node 1" has "$OUT" '"version": 0'
KCV=$(printf '%s' "$OUT" | j kcv)
ID=$(printf '%s' "$OUT" | j id)
check "a key has an id and a key check value" test -n "$ID" -a ${#KCV} -eq 6
OUT=$(k 1 create --name=payroll 2>&1); RC=$?
check "the same name again: refused, it exists" \
    refused $RC "$OUT" "a key named 'payroll' exists already"
OUT=$(k 1 create --name=x --size=100 2>&1); RC=$?
check "--size=100: refused" refused $RC "$OUT" "128, 192 or 256"
OUT=$(k 1 create --name=x --algorithm=des 2>&1); RC=$?
check "--algorithm=des: refused" refused $RC "$OUT" "keys are AES"
OUT=$(k 1 create --name=../x 2>&1); RC=$?
check "a name with a slash: refused" refused $RC "$OUT" "is not a key name"
check "the key reaches node 3 with the same kcv" \
    wait_for 10 sh -c "$C ctl 3 keys get --name=payroll | grep -q '$KCV'"
check "and can be named by its id there" \
    sh -c "$C ctl 3 keys get --name=$ID | grep -q '\"name\": \"payroll\"'"

# Encrypt on node 1, decrypt on node 3.
CT=$(k 1 encrypt --name=payroll --plaintext='salary 1234' | j ciphertext)
check "encrypt on node 1" test -n "$CT"
OUT=$(k 3 decrypt --name=payroll --ciphertext="$CT" 2>&1)
check "decrypt on node 3 gives the plaintext back" \
    test "$(printf '%s' "$OUT" | j plaintext | base64 -d)" = 'salary 1234'
BAD=$(python3 -c 'import base64,sys
b = bytearray(base64.b64decode(sys.argv[1])); b[20] ^= 1
print(base64.b64encode(bytes(b)).decode())' "$CT")
OUT=$(k 3 decrypt --name=payroll --ciphertext="$BAD" 2>&1); RC=$?
check "an altered ciphertext: refused" refused $RC "$OUT" "does not decrypt"
k 1 create --name=other >/dev/null
OUT=$(k 1 decrypt --name=other --ciphertext="$CT" 2>&1); RC=$?
check "another key's ciphertext: refused" refused $RC "$OUT" "does not decrypt"
OUT=$(k 1 decrypt --name=payroll --ciphertext=not-base64 2>&1); RC=$?
check "not a ciphertext: refused" refused $RC "$OUT" "not one kmd made"
OUT=$(k 1 get --name=nothing 2>&1); RC=$?
check "keys get of an unknown name: refused" refused $RC "$OUT" "no key named"
LONG=$(head -c 4097 /dev/zero | tr '\0' a)
OUT=$(k 1 encrypt --name=payroll --plaintext="$LONG" 2>&1); RC=$?
check "more than 4096 bytes to encrypt: refused" refused $RC "$OUT" "longer than"

# Rotation adds a version; the old ciphertext still opens.
OUT=$(k 2 rotate --name=payroll 2>&1)
check "keys rotate on node 2: version 1" has "$OUT" '"version": 1'
KCV1=$(printf '%s' "$OUT" | j kcv)
check "with new material" test -n "$KCV1" -a "$KCV1" != "$KCV"
check "node 1 sees version 1" \
    wait_for 10 sh -c "$C ctl 1 keys get --name=payroll | grep -q '\"version\": 1'"
OUT=$(k 1 encrypt --name=payroll --plaintext=new)
check "encrypt now uses version 1" has "$OUT" '"version": 1'
CT1=$(printf '%s' "$OUT" | j ciphertext)
check "a version 0 ciphertext still decrypts" \
    sh -c "$C ctl 1 keys decrypt --name=payroll --ciphertext='$CT' | grep -q '\"version\": 0'"
check "and version 1's on node 3" \
    sh -c "$C ctl 3 keys decrypt --name=payroll --ciphertext='$CT1' | grep -q '\"plaintext\": \"bmV3\"'"
check "the rows are insert-only: two versions of payroll on node 3" \
    q_is 3 "SELECT count(*) FROM kmd_keys WHERE name = 'payroll'" 2

# Over REST, against node 2 and node 3.
TOKEN=$(ns curl -sk -X POST https://127.0.0.1:8443/api/v1/auth/tokens \
    -d '{"username":"admin","password":"secret-password"}' | j token)
OUT=$(rk 2 create --name=api-key --size=128 2>&1)
check "REST: POST vault/keys2 on node 2" has "$OUT" '"size": 128'
CT=$(rk 2 encrypt --name=api-key --plaintext=over-https | j ciphertext)
check "REST: crypto/encrypt" test -n "$CT"
OUT=$(rk 3 decrypt --name=api-key --ciphertext="$CT" 2>&1)
check "REST: crypto/decrypt on node 3" has "$OUT" '"plaintext": "b3Zlci1odHRwcw=="'
OUT=$(rk 3 list --limit=1 2>/dev/null)
check "REST: GET vault/keys2 pages" sh -c "printf '%s' '$OUT' | python3 -c '
import json,sys; d = json.load(sys.stdin)
sys.exit(not (d[\"total\"] == 3 and d[\"limit\"] == 1 and len(d[\"resources\"]) == 1))'"
OUT=$(rk 3 rotate --name=api-key 2>&1)
check "REST: POST vault/keys2/NAME/versions rotates" has "$OUT" '"version": 1'
CODE=$(ns curl -sk -o "$T/body" -w '%{http_code}' \
    -H "Authorization: Bearer $TOKEN" \
    https://127.0.0.1:8443/api/v1/vault/keys2/absent)
check "REST: an unknown key is a 404" test "$CODE" = 404
check "  saying so" grep -q "no key named 'absent'" "$T/body"
CODE=$(ns curl -sk -o "$T/body" -w '%{http_code}' -X POST \
    -H "Authorization: Bearer $TOKEN" -d '{"name":"x","size":"big"}' \
    https://127.0.0.1:8443/api/v1/vault/keys2)
check "REST: a size that is no number: 400" test "$CODE" = 400
check "  saying so" grep -q "must be a whole number" "$T/body"
CODE=$(ns curl -sk -o /dev/null -w '%{http_code}' -X POST \
    -d '{"name":"x"}' https://127.0.0.1:8443/api/v1/vault/keys2)
check "REST: no token: 401" test "$CODE" = 401

# Delete: asked for, then gone everywhere.
OUT=$(k 1 delete --name=other </dev/null 2>&1); RC=$?
check "keys delete without -y and no terminal: refused" refused $RC "$OUT" "give -y"
check "keys delete -y" k 1 delete --name=other -y
check "gone on node 3" wait_for 10 sh -c \
    "! $C ctl 3 keys get --name=other >/dev/null 2>&1"

# New versions share commits (keys_batch.c): 8 clients create 20 keys
# each through node 1 while its PostgreSQL is killed (kill -9) in the
# middle; every create that was acknowledged is there once it is back.
for c in 1 2 3 4 5 6 7 8; do
	(for i in $(seq 1 20); do
		k 1 create --name="burst-$c-$i" >/dev/null 2>&1 &&
		    echo "burst-$c-$i" >>"$T/acked.$c"
	done) &
done
sleep 1
PG=$(pgrep -P "$(cat "$D/node1/kmd.pid")" -x postgres)
kill -9 "$PG"
wait
cat "$T"/acked.* >"$T/acked" 2>/dev/null
ACKED=$(wc -l <"$T/acked")
echo "(creates acknowledged: $ACKED of 160)"
check "node 1's PostgreSQL back" wait_for 60 sh -c \
    "$C ctl 1 keys get --name=payroll >/dev/null 2>&1"
check "some creates were acknowledged, around the kill" test "$ACKED" -gt 0
LIST=$(tr '\n' ',' <"$T/acked" | sed 's/,$//')
check "every acknowledged create is there" q_is 1 "SELECT count(*) FROM
    kmd_keys WHERE name = ANY (string_to_array('$LIST', ','))" "$ACKED"
check "... on every node" wait_for 30 q_all 3 "SELECT count(*) FROM
    kmd_keys WHERE name = ANY (string_to_array('$LIST', ','))" "$ACKED"
k 1 create --name=twice >"$T/tw1" 2>&1 & P1=$!
k 1 create --name=twice >"$T/tw2" 2>&1 & P2=$!
wait $P1; R1=$?; wait $P2; R2=$?
check "one name twice at once through node 1: one made, one refused" \
    test "$((R1 + R2))" = 1
check "... saying it exists" grep -q "exists already" "$T/tw1" "$T/tw2"
check "a key named null (an array literal's NULL, quoted)" sh -c \
    "$C ctl 1 keys create --name=null >/dev/null && $C ctl 2 keys encrypt \
    --name=null --plaintext=eA== >/dev/null 2>&1 || { sleep 2; $C ctl 2 \
    keys encrypt --name=null --plaintext=eA== >/dev/null; }"

# Lookups are answered from memory (keycache.c), dropped by the
# notification each change makes on every node.  A key used on nodes 2
# and 3, then deleted on node 1: neither encrypts with it any more; made
# again under its name: both use the new one.  Node 3's connection
# broken and the key deleted meanwhile (the notification lost): node 3
# does not encrypt with it either.
enc_id() { k "$1" encrypt --name="$2" --plaintext=eA== 2>/dev/null | j id; }
no_enc() { ! k "$1" encrypt --name="$2" --plaintext=eA== >/dev/null 2>&1; }
k 1 create --name=cached >/dev/null
check "a key used on nodes 2 and 3" wait_for 10 sh -c "$C ctl 2 keys \
    encrypt --name=cached --plaintext=eA== >/dev/null && $C ctl 3 keys \
    encrypt --name=cached --plaintext=eA== >/dev/null"
k 1 delete --name=cached -y >/dev/null
check "deleted on node 1: node 2 no longer encrypts with it" \
    wait_for 5 no_enc 2 cached
check "... nor node 3" wait_for 5 no_enc 3 cached
NEWID=$(k 1 create --name=cached | j id)
check "made again on node 1: nodes 2 and 3 encrypt with the new one" \
    wait_for 5 sh -c "[ \"\$($C ctl 2 keys encrypt --name=cached \
    --plaintext=eA== | python3 -c 'import json,sys; print(json.load(sys.stdin)[\"id\"])')\" \
    = $NEWID ] && [ \"\$($C ctl 3 keys encrypt --name=cached \
    --plaintext=eA== | python3 -c 'import json,sys; print(json.load(sys.stdin)[\"id\"])')\" \
    = $NEWID ]"
check "node 3 encrypts with it" test "$(enc_id 3 cached)" = "$NEWID"
q 3 "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE
    application_name = 'kmd-keys'" >/dev/null
k 1 delete --name=cached -y >/dev/null
check "node 3's keys connection broken, the key deleted meanwhile: node 3
    refuses it once connected again" wait_for 10 sh -c "$C ctl 3 keys \
    encrypt --name=cached --plaintext=eA== 2>&1 | grep -q \"no key named\""
k 1 create --name=bulk-victim >/dev/null
check "a key used on node 3" wait_for 10 sh -c "$C ctl 3 keys encrypt \
    --name=bulk-victim --plaintext=eA== >/dev/null"
# (20,000 new names in one transaction: past its 64th row the trigger
# takes no lock per name, which would fill PostgreSQL's lock table)
check "one transaction on node 1: 20,000 keys made, that one deleted" \
    q_is 1 "WITH w AS (INSERT INTO kmd_keys (key_id, name, version,
    algorithm, material_sealed) SELECT gen_random_uuid(), 'bulk-' || i, 0,
    'aes', '\\x01' FROM generate_series(1, 20000) i RETURNING 1), d AS
    (DELETE FROM kmd_keys WHERE name = 'bulk-victim' RETURNING 1) SELECT
    (SELECT count(*) FROM w) + (SELECT count(*) FROM d)" 20001
check "... past 64 changes one notification for all: node 3 refuses it" \
    wait_for 10 sh -c "$C ctl 3 keys encrypt --name=bulk-victim \
    --plaintext=eA== 2>&1 | grep -q \"no key named\""

# The same name made on two nodes at once: both rows stay (random ids,
# nothing for pglogical to resolve), every node reads the same one, and
# what either node encrypted with its own opens everywhere.
k 1 create --name=race >"$T/race1" 2>&1 & P1=$!
k 2 create --name=race >"$T/race2" 2>&1 & P2=$!
wait $P1; R1=$?; wait $P2; R2=$?
check "a race for one name: node 1 or node 2 made it" test $R1 -eq 0 -o $R2 -eq 0
[ $R1 -eq 0 ] && [ $R2 -eq 0 ] && echo "(both nodes made 'race')"
RC1=$(k 1 encrypt --name=race --plaintext=one | j ciphertext)
RC2=$(k 2 encrypt --name=race --plaintext=two | j ciphertext)
ROWS=$(( (R1 == 0) + (R2 == 0) ))
check "every node holds the race's $ROWS row(s)" wait_for 10 \
    q_all 3 "SELECT count(*) FROM kmd_keys WHERE name = 'race'" "$ROWS"
kcv_of() { $C ctl "$1" keys get --name=race | j kcv; }
check "every node reads the same race key" sh -c \
    "[ '$(kcv_of 1)' = '$(kcv_of 2)' ] && [ '$(kcv_of 2)' = '$(kcv_of 3)' ]"
# each node's cache, warmed by the encrypt above with its own row, was
# told of the other's when it arrived: all encrypt with the same row
eid_of() { k "$1" encrypt --name=race --plaintext=eA== | j id; }
same_race_row() {
	[ "$(eid_of 1)" = "$(eid_of 2)" ] && [ "$(eid_of 2)" = "$(eid_of 3)" ]
}
check "every node encrypts with the same race row (a cached lookup lives 10 s)" wait_for 25 same_race_row
check "node 1's ciphertext of the race opens on node 3" sh -c \
    "$C ctl 3 keys decrypt --name=race --ciphertext='$RC1' | grep -q b25l"
check "node 2's ciphertext of the race opens on node 3" sh -c \
    "$C ctl 3 keys decrypt --name=race --ciphertext='$RC2' | grep -q dHdv"
check "no apply worker stopped on kmd_keys on any node" sh -c \
    "! grep -q 'duplicate key value violates unique constraint .kmd_keys' $D/node*/data/pg/postgres.log"
check "and replication goes on from both nodes" sh -c \
    "$C ctl 1 keys create --name=after1 >/dev/null && $C ctl 2 keys create --name=after2 >/dev/null"
check "  both keys reach node 3" wait_for 10 sh -c \
    "$C ctl 3 keys get --name=after1 >/dev/null && $C ctl 3 keys get --name=after2 >/dev/null"
check "nodes 1..3 hold the same keys" wait_for 10 same_keys 2 3

# Node 2 moves its KEK to a new software key, restarts, deletes the old
# one: its keys keep working; node 1's KEK is not touched.
rot_in_use() { $C ctl "$1" rot-keys list | python3 -c 'import json,sys
print([k["id"] for k in json.load(sys.stdin)["resources"] if k["inUse"]][0])'; }
restart2() {
	kill -TERM "$(cat "$D/node2/kmd.pid")"
	wait_for 20 sh -c "! kill -0 $(cat "$D/node2/kmd.pid") 2>/dev/null"
	rm -f "$D/node2/kmd.pid"
	$C up 3 >/dev/null && wait_for 20 sh -c \
	    "$C ctl 2 keys decrypt --name=payroll --ciphertext='$CT1' >/dev/null"
}
KEK2=$(q 2 "SELECT encode(kek_wrapped, 'hex') FROM kmd_local")
KEK1=$(q 1 "SELECT encode(kek_wrapped, 'hex') FROM kmd_local")
check "node 2: rot-keys rotate (a new software key)" $C ctl 2 rot-keys rotate
check "software-1 holds node 2's KEK" test "$(rot_in_use 2)" = software-1
check "the KEK is wrapped anew" test "$(q 2 "SELECT encode(kek_wrapped, 'hex') FROM kmd_local")" != "$KEK2"
check "node 2's key file holds two keys" test "$(stat -c %s "$D/node2/data/rot.key")" = 64
check "node 1's KEK is as it was" q_is 1 "SELECT encode(kek_wrapped, 'hex') FROM kmd_local" "$KEK1"
check "node 2 restarted: it decrypts (KEK under software-1)" restart2
OUT=$($C ctl 2 rot-keys delete --id=software-1 -y 2>&1); RC=$?
check "deleting the key in use: refused" refused $RC "$OUT" "holds this node's KEK"
OUT=$($C ctl 2 rot-keys delete --id=software -y 2>&1); RC=$?
check "deleting the first software key: refused" refused $RC "$OUT" "fallback"
check "a second new key: software-2" $C ctl 2 rot-keys rotate
check "delete software-1, no longer in use" $C ctl 2 rot-keys delete --id=software-1 -y
check "software-1 is gone from the list" sh -c \
    "! $C ctl 2 rot-keys list | grep -q '\"software-1\"'"
check "its slot in the file is zeros" test "$(dd if="$D/node2/data/rot.key" \
    bs=32 skip=1 count=1 2>/dev/null | od -An -v -tx1 | tr -d ' \n' | tr -d 0)" = ""
check "node 2 restarted again: it decrypts (KEK under software-2)" restart2
check "  and encrypts for node 3" sh -c "$C ctl 3 keys decrypt --name=payroll \
    --ciphertext=\"\$($C ctl 2 keys encrypt --name=payroll --plaintext=n2 |
    python3 -c 'import json,sys; print(json.load(sys.stdin)[\"ciphertext\"])')\" | grep -q bjI="
OUT=$($C ctl 2 rot-keys rotate --id=software-9 2>&1); RC=$?
check "rotate to a software key that is not there: refused" refused $RC "$OUT" "no such software root-of-trust key"

# No secret in clear on disk: open the KEK and payroll's material as the
# hsm worker would (the test is root and reads the RoT key file), then
# search every file of every node for them.
for n in 1 2 3; do q "$n" "CHECKPOINT" >/dev/null; done
scan() {
	n=$1; shift
	python3 regress/e2e/secrets_scan.py "$D/node$n/data/rot.key" \
	    "$(q "$n" "SELECT node_id FROM kmd_local")" \
	    "$(q "$n" "SELECT encode(kek_wrapped, 'hex') FROM kmd_local")" \
	    "$(q "$n" "SELECT key_id FROM kmd_keys WHERE name = 'payroll' AND version = 1")" \
	    "$(q "$n" "SELECT encode(material_sealed, 'hex') FROM kmd_keys WHERE name = 'payroll' AND version = 1")" \
	    "$KCV1" "$@"
}
for n in 1 2 3; do
	check "node $n: no KEK or key material in clear in its files" \
	    scan "$n" "$D/node$n"
done
scan 1 "$D/node1" >"$T/scan1"
check "  ($(tail -1 "$T/scan1"))" grep -q "0 found" "$T/scan1"
# The scan finds what is there: a file holding the material in hex.
mkdir "$T/planted"
printf 'log line %s\n' "$(SCAN_PRINT=1 scan 1)" >"$T/planted/f"
scan 1 "$T/planted" >/dev/null 2>&1; RC=$?
check "the scan does find material planted in a file" test "$RC" -eq 1

# An apply worker that dies on an error is restarted by the joiner's
# reconciler, not only when pglogical's manager next wakes (up to
# minutes): a trigger on node 2 makes applying one row fail until it goes.
check "node 2: a trigger that refuses the row 'poison'" q 2 "CREATE FUNCTION
    kmd_test_poison() RETURNS trigger LANGUAGE plpgsql AS \$\$ BEGIN IF
    NEW.name = 'poison' THEN RAISE EXCEPTION 'poisoned'; END IF; RETURN NEW;
    END \$\$; CREATE TRIGGER kmd_test_poison BEFORE INSERT ON kmd_keys FOR
    EACH ROW EXECUTE FUNCTION kmd_test_poison(); ALTER TABLE kmd_keys ENABLE
    ALWAYS TRIGGER kmd_test_poison"
check "keys create --name=poison on node 1" $C ctl 1 keys create --name=poison
check "  node 2's apply worker dies on it, and the joiner restarts it" \
    wait_for 30 grep -q "is down (its apply worker stopped): restarting it" \
    "$D/node2/kmd.log"
q 2 "DROP TRIGGER kmd_test_poison ON kmd_keys; DROP FUNCTION kmd_test_poison()" >/dev/null
check "  the trigger gone, a restart applies it: poison reaches node 2" \
    wait_for 30 sh -c "$C ctl 2 keys get --name=poison >/dev/null"

check "no sanitizer report in any node's log" nodes_clean
down
exit "$FAILS"
