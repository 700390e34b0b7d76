# shellcheck shell=bash
# SPDX-License-Identifier: MIT
# Sourced by unshare.sh, nspawn.sh and podman.sh (each: SCRIPT UKD_BUILD).

# ct_setup NAME TOOL HINT UKD_BUILD: B (the build directory), S (the
# sources), the skips (root, /dev/fuse, TOOL missing: HINT), and work, a
# scratch directory removed on exit.
ct_setup() {
	B=$(cd "${4:?usage: $1.sh UKD_BUILD}" && pwd)
	S=$(cd "$(dirname "${BASH_SOURCE[0]}")/../../.." && pwd)
	[ "$(id -u)" = 0 ] || { echo "SKIP: needs root (namespaces, FUSE mounts)"; exit 77; }
	[ -c /dev/fuse ] || { echo "SKIP: no /dev/fuse"; exit 77; }
	command -v "$2" > /dev/null || { echo "SKIP: $2 is missing ($3)"; exit 77; }
	work=$(mktemp -d "/tmp/ukd-ct-$1.XXXXXX")
	trap 'rm -rf "$work"' EXIT
}

# ct_rootfs: rootfs, the Debian tree rootfs.sh built (or had cached).
ct_rootfs() {
	local rc
	# The binaries run on the container's libraries, which have no libasan.
	[ "${UKD_SANITIZE:-none}" = none ] ||
		{ echo "SKIP: sanitizer build ($UKD_SANITIZE): the container has no sanitizer runtime"; exit 77; }
	rootfs=$("$S/tests/host/container/rootfs.sh" "$B/tests/host/container/cache"); rc=$?
	[ $rc = 77 ] && exit 77
	[ $rc = 0 ] || { echo "FAIL: could not build the root file system"; exit 1; }
}

# ct_verdict OUT RC WHAT: pass when ct-check.sh printed CT-PASS into OUT and
# the container (WHAT) exited 0.
ct_verdict() {
	grep -q '^CT-PASS$' "$1" 2>/dev/null || { echo "FAIL: no CT-PASS ($3 exit $2)"; exit 1; }
	[ "$2" = 0 ] || { echo "FAIL: $3 exit $2"; exit 1; }
	exit 0
}
