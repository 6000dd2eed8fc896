# Each worker runs under a seccomp allowlist of its role: a system call
# outside it kills the worker, the parent says so in its log and starts
# the worker again, and the node goes on serving.  The forbidden call is
# made from outside, by gdb attached to the worker (mount(2), which no
# worker may make), so the daemon carries no test hook.  Also: no worker
# may open a network socket (socket(2) is allowed for AF_UNIX only).
. regress/e2e/lib.sh

start_kmd || finish
check "cluster new" ctl cluster new --host=127.0.0.1 --url=https://127.0.0.1:8443
check "every worker runs with a seccomp filter" sh -c \
    "for r in replmon joiner hsm api; do
        grep -q '^Seccomp:[[:space:]]*2' /proc/\$(pgrep -P $KPID -x \"kmd: \$r\")/status || exit 1
    done"
check "the parent runs without one" grep -q '^Seccomp:[[:space:]]*0' /proc/$KPID/status

# inject PID CALL: make the process run CALL (gdb, attached for it)
inject() {
	gdb -p "$1" -batch -nx -ex "call (long)syscall($2)" >/dev/null 2>&1
}
for role in replmon joiner hsm api; do
	pid=$(wpid "$role")
	inject "$pid" "165, 0, 0, 0, 0"	# mount
	check "$role: a forbidden system call kills it" \
	    wait_for 10 sh -c "! kill -0 $pid 2>/dev/null"
	check "$role: the parent logs the seccomp kill" \
	    wait_for 5 grep -q "$role (pid $pid) was killed by its seccomp filter" "$LOG"
	check "$role: and starts it again" wait_for 15 sh -c \
	    "p=\$(pgrep -P $KPID -x 'kmd: $role') && [ \"\$p\" != $pid ]"
done
pid=$(wpid joiner)
inject "$pid" "41, 2, 1, 0, 0"		# socket(AF_INET, SOCK_STREAM)
check "joiner: an AF_INET socket kills it" \
    wait_for 10 sh -c "! kill -0 $pid 2>/dev/null"
check "after the restarts: cluster info" wait_for 15 sh -c \
    "$KMCTL -s $SOCK cluster info | grep -q '\"code\": \"r\"'"
check "keys create (joiner and hsm at work)" wait_for 15 ctl keys create --name=after
check "keys encrypt" ctl keys encrypt --name=after --plaintext=x
echo secret-password | ctl users set-password --name admin >/dev/null
check "the API answers (api worker)" wait_for 15 sh -c \
    "curl -sfk -d '{\"username\":\"admin\",\"password\":\"secret-password\"}' https://127.0.0.1:8443/api/v1/auth/tokens | grep -q token"
finish
