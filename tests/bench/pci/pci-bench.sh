#!/bin/sh
# SPDX-License-Identifier: MIT
# Bench (one boot, vm tier): kkeyd played by a PCI key card over UIO (the
# ukd_uio stub), VFIO INTx and VFIO MSI, in one run: interrupts/s and
# raise->acknowledged latency p50/p99 (kkeyd acknowledges, then records in
# the same handler), measured by kkey-pciplay -l; ratios against UIO.
# Prints figures; fails only when something breaks, never on timing.
# Two edu functions: 05.0 for the stub, 06.0 for vfio-pci.
# vm-qemu: -machine q35 -device intel-iommu,intremap=on -device edu,addr=05.0 -device edu,addr=06.0
# vm-append: intel_iommu=on iomem=relaxed no_timer_check
# vm-smp: 1
# vm-timeout: 300
. "$UKD_SRC/tests/vm/guest/lib.sh"
U=0000:00:05.0 V=0000:00:06.0
N=${PCI_BENCH_ROUNDS:-20}     # x 256 events
vm_modprobe uio && vm_modprobe cuse && vm_modprobe vfio-pci && vm_modprobe vfio_iommu_type1 || vm_finish
echo vfio-pci > /sys/bus/pci/devices/$V/driver_override
modprobe ukd_uio
echo $V > /sys/bus/pci/drivers_probe
notes=$(seq 0 127)
for run in 1 2; do
	for mode in uio vfio vfio-msi; do
		[ $mode = uio ] && A=$U || A=$V
		vm_daemon kkeyd 120 kkeyd --cuse --pci=$A --pci-backend=$mode
		vm_wait_path /dev/kkey127 10 && timeout 10 sh -c 'until grep -q "key card" /tmp/kkeyd.log; do usleep 50000; done' ||
			{ vm_fail "$mode: kkeyd did not take the card"; cat /tmp/kkeyd.log; vm_finish; }
		if timeout 200 kkey-pciplay -l -r $N $A $notes >/tmp/$mode.out; then
			vm_ok "run $run $mode: $(cat /tmp/$mode.out)"
			echo "BENCH $run $mode $(cat /tmp/$mode.out)"
		else
			vm_fail "run $run $mode: kkey-pciplay failed"
		fi
		vm_stop kkeyd 5
		grep "events recorded" /tmp/kkeyd.log
	done
	# Ratios of events/s and p50 against UIO in this run.
	for m in uio vfio vfio-msi; do echo "BENCH $run $m $(cat /tmp/$m.out)"; done > /tmp/run$run.txt
	awk '{ for (i = 1; i <= NF; i++) { if ($i == "events/s,") r[$3] = $(i-1); if ($i == "p50") p[$3] = $(i+1) } }
	END { for (m in r) printf "VMTEST-OK: run %s ratio %s/uio: events/s %.2f, p50 latency %.2f\n", "'$run'", m, r[m] / r["uio"], p[m] / p["uio"] }' /tmp/run$run.txt
done
vm_finish
