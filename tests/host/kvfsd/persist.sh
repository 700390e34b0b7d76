#!/bin/bash
# SPDX-License-Identifier: MIT
# tests/host/kvfsd: kvfsd -o image=FILE (root + /dev/fuse, else skipped).
#
# usage: persist.sh KVFSD TESTDIR [EXERCISER_OPS_PER_SEGMENT [KVFSCTL]]
#
#  1. round trip: a tree with files, hard links, symlinks, a sparse file,
#     FIFOs, device nodes, xattrs, modes, owners and times; unmount, mount
#     from the image, compare metadata (st_ino included), content and holes
#  2. kill -9 during a write load, several times: every remount succeeds
#     and everything fsync'ed before the kill is intact
#  3. corrupt images: both superblocks, a metadata block -> refused with
#     "IMAGE: ... corrupt ...; refusing to mount" and exit 1; the newest
#     superblock alone (a torn commit) -> the previous generation mounts
#  4. the exerciser in segments with a remount from the image after each,
#     checked against its model every time
#  5. posix.py (and its ENOSPC part on size=1m,nr_inodes=64) on
#     image-backed mounts; what it leaves survives a remount unchanged
#  6. the documented durability routes, commit=3600 (no flusher in
#     time): a write made durable by fsync of the root directory,
#     fdatasync of another file, kvfsctl sync survives kill -9; one
#     followed only by sync(1) and sync -f is lost, and the image mounts
#  7. incremental commits: kill -9 four times during small fsync'ed
#     creates, overwrites, unlinks and renames across 200 directories;
#     every remount has every fsync'ed change and nothing deleted back
#
# Every mount is unmounted and every daemon stopped on exit (trap); every
# blocking step is bounded with timeout.
set -u

KVFSD=$1
HERE=$2
OPS=${3:-20000}
KVFSCTL=${4:-}
PY=/usr/bin/python3

if [ "$(id -u)" != 0 ]; then echo "SKIP: needs root (FUSE mounts, chown, mknod)"; exit 77; fi
if [ ! -c /dev/fuse ]; then echo "SKIP: no /dev/fuse"; exit 77; fi
if [ ! -x $PY ]; then echo "SKIP: no $PY"; exit 77; fi

T=$(mktemp -d /tmp/kvfsd-persist.XXXXXX)
chmod 755 "$T"   # other users reach the mount (posix.py)
M=$T/mnt
IMG=$T/image
mkdir "$M"
FAILED=0
WRITER=

stop_daemon() {
	local pid
	pid=$(cat "$T/pid" 2>/dev/null) || return 0
	rm -f "$T/pid"
	kill "$pid" 2>/dev/null
	timeout 10 tail --pid="$pid" -f /dev/null || kill -KILL "$pid" 2>/dev/null
}

cleanup() {
	[ -n "$WRITER" ] && kill -KILL "$WRITER" 2>/dev/null
	if mountpoint -q "$M" 2>/dev/null; then fusermount3 -u "$M" 2>/dev/null || umount -l "$M"; fi
	stop_daemon
	grep -q fuse.kvfs /proc/mounts && grep -q " $M " /proc/mounts && umount -l "$M" 2>/dev/null
	rm -rf "$T"
}
trap cleanup EXIT
trap 'exit 1' INT TERM

fail() { echo "FAIL: $*"; FAILED=1; }

# mount_kvfs OPTIONS: kvfsd in the foreground, its pid in $T/pid; wait for
# the mount. Returns 1 (log in $T/daemon.log) if it exited instead.
mount_kvfs() {
	"$KVFSD" -f -o "$1" "$M" 2>"$T/daemon.log" &
	echo $! > "$T/pid"
	for _ in $(seq 200); do
		mountpoint -q "$M" && return 0
		kill -0 "$(cat "$T/pid")" 2>/dev/null || { rm -f "$T/pid"; return 1; }
		sleep 0.05
	done
	return 1
}

# unmount_kvfs: fusermount3 -u, wait (bounded) for the daemon, check its
# leak report and that it committed.
unmount_kvfs() {
	local pid
	pid=$(cat "$T/pid")
	timeout 20 fusermount3 -u "$M" || fail "fusermount3 -u"
	if ! timeout 30 tail --pid="$pid" -f /dev/null; then
		fail "kvfsd did not exit"
		kill -KILL "$pid" 2>/dev/null
	fi
	rm -f "$T/pid"
	# (127: started by remount.sh, not our child; its log is checked alone)
	wait "$pid" 2>/dev/null; rc=$?
	[ "$rc" = 0 ] || [ "$rc" = 127 ] || fail "kvfsd exited with $rc"
	grep -E "Sanitizer|runtime error" "$T/daemon.log" && fail "sanitizer report"
	grep -q "leaked 0 inodes, 0 dentries, 0 pages" "$T/daemon.log" || fail "leak report: $(tail -1 "$T/daemon.log")"
	grep -q "committed generation" "$T/daemon.log" || fail "no final commit: $(tail -3 "$T/daemon.log")"
}

# A remount for the exerciser (runs outside this shell: reads the pid file).
cat > "$T/remount.sh" <<EOS
set -e
pid=\$(cat "$T/pid")
timeout 20 fusermount3 -u "$M"
timeout 30 tail --pid=\$pid -f /dev/null
grep -q "leaked 0 inodes, 0 dentries, 0 pages" "$T/daemon.log"
if grep -E "Sanitizer|runtime error" "$T/daemon.log"; then exit 1; fi
grep "committed generation" "$T/daemon.log" | sed 's/^/  daemon: /'
"$KVFSD" -f -o "\$1" "$M" 2>"$T/daemon.log" &
echo \$! > "$T/pid"
for _ in \$(seq 200); do mountpoint -q "$M" && exit 0; sleep 0.05; done
cat "$T/daemon.log"; exit 1
EOS

SECONDS=0
echo "== 1. round trip"
mount_kvfs "image=$IMG,size=256m" || { cat "$T/daemon.log"; fail "mount with a new image"; exit 1; }
timeout 60 $PY "$HERE/persist.py" build "$M" || fail "building the tree"
timeout 60 $PY "$HERE/persist.py" snapshot "$M" "$T/before.json" || fail "snapshot"
unmount_kvfs
for round in 1 2; do
	mount_kvfs "image=$IMG" || { cat "$T/daemon.log"; fail "remount $round"; exit 1; }
	grep "image $IMG" "$T/daemon.log" | sed 's/^/  daemon: /'
	timeout 60 $PY "$HERE/persist.py" snapshot "$M" "$T/after.json" || fail "snapshot after remount"
	timeout 60 $PY "$HERE/persist.py" compare "$T/before.json" "$T/after.json" ||
		fail "the tree changed across unmount/mount (round $round)"
	unmount_kvfs
done
cp --sparse=always "$IMG" "$T/good-image"
echo "  ($SECONDS s)"

echo "== 2. kill -9 during a write load"
rm -f "$IMG" "$T/synced"
for kill in 1 2 3 4 5; do
	mount_kvfs "image=$IMG,size=1g,commit=1" || { cat "$T/daemon.log"; fail "mount before kill $kill"; break; }
	if [ "$kill" -gt 1 ]; then
		timeout 60 $PY "$HERE/persist.py" verify "$M" "$T/synced" || fail "after kill $((kill - 1))"
	fi
	timeout 60 $PY "$HERE/persist.py" writer "$M" "$T/synced" 2>/dev/null &
	WRITER=$!
	sleep "0.$((RANDOM % 8 + 2))"
	kill -KILL "$(cat "$T/pid")"
	timeout 10 tail --pid="$(cat "$T/pid")" -f /dev/null
	rm -f "$T/pid"
	timeout 10 tail --pid="$WRITER" -f /dev/null || kill -KILL "$WRITER" 2>/dev/null
	wait "$WRITER" 2>/dev/null
	WRITER=
	timeout 10 fusermount3 -u "$M" 2>/dev/null || umount -l "$M"
	echo "  kill $kill: $(wc -l < "$T/synced") files fsync'ed so far"
done
mount_kvfs "image=$IMG" || { cat "$T/daemon.log"; fail "mount after the last kill"; }
if [ -e "$T/pid" ]; then
	grep "image $IMG" "$T/daemon.log" | sed 's/^/  daemon: /'
	timeout 60 $PY "$HERE/persist.py" verify "$M" "$T/synced" || fail "after the last kill"
	unmount_kvfs
fi
echo "  ($SECONDS s)"

echo "== 3. corrupt images are refused"
for what in supers meta; do
	cp --sparse=always "$T/good-image" "$IMG"
	$PY "$HERE/persist.py" corrupt "$IMG" "$what"
	if mount_kvfs "image=$IMG"; then
		fail "an image with corrupt $what was mounted"
		unmount_kvfs
	else
		pid_rc=0
		wait $! 2>/dev/null || pid_rc=$?
		sed 's/^/  daemon: /' "$T/daemon.log"
		grep -q "IMAGE: $IMG: corrupt: .*; refusing to mount" "$T/daemon.log" ||
			fail "no clear message for corrupt $what"
		[ "$pid_rc" = 1 ] || fail "exit status $pid_rc for corrupt $what (expected 1)"
		mountpoint -q "$M" && fail "corrupt $what left a mount"
	fi
done
cp --sparse=always "$T/good-image" "$IMG"
$PY "$HERE/persist.py" corrupt "$IMG" newest | tee "$T/corrupt.log"
GEN=$(sed -n 's/.*newest generation \([0-9]*\).*/\1/p' "$T/corrupt.log")
if mount_kvfs "image=$IMG"; then
	grep "image $IMG" "$T/daemon.log" | sed 's/^/  daemon: /'
	grep -q "image $IMG: generation $((GEN - 1))," "$T/daemon.log" ||
		fail "expected the previous generation $((GEN - 1))"
	timeout 60 $PY "$HERE/persist.py" snapshot "$M" "$T/older.json" || fail "walking the older generation"
	unmount_kvfs
else
	cat "$T/daemon.log"
	fail "the older superblock did not mount"
fi
echo "  ($SECONDS s)"

echo "== 4. exerciser: 3 segments of $OPS operations, remounted from the image after each"
rm -f "$IMG"
OPTS="allow_other,image=$IMG,size=1g,commit=1"
mount_kvfs "$OPTS" || { cat "$T/daemon.log"; fail "mount for the exerciser"; exit 1; }
timeout 600 $PY "$HERE/exerciser.py" "$M" --ops "$OPS" --seed 3 --segments 3 \
	--remount "bash $T/remount.sh $OPTS" || fail "exerciser with persistence"
unmount_kvfs
echo "  ($SECONDS s)"

echo "== 5. POSIX conformance and ENOSPC on image-backed mounts, then a remount"
for opts in "allow_other,size=256m" "allow_other,size=1m,nr_inodes=64"; do
	rm -f "$IMG"
	small=
	case $opts in *size=1m*) small=--small ;; esac
	mount_kvfs "$opts,image=$IMG" || { cat "$T/daemon.log"; fail "mount -o $opts,image="; continue; }
	timeout 120 $PY "$HERE/posix.py" $small "$M" > "$T/posix.log" 2>&1 || fail "posix.py $small with an image"
	grep -v "^ok" "$T/posix.log"
	timeout 60 $PY "$HERE/persist.py" snapshot "$M" "$T/before.json" || fail "snapshot"
	unmount_kvfs
	mount_kvfs "allow_other,image=$IMG" || { cat "$T/daemon.log"; fail "remount after posix.py $small"; continue; }
	timeout 60 $PY "$HERE/persist.py" snapshot "$M" "$T/after.json" || fail "snapshot after remount"
	timeout 60 $PY "$HERE/persist.py" compare "$T/before.json" "$T/after.json" ||
		fail "posix.py's leftovers changed across unmount/mount"
	unmount_kvfs
done
echo "  ($SECONDS s)"

echo "== 6. durability routes survive kill -9; sync(1) alone does not"
# kill_kvfs: kill -9 the daemon, wait for it, drop the dead mount.
kill_kvfs() {
	local pid
	pid=$(cat "$T/pid")
	kill -KILL "$pid"
	timeout 10 tail --pid="$pid" -f /dev/null
	rm -f "$T/pid"
	timeout 10 fusermount3 -u "$M" 2>/dev/null || umount -l "$M"
}
gen() { getfattr --only-values -n kvfs.stats.image_generation "$M" 2>/dev/null ||
	$PY -c 'import os, sys; print(os.getxattr(sys.argv[1], "kvfs.stats.image_generation").decode())' "$M"; }
rm -f "$IMG"
KEPT=
ROUTES="fsync-root fdatasync-other"
[ -n "$KVFSCTL" ] && ROUTES="$ROUTES kvfsctl-sync"
for route in $ROUTES sync-only; do
	mount_kvfs "image=$IMG,size=64m,commit=3600" || { cat "$T/daemon.log"; fail "mount for $route"; break; }
	for k in $KEPT; do
		[ "$(cat "$M/$k/data" 2>/dev/null)" = "$k" ] || fail "$k (made durable earlier) is gone or wrong"
	done
	g0=$(gen)
	mkdir "$M/$route"
	echo "$route" > "$M/$route/data"
	case $route in
	fsync-root) $PY -c 'import os, sys; fd = os.open(sys.argv[1], os.O_RDONLY | os.O_DIRECTORY); os.fsync(fd)' "$M" ;;
	fdatasync-other) echo other > "$M/other.$route"
		$PY -c 'import os, sys; fd = os.open(sys.argv[1], os.O_RDONLY); os.fdatasync(fd)' "$M/other.$route" ;;
	kvfsctl-sync) "$KVFSCTL" sync "$M" ;;
	sync-only) sync; sync -f "$M/$route/data"; $PY -c 'import os, sys; os.sync()' ;;
	esac
	rc=$?
	g1=$(gen)
	echo "  $route: exit $rc, image generation $g0 -> $g1"
	[ "$rc" = 0 ] || fail "$route failed ($rc)"
	if [ "$route" = sync-only ]; then
		[ "$g1" = "$g0" ] || fail "sync(1) committed? generation $g0 -> $g1"
	else
		[ "$g1" -gt "$g0" ] || fail "$route did not commit (generation $g0 -> $g1)"
	fi
	kill_kvfs
	if ! mount_kvfs "image=$IMG"; then
		cat "$T/daemon.log"; fail "the image does not mount after kill -9 ($route)"; continue
	fi
	if [ "$route" = sync-only ]; then
		[ -e "$M/$route" ] && fail "a write followed only by sync(1) survived kill -9 (a commit we did not expect)"
	else
		[ "$(cat "$M/$route/data" 2>/dev/null)" = "$route" ] || fail "$route: the write did not survive kill -9"
		KEPT="$KEPT $route"
	fi
	for k in $KEPT; do
		[ "$(cat "$M/$k/data" 2>/dev/null)" = "$k" ] || fail "$k is gone after the kill -9 in $route"
	done
	unmount_kvfs
done
echo "  ($SECONDS s)"

echo "== 7. incremental commits: kill -9 after many small fsyncs across 200 directories"
rm -f "$IMG" "$T/many.log"
for kill in 1 2 3 4; do
	mount_kvfs "image=$IMG,size=256m,commit=3600" || { cat "$T/daemon.log"; fail "mount before kill $kill"; break; }
	if [ "$kill" -gt 1 ]; then
		timeout 120 $PY "$HERE/persist.py" many-verify "$M" "$T/many.log" || fail "after kill $((kill - 1))"
	fi
	timeout 120 $PY "$HERE/persist.py" many-writer "$M" "$T/many.log" 2>/dev/null &
	WRITER=$!
	sleep "$((RANDOM % 2 + 2)).$((RANDOM % 10))"
	g=$(getfattr --only-values -n kvfs.stats.image_generation "$M" 2>/dev/null)
	kill -KILL "$(cat "$T/pid")"
	timeout 10 tail --pid="$(cat "$T/pid")" -f /dev/null
	rm -f "$T/pid"
	timeout 10 tail --pid="$WRITER" -f /dev/null || kill -KILL "$WRITER" 2>/dev/null
	wait "$WRITER" 2>/dev/null
	WRITER=
	timeout 10 fusermount3 -u "$M" 2>/dev/null || umount -l "$M"
	echo "  kill $kill at image generation $g: $(grep -c '^!' "$T/many.log") operations fsync'ed so far"
done
mount_kvfs "image=$IMG" || { cat "$T/daemon.log"; fail "mount after the last kill"; }
if [ -e "$T/pid" ]; then
	grep "image $IMG" "$T/daemon.log" | sed 's/^/  daemon: /'
	timeout 120 $PY "$HERE/persist.py" many-verify "$M" "$T/many.log" || fail "after the last kill"
	unmount_kvfs
	# The final commit was a delta or a new base: both mount again.
	mount_kvfs "image=$IMG" || { cat "$T/daemon.log"; fail "mount after the clean unmount"; }
	[ -e "$T/pid" ] && { timeout 120 $PY "$HERE/persist.py" many-verify "$M" "$T/many.log" || fail "after the clean unmount"; unmount_kvfs; }
fi
echo "  ($SECONDS s)"

if [ "$FAILED" = 0 ]; then echo "PASS"; else echo "FAILED"; fi
exit $FAILED
