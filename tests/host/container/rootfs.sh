#!/bin/bash
# SPDX-License-Identifier: MIT
# Build (once) a small Debian 12 root file system for the container tests
# and print its path. It holds systemd (for systemd-nspawn -b), the shared
# libraries the ukd daemons link (libfuse3, libsystemd, libinih, libcrypto,
# libasound, libevdev, libudev),
# fuse3 and python3-mido for the checks; the ukd binaries themselves are
# bind-mounted from the build directory at run time, so a rebuild of ukd
# does not rebuild the rootfs.
#
#   rootfs.sh CACHEDIR    -> prints CACHEDIR/rootfs-HASH, building it if missing
#
# HASH is over this file (it names the packages and the mmdebstrap command)
# and the host's apt sources: a change to either builds a new one. Building
# goes to a temporary directory renamed into place, so an interrupted build
# leaves nothing that looks finished; a lock serialises concurrent tests;
# older rootfs-* are removed. Exit 77 without mmdebstrap.
set -eu
cache=${1:?usage: rootfs.sh CACHEDIR}
PACKAGES=systemd,systemd-sysv,fuse3,libfuse3-3,libinih1,libssl3,libasound2,libevdev2,libudev1,python3-mido,procps
command -v mmdebstrap >/dev/null || { echo "SKIP: mmdebstrap is missing (apt-get install mmdebstrap)" >&2; exit 77; }
sources=/etc/apt/sources.list.d/debian.sources
[ -r "$sources" ] || sources=/etc/apt/sources.list
hash=$(cat "$0" "$sources" | sha256sum | cut -c1-16)
out=$cache/rootfs-$hash
mkdir -p "$cache"
exec 9> "$cache/.lock"
flock 9
if [ ! -x "$out/usr/bin/python3" ]; then
	tmp=$(mktemp -d "$cache/rootfs-build.XXXXXX")
	trap 'rm -rf "$tmp"' EXIT
	echo "building $out (mmdebstrap, about a minute)" >&2
	# No documentation: a fifth less to unpack.
	mmdebstrap --quiet --variant=minbase --include="$PACKAGES" \
		--dpkgopt='path-exclude=/usr/share/doc/*' --dpkgopt='path-exclude=/usr/share/man/*' \
		--dpkgopt='path-exclude=/usr/share/locale/*' bookworm "$tmp" "$sources" >&2
	# nspawn -b: no getty on a console nobody reads.
	ln -sf /dev/null "$tmp/etc/systemd/system/console-getty.service"
	rm -rf "$out"
	mv "$tmp" "$out"
	trap - EXIT
	for old in "$cache"/rootfs-*; do
		[ "$old" = "$out" ] || rm -rf "$old"
	done
fi
echo "$out"
