#!/bin/sh
# SPDX-License-Identifier: MIT
# Build the stub out of the source tree: build.sh SRCDIR OUTDIR [KDIR]
# (meson's `ninja kmod` and tests/vm/vmrun.py call this; the source stays clean).
set -eu
src=$1 out=$2
kdir=${3:-/lib/modules/$(uname -r)/build}
if [ ! -e "$kdir/Makefile" ]; then
	echo "kmod: no kernel headers at $kdir (apt-get install linux-headers-amd64, or pass KDIR)" >&2
	exit 1
fi
mkdir -p "$out"
for f in Kbuild ukd_uio.c; do
	cmp -s "$src/$f" "$out/$f" || cp "$src/$f" "$out/$f"
done
exec make -s -C "$kdir" M="$(cd "$out" && pwd)" modules
