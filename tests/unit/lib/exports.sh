#!/bin/sh
# Every symbol libukd.a defines for other objects (text, data, bss,
# read-only data, common) carries the ukd_ prefix (STYLE: names), so that a
# daemon or tool linking it cannot collide with it. Static helpers are
# invisible to the linker and are not listed by nm -g.
# Usage: exports.sh NM LIBUKD_A
set -eu
nm=$1 lib=$2
[ -r "$lib" ] || { echo "exports.sh: cannot read $lib" >&2; exit 1; }
# A truncated or foreign archive would list nothing and pass: demand the
# public entry points that the daemons call.
"$nm" -g --defined-only "$lib" | grep -q ' T ukd_front_new$' ||
	{ echo "exports.sh: $lib defines no ukd_front_new: not libukd?" >&2; exit 1; }
# AddressSanitizer adds an ODR indicator per exported variable, named
# after it (__odr_asan.ukd_cuse_front_impl): the name inside is checked.
bad=$("$nm" -g --defined-only "$lib" |
	awk 'NF == 3 && $2 ~ /^[TDBRCVWGS]$/ {
		name = $3; sub(/^__odr_asan[._](gen_)?/, "", name)
		if (name !~ /^ukd_/) print $3 " (" $2 ")"
	}')
if [ -n "$bad" ]; then
	echo "libukd.a exports symbols without the ukd_ prefix:"
	echo "$bad"
	exit 1
fi
echo "libukd.a: every exported symbol starts with ukd_"
