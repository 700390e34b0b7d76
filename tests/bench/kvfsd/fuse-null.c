/* SPDX-License-Identifier: MIT */
/*
 * fuse-null: the FUSE ceiling for tests/bench/kvfsd/run.sh. A file system
 * that does the least a FUSE file system can do for each request the
 * bench makes, mounted with kvfsd's settings (default_permissions, 1 MiB
 * max_read/max_write, the same entry/attr timeout, no write-back cache),
 * so that what separates it from tmpfs is the FUSE round trip and the
 * kernel's work, and what separates kvfsd from it is kvfsd's own work.
 *
 *   fuse-null [-d] MOUNTPOINT      (foreground; unmount with fusermount3 -u)
 *
 * Names and sizes only: file data is never stored. A read returns zeros
 * up to the size a write or truncate made (the bench writes /dev/zero, so
 * its reads see what a real file system would return). Each request is
 * received by polling the non-blocking /dev/fuse, yielding between tries,
 * never sleeping: the fastest way to hear the next request on this VM,
 * and the strongest form of kvfsd's own -o poll loop. A bench tool, not a
 * file system: one directory level, no permissions of its own (the
 * kernel checks them), no hard links, no xattrs, nothing persists.
 */
#define FUSE_USE_VERSION 35
#include <errno.h>
#include <fcntl.h>
#include <fuse_lowlevel.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define NULL_MAX_IO (1024 * 1024)   /* kvfsd's KVFS_MAX_IO */
#define NULL_TIMEOUT 86400.0        /* kvfsd's KVFS_TIMEOUT_DEFAULT */
#define NULL_MAX_FILE (1ULL << 40)  /* EFBIG beyond: sizes stay sane */
#define NULL_BUCKETS (1u << 18)

struct node {
	fuse_ino_t ino;
	fuse_ino_t parent;
	char *name;        /* NULL once unlinked */
	mode_t mode;
	uid_t uid;
	gid_t gid;
	uint64_t size;
	struct timespec mtime;
	struct node *next; /* hash chain */
};

struct nullfs {
	struct node **nodes; /* by inode number; 1 is the root */
	size_t n, cap;
	struct node *bucket[NULL_BUCKETS];
};

static const char zeros[NULL_MAX_IO];

static struct nullfs *fs_of(fuse_req_t req)
{
	return fuse_req_userdata(req);
}

static unsigned hash(fuse_ino_t parent, const char *name)
{
	unsigned h = (unsigned)parent * 2654435761u;

	while (*name)
		h = h * 31 + (unsigned char)*name++;
	return h & (NULL_BUCKETS - 1);
}

static struct node *node_of(struct nullfs *fs, fuse_ino_t ino)
{
	return ino < fs->n ? fs->nodes[ino] : NULL;
}

static fuse_ino_t find(struct nullfs *fs, fuse_ino_t parent, const char *name)
{
	for (struct node *x = fs->bucket[hash(parent, name)]; x; x = x->next)
		if (x->parent == parent && !strcmp(x->name, name))
			return x->ino;
	return 0;
}

static void fill_attr(struct nullfs *fs, fuse_ino_t ino, struct stat *st)
{
	const struct node *x = fs->nodes[ino];

	*st = (struct stat){ .st_ino = ino, .st_mode = x->mode, .st_uid = x->uid,
			     .st_gid = x->gid, .st_size = (off_t)x->size,
			     .st_nlink = S_ISDIR(x->mode) ? 2 : 1, .st_blksize = 4096,
			     .st_mtim = x->mtime, .st_ctim = x->mtime, .st_atim = x->mtime };
}

static void reply_entry(fuse_req_t req, fuse_ino_t ino, const struct fuse_file_info *fi)
{
	struct fuse_entry_param e = { .ino = ino, .attr_timeout = NULL_TIMEOUT,
				      .entry_timeout = NULL_TIMEOUT };

	if (ino)
		fill_attr(fs_of(req), ino, &e.attr);
	if (fi)
		fuse_reply_create(req, &e, fi);
	else
		fuse_reply_entry(req, &e);
}

/* Returns the new inode number, 0 on ENOMEM. */
static fuse_ino_t add(fuse_req_t req, fuse_ino_t parent, const char *name, mode_t mode)
{
	struct nullfs *fs = fs_of(req);
	const struct fuse_ctx *ctx = fuse_req_ctx(req);
	struct node *x;
	unsigned h;

	if (fs->n == fs->cap) {
		size_t cap = fs->cap * 2;
		struct node **nodes = realloc(fs->nodes, cap * sizeof(*nodes));

		if (!nodes)
			return 0;
		fs->nodes = nodes;
		fs->cap = cap;
	}
	x = calloc(1, sizeof(*x));
	if (!x || !(x->name = strdup(name))) {
		free(x);
		return 0;
	}
	x->ino = fs->n;
	x->parent = parent;
	x->mode = mode;
	x->uid = ctx->uid;
	x->gid = ctx->gid;
	clock_gettime(CLOCK_REALTIME, &x->mtime);
	h = hash(parent, name);
	x->next = fs->bucket[h];
	fs->bucket[h] = x;
	fs->nodes[fs->n] = x;
	return fs->n++;
}

static void drop(struct nullfs *fs, fuse_ino_t ino)
{
	struct node *x = fs->nodes[ino];
	struct node **p = &fs->bucket[hash(x->parent, x->name)];

	while (*p != x)
		p = &(*p)->next;
	*p = x->next;
	free(x->name);
	x->name = NULL; /* the kernel may still ask for its attributes */
}

static void null_init(void *userdata, struct fuse_conn_info *conn)
{
	(void)userdata;
	conn->max_write = NULL_MAX_IO;
	conn->max_read = NULL_MAX_IO;
	conn->want &= ~(unsigned)FUSE_CAP_WRITEBACK_CACHE;
}

static void null_lookup(fuse_req_t req, fuse_ino_t parent, const char *name)
{
	reply_entry(req, find(fs_of(req), parent, name), NULL);
}

static void null_getattr(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	struct stat st;

	(void)fi;
	if (!node_of(fs_of(req), ino)) {
		fuse_reply_err(req, ENOENT);
		return;
	}
	fill_attr(fs_of(req), ino, &st);
	fuse_reply_attr(req, &st, NULL_TIMEOUT);
}

static void null_setattr(fuse_req_t req, fuse_ino_t ino, struct stat *attr, int to_set,
			 struct fuse_file_info *fi)
{
	struct node *x = node_of(fs_of(req), ino);

	(void)fi;
	if (!x) {
		fuse_reply_err(req, ENOENT);
		return;
	}
	if (to_set & FUSE_SET_ATTR_SIZE) {
		if ((uint64_t)attr->st_size > NULL_MAX_FILE) {
			fuse_reply_err(req, EFBIG);
			return;
		}
		x->size = (uint64_t)attr->st_size;
	}
	if (to_set & FUSE_SET_ATTR_MODE)
		x->mode = (x->mode & S_IFMT) | (attr->st_mode & 07777);
	null_getattr(req, ino, NULL);
}

static void make(fuse_req_t req, fuse_ino_t parent, const char *name, mode_t mode,
		 struct fuse_file_info *fi)
{
	fuse_ino_t ino;

	if (find(fs_of(req), parent, name)) {
		fuse_reply_err(req, EEXIST);
		return;
	}
	ino = add(req, parent, name, mode);
	if (!ino) {
		fuse_reply_err(req, ENOMEM);
		return;
	}
	if (fi)
		fi->keep_cache = 1;
	reply_entry(req, ino, fi);
}

static void null_mkdir(fuse_req_t req, fuse_ino_t parent, const char *name, mode_t mode)
{
	make(req, parent, name, S_IFDIR | (mode & 07777), NULL);
}

static void null_create(fuse_req_t req, fuse_ino_t parent, const char *name, mode_t mode,
			struct fuse_file_info *fi)
{
	make(req, parent, name, S_IFREG | (mode & 07777), fi);
}

static void null_remove(fuse_req_t req, fuse_ino_t parent, const char *name)
{
	struct nullfs *fs = fs_of(req);
	fuse_ino_t ino = find(fs, parent, name);

	if (!ino) {
		fuse_reply_err(req, ENOENT);
		return;
	}
	drop(fs, ino);
	fuse_reply_err(req, 0);
}

static void null_open(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	struct node *x = node_of(fs_of(req), ino);

	if (!x) {
		fuse_reply_err(req, ENOENT);
		return;
	}
	if (fi->flags & O_TRUNC)
		x->size = 0;
	fi->keep_cache = 1;
	fuse_reply_open(req, fi);
}

static void null_read(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off,
		      struct fuse_file_info *fi)
{
	struct node *x = node_of(fs_of(req), ino);

	(void)fi;
	if (!x || off < 0) {
		fuse_reply_err(req, x ? EINVAL : ENOENT);
		return;
	}
	if ((uint64_t)off >= x->size)
		size = 0;
	else if (size > x->size - (uint64_t)off)
		size = (size_t)(x->size - (uint64_t)off);
	fuse_reply_buf(req, zeros, size < sizeof(zeros) ? size : sizeof(zeros));
}

static void null_write(fuse_req_t req, fuse_ino_t ino, const char *buf, size_t size,
		       off_t off, struct fuse_file_info *fi)
{
	struct node *x = node_of(fs_of(req), ino);

	(void)buf;
	(void)fi;
	if (!x || off < 0) {
		fuse_reply_err(req, x ? EINVAL : ENOENT);
		return;
	}
	if ((uint64_t)off > NULL_MAX_FILE || size > NULL_MAX_FILE - (uint64_t)off) {
		fuse_reply_err(req, EFBIG);
		return;
	}
	if ((uint64_t)off + size > x->size)
		x->size = (uint64_t)off + size;
	fuse_reply_write(req, size);
}

static void null_ok(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	(void)ino;
	(void)fi;
	fuse_reply_err(req, 0);
}

static void null_fsync(fuse_req_t req, fuse_ino_t ino, int datasync, struct fuse_file_info *fi)
{
	(void)datasync;
	null_ok(req, ino, fi);
}

static void null_opendir(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	(void)ino;
	fuse_reply_open(req, fi);
}

/* Offsets are inode numbers + 1: a scan resumes where the last one ended. */
static void null_readdir(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off,
			 struct fuse_file_info *fi)
{
	struct nullfs *fs = fs_of(req);
	char *buf = malloc(size);
	size_t used = 0;

	(void)fi;
	if (!buf) {
		fuse_reply_err(req, ENOMEM);
		return;
	}
	for (fuse_ino_t i = off > 0 ? (fuse_ino_t)off : 1; i < fs->n; i++) {
		const struct node *x = fs->nodes[i];
		struct stat st = { .st_ino = i, .st_mode = x->mode };
		size_t len;

		if (!x->name || x->parent != ino || i == ino)
			continue;
		len = fuse_add_direntry(req, buf + used, size - used, x->name, &st, (off_t)i + 1);
		if (len > size - used)
			break;
		used += len;
	}
	fuse_reply_buf(req, buf, used);
	free(buf);
}

static void null_statfs(fuse_req_t req, fuse_ino_t ino)
{
	struct statvfs sv = { .f_bsize = 4096, .f_frsize = 4096, .f_blocks = 1u << 30,
			      .f_bfree = 1u << 30, .f_bavail = 1u << 30, .f_files = 1u << 30,
			      .f_ffree = 1u << 30, .f_namemax = 255 };

	(void)ino;
	fuse_reply_statfs(req, &sv);
}

static const struct fuse_lowlevel_ops null_ops = {
	.init = null_init,
	.lookup = null_lookup,
	.getattr = null_getattr,
	.setattr = null_setattr,
	.mkdir = null_mkdir,
	.create = null_create,
	.unlink = null_remove,
	.rmdir = null_remove,
	.open = null_open,
	.read = null_read,
	.write = null_write,
	.release = null_ok,
	.fsync = null_fsync,
	.opendir = null_opendir,
	.readdir = null_readdir,
	.releasedir = null_ok,
	.statfs = null_statfs,
};

/* libfuse's loop, but polling: never sleeps while the mount is up. */
static int run(struct fuse_session *se)
{
	struct fuse_buf buf = { 0 };
	int fd = fuse_session_fd(se), r = 0;

	if (fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK) < 0)
		return -errno;
	while (!fuse_session_exited(se)) {
		r = fuse_session_receive_buf(se, &buf);
		if (r == -EAGAIN || r == -EINTR) {
			sched_yield();
			continue;
		}
		if (r <= 0)
			break;
		fuse_session_process_buf(se, &buf);
	}
	free(buf.mem);
	return r == -ENODEV || r == 0 ? 0 : r;
}

int main(int argc, char **argv)
{
	char opts[128];
	char *args[] = { argv[0], "-o", opts, NULL, NULL };
	int debug = argc == 3 && !strcmp(argv[1], "-d");
	struct fuse_args fa = FUSE_ARGS_INIT(debug ? 4 : 3, args);
	static struct nullfs fs;
	struct fuse_session *se;
	int r;

	if (argc != 2 + debug) {
		fprintf(stderr, "usage: fuse-null [-d] MOUNTPOINT\n");
		return 2;
	}
	args[3] = debug ? "-d" : NULL;
	snprintf(opts, sizeof(opts), "fsname=null,subtype=null,default_permissions,max_read=%d",
		 NULL_MAX_IO);
	fs.cap = 1024;
	fs.nodes = calloc(fs.cap, sizeof(*fs.nodes));
	fs.nodes[1] = calloc(1, sizeof(struct node));
	if (!fs.nodes || !fs.nodes[1])
		return 1;
	fs.nodes[1]->mode = S_IFDIR | 0755;
	fs.nodes[1]->name = "/";
	fs.n = 2;
	se = fuse_session_new(&fa, &null_ops, sizeof(null_ops), &fs);
	if (!se || fuse_set_signal_handlers(se) || fuse_session_mount(se, argv[1 + debug]))
		return 1;
	r = run(se);
	fuse_session_unmount(se);
	fuse_remove_signal_handlers(se);
	fuse_session_destroy(se);
	fuse_opt_free_args(&fa);
	if (r < 0)
		fprintf(stderr, "fuse-null: %s\n", strerror(-r));
	return r < 0;
}
