# Shell helpers the test and benchmark scripts share; sourced from the top
# of the tree.  C (regress/cluster.sh) must be set for creds.

# wait_for SECONDS COMMAND...: poll every 0.1 s
wait_for() {
	# by the clock, not by tries: a command that is slow under load
	# must not stretch the wait
	_wf_end=$(($(date +%s) + $1)); shift
	while :; do
		"$@" >/dev/null 2>&1 && return 0
		[ "$(date +%s)" -lt "$_wf_end" ] || return 1
		sleep 0.1
	done
}

# id_of K: node K's id (a cluster.sh node, through $C)
id_of() { $C ctl "$1" cluster info | sed -n 's/.*"nodeID": "\(.*\)".*/\1/p'; }
# ready K: node K is in a cluster and ready
ready() { $C ctl "$1" cluster info 2>/dev/null | grep -q '"code": "r"'; }
# ready_n N K...: each of nodes K... lists N ready nodes
ready_n() {
	n=$1; shift
	for k in "$@"; do
		[ "$($C ctl "$k" cluster nodes list | grep -c '"code": "r"')" = "$n" ] ||
		    return 1
	done
}

# field FILE KEY: a string member of a JSON file
field() { python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))[sys.argv[2]], end="")' "$@"; }

# creds K M: cluster csr on node K, nodes create on node M, each with
# --out, the second given the first's JSON as it is; the files (csrK.json,
# nK.csr, credK.json, nK.crt, ca.crt) go to $CREDS_DIR
creds() {
	rm -f "$CREDS_DIR/csr$1.json" "$CREDS_DIR/cred$1.json"
	$C ctl "$1" cluster csr --host="127.0.0.$1" \
	    --out="$CREDS_DIR/csr$1.json" &&
	field "$CREDS_DIR/csr$1.json" csr >"$CREDS_DIR/n$1.csr" &&
	$C ctl "$2" cluster nodes create --csr="$CREDS_DIR/csr$1.json" \
	    --newnodehost="127.0.0.$1" --out="$CREDS_DIR/cred$1.json" &&
	field "$CREDS_DIR/cred$1.json" cert >"$CREDS_DIR/n$1.crt" &&
	field "$CREDS_DIR/cred$1.json" cachain >"$CREDS_DIR/ca.crt"
}

# join K M [FLAGS]: cluster join of node K through member M with the
# files creds K M left in $CREDS_DIR
join() {
	k=$1 m=$2; shift 2
	$C ctl "$k" cluster join --member="127.0.0.$m" --host="127.0.0.$k" \
	    --cert="$CREDS_DIR/n$k.crt" --cachain="$CREDS_DIR/ca.crt" \
	    --mkek-blob="$(field "$CREDS_DIR/cred$k.json" mkek_blob)" "$@"
}

# A test's verdicts: one PASS or FAIL line each; FAILS counts the fails.
# With E2E_TIMES set, each line ends with the seconds since the test began.
FAILS=${FAILS:-0}
E2E_T0=${E2E_T0:-$(date +%s)}
at() { [ -z "${E2E_TIMES:-}" ] || echo " [+$(( $(date +%s) - E2E_T0 )) s]"; }
ok() { echo "PASS: $1$(at)"; }
fail() { echo "FAIL: $1$(at)"; FAILS=$((FAILS + 1)); }
# check NAME COMMAND...: PASS when the command succeeds
check() {
	name=$1; shift
	if "$@" >/dev/null 2>&1; then ok "$name"; else fail "$name"; fi
}

# table_row MEASURE VALUE [GOAL]: a row of the one table `make bench`
# prints at the end (appended to $BENCH_TABLE when it is set)
table_row() {
	[ -n "${BENCH_TABLE:-}" ] || return 0
	printf '%s\t%s\t%s\n' "$1" "$2" "${3:-}" >>"$BENCH_TABLE"
}

# load_keys MB BATCH: rows of kmd_keys inserted on node 1 (q, die: the
# caller's) until its database holds about MB megabytes, BATCH rows at a
# time, the last batch cut to what is left by the bytes a row took so
# far; then VACUUM and CHECKPOINT.  $ROWS: the rows inserted.
load_keys() {
	lk_target=$(($1 * 1048576)) ROWS=0 lk_batch=$2
	lk_size=$(q 1 "SELECT pg_database_size('kmd')") ||
	    die "node 1: no database size"
	lk_size0=$lk_size
	# A row takes about 700 bytes with its share of the indexes.
	[ $(( (lk_target - lk_size) / 700 + 1 )) -lt "$lk_batch" ] &&
	    lk_batch=$(( (lk_target - lk_size) / 700 + 1 ))
	while [ "$lk_size" -lt "$lk_target" ]; do
		q 1 "INSERT INTO kmd_keys (key_id, name, version, algorithm,
		    material_sealed) SELECT gen_random_uuid(), 'bulk-' || i, 1,
		    'aes256', decode(repeat(md5(i::text), 32), 'hex')
		    FROM generate_series($((ROWS + 1)), $((ROWS + lk_batch))) i" ||
		    die "node 1: loading kmd_keys failed"
		ROWS=$((ROWS + lk_batch))
		lk_size=$(q 1 "SELECT pg_database_size('kmd')") ||
		    die "node 1: no database size"
		lk_per=$(( (lk_size - lk_size0) / ROWS ))
		[ "$lk_per" -gt 0 ] || lk_per=1
		lk_left=$(( (lk_target - lk_size) / lk_per + 1 ))
		[ "$lk_left" -lt "$lk_batch" ] && lk_batch=$lk_left
	done
	q 1 "VACUUM (ANALYZE) kmd_keys" >/dev/null &&
	    q 1 "CHECKPOINT" >/dev/null || die "node 1: VACUUM / CHECKPOINT failed"
}

# stop_node K: node K's kmd stopped (TERM), its pid file gone, so that
# the next cluster.sh up starts it again (with that KMD)
stop_node() {
	p=$(cat "$D/node$1/kmd.pid")
	kill -TERM "$p"
	wait_for 30 sh -c "! kill -0 $p 2>/dev/null"
	rm -f "$D/node$1/kmd.pid"
}
