#!/bin/sh
# run.sh SECONDS TARGET...: run each libFuzzer target for SECONDS from the
# seed corpus in regress/fuzz/corpus/<name>; new inputs go to a temp dir,
# crashes to build/fuzz/<name>-crash-*.  Any crash, leak or sanitizer
# report fails the run.  The targets' own stderr (kmd's log lines, one
# or more per input of the dispatch targets) is dropped (-close_fd_mask=2):
# libFuzzer's output and the sanitizers' reports still reach the log.
set -u
secs=$1; shift
rc=0
for t in "$@"; do
	name=$(basename "$t")
	work=$(mktemp -d)
	echo "fuzz: $name for ${secs}s"
	if ! "$t" -max_total_time="$secs" -timeout=10 -rss_limit_mb=2048 \
	    -close_fd_mask=2 -print_final_stats=1 \
	    -artifact_prefix="build/fuzz/$name-" \
	    "$work" "regress/fuzz/corpus/$name" >"build/fuzz/$name.log" 2>&1; then
		tail -40 "build/fuzz/$name.log"
		echo "fuzz: $name FAILED (log: build/fuzz/$name.log)"
		rc=1
	else
		grep -E '^stat::number_of_executed_units' "build/fuzz/$name.log" |
		    sed "s/^/fuzz: $name /"
	fi
	rm -rf "$work"
done
exit $rc
