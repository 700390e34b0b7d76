#!/bin/sh
# SPDX-License-Identifier: MIT
# lib/pci.h's VFIO backend and kkeyd --pci over VFIO on QEMU's edu behind an
# emulated intel-iommu (Debian's kernel has no VFIO no-IOMMU mode): a DMA
# round trip through edu's engine and a fault on an unmapped IOVA; 10,240
# events over INTx and 10,240 over MSI recorded in order (pci-vfio.post
# checks both SMFs with mido); sysfs remove/rescan while kkeyd holds the
# device (the VFIO request interrupt), no fd leak. iomem=relaxed lets kkey-pciplay map
# resource0 while vfio-pci holds the BAR (CONFIG_IO_STRICT_DEVMEM=y);
# no_timer_check: under a loaded TCG host the kernel's IO-APIC timer probe
# through interrupt remapping can time out and panic (seen once here).
# vm-modules: vfio-pci vfio_iommu_type1 cuse
# vm-qemu: -machine q35 -device intel-iommu,intremap=on -device edu,addr=05.0
# vm-append: intel_iommu=on iomem=relaxed no_timer_check
# vm-timeout: 150
# vm-smp: 1
. "$UKD_SRC/tests/vm/guest/lib.sh"
A=0000:00:05.0
vm_modprobe vfio-pci || vm_finish
# vfio.ko names it as a softdep only, which busybox modprobe does not follow.
vm_modprobe vfio_iommu_type1 || vm_finish
echo vfio-pci > /sys/bus/pci/devices/$A/driver_override
echo $A > /sys/bus/pci/drivers_probe
vm_expect_eq "$A bound to vfio-pci" vfio-pci "$(basename "$(readlink /sys/bus/pci/devices/$A/driver)")"
vm_check "pci-check dma: round trip, unmapped IOVA faults" timeout 60 pci-check dma $A
dmesg | grep DMAR | tail -3
vm_check "the IOMMU logged the blocked DMA write" sh -c 'dmesg | grep -qi "DMAR:.*fault"'

vm_modprobe cuse || vm_finish
notes=$(seq 0 127)
for mode in vfio vfio-msi; do
	vm_daemon kkeyd 120 kkeyd --cuse --pci=$A --pci-backend=$mode
	vm_wait_path /dev/kkey127 10 || { vm_fail "kkeyd nodes did not appear"; cat /tmp/kkeyd.log; vm_finish; }
	timeout 10 sh -c 'until grep -q "key card" /tmp/kkeyd.log; do usleep 50000; done'
	t0=$(vm_now_ms)
	vm_check "$mode: kkey-pciplay -r 40: 10240 events acknowledged" timeout 90 kkey-pciplay -q -r 40 $A $notes
	vm_log "$mode: 10240 events in $(($(vm_now_ms) - t0)) ms"
	timeout 10 cat /dev/kkey000 > $mode.mid
	vm_check "$mode.mid: 5120 note-on, 5120 note-off" kkeycheck smf $mode.mid 5120 5120
	vm_export $mode.mid
	vm_stop kkeyd 5
	vm_expect_eq "$mode: kkeyd exits 0" 0 $?
	cat /tmp/kkeyd.log
	vm_check "$mode: kkeyd counted 10240 events and interrupts, none missed/spurious/unknown" \
		grep -q "pci $A: 10240 events recorded, 10240 interrupts, 0 missed, 0 spurious, 0 unknown" /tmp/kkeyd.log
done
# --- Hot unplug and replug under VFIO: vfio-pci asks kkeyd for the device
# (request interrupt), the removal completes, the card comes back on rescan.
bind() { echo vfio-pci > /sys/bus/pci/devices/$A/driver_override; echo $A > /sys/bus/pci/drivers_probe; }
vm_daemon kkeyd 120 kkeyd --cuse --pci=$A --pci-backend=vfio
vm_wait_path /dev/kkey127 10
timeout 10 sh -c 'until grep -q "key card" /tmp/kkeyd.log; do usleep 50000; done'
pid=$(vm_pid kkeyd)
fds0=$(ls /proc/$pid/fd | wc -l)
timeout 10 kkey-pciplay -q $A 64+
vm_check "sysfs remove of a device kkeyd holds through VFIO completes" timeout 20 sh -c "echo 1 > /sys/bus/pci/devices/$A/remove"
vm_check "kkeyd logs the removal" grep -q "card removed (the kernel asked" /tmp/kkeyd.log
vm_check "... and released the held note" grep -q "released 1 held" /tmp/kkeyd.log
echo 1 > /sys/bus/pci/rescan
bind
vm_check "the card returns" timeout 10 sh -c 'until [ $(grep -c "key card" /tmp/kkeyd.log) -ge 2 ]; do usleep 100000; done'
vm_check "play after replug" timeout 20 kkey-pciplay -q $A 1
timeout 10 cat /dev/kkey000 > replug.mid
vm_expect_eq "recorded: the held note released at removal, then the replugged card" \
	"on 64 off 64 on 1 off 1" "$(kkeycheck events replug.mid | xargs)"
vm_expect_eq "kkeyd's fd count unchanged ($fds0)" "$fds0" "$(ls /proc/$pid/fd | wc -l)"
vm_stop kkeyd 5
vm_expect_eq "kkeyd exits 0" 0 $?
cat /tmp/kkeyd.log

vm_check "no kernel warning" sh -c '! dmesg | grep -q -e "WARNING:" -e "BUG:"'
vm_finish
