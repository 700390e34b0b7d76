#!/bin/sh
# SPDX-License-Identifier: MIT
# play-melody.sh DIR OUT.mid - play "Ode to Joy" on the kkey nodes in DIR
# (/dev with CUSE, a FUSE mount otherwise) with real timing, then save the
# recording to OUT.mid. POSIX sh: also runs in the vm tier's busybox guest.
# KKEYCTL names kkeyctl if it is not on PATH.
set -eu
DIR=$1
OUT=$2
# Note number and length in eighths; an eighth is 0.25 s (120 bpm).
MELODY="64:2 64:2 65:2 67:2 67:2 65:2 64:2 62:2 60:2 60:2 62:2 64:2 64:3 62:1 62:4"

"${KKEYCTL:-kkeyctl}" -d "$DIR/kkey000" reset
for n in $MELODY; do
	note=$(printf '%03d' "${n%%:*}")
	echo 1 > "$DIR/kkey$note"
	sleep "$(awk "BEGIN { print ${n##*:} * 0.25 - 0.03 }")"
	echo 0 > "$DIR/kkey$note"
	sleep 0.03
done
cat "$DIR/kkey000" > "$OUT"
