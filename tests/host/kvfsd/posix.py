#!/usr/bin/python3
# SPDX-License-Identifier: MIT
"""POSIX conformance tests for a mounted kvfsd.

Usage: posix.py [--small] MOUNTPOINT

Runs every test that applies to the caller: as root it also switches to
other users in forked children (ownership, permissions, sticky and setgid
directories); as an unprivileged user it runs the tests that need no
privileges. --small: the mount has size=1m,nr_inodes=64 (ENOSPC tests).
Prints one "ok"/"not ok" line per test (TAP) and exits 1 on any failure.
"""
import ctypes
import errno
import mmap
import os
import stat
import sys
import time
import traceback

libc = ctypes.CDLL(None, use_errno=True)
libc.fallocate.argtypes = [ctypes.c_int, ctypes.c_int, ctypes.c_int64, ctypes.c_int64]
libc.renameat2.argtypes = [ctypes.c_int, ctypes.c_char_p, ctypes.c_int, ctypes.c_char_p,
                           ctypes.c_uint]
libc.lseek.argtypes = [ctypes.c_int, ctypes.c_int64, ctypes.c_int]
libc.lseek.restype = ctypes.c_int64

FALLOC_FL_KEEP_SIZE = 1
FALLOC_FL_PUNCH_HOLE = 2
FALLOC_FL_ZERO_RANGE = 0x10
RENAME_NOREPLACE = 1
RENAME_EXCHANGE = 2
AT_FDCWD = -100
SEEK_DATA = 3
SEEK_HOLE = 4
MAXBYTES = 1 << 44
ROOT = os.geteuid() == 0
TICK = 0.01  # sleep so that timestamps visibly advance

MNT = None
TESTS = []


def test(fn):
    TESTS.append(fn)
    return fn


def root_only(fn):
    fn.root_only = True
    return fn


def P(*parts):
    return os.path.join(MNT, *parts)


def expect_errno(err, fn, *args, **kw):
    try:
        fn(*args, **kw)
    except OSError as e:
        assert e.errno == err, f"{fn.__name__}{args}: expected {errno.errorcode[err]}, got {errno.errorcode.get(e.errno, e.errno)}"
        return
    raise AssertionError(f"{fn.__name__}{args}: expected {errno.errorcode[err]}, succeeded")


def fallocate(fd, mode, off, length):
    if libc.fallocate(fd, mode, off, length) != 0:
        e = ctypes.get_errno()
        raise OSError(e, os.strerror(e))


def renameat2(old, new, flags):
    if libc.renameat2(AT_FDCWD, old.encode(), AT_FDCWD, new.encode(), flags) != 0:
        e = ctypes.get_errno()
        raise OSError(e, os.strerror(e))


def lseek(fd, off, whence):
    r = libc.lseek(fd, off, whence)
    if r < 0:
        e = ctypes.get_errno()
        raise OSError(e, os.strerror(e))
    return r


def write_file(path, data, mode=0o644):
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, mode)
    try:
        os.write(fd, data)
    finally:
        os.close(fd)


def read_file(path):
    with open(path, 'rb') as f:
        return f.read()


def as_user(uid, gid, fn, groups=()):
    """Run fn() in a child with the given credentials; return 0 or errno."""
    pid = os.fork()
    if pid == 0:
        code = 0
        try:
            os.setgroups(list(groups))
            os.setresgid(gid, gid, gid)
            os.setresuid(uid, uid, uid)
            fn()
        except OSError as e:
            code = e.errno
        except BaseException:
            traceback.print_exc()
            code = 255
        os._exit(code)
    _, status = os.waitpid(pid, 0)
    return os.waitstatus_to_exitcode(status)


def fresh(name):
    d = P(name)
    os.mkdir(d)
    os.chmod(d, 0o777)
    return d

# ---- files ---------------------------------------------------------------


@test
def create_open_excl():
    d = fresh('excl')
    f = os.path.join(d, 'f')
    fd = os.open(f, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o640)
    os.close(fd)
    st = os.stat(f)
    assert stat.S_ISREG(st.st_mode) and stat.S_IMODE(st.st_mode) == 0o640 & ~umask
    assert st.st_uid == os.geteuid() and st.st_gid == os.getegid()
    assert st.st_nlink == 1 and st.st_size == 0
    expect_errno(errno.EEXIST, os.open, f, os.O_CREAT | os.O_EXCL | os.O_WRONLY)
    expect_errno(errno.ENOENT, os.open, os.path.join(d, 'missing'), os.O_RDONLY)
    expect_errno(errno.ENOTDIR, os.open, os.path.join(f, 'x'), os.O_RDONLY)
    expect_errno(errno.EISDIR, os.open, d, os.O_WRONLY)


@test
def o_trunc_and_times():
    f = P('trunc')
    write_file(f, b'x' * 10000)
    st0 = os.stat(f)
    time.sleep(TICK)
    fd = os.open(f, os.O_WRONLY | os.O_TRUNC)
    os.close(fd)
    st = os.stat(f)
    assert st.st_size == 0, st.st_size
    assert st.st_mtime_ns > st0.st_mtime_ns and st.st_ctime_ns > st0.st_ctime_ns
    assert read_file(f) == b''
    # O_TRUNC on an empty file still marks mtime and ctime (POSIX open()).
    time.sleep(TICK)
    fd = os.open(f, os.O_WRONLY | os.O_TRUNC)
    os.close(fd)
    st2 = os.stat(f)
    assert st2.st_mtime_ns > st.st_mtime_ns and st2.st_ctime_ns > st.st_ctime_ns


@test
def o_rdonly_trunc():
    # Linux truncates on O_TRUNC whatever the access mode (the kernel
    # has already dropped its cached size and pages; kvfsd must drop the
    # bytes too, or they come back once the size is fetched again).
    f = P('trunc-rdonly')
    write_file(f, b'y' * 10000)
    fd = os.open(f, os.O_RDONLY | os.O_TRUNC)
    try:
        assert os.fstat(fd).st_size == 0
        with open(f, 'r+b') as w:
            w.write(b'abc')          # a write makes the kernel ask again
        assert os.fstat(fd).st_size == 3, os.fstat(fd).st_size
        assert os.pread(fd, 100, 0) == b'abc'
    finally:
        os.close(fd)


@test
def o_append():
    f = P('append')
    write_file(f, b'abc')
    fd = os.open(f, os.O_WRONLY | os.O_APPEND)
    os.lseek(fd, 0, os.SEEK_SET)
    os.write(fd, b'def')
    os.pwrite(fd, b'ghi', 0)  # Linux: pwrite on O_APPEND appends too
    os.close(fd)
    assert read_file(f) == b'abcdefghi', read_file(f)


@test
def read_write_large_unaligned():
    f = P('rw')
    data = os.urandom(3 * 1024 * 1024 + 4097)
    fd = os.open(f, os.O_RDWR | os.O_CREAT, 0o644)
    assert os.pwrite(fd, data, 123) == len(data)
    assert os.fstat(fd).st_size == 123 + len(data)
    assert os.pread(fd, 123, 0) == b'\0' * 123
    assert os.pread(fd, len(data), 123) == data
    assert os.pread(fd, 100, 123 + len(data)) == b''  # at EOF
    os.close(fd)
    os.sync()
    # A new open sees the same bytes (keep_cache must not serve stale pages).
    assert read_file(f)[123:] == data


@test
def sparse_files_and_seek():
    f = P('sparse')
    fd = os.open(f, os.O_RDWR | os.O_CREAT, 0o644)
    os.pwrite(fd, b'data', 10 * 1024 * 1024)
    st = os.fstat(fd)
    assert st.st_size == 10 * 1024 * 1024 + 4
    assert st.st_blocks == 8, st.st_blocks  # one 4 KiB page
    assert os.pread(fd, 65536, 4096) == b'\0' * 65536
    assert lseek(fd, 0, SEEK_HOLE) == 0
    assert lseek(fd, 0, SEEK_DATA) == 10 * 1024 * 1024
    assert lseek(fd, 10 * 1024 * 1024, SEEK_HOLE) == st.st_size
    expect_errno(errno.ENXIO, lseek, fd, st.st_size, SEEK_DATA)
    os.close(fd)


@test
def truncate_extend_shrink_efbig():
    f = P('truncate')
    write_file(f, b'y' * 10000)
    os.truncate(f, 5000)
    assert os.stat(f).st_size == 5000
    os.truncate(f, 20000)
    data = read_file(f)
    assert data == b'y' * 5000 + b'\0' * 15000
    expect_errno(errno.EFBIG, os.truncate, f, MAXBYTES + 1)
    fd = os.open(f, os.O_RDWR)
    expect_errno(errno.EFBIG, os.ftruncate, fd, 999999999999999999)
    expect_errno(errno.EINVAL, os.ftruncate, fd, -1)
    os.ftruncate(fd, MAXBYTES)  # exactly the limit is fine (sparse)
    assert os.fstat(fd).st_size == MAXBYTES
    os.ftruncate(fd, 0)
    os.close(fd)
    expect_errno(errno.EISDIR, os.truncate, MNT, 0)


@test
def write_efbig():
    f = P('efbig')
    fd = os.open(f, os.O_RDWR | os.O_CREAT, 0o644)
    expect_errno(errno.EFBIG, os.pwrite, fd, b'x', MAXBYTES)
    # A write that crosses the limit is cut short at it.
    assert os.pwrite(fd, b'abcdef', MAXBYTES - 2) == 2
    assert os.fstat(fd).st_size == MAXBYTES
    os.ftruncate(fd, 0)
    os.close(fd)


@test
def fallocate_modes():
    f = P('falloc')
    fd = os.open(f, os.O_RDWR | os.O_CREAT, 0o644)
    fallocate(fd, 0, 0, 1 << 20)
    st = os.fstat(fd)
    assert st.st_size == 1 << 20 and st.st_blocks == 2048, (st.st_size, st.st_blocks)
    fallocate(fd, FALLOC_FL_KEEP_SIZE, 1 << 20, 1 << 20)
    st = os.fstat(fd)
    assert st.st_size == 1 << 20 and st.st_blocks == 4096
    os.pwrite(fd, b'\xff' * 65536, 0)
    fallocate(fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, 4096, 8192)
    data = os.pread(fd, 65536, 0)
    assert data == b'\xff' * 4096 + b'\0' * 8192 + b'\xff' * (65536 - 12288)
    assert os.fstat(fd).st_blocks == 4096 - 16
    fallocate(fd, FALLOC_FL_ZERO_RANGE, 60000, 10000)
    assert os.pread(fd, 10000, 60000) == b'\0' * 10000
    assert os.fstat(fd).st_size == 1 << 20
    expect_errno(errno.EFBIG, fallocate, fd, 0, MAXBYTES, 4096)
    expect_errno(errno.EOPNOTSUPP, fallocate, fd, FALLOC_FL_PUNCH_HOLE, 0, 4096)
    expect_errno(errno.EINVAL, fallocate, fd, 0, 0, 0)
    os.close(fd)


@test
def unlinked_open_file():
    f = P('unlinked')
    write_file(f, b'still here')
    fd = os.open(f, os.O_RDWR)
    os.unlink(f)
    assert not os.path.exists(f)
    assert os.fstat(fd).st_nlink == 0
    assert os.pread(fd, 100, 0) == b'still here'
    os.pwrite(fd, b'S', 0)
    assert os.pread(fd, 100, 0) == b'Still here'
    os.close(fd)


@test
def mmap_shared():
    f = P('mmap')
    write_file(f, b'\0' * 8192)
    fd = os.open(f, os.O_RDWR)
    m = mmap.mmap(fd, 8192, mmap.MAP_SHARED)
    m[100:105] = b'hello'
    m.flush()
    m.close()
    os.close(fd)
    assert read_file(f)[100:105] == b'hello'
    # Write-back of a page dirtied through a mapping of an O_APPEND handle
    # lands at the page's offset, not at the end (a bug the exerciser found).
    fd = os.open(f, os.O_RDWR | os.O_APPEND)
    m = mmap.mmap(fd, 8192, mmap.MAP_SHARED)
    m[200:205] = b'world'
    m.flush()
    m.close()
    os.close(fd)
    data = read_file(f)
    assert len(data) == 8192, len(data)
    assert data[200:205] == b'world' and data[100:105] == b'hello'

# ---- names ----------------------------------------------------------------


@test
def hard_links():
    d = fresh('links')
    a, b = os.path.join(d, 'a'), os.path.join(d, 'b')
    write_file(a, b'shared')
    st0 = os.stat(a)
    dst0 = os.stat(d)
    time.sleep(TICK)
    os.link(a, b)
    sa, sb = os.stat(a), os.stat(b)
    assert sa.st_ino == sb.st_ino and sa.st_nlink == 2
    assert sa.st_ctime_ns > st0.st_ctime_ns, "link must update the inode's ctime"
    dst = os.stat(d)
    assert dst.st_mtime_ns > dst0.st_mtime_ns and dst.st_ctime_ns > dst0.st_ctime_ns
    write_file(b, b'changed')
    assert read_file(a) == b'changed'
    expect_errno(errno.EEXIST, os.link, a, b)
    expect_errno(errno.EPERM, os.link, d, os.path.join(d, 'dirlink'))
    expect_errno(errno.ENOENT, os.link, os.path.join(d, 'none'), os.path.join(d, 'x'))
    time.sleep(TICK)
    os.unlink(a)
    sb2 = os.stat(b)
    assert sb2.st_nlink == 1 and sb2.st_ctime_ns > sa.st_ctime_ns
    assert read_file(b) == b'changed'


@test
def symlinks():
    d = fresh('sym')
    t = os.path.join(d, 'target')
    write_file(t, b'T')
    s = os.path.join(d, 's')
    os.symlink('target', s)
    st = os.lstat(s)
    assert stat.S_ISLNK(st.st_mode) and st.st_size == len('target')
    assert os.readlink(s) == 'target'
    assert read_file(s) == b'T'
    os.symlink('/nonexistent/x', os.path.join(d, 'dangling'))
    assert not os.path.exists(os.path.join(d, 'dangling'))
    expect_errno(errno.EEXIST, os.symlink, 'x', s)
    long_target = 'a/' * 2047 + 'b'  # 4095 bytes
    os.symlink(long_target, os.path.join(d, 'long'))
    assert os.readlink(os.path.join(d, 'long')) == long_target
    expect_errno(errno.ENAMETOOLONG, os.symlink, 'x' * 4096, os.path.join(d, 'toolong'))
    expect_errno(errno.EINVAL, os.readlink, t)


@test
def mkdir_rmdir():
    d = fresh('dirs')
    n0 = os.stat(d).st_nlink
    os.mkdir(os.path.join(d, 'a'), 0o750)
    st = os.stat(os.path.join(d, 'a'))
    assert stat.S_ISDIR(st.st_mode) and stat.S_IMODE(st.st_mode) == 0o750 & ~umask
    assert st.st_nlink == 2
    assert os.stat(d).st_nlink == n0 + 1
    expect_errno(errno.EEXIST, os.mkdir, os.path.join(d, 'a'))
    write_file(os.path.join(d, 'a', 'f'), b'')
    expect_errno(errno.ENOTEMPTY, os.rmdir, os.path.join(d, 'a'))
    expect_errno(errno.ENOTDIR, os.rmdir, os.path.join(d, 'a', 'f'))
    expect_errno(errno.EISDIR, os.unlink, os.path.join(d, 'a'))
    expect_errno(errno.EINVAL, os.rmdir, os.path.join(d, 'a', '.'))
    os.unlink(os.path.join(d, 'a', 'f'))
    os.rmdir(os.path.join(d, 'a'))
    assert os.stat(d).st_nlink == n0
    expect_errno(errno.ENOENT, os.rmdir, os.path.join(d, 'a'))


@test
def name_max():
    d = fresh('namemax')
    ok = 'n' * 255
    bad = 'n' * 256
    write_file(os.path.join(d, ok), b'')
    for fn, args in [(os.open, (os.path.join(d, bad), os.O_CREAT | os.O_WRONLY)),
                     (os.mkdir, (os.path.join(d, bad),)),
                     (os.symlink, ('x', os.path.join(d, bad))),
                     (os.link, (os.path.join(d, ok), os.path.join(d, bad))),
                     (os.rename, (os.path.join(d, ok), os.path.join(d, bad))),
                     (os.mkfifo, (os.path.join(d, bad),)),
                     (os.unlink, (os.path.join(d, bad),)),
                     (os.stat, (os.path.join(d, bad),))]:
        expect_errno(errno.ENAMETOOLONG, fn, *args)


@test
def rename_basic_and_errors():
    d = fresh('ren')
    a, b = os.path.join(d, 'a'), os.path.join(d, 'b')
    write_file(a, b'A')
    st0 = os.stat(a)
    time.sleep(TICK)
    os.rename(a, b)
    assert not os.path.exists(a) and read_file(b) == b'A'
    assert os.stat(b).st_ctime_ns > st0.st_ctime_ns  # Linux updates ctime
    write_file(a, b'A2')
    os.rename(a, b)  # replace
    assert read_file(b) == b'A2'
    os.mkdir(os.path.join(d, 'd1'))
    os.mkdir(os.path.join(d, 'd2'))
    write_file(os.path.join(d, 'd2', 'x'), b'')
    expect_errno(errno.ENOTEMPTY, os.rename, os.path.join(d, 'd1'), os.path.join(d, 'd2'))
    expect_errno(errno.EISDIR, os.rename, b, os.path.join(d, 'd1'))
    expect_errno(errno.ENOTDIR, os.rename, os.path.join(d, 'd1'), b)
    expect_errno(errno.EINVAL, os.rename, os.path.join(d, 'd2'), os.path.join(d, 'd2', 'sub'))
    expect_errno(errno.ENOENT, os.rename, os.path.join(d, 'nope'), b)
    os.mkdir(os.path.join(d, 'd3'))
    os.rename(os.path.join(d, 'd1'), os.path.join(d, 'd3'))  # over an empty dir
    assert os.path.isdir(os.path.join(d, 'd3')) and not os.path.exists(os.path.join(d, 'd1'))
    # Hard links to one inode: rename is a no-op and both names stay.
    os.link(b, os.path.join(d, 'b2'))
    os.rename(b, os.path.join(d, 'b2'))
    assert os.path.exists(b) and os.path.exists(os.path.join(d, 'b2'))
    # Moving a directory moves its ".." link.
    n2, n3 = os.stat(os.path.join(d, 'd2')).st_nlink, os.stat(os.path.join(d, 'd3')).st_nlink
    os.mkdir(os.path.join(d, 'd2', 'sub'))
    os.rename(os.path.join(d, 'd2', 'sub'), os.path.join(d, 'd3', 'sub'))
    assert os.stat(os.path.join(d, 'd2')).st_nlink == n2
    assert os.stat(os.path.join(d, 'd3')).st_nlink == n3 + 1
    assert os.stat(os.path.join(d, 'd3', 'sub', '..')).st_ino == os.stat(os.path.join(d, 'd3')).st_ino


@test
def rename_noreplace_exchange():
    d = fresh('ren2')
    a, b = os.path.join(d, 'a'), os.path.join(d, 'b')
    write_file(a, b'A')
    write_file(b, b'B')
    expect_errno(errno.EEXIST, renameat2, a, b, RENAME_NOREPLACE)
    renameat2(a, os.path.join(d, 'c'), RENAME_NOREPLACE)
    renameat2(os.path.join(d, 'c'), a, 0)
    renameat2(a, b, RENAME_EXCHANGE)
    assert read_file(a) == b'B' and read_file(b) == b'A'
    expect_errno(errno.ENOENT, renameat2, a, os.path.join(d, 'none'), RENAME_EXCHANGE)
    expect_errno(errno.EINVAL, renameat2, a, b, RENAME_EXCHANGE | RENAME_NOREPLACE)
    # Exchange a file and a directory in different parents: nlinks move.
    os.mkdir(os.path.join(d, 'p1'))
    os.mkdir(os.path.join(d, 'p2'))
    os.mkdir(os.path.join(d, 'p1', 'dir'))
    write_file(os.path.join(d, 'p2', 'file'), b'F')
    n1, n2 = os.stat(os.path.join(d, 'p1')).st_nlink, os.stat(os.path.join(d, 'p2')).st_nlink
    renameat2(os.path.join(d, 'p1', 'dir'), os.path.join(d, 'p2', 'file'), RENAME_EXCHANGE)
    assert os.path.isdir(os.path.join(d, 'p2', 'file'))
    assert read_file(os.path.join(d, 'p1', 'dir')) == b'F'
    assert os.stat(os.path.join(d, 'p1')).st_nlink == n1 - 1
    assert os.stat(os.path.join(d, 'p2')).st_nlink == n2 + 1
    expect_errno(errno.EINVAL, renameat2, os.path.join(d, 'p2'),
                 os.path.join(d, 'p2', 'file'), RENAME_EXCHANGE)


@test
def mknod_fifo_socket():
    d = fresh('nodes')
    os.mkfifo(os.path.join(d, 'fifo'), 0o600)
    assert stat.S_ISFIFO(os.stat(os.path.join(d, 'fifo')).st_mode)
    os.mknod(os.path.join(d, 'sock'), stat.S_IFSOCK | 0o600)
    assert stat.S_ISSOCK(os.stat(os.path.join(d, 'sock')).st_mode)
    expect_errno(errno.EEXIST, os.mkfifo, os.path.join(d, 'fifo'))
    if ROOT:
        os.mknod(os.path.join(d, 'null'), stat.S_IFCHR | 0o666, os.makedev(1, 3))
        st = os.stat(os.path.join(d, 'null'))
        assert stat.S_ISCHR(st.st_mode) and st.st_rdev == os.makedev(1, 3)
        os.mknod(os.path.join(d, 'blk'), stat.S_IFBLK | 0o600, os.makedev(259, 70000 & 0xfffff))
        assert os.stat(os.path.join(d, 'blk')).st_rdev == os.makedev(259, 70000 & 0xfffff)
    else:
        expect_errno(errno.EPERM, os.mknod, os.path.join(d, 'null'), stat.S_IFCHR | 0o666,
                     os.makedev(1, 3))


@test
def readdir_many():
    d = fresh('readdir')
    names = {f'entry-{i:05d}' for i in range(3000)}
    for n in names:
        write_file(os.path.join(d, n), b'')
    os.mkdir(os.path.join(d, 'subdir'))
    got = {}
    with os.scandir(d) as it:
        for e in it:
            assert e.name not in got, f"{e.name} listed twice"
            got[e.name] = e
    assert set(got) == names | {'subdir'}
    assert got['subdir'].is_dir() and got['entry-00001'].is_file()
    assert got['entry-00001'].inode() == os.stat(os.path.join(d, 'entry-00001')).st_ino
    # Removing entries while a directory stream is open: each remaining
    # entry is still seen exactly once.
    fd = os.open(d, os.O_RDONLY | os.O_DIRECTORY)
    seen = []
    with os.scandir(fd) as it:
        for i, e in enumerate(it):
            seen.append(e.name)
            if i == 10:
                for n in sorted(names)[2000:]:
                    os.unlink(os.path.join(d, n))
    os.close(fd)
    assert len(seen) == len(set(seen))
    assert set(sorted(names)[:2000]) <= set(seen)
    for n in sorted(names)[:2000]:
        os.unlink(os.path.join(d, n))
    assert os.listdir(d) == ['subdir']

# ---- timestamps -----------------------------------------------------------


@test
def timestamps():
    d = fresh('times')
    f = os.path.join(d, 'f')
    t0 = time.time_ns()
    write_file(f, b'')
    st = os.stat(f)
    assert st.st_atime_ns == st.st_mtime_ns == st.st_ctime_ns
    assert abs(st.st_mtime_ns - t0) < 5_000_000_000
    time.sleep(TICK)
    # write: mtime and ctime, not atime
    fd = os.open(f, os.O_WRONLY)
    os.write(fd, b'12345')
    os.close(fd)
    st2 = os.stat(f)
    assert st2.st_mtime_ns > st.st_mtime_ns and st2.st_ctime_ns > st.st_ctime_ns
    assert st2.st_atime_ns == st.st_atime_ns
    time.sleep(TICK)
    # chmod: ctime only
    os.chmod(f, 0o600)
    st3 = os.stat(f)
    assert st3.st_ctime_ns > st2.st_ctime_ns and st3.st_mtime_ns == st2.st_mtime_ns
    # utimensat: explicit times, ctime = now
    os.utime(f, ns=(1_000_000_123, 2_000_000_456))
    st4 = os.stat(f)
    assert st4.st_atime_ns == 1_000_000_123 and st4.st_mtime_ns == 2_000_000_456
    assert st4.st_ctime_ns >= st3.st_ctime_ns
    os.utime(f)  # both now
    st5 = os.stat(f)
    assert st5.st_mtime_ns > 2_000_000_456 and st5.st_atime_ns > 1_000_000_123
    # read: atime by the relatime rule (atime <= mtime here, so it moves)
    os.utime(f, ns=(1_000_000_000, 2_000_000_000))
    fd = os.open(f, os.O_RDONLY)
    os.read(fd, 5)
    os.close(fd)
    st6 = os.stat(f)
    assert st6.st_atime_ns > 2_000_000_000, "read must update atime (relatime)"
    # directory entries change the parent's mtime and ctime
    dst = os.stat(d)
    time.sleep(TICK)
    os.rename(f, os.path.join(d, 'g'))
    dst2 = os.stat(d)
    assert dst2.st_mtime_ns > dst.st_mtime_ns and dst2.st_ctime_ns > dst.st_ctime_ns
    time.sleep(TICK)
    os.unlink(os.path.join(d, 'g'))
    dst3 = os.stat(d)
    assert dst3.st_mtime_ns > dst2.st_mtime_ns
    # truncate marks mtime and ctime, to a new size and to the same one
    # (Linux's do_truncate() and tmpfs; POSIX only asks for a new size)
    write_file(f, b'abc')
    s1 = os.stat(f)
    for size in (10, 10):
        time.sleep(TICK)
        os.truncate(f, size)
        s2 = os.stat(f)
        assert s2.st_mtime_ns > s1.st_mtime_ns and s2.st_ctime_ns > s1.st_ctime_ns, size
        s1 = s2

# ---- xattrs ----------------------------------------------------------------


@test
def xattrs():
    f = P('xattr')
    write_file(f, b'')
    os.setxattr(f, 'user.one', b'1')
    os.setxattr(f, 'user.two', b'22', os.XATTR_CREATE)
    expect_errno(errno.EEXIST, os.setxattr, f, 'user.two', b'x', os.XATTR_CREATE)
    expect_errno(errno.ENODATA, os.setxattr, f, 'user.three', b'x', os.XATTR_REPLACE)
    os.setxattr(f, 'user.two', b'222', os.XATTR_REPLACE)
    assert os.getxattr(f, 'user.two') == b'222'
    assert set(os.listxattr(f)) >= {'user.one', 'user.two'}
    expect_errno(errno.ENODATA, os.getxattr, f, 'user.none')
    big = os.urandom(65536)
    os.setxattr(f, 'user.big', big)
    assert os.getxattr(f, 'user.big') == big
    expect_errno(errno.E2BIG, os.setxattr, f, 'user.huge', b'x' * 65537)
    os.setxattr(f, 'user.empty', b'')
    assert os.getxattr(f, 'user.empty') == b''
    os.removexattr(f, 'user.one')
    expect_errno(errno.ENODATA, os.removexattr, f, 'user.one')
    expect_errno(errno.EOPNOTSUPP, os.setxattr, f, 'bogus.x', b'1')
    os.symlink('xattr', P('xattr-link'))
    expect_errno(errno.EPERM, os.setxattr, P('xattr-link'), 'user.x', b'1',
                 follow_symlinks=False)
    st = os.stat(f)
    time.sleep(TICK)
    os.setxattr(f, 'user.one', b'again')
    assert os.stat(f).st_ctime_ns > st.st_ctime_ns
    if ROOT:
        os.setxattr(f, 'trusted.t', b'T')
        assert os.getxattr(f, 'trusted.t') == b'T'
        assert 'trusted.t' in os.listxattr(f)
        os.setxattr(f, 'security.s', b'S')
        assert os.getxattr(f, 'security.s') == b'S'
    else:
        expect_errno(errno.EPERM, os.setxattr, f, 'trusted.t', b'T')


@test
def stats_xattr():
    stats = os.getxattr(MNT, 'kvfs.stats').decode()
    keys = dict(line.split() for line in stats.strip().split('\n'))
    for k in ['inodes', 'dentries', 'dentries_positive', 'dentries_negative', 'dcache_hits',
              'dcache_misses', 'pages_dirty', 'bytes_used']:
        assert k in keys, k
    assert int(os.getxattr(MNT, 'kvfs.stats.inodes')) >= 1
    expect_errno(errno.ENODATA, os.getxattr, MNT, 'kvfs.stats.nope')
    assert not any(x.startswith('kvfs.') for x in os.listxattr(MNT))
    expect_errno(errno.EPERM, os.setxattr, MNT, 'kvfs.stats.inodes', b'0')


@test
def statfs():
    sv = os.statvfs(MNT)
    assert sv.f_bsize == 4096 and sv.f_namemax == 255
    f = P('statfs')
    free0 = sv.f_bfree
    write_file(f, b'z' * (1 << 20))
    assert os.statvfs(MNT).f_bfree == free0 - 256
    os.unlink(f)
    assert os.statvfs(MNT).f_bfree == free0

# ---- ownership and permissions (root switches users in children) ---------


U1, U2, G1 = 61001, 61002, 61010


@test
@root_only
def ownership_from_caller():
    d = fresh('own')

    def mk():
        write_file(os.path.join(d, 'u1file'), b'', 0o644)
        os.mkdir(os.path.join(d, 'u1dir'))
    assert as_user(U1, G1, mk) == 0
    st = os.stat(os.path.join(d, 'u1file'))
    assert (st.st_uid, st.st_gid) == (U1, G1)
    st = os.stat(os.path.join(d, 'u1dir'))
    assert (st.st_uid, st.st_gid) == (U1, G1)
    # only root changes owners; the owner may change the group to one of his
    assert as_user(U1, G1, lambda: os.chown(os.path.join(d, 'u1file'), U2, -1)) == errno.EPERM
    assert as_user(U1, G1, lambda: os.chown(os.path.join(d, 'u1file'), -1, 4242)) == errno.EPERM
    assert as_user(U1, G1, lambda: os.chown(os.path.join(d, 'u1file'), -1, 4242),
                   groups=[4242]) == 0
    assert os.stat(os.path.join(d, 'u1file')).st_gid == 4242
    assert as_user(U2, G1, lambda: os.chmod(os.path.join(d, 'u1file'), 0o777)) == errno.EPERM
    os.chown(os.path.join(d, 'u1file'), U2, G1)
    assert os.stat(os.path.join(d, 'u1file')).st_uid == U2
    # chown clears setuid/setgid of an executable
    os.chmod(os.path.join(d, 'u1file'), 0o6755)
    os.chown(os.path.join(d, 'u1file'), U1, G1)
    assert stat.S_IMODE(os.stat(os.path.join(d, 'u1file')).st_mode) & 0o6000 == 0


@test
@root_only
def permissions_enforced():
    d = fresh('perm')
    f = os.path.join(d, 'secret')
    write_file(f, b'secret', 0o600)
    assert as_user(U1, G1, lambda: read_file(f)) == errno.EACCES
    assert as_user(U1, G1, lambda: write_file(f, b'x')) == errno.EACCES
    os.chmod(f, 0o604)
    assert as_user(U1, G1, lambda: read_file(f)) == 0
    os.mkdir(os.path.join(d, 'closed'), 0o700)
    assert as_user(U1, G1, lambda: os.listdir(os.path.join(d, 'closed'))) == errno.EACCES
    assert as_user(U1, G1, lambda: write_file(os.path.join(d, 'closed', 'x'), b'')) == errno.EACCES
    os.chmod(os.path.join(d, 'closed'), 0o755)
    assert as_user(U1, G1, lambda: write_file(os.path.join(d, 'closed', 'x'), b'')) == errno.EACCES
    # a write by someone else clears setuid
    g = os.path.join(d, 'suid')
    write_file(g, b'', 0o4777)
    os.chmod(g, 0o4777)
    assert as_user(U1, G1, lambda: write_file(g, b'x')) == 0
    assert stat.S_IMODE(os.stat(g).st_mode) & 0o4000 == 0


@test
@root_only
def sticky_directory():
    d = fresh('sticky')
    os.chmod(d, 0o1777)
    assert as_user(U1, G1, lambda: write_file(os.path.join(d, 'mine'), b'')) == 0
    assert as_user(U2, G1, lambda: os.unlink(os.path.join(d, 'mine'))) == errno.EPERM
    assert as_user(U2, G1, lambda: os.rename(os.path.join(d, 'mine'),
                                             os.path.join(d, 'stolen'))) == errno.EPERM
    assert as_user(U2, G1, lambda: write_file(os.path.join(d, 'his'), b'')) == 0
    assert as_user(U1, G1, lambda: os.rename(os.path.join(d, 'mine'),
                                             os.path.join(d, 'his'))) == errno.EPERM
    assert as_user(U1, G1, lambda: os.unlink(os.path.join(d, 'mine'))) == 0
    os.unlink(os.path.join(d, 'his'))  # root may


@test
@root_only
def setgid_directory():
    d = fresh('sgid')
    os.chown(d, 0, 4343)
    os.chmod(d, 0o2777)
    assert as_user(U1, G1, lambda: (write_file(os.path.join(d, 'f'), b''),
                                    os.mkdir(os.path.join(d, 'sub')))) == 0
    assert os.stat(os.path.join(d, 'f')).st_gid == 4343
    st = os.stat(os.path.join(d, 'sub'))
    assert st.st_gid == 4343 and st.st_mode & stat.S_ISGID
    # chmod g+s by the owner who is not in the file's group: dropped silently
    assert as_user(U1, G1, lambda: os.chmod(os.path.join(d, 'f'), 0o2755)) == 0
    assert os.stat(os.path.join(d, 'f')).st_mode & stat.S_ISGID == 0
    assert as_user(U1, G1, lambda: os.chmod(os.path.join(d, 'f'), 0o2755), groups=[4343]) == 0
    assert os.stat(os.path.join(d, 'f')).st_mode & stat.S_ISGID


@test
def unprivileged_limits():
    """What an unprivileged caller may not do (skipped as root)."""
    if ROOT:
        return
    expect_errno(errno.EPERM, os.setxattr, MNT, 'trusted.x', b'1')
    f = P('mine')
    write_file(f, b'')
    expect_errno(errno.EPERM, os.chown, f, 0, 0)
    expect_errno(errno.EPERM, os.setxattr, MNT, 'kvfs.ctl.drop_caches', b'1')

# ---- ENOSPC (only with --small: size=1m,nr_inodes=64) ----------------------


def enospc():
    sv = os.statvfs(MNT)
    assert sv.f_blocks == 256, sv.f_blocks
    assert sv.f_files == 64
    f = P('fill')
    fd = os.open(f, os.O_WRONLY | os.O_CREAT, 0o644)
    total = 0
    try:
        while True:
            total += os.write(fd, b'x' * 65536)
    except OSError as e:
        assert e.errno == errno.ENOSPC, e
    os.close(fd)
    assert total == sv.f_bfree * 4096, (total, sv.f_bfree)
    assert os.statvfs(MNT).f_bfree == 0
    fd = os.open(f, os.O_RDWR)
    expect_errno(errno.ENOSPC, fallocate, fd, 0, total, 4096)
    os.close(fd)
    os.unlink(f)
    assert os.statvfs(MNT).f_bfree == sv.f_bfree
    names = []
    try:
        for i in range(100):
            write_file(P(f'i{i}'), b'')
            names.append(P(f'i{i}'))
    except OSError as e:
        assert e.errno == errno.ENOSPC, e
    assert len(names) == 63, len(names)  # the root is one of 64
    for n in names:
        os.unlink(n)


def main():
    global MNT, umask
    args = sys.argv[1:]
    small = '--small' in args
    args = [a for a in args if a != '--small']
    MNT = args[0]
    umask = os.umask(0o022)
    os.umask(umask)
    tests = [enospc] if small else TESTS
    failed = 0
    print(f"1..{len(tests)}")
    for i, t in enumerate(tests, 1):
        if getattr(t, 'root_only', False) and not ROOT:
            print(f"ok {i} {t.__name__} # SKIP needs root")
            continue
        try:
            t()
            print(f"ok {i} {t.__name__}")
        except Exception as e:
            failed += 1
            print(f"not ok {i} {t.__name__}: {e}")
            traceback.print_exc(file=sys.stdout)
    who = 'root' if ROOT else f'uid {os.geteuid()}'
    print(f"# {len(tests) - failed}/{len(tests)} passed as {who}")
    return 1 if failed else 0


if __name__ == '__main__':
    sys.exit(main())
