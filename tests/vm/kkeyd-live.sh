#!/bin/sh
# SPDX-License-Identifier: MIT
# kkeyd as a live instrument (issue 14), in one boot:
#  1. no snd-seq: kkeyd records with live output off; --seq=on exits 1;
#     loading snd-seq while it runs turns live output on (kkey listed);
#  2. snd-seq-dummy: "kkey" is listed by aconnect -i within 10 s, is
#     subscribed to --seq-connect's Midi Through, and restores that
#     connection after aconnect -d removes it; snd-seq-dummy unloaded and
#     loaded again: kkeyd keeps recording and connects again;
#  3. node writes while arecordmidi and aseqdump listen: .post compares
#     arecordmidi's file with kkey's (notes, order, velocities incl. release);
#  4. a uinput keyboard attached by hotplug (--keyboard=its name glob):
#     melody, octave, sustain, panic and unplug mid-chord, checked here on
#     aseqdump and in .post on the SMF (notes and typed timing within 5 ms);
#     a node write while a keyboard key is down (one recording, in order),
#     kkeyctl panic with a key down (its release then plays nothing), and
#     the grab escape combination (EVIOCGRAB free again);
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
# The sequencer arrives while this kkeyd runs (--seq=auto).
listed() { timeout 5 aconnect -i | grep -q "'kkey'"; }
vm_modprobe snd-seq-dummy || vm_finish
if vm_until 10000 listed; then
	vm_ok "snd-seq loaded after start: kkey listed by aconnect -i after $VM_WAITED ms"
else
	vm_fail "snd-seq loaded after start: kkey not listed within 10 s"; cat /tmp/kkeyd.log
fi
vm_check "it logged the sequencer appearing" grep -q "sequencer: /dev/snd/seq appeared" /tmp/kkeyd.log
vm_stop kkeyd 5
vm_expect_eq "kkeyd exits 0" 0 $?

# 2. The live port.
# --grab: besides testing it, a grabbed device's events go to kkeyd alone;
# ungrabbed, the console keyboard handler sees each press first and under
# TCG it delayed the kernel's timestamp by ~10 ms (measured, see the docs).
vm_daemon kkeyd 120 kkeyd --cuse -v --grab --keyboard="ukd test*" --seq-connect="Midi Through:0"
if vm_until 10000 listed; then
	vm_ok "aconnect -i lists kkey after $VM_WAITED ms"
else
	vm_fail "aconnect -i does not list kkey within 10 s"; cat /tmp/kkeyd.log; vm_finish
fi
through() { timeout 5 aconnect -l | grep -A3 "kkey" | grep -q "Connecting To: 14:0"; }
vm_check "kkey is connected to Midi Through (--seq-connect)" vm_until 5000 through
# The destination going away: a subscription pins snd-seq-dummy (rmmod
# says EAGAIN while kkey is connected), so the connection is removed.
vm_check "snd-seq-dummy cannot be unloaded while kkey is subscribed to it" \
	sh -c '! rmmod snd-seq-dummy 2>/dev/null'
vm_check "aconnect -d removes the connection" timeout 5 aconnect -d kkey:0 14:0
sleep 2
vm_check "and kkey restores it (checked every second; 5 s allowed)" vm_until 5000 through
vm_check "it logged losing and restoring Midi Through" vm_until 3000 \
	sh -c 'grep -q "connection to Midi Through:0 is gone" /tmp/kkeyd.log &&
	       [ "$(grep -c "connected to Midi Through" /tmp/kkeyd.log)" = 2 ]'
# The destination's module reloaded: disconnect and unload before kkeyd's
# next check reconnects (it may win the race; then try again).
unloaded=
for i in 1 2 3 4 5 6 7 8 9 10; do
	timeout 5 aconnect -d kkey:0 14:0 2>/dev/null
	if rmmod snd-seq-dummy 2>/dev/null; then unloaded=$i; break; fi
	usleep 200000
done
if [ -n "$unloaded" ]; then
	mark=$(wc -l < /tmp/kkeyd.log)
	since_unload() { tail -n +$((mark + 1)) /tmp/kkeyd.log | grep -q "$1"; }
	vm_ok "snd-seq-dummy unloaded (try $unloaded)"
	echo 1 > /dev/kkey050; echo 0 > /dev/kkey050
	vm_check "it records while Midi Through is gone" sh -c 'kkeyctl status | grep -q "events: *2$"'
	sleep 2   # two of kkeyd's checks
	# Looking up client 14 may make the kernel request module
	# snd-seq-client-14 (snd-seq-dummy's alias) by itself; else kkeyd must
	# have said the destination is missing.
	if grep -q "^snd_seq_dummy " /proc/modules; then
		vm_log "snd-seq-dummy was loaded again by the kernel (client 14 looked up)"
	else
		vm_check "kkeyd logs Midi Through missing" since_unload "cannot connect to Midi Through:0"
	fi
	vm_modprobe snd-seq-dummy
	vm_check "snd-seq-dummy back: kkey connects to it (5 s allowed)" vm_until 5000 through
	vm_check "it logged connecting again after the unload" \
		vm_until 3000 since_unload "connected to Midi Through"
	tail -n +$((mark + 1)) /tmp/kkeyd.log | grep "sequencer:" | sed 's/^/  /'
	vm_check "kkeyctl reset" kkeyctl reset
else
	vm_fail "snd-seq-dummy could not be unloaded in 10 tries"
fi

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

# 4b. kkeyctl panic while a key is held: its later release plays nothing;
# then the grab escape (Left Ctrl + Left Alt + Esc) lets the device go.
cat > escape.txt <<'SCRIPT'
p 16
s 3000
r 16
s 100
p 16
s 100
r 16
s 100
p 29
p 56
p 1
r 1
r 56
r 29
s 3000
SCRIPT
mark=$(wc -l < /tmp/kkeyd.log)
timeout 30 uinput-kbd play "$KBD" < escape.txt > /dev/null &
player=$!
held_one() { kkeyctl status | grep -q "held: *1$"; }
vm_check "a key held on the keyboard" vm_until 8000 held_one
# One pipeline: a node write while the key is down lands between its
# press and the panic's release, in the order played.
echo 1 > /dev/kkey070; echo 0 > /dev/kkey070
vm_check "kkeyctl panic with the key down" kkeyctl panic
node=$(tail -n +$((mark + 1)) /tmp/kkeyd.log | sed -n "s/.*keyboard \(\/dev\/input\/event[0-9]*\) \"$KBD\" attached.*/\1/p" | tail -1)
vm_check "kkeyd holds the grab: another EVIOCGRAB fails" sh -c '! uinput-kbd grab "$0"' "$node"
escaped() { tail -n +$((mark + 1)) /tmp/kkeyd.log | grep -q "grab released (Left Ctrl + Left Alt + Esc)"; }
vm_check "Left Ctrl + Left Alt + Esc releases the grab (logged)" vm_until 8000 escaped
vm_check "... and another EVIOCGRAB now works" uinput-kbd grab "$node"
wait $player
timeout 10 cat /dev/kkey000 > escape.mid
kkeycheck events escape.mid > escape-notes.txt
printf 'on 60\non 70\noff 70\noff 60\non 60\noff 60\n' > escape-expected.txt
if cmp -s escape-expected.txt escape-notes.txt; then
	vm_ok "keyboard and node notes in one recording, in order; after the panic the key's release played nothing, the next press did"
else
	vm_fail "notes around kkeyctl panic and the escape"; diff escape-expected.txt escape-notes.txt
fi

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
