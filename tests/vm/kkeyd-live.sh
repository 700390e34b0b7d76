#!/bin/sh
# SPDX-License-Identifier: MIT
# kkeyd as a live instrument (issue 14), in one boot:
#  1. no snd-seq: kkeyd records with live output off; --seq=on exits 1;
#  2. snd-seq-dummy: "kkey" is listed by aconnect -i within 10 s, is
#     subscribed to --seq-connect's Midi Through, and restores that
#     connection after aconnect -d removes it;
#  3. node writes while arecordmidi and aseqdump listen: .post compares
#     arecordmidi's file with kkey's (notes, order, velocities incl. release);
#  4. a uinput keyboard attached by hotplug (--keyboard=its name glob):
#     melody, octave, sustain, panic and unplug mid-chord, checked here on
#     aseqdump and in .post on the SMF (notes and typed timing within 5 ms);
#  5. 100 plug/unplug cycles: kkeyd's fd count unchanged, nothing held.
# Hotplug here follows the kernel's uevents (no udevd in this guest); evdev
# is a module in Debian's kernel, loaded here as udev would.
# vm-modules: cuse snd-seq-dummy uinput evdev
# vm-files: /usr/bin/arecordmidi /usr/bin/aseqdump /usr/bin/aconnect /usr/share/alsa/alsa.conf
# vm-timeout: 150
. "$UKD_SRC/tests/vm/guest/lib.sh"

KBD="ukd test keyboard"
vm_modprobe cuse uinput evdev || vm_finish

# 1. No sequencer in the guest yet.
[ -e /dev/snd/seq ] && vm_fail "/dev/snd/seq exists before snd-seq is loaded"
timeout 10 kkeyd --cuse --seq=on > seqon.log 2>&1
vm_expect_eq "--seq=on without a sequencer exits 1" 1 $?
vm_daemon kkeyd 30 kkeyd --cuse
vm_wait_path /dev/kkey127 10 || { vm_fail "kkeyd: no nodes"; cat /tmp/kkeyd.log; vm_finish; }
echo 1 > /dev/kkey060; echo 0 > /dev/kkey060
timeout 10 cat /dev/kkey000 > noseq.mid
vm_check "without snd-seq it records" kkeycheck smf noseq.mid 1 1
vm_check "and says live output is off, once" \
	sh -c '[ "$(grep -c "live output off" /tmp/kkeyd.log)" = 1 ]'
vm_stop kkeyd 5
vm_expect_eq "kkeyd exits 0" 0 $?

# 2. The live port.
vm_modprobe snd-seq-dummy || vm_finish
# --grab: besides testing it, a grabbed device's events go to kkeyd alone;
# ungrabbed, the console keyboard handler sees each press first and under
# TCG it delayed the kernel's timestamp by ~10 ms (measured, see the docs).
vm_daemon kkeyd 120 kkeyd --cuse -v --grab --keyboard="ukd test*" --seq-connect="Midi Through:0"
t0=$(vm_now_ms)
listed=
while [ $(($(vm_now_ms) - t0)) -lt 10000 ]; do
	if timeout 5 aconnect -i | grep -q "'kkey'"; then listed=1; break; fi
	usleep 50000
done
[ -n "$listed" ] && vm_ok "aconnect -i lists kkey after $(($(vm_now_ms) - t0)) ms" ||
	{ vm_fail "aconnect -i does not list kkey within 10 s"; cat /tmp/kkeyd.log; vm_finish; }
vm_check "kkey is connected to Midi Through (--seq-connect)" \
	sh -c 'timeout 5 aconnect -l | grep -A3 "kkey" | grep -q "Connecting To: 14:0"'
# The destination going away: a subscription pins snd-seq-dummy (rmmod
# says EAGAIN while kkey is connected), so the connection is removed.
vm_check "snd-seq-dummy cannot be unloaded while kkey is subscribed to it" \
	sh -c '! rmmod snd-seq-dummy 2>/dev/null'
vm_check "aconnect -d removes the connection" timeout 5 aconnect -d kkey:0 14:0
sleep 2
vm_check "and kkey restores it within 2 s" \
	sh -c 'timeout 5 aconnect -l | grep -A3 "kkey" | grep -q "Connecting To: 14:0"'
vm_check "it logged losing and restoring Midi Through" \
	sh -c 'grep -q "connection to Midi Through:0 is gone" /tmp/kkeyd.log &&
	       [ "$(grep -c "connected to Midi Through" /tmp/kkeyd.log)" = 2 ]'

# 3. Node writes, heard live.
timeout 60 aseqdump -p kkey > dump.txt 2>&1 &
dumper=$!
timeout 60 arecordmidi -p kkey arec.mid &
recorder=$!
sleep 1
kkeyctl velocity 100
echo 1 > /dev/kkey060; usleep 100000
kkeyctl velocity 30
echo 0 > /dev/kkey060
kkeyctl velocity 90
echo 1 > /dev/kkey064; echo 1 > /dev/kkey067; usleep 100000
kkeyctl velocity 10
echo 0 > /dev/kkey067; echo 0 > /dev/kkey064
kkeyctl velocity 63
echo 1 > /dev/kkey072
vm_check "kkeyctl panic" kkeyctl panic
usleep 300000
kill -INT $recorder; wait $recorder
timeout 10 cat /dev/kkey000 > nodes.mid
vm_export nodes.mid
vm_export arec.mid

# 4. A keyboard, plugged in while kkeyd runs. Codes: Q 16, W 17, E 18,
# R 19, T 20, Z 44, X 45, C 46, V 47, space 57, Esc 1, KP+ 78, KP- 74.
cat > melody.txt <<'SCRIPT'
p 16
s 120
r 16
s 60
p 17
s 80
r 17
s 40
p 18
s 150
r 18
s 30
p 19
s 100
r 19
s 70
p 20
s 200
r 20
s 100
# octave up: Q plays C5, then back
p 78
r 78
p 16
s 90
r 16
p 74
r 74
s 50
# sustain: Z and X released under the pedal end when it lifts
p 57
p 44
s 60
r 44
p 45
s 60
r 45
s 100
r 57
s 50
# panic while Z and X are held
p 44
p 45
s 60
p 1
r 1
r 44
r 45
s 50
# unplugged mid-chord: C and V are still down when the device goes
p 46
p 47
s 100
SCRIPT
timeout 30 uinput-kbd play "$KBD" < melody.txt > keylog.txt
vm_check "the virtual keyboard ran" [ -s keylog.txt ]
usleep 300000
vm_check "kkeyd attached it by hotplug, grabbed" grep -q "keyboard .* \"$KBD\" attached (grabbed" /tmp/kkeyd.log
vm_check "and detached it when it went" grep -q "\"$KBD\" detached (removed\|\"$KBD\" detached (gone" /tmp/kkeyd.log
timeout 10 cat /dev/kkey000 > kbd.mid
vm_export kbd.mid
vm_export keylog.txt
kkeycheck events kbd.mid > kbd.txt
# What docs/kkeyd-keyboards.md says these keys do:
cat > expected.txt <<'EOF2'
on 60
off 60
on 62
off 62
on 64
off 64
on 65
off 65
on 67
off 67
on 72
off 72
on 48
on 50
off 48
off 50
on 48
on 50
off 48
off 50
on 52
on 53
off 52
off 53
EOF2
if cmp -s expected.txt kbd.txt; then
	vm_ok "the keyboard's notes are in kkey's file, in order"
else
	vm_fail "the keyboard's notes in kkey's file differ"; diff expected.txt kbd.txt
fi

kill $dumper; wait $dumper 2>/dev/null
awk '$2 == "Note" && ($3 == "on" || $3 == "off") { sub(",", "", $6); print $3 " " $6 }' \
	dump.txt > heard.txt
kkeycheck events nodes.mid > nodes.txt
cat nodes.txt expected.txt > played.txt
if [ -s heard.txt ] && cmp -s played.txt heard.txt; then
	vm_ok "aseqdump heard all $(wc -l < heard.txt) note events live, in order"
else
	vm_fail "aseqdump heard other notes than recorded"; diff played.txt heard.txt
fi
vm_check "aseqdump saw sustain as CC64 127 then 0" \
	sh -c 'grep "Control change.*controller 64" dump.txt | head -2 | grep -q "value 127" &&
	       grep "Control change.*controller 64, value 0" dump.txt >/dev/null'
vm_check "release velocity 30 went out live" grep -q "Note off *0, note 60, velocity 30" dump.txt

# 5. 100 plug/unplug cycles.
pid=$(vm_pid kkeyd)
fds0=$(ls /proc/$pid/fd | wc -l)
t0=$(vm_now_ms)
timeout 120 uinput-kbd cycles "$KBD" 100 20
vm_expect_eq "100 plug/unplug cycles ran" 0 $?
sleep 1
fds1=$(ls /proc/$pid/fd | wc -l)
vm_log "100 cycles in $(($(vm_now_ms) - t0)) ms; fds $fds0 -> $fds1"
vm_expect_eq "kkeyd's fd count after 100 cycles" "$fds0" "$fds1"
vm_check "kkeyd still runs" kill -0 "$pid"
vm_check "no note is left held" sh -c 'kkeyctl status | grep -q "held: *0"'
vm_check "it attached 100 times more" \
	sh -c '[ "$(grep -c "\"$0\" attached" /tmp/kkeyd.log)" -ge 90 ]' "$KBD"

vm_stop kkeyd 5
vm_expect_eq "kkeyd exits 0 on SIGTERM" 0 $?
grep -v "uevent:" /tmp/kkeyd.log | tail -20
vm_finish
