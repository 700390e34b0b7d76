#!/bin/bash
# The main job: install what kkeyd needs, build, start kkeyd (CUSE when
# /dev/cuse exists, else FUSE), play a short melody through the kkey nodes
# and leave song.mid (and song.wav) in the current directory.
#
# Usage: sudo scripts/demo.sh [OUTDIR]
set -euo pipefail
UKD_SRC=$(cd "$(dirname "$0")/.." && pwd)
mkdir -p "${1:-.}"
OUT=$(realpath "${1:-.}")
# shellcheck source=packages.sh
. "$UKD_SRC/scripts/packages.sh"

ukd_install "${UKD_BUILD_PACKAGES[@]}" "${UKD_DEMO_PACKAGES[@]}"
# Programs only (no test programs, so no test packages needed).
BUILD=$UKD_SRC/build-demo
ukd_build "$BUILD" -Dtests=false
KKEYD=$BUILD/daemons/kkeyd/kkeyd
KKEYCTL=$BUILD/daemons/kkeyd/kkeyctl

if [ -e /dev/cuse ]; then
	MODE=(--cuse); DIR=/dev
else
	DIR=$(mktemp -d /tmp/kkey-demo.XXXXXX); MODE=(--fuse "$DIR")
fi
"$KKEYD" "${MODE[@]}" &
PID=$!
cleanup() {
	kill "$PID" 2>/dev/null && wait "$PID" 2>/dev/null || true
	[ "$DIR" = /dev ] || rmdir "$DIR" 2>/dev/null || true
}
trap cleanup EXIT
for _ in $(seq 100); do [ -e "$DIR/kkey127" ] && break; sleep 0.05; done
[ -e "$DIR/kkey127" ] && kill -0 "$PID" 2>/dev/null ||
	{ echo "demo: kkeyd did not start (see its message above)" >&2; exit 1; }
echo "demo: kkeyd is serving $DIR/kkey000..kkey127 (${MODE[0]#--})"

KKEYCTL=$KKEYCTL "$UKD_SRC/scripts/play-melody.sh" "$DIR" "$OUT/song.mid"
echo "demo: wrote $OUT/song.mid ($(stat -c %s "$OUT/song.mid") bytes):"
"$KKEYCTL" dump "$OUT/song.mid" | grep -c note-on | sed 's/^/demo:   note-ons: /'
if command -v fluidsynth >/dev/null && [ -e /usr/share/sounds/sf2/TimGM6mb.sf2 ]; then
	fluidsynth -ni -q -F "$OUT/song.wav" -r 44100 /usr/share/sounds/sf2/TimGM6mb.sf2 "$OUT/song.mid" >/dev/null 2>&1 &&
		echo "demo: rendered $OUT/song.wav with fluidsynth"
fi
echo "demo: play it with: aplaymidi -p 14:0 $OUT/song.mid  (or any MIDI player)"
