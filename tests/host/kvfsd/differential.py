#!/usr/bin/python3
# SPDX-License-Identifier: MIT
"""Differential exerciser: the same seeded random operations on kvfsd and tmpfs.

Usage: differential.py KVFS_DIR TMPFS_DIR [--ops N] [--seed S]

exerciser.py checks kvfsd against a model written by hand; a model only
catches what its author thought of. This one needs no model: every
operation runs on a kvfsd mount and on a tmpfs (the kernel's own
in-memory file system, the reference kvfsd aims at) side by side, and
the two outcomes must be the same: return values, errno names, stat
fields (type, permission bits, size, link count) and bytes read. Times
are compared only as "did this change it": both clocks tick coarsely, so
absolute values mean nothing here.

Covered: open(2) with every access mode crossed with random subsets of
O_TRUNC, O_APPEND, O_CREAT, O_EXCL, O_DIRECTORY, O_NOFOLLOW, on regular
files, directories, symlinks, FIFOs and device nodes; read, write, pread,
pwrite (O_APPEND ones too), lseek, ftruncate up and down, truncate,
fstat on files unlinked while open, link, unlink, symlink, mkfifo, mknod,
mkdir, rmdir, rename / renameat2 (RENAME_NOREPLACE, RENAME_EXCHANGE) over
existing files and directories, readdir. Both trees must be empty
directories; tmpfs should be mounted nodev like kvfsd's FUSE mount, so
that device nodes are refused the same way on both.

The seed is printed first; on a divergence the log of the last
operations is printed, enough to replay it (same seed, same --ops).
"""
import errno
import os
import random
import stat
import sys
import time

from exerciser import renameat2, RENAME_NOREPLACE, RENAME_EXCHANGE

NAMES = ['a', 'b', 'c', 'l', 'p', 'd0', 'd0/a', 'd0/b', 'd0/l', 'd0/d1', 'd0/d1/a', 'd2']
DIRS = ['d0', 'd0/d1', 'd2', 'd0/a', 'a']
ACCMODES = [os.O_RDONLY, os.O_WRONLY, os.O_RDWR]
OPEN_FLAGS = [('TRUNC', os.O_TRUNC), ('APPEND', os.O_APPEND), ('CREAT', os.O_CREAT),
              ('EXCL', os.O_EXCL), ('DIRECTORY', os.O_DIRECTORY),
              ('NOFOLLOW', os.O_NOFOLLOW)]
ACCNAMES = {os.O_RDONLY: 'RDONLY', os.O_WRONLY: 'WRONLY', os.O_RDWR: 'RDWR'}
MAXOFF = 20000
SIZES = [0, 1, 100, 4095, 4096, 4097, 12000, 70000]
LOG_TAIL = 40


class Divergence(Exception):
    pass


def outcome(fn, *args):
    """('ok', value) or ('err', errno name) of fn(*args)."""
    try:
        return ('ok', fn(*args))
    except OSError as e:
        return ('err', errno.errorcode.get(e.errno, str(e.errno)))


def stat_fields(st):
    """What must agree between the two file systems. A directory's size
    is the file system's own business (tmpfs counts entries), so it is
    left out; so are inode numbers, blocks and times."""
    size = None if stat.S_ISDIR(st.st_mode) else st.st_size
    return (stat.S_IFMT(st.st_mode), stat.S_IMODE(st.st_mode), size, st.st_nlink)


class Differential:
    def __init__(self, roots, seed):
        self.roots = roots          # [kvfsd, tmpfs]
        self.rng = random.Random(seed)
        self.slots = []             # [fd on kvfsd, fd on tmpfs, what was opened]
        self.log = []
        self.ops = 0
        self.counts = {}
        self.compared_bytes = 0

    # -- helpers ---------------------------------------------------------
    def both(self, desc, fn, normalize=None):
        """Run fn(side) on both trees; the outcomes must be equal."""
        self.log.append(f"{self.ops}: {desc}")
        res = [outcome(fn, i) for i in (0, 1)]
        if normalize:
            res = [normalize(r) for r in res]
        self.log[-1] += f" -> {self.short(res[0])}"
        if res[0] != res[1]:
            raise Divergence(f"op {self.ops}: {desc}: kvfsd {self.short(res[0])}, "
                             f"tmpfs {self.short(res[1])}")
        return res[0]

    @staticmethod
    def short(r):
        """An outcome for the log: byte strings cut to their length and
        first bytes, at any depth (a tree walk holds whole files)."""
        def cut(v):
            if isinstance(v, bytes) and len(v) > 32:
                return f"<{len(v)} bytes {v[:16]!r}...>"
            if isinstance(v, (tuple, list)):
                return '(' + ', '.join(cut(x) for x in v) + ')'
            return repr(v)
        s = cut(r)
        return s if len(s) <= 400 else s[:400] + '...'

    def path(self, side, p):
        return os.path.join(self.roots[side], p)

    def name(self):
        return self.rng.choice(NAMES)

    def slot(self):
        return self.rng.randrange(len(self.slots)) if self.slots else None

    def data(self):
        n = self.rng.choice([1, 10, 100, 4096, 5000, 20000])
        return bytes([self.rng.randrange(1, 256)]) * n

    # -- operations on names ---------------------------------------------
    def op_open(self):
        p = self.name()
        acc = self.rng.choice(ACCMODES)
        flags, names = acc, [ACCNAMES[acc]]
        for n, f in OPEN_FLAGS:
            if self.rng.random() < 0.3:
                flags |= f
                names.append(n)
        # O_NONBLOCK always: opening a FIFO must not wait for a peer.
        flags |= os.O_NONBLOCK
        if len(self.slots) >= 8:
            self.op_close()
        fds = [None, None]

        def run(side):
            fds[side] = os.open(self.path(side, p), flags, 0o640)
            return 'fd'
        r = self.both(f"open {p} {'|'.join(names)}", run)
        if r[0] == 'ok':
            self.slots.append([fds[0], fds[1], f"{p} {'|'.join(names)}"])
        else:
            for fd in fds:
                if fd is not None:
                    os.close(fd)

    def op_close(self):
        i = self.slot()
        if i is None:
            return
        s = self.slots.pop(i)
        self.log.append(f"{self.ops}: close slot {i} ({s[2]})")
        os.close(s[0])
        os.close(s[1])

    def op_stat(self):
        p = self.name()
        fn = self.rng.choice([os.stat, os.lstat])
        self.both(f"{fn.__name__} {p}", lambda s: stat_fields(fn(self.path(s, p))))

    def op_truncate(self):
        p, size = self.name(), self.rng.choice(SIZES)
        self.both(f"truncate {p} {size}", lambda s: os.truncate(self.path(s, p), size))

    def op_unlink(self):
        p = self.name()
        self.both(f"unlink {p}", lambda s: os.unlink(self.path(s, p)))

    def op_rmdir(self):
        p = self.rng.choice(DIRS)
        self.both(f"rmdir {p}", lambda s: os.rmdir(self.path(s, p)))

    def op_mkdir(self):
        p = self.rng.choice(DIRS)
        self.both(f"mkdir {p}", lambda s: os.mkdir(self.path(s, p), 0o750))

    def op_link(self):
        a, b = self.name(), self.name()
        self.both(f"link {a} {b}", lambda s: os.link(self.path(s, a), self.path(s, b)))

    def op_symlink(self):
        # Relative targets that stay inside the tree ('../a' from a name
        # at the top would reach one file shared by both sides).
        target = self.rng.choice(['a', 'd0', 'p', 'nothere', 'd1/a', 'd1'])
        p = self.name()
        self.both(f"symlink {target} {p}", lambda s: os.symlink(target, self.path(s, p)))

    def op_readlink(self):
        p = self.name()
        self.both(f"readlink {p}", lambda s: os.readlink(self.path(s, p)))

    def op_mkfifo(self):
        p = self.name()
        self.both(f"mkfifo {p}", lambda s: os.mkfifo(self.path(s, p), 0o640))

    def op_mknod(self):
        p = self.name()
        kind = self.rng.choice([stat.S_IFCHR, stat.S_IFBLK])
        dev = os.makedev(1, 3)          # /dev/null's numbers; never opened (nodev)
        self.both(f"mknod {p} {'chr' if kind == stat.S_IFCHR else 'blk'} 1:3",
                  lambda s: os.mknod(self.path(s, p), kind | 0o600, dev))

    def op_rename(self):
        a, b = self.name(), self.name()
        flags = self.rng.choice([0, 0, RENAME_NOREPLACE, RENAME_EXCHANGE])
        fname = {0: 'rename', RENAME_NOREPLACE: 'rename NOREPLACE',
                 RENAME_EXCHANGE: 'rename EXCHANGE'}[flags]
        self.both(f"{fname} {a} {b}",
                  lambda s: renameat2(self.path(s, a), self.path(s, b), flags))

    def op_listdir(self):
        d = self.rng.choice([''] + DIRS)
        self.both(f"listdir {d or '.'}", lambda s: sorted(os.listdir(self.path(s, d))))

    # -- operations on open files ----------------------------------------
    def on_slot(self, desc, fn, normalize=None, i=None):
        if i is None:
            i = self.slot()
        if i is None:
            return None
        s = self.slots[i]
        return self.both(f"{desc} slot {i} ({s[2]})", lambda side: fn(s[side]), normalize)

    def op_read(self):
        n = self.rng.choice([1, 100, 4096, 30000])
        r = self.on_slot(f"read {n}", lambda fd: os.read(fd, n))
        if r and r[0] == 'ok':
            self.compared_bytes += len(r[1])

    def op_pread(self):
        n, off = self.rng.choice([1, 100, 4096, 30000]), self.rng.randrange(MAXOFF)
        r = self.on_slot(f"pread {n}@{off}", lambda fd: os.pread(fd, n, off))
        if r and r[0] == 'ok':
            self.compared_bytes += len(r[1])

    def op_write(self):
        d = self.data()
        self.on_slot(f"write {len(d)}x{d[0]:#x}", lambda fd: os.write(fd, d))

    def op_pwrite(self):
        d, off = self.data(), self.rng.randrange(MAXOFF)
        self.on_slot(f"pwrite {len(d)}x{d[0]:#x}@{off}", lambda fd: os.pwrite(fd, d, off))

    def op_lseek(self):
        # A directory's offsets are each file system's own cookies (tmpfs
        # refuses SEEK_END, FUSE answers from the size it reported).
        i = self.slot()
        if i is None or stat.S_ISDIR(os.fstat(self.slots[i][1]).st_mode):
            return
        whence = self.rng.choice([os.SEEK_SET, os.SEEK_CUR, os.SEEK_END])
        off = self.rng.choice([0, 10, 5000, -1, -100])
        self.on_slot(f"lseek {off} {whence}", lambda fd: os.lseek(fd, off, whence), i=i)

    def op_ftruncate(self):
        size = self.rng.choice(SIZES)
        self.on_slot(f"ftruncate {size}", lambda fd: os.ftruncate(fd, size))

    def op_fstat(self):
        self.on_slot("fstat", lambda fd: stat_fields(os.fstat(fd)))

    def op_readall(self):
        """The whole file through the slot's fd, from 0: catches bytes one
        side still has and the other dropped (or never wrote)."""
        def run(fd):
            size = os.fstat(fd).st_size
            return size, os.pread(fd, size + 4096, 0)
        r = self.on_slot("fstat+pread all", run)
        if r and r[0] == 'ok':
            self.compared_bytes += len(r[1][1])

    def op_mtime(self):
        """Does ftruncate change mtime? Both sides decide the same, also
        when the size stays (Linux marks it on every truncate)."""
        i = self.slot()
        if i is None:
            return
        s = self.slots[i]
        size = self.rng.choice(SIZES)

        def run(side):
            before = os.fstat(s[side]).st_mtime_ns
            time.sleep(0.011)      # past the coarse clock's tick (HZ 100)
            os.ftruncate(s[side], size)
            return os.fstat(s[side]).st_mtime_ns != before
        self.both(f"ftruncate {size} changes mtime? slot {i} ({s[2]})", run)

    # -- the run ---------------------------------------------------------
    TABLE = [('open', 14), ('close', 4), ('stat', 6), ('truncate', 3), ('unlink', 5),
             ('rmdir', 2), ('mkdir', 3), ('link', 3), ('symlink', 2), ('readlink', 1),
             ('mkfifo', 1), ('mknod', 1), ('rename', 5), ('listdir', 2), ('read', 6),
             ('pread', 6), ('write', 7), ('pwrite', 7), ('lseek', 3), ('ftruncate', 4),
             ('fstat', 6), ('readall', 6), ('mtime', 0.2)]

    def run(self, n):
        fns = [getattr(self, 'op_' + k) for k, _ in self.TABLE]
        weights = [w for _, w in self.TABLE]
        for self.ops in range(1, n + 1):
            fn = self.rng.choices(fns, weights)[0]
            self.counts[fn.__name__[3:]] = self.counts.get(fn.__name__[3:], 0) + 1
            fn()
            if self.ops % 1000 == 0:
                self.compare_trees()
        self.compare_trees()

    def compare_trees(self):
        """Every name, its stat fields and contents, on both trees."""
        def walk(side):
            out = []
            for top, dirs, files in os.walk(self.roots[side]):
                dirs.sort()
                for n in sorted(dirs + files):
                    full = os.path.join(top, n)
                    rel = os.path.relpath(full, self.roots[side])
                    st = os.lstat(full)
                    data = None
                    if stat.S_ISREG(st.st_mode):
                        with open(full, 'rb') as fh:
                            data = fh.read()
                    out.append((rel, stat_fields(st), data))
            return out
        self.both("compare trees", walk)

    def cleanup(self):
        for s in self.slots:
            os.close(s[0])
            os.close(s[1])
        self.slots = []
        for root in self.roots:
            for top, dirs, files in os.walk(root, topdown=False):
                for n in files:
                    os.unlink(os.path.join(top, n))
                for n in dirs:
                    full = os.path.join(top, n)
                    if os.path.islink(full):
                        os.unlink(full)
                    else:
                        os.rmdir(full)


def main():
    args = sys.argv[1:]
    if len(args) < 2 or args[0] in ('-h', '--help'):
        print(__doc__)
        return 2
    n = int(args[args.index('--ops') + 1]) if '--ops' in args else 20000
    seed = int(args[args.index('--seed') + 1]) if '--seed' in args else int(time.time())
    for root in args[:2]:
        if os.listdir(root):
            print(f"differential: {root} is not empty")
            return 2
    print(f"differential: seed {seed}, {n} operations (replay: --seed {seed} --ops {n})",
          flush=True)
    t0 = time.monotonic()
    d = Differential(args[:2], seed)
    try:
        d.run(n)
    except Divergence as e:
        print(f"FAIL (seed {seed}): {e}")
        print(f"the last {LOG_TAIL} operations:")
        for line in d.log[-LOG_TAIL:]:
            print("  " + line)
        return 1
    finally:
        d.cleanup()
    print(f"differential: seed {seed}: {n} operations in {time.monotonic() - t0:.1f} s, "
          f"no divergence; {d.compared_bytes} bytes read and compared")
    print("differential: operation mix: " +
          ", ".join(f"{k}={v}" for k, v in sorted(d.counts.items())))
    return 0


if __name__ == '__main__':
    sys.exit(main())
