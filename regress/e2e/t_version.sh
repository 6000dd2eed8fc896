# kmctl version and GET system/version, built through the operation
# catalogue: the node's kmd, the schema read from its database, kmctl's
# own; the same over HTTPS; the catalogue's routes refuse what they do
# not list (a wrong method, a literal path taken for a key's name).
. regress/e2e/lib.sh
PW=e2e-Version-Secret-3
U=https://127.0.0.1:8443/api/v1
CRT=$T/data/api/api.crt
RUN=$T/data/run
sql() { runuser -u postgres -- psql -h "$RUN" -U kmd -d kmd -XAtqc "$1"; }
req() {
	m=$1 p=$2; shift 2
	curl -sk -X "$m" -D "$T/hdr" -o "$T/body" -w '%{http_code}' "$@" "$U/$p"
}
js() {
	python3 -c 'import json,sys; a=sys.argv; j=json.load(open(a[1]))
sys.exit(not eval("(" + a[2] + ")"))' "$1" "$2" "${3:-}"
}
hdr() { tr -d '\r' <"$T/hdr" | grep -qi "^$1"; }
# the release's, not make next's (proto.h has both, this one last)
WANT=$(sed -n 's/^#define KMD_VERSION[^"]*"\([^"]*\)".*/\1/p' common/proto.h |
    tail -1)

start_kmd || finish
SCHEMA=$(sql "SELECT max(version) FROM kmd_schema")
ctl version >"$T/v" 2>&1; rc=$?
check "version: exit 0" test $rc -eq 0
check "version: kmd, schema and kmctl, nothing else" js "$T/v" \
    "set(j) == {'kmdVersion','schemaVersion','kmctlVersion'}"
check "version: kmdVersion is this build's ($WANT)" js "$T/v" \
    "j['kmdVersion'] == a[3]" "$WANT"
check "version: kmctlVersion is this build's" js "$T/v" \
    "j['kmctlVersion'] == a[3]" "$WANT"
check "version: schemaVersion is the database's ($SCHEMA)" js "$T/v" \
    "j['schemaVersion'] == int(a[3])" "$SCHEMA"
# The schema is read from the database, not known to the binary.
sql "UPDATE kmd_schema SET version = 9999"
ctl version >"$T/v2" 2>&1
check "version: a database at another schema shows it (9999)" \
    js "$T/v2" "j['schemaVersion'] == 9999"
sql "UPDATE kmd_schema SET version = $SCHEMA"

printf '%s\n' "$PW" | ctl users set-password --name admin >/dev/null 2>&1
curl -sk -d "{\"username\":\"admin\",\"password\":\"$PW\"}" \
    "$U/auth/tokens" -o "$T/login"
TOK=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["token"])' \
    "$T/login")
check "GET system/version without a token: 401" \
    test "$(req GET system/version)" = 401
check "GET system/version: 200" \
    test "$(req GET system/version -H "Authorization: Bearer $TOK")" = 200
check "... the node's two versions, not kmctl's" js "$T/body" \
    "j == {'kmdVersion': a[3], 'schemaVersion': $SCHEMA}" "$WANT"
check "POST system/version: 405" \
    test "$(req POST system/version -H "Authorization: Bearer $TOK")" = 405
check "... with the Allow header" hdr "Allow: GET"
check "DELETE system/rot-keys/rotate is no key named rotate: 405" \
    test "$(req DELETE system/rot-keys/rotate -H "Authorization: Bearer $TOK")" = 405
check "... Allow: POST" hdr "Allow: POST"
check "an unknown path: 404" \
    test "$(req GET system/versions -H "Authorization: Bearer $TOK")" = 404
"$KMCTL" --url https://127.0.0.1:8443 --user admin --password "$PW" \
    --cacert "$CRT" version >"$T/rv" 2>&1; rc=$?
check "kmctl --url version: exit 0" test $rc -eq 0
check "kmctl --url version prints what the socket does" cmp -s "$T/v" "$T/rv"
# A schema step that fails is tried again, not left: the next release's
# step refused by an event trigger until the test lets it through.
# Meanwhile the node says it is not ready; then it comes up by itself.
NEXT=${KMD_NEXT:-$PWD/build/next/kmd}
sql "CREATE TABLE e2e_block (x int); INSERT INTO e2e_block VALUES (1);
CREATE FUNCTION e2e_block() RETURNS event_trigger LANGUAGE plpgsql AS \$\$
BEGIN
  IF TG_TAG = 'ALTER TABLE' AND EXISTS (SELECT FROM public.e2e_block) THEN
    RAISE EXCEPTION 'e2e: DDL blocked';
  END IF;
END \$\$;
CREATE EVENT TRIGGER e2e_block ON ddl_command_start
  EXECUTE FUNCTION e2e_block();"
stop_kmd
"$NEXT" -d -f "$CONF" >>"$LOG" 2>&1 &
KPID=$!
check "next release over a blocked step: the failure is logged, with the retry" \
    wait_for 30 grep -q "schema migration to version $((SCHEMA + 1)) failed: .*e2e: DDL blocked.*trying again in 5 s" "$LOG"
ctl version >"$T/v3" 2>&1
check "... version shows no schema meanwhile" js "$T/v3" \
    "j['schemaVersion'] is None"
out=$(ctl cluster new --host=127.0.0.1 --url=https://127.0.0.1:8443 2>&1); rc=$?
check "... cluster new refused: not ready, try again" \
    refused $rc "$out" "not ready yet; try again in a few seconds"
check "... tried again, still refused, still waiting" wait_for 20 sh -c \
    "[ \$(grep -c 'schema migration to version $((SCHEMA + 1)) failed' '$LOG') -ge 2 ]"
sql "DELETE FROM e2e_block"
check "let through: the node comes up by itself" wait_for 20 kmd_ready
ctl version >"$T/v4" 2>&1
check "... at the next schema ($((SCHEMA + 1)))" js "$T/v4" \
    "j['schemaVersion'] == $((SCHEMA + 1))"
check "... and says so in its log" \
    grep -q "database schema migrated to version $((SCHEMA + 1))" "$LOG"
check "... cluster new now goes" ctl cluster new --host=127.0.0.1 \
    --url=https://127.0.0.1:8443
sql "DROP EVENT TRIGGER e2e_block"

finish
