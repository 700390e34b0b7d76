#!/bin/bash
# SPDX-License-Identifier: MIT
# tests/host/kvfsd: the birth time through statx(2) (root + /dev/fuse,
# Linux 6.6+ for FUSE_STATX, else skipped).
#
# usage: statx.sh KVFSD KVFS_STATX
#
#  1. a file, a directory and a symlink get a birth time at creation
#     (between the clock before and after), STATX_BTIME in the mask;
#     the kernel sent FUSE_STATX (counted in the -d log)
#  2. write, chmod and rename leave it alone; ctime and mtime move past it
#  3. stat(1) -c '%w %W' shows the same birth time
#  4. unmount, mount from the image: the same birth time, to the ns
#
# Every mount is unmounted and the daemon stopped on exit (trap).
set -u

KVFSD=$1
STATX=$2

if [ "$(id -u)" != 0 ]; then echo "SKIP: needs root (FUSE mounts)"; exit 77; fi
if [ ! -c /dev/fuse ]; then echo "SKIP: no /dev/fuse"; exit 77; fi
KREL=$(uname -r)
KMAJ=${KREL%%.*}; KMIN=${KREL#*.}; KMIN=${KMIN%%[!0-9]*}
if [ "$KMAJ" -lt 6 ] || { [ "$KMAJ" = 6 ] && [ "$KMIN" -lt 6 ]; }; then
	echo "SKIP: kernel $KREL has no FUSE_STATX (added in 6.6): no birth time over FUSE"
	exit 77
fi

# shellcheck source=mount-lib.sh
. "$(dirname "$0")/mount-lib.sh"
kvfs_setup statx
IMG=$T/image

opcodes() { grep -o "opcode: [A-Z_?]* ([0-9]*)" "$T/daemon.log" | sort | uniq -c | sed 's/^ */    /'; }

now_ns() { date +%s%N; }

# read_statx PATH: sets MASK BT CT MT (ns) from kvfs-statx.
read_statx() {
	local out
	out=$("$STATX" "$1") || { fail "statx $1"; MASK=0 BT=- CT=0 MT=0; return 1; }
	read -r MASK BT CT MT <<< "$out"
}

echo "== 1. birth time at creation"
mount_kvfs "image=$IMG,size=64m" -d || exit 1
BEFORE=$(now_ns)
echo hello > "$M/f"
mkdir "$M/d"
ln -s f "$M/l"
AFTER=$(now_ns)
read_statx "$M/f"
if [ "$BT" = - ]; then
	echo "  opcodes seen:"; opcodes
	if grep -q "opcode: STATX" "$T/daemon.log"; then
		fail "kvfsd answered FUSE_STATX but the mask $MASK lacks STATX_BTIME"
	else
		echo "SKIP: kernel $KREL sent no FUSE_STATX (mask $MASK lacks STATX_BTIME)"
		exit 77
	fi
	exit 1
fi
declare -A BTIME
for p in f d l; do
	read_statx "$M/$p"
	BTIME[$p]=$BT
	[ "$BT" != - ] || { fail "$p: no STATX_BTIME in mask $MASK"; continue; }
	[ "$BT" -ge "$BEFORE" ] && [ "$BT" -le "$AFTER" ] ||
		fail "$p: btime $BT not within the creation [$BEFORE, $AFTER]"
	[ "$BT" -le "$CT" ] && [ "$BT" -le "$MT" ] || fail "$p: btime $BT after ctime $CT or mtime $MT"
done
grep -q "opcode: STATX (52)" "$T/daemon.log" || fail "the kernel sent no FUSE_STATX"
echo "  btime of f, d, l: ${BTIME[f]} ${BTIME[d]} ${BTIME[l]}"

echo "== 2. writes, chmod, rename keep the birth time"
sleep 0.02
echo more >> "$M/f"
chmod 600 "$M/f"
mv "$M/f" "$M/g"
touch "$M/d/x"
read_statx "$M/g"
[ "$BT" = "${BTIME[f]}" ] || fail "btime of f changed: ${BTIME[f]} -> $BT"
[ "$MT" -gt "$BT" ] && [ "$CT" -gt "$BT" ] || fail "mtime $MT / ctime $CT not past btime $BT after changes"
read_statx "$M/d"
[ "$BT" = "${BTIME[d]}" ] || fail "btime of d changed: ${BTIME[d]} -> $BT"
[ "$MT" -gt "$BT" ] || fail "d: mtime $MT not past btime $BT after a create in it"

echo "== 3. stat(1)"
W=$(stat -c '%w|%W' "$M/g")
echo "  stat -c '%w|%W' g: $W"
[ "${W#*|}" = "$((${BTIME[f]} / 1000000000))" ] || fail "stat %W: ${W#*|}, expected $((${BTIME[f]} / 1000000000))"
case $W in -*) fail "stat %w shows no birth time" ;; esac
NS=$(printf '%09d' $((${BTIME[f]} % 1000000000)))
case ${W%%|*} in *".$NS "*) ;; *) fail "stat %w ${W%%|*} lacks .$NS" ;; esac
echo "  opcodes seen:"; opcodes
unmount_kvfs

echo "== 4. the birth time survives a remount from the image"
mount_kvfs "image=$IMG" -d || exit 1
read_statx "$M/g"
[ "$BT" = "${BTIME[f]}" ] || fail "btime of g after remount: $BT, expected ${BTIME[f]}"
read_statx "$M/d"
[ "$BT" = "${BTIME[d]}" ] || fail "btime of d after remount: $BT, expected ${BTIME[d]}"
read_statx "$M/l"
[ "$BT" = "${BTIME[l]}" ] || fail "btime of l after remount: $BT, expected ${BTIME[l]}"
unmount_kvfs

if [ "$FAILED" = 0 ]; then echo "PASS"; else echo "FAILED"; fi
exit $FAILED
