#!/bin/sh
# make lint: the shape rules of kmd's code, checked on every build.
#   - every .c and .h outside regress/ at most 800 lines;
#   - every function body (style(9): "{" and "}" in column 0) at most
#     80 lines;
#   - no circle of calls between the files of one folder: A uses B and
#     B uses A (through any path) means neither can be read alone.
#     Read from the objects' symbols (nm): A -> B when A calls or reads
#     a global that B defines.
# Usage: sh regress/lint.sh [objdir]   (objdir: build/obj by default)
cd "$(dirname "$0")/.." || exit 1
OBJ=${1:-build/obj}
MAXFILE=800
MAXFN=80
rc=0
srcs=$(find master workers common ctl -name '*.[ch]' | sort)

for f in $srcs; do
	n=$(wc -l < "$f")
	if [ "$n" -gt $MAXFILE ]; then
		echo "lint: $f: $n lines (at most $MAXFILE)"
		rc=1
	fi
done

for f in $srcs; do
	awk -v f="$f" -v max=$MAXFN '
		/^[A-Za-z_][A-Za-z_0-9]*\(/ { name = $0; sub(/\(.*/, "", name) }
		/^\{/ { start = NR; next }
		/^\}/ && start {
			n = NR - start - 1
			if (n > max) {
				printf "lint: %s:%d: %s: body of %d lines" \
				    " (at most %d)\n", f, start, name, n, max
				bad = 1
			}
			start = 0
		}
		END { exit bad }' "$f" || rc=1
done

# Circles of calls inside each folder of the product.
if [ ! -d "$OBJ" ]; then
	echo "lint: $OBJ: no objects (run make first)"
	exit 1
fi
for dir in master common ctl workers/joiner workers/replmon workers/hsm \
    workers/api; do
	objs=$(ls "$OBJ/$dir"/*.o 2>/dev/null)
	[ -n "$objs" ] || continue
	edges=$(for o in $objs; do
		nm -u "$o" | awk -v o="$o" '{ print "U", o, $NF }'
		nm --defined-only -g "$o" | awk -v o="$o" '{ print "D", o, $NF }'
	done | awk '
		$1 == "D" { def[$3] = $2; next }
		{ use[++n] = $2 " " $3 }
		END {
			for (i = 1; i <= n; i++) {
				split(use[i], u, " ")
				if ((u[2] in def) && def[u[2]] != u[1])
					print u[1], def[u[2]]
			}
		}' | sort -u)
	[ -n "$edges" ] || continue
	loop=$(printf '%s\n' "$edges" | tsort 2>&1 >/dev/null |
	    grep -v 'input contains a loop' | sed 's,.*/,,; s,\.o$,.c,' |
	    tr '\n' ' ')
	if [ -n "$loop" ]; then
		echo "lint: $dir: files that call each other in a circle: $loop"
		rc=1
	fi
done
[ $rc -eq 0 ] && echo "lint: files, functions and folders within their rules"
exit $rc
