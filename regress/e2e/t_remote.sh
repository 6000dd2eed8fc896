# kmctl in remote mode: over HTTPS it prints byte for byte what the
# control socket prints; settings from flags, KMCTL_* and a config file;
# certificate trust; clear one-line errors.
. regress/e2e/lib.sh
write_conf
PW=e2e-Remote-Pass-3
URL=https://127.0.0.1:8443
CRT=$T/data/api/api.crt
unset KMCTL_URL KMCTL_USER KMCTL_PASSWORD KMCTL_CACERT KMCTL_NOSSLVERIFY \
    KMCTL_TIMEOUT KMCTL_CONFIG KMCTL_SOCKET
HOME=$T/home; export HOME
mkdir -p "$HOME"

rem() { "$KMCTL" --url "$URL" --user admin --password "$PW" --cacert "$CRT" "$@"; }
# same WORDS...: remote and local print the same bytes, exit the same
same() {
	ctl "$@" >"$T/local" 2>&1; l=$?
	rem "$@" >"$T/remote" 2>&1; r=$?
	[ $l -eq $r ] && [ -s "$T/local" ] && cmp -s "$T/local" "$T/remote"
}
# errs: kmctl's stderr but the nosslverify warning (checked on its own)
errs() { grep -v "^kmctl: warning: nosslverify: " "$T/err"; }
# works COMMAND...: exit 0 and prints what the socket prints for cluster info
works() {
	"$@" cluster info >"$T/out" 2>"$T/err" && [ -z "$(errs)" ] &&
	    ctl cluster info | cmp -s - "$T/out"
}
# fails_with PATTERN COMMAND...: exit 1, no output, one line on stderr,
# "kmctl: ..." matching PATTERN
fails_with() {
	pat=$1; shift
	"$@" >"$T/out" 2>"$T/err" </dev/null; rc=$?
	[ $rc -eq 1 ] && [ ! -s "$T/out" ] && [ "$(errs | wc -l)" -eq 1 ] &&
	    errs | grep -q -- "^kmctl: .*$pat"
}
no_uptime() { grep -v '"uptime": '; }

start_kmd || finish
printf '%s\n' "$PW" | ctl users set-password --name admin >/dev/null 2>&1
check "the API answers" wait_for 10 sh -c "curl -sk $URL/api/v1/system/health"

# the same output either way, before the node is clustered
check "cluster info: the same bytes" same cluster info
check "cluster nodes list: the same bytes" same cluster nodes list
check "cluster nodes list --skip 1 --limit 3: the same bytes" \
    same cluster nodes list --skip 1 --limit 3
check "unknown node id: the same error, exit 1" \
    same cluster nodes get --id 00000000-0000-0000-0000-000000000000
check "and that is one line 'kmctl: ... no node ...'" \
    fails_with "no node 00000000-0000-0000-0000-000000000000" \
    rem cluster nodes get --id 00000000-0000-0000-0000-000000000000
ctl status | no_uptime >"$T/local"
rem status | no_uptime >"$T/remote"
check "status: the same bytes but uptime" \
    sh -c "[ -s $T/local ] && cmp -s $T/local $T/remote"
check "status: the same lines, uptime included" \
    test "$(ctl status | wc -l)" = "$(rem status | wc -l)"
check "an unbuilt command: the same error" same cluster summary

# cluster new over HTTPS in the reference's own form (every option after
# the command, the node's --url the one connected to), then everything
# again
"$KMCTL" cluster new --host=127.0.0.1 --url="$URL" --user=admin \
    --password="$PW" --cacert "$CRT" >"$T/new"; rc=$?
check "cluster new --host --url --user --password (the reference's form) exits 0" \
    test $rc -eq 0
check "... it went over HTTPS, as admin" \
    grep -q "POST /api/v1/cluster/new 200 user=admin" "$LOG"
ctl cluster info >"$T/info"
check "it prints what cluster info prints locally" cmp -s "$T/info" "$T/new"
check "the node is ready" grep -q '"description": "ready"' "$T/new"
id=$(sed -n 's/.*"nodeID": "\(.*\)",/\1/p' "$T/new")
check "cluster info, clustered: the same bytes" same cluster info
check "cluster nodes list, clustered: the same bytes" same cluster nodes list
check "cluster nodes list --skip 1: the same bytes" same cluster nodes list --skip 1
check "cluster nodes get --id: the same bytes" same cluster nodes get --id "$id"
check "cluster nodes get --id without dashes: the same bytes" \
    same cluster nodes get --id "$(echo "$id" | tr -d -)"
check "cluster new again: the same error, exit 1" \
    same cluster new --host 127.0.0.1 --url "$URL"
check "cluster new, another address: the same error" \
    same cluster new --host 127.0.0.9 --url "$URL"
check "cluster new --public-address: the same error" \
    same cluster new --host 127.0.0.1 --url "$URL" --public-address 10.0.0.1

# certificate trust
check "no --cacert: refused, says to give --cacert" \
    fails_with "not trusted.*--cacert" "$KMCTL" --url "$URL" --user admin \
    --password "$PW" cluster info
openssl req -x509 -newkey rsa:2048 -nodes -days 2 -keyout "$T/other.key" \
    -out "$T/other.crt" -subj /CN=127.0.0.1 \
    -addext subjectAltName=IP:127.0.0.1 >/dev/null 2>&1
check "--cacert of another certificate: refused" \
    fails_with "not trusted.*--cacert" "$KMCTL" --url "$URL" --user admin \
    --password "$PW" --cacert "$T/other.crt" cluster info
check "--cacert, but a name the certificate lacks: refused" \
    fails_with "not trusted" "$KMCTL" --url https://localhost:8443 \
    --user admin --password "$PW" --cacert "$CRT" cluster info
check "--cacert of a missing file: refused, names it" \
    fails_with "$T/nope" "$KMCTL" --url "$URL" --user admin \
    --password "$PW" --cacert "$T/nope" cluster info
check "--cacert with the node's certificate: works" works rem
check "--nosslverify: works" works "$KMCTL" --url "$URL" --user admin \
    --password "$PW" --nosslverify

# refusals: one line each, exit 1
check "wrong password: exit 1, says so" \
    fails_with "wrong user name or password" "$KMCTL" --url "$URL" \
    --user admin --password wrong-Pass-1 --cacert "$CRT" cluster info
check "unknown user: the same" \
    fails_with "wrong user name or password" "$KMCTL" --url "$URL" \
    --user nobody --password wrong-Pass-2 --cacert "$CRT" cluster info
check "a right login clears the failures" works rem
check "an http:// URL: refused" \
    fails_with "--url: 'http://127.0.0.1:8443' is not an https:// URL" \
    "$KMCTL" --url http://127.0.0.1:8443 --user admin --password "$PW" \
    cluster info
check "a URL with a path: refused" fails_with "without a path" \
    "$KMCTL" --url "$URL/api/v1" --user admin --password "$PW" \
    --nosslverify cluster info
for v in 0 3601 abc 5s; do
	check "--timeout $v: refused, names the flag" \
	    fails_with "--timeout: the timeout is 1 to 3600 seconds, not '$v'" \
	    rem --timeout "$v" cluster info
done
check "KMCTL_TIMEOUT=abc: refused, names the variable" \
    fails_with "KMCTL_TIMEOUT: the timeout is 1 to 3600 seconds" \
    env KMCTL_TIMEOUT=abc "$KMCTL" --url "$URL" --user admin \
    --password "$PW" --nosslverify cluster info
check "--timeout 5: works" works rem --timeout 5
# users over REST, as kmctl does them on the socket, with an admin's token
out=$(echo Vicr-pass-123 | rem users create --name vicr --role viewer 2>&1)
check "users create over --url: a viewer" has "$out" '"role": "viewer"'
check "users list over --url: the same as on the socket" same users list
check "users get over --url: the same" same users get --name vicr
check "the new user logs in over REST" sh -c "$KMCTL --url $URL --user vicr \
    --password Vicr-pass-123 --cacert $CRT cluster info >/dev/null"
check "... and as a viewer may not list users: forbidden, the role named" \
    fails_with "has the role viewer; this needs admin" "$KMCTL" --url "$URL" --user vicr \
    --password Vicr-pass-123 --cacert "$CRT" users list
out=$(rem users set-role --name vicr --role keys 2>&1)
check "users set-role over --url" has "$out" '"role": "keys"'
check "users set-password over --url: exit 0, nothing printed" sh -c \
    "echo Vicr-pass-456 | $KMCTL --url $URL --user admin --password $PW \
    --cacert $CRT users set-password --name vicr >$T/sp 2>&1 && [ ! -s $T/sp ]"
check "... the old password no longer logs in" fails_with \
    "wrong user name or password" "$KMCTL" --url "$URL" --user vicr \
    --password Vicr-pass-123 --cacert "$CRT" cluster info
check "... the new one does" sh -c "$KMCTL --url $URL --user vicr \
    --password Vicr-pass-456 --cacert $CRT cluster info >/dev/null"
check "a bad role over --url: refused by kmctl, nothing sent" fails_with \
    "is not a role" rem users set-role --name vicr --role root
check "users delete over --url without -y and no terminal: refused" \
    fails_with "give -y" rem users delete --name vicr
check "users delete -y over --url" rem users delete --name vicr -y
check "... it is gone" sh -c "! $KMCTL -s $SOCK users list | grep -q vicr"
check "--url without --user: refused, names it" fails_with "--user is needed" \
    "$KMCTL" --url "$URL" --password "$PW" --nosslverify cluster info
check "no password and no terminal: refused" fails_with "no password" \
    "$KMCTL" --url "$URL" --user admin --nosslverify cluster info
check "--user without --url: refused" fails_with "give --url" \
    "$KMCTL" -s "$SOCK" --user admin cluster info
check "an unknown global option: refused" fails_with "unknown option '--colour'" \
    rem --colour cluster info
check "connection refused (wrong port): exit 1, one line" \
    fails_with "" "$KMCTL" --url https://127.0.0.1:8444 --user admin \
    --password "$PW" --nosslverify cluster info
check "connection refused: the message says so" \
    grep -qi "refused" "$T/err"
echo "connection refused: $(cat "$T/err")"
python3 -c 'import socket, time
s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("127.0.0.1", 9443)); s.listen(5); time.sleep(8)' &
silent=$!
wait_for 5 sh -c "ss -ltnH | grep -q '127.0.0.1:9443 '"
t0=$(date +%s)
check "a server that never answers: exit 1, one line" \
    fails_with "" "$KMCTL" --url https://127.0.0.1:9443 --user admin \
    --password "$PW" --nosslverify --timeout 2 cluster info
t1=$(date +%s)
check "--timeout 2 gives up within 2-4 s" test $((t1 - t0)) -ge 2 -a $((t1 - t0)) -le 4
echo "no answer: $(cat "$T/err")"
kill "$silent" 2>/dev/null

# environment
check "KMCTL_URL, _USER, _PASSWORD, _CACERT: work" works env \
    KMCTL_URL="$URL" KMCTL_USER=admin KMCTL_PASSWORD="$PW" KMCTL_CACERT="$CRT" \
    "$KMCTL"
check "KMCTL_NOSSLVERIFY=yes: works" works env KMCTL_URL="$URL" \
    KMCTL_USER=admin KMCTL_PASSWORD="$PW" KMCTL_NOSSLVERIFY=yes "$KMCTL"
check "KMCTL_NOSSLVERIFY=maybe: refused" fails_with "nosslverify is yes or no" \
    env KMCTL_URL="$URL" KMCTL_USER=admin KMCTL_PASSWORD="$PW" \
    KMCTL_NOSSLVERIFY=maybe "$KMCTL" cluster info
check "KMCTL_URL http://: refused, names the variable" \
    fails_with "KMCTL_URL: 'http://x' is not an https:// URL" \
    env KMCTL_URL=http://x KMCTL_USER=admin KMCTL_PASSWORD="$PW" \
    "$KMCTL" cluster info
check "flags win over the environment (--password)" works env \
    KMCTL_URL="$URL" KMCTL_USER=admin KMCTL_PASSWORD=wrong-Pass-3 \
    KMCTL_CACERT="$CRT" "$KMCTL" --password "$PW"
check "flags win over the environment (--url)" works env \
    KMCTL_URL=https://127.0.0.1:8444 KMCTL_USER=admin KMCTL_PASSWORD="$PW" \
    KMCTL_CACERT="$CRT" "$KMCTL" --url "$URL"
check "flags win over the environment (a wrong --password fails)" \
    fails_with "wrong user name or password" env KMCTL_URL="$URL" \
    KMCTL_USER=admin KMCTL_PASSWORD="$PW" KMCTL_CACERT="$CRT" "$KMCTL" \
    --password wrong-Pass-4 cluster info
check "flags win over the environment (--cacert)" works env \
    KMCTL_URL="$URL" KMCTL_USER=admin KMCTL_PASSWORD="$PW" \
    KMCTL_CACERT="$T/other.crt" "$KMCTL" --cacert "$CRT"

# the config file
conf() { f=$1 mode=$2; shift 2; printf '%s\n' "$@" >"$f"; chmod "$mode" "$f"; }
conf "$T/k.conf" 600 "# kmctl settings" "url = $URL" "user = admin" \
    "password = $PW" "cacert = $CRT" "timeout = 10"
check "--config FILE: works" works "$KMCTL" --config "$T/k.conf"
check "KMCTL_CONFIG: works" works env KMCTL_CONFIG="$T/k.conf" "$KMCTL"
cp "$T/k.conf" "$HOME/.kmctl.conf"
check "~/.kmctl.conf by default: works" works "$KMCTL"
rm "$HOME/.kmctl.conf"
conf "$T/k644.conf" 644 "url = $URL" "user = admin" "password = $PW" \
    "cacert = $CRT"
check "a config file with a password, mode 644: refused, says chmod 600" \
    fails_with "chmod 600 $T/k644.conf" "$KMCTL" --config "$T/k644.conf" \
    cluster info
check "even when the password comes from elsewhere" \
    fails_with "chmod 600" "$KMCTL" --config "$T/k644.conf" \
    --password "$PW" cluster info
conf "$T/nopw.conf" 644 "url = $URL" "user = admin" "cacert = $CRT"
check "mode 644 without a password: works" works env KMCTL_PASSWORD="$PW" \
    "$KMCTL" --config "$T/nopw.conf"
conf "$T/badpw.conf" 600 "url = https://127.0.0.1:8444" "user = admin" \
    "password = wrong-Pass-5" "nosslverify = yes"
check "the environment wins over the file" works env KMCTL_URL="$URL" \
    KMCTL_PASSWORD="$PW" "$KMCTL" --config "$T/badpw.conf"
check "flags win over the file" works "$KMCTL" --config "$T/badpw.conf" \
    --url "$URL" --password "$PW"
check "the file alone: its wrong port is used" fails_with "" \
    "$KMCTL" --config "$T/badpw.conf" --password "$PW" cluster info
check "KMCTL_NOSSLVERIFY=no wins over nosslverify = yes in the file" \
    fails_with "not trusted.*--cacert" env KMCTL_NOSSLVERIFY=no \
    "$KMCTL" --config "$T/badpw.conf" --url "$URL" --password "$PW" \
    cluster info
conf "$T/typo.conf" 600 "url = $URL" "passwd = x"
check "an unknown key: refused, names the line" \
    fails_with "$T/typo.conf:2: unknown key 'passwd'" \
    "$KMCTL" --config "$T/typo.conf" cluster info
check "a missing --config file: refused" fails_with "cannot read $T/none.conf" \
    "$KMCTL" --config "$T/none.conf" cluster info
conf "$T/badtimeout.conf" 600 "url = $URL" "timeout = 0"
check "a bad timeout in the file: refused, names the file" \
    fails_with "$T/badtimeout.conf: the timeout is 1 to 3600 seconds" \
    "$KMCTL" --config "$T/badtimeout.conf" cluster info
check "no password from kmctl in kmd's log" sh -c "! grep -q -e '$PW' -e wrong-Pass '$LOG'"

# ---- tokens end: logout, a password change; kmctl ends its own ----
rem cluster info >/dev/null 2>&1
check "kmctl ends its session's token when done (logout)" \
    grep -q "DELETE /api/v1/auth/tokens 204" "$LOG"
tok() {
	curl -sk --cacert "$CRT" -d "{\"username\":\"admin\",\"password\":\"$1\"}" \
	    "$URL/api/v1/auth/tokens" | python3 -c 'import json,sys; print(json.load(sys.stdin)["token"])'
}
code() {
	m=$1; p=$2; shift 2
	curl -sk -o /dev/null -w '%{http_code}' -X "$m" "$@" "$URL/api/v1/$p"
}
T1=$(tok "$PW")
check "control: a fresh token is good" \
    test "$(code GET cluster -H "Authorization: Bearer $T1")" = 200
check "logout (DELETE auth/tokens): 204" \
    test "$(code DELETE auth/tokens -H "Authorization: Bearer $T1")" = 204
check "the token after its logout: 401" \
    test "$(code GET cluster -H "Authorization: Bearer $T1")" = 401
check "logout without a token: 401" test "$(code DELETE auth/tokens)" = 401
T2=$(tok "$PW"); T3=$(tok "$PW")
check "control: two tokens of admin are good" sh -c \
    "[ $(code GET cluster -H "Authorization: Bearer $T2") = 200 ] &&
    [ $(code GET cluster -H "Authorization: Bearer $T3") = 200 ]"
printf '%s\n' "$PW-new" | ctl users set-password --name admin >/dev/null 2>&1
check "after admin's password changes, both its tokens: 401" sh -c \
    "[ \$(curl -sk -o /dev/null -w '%{http_code}' -H 'Authorization: Bearer $T2' $URL/api/v1/cluster) = 401 ] &&
    [ \$(curl -sk -o /dev/null -w '%{http_code}' -H 'Authorization: Bearer $T3' $URL/api/v1/cluster) = 401 ]"
check "the log says the tokens ended" \
    grep -q "ended [0-9]* token(s) of user admin" "$LOG"
T4=$(tok "$PW-new")
check "a login with the new password: a good token" \
    test "$(code GET cluster -H "Authorization: Bearer $T4")" = 200
# The joiner reads every user's mark each 2 s; the change it told at once
# must not be told again then, ending the token that followed it.
sleep 2.5
check "... still good after the next read of the users' marks" \
    test "$(code GET cluster -H "Authorization: Bearer $T4")" = 200
check "... and the change was told once" \
    test "$(grep -c "ended [0-9]* token(s) of user admin" "$LOG")" = 1
finish
