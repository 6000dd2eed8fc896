# kmctl against a running kmd: exact output, errors, exit codes.
. regress/e2e/lib.sh

out=$(ctl cluster info 2>&1); rc=$?
check "kmd not running: exit 1" test $rc -eq 1
check "kmd not running: says where it tried" \
    test "$out" = "kmctl: cannot connect to kmd at $SOCK: No such file or directory"

# A password on kmctl's command line is gone from ps once kmctl runs: a
# server that accepts and never answers holds kmctl while ps looks.
python3 -c 'import socket, time
s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("127.0.0.1", 18443)); s.listen(); c = s.accept(); time.sleep(30)' &
LP=$!
wait_for 5 sh -c "ss -ltn | grep -q 127.0.0.1:18443"
"$KMCTL" --url=https://127.0.0.1:18443 --user=admin --password=ps-Secret-9z \
    --nosslverify --timeout 20 cluster info >/dev/null 2>"$T/ps.err" &
KP=$!
check "--nosslverify warns on stderr" \
    wait_for 5 grep -q "warning: nosslverify" "$T/ps.err"
check "control: ps shows the kmctl that waits on the server" \
    sh -c "tr '\\0' ' ' </proc/$KP/cmdline | grep -q -- '--password='"
check "ps shows no password given on kmctl's command line" \
    sh -c "! tr '\\0' ' ' </proc/$KP/cmdline | grep -q ps-Secret-9z"
kill "$KP" "$LP" 2>/dev/null
wait "$KP" "$LP" 2>/dev/null

start_kmd || finish
expected='{
  "nodeID": "",
  "status": {
    "code": "none",
    "description": "not clustered"
  }
}'
out=$(ctl cluster info); rc=$?
check "cluster info exits 0" test $rc -eq 0
check "cluster info prints the reference's JSON" test "$out" = "$expected"
check "unique prefixes work (cl in)" test "$(ctl cl in)" = "$expected"
check "KMCTL_SOCKET picks the socket" \
    sh -c "KMCTL_SOCKET=$SOCK $KMCTL cluster info | grep -q 'not clustered'"

out=$(ctl status); rc=$?
check "status exits 0" test $rc -eq 0
check "status has pid, user, uptime, restarts" \
    sh -c "echo '$out' | grep -q '\"uptime\"' && echo '$out' | grep -q '\"restarts\": 0' && echo '$out' | grep -q '\"pid\": $KPID'"

out=$(ctl cluster frobnicate 2>&1); rc=$?
check "unknown word exits 1" test $rc -eq 1
check "unknown word lists choices" \
    sh -c "echo '$out' | grep -q 'valid choices: info new csr join fulljoin summary delete verify nodes'"
out=$(ctl cluster n 2>&1); rc=$?
check "ambiguous word exits 1 and says so" \
    sh -c "[ $rc -eq 1 ] && echo '$out' | grep -q ambiguous"
out=$(ctl cluster nodes get 2>&1); rc=$?
check "missing required flag named" \
    sh -c "[ $rc -eq 1 ] && [ '$out' = 'kmctl: cluster nodes get: --id is required' ]"
check "--help exits 0" ctl cluster nodes --help
check "leaf --help shows flags" \
    sh -c "$KMCTL cluster new --help | grep -q -- '--host=H'"
check "no arguments: usage, exit 1" sh -c "! $KMCTL 2>/dev/null"
# The password prompt on a real terminal: a signal while it does not
# echo (Ctrl-C, Ctrl-\, a hang-up) leaves the terminal echoing again, and
# ends kmctl as the signal would.  The prompt comes before any connection.
for k in "c Ctrl-C 2" "q Ctrl-\\ 3" "h SIGHUP 1"; do
	set -- $k
	out=$(python3 regress/e2e/ttyprompt.py "$1" "$KMCTL" -s "$T/none.sock" \
	    users set-password --name admin 2>&1)
	check "password prompt, $2: the terminal echoes again" has "$out" "echo=on"
	check "... kmctl ended by the signal ($3)" has "$out" "exit signal=$3 "
done
out=$(python3 regress/e2e/ttyprompt.py pp "$KMCTL" -s "$T/none.sock" \
    users set-password --name admin 2>&1)
check "both lines typed: asked twice, echo back, then no kmd: exit 1" \
    has "$out" "exit status=1 echo=on"
# --out and --credentials, refused before anything is asked of kmd
: >"$T/taken.json"
out=$("$KMCTL" -s "$T/none.sock" cluster nodes create --csr="$T/x.csr" \
    --newnodehost=h --out="$T/taken.json" 2>&1); rc=$?
check "--out to a file that exists: refused, says what to do" \
    refused $rc "$out" "cannot make $T/taken.json: File exists (remove it, or give another name)"
out=$("$KMCTL" -s "$T/none.sock" cluster csr --host=h --out="$T/new.json" 2>&1); rc=$?
check "--out, then no kmd: exit 1, and no file left behind" \
    sh -c "[ $rc -eq 1 ] && [ ! -e '$T/new.json' ]"
jn() { "$KMCTL" -s "$T/none.sock" cluster join --member=m --host=h -y "$@" 2>&1; }
out=$(jn); rc=$?
check "join without credentials: names --credentials and the three" \
    refused $rc "$out" "credentials=FILE (what cluster nodes create --out wrote) is required, or --cert, --cachain and --mkek-blob"
printf '{"cert": "x"}' >"$T/c1.json"
out=$(jn --credentials="$T/c1.json" --mkek-blob=b); rc=$?
check "--credentials and --mkek-blob both: refused" refused $rc "$out" "not both"
out=$(jn --credentials="$T/c1.json"); rc=$?
check "--credentials lacking cachain: names it" \
    refused $rc "$out" "no string \"cachain\" in it"
printf 'not json' >"$T/c2.json"
out=$(jn --credentials="$T/c2.json"); rc=$?
check "--credentials not JSON: refused, says so" refused $rc "$out" "neither PEM nor JSON"
head -c 70000 /dev/zero | tr '\0' ' ' >"$T/c3.json"
out=$(jn --credentials="$T/c3.json"); rc=$?
check "--credentials of 70 kB: refused by its size" refused $rc "$out" "more than 65536 bytes"
printf '{"csr": 5}' >"$T/csr.json"
out=$("$KMCTL" -s "$T/none.sock" cluster nodes create --csr="$T/csr.json" \
    --newnodehost=h 2>&1); rc=$?
check "--csr a JSON whose csr is no string: refused" \
    refused $rc "$out" "no string \"csr\" in it"
# kmctl completion bash: made from the parser's tables, so every command
# path it knows parses (--help exits 0), and it completes as a user types
"$KMCTL" completion bash >"$T/compl.bash"; rc=$?
check "completion bash: exit 0, a function bash accepts" \
    sh -c "[ $rc -eq 0 ] && bash -n $T/compl.bash"
sed -n 's/^\t"\(.*\)") w=.*/\1/p' "$T/compl.bash" | grep -v '^$' >"$T/paths"
check "... it knows 40 command paths or more" \
    test "$(wc -l <"$T/paths")" -ge 40
bad=
while read -r p; do
	"$KMCTL" $p --help >/dev/null 2>&1 || bad="$bad [$p]"
done <"$T/paths"
check "... each one kmctl parses (--help exits 0)${bad:+: not$bad}" test -z "$bad"
compl() {
	bash -c '. "$1"; shift; COMP_WORDS=("$@"); COMP_CWORD=$(($# - 1))
	    _kmctl 2>/dev/null; echo "${COMPREPLY[*]}"' sh "$T/compl.bash" "$@"
}
check "kmctl cluster n<TAB>: new nodes" test "$(compl kmctl cluster n)" = "new nodes"
check "after --url and its value: cluster new --h<TAB>: --host=" \
    test "$(compl kmctl --url https://n:8443 cluster new --h)" = "--host="
check "nodes create --csr f --o<TAB>: --out=" \
    test "$(compl kmctl cluster nodes create --csr f.json --o)" = "--out="
check "a word of no command: nothing offered" \
    test -z "$(compl kmctl bogus x)"
finish
