#!/bin/sh
# table.sh FILE: print make bench's rows (measure, value, goal; tab
# separated, as regress/common.sh's table_row writes them) as one table,
# with the machine they were measured on.
[ -s "$1" ] || { echo "bench: no figures in $1" >&2; exit 1; }
echo
echo "== make bench: $(nproc) CPUs, $(free -g | awk '/Mem:/ {print $2}') GiB," \
    "$(. /etc/os-release && echo "$PRETTY_NAME"), $(date -u +%Y-%m-%d) =="
awk -F '\t' '$3 == "" { printf "%-36s %s\n", $1, $2; next }
    { printf "%-36s %-52s [%s]\n", $1, $2, $3 }' "$1"
