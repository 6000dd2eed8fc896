# The HTTPS API with curl: logins and bearer tokens, every endpoint's
# status and JSON, request checks, health, the login rate limit, the
# request log, a restarted api worker, the certificate on SIGHUP, TLS.
. regress/e2e/lib.sh
write_conf 'api token lifetime 30'
PW=e2e-Api-Secret-7
U=https://127.0.0.1:8443/api/v1
CRT=$T/data/api/api.crt

# req METHOD PATH [CURL ARGS...]: print the status; body and headers
# are left in $T/body and $T/hdr
req() {
	m=$1 p=$2; shift 2
	curl -sk -X "$m" -D "$T/hdr" -o "$T/body" -w '%{http_code}' "$@" "$U/$p"
}
# answers STATUS METHOD PATH [CURL ARGS...]
answers() { s=$1; shift; [ "$(req "$@")" = "$s" ]; }
# js EXPR [ARG]: a Python expression over the last body (j), ARG is a[3]
js() {
	python3 -c 'import json,sys; a=sys.argv; j=json.load(open(a[1]))
sys.exit(not eval("(" + a[2] + ")"))' "$T/body" "$@"
}
# jerr CODE TEXT: the last body is the API's error for CODE, naming TEXT
jerr() {
	js "set(j) == {'code','codeDesc','message'} and j['code'] == $1 and
	    j['codeDesc'] != '' and a[3] in j['message']" "$2"
}
# hdr LINE: the last reply has a header starting with LINE
hdr() { tr -d '\r' <"$T/hdr" | grep -qi "^$1"; }
unauthorized() { jerr 401 "bearer token" && hdr "WWW-Authenticate: Bearer"; }
# login PASSWORD [USER]: a login of USER (admin), its body in $T/login
login() {
	curl -sk -d "{\"username\":\"${2:-admin}\",\"password\":\"$1\"}" \
	    "$U/auth/tokens" -o "$T/login" -w '%{http_code}'
}
# token [PASSWORD USER]: a fresh token of admin, or of USER
token() {
	login "${1:-$PW}" "${2:-admin}" >/dev/null
	python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["token"])' \
	    "$T/login"
}
fingerprint() { openssl x509 -noout -fingerprint -sha256; }
# burst TAG FROM TO USER [each]: logins with wrong passwords, all at once,
# for USER from 127.0.0.1, or with "each" for USER$i from 127.0.0.$i;
# each status in $T/TAG.code$i, each body in $T/TAG.$i
burst() {
	pids=
	for i in $(seq "$2" "$3"); do
		u=$4 src=127.0.0.1
		[ "${5:-}" = each ] && u=$4$i src=127.0.0.$i
		curl -sk --interface "$src" -o "$T/$1.$i" -w '%{http_code}\n' \
		    -d "{\"username\":\"$u\",\"password\":\"wrong-Pass-$1$i\"}" \
		    "$U/auth/tokens" >"$T/$1.code$i" &
		pids="$pids $!"
	done
	wait $pids
}
served() {
	openssl s_client -connect 127.0.0.1:8443 </dev/null 2>/dev/null |
	    fingerprint
}
pgpid() {
	ctl status | grep -A1 '"role": "postgres"' |
	    sed -n 's/.*"pid": \([0-9]*\),.*/\1/p'
}

start_kmd || finish
check "the API answers" wait_for 10 sh -c "curl -sk $U/system/health"

# TLS: the self-signed certificate, TLS 1.2 at least
check "a self-signed certificate was made, its key root's alone" \
    test "$(stat -c '%a %U' "$T/data/api/api.key")" = "600 root"
check "it verifies as 127.0.0.1 (curl --cacert, no -k)" \
    curl -s --cacert "$CRT" -o /dev/null "$U/system/health"
check "the API serves the certificate in the data dir" \
    test "$(served)" = "$(fingerprint <"$CRT")"
check "TLS 1.2 is accepted" sh -c \
    "openssl s_client -tls1_2 -connect 127.0.0.1:8443 </dev/null 2>&1 | grep -q 'Protocol  : TLSv1.2'"
refused_tls() { [ "$rc" -ne 0 ] && has "$out" "alert protocol version"; }
out=$(openssl s_client -tls1_1 -cipher 'DEFAULT:@SECLEVEL=0' \
    -connect 127.0.0.1:8443 </dev/null 2>&1); rc=$?
if has "$out" "no protocols available"; then
	echo "skip: this openssl cannot offer TLS 1.1"
else
	check "TLS 1.1 is refused by the server (protocol version alert)" \
	    refused_tls
fi

# health before the node is clustered
check "health without a token, not clustered: 501" \
    answers 501 GET system/health
check "health says not clustered" js "j['health'] == 'notclustered'"

# users and logins
out=$(echo short | ctl users set-password --name admin 2>&1); rc=$?
check "set-password: a short password is refused" \
    refused $rc "$out" "at least 8 characters"
check "login before any password is set: 401" answers 401 POST auth/tokens \
    -d "{\"username\":\"admin\",\"password\":\"$PW\"}"
out=$(printf '%s\n' "$PW" | ctl users set-password --name admin 2>&1); rc=$?
check "set-password from stdin exits 0" test $rc -eq 0
check "login: 200" answers 200 POST auth/tokens \
    -d "{\"username\":\"admin\",\"password\":\"$PW\"}"
check "login: a base64url token, its role, Bearer, expires_in 30" \
    js "set(j) == {'token','role','token_type','expires_in'} and
    100 < len(j['token']) < 256 and
    set(j['token']) <= set('ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_') and
    j['role'] == 'admin' and j['token_type'] == 'Bearer' and
    j['expires_in'] == 30"
check "login: Content-Type application/json" hdr "Content-Type: application/json"
OLD=$(js "print(j['token']) or True"); t_old=$(date +%s)
check "two logins give two tokens" test "$(token)" != "$OLD"
# The password went through the parent three times (set-password, logins).
check "the parent's memory holds no password it relayed" mem_lacks "$KPID" "$PW"
# A signal's frame holds every register, the vector ones the relay's
# copies went through too: SIGCHLDs (handled, harmless) must not put the
# password onto the parent's stack.
for i in 1 2 3 4 5 6 7 8; do kill -CHLD "$KPID"; sleep 0.05; done
check "... nor after signals, whose frames hold the registers" \
    mem_lacks "$KPID" "$PW"
check "wrong password: 401" answers 401 POST auth/tokens \
    -d '{"username":"admin","password":"wrong-Pass-1"}'
check "wrong password: JSON error" jerr 401 "wrong user name or password"
check "wrong password: WWW-Authenticate" hdr "WWW-Authenticate: Bearer"
check "unknown user: the same 401" answers 401 POST auth/tokens \
    -d '{"username":"nobody","password":"wrong-Pass-2"}'
check "unknown user: the same message" jerr 401 "wrong user name or password"

# tokens: every route of the catalogue (regress/e2e/routes.py), without
# a token and with one nobody issued: 401, but the two that need none
BOGUS="Authorization: Bearer $(printf '%064d' 0)"
python3 regress/e2e/routes.py >"$T/routes"
check "control: the catalogue lists its routes" \
    test "$(wc -l <"$T/routes")" -ge 25
while read -r role m p; do
	p=$(echo "$p" | sed 's/{[a-z]*}/x/g')
	if [ "$role" = ROLE_NONE ]; then
		mf="-X $m"; [ "$m" = HEAD ] && mf=--head
		check "$m $p needs no token: not 401" \
		    sh -c "! [ \$(curl -sk -o /dev/null -w '%{http_code}' $mf $U/$p) = 401 ]"
		continue
	fi
	check "$m $p without a token: 401, JSON error, WWW-Authenticate" \
	    sh -c "[ \"\$(curl -sk -X $m -D $T/hdr -o $T/body -w '%{http_code}' $U/$p)\" = 401 ] &&
	    grep -q 'bearer token' $T/body && tr -d '\r' <$T/hdr | grep -qi '^WWW-Authenticate: Bearer'"
	check "$m $p with a token nobody issued: 401" \
	    sh -c "[ \"\$(curl -sk -X $m -o /dev/null -w '%{http_code}' -H '$BOGUS' $U/$p)\" = 401 ]"
done <"$T/routes"

# roles: a viewer and a keys user; every route above a role: 403 with
# its reason; every route of the role or below it: neither 401 nor 403
# (admin's routes run with admin's token in the rest of this test)
printf 'viewer-pass-1\n' | ctl users create --name vic --role viewer >/dev/null
printf 'keys-pass-12\n' | ctl users create --name kim --role keys >/dev/null
ctl users list >"$T/body"
check "users list: three users, their roles" js "[(u['name'], u['role'])
    for u in j['resources']] == [('admin', 'admin'), ('kim', 'keys'),
    ('vic', 'viewer')] and j['total'] == 3"
TV=$(token viewer-pass-1 vic)
check "a viewer's login says its role" grep -q '"role":"viewer"' "$T/login"
TK=$(token keys-pass-12 kim)
rank() { case $1 in ROLE_NONE) echo 0;; ROLE_VIEWER) echo 1;; ROLE_KEYS) echo 2;; *) echo 3;; esac; }
while read -r role m p; do
	p=$(echo "$p" | sed 's/{[a-z]*}/x/g')
	# the logout would end the token the loop goes on with
	[ "$role" = ROLE_NONE ] || [ "$p" = auth/tokens ] && continue
	for who in "viewer $TV 1" "keys $TK 2"; do
		set -- $who
		if [ "$(rank "$role")" -gt "$3" ]; then
			check "$m $p as $1: 403, says the role needed" sh -c \
			    "[ \"\$(curl -sk -X $m -o $T/body -w '%{http_code}' -H 'Authorization: Bearer $2' $U/$p)\" = 403 ] &&
			    grep -q 'forbidden: user .* has the role $1' $T/body"
		else
			check "$m $p as $1: let through" sh -c \
			    "! curl -sk -X $m -o /dev/null -w '%{http_code}' -H 'Authorization: Bearer $2' $U/$p | grep -q '^40[13]$'"
		fi
	done
done <"$T/routes"
printf 'viewer-pass-1\n' | ctl users set-role --name vic --role keys >/dev/null
check "set-role: the viewer's token ends (401)" wait_for 5 \
    answers 401 GET cluster -H "Authorization: Bearer $TV"
check "... its new login says keys" sh -c \
    "[ \"\$(curl -sk -d '{\"username\":\"vic\",\"password\":\"viewer-pass-1\"}' $U/auth/tokens | python3 -c 'import json,sys; print(json.load(sys.stdin)[\"role\"])')\" = keys ]"
out=$(ctl users delete --name kim -y 2>&1); rc=$?
check "users delete: exit 0" test $rc -eq 0
check "delete: the keys user's token ends (401)" wait_for 5 \
    answers 401 GET cluster -H "Authorization: Bearer $TK"
out=$(ctl users get --name kim 2>&1); rc=$?
check "users get of a deleted user: refused, says so" refused $rc "$out" "no user kim"
out=$(printf 'xxxxxxxxx\n' | ctl users create --name vic --role admin 2>&1); rc=$?
check "users create of a user that exists: refused" refused $rc "$out" "exists already"
out=$(ctl users set-role --name vic --role root 2>&1); rc=$?
check "set-role to no role: refused, names the roles" refused $rc "$out" "admin, keys or viewer"

check "POST cluster/new without a token: 401" answers 401 POST cluster/new \
    -d '{"host":"127.0.0.1","url":"https://127.0.0.1:8443"}'
# a token of now (the role matrix above outlasts a 30 s one on a loaded
# machine), the one whose expiry is checked below
OLD=$(token); t_old=$(date +%s)
check "a garbage token: 401" answers 401 GET cluster \
    -H "Authorization: Bearer garbage"
check "a well-formed unknown token: 401" answers 401 GET cluster \
    -H "Authorization: Bearer $(openssl rand -hex 32)"
check "a token under another scheme: 401" answers 401 GET cluster \
    -H "Authorization: Basic $OLD"
check "a fresh token works" answers 200 GET cluster \
    -H "Authorization: Bearer $OLD"

# users over REST: the body's members, each checked
AUTH="Authorization: Bearer $(token)"
check "POST users without a password: 400" \
    answers 400 POST users -H "$AUTH" -d '{"name":"x1","role":"viewer"}'
check "... names the field" jerr 400 "field 'password' is required"
check "POST users with a role that is none: 400, says so" \
    answers 400 POST users -H "$AUTH" -d '{"name":"x1","password":"x1-pass-123","role":"root"}'
check "... names it" jerr 400 "role 'root' is not a role"
check "PUT users/vic/password with a name in the body: 400 (unknown field)" \
    answers 400 PUT users/vic/password -H "$AUTH" -d '{"name":"admin","password":"p-pass-1234"}'
check "POST users as admin: 200, the user" \
    answers 200 POST users -H "$AUTH" -d '{"name":"x1","password":"x1-pass-123","role":"viewer"}'
check "... its name and role" js "j['name'] == 'x1' and j['role'] == 'viewer'"
check "DELETE users/x1: 204" answers 204 DELETE users/x1 -H "$AUTH"
check "GET users/x1 after: an error that names it" sh -c \
    "! curl -sk -H '$AUTH' $U/users/x1 | grep -q '\"role\"'"

# endpoints, not clustered
AUTH="Authorization: Bearer $(token)"
check "GET cluster: 200" answers 200 GET cluster -H "$AUTH"
check "GET cluster: not clustered" \
    js "j == {'nodeID': '', 'status': {'code': 'none', 'description': 'not clustered'}}"
check "GET system/processes: 200" answers 200 GET system/processes -H "$AUTH"
check "system/processes: the six roles, the parent's pid" \
    js "[p['role'] for p in j['processes']] == ['parent','postgres','replmon','joiner','hsm','api'] and
    j['processes'][0]['pid'] == $KPID and
    all(set(p) == {'role','pid','user','uptime','restarts'} for p in j['processes'])"
check "GET nodes: 200" answers 200 GET nodes -H "$AUTH"
check "nodes: skip 0, limit 256, total 0" \
    js "j == {'skip': 0, 'limit': 256, 'total': 0, 'resources': []}"
check "GET nodes?skip=2&limit=5: 200" answers 200 GET "nodes?skip=2&limit=5" -H "$AUTH"
check "nodes: skip and limit echoed" js "j['skip'] == 2 and j['limit'] == 5"
check "GET nodes?limit=1001: 400" answers 400 GET "nodes?limit=1001" -H "$AUTH"
check "limit out of range: named" jerr 400 "'limit'"
check "GET nodes?skip=x: 400" answers 400 GET "nodes?skip=x" -H "$AUTH"
check "skip not a number: named" jerr 400 "'skip'"
check "GET nodes/{unknown id}: 404" \
    answers 404 GET nodes/00000000-0000-0000-0000-000000000000 -H "$AUTH"
check "unknown node: JSON error naming the id" \
    jerr 404 "no node 00000000-0000-0000-0000-000000000000"
check "DELETE nodes/{id}?discardunsent=1 without force=1: 400, saying so" \
    answers 400 DELETE "nodes/00000000-0000-0000-0000-000000000000?discardunsent=1" -H "$AUTH"
check "... named" jerr 400 "discardunsent=1 goes with force=1"
check "DELETE nodes/{id}?force=1&discardunsent=2: 400, named" sh -c \
    "[ \"\$(curl -sk -X DELETE -o $T/body -w '%{http_code}' -H '$AUTH' '$U/nodes/x?force=1&discardunsent=2')\" = 400 ] && grep -q discardunsent $T/body"
check "GET cluster/summary: 200 on a node in no cluster" \
    answers 200 GET cluster/summary -H "$AUTH"
check "cluster/summary: no reporter yet" \
    grep -q '"total":0,"resources":{}' "$T/body"

# request checks
# (tokens last 30 s here, and the checks above take longer on a loaded
# machine: a fresh one)
AUTH="Authorization: Bearer $(token)"
new() { answers "$1" POST cluster/new -H "$AUTH" -d "$2"; }
check "cluster/new, malformed JSON: 400" new 400 '{"host":'
check "malformed JSON: says so" jerr 400 "not JSON"
check "cluster/new, an array: 400" new 400 '["127.0.0.1"]'
check "an array: must be an object" jerr 400 "JSON object"
check "cluster/new, host a number: 400" new 400 '{"host":1,"url":"https://127.0.0.1:8443"}'
check "wrong type: names host" jerr 400 "'host' must be a string"
check "cluster/new, an unknown field: 400" \
    new 400 '{"host":"127.0.0.1","url":"https://127.0.0.1:8443","colour":"x"}'
check "unknown field: named" jerr 400 "unknown field 'colour'"
check "cluster/new, no url: 400" new 400 '{"host":"127.0.0.1"}'
check "missing field: names url" jerr 400 "'url' is required"
check "cluster/new, no host: 400" new 400 '{"url":"https://127.0.0.1:8443"}'
check "missing field: names host" jerr 400 "'host' is required"
check "cluster/new, an http URL: 400" new 400 '{"host":"127.0.0.1","url":"http://127.0.0.1"}'
check "http URL: names url" jerr 400 "'url' must be an https:// URL"
check "cluster/new, another node's address: 400" \
    new 400 '{"host":"127.0.0.9","url":"https://127.0.0.1:8443"}'
check "another address: says so" jerr 400 "is not this node's address"
check "login, no password: 400" answers 400 POST auth/tokens -d '{"username":"admin"}'
check "login, no password: names password" jerr 400 "'password' is required"
check "login, password a number: 400" answers 400 POST auth/tokens \
    -d '{"username":"admin","password":12345678}'
check "login, password a number: names password" jerr 400 "'password' must be a string"
check "login, an extra field: 400" answers 400 POST auth/tokens \
    -d "{\"username\":\"admin\",\"password\":\"$PW\",\"otp\":\"1\"}"
check "login, an extra field: named" jerr 400 "unknown field 'otp'"
check "an unknown path: 404" answers 404 GET nothing/here -H "$AUTH"
check "unknown path: JSON error" jerr 404 "no such resource"
check "another API version: 404" sh -c \
    "[ \"\$(curl -sk -o /dev/null -w '%{http_code}' -H '$AUTH' https://127.0.0.1:8443/api/v2/cluster)\" = 404 ]"
check "PUT cluster: 405" answers 405 PUT cluster -H "$AUTH"
check "405 on cluster: Allow: GET, DELETE" hdr "Allow: GET, DELETE"
check "405: JSON error" jerr 405 "method not allowed"
check "GET auth/tokens: 405" answers 405 GET auth/tokens
check "405 on auth/tokens: Allow: POST" hdr "Allow: POST"
check "GET cluster/new: 405" answers 405 GET cluster/new -H "$AUTH"
check "405 on cluster/new: Allow: POST" hdr "Allow: POST"
head -c 20480 /dev/zero | tr '\0' x >"$T/20k"
check "a 20 KiB login body: 413" answers 413 POST auth/tokens --data-binary @"$T/20k"
check "413: JSON error" jerr 413 "too large"
# (tokens last 30 s here: a fresh one)
AUTH="Authorization: Bearer $(token)"
check "a 20 KiB cluster/new body: 413" \
    answers 413 POST cluster/new -H "$AUTH" --data-binary @"$T/20k"
head -c 102400 /dev/zero | tr '\0' x >"$T/100k"
check "a 100 KiB body: 413" answers 413 POST auth/tokens --data-binary @"$T/100k"
check "a 100 KiB body: 413 as a JSON error too" jerr 413 "too large"

# cluster new over the API; health follows
AUTH="Authorization: Bearer $(token)"
check "POST cluster/new: 200" \
    new 200 '{"host":"127.0.0.1","url":"https://127.0.0.1:8443"}'
id=$(js "print(j['nodeID']) or True")
check "cluster/new: ready, nodeCount 1, a UUID" \
    js "j == {'nodeID': a[3], 'status': {'code': 'r', 'description': 'ready'}, 'nodeCount': 1} and
    __import__('re').fullmatch('[0-9a-f]{8}(-[0-9a-f]{4}){3}-[0-9a-f]{12}', a[3])" "$id"
check "kmctl on the socket sees the same node" \
    sh -c "$KMCTL -s $SOCK cluster info | grep -q '\"nodeID\": \"$id\"'"
check "POST cluster/new again: 409" \
    new 409 '{"host":"127.0.0.1","url":"https://127.0.0.1:8443"}'
check "again: already in a cluster" jerr 409 "already in a cluster (node $id)"
check "GET cluster: the node, ready" answers 200 GET cluster -H "$AUTH"
check "GET cluster: same as cluster/new" \
    js "j['nodeID'] == a[3] and j['status']['code'] == 'r' and j['nodeCount'] == 1" "$id"
check "GET nodes: total 1, this node" answers 200 GET nodes -H "$AUTH"
check "nodes: the node in full" \
    js "j['total'] == 1 and j['resources'] == [{'nodeID': a[3], 'status': {'code': 'r', 'description': 'ready'}, 'host': '127.0.0.1', 'port': 5432, 'publicAddress': '127.0.0.1', 'isThisNode': True, 'kmdVersion': a[4], 'schemaVersion': int(a[5])}]" "$id" \
    "$(ctl version | sed -n 's/.*"kmdVersion": "\([^"]*\)".*/\1/p')" \
    "$(ctl version | sed -n 's/.*"schemaVersion": \([0-9]*\).*/\1/p')"
check "GET nodes?skip=1: no resources, total 1" answers 200 GET "nodes?skip=1" -H "$AUTH"
check "skip 1: empty page" js "j['total'] == 1 and j['resources'] == []"
check "GET nodes/{id}: 200" answers 200 GET "nodes/$id" -H "$AUTH"
check "nodes/{id}: the node" js "j['nodeID'] == a[3] and j['isThisNode'] is True" "$id"
check "health, clustered: 200" answers 200 GET system/health
check "health: ready, status r" \
    js "j['health'] == 'ready' and j['status']['code'] == 'r'"

# health while the node database is down
kill -9 "$(pgpid)"
check "health while postgres is down: 503" \
    wait_for 3 sh -c "[ \"\$(curl -sk -o $T/body -w '%{http_code}' $U/system/health)\" = 503 ]"
check "health 503: unavailable, the database named" \
    js "j['health'] == 'unavailable' and 'the node database' in j['error']"
check "health back to 200 when postgres is back" \
    wait_for 20 sh -c "[ \"\$(curl -sk -o /dev/null -w '%{http_code}' $U/system/health)\" = 200 ]"

# the expired token (lifetime 30 s: long enough for the checks between
# a login and its use on a loaded machine)
elapsed=$(( $(date +%s) - t_old ))
[ "$elapsed" -lt 31 ] && sleep $((31 - elapsed))
check "a token older than its lifetime: 401" answers 401 GET cluster \
    -H "Authorization: Bearer $OLD"
check "expired: WWW-Authenticate" hdr "WWW-Authenticate: Bearer"

# the request log; no password anywhere
check "requests are logged: address, method, path, status, user, time" \
    grep -Eq '^kmd\[api\]: 127\.0\.0\.1 POST /api/v1/auth/tokens 200 user=admin [0-9]+\.[0-9]ms$' "$LOG"
check "a refused request is logged with its status" \
    grep -Eq '^kmd\[api\]: 127\.0\.0\.1 GET /api/v1/cluster 401 user=- [0-9]+\.[0-9]ms$' "$LOG"
check "an authorized request is logged with its user" \
    grep -Eq '^kmd\[api\]: 127\.0\.0\.1 GET /api/v1/nodes\?skip=2&limit=5 200 user=admin ' "$LOG"
check "failed logins are logged" \
    grep -q "failed login for 'admin' from 127.0.0.1" "$LOG"
check "no password in kmd's log" \
    sh -c "! grep -E -e '$PW' -e 'wrong-Pass' '$LOG'"
check "no password anywhere in the data dir (postgres log, database)" \
    sh -c "! grep -r -a -q -e '$PW' -e 'wrong-Pass' '$T/data'"
check "no token in kmd's log" sh -c "! grep -q '$OLD' '$LOG'"

# SIGHUP: a replaced certificate is served, a broken one is not
AUTH="Authorization: Bearer $(token)"
openssl req -x509 -newkey rsa:2048 -nodes -days 2 -keyout "$T/new.key" \
    -out "$T/new.crt" -subj /CN=127.0.0.1 \
    -addext subjectAltName=IP:127.0.0.1 >/dev/null 2>&1
check "the new certificate differs" \
    test "$(fingerprint <"$T/new.crt")" != "$(served)"
cp "$CRT" "$T/old.crt"
cp "$T/new.key" "$T/data/api/api.key"
cp "$T/new.crt" "$CRT"
kill -HUP "$KPID"
check "after SIGHUP the API serves the new certificate" \
    wait_for 5 sh -c "[ \"\$(openssl s_client -connect 127.0.0.1:8443 </dev/null 2>/dev/null | openssl x509 -noout -fingerprint -sha256)\" = '$(fingerprint <"$T/new.crt")' ]"
check "curl --cacert with the new certificate verifies" \
    curl -s --cacert "$T/new.crt" -o /dev/null "$U/system/health"
check "the old certificate no longer verifies" \
    sh -c "! curl -s --cacert $T/old.crt -o /dev/null $U/system/health"
check "a token from before SIGHUP still works" answers 200 GET cluster -H "$AUTH"
echo "not a certificate" >"$CRT"
kill -HUP "$KPID"
check "SIGHUP with a broken certificate is logged" \
    wait_for 5 grep -q "api.crt is not a PEM certificate; keeping the one in use" "$LOG"
check "and the API keeps serving the one in use" \
    test "$(served)" = "$(fingerprint <"$T/new.crt")"
# The parent kept the good pair too: a restarted api worker serves it.
kill -9 "$(wpid api)"
check "after a bad SIGHUP, a restarted api worker serves the kept pair" \
    wait_for 10 sh -c "[ \"\$(openssl s_client -connect 127.0.0.1:8443 </dev/null 2>/dev/null | openssl x509 -noout -fingerprint -sha256)\" = '$(fingerprint <"$T/new.crt")' ]"
AUTH="Authorization: Bearer $(token)"	# the new worker knows no old token
cp "$T/new.crt" "$CRT"
kill -HUP "$KPID"
check "SIGHUP with the certificate restored" \
    wait_for 5 sh -c "[ \$(grep -c 'configuration reloaded' $LOG) -eq 3 ]"

# the login rate limit: 5 failures from an address, then 429
for i in 1 2 3 4 5; do
	check "bad login $i of 5: 401" answers 401 POST auth/tokens \
	    -d "{\"username\":\"admin\",\"password\":\"wrong-Pass-$i\"}"
done
check "the 6th login within 60 s: 429" answers 429 POST auth/tokens \
    -d '{"username":"admin","password":"wrong-Pass-6"}'
check "429: JSON error, says when to try again" jerr 429 "try again in"
check "the right password is refused too while limited" \
    answers 429 POST auth/tokens -d "{\"username\":\"admin\",\"password\":\"$PW\"}"
check "rate limiting is logged" grep -q "login from 127.0.0.1 refused: rate limit" "$LOG"
check "a valid token still works while logins are limited" \
    answers 200 GET cluster -H "$AUTH"

# kill -9 of the api worker: the parent restarts it, tokens are gone
old=$(wpid api)
kill -9 "$old"
check "api worker restarted after kill -9" \
    wait_for 5 sh -c "p=\$(pgrep -P $KPID -x 'kmd: api') && [ \"\$p\" != $old ]"
check "the restarted worker serves" \
    wait_for 5 sh -c "curl -sk $U/system/health | grep -q '\"r\"'"
check "the old token: 401" answers 401 GET cluster -H "$AUTH"
check "a new login works (the rate limit was the old worker's)" \
    test "$(login "$PW")" = 200
AUTH="Authorization: Bearer $(token)"
check "with the new token: 200" answers 200 GET cluster -H "$AUTH"

# concurrent failed logins are limited too: at most 5 are checked
burst c 1 12 admin
n401=$(cat "$T"/c.code* | grep -c 401)
echo "figure: 12 concurrent bad logins: $n401 answered 401, the rest 429"
check "12 concurrent bad logins: at most 5 are checked, the rest 429" \
    test "$n401" -le 5

# per user name: 10 failures from 10 addresses, then 429 from any
: >"$T/u"
for i in $(seq 11 20); do
	curl -sk --interface "127.0.0.$i" -o /dev/null -w '%{http_code}\n' \
	    -d "{\"username\":\"mallory\",\"password\":\"wrong-Pass-u$i\"}" \
	    "$U/auth/tokens" >>"$T/u"
done
check "10 bad logins for one user from 10 addresses: each checked (401)" \
    test "$(grep -c 401 "$T/u")" = 10
check "the 11th, from an 11th address: 429" answers 429 POST auth/tokens \
    --interface 127.0.0.30 \
    -d '{"username":"mallory","password":"wrong-Pass-u30"}'
check "... naming the user and when to try again" \
    jerr 429 "too many failed logins for the user 'mallory'; try again in"
check "... with Retry-After" grep -qi "^Retry-After: [0-9]" "$T/hdr"
check "another user from that address is still checked" \
    answers 401 POST auth/tokens --interface 127.0.0.30 \
    -d '{"username":"trudy","password":"wrong-Pass-t30"}'

# overall: at most "api login-rate" checks a second, whoever asks
write_conf 'api token lifetime 30' 'api login-rate 2'
kill -HUP "$KPID"
wait_for 5 sh -c "[ \$(grep -c 'configuration reloaded' $LOG) -eq 4 ]"
burst o 40 59 user each
n401=$(cat "$T"/o.code* | grep -c 401)
echo "figure: 20 logins at once, 20 users and addresses, login-rate 2: $n401 checked"
check "20 logins at once from 20 addresses: most refused by the overall rate" \
    test "$n401" -lt 10
check "... told to retry in 1 s, from all callers" \
    grep -q "too many logins at once, from all callers; try again in 1 s" $T/o.[0-9]*
finish
