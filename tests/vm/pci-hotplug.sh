#!/bin/sh
# SPDX-License-Identifier: MIT
# The key card hot-plugged through QEMU's monitor while kkeyd --pci runs
# (issue 13): `device_add edu` on machine pc's bus 0 (ACPI hotplug, acpiphp
# in the guest) and `device_del`, three times. Asserts: the card appears,
# binds to ukd_uio and kkeyd picks it up; notes played on it are recorded;
# device_del completes (the function leaves sysfs, QEMU emits
# DEVICE_DELETED), kkeyd logs the removal and releases the held note; its
# fd count is the same after the cycles. Times are logged, not asserted.
# vm-modules: uio cuse
# vm-monitor: yes
# vm-timeout: 180
# vm-smp: 1
. "$UKD_SRC/tests/vm/guest/lib.sh"
A=0000:00:05.0
CYCLES=3
# wait_ms SECONDS SHELL-CONDITION: prints the milliseconds it took; 1 on timeout.
wait_ms() {
	_t0=$(vm_now_ms)
	timeout "$1" sh -c "until $2; do usleep 20000; done" || return 1
	echo $(($(vm_now_ms) - _t0))
}

v=$(vm_monitor info version)
vm_expect_eq "the monitor channel answers (info version)" yes \
	"$(echo "$v" | grep -q '^[0-9]' && echo yes)"
vm_monitor bogus_command >/dev/null
vm_expect_eq "an unknown monitor command reports an error" 1 $?

vm_check "modprobe ukd_uio (no card yet)" modprobe ukd_uio
vm_modprobe cuse || vm_finish
vm_daemon kkeyd 150 kkeyd --cuse --pci=$A --pci-backend=uio -v
vm_wait_path /dev/kkey127 10 || { vm_fail "kkeyd nodes did not appear"; cat /tmp/kkeyd.log; vm_finish; }
vm_check "kkeyd waits for the absent card" \
	timeout 10 sh -c 'until grep -q "not available over uio" /tmp/kkeyd.log; do usleep 50000; done'
pid=$(vm_pid kkeyd)
fds0=$(ls /proc/$pid/fd | wc -l)
want=
i=1
while [ $i -le $CYCLES ]; do
	vm_monitor device_add edu,id=card$i,bus=pci.0,addr=05.0 >/tmp/add.out
	vm_expect_eq "cycle $i: device_add edu accepted" 0 $?
	ms=$(wait_ms 30 "[ -e /sys/bus/pci/devices/$A/uio ]") ||
		{ vm_fail "cycle $i: the card did not appear bound to ukd_uio in 30 s"; cat /tmp/add.out; break; }
	vm_ok "cycle $i: $A appeared, bound to ukd_uio, in $ms ms"
	ms=$(wait_ms 20 "[ \$(grep -c 'key card' /tmp/kkeyd.log) -ge $i ]") ||
		{ vm_fail "cycle $i: kkeyd did not pick the card up"; break; }
	vm_ok "cycle $i: kkeyd opened it $ms ms later"
	vm_check "cycle $i: play note $i, hold note 64" timeout 20 kkey-pciplay -q $A $i 64+
	want="$want on $i off $i on 64 off 64"

	t0=$(vm_now_ms)
	vm_monitor device_del card$i >/tmp/del.out
	vm_expect_eq "cycle $i: device_del accepted" 0 $?
	ms=$(wait_ms 60 "[ ! -e /sys/bus/pci/devices/$A ]") ||
		{ vm_fail "cycle $i: $A still in sysfs 60 s after device_del"; break; }
	vm_ok "cycle $i: device_del: $A left the guest in $ms ms"
	end=$((t0 + 30000))
	until vm_monitor events >/tmp/events.txt && grep -q "DEVICE_DELETED.*\"card$i\"" /tmp/events.txt ||
	      [ "$(vm_now_ms)" -ge $end ]; do
		usleep 100000
	done
	vm_expect_eq "cycle $i: QEMU deleted the device (DEVICE_DELETED card$i), $(($(vm_now_ms) - t0)) ms after device_del" \
		1 "$(grep -c "DEVICE_DELETED.*\"card$i\"" /tmp/events.txt)"
	vm_check "cycle $i: kkeyd logged the removal, released the held note" \
		timeout 10 sh -c "until [ \$(grep -c 'card removed.*released 1 held' /tmp/kkeyd.log) -ge $i ]; do usleep 50000; done"
	i=$((i + 1))
done
vm_check "kkeyd still runs" kill -0 "$pid"
vm_expect_eq "kkeyd's fd count after $CYCLES cycles ($fds0)" "$fds0" "$(ls /proc/$pid/fd | wc -l)"
timeout 10 cat /dev/kkey000 >hotplug.mid
vm_expect_eq "every cycle's notes recorded in order, held notes released" "$(echo $want)" \
	"$(kkeycheck events hotplug.mid | xargs)"
vm_stop kkeyd 5
vm_expect_eq "kkeyd exits 0" 0 $?
grep "events recorded" /tmp/kkeyd.log
vm_check "kkeyd's count: $((CYCLES * 3)) events, $CYCLES removals" \
	grep -q "pci $A: $((CYCLES * 3)) events recorded, $((CYCLES * 3)) interrupts, 0 missed, 0 spurious, 0 unknown, $CYCLES removals" /tmp/kkeyd.log
vm_check "no kernel warning" sh -c '! dmesg | grep -q -e "WARNING:" -e "BUG:"'
vm_finish
