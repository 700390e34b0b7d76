#!/bin/sh
# SPDX-License-Identifier: MIT
# Nothing acknowledged is lost (issue 12): note on, note off, `kill -9` of
# kkeyd.service's MainPID; systemd restarts it (NRestarts goes up) and the
# recording read afterwards holds exactly those two events (checked on the
# host with mido by sys-kkeyd-crash.post). Needs kkeyd's crash journal,
# which kkeyd.service gives a place with StateDirectory=.
# vm-flavour: debian
# vm-timeout: 300
# vm-mem: 768
. "$UKD_SRC/tests/vm/guest/lib.sh"

systemd-sysusers
udevadm control --reload
systemctl daemon-reload
vm_check "systemctl start kkeyd" timeout 60 systemctl start kkeyd
vm_check "note on, note off on /dev/kkey060" sh -c 'echo 1 >/dev/kkey060 && echo 0 >/dev/kkey060'
pid0=$(systemctl show -P MainPID kkeyd)
n0=$(systemctl show -P NRestarts kkeyd)
# MainPID=0 (not running) would make kill hit our own process group.
[ "${pid0:-0}" -gt 1 ] && kill -9 "$pid0"
end=$(($(vm_now_ms) + 30000))
while [ "$(systemctl show -P NRestarts kkeyd)" = "$n0" ] && [ "$(vm_now_ms)" -lt "$end" ]; do
	sleep 0.5
done
timeout 60 systemctl start kkeyd   # waits for READY=1 of the restarted daemon
n1=$(systemctl show -P NRestarts kkeyd)
vm_expect_eq "restarted by systemd after kill -9 (NRestarts $n0 -> $n1)" yes \
	"$([ "$n1" -gt "$n0" ] && [ "$(systemctl is-active kkeyd)" = active ] && echo yes)"
timeout 10 cat /dev/kkey000 >/tmp/crash.mid
vm_check "the recording after the restart is a MIDI file" test -s /tmp/crash.mid
vm_export /tmp/crash.mid crash.mid
timeout 30 systemctl stop kkeyd
vm_finish
