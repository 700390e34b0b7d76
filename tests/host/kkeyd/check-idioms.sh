#!/bin/bash
# SPDX-License-Identifier: MIT
# The original kkey course idioms, unchanged, against KKEY_DIR; every file
# checked by smfcheck, mido, midicsv and a fluidsynth render (Goertzel).
# kkeyd options: none (the default read-clears mode).
. "$(dirname "$0")/lib.sh"
prepare nokeep
echo "# idioms on $D"

# 1. One note, exactly the course's commands.
echo 1 > $D/kkey060; sleep 0.5; echo 0 > $D/kkey060; timeout 10 cat $D/kkey000 > $tmp/song.mid
rc=$?
expect "cat kkey000 > song.mid exits 0" test $rc = 0
# duration >= 0.5 s (sleep), up to +0.4 s on a loaded machine
expect "song.mid: one note 60 lasting 0.5 s, velocity 63, sounds as C4" \
	verify $tmp/song.mid --notes 60:0:0.5 --counts 1:1 --velocity 63 --tol 0.4 --audio

# 2. A second cat yields only what was played since: nothing, but a valid SMF.
timeout 10 cat $D/kkey000 > $tmp/second.mid
expect "second cat: an empty but valid SMF" verify $tmp/second.mid --empty

# 3. A melody written the same way, read through another node (one shared
#    recording for all 128 nodes).
for n in 060 064 067 062; do
	echo 1 > $D/kkey$n; sleep 0.3; echo 0 > $D/kkey$n; sleep 0.05
done
timeout 10 cat $D/kkey127 > $tmp/melody.mid
expect "melody read from kkey127: C4 E4 G4 D4, 0.3 s each, pitch of each note checked" \
	verify $tmp/melody.mid --notes 60:0:0.3,64:0.35:0.3,67:0.7:0.3,62:1.05:0.3 --counts 4:4 --tol 0.5 --audio
timeout 10 cat $D/kkey000 > $tmp/third.mid
expect "cat after the melody: empty again" verify $tmp/third.mid --empty

# 4. The original's reset.c idiom through the ioctl (kkeyctl-free, in Python).
echo 1 > $D/kkey070; echo 0 > $D/kkey070
expect "two events recorded before the reset (KKEY_IOC_GET_STATUS)" \
	"$PY" -c "import sys; sys.path.insert(0, '$HERE'); import kkeytest as k; s = k.status(); print('       ', s); sys.exit(s.events != 2)"
"$PY" -c "import sys; sys.path.insert(0, '$HERE'); import kkeytest as k; k.reset()" \
	&& ok "ioctl(KKEY_IOC_RESET) on kkey000" || bad "ioctl(KKEY_IOC_RESET) on kkey000"
timeout 10 cat $D/kkey000 > $tmp/after-reset.mid
expect "after reset: an empty valid SMF (the note played before it is gone)" verify $tmp/after-reset.mid --empty

# 5. The course scripts write with a trailing newline and read with cat;
#    any first byte other than '0' presses (original semantics).
printf 'x' > $D/kkey050; printf '0\n' > $D/kkey050
printf '\0' > $D/kkey051; printf '0' > $D/kkey051
timeout 10 cat $D/kkey000 > $tmp/firstbyte.mid
expect "'x' and NUL press, '0' releases: notes 50 then 51" verify $tmp/firstbyte.mid --counts 2:2 \
	--notes 50:0:0,51:0:0 --tol 2
finish
