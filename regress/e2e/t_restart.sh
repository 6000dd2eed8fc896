# kill -9 of each worker: logged, restarted with backoff, counted.
. regress/e2e/lib.sh
start_kmd || finish

for role in replmon joiner hsm api; do
	old=$(wpid $role)
	kill -9 "$old"
	check "$role restarted after kill -9" \
	    wait_for 5 sh -c "p=\$(pgrep -P $KPID -x 'kmd: $role') && [ \"\$p\" != $old ]"
	check "$role death logged" \
	    grep -q "$role (pid $old) was killed by signal 9" "$LOG"
	check "$role restart counted in status" \
	    sh -c "$KMCTL -s $SOCK status | grep -A4 '\"role\": \"$role\"' | grep -q '\"restarts\": 1'"
done

# A second death soon after doubles the backoff.
kill -9 "$(wpid replmon)"
check "second quick death waits 2 s" \
    wait_for 3 grep -q "restarting replmon in 2 s" "$LOG"
check "replmon back after the backoff" wait_for 5 wpid replmon
check "cluster info answers after restarts" \
    wait_for 5 sh -c "$KMCTL -s $SOCK cluster info | grep -q 'not clustered'"
finish
