#!/bin/bash
# SPDX-License-Identifier: MIT
# kkeyd's live options fail where they should, before serving anything (so
# no root or FUSE is needed): --seq=on without a sequencer exits 1, a bad
# --seq value exits 2, a broken keymap exits 1 naming its file and line.
set -u
fail=0
work=$(mktemp -d /tmp/kkeyd-live-opts.XXXXXX) || exit 1
trap 'rm -rf "$work"' EXIT

# expect WHAT STATUS PATTERN -- kkeyd ARGS...: exit STATUS, stderr matching PATTERN
expect() {
	local what=$1 want=$2 pattern=$3 rc
	shift 4
	timeout 10 "$KKEYD" "$@" > "$work/out" 2>&1
	rc=$?
	if [ "$rc" = "$want" ] && grep -q -- "$pattern" "$work/out"; then
		echo "ok: $what (exit $rc)"
	else
		echo "FAIL: $what: exit $rc (want $want), output:"; cat "$work/out"
		fail=1
	fi
}

if [ -e /dev/snd/seq ]; then
	echo "note: /dev/snd/seq exists here; the --seq=on failure is checked in the vm tier"
else
	expect "--seq=on without /dev/snd/seq" 1 "cannot open the ALSA sequencer.*--seq=on" -- \
		--fuse="$work/m" --seq=on
	[ -e "$work/m" ] && { echo "FAIL: it created the mountpoint before failing"; fail=1; }
fi
expect "--seq=maybe" 2 "--seq=maybe: expected auto, on or off" -- --fuse="$work/m" --seq=maybe
expect "--seq-connect= (empty)" 2 "--seq-connect=: expected a non-empty value" -- --fuse="$work/m" --seq-connect=

if [ "${KKEYD_EVDEV:-1}" = 1 ]; then
printf 'KEY_Z = C3\n# fine so far\nKEY_X = C#3\nKEY_C = Z9\n' > "$work/bad.keymap"
expect "a keymap with a bad note on line 4" 1 "bad.keymap:4: 'Z9' is neither a note" -- \
	--fuse="$work/m" --seq=off --keyboard=all --keymap="$work/bad.keymap"
expect "a keymap that does not exist" 1 "nope.keymap: No such file or directory" -- \
	--fuse="$work/m" --seq=off --keyboard=all --keymap="$work/nope.keymap"
else
	echo "note: built without libevdev: keymaps are not checked"
fi
printf '[kkeyd]\nseq = loud\n' > "$work/bad.conf"
expect "seq = loud in the config file" 2 "bad.conf:2: seq = loud: expected auto, on or off" -- \
	--config="$work/bad.conf" --fuse="$work/m"
exit $fail
