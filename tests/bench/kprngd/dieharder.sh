#!/bin/bash
# SPDX-License-Identifier: MIT
# Optional, slow (tens of minutes per generator): the full dieharder battery
# (dieharder -a) on kprngd's streams read through FUSE, raw on stdin.
# Usage: dieharder.sh KPRNGD DIEHARDER [GENERATOR...]   (default: xoshiro chacha20)
# Prints dieharder's table and a PASSED/WEAK/FAILED count per generator.
set -u
KPRNGD=$1 DIEHARDER=$2; shift 2
GENS=("$@"); [ ${#GENS[@]} -gt 0 ] || GENS=(xoshiro chacha20)
[ "$(id -u)" = 0 ] || { echo "SKIP: needs root"; exit 77; }
[ -c /dev/fuse ] || { echo "SKIP: no /dev/fuse"; exit 77; }
TMP=$(mktemp -d /tmp/kprng-dh.XXXXXX)
PID=
cleanup() {
	[ -n "$PID" ] && kill "$PID" 2>/dev/null && wait "$PID" 2>/dev/null
	mountpoint -q "$TMP/m" && fusermount3 -u "$TMP/m"
	rm -rf "$TMP"
}
trap cleanup EXIT
trap 'exit 1' INT TERM
for g in "${GENS[@]}"; do
	mkdir -p "$TMP/m"
	"$KPRNGD" --fuse="$TMP/m" --generator "$g" & PID=$!
	for _ in $(seq 100); do mountpoint -q "$TMP/m" && break; sleep 0.05; done
	echo "== dieharder -a, $g (random key per open)"
	# -g 200: raw binary on stdin; one open, so one stream.
	cat "$TMP/m/kprng" | "$DIEHARDER" -a -g 200 | tee "$TMP/$g.txt"
	echo "== $g summary: $(grep -c PASSED "$TMP/$g.txt") PASSED, $(grep -c WEAK "$TMP/$g.txt") WEAK, $(grep -c FAILED "$TMP/$g.txt") FAILED"
	kill "$PID"; wait "$PID"; PID=
done
