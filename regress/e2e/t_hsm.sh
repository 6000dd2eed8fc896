# The root of trust in an HSM: SoftHSM2 tokens made by the test (its own
# SOFTHSM2_CONF).  One node: the KEK is sealed inside the token, a restart
# opens it again there, a wrong PIN is a clear error and an alarm, and the
# alarm clears once the PIN is right.  Then a 3-node cluster, two of its
# nodes sharing a token (--shared-hsm-partition), the third with its own,
# and a fourth without an HSM (a warning, an alarm).
. regress/e2e/lib.sh
. regress/e2e/cluster_lib.sh H
export SOFTHSM2_CONF=$T/softhsm2.conf
PIN=kmd-Pin-7Qx2w9
mkdir -p "$T/tokens"
cat >"$SOFTHSM2_CONF" <<EOF
directories.tokendir = $T/tokens
objectstore.backend = file
log.level = ERROR
EOF
for label in kmd kmd1 kmd2 kmd3; do
	softhsm2-util --init-token --free --label "$label" --pin "$PIN" \
	    --so-pin 5678 >/dev/null || fail "init token $label"
done
chown -R _kmd_hsm "$T/tokens"
chmod 700 "$T/tokens"
printf '%s\n' "$PIN" >"$T/pin"
chmod 600 "$T/pin"
MODULE=/usr/lib/softhsm/libsofthsm2.so
RUN=$T/data/run
sql() { runuser -u postgres -- psql -h "$RUN" -U kmd -d kmd -XAtqc "$1"; }
says() { ctl "$@" 2>&1 | grep -q "$LAST"; }

write_conf "hsm module \"$MODULE\"" 'hsm token "kmd"' "hsm pin-file \"$T/pin\""
start_kmd || finish
out=$(ctl cluster new --host=127.0.0.1 --url=https://127.0.0.1:8443 2>&1)
check "cluster new with the HSM root of trust" test $? -eq 0
[ "$FAILS" -eq 0 ] || echo "cluster new said: $out"
check "the KEK is sealed by the token (p11:), not by the software key" \
    test "$(sql "SELECT left(encode(kek_wrapped, 'escape'), 4) FROM kmd_local")" = p11:
check "the token made the RoT key" grep -q "made the root-of-trust key 'kmd-rot' in the token" "$LOG"
# The token files are the hsm worker's user's alone.
tokfile=$(find "$T/tokens" -type f -name '*.object' | head -n 1)
check "control: the hsm worker's user reads a token file" \
    runuser -u _kmd_hsm -- test -r "$tokfile"
for u in _kmd _kmd_replmon _kmd_api; do
	check "$u cannot read the token files" \
	    sh -c "! runuser -u $u -- cat '$tokfile' >/dev/null 2>&1"
done
stop_kmd
: >"$LOG"
start_kmd || finish
check "after a restart the token opens the KEK: PostgreSQL's TLS is back" \
    wait_for 10 grep -q "installed this node's TLS certificate" "$LOG"
LAST='"code": "r"'
check "ready" says cluster info
# Health probes the token itself, not what kmd remembers of it.
check "health: 200, the token answered its probe" \
    sh -c "[ \$(curl -sk -o $T/hz -w '%{http_code}' https://127.0.0.1:8443/api/v1/system/health) = 200 ] && grep -q '\"hsm\":\"ok\"' $T/hz"
mv "$T/tokens" "$T/tokens.away"
check "the token's files taken away while kmd runs: health 503" \
    wait_for 10 sh -c "[ \$(curl -sk -o $T/hz -w '%{http_code}' https://127.0.0.1:8443/api/v1/system/health) = 503 ]"
check "... the root of trust failed its probe, said so" \
    grep -q '"hsm":"unusable".*root of trust failed a probe' "$T/hz"
mv "$T/tokens.away" "$T/tokens"
check "the token back: health 200 again" \
    wait_for 10 sh -c "[ \$(curl -sk -o /dev/null -w '%{http_code}' https://127.0.0.1:8443/api/v1/system/health) = 200 ]"
check "... the hsm worker opened the token again, with its key (none made)" \
    sh -c "grep -q \"HSM token 'kmd' opened again\" '$LOG' && ! grep -q 'made the root-of-trust key .kmd-rot. in the token' '$LOG'"
# What a core dump of the parent would hold: the PIN passed through it.
check "control: the memory scan finds the data directory in the parent" \
    mem_holds "$KPID" "$T/data/pg"
check "the parent's memory holds no HSM PIN" mem_lacks "$KPID" "$PIN"
check "nor does the api worker's" mem_lacks "$(wpid api)" "$PIN"

# rot-keys: list, rotate to another token key and to the software key;
# each time a restart opens the KEK again.
inuse() { ctl rot-keys list | python3 -c 'import json,sys
d = json.load(sys.stdin)
sys.exit(not [k["id"] for k in d["resources"] if k["inUse"]] == [sys.argv[1]])' "$1"; }
kek() { sql "SELECT encode(kek_wrapped, 'hex') FROM kmd_local"; }
restarted() {
	stop_kmd; : >"$LOG"; start_kmd &&
	    wait_for 10 grep -q "installed this node's TLS certificate" "$LOG"
}
LAST='"id": "software"'
check "rot-keys list: the software key too" says rot-keys list
out=$(ctl rot-keys rotate --id=software-9 2>&1); rc=$?
check "rot-keys rotate to a software key that is not: refused, says why" \
    refused $rc "$out" "no such software root-of-trust key"
check "... naming the command once, not twice" \
    test "$(printf '%s\n' "$out" | grep -o 'rot-keys rotate:' | wc -l)" = 1
check "rot-keys list: the token key kmd-rot is in use" inuse kmd-rot
K0=$(kek)
check "rot-keys rotate --id=rot-2" ctl rot-keys rotate --id=rot-2
check "now rot-2 is in use" inuse rot-2
check "the KEK is wrapped anew, in the token" sh -c \
    "[ '$(kek)' != '$K0' ] && echo '$(kek)' | grep -q '^7031313a'"
check "restarted, the KEK opens under rot-2" restarted
check "rot-keys rotate --id=software" ctl rot-keys rotate --id=software
check "software in use, the KEK no longer in the token" \
    sh -c "! echo '$(kek)' | grep -q '^7031313a'"
check "restarted, the KEK opens under the software key" restarted
check "back to the token: rotate --id=kmd-rot" ctl rot-keys rotate --id=kmd-rot
check "kmd-rot in use" inuse kmd-rot
out=$(ctl rot-keys delete --id=kmd-rot -y 2>&1); rc=$?
check "rot-keys delete of the key in use: refused" refused $rc "$out" \
    "'kmd-rot' holds this node's KEK: rotate to another key first"
out=$(ctl rot-keys delete --id=rot-2 </dev/null 2>&1); rc=$?
check "rot-keys delete without -y and no terminal: refused" refused $rc "$out" "give -y"
check "rot-keys delete --id=rot-2 (no longer in use)" ctl rot-keys delete --id=rot-2 -y
LAST='"id": "rot-2"'
check "rot-2 is gone from the token" sh -c "! $KMCTL -s $SOCK rot-keys list | grep -q '$LAST'"
out=$(ctl rot-keys delete --id=rot-2 -y 2>&1); rc=$?
check "deleting it again: no such key" refused $rc "$out" "the token holds no key 'rot-2'"
check "restarted, the KEK still opens" restarted
echo secret-password | ctl users set-password --name admin >/dev/null
tok=$(curl -sk -d '{"username":"admin","password":"secret-password"}' \
    https://127.0.0.1:8443/api/v1/auth/tokens | sed -n 's/.*"token":"\([^"]*\)".*/\1/p')
check "REST GET system/rot-keys" sh -c "curl -sfk -H 'Authorization: Bearer $tok' \
    https://127.0.0.1:8443/api/v1/system/rot-keys | grep -q '\"id\":\"kmd-rot\",\"kind\":\"hsm\",\"inUse\":true'"
check "REST POST system/rot-keys/rotate with a bad body: 400" sh -c \
    "[ \$(curl -sk -o /dev/null -w '%{http_code}' -H 'Authorization: Bearer $tok' -d '{\"id\": 5}' \
    https://127.0.0.1:8443/api/v1/system/rot-keys/rotate) = 400 ]"

check "keys create with the KEK in the token" ctl keys create --name=single

# A wrong PIN: the node keeps serving, says why, raises an alarm.
stop_kmd
printf '9999\n' >"$T/pin"
start_kmd || finish
check "wrong PIN: the log says so" \
    wait_for 10 grep -q "CKR_PIN_INCORRECT: wrong PIN" "$LOG"
LAST='"kind": "hsm"'
check "wrong PIN: an alarm" wait_for 10 says alarms list
LAST='wrong PIN'
check "the alarm says why" says alarms list
LAST='BAD:the HSM is unavailable'
check "the summary says so" says cluster summary
LAST='"code": "r"'
check "the node still answers: ready" says cluster info
out=$(ctl keys encrypt --name=single --plaintext=x 2>&1); rc=$?
check "keys encrypt with a wrong PIN: refused, says why" \
    refused $rc "$out" "keys encrypt: the HSM is unavailable: .*CKR_PIN_INCORRECT"
check "keys list still answers" ctl keys list
printf '%s\n' "$PIN" >"$T/pin"
kill -9 "$(wpid hsm)"
LAST='"total": 0'
check "the PIN fixed (hsm restarted): the alarm clears" wait_for 15 says alarms list
check "and keys encrypt works again" ctl keys encrypt --name=single --plaintext=x
stop_kmd

# A fresh node with a wrong PIN: cluster new is refused, changing nothing.
rm -rf "$T/data"
printf '9999\n' >"$T/pin"
write_conf "hsm module \"$MODULE\"" 'hsm token "kmd"' "hsm pin-file \"$T/pin\""
: >"$LOG"
start_kmd || finish
out=$(ctl cluster new --host=127.0.0.1 --url=https://127.0.0.1:8443 2>&1); rc=$?
check "cluster new with a wrong PIN: refused, says why" \
    refused $rc "$out" "the HSM is unavailable: logging in to token 'kmd': CKR_PIN_INCORRECT"
LAST='"code": "none"'
check "and nothing changed" says cluster info
sleep 6
check "a wrong PIN: no new try every few seconds (a real token would lock); fix and restart, it says" \
    sh -c "grep -q \"CKR_PIN_INCORRECT: wrong PIN; check hsm module, token and pin-file in kmd.conf, then restart kmd\" '$LOG' &&
    ! grep -q 'looking for it again' '$LOG'"
stop_kmd

# A token not there yet (an HSM that comes up after kmd): looked for
# again every few seconds; once made, the node uses it, no restart.
rm -rf "$T/data"
printf '%s\n' "$PIN" >"$T/pin"
write_conf "hsm module \"$MODULE\"" 'hsm token "late"' "hsm pin-file \"$T/pin\""
: >"$LOG"
start_kmd || finish
check "a token not there: the log says it is looked for again" \
    wait_for 10 grep -q "no token labelled 'late'.*looking for it again" "$LOG"
out=$(ctl cluster new --host=127.0.0.1 --url=https://127.0.0.1:8443 2>&1); rc=$?
check "... cluster new meanwhile: refused, says why" \
    refused $rc "$out" "no token labelled 'late'"
softhsm2-util --init-token --free --label late --pin "$PIN" --so-pin 5678 \
    >/dev/null || fail "init token late"
chown -R _kmd_hsm "$T/tokens"
check "the token made: the node opens it, no restart" \
    wait_for 20 grep -q "root of trust: key 'kmd-rot' in HSM token 'late'" "$LOG"
check "... and cluster new works" ctl cluster new --host=127.0.0.1 \
    --url=https://127.0.0.1:8443
check "... the KEK sealed by that token" \
    test "$(sql "SELECT left(encode(kek_wrapped, 'escape'), 4) FROM kmd_local")" = p11:
stop_kmd
chmod 644 "$T/pin"
printf '%s\n' "$PIN" >"$T/pin"
start_kmd || finish
check "a PIN file others can read is not used" \
    wait_for 10 grep -q "pin-file .* must be a regular file of root's, mode 0600" "$LOG"
stop_kmd
chmod 600 "$T/pin"

# Three nodes: 1 and 2 share a token (one HSM partition), node 3 has its
# own.  Node 2 joins with --shared-hsm-partition: the member wraps the KEK
# under the shared key; node 3 joins with the KEK sealed to its CSR.
hsm_conf() {
	printf 'hsm module "%s"\nhsm token "%s"\nhsm pin-file "%s"' \
	    "$MODULE" "$1" "$T/pin"
}
CREDS_DIR=$T
KMD_CLUSTER_EXTRA=$(hsm_conf kmd1) $C up 2 >/dev/null
KMD_CLUSTER_EXTRA=$(hsm_conf kmd3) $C up 3 >/dev/null
check "node 1: cluster new" $C ctl 1 cluster new --host=127.0.0.1 \
    --url=https://127.0.0.1:8443
# (node 2 opened the token while node 1, starting beside it, wrote its
# key there: it may have missed it, and looks again every 5 s)
check "node 2: cluster csr, its key in the shared token" wait_for 15 sh -c \
    "$C ctl 2 cluster csr --host=127.0.0.2 >$T/csr2.json"
field "$T/csr2.json" csr >"$T/n2.csr"
check "nodes create --shared-hsm-partition" sh -c "$C ctl 1 cluster nodes create \
    --csr=$T/n2.csr --newnodehost=127.0.0.2 --shared-hsm-partition >$T/cred2.json"
field "$T/cred2.json" cert >"$T/n2.crt"
field "$T/cred2.json" cachain >"$T/ca.crt"
check "the blob is wrapped in the HSM (kmd2:), not sealed to the CSR" \
    has "$(field "$T/cred2.json" mkek_blob)" '^kmd2:'
check "node 2 joins, opening the KEK in the shared token" join 2 1 -y --block
creds 3 1
check "node 3 (its own token) joins with the KEK sealed to its CSR" \
    join 3 1 -y --block
check "3 ready nodes on every node" wait_for 15 ready_n 3 1 2 3
check "each node's KEK is sealed by its token" \
    q_all 3 "SELECT left(encode(kek_wrapped, 'escape'), 4) FROM kmd_local" p11:
check "a write on node 1 is read on node 3" writes 1 10 hsm
check "node 3 has it" wait_for 10 q_is 3 "SELECT count(*) FROM kmd_keys WHERE name LIKE 'hsm-%'" 10
# A node without an HSM joins: allowed, with a warning and an alarm.
KMD_CLUSTER_EXTRA= $C up 4 >/dev/null
creds 4 1
out=$(join 4 1 -y --block 2>&1); rc=$?
check "node 4 (software root of trust) joins" test $rc -eq 0
check "with a warning in the output: the weakest point" \
    has "$out" "WARNING: 3 node(s) keep the cluster's KEK in an HSM and this node does not"
check "and in the log" grep -q "weakest point in the key hierarchy" "$D/node4/kmd.log"
check "and an alarm on node 4" wait_for 10 sh -c \
    "$C ctl 4 alarms list | grep -q '\"kind\": \"weak-rot\"'"
check "no such alarm on node 1 (it has an HSM)" sh -c \
    "! $C ctl 1 alarms list | grep -q weak-rot"

# Keys across the three roots of trust: made on node 1 (shared token),
# used on node 2 (the same token), node 3 (its own) and node 4 (software).
j() { python3 -c 'import json,sys; print(json.load(sys.stdin)[sys.argv[1]])' "$1"; }
check "keys create on node 1" $C ctl 1 keys create --name=vault
CT=$($C ctl 1 keys encrypt --name=vault --plaintext=under-hsm | j ciphertext)
check "encrypt on node 1" test -n "$CT"
for n in 2 3 4; do
	check "node $n decrypts it" wait_for 10 sh -c "$C ctl $n keys decrypt \
	    --name=vault --ciphertext='$CT' | grep -q '\"plaintext\": \"dW5kZXItaHNt\"'"
done
CT3=$($C ctl 3 keys encrypt --name=vault --plaintext=from-3 | j ciphertext)
check "node 3 encrypts, node 4 decrypts" sh -c "$C ctl 4 keys decrypt \
    --name=vault --ciphertext='$CT3' | grep -q '\"plaintext\": \"ZnJvbS0z\"'"
# Node 3 moves its KEK to another token key and restarts: still decrypts.
check "node 3: rot-keys rotate --id=n3-rot-2" $C ctl 3 rot-keys rotate --id=n3-rot-2
kill -TERM "$(cat "$D/node3/kmd.pid")"
wait_for 20 sh -c "! kill -0 $(cat "$D/node3/kmd.pid") 2>/dev/null"
rm -f "$D/node3/kmd.pid"
KMD_CLUSTER_EXTRA=$(hsm_conf kmd3) $C up 3 >/dev/null
check "node 3 restarted: its TLS key opened under n3-rot-2" wait_for 20 \
    grep -q "installed this node's TLS certificate" "$D/node3/kmd.log"
check "node 3 still decrypts, its KEK under n3-rot-2" wait_for 10 sh -c "$C ctl 3 keys \
    decrypt --name=vault --ciphertext='$CT' | grep -q dW5kZXItaHNt"
check "node 3 ready again (pglogical reconnects within its back-off)" \
    wait_for 45 ready 3
check "rotation on node 3 left node 1's KEK as it was" sh -c \
    "$C ctl 1 rot-keys list | grep -B2 '\"inUse\": true' | grep -q kmd-rot"
check "no sanitizer report in the nodes' logs" nodes_clean
down
finish
