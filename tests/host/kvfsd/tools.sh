#!/bin/bash
# SPDX-License-Identifier: MIT
# tests/host/kvfsd: kvfsd checked by other people's tools (root + /dev/fuse).
#
# usage: tools.sh KVFSD HERE
#
#  1. fio (kvfs.fio): sequential, mixed-size, unaligned, shared-mmap,
#     O_DIRECT and parallel writes, every block read back and checked by
#     fio (crc32c, md5, xxhash); page-cache mode
#  2. the same with -o direct_io (no mmap job: shared mmap needs the page
#     cache there)
#  3. fio across a remount: written with -o image=FILE, unmounted,
#     mounted again and checked with --verify_only; then one block is
#     overwritten and the check must fail (fio's verify is not blind)
#  4. stress-ng's file-system stressors, one at a time: directories,
#     names, links, renames, xattrs, fallocate and hole punching,
#     permissions, times, locks, seeks, copy_file_range, sendfile,
#     splice, msync, readahead, device nodes. Each must exit 0 after
#     doing work: stress-ng fails a stressor on an unexpected errno or
#     result. Its --verify is passed but not relied on for data: against
#     fuse-null (tests/bench/kvfsd, which drops written bytes and reads
#     zeros) stress-ng's hdd, fpunch, msync, copy-file and splice
#     stressors still passed, where fio's verify failed with EILSEQ.
#     Data is fio's job (steps 1-3).
#  5. a deleted file's memory: into the reuse pool at once, back to the
#     system within PAGE_POOL_KEEP_SECONDS + the trimmer's period (~15 s)
#
# Each mount is unmounted and each daemon stopped on exit, also when a
# step fails (trap); kvfsd must report no leaks at each unmount. Every
# tool run is bounded with timeout.
set -u

KVFSD=$1
HERE=$2
PY=/usr/bin/python3

if [ "$(id -u)" != 0 ]; then echo "SKIP: needs root (FUSE mounts, allow_other, drop_caches)"; exit 77; fi
if [ ! -c /dev/fuse ]; then echo "SKIP: no /dev/fuse"; exit 77; fi
for t in fio stress-ng $PY; do
	command -v "$t" >/dev/null || { echo "SKIP: no $t (scripts/test.sh installs it)"; exit 77; }
done

# shellcheck source=mount-lib.sh
. "$(dirname "$0")/mount-lib.sh"
kvfs_setup tools

# fio_jobs [fio options...]: kvfs.fio on $M (bounded), its JSON report on
# stdout; the sections to run are named in the options.
fio_jobs() {
	(cd "$T" && KVFS_DIR=$M timeout 600 fio --output-format=json "$@" "$HERE/kvfs.fio")
}

# run_fio LABEL CHECK [fio options...]: fio_jobs; every job must end
# without error, and with CHECK=readback a job must have read back at
# least what it wrote (so the check really ran; CHECK=write for
# --do_verify=0).
run_fio() {
	local label=$1 check=$2; shift 2
	fio_jobs "$@" > "$T/fio.json" 2> "$T/fio.err"
	local rc=$?
	$PY - "$T/fio.json" "$label" "$rc" "$check" <<'PY' || { fail "fio: $label"; sed 's/^/  fio: /' "$T/fio.err" | head -20; }
import json, sys
path, label, rc, check = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4]
try:
    jobs = json.load(open(path))['jobs']
except (OSError, ValueError) as e:
    sys.exit(f"  {label}: no fio report ({e}), exit {rc}")
bad = 0
for j in jobs:
    w, r = j['write']['io_bytes'], j['read']['io_bytes']
    ok = j['error'] == 0 and (check != 'readback' or r >= w) and r + w > 0
    print(f"  {label}: {j['jobname']}: error {j['error']}, wrote {w >> 20} MiB, "
          f"read back {r >> 20} MiB{'' if ok else '  <-- FAILED'}")
    bad += not ok
sys.exit(1 if bad or rc else 0)
PY
}

echo "== 1. fio, page cache"
mount_kvfs allow_other,size=2g || exit 1
run_fio "page cache" readback --section=seq --section=mixed --section=unaligned \
	--section=mmap --section=odirect --section=parallel
unmount_kvfs

echo "== 2. fio, -o direct_io"
mount_kvfs allow_other,size=2g,direct_io || exit 1
run_fio direct_io readback --section=seq --section=mixed --section=unaligned \
	--section=odirect --section=parallel
unmount_kvfs

echo "== 3. fio across a remount from the image"
IMG=$T/kvfs.img
mount_kvfs allow_other,size=512m,image="$IMG" || exit 1
run_fio "before unmount" write --section=persist --do_verify=0
unmount_kvfs
mount_kvfs allow_other,image="$IMG" || exit 1
echo 3 > /proc/sys/vm/drop_caches
run_fio "after mount" read --section=persist --verify_only
# One 4 KiB block in the middle overwritten: fio must see it.
f=$(find "$M" -name 'persist*' -type f | head -1)
if [ -n "$f" ] && dd if=/dev/zero of="$f" bs=4096 seek=4000 count=1 conv=notrunc 2>/dev/null; then
	if fio_jobs --section=persist --verify_only > "$T/fio-neg.json" 2>/dev/null; then
		fail "fio --verify_only passed over an overwritten block"
	else
		echo "  overwritten block: fio --verify_only failed, as it must"
	fi
else
	fail "no fio file to overwrite"
fi
unmount_kvfs

echo "== 4. stress-ng file-system stressors"
mount_kvfs allow_other,size=2g || exit 1
# NAME:OPS, bogo operations each (bounded by --timeout as well). Not run:
# fiemap (no FS_IOC_FIEMAP over FUSE: stress-ng skips it), file-ioctl and
# inode-flags (kvfsd has no FS_IOC_* ioctls), mmap (2 bogo ops in 25 s
# here; fio's mmap job covers shared mmap).
STRESSORS="dir:200 dentry:20 link:2 symlink:2 rename:2000 xattr:3 fallocate:5
	fpunch:1 chmod:50 chown:50 utime:50 hdd:100 filename:200 lockf:2000
	fcntl:200 seek:2000 sync-file:3 copy-file:20 dirdeep:2 dirmany:5
	getdent:100 open:50 sendfile:200 splice:2000 mknod:20 msync:20
	readahead:20 iomix:200"
for s in $STRESSORS; do
	name=${s%%:*} ops=${s#*:}
	out=$(cd "$T" && timeout 120 stress-ng --temp-path "$M" --"$name" 1 --"$name"-ops "$ops" \
		--verify --timeout 30s --metrics-brief --hdd-bytes 64m --iomix-bytes 64m 2>&1)
	rc=$?
	done_ops=$(awk -v n="$name" '$2 == "metrc:" && $4 == n { print $5; exit }' <<< "$out")
	if [ "$rc" != 0 ] || [ -z "$done_ops" ] || [ "$done_ops" = 0 ]; then
		fail "stress-ng --$name: exit $rc, $done_ops bogo ops"
		grep -E "fail|error" <<< "$out" | head -5 | sed 's/^/  /'
	else
		echo "  $name: $done_ops of $ops bogo ops, exit 0"
	fi
done
[ -z "$(ls -A "$M")" ] || fail "stress-ng left files: $(ls -A "$M" | head -3)"
unmount_kvfs

echo "== 5. memory back after a delete (the page allocator's reuse pool)"
mount_kvfs allow_other,size=256m || exit 1
stat_of() {  # stat_of NAME: one of kvfsd's counters (kvfs.stats.NAME, as kvfsctl stats)
	$PY -c 'import os, sys; print(os.getxattr(sys.argv[1], "kvfs.stats." + sys.argv[2]).decode().strip())' "$M" "$1" 2>/dev/null
}
timeout 60 dd if=/dev/urandom of="$M/f" bs=1M count=64 status=none
c0=$(stat_of memory_chunks)
rm -f "$M/f"
p1=$(stat_of memory_chunks_pooled)
echo "  64 MiB written: $c0 chunks; deleted: $p1 chunks pooled"
[ "${p1:-0}" -gt 0 ] || fail "a deleted file's chunks did not go to the pool (pooled: $p1)"
t0=$(date +%s%N)
for _ in $(seq 250); do
	[ "$(stat_of memory_chunks_pooled)" = 0 ] && break
	sleep 0.1
done
ms=$((($(date +%s%N) - t0) / 1000000))
p2=$(stat_of memory_chunks_pooled) c2=$(stat_of memory_chunks)
echo "  after ${ms} ms: $p2 pooled, $c2 chunks mapped"
[ "$p2" = 0 ] && [ "${c2:-9}" -le 1 ] || fail "memory not back within 25 s: $p2 pooled, $c2 chunks"
unmount_kvfs

if [ "$FAILED" = 0 ]; then echo "PASS"; else echo "FAILED"; fi
exit $FAILED
