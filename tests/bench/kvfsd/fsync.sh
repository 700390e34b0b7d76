#!/bin/bash
# SPDX-License-Identifier: MIT
# tests/bench/kvfsd: the cost of fsync with -o image= against the size of
# the tree. Prints a table; never fails on timing.
#
# usage: fsync.sh KVFSD [NINODES...]   (default: 1000 100000)
#
# For each NINODES: mount a fresh image (size=1g), create NINODES files in
# directories of 1000, commit, then 50 times: rewrite 100 bytes of one
# small file and fsync it (timed: the fsync call only); then the same
# with a new file created in a small directory each time. Reports the
# median, 90th percentile and maximum in ms, and the image's generation.
# The machine is shared: compare numbers within one run.
set -u

KVFSD=$1
shift
SIZES=${*:-1000 100000}
PY=/usr/bin/python3

if [ "$(id -u)" != 0 ]; then echo "SKIP: needs root (FUSE mounts)"; exit 77; fi
if [ ! -c /dev/fuse ]; then echo "SKIP: no /dev/fuse"; exit 77; fi
if [ ! -x $PY ]; then echo "SKIP: no $PY"; exit 77; fi

T=$(mktemp -d /tmp/kvfsd-fsync.XXXXXX)
M=$T/mnt
mkdir "$M"
PID=

cleanup() {
	if mountpoint -q "$M" 2>/dev/null; then fusermount3 -u "$M" 2>/dev/null || umount -l "$M"; fi
	if [ -n "$PID" ]; then
		kill "$PID" 2>/dev/null
		timeout 60 tail --pid="$PID" -f /dev/null || kill -KILL "$PID" 2>/dev/null
	fi
	rm -rf "$T"
}
trap cleanup EXIT
trap 'exit 1' INT TERM

printf '%-10s %-22s %10s %10s %10s %8s\n' inodes case median_ms p90_ms max_ms gen
for n in $SIZES; do
	rm -f "$T/image"
	"$KVFSD" -f -o "image=$T/image,size=1g,nr_inodes=$((n + 10000)),commit=0" "$M" 2>"$T/daemon.log" &
	PID=$!
	for _ in $(seq 200); do mountpoint -q "$M" && break; sleep 0.05; done
	mountpoint -q "$M" || { cat "$T/daemon.log"; echo "mount failed"; exit 1; }
	timeout 1200 $PY - "$M" "$n" <<'PYEOF'
import os, sys, time
m, n = sys.argv[1], int(sys.argv[2])
for d in range((n + 999) // 1000):
    os.mkdir(f'{m}/d{d}')
    for i in range(min(1000, n - d * 1000)):
        os.close(os.open(f'{m}/d{d}/f{i}', os.O_CREAT | os.O_WRONLY, 0o644))
os.mkdir(f'{m}/small')
fd = os.open(m, os.O_RDONLY)
os.fsync(fd)               # commit the tree
os.close(fd)
def stats(name, t):
    t.sort()
    gen = os.getxattr(m, 'kvfs.stats.image_generation').decode()
    print(f'{n:<10} {name:<22} {t[len(t) // 2] * 1e3:10.2f} {t[int(len(t) * 0.9)] * 1e3:10.2f} {t[-1] * 1e3:10.2f} {gen:>8}', flush=True)
t = []
for i in range(50):
    fd = os.open(f'{m}/d0/f0', os.O_WRONLY)
    os.pwrite(fd, b'x' * 100, 0)
    t0 = time.perf_counter(); os.fsync(fd); t.append(time.perf_counter() - t0)
    os.close(fd)
stats('rewrite+fsync', t)
t = []
for i in range(50):
    fd = os.open(f'{m}/small/n{i}', os.O_CREAT | os.O_WRONLY, 0o644)
    os.write(fd, b'y' * 100)
    t0 = time.perf_counter(); os.fsync(fd); t.append(time.perf_counter() - t0)
    os.close(fd)
stats('create+fsync', t)
PYEOF
	timeout 120 fusermount3 -u "$M"
	timeout 300 tail --pid="$PID" -f /dev/null
	PID=
done
