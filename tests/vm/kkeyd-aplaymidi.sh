#!/bin/sh
# SPDX-License-Identifier: MIT
# kkeyd --cuse's file played for real: snd-seq-dummy's "Midi Through" port
# 14:0, aseqdump listening, aplaymidi playing what cat /dev/kkey000 gave.
# The dumped note-on/off events must be the played ones, in order, and
# aplaymidi must say nothing (it exits 0 even when it rejects a file).
# vm-modules: cuse snd-seq-dummy
# vm-files: /usr/bin/aplaymidi /usr/bin/aseqdump /usr/bin/aconnect /usr/share/alsa/alsa.conf
# vm-timeout: 120
. "$UKD_SRC/tests/vm/guest/lib.sh"

vm_modprobe cuse snd-seq-dummy || vm_finish
vm_daemon kkeyd 100 kkeyd --cuse
vm_wait_path /dev/kkey127 10 || { vm_fail "kkeyd: no nodes"; cat /tmp/kkeyd.log; vm_finish; }

# A melody and a chord.
for n in 060 062 064 065 067; do
	echo 1 > /dev/kkey$n; usleep 150000; echo 0 > /dev/kkey$n; usleep 50000
done
echo 1 > /dev/kkey060; echo 1 > /dev/kkey064; echo 1 > /dev/kkey067; usleep 300000
echo 0 > /dev/kkey067; echo 0 > /dev/kkey064; echo 0 > /dev/kkey060
timeout 10 cat /dev/kkey000 > song.mid
vm_check "song.mid is valid: 8 note-ons, 8 note-offs" kkeycheck smf song.mid 8 8
kkeycheck events song.mid > played.txt
vm_export song.mid

aplaymidi -l
timeout 60 aseqdump -p 14:0 > dump.txt 2>&1 &
dumper=$!
sleep 1
timeout 30 aplaymidi -p 14:0 song.mid 2> aplay.err
vm_expect_eq "aplaymidi exit status" 0 $?
usleep 300000
kill $dumper; wait $dumper 2>/dev/null
cat dump.txt
vm_expect_eq "aplaymidi's stderr is empty" "" "$(cat aplay.err)"
# " 14:0   Note on                 0, note 60, velocity 63"
awk '$2 == "Note" && ($3 == "on" || $3 == "off") { sub(",", "", $6); print $3 " " $6 }' \
	dump.txt > heard.txt
if [ -s heard.txt ] && cmp -s played.txt heard.txt; then
	vm_ok "aseqdump heard the $(wc -l < played.txt) played events, in order"
else
	vm_fail "aseqdump heard other events than played"
	echo "played:"; cat played.txt; echo "heard:"; cat heard.txt
fi
vm_check "velocity 63 (the default) on every note" sh -c '! grep "Note" dump.txt | grep -qv "velocity 63"'

vm_stop kkeyd 5
vm_expect_eq "kkeyd exits 0 on SIGTERM" 0 $?
vm_finish
