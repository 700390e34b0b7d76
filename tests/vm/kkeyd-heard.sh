#!/bin/sh
# SPDX-License-Identifier: MIT
# kkeyd heard (issue 14): fluidsynth is an ALSA sequencer client playing
# into snd-aloop; kkeyd's live port is connected to it (--seq-connect), and
# arecord captures the other end of the loopback while notes are pressed
# through /dev/kkeyNNN. Here: fluidsynth received each note (its -v log);
# the capture and the press times go to the host, where .post checks that
# silence comes first and each note's pitch is the note pressed (+-50 cents).
# Also logged: xrun lines of arecord and fluidsynth (2.3.1 printed none even
# when a tiny buffer garbled the audio), fluidsynth's and the guest's CPU
# time during the capture; .post reports rough frames.
# vm-modules: cuse snd-aloop snd-seq
# vm-files: /usr/bin/fluidsynth /usr/bin/arecord /usr/share/sounds/sf2/TimGM6mb.sf2
# vm-files: /usr/bin/aconnect /usr/share/alsa/alsa.conf
# vm-timeout: 90
. "$UKD_SRC/tests/vm/guest/lib.sh"

SF2=/usr/share/sounds/sf2/TimGM6mb.sf2
RATE=22050
vm_modprobe cuse snd-aloop snd-seq || vm_finish
vm_wait_path /dev/snd/seq 5 || { vm_fail "no /dev/snd/seq"; vm_finish; }
vm_wait_path /dev/snd/pcmC0D0p 5 || { vm_fail "snd-aloop made no playback device"; vm_finish; }

# fluidsynth: alsa_seq in, the loopback's playback side out, no shell (-i)
# but alive (-s); -v logs every event the synth gets. Reverb and chorus
# off, few voices: less work under TCG.
t0=$(vm_now_ms)
vm_daemon fluidsynth 80 fluidsynth -a alsa -m alsa_seq -s -i -v -g 1 -R 0 -C 0 \
	-r "$RATE" -z 256 -c 4 -o audio.alsa.device=hw:Loopback,0,0 \
	-o synth.polyphony=8 -o synth.lock-memory=0 -o midi.alsa_seq.id=heard "$SF2"
listed=
while [ $(($(vm_now_ms) - t0)) -lt 20000 ]; do
	if timeout 5 aconnect -o | grep -q "FLUID Synth"; then listed=1; break; fi
	usleep 100000
done
[ -n "$listed" ] && vm_ok "fluidsynth is a sequencer client after $(($(vm_now_ms) - t0)) ms" ||
	{ vm_fail "fluidsynth is no sequencer client within 20 s"; cat /tmp/fluidsynth.log; vm_finish; }

vm_daemon kkeyd 70 kkeyd --cuse --velocity=100 --seq-connect="FLUID Synth"
vm_wait_path /dev/kkey127 10 || { vm_fail "kkeyd: no nodes"; cat /tmp/kkeyd.log; vm_finish; }
t0=$(vm_now_ms)
while ! grep -q "kkey connected to FLUID Synth" /tmp/kkeyd.log; do
	[ $(($(vm_now_ms) - t0)) -lt 5000 ] || break
	usleep 50000
done
vm_check "kkey is connected to FLUID Synth (--seq-connect)" \
	grep -q "kkey connected to FLUID Synth" /tmp/kkeyd.log

# The capture: 16-bit stereo as fluidsynth plays it, from when the capture
# side of the loopback runs: 1 s of silence, then A4, C5, E4 for 1 s each,
# 0.3 s apart, and 0.5 s more. times.txt: uptime ms of each step.
pid=$(vm_pid fluidsynth)
read -r _ _ _ _ _ _ _ _ _ _ _ _ _ u0 s0 _ < "/proc/$pid/stat"
read -r _ a0 b0 c0 i0 _ < /proc/stat
w0=$(vm_now_ms)
timeout 40 arecord -D hw:Loopback,1,0 -f S16_LE -c 2 -r "$RATE" -d 30 heard.wav \
	> arecord.log 2>&1 &
rec=$!
t0=$(vm_now_ms)
until grep -qs "state: RUNNING" /proc/asound/Loopback/pcm1c/sub0/status; do
	[ $(($(vm_now_ms) - t0)) -lt 10000 ] ||
		{ vm_fail "the capture does not run within 10 s"; cat arecord.log; vm_finish; }
	usleep 20000
done
echo "capture $(vm_now_ms)" > times.txt
sleep 1
for n in 069 072 064; do
	echo "on $((1$n - 1000)) $(vm_now_ms)" >> times.txt
	echo 1 > /dev/kkey$n
	sleep 1
	echo "off $((1$n - 1000)) $(vm_now_ms)" >> times.txt
	echo 0 > /dev/kkey$n
	usleep 300000
done
usleep 200000
kill -INT $rec
wait $rec
rc=$?
vm_log "arecord: status $rc after SIGINT, $(($(vm_now_ms) - t0)) ms after it started"
vm_check "arecord captured something" [ -s heard.wav ]
read -r _ _ _ _ _ _ _ _ _ _ _ _ _ u1 s1 _ < "/proc/$pid/stat"
read -r _ a1 b1 c1 i1 _ < /proc/stat
w1=$(vm_now_ms)
# In clock ticks (USER_HZ = 100 on Debian's kernel): fluidsynth's utime +
# stime; the guest's user + nice + system and idle over both vCPUs.
vm_log "during the capture ($((w1 - w0)) ms): fluidsynth CPU $(((u1 + s1 - u0 - s0) * 10)) ms;" \
	"guest busy $(((a1 + b1 + c1 - a0 - b0 - c0) * 10)) ms, idle $(((i1 - i0) * 10)) ms (2 vCPUs)"
vm_log "arecord: $(grep -c -i 'overrun\|xrun' arecord.log) overrun line(s); fluidsynth:" \
	"$(grep -c -i 'xrun\|underrun' /tmp/fluidsynth.log) xrun line(s)"
cat arecord.log

for n in 69 72 64; do
	vm_check "fluidsynth got note-on $n (its -v log)" \
		grep -q "noteon[[:space:]]*0[[:space:]]*$n[[:space:]]*100" /tmp/fluidsynth.log
done
gzip -c heard.wav > heard.wav.gz
t0=$(vm_now_ms)
vm_export heard.wav.gz
vm_log "heard.wav: $(wc -c < heard.wav) bytes, gzip $(wc -c < heard.wav.gz)," \
	"exported in $(($(vm_now_ms) - t0)) ms"
vm_export times.txt

vm_stop kkeyd 5
vm_expect_eq "kkeyd exits 0" 0 $?
vm_stop fluidsynth 5
vm_log "fluidsynth exited with $? on SIGTERM"
grep -v "fluidsynth: \(prog\|cc\|noteo\)" /tmp/fluidsynth.log | tail -20
vm_finish
