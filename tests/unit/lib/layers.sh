#!/bin/sh
# libukd's floors (lib/README.md): every call from one member of libukd.a
# into another goes to the same floor or one below, no two members call
# each other, and every member has a floor in the README's table.
# Usage: layers.sh NM LIBUKD_A LIB_README
set -eu
nm=$1 lib=$2 readme=$3
[ -r "$lib" ] && [ -r "$readme" ] || { echo "layers.sh: cannot read $lib or $readme" >&2; exit 1; }
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

# "floor pattern" per file pattern in the table's rows "| N | name | files |".
# A member is named like its source with / turned into _ plus .o (meson's
# naming), so prng/*.c matches the member prng_ahead.c.o.
awk -F'|' '$2 ~ /^ *[0-9]+ *$/ {
	n = split($4, f, " ")
	for (i = 1; i <= n; i++) { p = f[i]; gsub("/", "_", p); print $2 + 0, p ".o" }
}' "$readme" > "$tmp/patterns"
[ -s "$tmp/patterns" ] || { echo "layers.sh: no floor table in $readme" >&2; exit 1; }

# "member symbol kind" for every global symbol, defined or not ("U").
# nm -A prefixes "ARCHIVE:MEMBER:"; a thin archive's member is a path.
"$nm" -A -g "$lib" | awk '{
	i = match($0, /:[^:]*$/)
	m = substr($0, 1, i - 1); sub(".*[:/]", "", m)
	n = split(substr($0, i + 1), f, " ")
	if (n == 3) print m, f[3], f[2]; else if (n == 2 && f[1] == "U") print m, f[2], "U"
}' > "$tmp/syms"

# "member floor"; a member without a floor fails the test.
fail=0
for m in $(awk '{ print $1 }' "$tmp/syms" | sort -u); do
	floor=
	while read -r f pat; do
		# shellcheck disable=SC2254  # $pat is a glob on purpose
		case $m in $pat) floor=$f; break ;; esac
	done < "$tmp/patterns"
	if [ -z "$floor" ]; then
		echo "$m: no floor in $readme (add its file to the table)"
		fail=1
	fi
	echo "$m $floor" >> "$tmp/floors"
done
[ $fail = 0 ] || exit 1

awk '
	FILENAME == ARGV[1] { floor[$1] = $2; next }
	$3 != "U" { def[$2] = $1; next }
	{ use[++n] = $1 " " $2 }
	END {
		for (i = 1; i <= n; i++) {
			split(use[i], u, " ")
			if (!(u[2] in def) || def[u[2]] == u[1])
				continue
			from = u[1]; to = def[u[2]]; calls++
			if (floor[to] > floor[from]) {
				print "up a floor: " from " (floor " floor[from] ") calls " u[2] \
				      " in " to " (floor " floor[to] ")"
				bad = 1
			}
			pair[from " " to] = u[2]
		}
		for (p in pair) {
			split(p, x, " ")
			if ((x[2] " " x[1]) in pair) {
				print "circle: " x[1] " calls " pair[p] " in " x[2] ", which calls " \
				      pair[x[2] " " x[1]] " back"
				bad = 1
			}
		}
		if (calls == 0) {
			print "layers.sh: no calls between members: is this libukd?"
			bad = 1
		}
		if (!bad)
			print "libukd: " calls " calls between its files, none up a floor, no circle"
		exit bad
	}' "$tmp/floors" "$tmp/syms"
