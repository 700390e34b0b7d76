#!/usr/bin/python3
# SPDX-License-Identifier: MIT
"""Random-operation exerciser for a mounted kvfsd, checked against a model.

Usage: exerciser.py MOUNTPOINT [--ops N] [--seed S] [--no-mmap]

Runs N random operations (create, open, write, pwrite, O_APPEND, read,
truncate, fallocate punch/zero, link, unlink, rename, renameat2 exchange,
mkdir, rmdir, readdir, stat, fsync, xattrs, reads and writes through shared
mmap(2) unless --no-mmap), including I/O on open files
that have been unlinked. Every result is compared with an in-memory model:
each read byte for byte, each expected errno exactly, sizes and link counts
from stat, directory listings. Every 5000 operations the whole tree is
compared with the model. At the end everything is removed and the daemon's
own counters (kvfs.stats) must return to one inode and zero pages: the
kernel's FORGETs and kvfsd's reference counts agree.
"""
import ctypes
import errno
import mmap
import os
import random
import subprocess
import sys
import time

libc = ctypes.CDLL(None, use_errno=True)
libc.fallocate.argtypes = [ctypes.c_int, ctypes.c_int, ctypes.c_int64, ctypes.c_int64]
libc.renameat2.argtypes = [ctypes.c_int, ctypes.c_char_p, ctypes.c_int, ctypes.c_char_p,
                           ctypes.c_uint]
PUNCH = 2 | 1       # FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE
ZERO = 0x10         # FALLOC_FL_ZERO_RANGE
RENAME_NOREPLACE = 1
RENAME_EXCHANGE = 2
MAXOFF = 256 * 1024
MAXLEN = 96 * 1024


def renameat2(a, b, flags):
    """renameat2(2) (os.rename has no flags); raises OSError like os.*."""
    if libc.renameat2(-100, a.encode(), -100, b.encode(), flags) != 0:
        e = ctypes.get_errno()
        raise OSError(e, os.strerror(e))


class Inode:
    _next = 0

    def __init__(self, kind):
        Inode._next += 1
        self.id = Inode._next
        self.kind = kind            # 'f' or 'd'
        self.data = bytearray()
        self.nlink = 1 if kind == 'f' else 2


class Exerciser:
    def __init__(self, mnt, seed):
        self.mnt = mnt
        self.rng = random.Random(seed)
        self.root = Inode('d')
        self.ns = {'': self.root}   # path -> Inode
        self.fds = []               # [fd, Inode, path-at-open, append]
        self.ops = 0
        self.bytes_verified = 0
        self.counts = {}
        self.use_mmap = True

    # -- helpers ---------------------------------------------------------
    def real(self, p):
        return os.path.join(self.mnt, p)

    def parent(self, p):
        return p.rsplit('/', 1)[0] if '/' in p else ''

    def children(self, d):
        pre = d + '/' if d else ''
        return sorted(p[len(pre):] for p in self.ns
                      if p and p.startswith(pre) and '/' not in p[len(pre):])

    def rand_dir(self):
        return self.rng.choice(['', 'd0', 'd1', 'd0/s', 'd1/s', 'd0/s/t'])

    def rand_path(self):
        d = self.rand_dir()
        n = self.rng.choice(['f0', 'f1', 'f2', 'f3', 'f4', 's', 't'])
        return f"{d}/{n}" if d else n

    def expect(self, err, fn, *args):
        """Run fn; it must fail with err (or succeed when err is None)."""
        try:
            r = fn(*args)
        except OSError as e:
            if e.errno != err:
                raise AssertionError(f"op {self.ops} {fn.__name__}{args}: got "
                                     f"{errno.errorcode.get(e.errno)}, model says "
                                     f"{errno.errorcode.get(err, 'success')}")
            return None
        if err is not None:
            raise AssertionError(f"op {self.ops} {fn.__name__}{args}: succeeded, model "
                                 f"says {errno.errorcode[err]}")
        return r

    def lookup_err(self, p):
        """errno the kernel gives for resolving p's parent, or None."""
        par = self.parent(p)
        if par not in self.ns:
            # a missing component, or a file in the middle
            parts = par.split('/')
            for i in range(1, len(parts) + 1):
                q = '/'.join(parts[:i])
                if q not in self.ns:
                    return errno.ENOENT
                if self.ns[q].kind != 'd':
                    return errno.ENOTDIR
            return errno.ENOENT
        if self.ns[par].kind != 'd':
            return errno.ENOTDIR
        return None

    def drop_name(self, p):
        ino = self.ns.pop(p)
        ino.nlink -= 1 if ino.kind == 'f' else 2
        if ino.kind == 'd':
            self.ns[self.parent(p)].nlink -= 1

    # -- operations ------------------------------------------------------
    def op_create(self):
        p = self.rand_path()
        err = self.lookup_err(p)
        if err is None and p in self.ns:
            err = errno.EEXIST
        fd = self.expect(err, os.open, self.real(p), os.O_CREAT | os.O_EXCL | os.O_RDWR, 0o644)
        if fd is not None:
            self.ns[p] = Inode('f')
            os.close(fd)

    def op_open(self):
        if len(self.fds) >= 6:
            fd = self.fds.pop(self.rng.randrange(len(self.fds)))
            os.close(fd[0])
            return
        p = self.rand_path()
        append = self.rng.random() < 0.2
        trunc = self.rng.random() < 0.1
        err = self.lookup_err(p)
        if err is None:
            if p not in self.ns:
                err = errno.ENOENT
            elif self.ns[p].kind == 'd':
                err = errno.EISDIR
        flags = os.O_RDWR | (os.O_APPEND if append else 0) | (os.O_TRUNC if trunc else 0)
        fd = self.expect(err, os.open, self.real(p), flags)
        if fd is not None:
            ino = self.ns[p]
            if trunc:
                ino.data = bytearray()
            self.fds.append([fd, ino, p, append])

    def pick_fd(self):
        return self.rng.choice(self.fds) if self.fds else None

    def write_model(self, ino, off, data):
        if off > len(ino.data):
            ino.data.extend(b'\0' * (off - len(ino.data)))
        ino.data[off:off + len(data)] = data

    def op_write(self):
        off = self.rng.randrange(MAXOFF)
        data = self.rng.randbytes(self.rng.choice([1, 7, 512, 4096, 5000, MAXLEN]))
        f = self.pick_fd()
        if f and self.rng.random() < 0.7:
            fd, ino, _, append = f
            if append:
                n = os.write(fd, data)
                off = len(ino.data)
            else:
                n = os.pwrite(fd, data, off)
            assert n == len(data), (n, len(data))
            self.write_model(ino, off, data)
            return
        p = self.rand_path()
        ino = self.ns.get(p)
        if ino is None or ino.kind != 'f':
            return
        fd = os.open(self.real(p), os.O_WRONLY)
        try:
            assert os.pwrite(fd, data, off) == len(data)
        finally:
            os.close(fd)
        self.write_model(ino, off, data)

    def verify_read(self, fd, ino, off, length):
        got = os.pread(fd, length, off)
        want = bytes(ino.data[off:off + length])
        if got != want:
            first = next((i for i in range(min(len(got), len(want)))
                          if got[i] != want[i]), min(len(got), len(want)))
            raise AssertionError(f"op {self.ops}: read {length}@{off} of inode {ino.id}: "
                                 f"{len(got)} bytes, want {len(want)}; first difference "
                                 f"at byte {off + first}")
        self.bytes_verified += len(got)

    def op_read(self):
        length = self.rng.choice([1, 100, 4096, 10000, 65536, 300000])
        f = self.pick_fd()
        if f and self.rng.random() < 0.6:
            ino = f[1]
            off = self.rng.randrange(max(1, len(ino.data) + 100))
            self.verify_read(f[0], ino, off, length)
            return
        p = self.rand_path()
        ino = self.ns.get(p)
        if ino is None or ino.kind != 'f':
            return
        fd = os.open(self.real(p), os.O_RDONLY)
        try:
            off = self.rng.randrange(max(1, len(ino.data) + 100))
            self.verify_read(fd, ino, off, length)
        finally:
            os.close(fd)

    def op_truncate(self):
        size = self.rng.choice([0, 1, 4095, 4096, 4097, self.rng.randrange(MAXOFF + MAXLEN)])
        f = self.pick_fd()
        if f and self.rng.random() < 0.5:
            os.ftruncate(f[0], size)
            ino = f[1]
        else:
            p = self.rand_path()
            ino = self.ns.get(p)
            err = self.lookup_err(p)
            if err is None:
                err = errno.ENOENT if ino is None else errno.EISDIR if ino.kind == 'd' else None
            if self.expect(err, os.truncate, self.real(p), size) is None and err:
                return
        if size < len(ino.data):
            del ino.data[size:]
        else:
            ino.data.extend(b'\0' * (size - len(ino.data)))

    def op_fallocate(self):
        f = self.pick_fd()
        if not f:
            return
        fd, ino = f[0], f[1]
        off = self.rng.randrange(MAXOFF)
        length = self.rng.randrange(1, MAXLEN)
        mode = self.rng.choice([PUNCH, ZERO, 0])
        if libc.fallocate(fd, mode, off, length) != 0:
            raise AssertionError(f"op {self.ops}: fallocate: {os.strerror(ctypes.get_errno())}")
        end = off + length
        if mode == PUNCH:
            stop = min(end, len(ino.data))
            if off < stop:
                ino.data[off:stop] = b'\0' * (stop - off)
        else:
            if end > len(ino.data):
                ino.data.extend(b'\0' * (end - len(ino.data)))
            if mode == ZERO:
                ino.data[off:end] = b'\0' * length

    def op_unlink(self):
        p = self.rand_path()
        err = self.lookup_err(p)
        if err is None:
            err = (errno.ENOENT if p not in self.ns else
                   errno.EISDIR if self.ns[p].kind == 'd' else None)
        self.expect(err, os.unlink, self.real(p))
        if err is None:
            self.drop_name(p)

    def op_link(self):
        a, b = self.rand_path(), self.rand_path()
        err = self.lookup_err(a)
        if err is None:
            err = (errno.ENOENT if a not in self.ns else None)
        if err is None:
            err = self.lookup_err(b)
        if err is None:
            err = (errno.EEXIST if b in self.ns else
                   errno.EPERM if self.ns[a].kind == 'd' else None)
        self.expect(err, os.link, self.real(a), self.real(b))
        if err is None:
            self.ns[b] = self.ns[a]
            self.ns[a].nlink += 1

    def is_under(self, p, d):
        return p == d or p.startswith(d + '/')

    def op_rename(self):
        a, b = self.rand_path(), self.rand_path()
        exchange = self.rng.random() < 0.2
        # The kernel resolves both parents before it looks at the names.
        err = self.lookup_err(a) or self.lookup_err(b)
        if err is None and a not in self.ns:
            err = errno.ENOENT
        ia, ib = self.ns.get(a), self.ns.get(b)
        # Then, in the kernel's order (do_renameat2, vfs_rename): a missing
        # target for EXCHANGE, source above target, target above source,
        # two names of one inode, types, emptiness.
        if err is None and exchange and ib is None:
            err = errno.ENOENT
        if err is None and a != b and ia is not ib:
            if ia.kind == 'd' and self.is_under(b, a):
                err = errno.EINVAL
            elif ib is not None and ib.kind == 'd' and self.is_under(a, b):
                err = errno.EINVAL if exchange else errno.ENOTEMPTY
            elif exchange:
                pass
            elif ib is not None:
                if ia.kind == 'd' and ib.kind != 'd':
                    err = errno.ENOTDIR
                elif ia.kind != 'd' and ib.kind == 'd':
                    err = errno.EISDIR
                elif ib.kind == 'd' and self.children(b):
                    err = errno.ENOTEMPTY
        if exchange:
            def rn(x, y):
                renameat2(x, y, RENAME_EXCHANGE)
            rn.__name__ = 'renameat2_exchange'
            self.expect(err, rn, self.real(a), self.real(b))
        else:
            self.expect(err, os.rename, self.real(a), self.real(b))
        if err is not None or a == b or ia is ib:
            return
        if exchange:
            moved = {}
            for p in list(self.ns):
                if self.is_under(p, a):
                    moved[b + p[len(a):]] = self.ns.pop(p)
                elif self.is_under(p, b):
                    moved[a + p[len(b):]] = self.ns.pop(p)
            self.ns.update(moved)
            pa, pb = self.parent(a), self.parent(b)
            if pa != pb and (ia.kind == 'd') != (ib.kind == 'd'):
                self.ns[pb if ia.kind == 'd' else pa].nlink += 1
                self.ns[pa if ia.kind == 'd' else pb].nlink -= 1
            return
        if ib is not None:
            self.drop_name(b)
        moved = {}
        for p in list(self.ns):
            if self.is_under(p, a):
                moved[b + p[len(a):]] = self.ns.pop(p)
        self.ns.update(moved)
        if ia.kind == 'd' and self.parent(a) != self.parent(b):
            self.ns[self.parent(a)].nlink -= 1
            self.ns[self.parent(b)].nlink += 1

    def op_mkdir(self):
        p = self.rng.choice(['d0', 'd1', 'd0/s', 'd1/s', 'd0/s/t', 'd1/t'])
        err = self.lookup_err(p)
        if err is None and p in self.ns:
            err = errno.EEXIST
        self.expect(err, os.mkdir, self.real(p))
        if err is None:
            self.ns[p] = Inode('d')
            self.ns[self.parent(p)].nlink += 1

    def op_rmdir(self):
        p = self.rng.choice(['d0', 'd1', 'd0/s', 'd1/s', 'd0/s/t', 'd1/t'])
        err = self.lookup_err(p)
        if err is None:
            err = (errno.ENOENT if p not in self.ns else
                   errno.ENOTDIR if self.ns[p].kind != 'd' else
                   errno.ENOTEMPTY if self.children(p) else None)
        self.expect(err, os.rmdir, self.real(p))
        if err is None:
            self.drop_name(p)

    def op_stat(self):
        p = self.rand_path()
        err = self.lookup_err(p)
        if err is None and p not in self.ns:
            err = errno.ENOENT
        st = self.expect(err, os.stat, self.real(p))
        if st is not None:
            ino = self.ns[p]
            if ino.kind == 'f':
                assert st.st_size == len(ino.data), (p, st.st_size, len(ino.data))
            assert st.st_nlink == ino.nlink, (self.ops, p, st.st_nlink, ino.nlink)
        f = self.pick_fd()
        if f:
            st = os.fstat(f[0])
            assert st.st_size == len(f[1].data), (self.ops, f[2], st.st_size, len(f[1].data))
            assert st.st_nlink == f[1].nlink, (self.ops, f[2], st.st_nlink, f[1].nlink)

    def op_listdir(self):
        d = self.rand_dir()
        err = None if d in self.ns and self.ns[d].kind == 'd' else (
            self.lookup_err(d + '/x') or errno.ENOENT)
        got = self.expect(err, os.listdir, self.real(d))
        if got is not None:
            assert sorted(got) == self.children(d), (self.ops, d, sorted(got), self.children(d))

    def op_mmap(self):
        """Read or write a random range through a shared mapping."""
        f = self.pick_fd()
        if not f or not self.use_mmap or not f[1].data:
            return
        fd, ino = f[0], f[1]
        size = len(ino.data)
        off = self.rng.randrange(size)
        length = self.rng.randrange(1, min(size - off, 70000) + 1)
        m = mmap.mmap(fd, size, mmap.MAP_SHARED, mmap.PROT_READ | mmap.PROT_WRITE)
        try:
            if self.rng.random() < 0.5:
                got = m[off:off + length]
                if got != bytes(ino.data[off:off + length]):
                    raise AssertionError(f"op {self.ops}: mmap read {length}@{off} of inode "
                                         f"{ino.id} differs from the model")
                self.bytes_verified += length
            else:
                data = self.rng.randbytes(length)
                m[off:off + length] = data
                ino.data[off:off + length] = data
                if self.rng.random() < 0.5:
                    m.flush()
        finally:
            m.close()

    def op_fsync(self):
        f = self.pick_fd()
        if f:
            os.fsync(f[0])

    def op_xattr(self):
        p = self.rand_path()
        ino = self.ns.get(p)
        if ino is None:
            return
        v = self.rng.randbytes(self.rng.randrange(0, 300))
        os.setxattr(self.real(p), 'user.x', v)
        assert os.getxattr(self.real(p), 'user.x') == v

    def check_all(self):
        for p, ino in self.ns.items():
            st = os.lstat(self.real(p))
            assert st.st_nlink == ino.nlink, (p, st.st_nlink, ino.nlink)
            if ino.kind == 'd':
                assert sorted(os.listdir(self.real(p))) == self.children(p), p
            else:
                with open(self.real(p), 'rb') as fh:
                    data = fh.read()
                assert data == bytes(ino.data), f"op {self.ops}: {p} differs from the model"
                self.bytes_verified += len(data)

    def run(self, n):
        table = [(self.op_create, 8), (self.op_open, 6), (self.op_write, 18),
                 (self.op_read, 20), (self.op_truncate, 5), (self.op_fallocate, 3),
                 (self.op_unlink, 6), (self.op_link, 4), (self.op_rename, 7),
                 (self.op_mkdir, 3), (self.op_rmdir, 3), (self.op_stat, 8),
                 (self.op_listdir, 3), (self.op_fsync, 1), (self.op_xattr, 1),
                 (self.op_mmap, 4)]
        fns = [f for f, _ in table]
        weights = [w for _, w in table]
        for self.ops in range(1, n + 1):
            fn = self.rng.choices(fns, weights)[0]
            self.counts[fn.__name__] = self.counts.get(fn.__name__, 0) + 1
            fn()
            if self.ops % 5000 == 0:
                self.check_all()
        self.check_all()

    def cleanup(self):
        for f in self.fds:
            os.close(f[0])
        self.fds = []
        for p in sorted(self.ns, key=lambda q: -q.count('/')):
            if not p:
                continue
            if self.ns[p].kind == 'd':
                os.rmdir(self.real(p))
            else:
                os.unlink(self.real(p))
        assert os.listdir(self.mnt) == []


def stat_counter(mnt, key):
    return int(os.getxattr(mnt, 'kvfs.stats.' + key))


def main():
    args = sys.argv[1:]
    mnt = args[0]
    n = int(args[args.index('--ops') + 1]) if '--ops' in args else 100000
    seed = int(args[args.index('--seed') + 1]) if '--seed' in args else 1
    t0 = time.monotonic()
    ex = Exerciser(mnt, seed)
    ex.use_mmap = '--no-mmap' not in args
    # --segments K --remount CMD: K runs of n operations, each followed by
    # closing every file, running CMD (unmount and mount again from the
    # image) and checking the whole tree against the model.
    segments = int(args[args.index('--segments') + 1]) if '--segments' in args else 1
    remount = args[args.index('--remount') + 1] if '--remount' in args else None
    try:
        for seg in range(segments):
            ex.run(n)
            if remount:
                for f in ex.fds:
                    os.close(f[0])
                ex.fds = []
                subprocess.run(remount, shell=True, check=True, timeout=120)
                ex.check_all()
                print(f"exerciser: segment {seg + 1}: {n} operations, remounted, "
                      f"{len(ex.ns)} names match the model")
    except (AssertionError, subprocess.CalledProcessError) as e:
        print(f"FAIL (seed {seed}, op {ex.ops}): {e}")
        print("model: " + " ".join(f"{p or '/'}:{i.kind}{i.id}" for p, i in sorted(ex.ns.items())))
        return 1
    n *= segments
    ex.cleanup()
    # The kernel sends FORGETs asynchronously: give them a moment.
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        inodes, pages = stat_counter(mnt, 'inodes'), stat_counter(mnt, 'pages')
        if inodes == 1 and pages == 0:
            break
        time.sleep(0.05)
    refs = stat_counter(mnt, 'kernel_refs')
    print(f"exerciser: seed {seed}: {n} operations in {time.monotonic() - t0:.1f} s, "
          f"{ex.bytes_verified} bytes verified; after cleanup: inodes={inodes} "
          f"pages={pages} kernel_refs={refs}")
    print("exerciser: operation mix: " +
          ", ".join(f"{k[3:]}={v}" for k, v in sorted(ex.counts.items())))
    if inodes != 1 or pages != 0:
        print("FAIL: inodes or pages still allocated after everything was removed")
        return 1
    return 0


if __name__ == '__main__':
    sys.exit(main())
