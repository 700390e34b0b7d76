#!/usr/bin/python3
# SPDX-License-Identifier: MIT
# Helpers for persist.sh (kvfsd -o image=FILE):
#   persist.py build MNT            a tree with every kind of inode and attribute
#   persist.py snapshot MNT OUT     every name's metadata and content, as JSON
#   persist.py compare A B          exit 1 (and say where) if two snapshots differ
#   persist.py writer MNT LOG       write files until killed; after each file's
#                                   fsync (and its directory's), append
#                                   "name sha256" to LOG
#   persist.py verify MNT LOG       every file named in LOG exists with its hash;
#                                   the whole tree can be walked and read
#   persist.py corrupt IMG WHAT     flip bytes: "supers" (both slots), "newest"
#                                   (the slot with the highest generation),
#                                   "meta" (the newest generation's first
#                                   metadata block)
import errno
import hashlib
import json
import os
import random
import stat
import struct
import sys

SUPER = struct.Struct('<8sIIQQQQQQQQII')  # struct image_super (image.h)
BLOCK = 4096


def build(m):
    os.makedirs(f'{m}/a/b/c')
    os.mkdir(f'{m}/empty', 0o700)
    rng = random.Random(5)
    for i in range(50):
        with open(f'{m}/a/b/c/f{i}', 'wb') as f:
            f.write(rng.randbytes(rng.randrange(0, 20000)))
    with open(f'{m}/big', 'wb') as f:
        f.write(rng.randbytes(3 * 1024 * 1024 + 17))
    with open(f'{m}/sparse', 'wb') as f:
        f.truncate(50 * 1024 * 1024)
        f.seek(20 * 1024 * 1024 + 5)
        f.write(b'island')
        f.seek(40 * 1024 * 1024)
        f.write(b'x' * 10000)
    os.link(f'{m}/a/b/c/f1', f'{m}/hard1')
    os.link(f'{m}/a/b/c/f1', f'{m}/a/hard2')
    os.symlink('a/b/c/f2', f'{m}/sym')
    os.symlink('x' * 4000, f'{m}/longsym')
    os.symlink('/nowhere', f'{m}/a/dangling')
    os.mkfifo(f'{m}/fifo', 0o640)
    os.mknod(f'{m}/chr', 0o600 | stat.S_IFCHR, os.makedev(1, 3))
    os.setxattr(f'{m}/a/b/c/f3', 'user.one', b'1')
    os.setxattr(f'{m}/a/b/c/f3', 'user.big', bytes(range(256)) * 200)
    os.setxattr(f'{m}/a', 'trusted.t', b'root only')
    os.setxattr(f'{m}/a/b', 'user.empty', b'')
    os.chmod(f'{m}/a/b/c/f4', 0o4751)
    os.chmod(f'{m}/a/b', 0o2775)
    os.chown(f'{m}/a/b/c/f5', 1234, 5678)
    os.lchown(f'{m}/sym', 42, 43)
    os.utime(f'{m}/a/b/c/f6', ns=(1_000_000_123, 2_000_000_456))
    for i in range(40, 50):
        os.unlink(f'{m}/a/b/c/f{i}')
    os.rename(f'{m}/a/b/c/f39', f'{m}/empty-renamed')


def snapshot(m):
    out = {}
    for dirpath, dirs, files in os.walk(m):
        for name in sorted(dirs + files) + ([] if dirpath != m else ['.']):
            p = os.path.join(dirpath, name) if name != '.' else m
            st = os.lstat(p)
            e = {k: getattr(st, k) for k in ('st_ino', 'st_mode', 'st_uid', 'st_gid',
                                             'st_nlink', 'st_size', 'st_mtime_ns',
                                             'st_ctime_ns', 'st_rdev')}
            if stat.S_ISLNK(st.st_mode):
                e['link'] = os.readlink(p)
            else:
                e['xattrs'] = {x: os.getxattr(p, x).hex() for x in sorted(os.listxattr(p))}
            if stat.S_ISREG(st.st_mode):
                with open(p, 'rb') as f:
                    e['sha'] = hashlib.sha256(f.read()).hexdigest()
                    layout, off = [], 0
                    while True:
                        try:
                            d = os.lseek(f.fileno(), off, os.SEEK_DATA)
                        except OSError:
                            break
                        h = os.lseek(f.fileno(), d, os.SEEK_HOLE)
                        layout.append([d, h])
                        off = h
                    e['layout'] = layout
            out[os.path.relpath(p, m)] = e
    return out


def write_whole(fd, data):
    """os.write all of data: True, or False when size= is reached (the
    write is cut short at the limit, or fails with ENOSPC) and the file is
    not what the log would say; the caller stops writing."""
    try:
        return os.write(fd, data) == len(data)
    except OSError as e:
        if e.errno != errno.ENOSPC:
            raise
        return False


def writer(m, log):
    rng = random.Random(os.getpid())
    os.makedirs(f'{m}/w', exist_ok=True)
    with open(log, 'a') as lf:
        i = 0
        while True:
            i += 1
            name = f'w/{os.getpid()}-{i}'
            data = rng.randbytes(rng.randrange(1, 200000))
            fd = os.open(f'{m}/{name}', os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
            if not write_whole(fd, data):
                os.close(fd)
                return
            if i % 3 == 0:
                os.fsync(fd)
                dfd = os.open(f'{m}/w', os.O_RDONLY | os.O_DIRECTORY)
                os.fsync(dfd)
                os.close(dfd)
                lf.write(f'{name} {hashlib.sha256(data).hexdigest()}\n')
                lf.flush()
            os.close(fd)
            if i % 7 == 0 and i % 3 != 0:
                os.unlink(f'{m}/{name}')  # not synced: may or may not survive


def verify(m, log):
    n = 0
    with open(log) as lf:
        for line in lf:
            name, sha = line.split()
            with open(f'{m}/{name}', 'rb') as f:
                got = hashlib.sha256(f.read()).hexdigest()
            if got != sha:
                print(f'FAIL: {name}: fsync\'ed content lost')
                return 1
            n += 1
    files = 0
    for dirpath, dirs, fs in os.walk(m):
        for name in fs:
            with open(os.path.join(dirpath, name), 'rb') as f:
                f.read()
            files += 1
    print(f'  {n} fsync\'ed files intact, {files} files readable')
    return 0


def many_state(log):
    """Replay a manywriter log: path -> sha256 of every file that exists,
    and the last operation if it never completed (None otherwise)."""
    state, pending = {}, None
    if not os.path.exists(log):
        return state, None
    with open(log) as lf:
        for line in lf:
            kind, *op = line.split()
            if kind == '?':
                pending = op
            elif kind in ('!', 'x'):
                if kind == '!':
                    apply_op(state, pending)
                pending = None
    return state, pending


def apply_op(state, op):
    if op[0] == 'put':
        state[op[1]] = op[2]
    elif op[0] == 'del':
        del state[op[1]]
    elif op[0] == 'mv':
        state[op[2]] = state.pop(op[1])


def many_writer(m, log, ndirs=200):
    """Small fsync'ed changes across many directories, for ever: create,
    overwrite, unlink, rename, each made durable by fsync before the next
    starts. Each operation is logged as '? op' before and '! op' after its
    fsync returned. Stops at a write cut short by size=."""
    rng = random.Random(os.getpid())
    state, pending = many_state(log)
    assert pending is None, 'resolve the log first (many-verify)'
    for d in range(ndirs):
        os.makedirs(f'{m}/many/d{d:03}', exist_ok=True)
    dfd = os.open(m, os.O_RDONLY | os.O_DIRECTORY)
    os.fsync(dfd)
    os.close(dfd)
    n = 0
    with open(log, 'a') as lf:
        def note(kind, op):
            lf.write(kind + ' ' + ' '.join(op) + '\n')
            lf.flush()

        def fsync_path(path, flags=os.O_RDONLY):
            fd = os.open(path, flags)
            os.fsync(fd)
            os.close(fd)
        while True:
            n += 1
            r = rng.random()
            names = list(state)
            if r < 0.5 or len(names) < 10:
                path = f'many/d{rng.randrange(ndirs):03}/f{os.getpid()}-{n}'
                r = 0.0
            else:
                path = rng.choice(names)
            if r < 0.75:
                data = rng.randbytes(rng.randrange(1, 6000))
                op = ['put', path, hashlib.sha256(data).hexdigest()]
                note('?', op)
                fd = os.open(f'{m}/{path}', os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
                if not write_whole(fd, data):
                    # No fsync and no '!': many-verify treats it like an
                    # operation cut short by the kill.
                    os.close(fd)
                    return
                os.fsync(fd)
                os.close(fd)
            elif r < 0.87:
                op = ['del', path]
                note('?', op)
                os.unlink(f'{m}/{path}')
                fsync_path(f'{m}/{os.path.dirname(path)}', os.O_RDONLY | os.O_DIRECTORY)
            else:
                new = f'many/d{rng.randrange(ndirs):03}/r{os.getpid()}-{n}'
                op = ['mv', path, new]
                note('?', op)
                os.rename(f'{m}/{path}', f'{m}/{new}')
                fsync_path(f'{m}/{os.path.dirname(new)}', os.O_RDONLY | os.O_DIRECTORY)
            note('!', op)
            apply_op(state, op)


def sha_of(path):
    try:
        with open(path, 'rb') as f:
            return hashlib.sha256(f.read()).hexdigest()
    except FileNotFoundError:
        return None


def many_verify(m, log):
    """Everything fsync'ed is there, byte for byte, and nothing deleted
    came back; the one operation cut short by the kill may have happened
    or not (the log records which)."""
    state, pending = many_state(log)
    if pending is not None:
        after = dict(state)
        apply_op(after, pending)
        paths = set(pending[1:3]) & (set(state) | set(after))
        if all(sha_of(f'{m}/{p}') == after.get(p) for p in paths):
            kind, state = '!', after
        elif all(sha_of(f'{m}/{p}') == state.get(p) for p in paths):
            kind = 'x'
        else:
            print(f'FAIL: the interrupted {pending} left a state that is neither before nor after')
            return 1
        with open(log, 'a') as lf:
            lf.write(kind + '\n' if kind == 'x' else '! ' + ' '.join(pending) + '\n')
        print(f'  the operation cut short ({pending[0]}) {"happened" if kind == "!" else "did not happen"}')
    bad = 0
    for path, sha in state.items():
        got = sha_of(f'{m}/{path}')
        if got != sha:
            print(f'FAIL: {path}: {"missing" if got is None else "wrong content"} after fsync')
            bad += 1
    on_disk = set()
    for dirpath, dirs, files in os.walk(f'{m}/many'):
        for name in files:
            on_disk.add(os.path.relpath(os.path.join(dirpath, name), m))
    extra = on_disk - set(state)
    for path in sorted(extra)[:10]:
        print(f'FAIL: {path}: deleted or renamed (fsync\'ed) but back')
    print(f'  {len(state)} fsync\'ed files intact across {len(on_disk)} on disk')
    return 1 if bad or extra else 0


def supers(img):
    out = []
    with open(img, 'rb') as f:
        for slot in (0, 1):
            f.seek(slot * BLOCK)
            out.append(SUPER.unpack(f.read(SUPER.size)))
    return out


def flip(img, off):
    with open(img, 'r+b') as f:
        f.seek(off)
        b = f.read(4)
        f.seek(off)
        f.write(bytes(x ^ 0x5a for x in b))


def corrupt(img, what):
    s = supers(img)
    newest = 0 if s[0][0] == b'KVFSIMG1' and s[0][3] > s[1][3] else 1
    if what == 'supers':
        flip(img, 24)
        flip(img, BLOCK + 24)
    elif what == 'newest':
        flip(img, newest * BLOCK + 24)
    elif what == 'meta':
        flip(img, s[newest][6] * BLOCK + 100)
    print(f'  corrupted {what} (newest generation {s[newest][3]} in slot {newest})')


def main():
    cmd, args = sys.argv[1], sys.argv[2:]
    if cmd == 'build':
        build(args[0])
    elif cmd == 'snapshot':
        with open(args[1], 'w') as f:
            json.dump(snapshot(args[0]), f, indent=0, sort_keys=True)
    elif cmd == 'compare':
        a, b = (json.load(open(x)) for x in args)
        if a != b:
            for k in sorted(set(a) | set(b)):
                if a.get(k) != b.get(k):
                    print(f'FAIL: {k}: {a.get(k)} != {b.get(k)}')
            return 1
        print(f'  {len(a)} names identical (metadata, xattrs, content, holes)')
    elif cmd == 'writer':
        writer(*args)
    elif cmd == 'verify':
        return verify(*args)
    elif cmd == 'corrupt':
        corrupt(*args)
    elif cmd == 'many-writer':
        many_writer(*args)
    elif cmd == 'many-verify':
        return many_verify(*args)
    return 0


if __name__ == '__main__':
    sys.exit(main())
