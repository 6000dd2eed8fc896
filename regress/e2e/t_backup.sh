# Backups and backup keys, end to end.  Nodes 1 and 2 are a cluster
# (software root of trust) that takes writes on both while node 1 makes a
# backup; its backup key is exported under a passphrase and the file
# downloaded.  Node 3 is a fresh node whose root of trust is a SoftHSM2
# token: it makes its own one-node cluster, takes the file and the key,
# and restores; what was encrypted before the backup decrypts there, and
# node 4 joins the restored node.  Refused, each with nothing changed: a
# restore on a member of a 2-node cluster, a missing backup key, a wrong
# passphrase, a tampered byte, a truncated file, a newer schema.  No KEK
# or key material in clear in the backup file.
. regress/e2e/lib.sh
. regress/e2e/cluster_lib.sh B

export SOFTHSM2_CONF=$T/softhsm2.conf
mkdir -p "$T/tokens"
printf 'directories.tokendir = %s\nobjectstore.backend = file\n' \
    "$T/tokens" >"$SOFTHSM2_CONF"
PIN=48151623
softhsm2-util --init-token --free --label kmd3 --pin "$PIN" --so-pin "$PIN" \
    >/dev/null
chown -R _kmd_hsm "$T/tokens"
printf '%s\n' "$PIN" >"$T/pin"
chmod 600 "$T/pin"
MODULE=/usr/lib/softhsm/libsofthsm2.so

js() { python3 -c 'import json,sys; print(json.load(sys.stdin)[sys.argv[1]])' "$1"; }
b() { n=$1; shift; $C ctl "$n" backups "$@"; }
bk() { n=$1; shift; $C ctl "$n" backup-keys "$@"; }

check "up 2, each keeping 3 backups" env KMD_CLUSTER_EXTRA="backup keep 3" \
    $C up 2
KMD_CLUSTER_EXTRA=$(printf 'hsm module "%s"\nhsm token "kmd3"\nhsm pin-file "%s"' \
    "$MODULE" "$T/pin") $C up 3 >/dev/null
check "node 1: cluster new" $C ctl 1 cluster new --host=127.0.0.1 \
    --url=https://127.0.0.1:8443
creds 2 1
check "node 2 joins" join 2 1 -y --block
OUT=$(b 1 list)
check "no backup yet" has "$OUT" '"total": 0'
OUT=$(b 1 restore --id=00000000-0000-4000-8000-000000000000 -y 2>&1); RC=$?
check "restore of a backup that is not there: refused" refused $RC "$OUT" \
    "no backup 00000000-0000-4000-8000-000000000000 on this node"

$C ctl 1 keys create --name=payroll >/dev/null
CT=$($C ctl 1 keys encrypt --name=payroll --plaintext='salary 1234' | js ciphertext)
check "a ciphertext made before the backup" test -n "$CT"
$C ctl 1 keys rotate --name=payroll >/dev/null
echo alice-password | $C ctl 1 users create --name=alice --role=keys >/dev/null
check "both nodes hold it" wait_for 15 q_is 2 "SELECT count(*) FROM kmd_keys
    WHERE name = 'payroll'" 2

# Rows of 512 bytes of material: a batch of them is megabytes, more than
# a socket takes at once, which the restore must send whole.
check "4000 large rows" q_is 1 "WITH w AS (INSERT INTO kmd_keys (key_id, name,
    version, algorithm, material_sealed) SELECT gen_random_uuid(), 'big-' || i,
    1, 'aes256', decode(repeat(md5(i::text), 32), 'hex') FROM
    generate_series(1, 4000) i RETURNING 1) SELECT count(*) FROM w" 4000

# Writes on both nodes while node 1 makes its backup.
(for i in $(seq 1 40); do writes 1 50 "a$i" && writes 2 50 "b$i" || break
    [ -e "$T/stop" ] && break; done) >/dev/null 2>&1 &
W=$!
OUT=$(b 1 create --description="before the storm" 2>"$T/create.err"); RC=$?
check "backups create while both nodes write: exit 0" test $RC -eq 0
ID=$(printf '%s' "$OUT" | js id)
BKEY=$(printf '%s' "$OUT" | js backupKey)
NK=$(printf '%s' "$OUT" | js keyVersions)
check "... it names the backup key (the default, made for it)" \
    sh -c "$C ctl 1 backup-keys get --id=$BKEY | grep -q '\"default\": true'"
check "... and says so in the log" grep -q "made backup key $BKEY" \
    "$D/node1/kmd.log"
check "... with the description" has "$OUT" '"description": "before the storm"'
wait "$W"
check "... the writes went on meanwhile" q_is 1 "SELECT count(*) > $NK FROM kmd_keys" t
F=$D/node1/data/backups/$ID.kmdb
check "the file is under the data directory, mode 0600, the joiner's" \
    test "$(stat -c '%a %U' "$F")" = "600 _kmd"
check "nothing half-written is left" sh -c "! ls $D/node1/data/backups | grep -q part"
check "backups list shows it" sh -c "$C ctl 1 backups list | grep -q $ID"
check "... with its size" test "$(b 1 get --id="$ID" | js size)" = "$(stat -c %s "$F")"

# The backup key: the only copy is on node 1 until it is exported.
OUT=$(bk 1 delete --id="$BKEY" -y 2>&1); RC=$?
check "deleting a backup key never exported: refused" refused $RC "$OUT" \
    "was never exported"
OUT=$(echo short | bk 1 export --id="$BKEY" --file="$T/bk-short.json" 2>&1); RC=$?
check "a passphrase of 5 characters: refused" refused $RC "$OUT" "at least 8"
check "... and no file left" test ! -e "$T/bk-short.json"
check "backup-keys export --file, the passphrase on stdin" sh -c \
    "echo 'correct horse battery' | $C ctl 1 backup-keys export --id=$BKEY --file=$T/bk.json"
check "... the file: the key under argon2id, mode 0600" \
    sh -c "grep -q '\"kdf\": \"argon2id\"' $T/bk.json && [ \$(stat -c %a $T/bk.json) = 600 ]"
OUT=$(echo 'correct horse battery' | bk 1 export --id="$BKEY" \
    --file="$T/bk.json" 2>&1); RC=$?
check "export over a file that exists: refused, naming --file" refused $RC \
    "$OUT" "--file: cannot make $T/bk.json: File exists"
check "... the file as it was" grep -q '"kdf": "argon2id"' "$T/bk.json"
check "... and the key shows it was exported" \
    sh -c "$C ctl 1 backup-keys get --id=$BKEY | grep -q '\"exportedAt\": \"20'"
check "backups download --file" b 1 download --id="$ID" --file="$T/b.kmdb"
check "... the same bytes" cmp -s "$F" "$T/b.kmdb"
OUT=$(b 1 download --id="$ID" --file="$T/b.kmdb" 2>&1); RC=$?
check "... not over a file that exists" refused $RC "$OUT" "exists"

OUT=$(b 1 restore --id="$ID" -y 2>&1); RC=$?
check "restore on a member of a 2-node cluster: refused" refused $RC "$OUT" \
    "one of 2 nodes of a cluster"
check "... naming what to do" has "$OUT" "its cluster's only node"

# The secrets scan: neither the KEK nor payroll's material in the file.
mkdir "$T/scan" && cp "$T/b.kmdb" "$T/scan/"
check "the backup file holds no KEK or key material in clear" \
    python3 regress/e2e/secrets_scan.py "$D/node1/data/rot.key" \
    "$(q 1 "SELECT node_id FROM kmd_local")" \
    "$(q 1 "SELECT encode(kek_wrapped, 'hex') FROM kmd_local")" \
    "$(q 1 "SELECT key_id FROM kmd_keys WHERE name = 'payroll' AND version = 1")" \
    "$(q 1 "SELECT encode(material_sealed, 'hex') FROM kmd_keys WHERE name = 'payroll' AND version = 1")" \
    "$(q 1 "SELECT kcv FROM kmd_keys WHERE name = 'payroll' AND version = 1")" \
    "$T/scan"

# Node 3: another root of trust (SoftHSM2), its own one-node cluster.
check "node 3 (SoftHSM2): cluster new" $C ctl 3 cluster new \
    --host=127.0.0.3 --url=https://127.0.0.3:8443
q 3 "SELECT count(*) FROM kmd_keys" >"$T/k3"
check "node 3's KEK is sealed in its token" \
    q_is 3 "SELECT left(encode(kek_wrapped, 'escape'), 4) FROM kmd_local" p11:

# Bad files.  A header altered (its id, its schema, its backup key): each
# under an id of its own, uploaded now; a byte changed in the stream, and
# the file cut short, its first line saying the older row format (JSON)
# of the binary rows: under the backup's own header, each uploaded in
# turn once the key is imported.  A format to come is refused at upload.
python3 - "$T/b.kmdb" "$T" <<'EOF'
import json, sys, uuid
data = open(sys.argv[1], "rb").read()
magic, rest = data[:12], data[12:]
line, body = rest.split(b"\n", 1)
def save(name, head, body, magic=magic):
    open(sys.argv[2] + "/" + name + ".kmdb", "wb").write(magic + head + b"\n" + body)
h = json.loads(line)
for name in ("renamed", "newer", "lostkey"):
    head = dict(h, id=str(uuid.uuid4()))
    if name == "newer":
        head["schemaVersion"] += 1
    if name == "lostkey":
        head["backupKey"] = str(uuid.uuid4())
    save(name, json.dumps(head).encode(), body)
    open(sys.argv[2] + "/" + name + ".id", "w").write(head["id"])
b = bytearray(body)
b[len(b) // 2] ^= 1
save("tampered", line, bytes(b))
save("truncated", line, body[:len(body) - 40])
save("oldmagic", line, body, b"KMDBACKUP 1\n")
save("futuremagic", line, body, b"KMDBACKUP 3\n")
EOF
for bad in renamed newer lostkey; do
	b 3 upload --file="$T/$bad.kmdb" >/dev/null 2>&1
done
OUT=$(b 3 restore --id="$ID" -y 2>&1); RC=$?
check "restore before the upload: refused, no such backup here" refused $RC \
    "$OUT" "no backup $ID on this node"
check "backups upload --file" b 3 upload --file="$T/b.kmdb"
check "... it is listed, uploaded" sh -c "$C ctl 3 backups get --id=$ID | grep -q '\"origin\": \"uploaded\"'"
OUT=$(b 3 upload --file="$T/b.kmdb" 2>&1); RC=$?
check "... twice: refused" refused $RC "$OUT" "on this node already"
printf 'not a backup\n' >"$T/junk"
OUT=$(b 3 upload --file="$T/junk" 2>&1); RC=$?
check "uploading a file that is no backup: refused" refused $RC "$OUT" \
    "not a kmd backup"
OUT=$(b 3 upload --file="$T/futuremagic.kmdb" 2>&1); RC=$?
check "uploading a backup of a format to come: refused" refused $RC "$OUT" \
    "a backup format this kmd does not read .*upgrade kmd first"
OUT=$(b 3 restore --id="$ID" -y 2>&1); RC=$?
check "restore without the backup key: refused, saying to import it" \
    refused $RC "$OUT" "backup key $BKEY, which is not on this node: import it"
check "backups delete (node 3's copy)" b 3 delete --id="$ID" -y
OUT=$(echo 'wrong horse battery' | bk 3 import --file="$T/bk.json" 2>&1); RC=$?
check "import with a wrong passphrase: refused" refused $RC "$OUT" "wrong passphrase"
sed 's/"sealed": "./"sealed": "A/' "$T/bk.json" >"$T/bk-bad.json"
OUT=$(echo 'correct horse battery' | bk 3 import --file="$T/bk-bad.json" 2>&1); RC=$?
check "import of an altered file: refused" refused $RC "$OUT" "wrong passphrase, or the file was altered"
check "... nothing imported" q_is 3 "SELECT count(*) FROM kmd_backup_keys" 0
check "import with the passphrase" sh -c \
    "echo 'correct horse battery' | $C ctl 3 backup-keys import --file=$T/bk.json"
check "... the key is node 3's now, sealed in its token" \
    q_is 3 "SELECT origin || ' ' || left(encode(key_sealed, 'escape'), 4) FROM kmd_backup_keys" "imported p11:"
for bad in renamed newer lostkey tampered truncated oldmagic; do
	case $bad in
	tampered|truncated|oldmagic)
		b 3 upload --file="$T/$bad.kmdb" >/dev/null
		echo "$ID" >"$T/$bad.id" ;;
	esac
	OUT=$(b 3 restore --id="$(cat "$T/$bad.id")" -y 2>&1); RC=$?
	case $bad in
	renamed) want="does not open under this backup key: .* its header was altered" ;;
	tampered) want="a message does not open: the file was altered" ;;
	truncated) want="cut short" ;;
	oldmagic) want="a row format other than its first line's" ;;
	newer) want="made by a newer kmd" ;;
	lostkey) want="which is not on this node" ;;
	esac
	check "restore of a $bad file: refused ($want)" refused $RC "$OUT" "$want"
	refused $RC "$OUT" "$want" || echo "restore said: $OUT"
	check "... nothing changed" q_is 3 "SELECT count(*) FROM kmd_keys" "$(cat "$T/k3")"
	case $bad in
	tampered|truncated|oldmagic) b 3 delete --id="$ID" -y >/dev/null ;;
	esac
done
check "backups upload of the good file" b 3 upload --file="$T/b.kmdb"
OUT=$(b 3 restore --id="$ID" 2>&1 </dev/null); RC=$?
check "restore without -y and no terminal: refused" test $RC -ne 0
check "restore -y" sh -c "$C ctl 3 backups restore --id=$ID -y >$T/restored 2>$T/restore.err"
check "... every key version of the backup is there" \
    q_is 3 "SELECT count(*) FROM kmd_keys" "$NK"
check "... the user too, with its role" \
    sh -c "$C ctl 3 users get --name=alice | grep -q '\"role\": \"keys\"'"
OUT=$($C ctl 3 keys decrypt --name=payroll --ciphertext="$CT" 2>&1)
check "... a ciphertext made before the backup decrypts on node 3" \
    test "$(printf '%s' "$OUT" | js plaintext | base64 -d)" = 'salary 1234'
check "... node 3's KEK is the backup's, still sealed in its token" \
    q_is 3 "SELECT left(encode(kek_wrapped, 'escape'), 4) FROM kmd_local" p11:
check "... and its log says so" grep -q "restored: .*this node's KEK is now the \
backup's" "$D/node3/kmd.log"
stop_node 3
KMD_CLUSTER_EXTRA=$(printf 'hsm module "%s"\nhsm token "kmd3"\nhsm pin-file "%s"' \
    "$MODULE" "$T/pin") $C up 3 >/dev/null
check "node 3 restarted: it still decrypts" sh -c "$C ctl 3 keys decrypt --name=payroll \
    --ciphertext='$CT' | grep -q plaintext"

# A new node joins the restored node and serves its keys.
check "up node 4" $C up 4
creds 4 3
check "node 4 joins node 3" join 4 3 -y --block
OUT=$($C ctl 4 keys decrypt --name=payroll --ciphertext="$CT" 2>&1)
check "... and decrypts the old ciphertext" \
    test "$(printf '%s' "$OUT" | js plaintext | base64 -d)" = 'salary 1234'
OUT=$(b 4 restore --id="$ID" -y 2>&1); RC=$?
check "restore on node 4 (no such backup there, node-local): refused" \
    refused $RC "$OUT" "no backup"

# An older schema's backup: node 5 runs the next release (make next: one
# schema step on, a column more in kmd_keys); the backup restores there,
# the column it lacks takes its default.
NEXT=${KMD_NEXT:-$PWD/build/next/kmd}
mkdir -p "$D/node5"
cp "$(dirname "$NEXT")/kmctl" "$D/node5/kmctl"
check "node 5 up on the next release" env KMD="$NEXT" $C up 5
check "node 5: cluster new" $C ctl 5 cluster new --host=127.0.0.5 \
    --url=https://127.0.0.5:8443
S5=$(q 5 "SELECT version FROM kmd_schema")
check "... a schema newer than the backup's" test "$S5" -gt \
    "$(q 1 "SELECT version FROM kmd_schema")"
echo 'correct horse battery' | $C ctl 5 backup-keys import --file="$T/bk.json" >/dev/null
$C ctl 5 backups upload --file="$T/b.kmdb" >/dev/null
check "the older backup restores on node 5" $C ctl 5 backups restore --id="$ID" -y
check "... every key version, the new column at its default" q_is 5 \
    "SELECT count(*) FROM kmd_keys WHERE description IS NULL" "$NK"
OUT=$($C ctl 5 keys decrypt --name=payroll --ciphertext="$CT" 2>&1)
check "... and the old ciphertext decrypts" \
    test "$(printf '%s' "$OUT" | js plaintext | base64 -d)" = 'salary 1234'

# A node in no cluster restores, then makes its cluster: the cluster's
# KEK is the backup's, and what was encrypted before decrypts.
check "node 6 up, in no cluster" $C up 6
echo 'correct horse battery' | $C ctl 6 backup-keys import --file="$T/bk.json" >/dev/null
$C ctl 6 backups upload --file="$T/b.kmdb" >/dev/null
check "the backup restores on node 6, in no cluster" \
    $C ctl 6 backups restore --id="$ID" -y
check "... the backup's KEK waits for its cluster new, under its root of trust" \
    q_is 6 "SELECT count(*) FROM kmd_restored_kek" 1
check "node 6: cluster new" $C ctl 6 cluster new --host=127.0.0.6 \
    --url=https://127.0.0.6:8443
check "... it took the KEK" q_is 6 "SELECT count(*) FROM kmd_restored_kek" 0
OUT=$($C ctl 6 keys decrypt --name=payroll --ciphertext="$CT" 2>&1)
check "... and the old ciphertext decrypts on node 6" \
    test "$(printf '%s' "$OUT" | js plaintext | base64 -d)" = 'salary 1234'
check "... every key version of the backup is there" \
    q_is 6 "SELECT count(*) FROM kmd_keys" "$NK"

# A backup of format 1 (rows as JSON, made by kmd before binary COPY;
# regress/e2e/data/backup-v1 says how) restores on today's kmd: node 6
# is its cluster's only node.
V1=$PWD/regress/e2e/data/backup-v1
V1ID=9108e385-5601-421c-a4bd-e852d9dd9496
V1PASS='format one passphrase'
check "a format 1 backup's key imports on node 6" sh -c \
    "echo '$V1PASS' | $C ctl 6 backup-keys import --file='$V1/backup-key.json'"
check "... its file uploads" $C ctl 6 backups upload --file="$V1/backup.kmdb"
check "... and restores" $C ctl 6 backups restore --id="$V1ID" -y
check "... its 3 key versions and its user, nothing else" q_is 6 \
    "SELECT (SELECT count(*) FROM kmd_keys) || ' ' || (SELECT string_agg(name,
    ',') FROM kmd_users WHERE name <> 'admin')" "3 bob"
OUT=$($C ctl 6 keys decrypt --name=format-one --ciphertext="$(cat "$V1/ciphertext")" 2>&1)
check "... and what it encrypted decrypts" test "$(printf '%s' "$OUT" |
    js plaintext | base64 -d)" = 'made by a format 1 backup'

# The joiner killed while a restore's COPY is under way (a trigger holds
# one row back for 8 s): nothing commits, node 6 keeps its keys and KEK.
q 6 "CREATE FUNCTION e2e_hold() RETURNS trigger LANGUAGE plpgsql AS \$\$
    BEGIN IF NEW.name = 'payroll' THEN PERFORM pg_sleep(8); END IF; RETURN
    NEW; END \$\$; CREATE TRIGGER e2e_hold BEFORE INSERT ON kmd_keys FOR
    EACH ROW EXECUTE FUNCTION e2e_hold()" >/dev/null
K6=$(q 6 "SELECT count(*) || ' ' || md5(kek_wrapped) FROM kmd_keys, kmd_local
    GROUP BY kek_wrapped")
b 6 restore --id="$ID" -y >"$T/r6.out" 2>&1 &
RESTORER=$!
check "a restore's COPY under way on node 6" wait_for 20 q_is 6 "SELECT
    count(*) FROM pg_stat_activity WHERE query LIKE 'COPY kmd_keys %'" 1
kill -9 "$(pgrep -P "$(cat "$D/node6/kmd.pid")" -x 'kmd: joiner')"
wait "$RESTORER"; RC=$?
check "... its joiner killed: the restore fails" test $RC -ne 0
check "... the COPY's transaction ends" wait_for 30 q_is 6 "SELECT count(*)
    FROM pg_stat_activity WHERE query LIKE 'COPY kmd_keys %'" 0
check "... node 6 keeps its keys and its KEK" q_is 6 "SELECT count(*) || ' '
    || md5(kek_wrapped) FROM kmd_keys, kmd_local GROUP BY kek_wrapped" "$K6"
q 6 "DROP TRIGGER e2e_hold ON kmd_keys; DROP FUNCTION e2e_hold()" >/dev/null
check "... the joiner is back" wait_for 40 sh -c "$C ctl 6 version | grep -q schemaVersion"

# One at a time: a backup held up (a lock on the users' table taken
# first), a second one and a restore meanwhile are refused; the first
# finishes once let go.
q 1 "BEGIN; LOCK TABLE kmd_users IN ACCESS EXCLUSIVE MODE; SELECT
    pg_sleep(60); COMMIT" >/dev/null 2>&1 &
LOCKER=$!
check "a lock on node 1's users" wait_for 10 q_is 1 "SELECT count(*) FROM
    pg_locks WHERE relation = 'kmd_users'::regclass AND mode =
    'AccessExclusiveLock' AND granted" 1
b 1 create --description=held >"$T/held.out" 2>&1 &
HELD=$!
# (the backup reads on a connection of its own from the first: the
# joiner's main one may wait behind this lock too, its users' watch)
check "... a backup waits on it" wait_for 10 q_is 1 "SELECT count(*) FROM
    pg_stat_activity WHERE application_name = 'kmd-backup' AND
    wait_event_type = 'Lock'" 1
OUT=$(b 1 create 2>&1); RC=$?
check "a second backup meanwhile: refused, naming the one under way" \
    refused $RC "$OUT" "another cluster operation (backups create) is under way"
OUT=$(b 1 restore --id="$ID" -y 2>&1); RC=$?
check "a restore meanwhile: refused too" refused $RC "$OUT" "is under way"
q 1 "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE query
    LIKE '%pg_sleep(60)%' AND pid <> pg_backend_pid()" >/dev/null
wait "$LOCKER" 2>/dev/null
check "let go, the first backup finishes" wait "$HELD"
check "... and is listed" sh -c "$C ctl 1 backups list | grep -q '\"description\": \"held\"'"

# The joiner's users' watch reads kmd_users every 2 s on its main
# connection: held up by a lock there, it gives up rather than hold up
# what that connection serves next (backups list here).
q 1 "BEGIN; LOCK TABLE kmd_users IN ACCESS EXCLUSIVE MODE; SELECT
    pg_sleep(60); COMMIT" >/dev/null 2>&1 &
LOCKER=$!
wait_for 10 q_is 1 "SELECT count(*) FROM pg_locks WHERE relation =
    'kmd_users'::regclass AND mode = 'AccessExclusiveLock' AND granted" 1
sleep 3
$C ctl 1 --timeout 5 backups list >"$T/ulist" 2>&1; RC=$?
check "a lock on the users' table: the joiner still serves (backups list)" \
    sh -c "[ $RC = 0 ] && grep -q '\"total\"' $T/ulist"
[ $RC = 0 ] || cat "$T/ulist"
check "... its users' watch gave up on the lock (no wait of it left)" \
    q_is 1 "SELECT count(*) FROM pg_stat_activity WHERE application_name =
    'kmd-joiner' AND wait_event_type = 'Lock' AND now() - query_start >
    interval '1 s'" 0
q 1 "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE query
    LIKE '%pg_sleep(60)%' AND pid <> pg_backend_pid()" >/dev/null
wait "$LOCKER" 2>/dev/null

# The joiner killed mid-backup: no file, no row; a .part left in the
# directory is gone at the next start.
q 1 "BEGIN; LOCK TABLE kmd_users IN ACCESS EXCLUSIVE MODE; SELECT
    pg_sleep(60); COMMIT" >/dev/null 2>&1 &
LOCKER=$!
wait_for 10 q_is 1 "SELECT count(*) FROM pg_locks WHERE relation =
    'kmd_users'::regclass AND granted" 1
NB=$(b 1 list | js total)
b 1 create --description=killed >"$T/killed.out" 2>&1 &
HELD=$!
check "... the backup's session is open" wait_for 10 q_is 1 "SELECT count(*)
    FROM pg_stat_activity WHERE application_name = 'kmd-backup'" 1
kill -9 "$(pgrep -P "$(cat "$D/node1/kmd.pid")" -x 'kmd: joiner')"
wait "$HELD"; RC=$?
check "the joiner killed mid-backup: the backup fails (exit 1)" test $RC -eq 1
q 1 "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE query
    LIKE '%pg_sleep(60)%' AND pid <> pg_backend_pid()" >/dev/null
wait "$LOCKER" 2>/dev/null
check "... the joiner is back" wait_for 30 sh -c "$C ctl 1 version | grep -q schemaVersion"
check "... no backup was added" test "$(b 1 list | js total)" = "$NB"
check "... and no file" sh -c "[ \$(ls $D/node1/data/backups | wc -l) = $NB ]"
touch "$D/node1/data/backups/00000000-0000-4000-8000-000000000001.kmdb.part"
chown _kmd "$D/node1/data/backups/00000000-0000-4000-8000-000000000001.kmdb.part"
kill -9 "$(pgrep -P "$(cat "$D/node1/kmd.pid")" -x 'kmd: joiner')"
check "a .part left in the directory: gone at the next start" wait_for 30 \
    test ! -e "$D/node1/data/backups/00000000-0000-4000-8000-000000000001.kmdb.part"
check "... the joiner is back" wait_for 30 sh -c "$C ctl 1 version | grep -q schemaVersion"

# Retention: node 1 keeps 3, then 2 after a SIGHUP.
for i in 1 2 3; do b 1 create >/dev/null; done
check "backup keep 3: the oldest went" test "$(b 1 list | js total)" = 3
check "... its file too" test ! -e "$F"
sed -i 's/^backup keep 3$/backup keep 2/' "$D/node1/kmd.conf"
kill -HUP "$(cat "$D/node1/kmd.pid")"
check "backup keep 2 after SIGHUP" wait_for 10 sh -c \
    "$C ctl 1 backups create >/dev/null && [ \$($C ctl 1 backups list | grep -c '\"id\"') = 2 ]"
check "backups delete" sh -c "$C ctl 1 backups delete -y \
    --id=\$($C ctl 1 backups list | python3 -c 'import json,sys; print(json.load(sys.stdin)[\"resources\"][0][\"id\"])')"
check "... 1 left" test "$(b 1 list | js total)" = 1
# Over REST, with an admin's token (kmctl --url), and refused to a keys
# user; the file itself too (GET backups/{id}/file, POST backups/upload).
echo secret-password | $C ctl 1 users set-password --name admin >/dev/null
r() {
	ns "$KMCTL" --url https://127.0.0.1:8443 --user "${RU:-admin}" \
	    --password "${RP:-secret-password}" --nosslverify "$@"
}
OUT=$(r backups create --description=over-rest 2>"$T/rest.err")
check "--url backups create" has "$OUT" '"description": "over-rest"'
RID=$(printf '%s' "$OUT" | js id)
OUT=$(r backups list 2>&1)
check "--url backups list shows it" has "$OUT" "$RID"
check "... its id" test -n "$RID"
OUT=$(r backups get --id="$RID" 2>&1)
check "--url backups get" has "$OUT" '"origin": "made"'
OUT=$(r backup-keys list 2>&1)
check "--url backup-keys list: node 1's" has "$OUT" "$BKEY"
OUT=$(echo 'correct horse battery' | r backup-keys export --id="$BKEY" \
    --file="$T/bk-rest.json" 2>&1); RC=$?
check "--url backup-keys export --file" test $RC -eq 0
[ $RC -eq 0 ] || echo "export said: $OUT"
check "... the exported key, as JSON" grep -q '"kdf": "argon2id"' "$T/bk-rest.json"
OUT=$(RU=alice RP=alice-password r backups list 2>&1); RC=$?
check "--url as a keys user: refused (403), the role named" refused $RC "$OUT" \
    "has the role keys"
OUT=$(r backups download --id="$RID" --file="$T/rest.kmdb" 2>&1); RC=$?
check "--url backups download" test $RC -eq 0
[ $RC -eq 0 ] || echo "download said: $OUT"
check "... prints the backup" has "$OUT" "\"id\": \"$RID\""
b 1 download --id="$RID" --file="$T/local.kmdb" >/dev/null
check "... the same bytes as the file kmd keeps" cmp "$T/rest.kmdb" \
    "$D/node1/data/backups/$RID.kmdb"
check "... and as a download over the control socket" cmp "$T/rest.kmdb" \
    "$T/local.kmdb"
check "... made 0600" test "$(stat -c %a "$T/rest.kmdb")" = 600
OUT=$(r backups download --id="$RID" --file="$T/rest.kmdb" 2>&1); RC=$?
check "--url download onto a file that exists: refused" refused $RC "$OUT" \
    "exists"
OUT=$(r backups download --id=00000000-0000-4000-8000-000000000009 \
    --file="$T/none.kmdb" 2>&1); RC=$?
check "--url download of no such backup: refused" refused $RC "$OUT" \
    "no backup 00000000-0000-4000-8000-000000000009"
check "... and no file left" test ! -e "$T/none.kmdb"
OUT=$(RU=alice RP=alice-password r backups download --id="$RID" \
    --file="$T/alice.kmdb" 2>&1); RC=$?
check "--url download as a keys user: refused (403)" refused $RC "$OUT" \
    "has the role keys"
check "... no file left" test ! -e "$T/alice.kmdb"
U1=https://127.0.0.1:8443/api/v1
check "GET backups/{id}/file without a token: 401" test "$(ns curl -sk \
    -o /dev/null -w '%{http_code}' "$U1/backups/$RID/file")" = 401
OUT=$(r backups upload --file="$T/rest.kmdb" 2>&1); RC=$?
check "--url upload of a backup the node has: refused" refused $RC "$OUT" \
    "on this node already"
b 1 delete --id="$RID" -y >/dev/null
OUT=$(r backups upload --file="$T/rest.kmdb" 2>&1); RC=$?
check "--url backups upload" test $RC -eq 0
[ $RC -eq 0 ] || echo "upload said: $OUT"
check "... listed as uploaded" has "$OUT" '"origin": "uploaded"'
check "... the same bytes kept" cmp "$T/rest.kmdb" \
    "$D/node1/data/backups/$RID.kmdb"
OUT=$(r backups upload --file="$T/junk" 2>&1); RC=$?
check "--url upload of a file that is no backup: refused" refused $RC \
    "$OUT" "not a kmd backup"
OUT=$(RU=alice RP=alice-password r backups upload --file="$T/rest.kmdb" 2>&1)
RC=$?
check "--url upload as a keys user: refused (403)" refused $RC "$OUT" \
    "has the role keys"
truncate -s 257M "$T/huge.kmdb"
OUT=$(r backups upload --file="$T/huge.kmdb" 2>&1); RC=$?
check "--url upload of 257 MB: refused, saying to upload on the node" \
    refused $RC "$OUT" "takes at most 256 MB: upload it with kmctl on the node"
# The api holds a body over 1 MB only on a connection an admin was served
# on: with no token, a keys user's token, or an admin's token on a fresh
# connection, evhttp refuses it (413) before it is read; after a request
# with an admin's token on the same connection (curl --next), it reaches
# the joiner, which checks it.
head -c 2000000 /dev/urandom >"$T/2mb"
TOK=$(ns curl -sk -d '{"username":"admin","password":"secret-password"}' \
    "$U1/auth/tokens" | js token)
KTOK=$(ns curl -sk -d '{"username":"alice","password":"alice-password"}' \
    "$U1/auth/tokens" | js token)
up2() { ns curl -sk -o /dev/null -w '%{http_code}' "$@"; }
check "2 MB to backups/upload with no token: 413" test "$(up2 \
    --data-binary @"$T/2mb" "$U1/backups/upload")" = 413
check "... with a keys user's token, after a request of its own: 413" \
    test "$(ns curl -sk -o /dev/null -H "Authorization: Bearer $KTOK" \
    "$U1/keys" --next -sk -o /dev/null -w '%{http_code}' -H "Authorization: \
Bearer $KTOK" --data-binary @"$T/2mb" "$U1/backups/upload")" = 413
check "... with an admin's token on a fresh connection: 413" test "$(up2 \
    -H "Authorization: Bearer $TOK" --data-binary @"$T/2mb" \
    "$U1/backups/upload")" = 413
OUT=$(ns curl -sk -o /dev/null -H "Authorization: Bearer $TOK" \
    "$U1/backups" --next -sk -H "Authorization: Bearer $TOK" \
    --data-binary @"$T/2mb" "$U1/backups/upload")
check "... after an admin was served on it: read, and refused by the joiner" \
    has "$OUT" "not a kmd backup"
OUT=$(r backups delete --id="$RID" -y 2>&1); RC=$?
check "--url backups delete" test $RC -eq 0
[ $RC -eq 0 ] || echo "delete said: $OUT"
check "no sanitizer report in the nodes' logs" nodes_clean
finish
