#!/bin/sh
# SPDX-License-Identifier: MIT
# kkeyd.service as installed, live (issues 12 and 14): Debian 12 with
# systemd and udevd. Asserts: /dev/snd/seq is a static node before snd-seq
# is loaded; the unit as shipped opens the sequencer from its sandbox
# (client kkey; aseqdump hears notes written to /dev/kkeyNNN); keyboards
# are refused until the drop-in docs/examples/kkeyd-keyboards.conf is
# installed; with it, a uinput keyboard plugged in after start is attached
# through udevd's events (libudev, "udev" source) and its notes are in the
# recording and on the live port; security with the drop-in is reported.
# vm-flavour: debian
# vm-modules: snd-seq-dummy uinput evdev
# vm-packages: alsa-utils
# vm-timeout: 360
# vm-mem: 768
. "$UKD_SRC/tests/vm/guest/lib.sh"
KBD="ukd test keyboard"
journal() { journalctl -u kkeyd --no-pager -o cat 2>/dev/null; }
in_journal() { journal | grep -q "$1"; }
listed() { timeout 5 aconnect -i | grep -q "'kkey'"; }

systemd-sysusers
udevadm control --reload
systemctl daemon-reload

vm_log "before snd-seq: $(ls -l /dev/snd/seq 2>&1)"
vm_check "/dev/snd/seq exists before snd-seq is loaded (kmod-static-nodes)" test -c /dev/snd/seq
vm_expect_eq "... group audio" audio "$(stat -c %G /dev/snd/seq)"
vm_modprobe snd-seq-dummy || vm_finish

# --- The unit as shipped: live output from its sandbox.
vm_check "systemctl start kkeyd" timeout 60 systemctl start kkeyd
vm_check "kkey is a sequencer client (aconnect -i)" vm_until 10000 listed
vm_check "the journal says live output is on" in_journal "live output: ALSA sequencer client"
timeout 30 aseqdump -p kkey >/tmp/dump.txt 2>&1 &
dumper=$!
sleep 1
echo 1 >/dev/kkey060; echo 0 >/dev/kkey060
heard() { grep -q "Note off.*note 60" /tmp/dump.txt; }
vm_check "aseqdump -p kkey hears a note written to /dev/kkey060" vm_until 5000 heard
kill $dumper 2>/dev/null; wait $dumper 2>/dev/null
grep "Note" /tmp/dump.txt | sed 's/^/  /'

# --- Keyboards: not without the drop-in.
mkdir -p /etc/ukd
printf '[kkeyd]\nkeyboard = %s\nverbose = yes\n' "ukd test*" >/etc/ukd/kkeyd.conf
vm_modprobe uinput evdev
timeout 60 uinput-kbd cycles "$KBD" 1 4000 &
plug=$!
vm_check "systemctl restart kkeyd (keyboard = ukd test*)" timeout 60 systemctl restart kkeyd
wait $plug
vm_check "without the drop-in no keyboard is attached" sh -c '! journalctl -u kkeyd -o cat | grep -q "attached"'
journal | grep -i -E "keyboard|hotplug|input" | sed 's/^/  /' | tail -5

# --- With the drop-in.
mkdir -p /etc/systemd/system/kkeyd.service.d
cp /usr/share/doc/ukd/examples/kkeyd-keyboards.conf /etc/systemd/system/kkeyd.service.d/keyboards.conf
systemctl daemon-reload
vm_check "systemctl restart kkeyd with the keyboards drop-in" timeout 60 systemctl restart kkeyd
vm_check "it follows udevd's events" vm_until 5000 in_journal "hotplug: following udev events"
timeout 10 cat /dev/kkey000 >/dev/null   # start from an empty recording
timeout 30 aseqdump -p kkey >/tmp/dump2.txt 2>&1 &
dumper=$!
cat >/tmp/keys.txt <<'SCRIPT'
p 16
s 100
r 16
p 17
s 100
r 17
p 18
s 100
r 18
SCRIPT
timeout 30 uinput-kbd play "$KBD" </tmp/keys.txt >/dev/null
vm_check "the keyboard plugged in after start was attached (udev)" in_journal "\"$KBD\" attached"
vm_check "... and detached when it went" vm_until 5000 in_journal "\"$KBD\" detached"
timeout 10 cat /dev/kkey000 >/tmp/kbd.mid
vm_expect_eq "its notes in the recording (Q W E: C4 D4 E4)" "on 60 off 60 on 62 off 62 on 64 off 64" \
	"$(kkeycheck events /tmp/kbd.mid | xargs)"
heard3() { [ "$(grep -c 'Note off' /tmp/dump2.txt)" -ge 3 ]; }
vm_check "... and on the live port (aseqdump)" vm_until 5000 heard3
kill $dumper 2>/dev/null; wait $dumper 2>/dev/null

systemd-analyze security --no-pager kkeyd >/tmp/sec.txt 2>&1
vm_log "with the keyboards drop-in: $(grep 'Overall exposure' /tmp/sec.txt)"
grep -v '✓' /tmp/sec.txt | grep -E "Private|Device|AddressF|Supplementary" | sed 's/^/  /'
vm_check "systemctl stop kkeyd" timeout 30 systemctl stop kkeyd
journal | tail -12
vm_finish
