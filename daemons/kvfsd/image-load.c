/* SPDX-License-Identifier: MIT */
/*
 * Loading an image: the superblock slots, the chains of metadata blocks,
 * and the tree rebuilt from a stream, every field checked against the
 * image's bounds (a failure refuses the mount with the reason).
 */

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dcache.h"
#include "fs.h"
#include "image-internal.h"
#include "macro.h"

int corrupt(struct loader *l, const char *fmt, ...)
{
	va_list ap;
	int n = snprintf(l->msg, l->msg_size, "corrupt: ");

	va_start(ap, fmt);
	if (n >= 0 && (size_t)n < l->msg_size)
		vsnprintf(l->msg + n, l->msg_size - (size_t)n, fmt, ap);
	va_end(ap);
	return -EUCLEAN;
}

struct ino_entry {
	uint64_t ino;
	struct inode *inode;
	bool placed;
	uint64_t names;           /* directory entries naming it */
};

static int ino_cmp(const void *a, const void *b)
{
	const struct ino_entry *x = a, *y = b;

	return x->ino < y->ino ? -1 : x->ino > y->ino;
}

static struct ino_entry *ino_find(struct ino_entry *tab, size_t n, uint64_t ino)
{
	struct ino_entry key = { .ino = ino };

	return bsearch(&key, tab, n, sizeof(*tab), ino_cmp);
}

static bool valid_type(mode_t m)
{
	switch (m & S_IFMT) {
	case S_IFREG: case S_IFDIR: case S_IFLNK: case S_IFCHR: case S_IFBLK: case S_IFIFO:
	case S_IFSOCK:
		return true;
	}
	return false;
}

/* One slot: a version-2 superblock, or a version-1 one read as a base
 * without deltas. False when it fails its magic, CRC32C or bounds. */
static bool super_valid(const uint8_t *raw, int slot, uint64_t file_blocks, struct image_super *su)
{
	uint32_t crc;

	memcpy(su, raw, sizeof(*su));
	if (memcmp(su->magic, IMAGE_MAGIC, 8))
		return false;
	if (su->version == 1) {
		crc = su->delta_crc;
		su->delta_crc = 0;
		if (image_crc32c(0, su, IMAGE_SUPER_V1_SIZE) != crc)
			return false;
		memset((uint8_t *)su + IMAGE_SUPER_V1_SIZE, 0, sizeof(*su) - IMAGE_SUPER_V1_SIZE);
		su->meta_generation = su->generation;
	} else if (su->version == IMAGE_VERSION) {
		crc = su->crc;
		su->crc = 0;
		if (image_crc32c(0, su, sizeof(*su)) != crc)
			return false;
	} else {
		return false;
	}
	if (su->block_size != KVFS_PAGE_SIZE || su->total_blocks < 3 ||
	    su->total_blocks > IMAGE_BLOCKS_MAX || su->total_blocks > file_blocks ||
	    su->generation % 2 != (uint64_t)slot || !su->data_blocks_max ||
	    !chain_ok(su->meta_first, su->meta_blocks, su->meta_len, su->total_blocks) ||
	    !su->meta_generation || su->meta_generation > su->generation)
		return false;
	if (!su->delta_count)
		return !su->delta_first && !su->delta_blocks && !su->delta_len &&
		       !su->delta_generation && !su->delta_blocks_total;
	return chain_ok(su->delta_first, su->delta_blocks, su->delta_len, su->total_blocks) &&
	       su->delta_generation > su->meta_generation &&
	       su->delta_generation <= su->generation &&
	       su->delta_count <= su->delta_generation - su->meta_generation &&
	       su->delta_blocks_total >= su->delta_count &&
	       su->delta_blocks_total <= su->total_blocks;
}

/* Read and check the superblock slots; the valid one with the highest generation. */
int read_super(int fd, struct image_super *best, struct loader *l, uint64_t file_blocks,
		      bool *v1)
{
	uint8_t raw[sizeof(struct image_super)];
	bool found = false;

	for (int slot = 0; slot < 2; slot++) {
		struct image_super su;

		if (pread_all(fd, raw, sizeof(raw), (uint64_t)slot * KVFS_PAGE_SIZE) < 0)
			continue;
		if (!super_valid(raw, slot, file_blocks, &su))
			continue;
		if (!found || su.generation > best->generation) {
			*best = su;
			*v1 = su.version == 1;
		}
		found = true;
	}
	if (!found)
		return corrupt(l, "no valid superblock (both slots fail their magic, CRC32C or bounds)");
	return 0;
}

/* Read one stream's chain of blocks, checking each block and the whole;
 * the blocks are marked in @map (which catches a block used twice) and
 * appended to img->meta. */
int read_chain(int fd, const struct chain *c, uint64_t total_blocks, uint8_t **stream,
		      uint64_t *map, struct image *img, struct loader *l)
{
	_cleanup_free_ uint8_t *block = malloc(KVFS_PAGE_SIZE);
	_cleanup_free_ uint8_t *s = malloc(c->len ? c->len : 1);
	uint64_t blk = c->first, done = 0;
	int r;

	if (!block || !s)
		return -ENOMEM;
	if (img->nmeta + c->blocks > img->meta_cap) {
		uint64_t cap = img->nmeta + c->blocks > 2 * img->meta_cap ? img->nmeta + c->blocks
									     : 2 * img->meta_cap;
		uint64_t *m = realloc(img->meta, cap * sizeof(*m));

		if (!m)
			return -ENOMEM;
		img->meta = m;
		img->meta_cap = cap;
	}
	for (uint64_t i = 0; i < c->blocks; i++) {
		struct image_meta_header h;
		uint64_t n = c->len - done;

		if (blk < 2 || blk >= total_blocks || bit_test(map, blk))
			return corrupt(l, "metadata block %llu of the chain is out of range or repeated",
				       (unsigned long long)blk);
		bit_set(map, blk);
		img->meta[img->nmeta++] = blk;
		r = pread_all(fd, block, KVFS_PAGE_SIZE, blk * KVFS_PAGE_SIZE);
		if (r < 0)
			return r == -ENODATA ? corrupt(l, "image truncated") : r;
		memcpy(&h, block, sizeof(h));
		memset(block + offsetof(struct image_meta_header, crc), 0, 4);
		if (memcmp(h.magic, IMAGE_META_MAGIC, 4) ||
		    image_crc32c(0, block, KVFS_PAGE_SIZE) != h.crc)
			return corrupt(l, "metadata block %llu fails its CRC32C", (unsigned long long)blk);
		if (h.generation != c->generation || h.seq != i)
			return corrupt(l, "metadata block %llu belongs to generation %llu, not %llu",
				       (unsigned long long)blk, (unsigned long long)h.generation,
				       (unsigned long long)c->generation);
		if (n > IMAGE_META_PAYLOAD)
			n = IMAGE_META_PAYLOAD;
		memcpy(s + done, block + sizeof(h), n);
		done += n;
		blk = h.next;
	}
	if (done != c->len || blk != 0)
		return corrupt(l, "metadata chain length does not match the superblock");
	if (image_crc32c(0, s, c->len) != c->crc)
		return corrupt(l, "metadata stream of generation %llu fails its CRC32C",
			       (unsigned long long)c->generation);
	*stream = TAKE_PTR(s);
	return 0;
}

/* The inode for a record: the root exists already, others are made. */
static int load_inode_new(struct super_block *sb, uint64_t ino, uint64_t root_ino, mode_t mode,
			  uid_t uid, gid_t gid, struct inode **ret)
{
	struct cred cred = { .fsuid = uid, .fsgid = gid, .capable = true };
	struct inode *root = sb->s_root->d_inode;
	int r;

	if (ino == root_ino) {
		if (!S_ISDIR(mode))
			return -EUCLEAN;
		root->i_mode = mode;
		root->i_uid = uid;
		root->i_gid = gid;
		*ret = root;
		return 0;
	}
	r = inode_new(sb, mode, NULL, &cred, ret);
	if (r == 0)
		(*ret)->i_mode = mode; /* exactly as stored */
	return r;
}

/* The xattrs of one inode record: @nx x (u32 name_len, u32 size, name, value).
 * @name: a buffer of KVFS_XATTR_NAME_MAX + 1 bytes. */
static int load_xattrs(struct loader *l, struct inode *inode, uint64_t ino, uint32_t nx,
		       char *name)
{
	struct cred root = { .capable = true };

	for (uint32_t x = 0; x < nx; x++) {
		uint32_t nl = get32(l), vl = get32(l);
		const char *n, *v;
		int r;

		if (l->bad || nl == 0 || nl > KVFS_XATTR_NAME_MAX || vl > KVFS_XATTR_SIZE_MAX)
			return corrupt(l, "xattr of ino %llu is invalid", (unsigned long long)ino);
		n = take(l, nl);
		v = take(l, vl);
		if (l->bad)
			return corrupt(l, "xattr of ino %llu runs past the stream",
				       (unsigned long long)ino);
		memcpy(name, n, nl);
		name[nl] = '\0';
		r = kvfs_setxattr(inode, name, v, vl, 0, &root);
		if (r < 0)
			return corrupt(l, "xattr of ino %llu refused: %s", (unsigned long long)ino,
				       strerror(-r));
	}
	return 0;
}

/* The data pages of one inode record: @npages x (u64 index, u32 block,
 * u32 crc32c), each block read, checked and marked in @map (which catches
 * a block used twice). @page: a KVFS_PAGE_SIZE buffer. */
static int load_pages(struct super_block *sb, struct image *img, const struct image_super *su,
		      struct loader *l, uint64_t *map, struct inode *inode, uint64_t ino,
		      uint64_t npages, uint8_t *page)
{
	int r;

	for (uint64_t p = 0; p < npages; p++) {
		uint64_t index = get64(l), blk = get32(l);
		uint32_t crc = get32(l);
		size_t written;

		if (l->bad || blk < 2 || blk >= su->total_blocks || bit_test(map, blk) ||
		    index > (sb->s_maxbytes >> KVFS_PAGE_SHIFT))
			return corrupt(l, "data block %llu of ino %llu is out of range or shared",
				       (unsigned long long)blk, (unsigned long long)ino);
		bit_set(map, blk);
		r = pread_all(img->fd, page, KVFS_PAGE_SIZE, blk * KVFS_PAGE_SIZE);
		if (r < 0)
			return r == -ENODATA ? corrupt(l, "image truncated") : r;
		if (image_crc32c(0, page, KVFS_PAGE_SIZE) != crc)
			return corrupt(l, "data block %llu of ino %llu fails its CRC32C",
				       (unsigned long long)blk, (unsigned long long)ino);
		r = mapping_write(&inode->i_data, index << KVFS_PAGE_SHIFT, page, KVFS_PAGE_SIZE,
				  &written);
		if (r < 0)
			return r == -ENOSPC ? corrupt(l, "more data than the size limit") : r;
		*page_private(mapping_find_page(&inode->i_data, index)) = PRIV(blk, crc);
	}
	/* Clean the tags (writepage is a no-op while loading). */
	return mapping_writeback(&inode->i_data);
}

/* Scratch space for load_inode(), allocated once per stream. */
struct load_buffers {
	uint8_t *page;            /* KVFS_PAGE_SIZE */
	char *name;               /* KVFS_XATTR_NAME_MAX + 1 */
};

/* Record @i of the inode table (the layout is in image-commit.c) into @e:
 * the inode made (or the root, updated), its symlink target, xattrs and
 * pages, then its attributes as stored. */
static int load_inode(struct super_block *sb, struct image *img, const struct image_super *su,
		      struct loader *l, uint64_t *map, const struct load_buffers *b, uint64_t i,
		      struct ino_entry *e)
{
	uint64_t ino = get64(l), rdev, size, npages;
	mode_t mode = get32(l);
	uid_t uid = get32(l);
	gid_t gid = get32(l);
	uint32_t nlink = get32(l), ll, nx;
	struct timespec ts[4];
	const char *link;
	struct inode *inode;
	int r;

	rdev = get64(l);
	size = get64(l);
	for (int t = 0; t < 4; t++)
		get_ts(l, &ts[t]);
	ll = get32(l);
	nx = get32(l);
	npages = get64(l);
	link = take(l, ll);
	if (l->bad || !ino || !valid_type(mode) || (mode & ~(S_IFMT | 07777)) ||
	    nlink > KVFS_LINK_MAX || size > sb->s_maxbytes || ll > KVFS_SYMLINK_MAX ||
	    (S_ISLNK(mode) != (ll > 0)) || (npages && !S_ISREG(mode)) ||
	    npages > su->total_blocks || (S_ISDIR(mode) && size) || ino >= su->next_ino)
		return corrupt(l, "inode record %llu (ino %llu) is invalid", (unsigned long long)i,
			       (unsigned long long)ino);
	r = load_inode_new(sb, ino, su->root_ino, mode, uid, gid, &inode);
	if (r < 0)
		return r == -EUCLEAN ? corrupt(l, "the root inode is not a directory") : r;
	*e = (struct ino_entry){ .ino = ino, .inode = inode, .placed = ino == su->root_ino };
	inode->i_ino = ino;
	if (ll) {
		inode->i_link = strndup(link, ll);
		if (!inode->i_link)
			return -ENOMEM;
		if (strlen(inode->i_link) != ll)
			return corrupt(l, "symlink target of ino %llu holds a NUL",
				       (unsigned long long)ino);
	}
	r = load_xattrs(l, inode, ino, nx, b->name);
	if (r < 0)
		return r;
	r = load_pages(sb, img, su, l, map, inode, ino, npages, b->page);
	if (r < 0)
		return r;
	inode->i_nlink = nlink;
	inode->i_rdev = (dev_t)rdev;
	inode->i_size = size;
	inode->i_atime = ts[0];
	inode->i_mtime = ts[1];
	inode->i_ctime = ts[2];
	inode->i_btime = ts[3];
	return 0;
}

/* The directory entries, parents first: each links a placed directory to
 * an inode of the table by a valid, new name. */
static int load_dirents(const struct image_super *su, struct loader *l, struct ino_entry *tab,
			uint64_t ninodes)
{
	uint64_t ndirents = get64(l);
	int r;

	if (l->bad || ndirents > su->meta_len / 20)
		return corrupt(l, "directory entry count out of range");
	for (uint64_t i = 0; i < ndirents; i++) {
		uint64_t pino = get64(l), cino = get64(l);
		uint32_t nl = get32(l);
		const char *n = take(l, nl);
		struct ino_entry *pe, *ce;
		struct dentry *d;
		char nm[KVFS_NAME_MAX + 1];

		if (l->bad || nl == 0 || nl > KVFS_NAME_MAX || memchr(n, '/', nl) || memchr(n, 0, nl) ||
		    (nl == 1 && n[0] == '.') || (nl == 2 && n[0] == '.' && n[1] == '.'))
			return corrupt(l, "directory entry %llu has an invalid name", (unsigned long long)i);
		pe = ino_find(tab, ninodes, pino);
		ce = ino_find(tab, ninodes, cino);
		if (!pe || !ce || !pe->placed || !S_ISDIR(pe->inode->i_mode) ||
		    (ce->placed && S_ISDIR(ce->inode->i_mode)) || cino == su->root_ino)
			return corrupt(l, "directory entry %llu links ino %llu to ino %llu wrongly",
				       (unsigned long long)i, (unsigned long long)cino,
				       (unsigned long long)pino);
		memcpy(nm, n, nl);
		nm[nl] = '\0';
		r = vfs_lookup(pe->inode, nm, &d);
		if (r < 0)
			return r;
		if (d->d_inode) {
			dput(d);
			return corrupt(l, "name \"%s\" appears twice in ino %llu", nm,
				       (unsigned long long)pino);
		}
		/* The first name takes over inode_new()'s reference. */
		d_instantiate(d, ce->placed ? igrab(ce->inode) : ce->inode);
		dput(d);
		ce->placed = true;
		ce->names++;
		pe->inode->i_entries++;
		if (S_ISDIR(ce->inode->i_mode))
			pe->inode->i_subdirs++;
	}
	return 0;
}

/* Every inode named, and its link count what the directories say (or
 * unlink and rmdir would go wrong later). */
static int check_links(struct loader *l, const struct ino_entry *tab, uint64_t ninodes)
{
	for (uint64_t i = 0; i < ninodes; i++) {
		const struct inode *inode = tab[i].inode;

		if (!tab[i].placed)
			return corrupt(l, "ino %llu has no name", (unsigned long long)tab[i].ino);
		if (S_ISDIR(inode->i_mode) ? inode->i_nlink != 2 + inode->i_subdirs
					   : inode->i_nlink != tab[i].names)
			return corrupt(l, "ino %llu has %llu links, the directories say otherwise",
				       (unsigned long long)tab[i].ino,
				       (unsigned long long)inode->i_nlink);
	}
	return 0;
}

/* The end of the stream: the allocator bitmap, which must be exactly the
 * blocks referenced (a stream merged from deltas has none: only a base
 * stores one), and nothing after it. */
static int check_tail(struct loader *l, const struct image *img, const uint64_t *map,
		      bool check_map)
{
	const void *stored;

	if (!check_map) {
		if (l->bad || l->pos != l->len)
			return corrupt(l, "the merged stream has trailing bytes");
		return 0;
	}
	stored = take(l, img->map_words * 8);
	if (l->bad || l->pos != l->len)
		return corrupt(l, "the allocator bitmap is missing or the stream is too long");
	if (memcmp(stored, map, img->map_words * 8))
		return corrupt(l, "the allocator bitmap does not match the blocks in use");
	return 0;
}

/* The whole stream: inode table, directory entries, tail. @tabp: the
 * table (ends with a zero entry), for load_stream() to clean up. */
static int load_stream_tab(struct super_block *sb, struct image *img, const struct image_super *su,
			   const uint8_t *stream, uint64_t *map, bool check_map, struct loader *l,
			   struct ino_entry **tabp)
{
	_cleanup_free_ uint8_t *page = malloc(KVFS_PAGE_SIZE);
	_cleanup_free_ char *name = malloc(KVFS_XATTR_NAME_MAX + 1);
	const struct load_buffers b = { .page = page, .name = name };
	uint64_t ninodes, max_ino = su->root_ino;
	struct ino_entry *tab;
	int r;

	if (!page || !name)
		return -ENOMEM;
	*l = (struct loader){ .p = stream, .len = su->meta_len, .msg = l->msg,
			      .msg_size = l->msg_size };
	ninodes = get64(l);
	/* An inode record is at least 120 bytes. */
	if (l->bad || ninodes == 0 || ninodes > su->meta_len / 120)
		return corrupt(l, "inode count %llu out of range", (unsigned long long)ninodes);
	tab = *tabp = calloc(ninodes + 1, sizeof(*tab)); /* ends with a zero entry */
	if (!tab)
		return -ENOMEM;
	for (uint64_t i = 0; i < ninodes; i++) {
		r = load_inode(sb, img, su, l, map, &b, i, &tab[i]);
		if (r < 0)
			return r;
		if (tab[i].ino > max_ino)
			max_ino = tab[i].ino;
	}
	qsort(tab, ninodes, sizeof(*tab), ino_cmp);
	for (uint64_t i = 1; i < ninodes; i++)
		if (tab[i].ino == tab[i - 1].ino)
			return corrupt(l, "ino %llu appears twice", (unsigned long long)tab[i].ino);
	if (!ino_find(tab, ninodes, su->root_ino))
		return corrupt(l, "no root inode");
	r = load_dirents(su, l, tab, ninodes);
	if (r == 0)
		r = check_links(l, tab, ninodes);
	if (r == 0)
		r = check_tail(l, img, map, check_map);
	if (r < 0)
		return r;
	if (su->next_ino <= max_ino)
		return corrupt(l, "next inode number is in use");
	sb->s_next_ino = su->next_ino;
	return 0;
}

/* Load the stream; on failure drop the references of inodes made but not
 * yet named (a named one belongs to its dentry, which teardown frees). */
int load_stream(struct super_block *sb, struct image *img, const struct image_super *su,
		       const uint8_t *stream, uint64_t *map, bool check_map, struct loader *l)
{
	struct ino_entry *tab = NULL;
	int r = load_stream_tab(sb, img, su, stream, map, check_map, l, &tab);

	for (struct ino_entry *e = tab; r < 0 && e && e->inode; e++)
		if (!e->placed)
			iput(e->inode);
	free(tab);
	return r;
}
