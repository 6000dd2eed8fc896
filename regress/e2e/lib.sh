# Shared helpers for the end-to-end tests: each test gets its own temp dir,
# config, socket and data dir, and drives the real kmd and kmctl.
# KMD and KMCTL name the binaries (the GNUmakefile passes the ASan build).

: "${KMD:=$(pwd)/build/kmd}"
: "${KMCTL:=$(pwd)/build/kmctl}"
T=$(mktemp -d /tmp/kmd-e2e.XXXXXX)
chmod 755 "$T"
SOCK=$T/kmd.sock
CONF=$T/kmd.conf
LOG=$T/kmd.log
KPID=
FAILS=0
exec 8>&2	# the test's own stderr, which check() hides from commands

cleanup() {
	if [ -n "$KPID" ]; then
		kill -TERM "$KPID" 2>/dev/null
		i=0
		while kill -0 "$KPID" 2>/dev/null && [ $i -lt 400 ]; do
			sleep 0.1; i=$((i + 1))
		done
		kill -9 "$KPID" 2>/dev/null
	fi
	pkill -9 -f "kmd: .* -P" -P "${KPID:-0}" 2>/dev/null
	if [ "$FAILS" -ne 0 ] && [ -s "$LOG" ]; then
		echo "--- kmd log ($LOG) ---"; cat "$LOG"
	fi
	rm -rf "$T"
}
# (a signal ends the test: its EXIT trap cleans up)
trap cleanup EXIT
trap 'exit 130' INT TERM

. regress/common.sh


write_conf() {
	{
		printf 'socket "%s"\ndatadir "%s/data"\n' "$SOCK" "$T"
		[ $# -gt 0 ] && printf '%s\n' "$@"
	} > "$CONF"
}

ctl() { "$KMCTL" -s "$SOCK" "$@"; }
kmd_ready() { ctl version 2>/dev/null | grep -q '"schemaVersion": [0-9]'; }

# has TEXT PATTERN: TEXT contains a match for the grep PATTERN
has() { printf '%s\n' "$1" | grep -q -- "$2"; }
# refused RC TEXT PATTERN: exit status 1 and a message matching PATTERN
refused() { [ "$1" -eq 1 ] && has "$2" "$3"; }


start_kmd() {
	[ -f "$CONF" ] || write_conf
	"$KMD" -d -f "$CONF" >>"$LOG" 2>&1 &
	KPID=$!
	# Up means the database answers too, its schema current (initdb and
	# the migrations on first start): version shows the schema only then.
	wait_for 30 kmd_ready || { fail "kmd came up"; return 1; }
}

stop_kmd() {
	[ -n "$KPID" ] || return 0
	kill -TERM "$KPID" 2>/dev/null
	wait "$KPID" 2>/dev/null
	KPID=
}

# pid of a worker by role, from its process name "kmd: role"
wpid() { pgrep -P "$KPID" -x "kmd: $1"; }

# mem_holds|mem_lacks PID STRING...: whether a process's memory (what a
# core dump of it would hold) has any of the strings
mem_holds() { [ "$(python3 regress/e2e/memscan.py "$@")" = found ]; }
# mem_lacks also says, in the test's output, where a copy was found.
mem_lacks() { [ "$(python3 regress/e2e/memscan.py "$@" 2>&8)" = absent ]; }

# sanitizer reports in kmd's log fail the test
sanitizer_clean() {
	! grep -Eq 'ERROR: (Address|Leak)Sanitizer|runtime error:' "$LOG"
}

finish() {
	stop_kmd
	check "no sanitizer report in kmd's log" sanitizer_clean
	exit "$FAILS"
}
