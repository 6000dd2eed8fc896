# A compromised api worker: frames sent from inside the running api
# process (gdb makes it call its own kchan_send towards the parent), as
# code injected there could.  nodes create with no token, with a viewer's
# token, with an admin token signed by a key of the api's own, and an
# admin token used for a second request: the parent refuses each, says
# why in its log, and no credentials are issued.  The control: the same
# frame with a real admin token gets through to the joiner.  A viewer's
# token on a request to set the admin's password; a backups upload with
# a file descriptor of the api's, or with a sealed memory file larger
# than an upload may be: the parent passes from the api only a sealed
# memory file of at most 256 MB (the REST upload's own).
. regress/e2e/lib.sh
command -v gdb >/dev/null || { fail "gdb is installed (sh etc/install-deps)"; finish; }
U=https://127.0.0.1:8443/api/v1
PW=admin-pass-123

start_kmd || finish
check "cluster new" ctl cluster new --host=127.0.0.1 \
    --url=https://127.0.0.1:8443
printf '%s\n' "$PW" | ctl users set-password --name admin >/dev/null
printf 'viewer-pass-1\n' | ctl users create --name vic --role viewer >/dev/null
# token USER PASSWORD: a token from a real login
token() {
	curl -sk -d "{\"username\":\"$1\",\"password\":\"$2\"}" "$U/auth/tokens" |
	    python3 -c 'import json,sys; print(json.load(sys.stdin)["token"])'
}
VIC=$(token vic viewer-pass-1)
ADM=$(token admin "$PW")
check "a viewer's and an admin's token" test -n "$VIC" -a -n "$ADM"
API=$(wpid api)
nodes() { q_nodes=$(ctl cluster nodes list | grep -c '"nodeID"'); echo "$q_nodes"; }
N0=$(nodes)

# inject REQID [TOKEN]: inside the api process, the token (if any) under
# REQID, then a nodes create request under REQID, both to the parent
inject() {
	cmds="-ex 'set \$c = conns_api->w->parent'"
	cmds="$cmds -ex 'set \$b = (char *)calloc(1, sizeof(struct nodes_create))'"
	cmds="$cmds -ex 'call (char *)strcpy(((struct nodes_create *)\$b)->host, \"127.0.0.9\")'"
	if [ -n "${2:-}" ]; then
		cmds="$cmds -ex 'set \$a = (struct api_auth *)calloc(1, sizeof(struct api_auth))'"
		cmds="$cmds -ex 'call (char *)strcpy(\$a->token, \"$2\")'"
		cmds="$cmds -ex 'call (int)kchan_send(\$c, IMSG_API_AUTH, $1, -1, \$a, sizeof(struct api_auth))'"
	fi
	cmds="$cmds -ex 'call (int)kchan_send(\$c, IMSG_CTL_NODES_CREATE, $1, -1, \$b, sizeof(struct nodes_create))'"
	eval "gdb -q -nx -batch -p $API $cmds" >"$T/gdb.$1" 2>&1
}
# logged TEXT: kmd's log has TEXT (within 5 s)
logged() { wait_for 5 grep -q -- "$1" "$LOG"; }

inject 4242
check "no token: the parent refuses, says why" \
    logged "api: CTL_NODES_CREATE refused: no token came with the request"
inject 4243 "$VIC"
check "a viewer's token: refused, the role named" \
    logged "api: CTL_NODES_CREATE refused: the token's role viewer is below admin"
# an admin token signed with a key the api made itself
FORGED=$(python3 - "$ADM" <<'PY'
import base64, sys
raw = bytearray(base64.urlsafe_b64decode(sys.argv[1] + "=" * (-len(sys.argv[1]) % 4)))
raw[0] ^= 0xff          # the signature no longer the joiner's
print(base64.urlsafe_b64encode(bytes(raw)).decode().rstrip("="))
PY
)
inject 4244 "$FORGED"
check "an admin token not signed by this node: refused" \
    logged "api: CTL_NODES_CREATE refused: .*not one this node issued"
check "... none of them got to the joiner: no credentials issued" \
    sh -c "! grep -q 'signed the certificate of joining node' '$LOG'"
check "... and no node recorded" test "$(nodes)" = "$N0"

# the control: a real admin token, the frame through to the joiner
inject 4245 "$ADM"
check "control: with the admin's own token the frame reaches the joiner" \
    logged "kmd\[joiner\]: cluster nodes create: "
check "... which refuses it on its merits (no CSR), no refusal by the parent" \
    sh -c "[ \$(grep -c 'api: CTL_NODES_CREATE refused' '$LOG') = 3 ]"
# the parent keeps the claims of a token it verified, under the digest
# of the whole token: the altered one, sent now that the genuine one was
# verified, is refused still
inject 4246 "$FORGED"
check "the altered token after the genuine one was verified: refused" \
    sh -c "[ \$(grep -c 'api: CTL_NODES_CREATE refused: .*not one this node issued' '$LOG') = 2 ]"
# the same request id again, the token not sent again: one token, one
# request
inject 4245
check "the admin's request replayed under its id: refused" \
    sh -c "[ \$(grep -c 'api: CTL_NODES_CREATE refused: no token came' '$LOG') = 2 ]"

# a viewer's token on a request that sets the admin's password
cmds="-ex 'set \$c = conns_api->w->parent'"
cmds="$cmds -ex 'set \$a = (struct api_auth *)calloc(1, sizeof(struct api_auth))'"
cmds="$cmds -ex 'call (char *)strcpy(\$a->token, \"$VIC\")'"
cmds="$cmds -ex 'call (int)kchan_send(\$c, IMSG_API_AUTH, 4250, -1, \$a, sizeof(struct api_auth))'"
cmds="$cmds -ex 'set \$u = (struct user_set *)calloc(1, sizeof(struct user_set))'"
cmds="$cmds -ex 'call (char *)strcpy(\$u->name, \"admin\")'"
cmds="$cmds -ex 'call (char *)strcpy(\$u->password, \"taken-over-123\")'"
cmds="$cmds -ex 'call (int)kchan_send(\$c, IMSG_CTL_USER_SET, 4250, -1, \$u, sizeof(struct user_set))'"
eval "gdb -q -nx -batch -p $API $cmds" >"$T/gdb.user" 2>&1
check "a viewer's token setting the admin's password: refused" \
    logged "api: CTL_USER_SET refused: the token's role viewer is below admin"
check "... the admin's password unchanged" test -n "$(token admin "$PW")"

# a backups upload with a file descriptor of the api's (its stderr),
# under the admin's real token: not a sealed memory file, not passed on
check "a backup to count" ctl backups create
B0=$(ctl backups list | grep -c '"id"')
cmds="-ex 'set \$c = conns_api->w->parent'"
cmds="$cmds -ex 'set \$a = (struct api_auth *)calloc(1, sizeof(struct api_auth))'"
cmds="$cmds -ex 'call (char *)strcpy(\$a->token, \"$(token admin "$PW")\")'"
cmds="$cmds -ex 'call (int)kchan_send(\$c, IMSG_API_AUTH, 4251, -1, \$a, sizeof(struct api_auth))'"
cmds="$cmds -ex 'set \$b = (struct backup_req *)calloc(1, sizeof(struct backup_req))'"
cmds="$cmds -ex 'set \$b->op = BACKUP_UPLOAD'"
cmds="$cmds -ex 'call (int)kchan_send(\$c, IMSG_CTL_BACKUPS, 4251, (int)dup(2), \$b, sizeof(struct backup_req))'"
eval "gdb -q -nx -batch -p $API $cmds" >"$T/gdb.upload" 2>&1
check "a file sent by the api with a backups upload: the parent closes it" \
    logged "CTL_BACKUPS from api came with a file descriptor, which it may not pass on: closed"
check "... the joiner had none: upload refused" \
    logged "backups upload: backups upload takes a regular file"
check "... no backup added" test "$(ctl backups list | grep -c '"id"')" = "$B0"
# ... a sealed memory file of 300 MB (a real upload's is at most 256;
# sparse: a byte written at its end)
cmds="-ex 'set \$c = conns_api->w->parent'"
cmds="$cmds -ex 'set \$a = (struct api_auth *)calloc(1, sizeof(struct api_auth))'"
cmds="$cmds -ex 'call (char *)strcpy(\$a->token, \"$(token admin "$PW")\")'"
cmds="$cmds -ex 'call (int)kchan_send(\$c, IMSG_API_AUTH, 4252, -1, \$a, sizeof(struct api_auth))'"
cmds="$cmds -ex 'set \$b = (struct backup_req *)calloc(1, sizeof(struct backup_req))'"
cmds="$cmds -ex 'set \$b->op = BACKUP_UPLOAD'"
cmds="$cmds -ex 'set \$f = (int)memfd_create(\"x\", 3)'"
cmds="$cmds -ex 'call (long)lseek(\$f, 314572799, 0)'"
cmds="$cmds -ex 'call (long)write(\$f, \"x\", 1)'"
cmds="$cmds -ex 'call (int)fcntl(\$f, 1033, 15)'"
cmds="$cmds -ex 'call (int)kchan_send(\$c, IMSG_CTL_BACKUPS, 4252, \$f, \$b, sizeof(struct backup_req))'"
eval "gdb -q -nx -batch -p $API $cmds" >"$T/gdb.upload2" 2>&1
check "a sealed 300 MB memory file from the api: the parent closes it" \
    wait_for 5 sh -c "[ \$(grep -c 'CTL_BACKUPS from api came with a file descriptor' '$LOG') = 2 ]"
check "... no backup added" test "$(ctl backups list | grep -c '"id"')" = "$B0"
check "the api worker still serves" \
    sh -c "curl -sk -o /dev/null -w '%{http_code}' $U/system/health | grep -q 200"
# The joiner's link to the hsm: keys create, encrypt and decrypt go over
# a socket pair of their own, not through the parent.  One link between
# the two, made again when either restarts; what a compromised joiner
# sends on it that is not a keys call, or not of its size, ends the hsm
# (as a bad frame from the parent would), whose restart brings a new
# link, and the joiner goes on serving.
# links: the unix connections from the joiner's sockets to the hsm's
links() {
	python3 - "$(wpid joiner)" "$(wpid hsm)" <<'PY'
import os, re, subprocess, sys
def inodes(pid):
    out = set()
    for fd in os.listdir(f"/proc/{pid}/fd"):
        try:
            m = re.match(r"socket:\[(\d+)\]", os.readlink(f"/proc/{pid}/fd/{fd}"))
        except OSError:
            continue
        if m:
            out.add(m.group(1))
    return out
j, h = inodes(sys.argv[1]), inodes(sys.argv[2])
peer = {}
for line in subprocess.run(["ss", "-xn"], capture_output=True, text=True).stdout.splitlines()[1:]:
    f = line.split()
    if len(f) >= 8:
        peer[f[5]] = f[7]
print(sum(1 for i in j if peer.get(i) in h))
PY
}
# crypt: a key's encrypt and decrypt round trip on this node
crypt() {
	c=$(ctl keys encrypt --name=linked --plaintext="$1" |
	    python3 -c 'import json,sys; print(json.load(sys.stdin)["ciphertext"])') &&
	    ctl keys decrypt --name=linked --ciphertext="$c" |
	    grep -q "\"plaintext\": \"$(printf %s "$1" | base64)\""
}
# linked_again OLD ROLE TAG: ROLE runs again, not as pid OLD; one link;
# encrypt and decrypt (of TAG) work
linked_again() {
	_p=$(wpid "$2")
	[ -n "$_p" ] && [ "$_p" != "$1" ] && [ "$(links)" = 1 ] && crypt "$3"
}
check "a key to encrypt with" ctl keys create --name=linked
check "encrypt and decrypt" crypt before
check "one link between the joiner and the hsm" test "$(links)" = 1
# linked TYPE SIZE: inside the joiner, a frame of TYPE and SIZE on its link
linked() {
	cmds="-ex 'set \$l = ((struct joiner *)'\''keycache.c'\''::kc_joiner)->hsm'"
	cmds="$cmds -ex 'set \$b = (char *)calloc(1, 8192)'"
	cmds="$cmds -ex 'call (int)kchan_send(\$l, $1, 77, -1, \$b, $2)'"
	eval "gdb -q -nx -batch -p $(wpid joiner) $cmds" >"$T/gdb.link$1" 2>&1
}
H0=$(wpid hsm)
linked IMSG_HSM_CLUSTER_CREATE "sizeof(struct hsm_create)"
check "a relayed call (cluster create) on the link: the hsm stops on it" \
    logged "link to the joiner: .*HSM_CLUSTER_CREATE"
check "... started again: one new link, encrypt and decrypt" \
    wait_for 30 linked_again "$H0" hsm after-relayed
H0=$(wpid hsm)
linked IMSG_HSM_KEY_CRYPT 3
check "an encrypt of the wrong size on the link: the hsm stops on it" \
    logged "link to the joiner: .*HSM_KEY_CRYPT"
check "... started again: one new link, encrypt and decrypt" \
    wait_for 30 linked_again "$H0" hsm after-size
J0=$(wpid joiner)
for i in 1 2 3; do
	H0=$(wpid hsm)
	kill -KILL "$H0"
	wait_for 20 linked_again "$H0" hsm "kill$i"
done
check "the hsm killed three times: one link, encrypt and decrypt" \
    wait_for 20 linked_again "$H0" hsm after-kill
check "... the joiner kept running through it" test "$(wpid joiner)" = "$J0"
kill -KILL "$J0"
check "the joiner killed: one new link, encrypt and decrypt" \
    wait_for 40 linked_again "$J0" joiner after-joiner
check "gdb reached the api and joiner processes each time" \
    sh -c "! grep -l 'No symbol\|ptrace: Operation not permitted\|Cannot access' $T/gdb.*"
finish
