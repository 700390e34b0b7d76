#!/bin/bash
# SPDX-License-Identifier: MIT
# kkeyd without its optional libraries (-Dalsa=disabled -Devdev=disabled
# -Dudev=disabled) still builds, refuses what it cannot do, and records:
# a second, minimal build of kkeyd only, in BUILD/no-alsa (incremental
# across runs), then host-run.sh's check-held against it (root + FUSE, else
# that part is skipped with the reason).
#   check-no-alsa-build.sh SOURCE_ROOT BUILD_ROOT
set -u
src=$1 dir=$2/no-alsa
here=$(dirname "$0")

if [ ! -f "$dir/build.ninja" ]; then
	meson setup "$dir" "$src" -Dalsa=disabled -Devdev=disabled -Dudev=disabled -Dtests=false \
		-Dwerror=true > "$dir.setup.log" 2>&1 || { cat "$dir.setup.log"; echo "FAIL: meson setup"; exit 1; }
fi
ninja -C "$dir" daemons/kkeyd/kkeyd || { echo "FAIL: kkeyd does not build without ALSA/evdev/udev"; exit 1; }
KKEYD=$dir/daemons/kkeyd/kkeyd
fail=0
out=$(timeout 10 "$KKEYD" --fuse=/nonexistent/m --seq=on 2>&1); rc=$?
if [ $rc = 1 ] && [[ $out == *"built without ALSA"* ]]; then
	echo "ok: --seq=on says it was built without ALSA (exit 1)"
else
	echo "FAIL: --seq=on: exit $rc: $out"; fail=1
fi
out=$(timeout 10 "$KKEYD" --fuse=/nonexistent/m --keyboard=all 2>&1); rc=$?
if [ $rc = 1 ] && [[ $out == *"built without libevdev"* ]]; then
	echo "ok: --keyboard says it was built without libevdev (exit 1)"
else
	echo "FAIL: --keyboard: exit $rc: $out"; fail=1
fi
# And it records: the same check as kkeyd-held, against this kkeyd.
KKEYD=$KKEYD "$here/host-run.sh" -t 120 -- "$here/check-held.py"
rc=$?
[ $rc = 77 ] && { echo "(recording not checked: see the SKIP reason above)"; exit $fail; }
[ $rc = 0 ] || fail=1
exit $fail
