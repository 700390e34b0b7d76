#!/bin/sh
# SPDX-License-Identifier: MIT
# kmod/'s ukd_uio stub and kkeyd --pci over UIO on QEMU's edu, two functions
# (slots 3 and 7) sharing one INTx line: modalias autoload, map0 size, exact
# interrupt counts, masked until irqcontrol, IRQ_NONE on the shared line;
# 10,240 events played by kkey-pciplay recorded in order (pci-uio.post checks
# the SMF with mido); sysfs remove + rescan while kkeyd runs (no crash, no fd
# leak, notes released, card picked up again); rmmod while kkeyd holds it;
# an unknown event value; clean rmmod; udev/70-ukd-pci.rules under `udevadm test` (no udevd here).
# vm-modules: uio cuse
# vm-files: /usr/bin/udevadm
# vm-qemu: -device edu,addr=03.0 -device edu,addr=07.0
# vm-timeout: 150
# vm-smp: 1
. "$UKD_SRC/tests/vm/guest/lib.sh"
A=0000:00:03.0 B=0000:00:07.0
drv() { basename "$(readlink /sys/bus/pci/devices/$1/driver 2>/dev/null)" 2>/dev/null; }

# --- Alias autoload: what udev runs for a new device.
vm_check "modprobe \$(cat $A/modalias) loads ukd_uio" modprobe "$(cat /sys/bus/pci/devices/$A/modalias)"
vm_expect_eq "$A bound to ukd_uio" ukd_uio "$(drv $A)"
vm_expect_eq "$B bound to ukd_uio" ukd_uio "$(drv $B)"
vm_expect_eq "one UIO device per function" 2 "$(ls /sys/class/uio | wc -l)"
vm_expect_eq "both share one INTx line" "$(cat /sys/bus/pci/devices/$A/irq)" "$(cat /sys/bus/pci/devices/$B/irq)"
for f in $A $B; do
	u=$(ls /sys/bus/pci/devices/$f/uio)
	vm_expect_eq "$f: maps/map0/size is 1 MiB" 1048576 "$(($(cat /sys/class/uio/$u/maps/map0/size)))"
done

# --- The udev rule, simulated on the real device and on a non-edu one.
mkdir -p /etc/udev/rules.d /run/udev
cp "$UKD_SRC/udev/70-ukd-pci.rules" /etc/udev/rules.d/
timeout 30 udevadm test --action=add /sys/bus/pci/devices/$B >/tmp/udev.out 2>&1
vm_check "udevadm test on edu: the rule loads the module by modalias" \
	grep -q "70-ukd-pci.rules:.* RUN 'kmod load" /tmp/udev.out
vm_check "... and wants kkeyd-pci@$B.service" grep -qx "SYSTEMD_WANTS=kkeyd-pci@$B.service" /tmp/udev.out
vm_check "... tagged for systemd" grep -q "^TAGS=.*:systemd:" /tmp/udev.out
timeout 30 udevadm test --action=add /sys/bus/pci/devices/0000:00:00.0 >/tmp/udev0.out 2>&1
vm_check "udevadm test on the host bridge: it ran" grep -q "^PCI_SLOT_NAME=0000:00:00.0" /tmp/udev0.out
vm_check "... and the rule stays out" sh -c '! grep -q -e "70-ukd-pci.rules:.* RUN" -e SYSTEMD_WANTS /tmp/udev0.out'
grep -q SYSTEMD_WANTS /tmp/udev.out || tail -30 /tmp/udev.out
grep 70-ukd-pci /tmp/udev0.out

# --- The stub's interrupt contract, through lib/pci.h.
vm_check "pci-check stub: counts, masking, shared line" timeout 60 pci-check stub $A $B 200

# --- kkeyd --pci over UIO: 10,240 events in order.
vm_modprobe cuse || vm_finish
vm_daemon kkeyd 120 kkeyd --cuse --pci=$A --pci-backend=uio -v
vm_wait_path /dev/kkey127 10 || { vm_fail "kkeyd nodes did not appear"; cat /tmp/kkeyd.log; vm_finish; }
timeout 10 sh -c 'until grep -q "key card" /tmp/kkeyd.log; do usleep 50000; done'
uio=$(ls /sys/bus/pci/devices/$A/uio)
ev0=$(cat /sys/class/uio/$uio/event)
notes=$(seq 0 127)
t0=$(vm_now_ms)
vm_check "kkey-pciplay -r 40: 10240 events acknowledged" timeout 90 kkey-pciplay -q -r 40 $A $notes
t1=$(vm_now_ms)
vm_log "10240 events in $((t1 - t0)) ms"
vm_expect_eq "the device counted 10240 interrupts" 10240 $(($(cat /sys/class/uio/$uio/event) - ev0))
timeout 10 cat /dev/kkey000 > uio.mid
vm_check "uio.mid: 5120 note-on, 5120 note-off" kkeycheck smf uio.mid 5120 5120
vm_export uio.mid

# --- Hot unplug and replug through sysfs, while kkeyd runs.
pid=$(vm_pid kkeyd)
fds0=$(ls /proc/$pid/fd | wc -l)
timeout 10 kkey-pciplay -q $A 64+ 67+
echo 1 > /sys/bus/pci/devices/$A/remove
vm_check "kkeyd logs the removal" timeout 10 sh -c 'until grep -q "card removed" /tmp/kkeyd.log; do usleep 50000; done'
vm_check "... and released the 2 held notes" grep -q "released 2 held" /tmp/kkeyd.log
vm_check "kkeyd still runs" kill -0 $pid
echo 1 > /dev/kkey060; echo 0 > /dev/kkey060
timeout 10 cat /dev/kkey000 > unplug.mid
vm_expect_eq "node writes still recorded, card's notes released" "on 64 on 67 off 64 off 67 on 60 off 60" \
	"$(kkeycheck events unplug.mid | xargs)"
echo 1 > /sys/bus/pci/rescan
vm_check "the card returns" timeout 10 sh -c "until [ -e /sys/bus/pci/devices/$A/uio ] && [ \$(grep -c 'key card' /tmp/kkeyd.log) -ge 2 ]; do usleep 50000; done"
vm_check "play after replug" timeout 20 kkey-pciplay -q $A 1 2 3
timeout 10 cat /dev/kkey000 > replug.mid
vm_expect_eq "replugged card recorded" "on 1 off 1 on 2 off 2 on 3 off 3" "$(kkeycheck events replug.mid | xargs)"
vm_expect_eq "kkeyd's fd count unchanged ($fds0)" "$fds0" "$(ls /proc/$pid/fd | wc -l)"

# --- An unknown event value: acknowledged, logged, not recorded.
vm_check "an invalid value (0x2bc) is acknowledged by kkeyd" timeout 20 pci-check raise $A 0x2bc
vm_check "... and logged" grep -q "unknown event value 0x000002bc" /tmp/kkeyd.log

# --- rmmod while kkeyd holds /dev/uioN: the module is in use (UIO takes a
# module reference per open), nothing breaks.
rmmod ukd_uio 2>/tmp/rmmod.err
vm_check "rmmod ukd_uio while kkeyd holds it fails" test $? -ne 0
vm_check "... and kkeyd still plays" timeout 20 kkey-pciplay -q $A 5

vm_stop kkeyd 5
vm_expect_eq "kkeyd exits 0" 0 $?
cat /tmp/kkeyd.log
vm_check "kkeyd's count: 10240 + 2 + 3*2 + 2 events, 1 unknown, none missed or spurious" \
	grep -q "pci $A: 10250 events recorded, 10251 interrupts, 0 missed, 0 spurious, 1 unknown, 1 removals" /tmp/kkeyd.log

# --- Clean rmmod.
vm_check "rmmod ukd_uio" rmmod ukd_uio
vm_expect_eq "no UIO device left" 0 "$(ls /sys/class/uio | wc -l)"
vm_check "no kernel warning" sh -c '! dmesg | grep -q -e "WARNING:" -e "BUG:"'
vm_finish
