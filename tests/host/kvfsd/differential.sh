#!/bin/bash
# SPDX-License-Identifier: MIT
# tests/host/kvfsd: differential.py on a kvfsd mount and a tmpfs side by
# side (root + /dev/fuse), in page-cache mode and in direct_io mode.
#
# usage: differential.sh KVFSD TESTDIR [OPS [SEED]]
#
# SEED defaults to a new one each run (printed, for replaying a failure);
# the same seed is used for both modes. The tmpfs is mounted nodev,nosuid
# as FUSE mounts are. Both mounts are unmounted and the daemon stopped on
# every exit (traps), a failing one included.
set -u

KVFSD=$1
HERE=$2
OPS=${3:-20000}
SEED=${4:-$(od -An -N4 -tu4 /dev/urandom | tr -d ' ')}
PY=/usr/bin/python3

if [ "$(id -u)" != 0 ]; then echo "SKIP: needs root (FUSE and tmpfs mounts)"; exit 77; fi
if [ ! -c /dev/fuse ]; then echo "SKIP: no /dev/fuse"; exit 77; fi
if [ ! -x $PY ]; then echo "SKIP: no $PY"; exit 77; fi

# shellcheck source=mount-lib.sh
. "$(dirname "$0")/mount-lib.sh"
kvfs_setup differential
REF=$T/tmpfs
mkdir "$REF"
trap 'mountpoint -q "$REF" && umount "$REF"; kvfs_cleanup' EXIT
mount -t tmpfs -o nodev,nosuid,size=256m tmpfs "$REF" || { echo "FAIL: mount tmpfs"; exit 1; }

for mode in "" ",direct_io"; do
	echo "== differential, kvfsd -o size=256m$mode against tmpfs, seed $SEED"
	mount_kvfs "size=256m$mode" || exit 1
	timeout 300 $PY "$HERE/differential.py" "$M" "$REF" --ops "$OPS" --seed "$SEED" ||
		fail "differential (kvfsd$mode)"
	unmount_kvfs
done

if [ "$FAILED" = 0 ]; then echo "PASS"; else echo "FAILED"; fi
exit $FAILED
