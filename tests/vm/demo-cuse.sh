#!/bin/sh
# SPDX-License-Identifier: MIT
# README's main command, its CUSE half: the melody script demo.sh runs
# (scripts/play-melody.sh) against /dev/kkeyNNN served by kkeyd --cuse.
# The host judges the exported song (demo-cuse.post).
# vm-modules: cuse
# vm-timeout: 120
. "$UKD_SRC/tests/vm/guest/lib.sh"

vm_modprobe cuse || vm_finish
vm_daemon kkeyd 100 kkeyd --cuse
vm_wait_path /dev/kkey127 10 || { vm_fail "kkeyd: no nodes"; cat /tmp/kkeyd.log; vm_finish; }
vm_check "play-melody.sh on /dev" timeout 60 sh "$UKD_SRC/scripts/play-melody.sh" /dev /tmp/song.mid
vm_check "song.mid is valid: 15 note-ons, 15 note-offs" kkeycheck smf /tmp/song.mid 15 15
vm_export /tmp/song.mid song.mid
vm_finish
