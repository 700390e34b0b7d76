#!/bin/bash
# SPDX-License-Identifier: MIT
# tests/host/kvfsd: kvfsd as a real FUSE mount (root + /dev/fuse).
#
# usage: run.sh KVFSD TESTDIR [EXERCISER_OPS [KVFSCTL]]
#
#  1. command line: --help, --version, bad options (exit codes)
#  2. POSIX conformance (posix.py) as root, then as uid 65534 (setpriv)
#  3. ENOSPC and statfs on a small mount (size=1m,nr_inodes=64)
#  4. the random-operation exerciser against its model, page-cache mode
#     (with shared mmap reads and writes) and direct_io mode (every read
#     and write reaches the daemon; no shared mmap there) with blocking
#     reads (poll=0) and three workers
#  5. leak check: the daemon reports 0 leaked inodes/dentries/pages at
#     unmount, also with files, kernel references and an open file left
#  6. concurrent clients: parallel tree copies through two polling workers
#  7. SIGTERM: clean unmount and exit 0 (fusermount3 -u: every step above)
#
# Every mount is unmounted and every daemon stopped on exit, also when a
# step fails (trap). Blocking steps are bounded with timeout.
set -u

KVFSD=$1
HERE=$2
OPS=${3:-100000}
KVFSCTL=${4:-}
PY=/usr/bin/python3

if [ "$(id -u)" != 0 ]; then echo "SKIP: needs root (FUSE mounts, allow_other, setpriv)"; exit 77; fi
if [ ! -c /dev/fuse ]; then echo "SKIP: no /dev/fuse"; exit 77; fi
if [ ! -x $PY ]; then echo "SKIP: no $PY"; exit 77; fi
command -v setpriv >/dev/null || { echo "SKIP: no setpriv"; exit 77; }

# shellcheck source=mount-lib.sh
. "$(dirname "$0")/mount-lib.sh"
kvfs_setup test

echo "== 1. command line"
"$KVFSD" --help | grep -q "^Usage: kvfsd" || fail "--help"
"$KVFSD" --version | grep -q "^kvfsd " || fail "--version"
"$KVFSD" -o size=banana "$M" 2>/dev/null; [ $? = 2 ] || fail "bad size= must exit 2"
"$KVFSD" -o no_such_option "$M" 2>/dev/null; [ $? = 2 ] || fail "unknown option must exit 2"
"$KVFSD" -o poll=1000001 "$M" 2>/dev/null; [ $? = 2 ] || fail "poll= above 1 s must exit 2"
"$KVFSD" -o threads=0 "$M" 2>/dev/null; [ $? = 2 ] || fail "threads=0 must exit 2"
"$KVFSD" 2>/dev/null; [ $? = 2 ] || fail "missing mount point must exit 2"
mountpoint -q "$M" && fail "a failed start left a mount"

echo "== 2. POSIX conformance as root"
mount_kvfs allow_other,size=256m || exit 1
timeout 600 $PY "$HERE/posix.py" "$M" > "$T/posix-root.log" 2>&1 || fail "posix.py as root"
grep -v "^ok" "$T/posix-root.log"
unmount_kvfs

echo "== 2b. POSIX conformance as uid 65534"
mount_kvfs allow_other,size=256m || exit 1
timeout 600 setpriv --reuid=65534 --regid=65534 --clear-groups \
	$PY "$HERE/posix.py" "$M" > "$T/posix-user.log" 2>&1 || fail "posix.py as uid 65534"
grep -v "^ok [0-9]* [a-z_]*$" "$T/posix-user.log"
unmount_kvfs

echo "== 3. ENOSPC on size=1m,nr_inodes=64"
mount_kvfs allow_other,size=1m,nr_inodes=64 || exit 1
timeout 120 $PY "$HERE/posix.py" --small "$M" > "$T/posix-small.log" 2>&1 || fail "posix.py --small"
grep -v "^ok" "$T/posix-small.log"
unmount_kvfs

echo "== 4. exerciser, $OPS operations, page cache"
mount_kvfs allow_other,size=1g || exit 1
timeout 900 $PY "$HERE/exerciser.py" "$M" --ops "$OPS" --seed 1 || fail "exerciser (page cache)"
unmount_kvfs

# (also the other request loop: blocking reads, several workers)
echo "== 4b. exerciser, $((OPS / 2)) operations, direct_io, poll=0,threads=3"
mount_kvfs allow_other,size=1g,direct_io,poll=0,threads=3 || exit 1
timeout 900 $PY "$HERE/exerciser.py" "$M" --ops $((OPS / 2)) --seed 2 --no-mmap ||
	fail "exerciser (direct_io)"
unmount_kvfs

echo "== 5. leak check with live objects at unmount"
mount_kvfs allow_other,size=64m,negative_dentries=100 || exit 1
(
	set -e
	cd "$M"
	mkdir -p a/b/c
	for i in $(seq 500); do echo "$i" > "a/b/c/f$i"; done
	ln a/b/c/f1 hard
	ln -s a/b/c/f2 soft
	stat a/b/c/f* > /dev/null
	for i in $(seq 300); do stat "nothere$i" 2>/dev/null || true; done
) || fail "populating the mount"
$PY - "$M" <<'EOF' || fail "kvfs.stats counters"
import os, sys
m = sys.argv[1]
s = dict(l.split() for l in os.getxattr(m, 'kvfs.stats').decode().split('\n') if l)
print("  stats: " + " ".join(f"{k}={v}" for k, v in s.items()))
# root, a, b, c, 500 files (hard is f1), soft
assert int(s['inodes']) == 505, s['inodes']
assert int(s['dentries_positive']) == 506, s['dentries_positive']
assert int(s['dentries_negative']) <= 100, 'negative dentries above the limit'
assert int(s['dcache_evictions']) > 0, 'no LRU evictions'
assert int(s['kernel_refs']) > 0
EOF
# An open file (of an unlinked name, too) at unmount: the kernel sends no
# release once the connection is gone; kvfsd's teardown must free them.
if [ -n "$KVFSCTL" ]; then
	[ "$("$KVFSCTL" stats "$M" inodes)" = 505 ] || fail "kvfsctl stats inodes"
	"$KVFSCTL" drop-caches "$M" || fail "kvfsctl drop-caches"
	[ "$("$KVFSCTL" stats "$M" dentries_negative)" = 0 ] || fail "drop-caches left negative dentries"
	"$KVFSCTL" sync "$M" || fail "kvfsctl sync"
	[ "$("$KVFSCTL" stats "$M" pages_dirty)" = 0 ] || fail "sync left dirty pages"
	[ "$("$KVFSCTL" stats "$M" inodes_dirty)" = 0 ] || fail "sync left dirty inodes"
	echo "  kvfsctl: drop-caches and sync: 0 negative dentries, 0 dirty pages, 0 dirty inodes"
fi
exec 7< "$M/a/b/c/f7"
exec 8< "$M/a/b/c/f3"
rm "$M/a/b/c/f3"
kill -TERM "$PID"
wait_daemon
exec 7<&- 8<&-
check_exit
mountpoint -q "$M" && fail "SIGTERM with open files left the mount"

echo "== 6. concurrent clients (4 tree copies at once, verified), 2 polling workers"
mount_kvfs allow_other,size=1g,threads=2 || exit 1
SRC=/usr/include
(cd "$SRC" && find . -type f -size -256k | head -3000 | sort > "$T/files")
(cd "$SRC" && xargs -a "$T/files" md5sum) > "$T/sums"
# (wait on the copies' PIDs only: a bare wait would wait for kvfsd too)
COPIES=()
for i in 1 2 3 4; do
	( (cd "$SRC" && timeout 300 tar cf - -T "$T/files") |
	  (mkdir "$M/c$i" && cd "$M/c$i" && timeout 300 tar xf -) ) &
	COPIES+=($!)
done
for p in "${COPIES[@]}"; do wait "$p" || fail "copy (pid $p)"; done
( for i in 1 2 3 4; do
	(cd "$M/c$i" && timeout 300 md5sum -c --quiet "$T/sums") || exit 1
  done ) &
VERIFY=$!
(cd "$M" && for i in 5 6; do timeout 300 cp -a c1 "c$i"; done) || fail "cp -a while verifying"
wait "$VERIFY" || fail "a copy differs from its source"
timeout 300 rm -rf "$M"/c* || fail "rm -rf"
$PY -c "import os,sys,time
m=sys.argv[1]
for _ in range(200):
    if os.getxattr(m,'kvfs.stats.inodes')==b'1': break
    time.sleep(0.05)
print('  after rm -rf: inodes', os.getxattr(m,'kvfs.stats.inodes').decode(), 'pages', os.getxattr(m,'kvfs.stats.pages').decode())
sys.exit(os.getxattr(m,'kvfs.stats.inodes')!=b'1')" "$M" || fail "inodes left after rm -rf"
unmount_kvfs

echo "== 7. SIGTERM"
mount_kvfs size=16m || exit 1
echo data > "$M/file"
kill -TERM "$PID"
wait_daemon
[ "$RC" = 0 ] || sed 's/^/  daemon: /' "$T/daemon.log"
check_exit
mountpoint -q "$M" && fail "SIGTERM left the mount behind"

if [ "$FAILED" = 0 ]; then echo "PASS"; else echo "FAILED"; fi
exit $FAILED
