#!/bin/sh
# SPDX-License-Identifier: MIT
# Benchmark (suite bench, not vm): key press (uinput write) -> note-on at a
# sequencer client subscribed to kkey, over 1000 presses; p50/p99/max, next
# to the kernel input path alone (write -> evdev node readable). Prints
# figures, fails only if presses go unheard. Modules and files come from
# kkeyd-live.sh's header (one shared image).
# vm-timeout: 300
. "$UKD_SRC/tests/vm/guest/lib.sh"

vm_modprobe cuse uinput evdev snd-seq-dummy || vm_finish
# Not grabbed: the bench reads the event node too, for the input-path figure.
vm_daemon kkeyd 280 kkeyd --cuse --keyboard="ukd bench keyboard"
vm_wait_path /dev/kkey127 30 || { vm_fail "kkeyd: no nodes"; cat /tmp/kkeyd.log; vm_finish; }
n=$(sed -n 's/.*ukd.presses=\([0-9]*\).*/\1/p' /proc/cmdline)
t0=$(vm_now_ms)
timeout 270 live-latency "ukd bench keyboard" "${n:-1000}"
vm_expect_eq "${n:-1000} presses measured" 0 $?
vm_log "in $(($(vm_now_ms) - t0)) ms"
grep -v "uevent" /tmp/kkeyd.log | tail -5
vm_stop kkeyd 5
vm_expect_eq "kkeyd exits 0" 0 $?
vm_finish
