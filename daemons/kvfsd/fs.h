/* SPDX-License-Identifier: MIT */
/*
 * kvfsd's VFS objects, shaped and named after the kernel's
 * (include/linux/fs.h): the super_block, the inode, the open file and the
 * address space of a file's pages, each with its operations table. The
 * dentry cache has its own header (dcache.h), as in the kernel.
 *
 * Map (one concern per file):
 *   super.c          struct super_block, super_operations, block/inode limits
 *   inode.c          struct inode, reference counts, inode_operations
 *   dentry.c         the dentry cache: hash, children, LRU of negative entries
 *   namei.c          vfs_*(): name checks, then the inode_operations
 *   file.c           struct file, file_operations
 *   address_space.c  the page tree of a file, dirty tags, write-back
 *   page_alloc.c     page frames for file data, from 2 MiB chunks
 *   xattr.c          extended attributes users store
 *   image*.c         optional image file (image-internal.h has the map)
 *   stats.c          kvfs.stats.* and kvfs.ctl.drop_caches on the root (stats.h),
 *                    a floor above the objects it reports on
 *   fuse-ops.c       libfuse low-level requests -> the calls above
 *
 * Locking: kvfsd processes one FUSE request at a time: its request threads
 * take turns under one lock (struct kvfs.lock, see kvfs.h), so every field
 * below is guarded by that lock and no object carries a lock of its own.
 * The unit tests call in from a single thread.
 *
 * Errors: every function returns 0 (or a count) on success, -errno on failure.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/types.h>
#include <sys/uio.h>
#include <time.h>

#define KVFS_PAGE_SHIFT 12
#define KVFS_PAGE_SIZE (UINT64_C(1) << KVFS_PAGE_SHIFT)
#define KVFS_NAME_MAX 255                      /* bytes of one name */
#define KVFS_SYMLINK_MAX 4095                  /* bytes of a symlink target */
#define KVFS_LINK_MAX 65000                    /* hard links per inode */
#define KVFS_MAXBYTES_DEFAULT (UINT64_C(1) << 44) /* 16 TiB, as ext4 */
#define KVFS_XATTR_NAME_MAX 255
#define KVFS_XATTR_SIZE_MAX 65536              /* one value, as the kernel's */
#define KVFS_XATTR_LIST_MAX 65536              /* all names of one inode */
#define KVFS_XATTR_INODE_MAX (256 * 1024)      /* names + values of one inode */

struct dentry;
struct dcache;
struct inode;
struct super_block;
struct file;
struct xattr;
struct address_space;

/* The caller of a request (the kernel's current_cred()). */
struct cred {
	uid_t fsuid;
	gid_t fsgid;
	bool capable;     /* may act as root: uid 0 */
	const gid_t *groups; /* supplementary groups, may be NULL when unknown */
	int ngroups;
};

/* ---- address space: a file's pages (address_space.c) ------------------ */

struct radix_node;

struct address_space_operations {
	/* Write one dirty page to the backing store: the image file's
	 * copy-on-write (image-alloc.c), or NULL in memory-only mode, where
	 * write-back just cleans the tag. */
	int (*writepage)(struct address_space *mapping, uint64_t index, void *page);
};

struct address_space {
	struct inode *host;
	const struct address_space_operations *a_ops;
	struct radix_node *root;  /* page index -> page; NULL slots are holes */
	unsigned height;          /* levels of the tree; 0 when empty */
	uint64_t nrpages;         /* pages present */
	uint64_t nrdirty;         /* pages tagged dirty */
};

/* A list of byte ranges pointing into pages (ITER_KVEC): what a read
 * replies with, or what a write fills. */
struct iov_iter {
	struct iovec *iov;
	unsigned nr;              /* used */
	unsigned max;             /* capacity */
};

void mapping_init(struct address_space *mapping, struct inode *host);
void *mapping_find_page(const struct address_space *mapping, uint64_t index);
int mapping_write(struct address_space *mapping, uint64_t pos, const void *buf, size_t len,
		  size_t *written);
int mapping_write_begin(struct address_space *mapping, uint64_t pos, size_t len,
			struct iov_iter *to, size_t *reserved);
void iov_fill(const struct iov_iter *to, const void *buf, size_t len);
ssize_t mapping_read(const struct address_space *mapping, uint64_t pos, size_t len,
		     struct iov_iter *to);
int mapping_truncate(struct address_space *mapping, uint64_t start, uint64_t end);
int mapping_allocate(struct address_space *mapping, uint64_t start, uint64_t end);
uint64_t mapping_pages_missing(const struct address_space *mapping, uint64_t start,
			       uint64_t end);
int mapping_writeback(struct address_space *mapping);
int64_t mapping_seek(const struct address_space *mapping, uint64_t pos, uint64_t size,
		     int whence);
void mapping_release(struct address_space *mapping);
bool mapping_page_dirty(const struct address_space *mapping, uint64_t index);
/* Call @fn for every present page in index order; stops at the first
 * non-zero return and returns it. */
int mapping_for_each_page(const struct address_space *mapping,
			  int (*fn)(uint64_t index, void *page, void *userdata), void *userdata);

/* ---- inode (inode.c) ---------------------------------------------------- */

/* struct iattr: what a setattr changes (include/linux/fs.h). */
#define ATTR_MODE      (1u << 0)
#define ATTR_UID       (1u << 1)
#define ATTR_GID       (1u << 2)
#define ATTR_SIZE      (1u << 3)
#define ATTR_ATIME     (1u << 4)
#define ATTR_MTIME     (1u << 5)
#define ATTR_ATIME_NOW (1u << 6)
#define ATTR_MTIME_NOW (1u << 7)
#define ATTR_CTIME     (1u << 8)

struct iattr {
	unsigned ia_valid;
	mode_t ia_mode;
	uid_t ia_uid;
	gid_t ia_gid;
	uint64_t ia_size;
	struct timespec ia_atime, ia_mtime, ia_ctime;
};

struct inode_operations {
	/* Directories. */
	int (*lookup)(struct inode *dir, struct dentry *dentry);
	int (*create)(struct inode *dir, struct dentry *dentry, mode_t mode, const struct cred *cred);
	int (*link)(struct inode *inode, struct inode *dir, struct dentry *dentry);
	int (*unlink)(struct inode *dir, struct dentry *dentry);
	int (*symlink)(struct inode *dir, struct dentry *dentry, const char *target,
		       const struct cred *cred);
	int (*mkdir)(struct inode *dir, struct dentry *dentry, mode_t mode, const struct cred *cred);
	int (*rmdir)(struct inode *dir, struct dentry *dentry);
	int (*mknod)(struct inode *dir, struct dentry *dentry, mode_t mode, dev_t rdev,
		     const struct cred *cred);
	int (*rename)(struct inode *old_dir, struct dentry *old, struct inode *new_dir,
		      struct dentry *new, unsigned flags);
	/* Every inode. */
	int (*setattr)(struct inode *inode, const struct iattr *attr, const struct cred *cred);
	int (*getattr)(const struct inode *inode, struct stat *st);
	/* Symlinks. */
	int (*readlink)(struct inode *inode, const char **target);
	/* Extended attributes (the kernel keeps these in xattr handlers). */
	int (*setxattr)(struct inode *inode, const char *name, const void *value, size_t size,
			int flags, const struct cred *cred);
	ssize_t (*getxattr)(struct inode *inode, const char *name, void *buf, size_t size,
			    const struct cred *cred);
	ssize_t (*listxattr)(struct inode *inode, char *buf, size_t size, const struct cred *cred);
	int (*removexattr)(struct inode *inode, const char *name, const struct cred *cred);
};

struct inode {
	struct super_block *i_sb;
	const struct inode_operations *i_op;
	const struct file_operations *i_fop;
	uint64_t i_ino;           /* st_ino; never reused while mounted */
	mode_t i_mode;
	uid_t i_uid;
	gid_t i_gid;
	nlink_t i_nlink;
	dev_t i_rdev;
	uint64_t i_size;
	struct timespec i_atime, i_mtime, i_ctime, i_btime;
	/*
	 * Two reference counts, because two parties hold inodes:
	 * i_count   kvfsd's own references: each positive dentry naming the
	 *           inode, each open struct file, each call in progress.
	 * i_nlookup the kernel's references: one per successful entry reply
	 *           (lookup, create, mkdir, ...), dropped by FUSE forget.
	 * The inode is destroyed when both reach zero (inode_maybe_evict()).
	 */
	unsigned i_count;
	uint64_t i_nlookup;
	unsigned i_state;         /* I_DIRTY: attributes changed since write_inode */
	struct address_space i_data; /* regular files */
	char *i_link;             /* symlinks: the target */
	struct dentry *i_dentry;  /* directories: their one dentry; NULL once removed */
	uint64_t i_subdirs;       /* directories: positive children that are dirs */
	uint64_t i_entries;       /* directories: positive children */
	struct xattr *i_xattrs;   /* singly linked */
	size_t i_xattr_bytes;
	struct inode *i_sb_prev, *i_sb_next; /* sb->s_inodes */
	struct inode *i_io_prev, *i_io_next; /* sb->s_io, while I_IO_LIST */
};

#define I_DIRTY (1u << 0)
/* With an image: the inode's record (attributes, xattrs, page list) must
 * go into the next commit; cleared only by a successful commit. */
#define I_IMAGE_DIRTY (1u << 1)
/* With an image: a directory whose entries changed since the last commit. */
#define I_IMAGE_DIRENTS (1u << 2)
/* On sb->s_io (the kernel's b_dirty list): changed since the last sync,
 * so sync_fs and the image's next commit visit it and no other. */
#define I_IO_LIST (1u << 3)

int inode_new(struct super_block *sb, mode_t mode, const struct inode *dir,
	      const struct cred *cred, struct inode **ret);
struct inode *igrab(struct inode *inode);
void iput(struct inode *inode);
void inode_lookup_ref(struct inode *inode);
void inode_forget(struct inode *inode, uint64_t nlookup);
void inode_maybe_evict(struct inode *inode);
void inode_touch(struct inode *inode, bool mtime, bool ctime);
void inode_accessed(struct inode *inode);
void inode_mark_dirty(struct inode *inode);
void inode_dirents_changed(struct inode *dir);
void inode_io_list_add(struct inode *inode);
void inode_io_list_del(struct inode *inode);
bool in_group(const struct cred *cred, gid_t gid);
int inode_change_size(struct inode *inode, uint64_t size);
void kvfs_now(struct timespec *ts);

extern const struct inode_operations kvfs_dir_inode_operations;
extern const struct inode_operations kvfs_file_inode_operations;
extern const struct inode_operations kvfs_symlink_inode_operations;
extern const struct inode_operations kvfs_special_inode_operations;

/* ---- xattr.c ----------------------------------------------------------- */

int kvfs_setxattr(struct inode *inode, const char *name, const void *value, size_t size,
		  int flags, const struct cred *cred);
ssize_t kvfs_getxattr(struct inode *inode, const char *name, void *buf, size_t size,
		      const struct cred *cred);
ssize_t kvfs_listxattr(struct inode *inode, char *buf, size_t size, const struct cred *cred);
int kvfs_removexattr(struct inode *inode, const char *name, const struct cred *cred);
void xattrs_free(struct inode *inode);
/* Call @fn for every extended attribute; stops at the first non-zero return. */
int xattr_for_each(const struct inode *inode,
		   int (*fn)(const char *name, size_t name_len, const void *value, size_t size,
			     void *userdata), void *userdata);

/* ---- file (file.c) ----------------------------------------------------- */

/* readdir's callback (struct dir_context); returns false when full. */
struct dir_context {
	bool (*actor)(struct dir_context *ctx, const char *name, size_t len, uint64_t next_pos,
		      uint64_t ino, mode_t type);
	uint64_t pos;
};

struct file_operations {
	int (*open)(struct inode *inode, struct file *file);
	int (*release)(struct inode *inode, struct file *file);
	ssize_t (*read)(struct file *file, uint64_t pos, size_t len, struct iov_iter *to);
	ssize_t (*write)(struct file *file, uint64_t pos, const void *buf, size_t len);
	/* write without the copy: size, times and pages as write() leaves
	 * them, the bytes' destinations in @to (mapping_write_begin()); the
	 * caller fills them (iov_fill()) before anything else runs. */
	ssize_t (*write_begin)(struct file *file, uint64_t pos, size_t len, struct iov_iter *to);
	int64_t (*llseek)(struct file *file, int64_t offset, int whence);
	int (*fsync)(struct file *file, bool datasync);
	int (*iterate)(struct file *file, struct dir_context *ctx);
	int (*fallocate)(struct file *file, int mode, uint64_t offset, uint64_t len);
};

struct file {
	struct inode *f_inode;    /* holds an i_count reference */
	const struct file_operations *f_op;
	unsigned f_flags;         /* open(2) flags */
	/* Directories: where the last readdir stopped, to continue in O(1).
	 * f_cursor holds a dentry reference; it is only trusted when it is
	 * still a positive child with d_off == f_cursor_pos. */
	struct dentry *f_cursor;
	uint64_t f_cursor_pos;
	struct file *f_sb_prev, *f_sb_next; /* sb->s_files */
};

int file_open(struct inode *inode, unsigned flags, struct file **ret);
void file_release(struct file *file);

extern const struct file_operations kvfs_file_operations;
extern const struct file_operations kvfs_dir_operations;

/* ---- page frames (page_alloc.c) ----------------------------------------- */

struct page_chunk;
struct page_prefill;

struct page_allocator {
	struct page_chunk *partial;  /* chunks with free pages */
	struct page_chunk *spare;    /* one wholly free chunk kept back */
	struct page_chunk *pool, *pool_tail; /* wholly free chunks kept mapped: newest, oldest */
	uint64_t pooled, pool_max;   /* chunks in the pool, its bound */
	uint64_t chunks;             /* 2 MiB chunks mapped */
	uint64_t pages;              /* pages handed out */
	int memfd;                   /* where chunks live; -1: anonymous memory */
	uint64_t fd_size;            /* bytes of windows the memfd has */
	uint64_t *holes;             /* offsets of windows free for reuse */
	size_t nholes, holes_max;
	struct page_prefill *prefill; /* NULL: none (no memfd, or no thread) */
	/* Called (under the caller's lock) when a chunk enters an empty pool:
	 * whoever trims it arms its timer then, so an idle file system has
	 * no timer running. NULL: nobody. */
	void (*pool_filled)(void *data);
	void *pool_filled_data;
};

/* A chunk freed stays in the reuse pool at most this long (page_alloc.c). */
#define PAGE_POOL_KEEP_SECONDS 10

void page_allocator_init(struct page_allocator *pa);
void page_allocator_set_pool(struct page_allocator *pa, uint64_t bytes);
uint64_t page_allocator_trim(struct page_allocator *pa, uint64_t age_usec);
int page_allocator_prefill(struct page_allocator *pa);
void *page_alloc(struct page_allocator *pa, bool zero);
void page_fill(const struct page_allocator *pa, const struct iov_iter *to, const void *buf,
	       size_t len);
void page_free(struct page_allocator *pa, void *page);
void page_allocator_destroy(struct page_allocator *pa);
/* A word of private data per page (the image's block and CRC), zero for
 * a new page. */
uint64_t *page_private(void *page);

/* ---- super block (super.c) ---------------------------------------------- */

struct image;

struct super_operations {
	struct inode *(*alloc_inode)(struct super_block *sb);
	void (*destroy_inode)(struct inode *inode);
	int (*write_inode)(struct inode *inode, bool sync);
	int (*sync_fs)(struct super_block *sb, bool wait);
	int (*statfs)(struct super_block *sb, struct statvfs *st);
	void (*put_super)(struct super_block *sb);
};

struct kvfs_mount_opts {
	uint64_t size;            /* bytes of file data; 0 = half of RAM */
	uint64_t nr_inodes;       /* 0 = one per 4 KiB of size */
	uint64_t maxbytes;        /* largest file; 0 = KVFS_MAXBYTES_DEFAULT */
	uint64_t negative_max;    /* unused negative dentries kept */
	mode_t root_mode;
	uid_t root_uid;
	gid_t root_gid;
};

struct super_block {
	const struct super_operations *s_op;
	const struct address_space_operations *s_aops;
	struct dentry *s_root;
	struct dcache *s_dcache;
	uint64_t s_maxbytes;      /* EFBIG beyond */
	uint64_t s_blocks_max;    /* pages allowed (size=) */
	uint64_t s_blocks_used;   /* pages allocated */
	uint64_t s_inodes_max;    /* inodes allowed (nr_inodes=) */
	uint64_t s_inodes_live;   /* inodes allocated, not yet destroyed */
	uint64_t s_next_ino;      /* next i_ino to hand out */
	uint64_t s_files_open;
	uint64_t s_pages_written; /* by write-back, for the stats */
	uint64_t s_dirty_inodes;
	struct page_allocator s_page_alloc;
	struct inode *s_inodes;   /* every live inode, for teardown and full commits */
	struct inode *s_io;       /* inodes changed since the last sync (I_IO_LIST) */
	struct file *s_files;     /* every open file, for teardown */
	struct image *s_image;    /* backing image file; NULL: memory only */
	bool s_changed;           /* anything changed since the last commit */
};

int super_new(const struct kvfs_mount_opts *opts, struct super_block **ret);
void super_free(struct super_block *sb);
int super_alloc_page(struct super_block *sb, void **page, bool zero);
void super_free_page(struct super_block *sb, void *page);
int super_reserve_blocks(const struct super_block *sb, uint64_t n);
int sync_filesystem(struct super_block *sb);
void super_teardown(struct super_block *sb, uint64_t *leaked_inodes, uint64_t *leaked_dentries,
		    uint64_t *leaked_pages);

/* ---- namei.c: the VFS entry points fuse-ops.c calls --------------------- */

int vfs_lookup(struct inode *dir, const char *name, struct dentry **result);
int vfs_create(struct inode *dir, const char *name, mode_t mode, dev_t rdev,
	       const struct cred *cred, struct inode **result);
int vfs_mkdir(struct inode *dir, const char *name, mode_t mode, const struct cred *cred,
	      struct inode **result);
int vfs_symlink(struct inode *dir, const char *name, const char *target,
		const struct cred *cred, struct inode **result);
int vfs_link(struct inode *inode, struct inode *dir, const char *name);
int vfs_unlink(struct inode *dir, const char *name);
int vfs_rmdir(struct inode *dir, const char *name);
int vfs_rename(struct inode *old_dir, const char *old_name, struct inode *new_dir,
	       const char *new_name, unsigned flags);
int vfs_setattr(struct inode *inode, const struct iattr *attr, const struct cred *cred);
