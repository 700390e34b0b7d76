#!/bin/sh
# SPDX-License-Identifier: MIT
# kprngd --cuse on Debian's kernel: /dev/kprng read with dd and head -c,
# reproducibility across read sizes and concurrent readers, via the
# command-line seed and via ioctl (kprngctl), ioctl errors
# (kprng-ioctl-check), writes, SIGTERM. kprngd-cuse.post compares the
# exported bytes with the independent reference (tests/unit/kprng/prng_ref.py),
# the same one the FUSE host tests use: one stream through both front ends.
# vm-modules: cuse
# vm-timeout: 240
# vm-smp: 2
. "$UKD_SRC/tests/vm/guest/lib.sh"

sha() { sha256sum | cut -d' ' -f1; }

# --- Without the cuse module: one message naming it, exit 1.
timeout 10 kprngd --cuse >/tmp/nocuse.out 2>&1
rc=$?
cat /tmp/nocuse.out
vm_expect_eq "kprngd --cuse without /dev/cuse: exit status" 1 $rc
vm_check "... one message naming 'modprobe cuse'" grep -q 'modprobe cuse' /tmp/nocuse.out
vm_check "... no node left behind" test ! -e /dev/kprng

vm_modprobe cuse || vm_finish

vm_daemon kprngd 200 kprngd --cuse --seed 42
if vm_wait_path /dev/kprng 10; then
	vm_ok "kprngd --cuse --seed 42: /dev/kprng"
else
	vm_fail "/dev/kprng did not appear"; cat /tmp/kprngd.log; vm_finish
fi
vm_expect_eq "/dev/kprng is a character device, mode 0666" "c 666" \
	"$(stat -c %A /dev/kprng | cut -c1) $(stat -c %a /dev/kprng)"

# --- Read sizes: dd bs=1M, dd bs=4k, dd bs=1, head -c: the same stream.
timeout 30 dd if=/dev/kprng of=a.bin bs=1M count=4 2>/dev/null
vm_expect_eq "dd bs=1M count=4: 4 MiB" 4194304 "$(stat -c %s a.bin)"
timeout 30 head -c 4194304 /dev/kprng > b.bin
timeout 30 dd if=/dev/kprng of=c.bin bs=4096 count=1024 2>/dev/null
timeout 60 dd if=/dev/kprng of=d.bin bs=1 count=8192 2>/dev/null
vm_check "head -c 4M equals dd bs=1M" cmp a.bin b.bin
vm_check "dd bs=4k equals dd bs=1M" cmp a.bin c.bin
vm_check "dd bs=1 (8192 reads) equals the first 8 KiB" sh -c 'head -c 8192 a.bin | cmp - d.bin'
head -c 65536 a.bin > seed42.bin
vm_export seed42.bin

# --- Concurrent readers: 4 at once, all the same 4 MiB.
pids=
for i in 1 2 3 4; do
	(timeout 60 dd if=/dev/kprng bs=65536 count=64 2>/dev/null | sha > "par$i.sum") &
	pids="$pids $!"
done
wait $pids   # not a bare wait: that would wait for kprngd too
want=$(sha < a.bin)
n=0
for i in 1 2 3 4; do [ "$(cat par$i.sum)" = "$want" ] && n=$((n + 1)); done
vm_expect_eq "4 concurrent readers read the seed-42 stream" 4 $n

# --- ioctls and their errors through CUSE.
timeout 60 kprng-ioctl-check /dev/kprng > ioctl.out 2>&1
rc=$?
cat ioctl.out
vm_expect_eq "kprng-ioctl-check: no failures" 0 $rc

# --- Reproducibility via ioctl (kprngctl), device scope.
vm_check "kprngctl seed 7" timeout 10 kprngctl seed 7
timeout 10 head -c 1000 /dev/kprng > s7a.bin
timeout 10 head -c 1000 /dev/kprng > s7b.bin
vm_check "after kprngctl seed 7, two opens read the same" cmp s7a.bin s7b.bin
vm_export s7a.bin seed7.bin
vm_check "kprngctl generator xoshiro" timeout 10 kprngctl generator xoshiro
vm_expect_eq "kprngctl generator" xoshiro "$(timeout 10 kprngctl generator)"
timeout 10 head -c 1000 /dev/kprng > x7.bin
vm_export x7.bin xoshiro7.bin
timeout 10 kprngctl read -s 9 -g chacha20 777 > r9.bin
vm_expect_eq "kprngctl read -s 9 777: 777 bytes" 777 "$(stat -c %s r9.bin)"
vm_export r9.bin read9.bin
# A write mixes into later opens (exported: checked on the host).
printf abc > /dev/kprng
timeout 10 head -c 64 /dev/kprng > w.bin
vm_check "a write changed later opens" sh -c '! head -c 64 x7.bin | cmp -s - w.bin'
vm_export w.bin xoshiro7-abc.bin
vm_check "kprngctl stats" sh -c 'timeout 10 kprngctl stats | grep -q "bytes written: *3"'
vm_check "kprngctl reseed" timeout 10 kprngctl reseed
timeout 10 head -c 64 /dev/kprng > r1.bin
timeout 10 head -c 64 /dev/kprng > r2.bin
vm_check "after reseed, opens differ" sh -c '! cmp -s r1.bin r2.bin'

# --- SIGTERM: exit 0, node gone.
vm_stop kprngd 5
vm_expect_eq "SIGTERM: exit status" 0 $?
vm_check "/dev/kprng removed" vm_wait_gone /dev/kprng 5
cat /tmp/kprngd.log
vm_finish
