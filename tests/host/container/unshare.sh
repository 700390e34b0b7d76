#!/bin/bash
# SPDX-License-Identifier: MIT
# Host tier: the daemons in FUSE mode in a container made with unshare(1):
# new mount and PID namespaces, /dev a fresh tmpfs holding only a bind
# mount of the host's /dev/fuse, /proc of the new PID namespace. The rest
# of the file system is the host's (the binaries run from the build
# directory). ct-check.sh does the checks inside.
#   unshare.sh UKD_BUILD      Exit: 0 pass, 1 fail, 77 skip
set -u
source "$(dirname "$0")/ct-lib.sh"
ct_setup unshare unshare util-linux "${1:-}"
/usr/bin/python3 -c 'import mido' 2>/dev/null || { echo "SKIP: python3-mido is missing"; exit 77; }
touch "$work/fuse"
# The mounts die with the namespace: nothing to unmount on the host, even
# when the inner script is killed by the timeout.
timeout 120 unshare --mount --pid --fork --mount-proc --propagation private \
	env UKD_BUILD="$B" UKD_SRC="$S" CT_WORK="$work" CT_DEV_ONLY_FUSE=1 W="$work" bash -c '
	set -e
	mount --bind /dev/fuse "$W/fuse"
	mount -t tmpfs -o mode=0755,nosuid,size=64k ukd-dev /dev
	touch /dev/fuse
	mount --bind "$W/fuse" /dev/fuse
	umount "$W/fuse"
	set +e
	exec bash "$UKD_SRC/tests/host/container/ct-check.sh"' 2>&1 | tee "$work/out"
ct_verdict "$work/out" "${PIPESTATUS[0]}" unshare
