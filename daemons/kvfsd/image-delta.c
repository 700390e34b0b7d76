/* SPDX-License-Identifier: MIT */
/*
 * Replaying delta streams over the base: the newest record of each inode
 * and the newest entry list of each directory win, deleted inodes drop
 * out, and the result is emitted as one base-shaped stream for
 * load_stream().
 */

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "fs.h"
#include "image-internal.h"
#include "macro.h"

struct mdent {
	uint64_t ino;
	const char *name;
	uint32_t len;
};

/* What the streams say about one inode number, newest last. */
struct mino {
	uint64_t ino;             /* 0: free slot */
	const uint8_t *rec;       /* its record; NULL: none (deleted) */
	size_t rec_len;
	struct mdent *ents;       /* directories: their entries */
	size_t nents, cap;
	bool visited;
};

struct merge {
	struct mino *tab;
	size_t cap, used;         /* cap: a power of two */
};

static size_t mhash(uint64_t ino, size_t cap)
{
	return (size_t)((ino * UINT64_C(0x9e3779b97f4a7c15)) >> 17) & (cap - 1);
}

static struct mino *mfind(struct merge *m, uint64_t ino)
{
	for (size_t i = mhash(ino, m->cap);; i = (i + 1) & (m->cap - 1)) {
		if (m->tab[i].ino == ino)
			return &m->tab[i];
		if (!m->tab[i].ino)
			return NULL;
	}
}

/* The entry for @ino, made if missing. NULL on ENOMEM. Invalidates
 * pointers from earlier calls when the table grows. */
static struct mino *mget(struct merge *m, uint64_t ino)
{
	struct mino *e;
	size_t i;

	if (m->cap && (e = mfind(m, ino)))
		return e;
	if ((m->used + 1) * 2 > m->cap) {
		size_t cap = m->cap ? m->cap * 2 : 1024;
		struct mino *t = calloc(cap, sizeof(*t)), *old = m->tab;

		if (!t)
			return NULL;
		for (size_t k = 0; k < m->cap; k++) {
			if (!old[k].ino)
				continue;
			for (i = mhash(old[k].ino, cap); t[i].ino; i = (i + 1) & (cap - 1))
				;
			t[i] = old[k];
		}
		free(old);
		m->tab = t;
		m->cap = cap;
	}
	for (i = mhash(ino, m->cap); m->tab[i].ino; i = (i + 1) & (m->cap - 1))
		;
	m->tab[i].ino = ino;
	m->used++;
	return &m->tab[i];
}

static void merge_free(struct merge *m)
{
	for (size_t i = 0; i < m->cap; i++)
		free(m->tab[i].ents);
	free(m->tab);
}

static int ment_add(struct mino *e, uint64_t ino, const char *name, uint32_t len)
{
	if (e->nents == e->cap) {
		size_t cap = e->cap ? e->cap * 2 : 8;
		struct mdent *n = realloc(e->ents, cap * sizeof(*n));

		if (!n)
			return -ENOMEM;
		e->ents = n;
		e->cap = cap;
	}
	e->ents[e->nents++] = (struct mdent){ .ino = ino, .name = name, .len = len };
	return 0;
}

/* Step over one inode record (the layout ser_inode() writes); its ino. */
static uint64_t skip_inode(struct loader *l)
{
	uint64_t ino = get64(l), np;
	uint32_t ll, nx;

	take(l, 4 * 4 + 8 * 2 + 16 * 4);  /* mode uid gid nlink, rdev size, 4 times */
	ll = get32(l);
	nx = get32(l);
	np = get64(l);
	take(l, ll);
	for (uint32_t x = 0; x < nx && !l->bad; x++) {
		uint32_t nl = get32(l), vl = get32(l);

		take(l, nl);
		take(l, vl);
	}
	if (np > (l->len - l->pos) / 16)
		l->bad = true;
	else
		take(l, np * 16);
	return ino;
}

static int merge_record(struct merge *m, struct loader *l)
{
	size_t start = l->pos;
	uint64_t ino = skip_inode(l);
	struct mino *e;

	if (l->bad || !ino)
		return corrupt(l, "an inode record runs past its stream");
	e = mget(m, ino);
	if (!e)
		return -ENOMEM;
	e->rec = l->p + start;
	e->rec_len = l->pos - start;
	return 0;
}

/* A count of inode records, then the records: merge each (base or delta,
 * @what names it in the message). An inode record is at least 120 bytes. */
static int merge_records(struct merge *m, struct loader *l, const char *what)
{
	uint64_t n = get64(l);
	int r;

	if (l->bad || n > l->len / 120)
		return corrupt(l, "%sinode count %llu out of range", what, (unsigned long long)n);
	for (uint64_t i = 0; i < n; i++)
		if ((r = merge_record(m, l)) < 0)
			return r;
	return 0;
}

/* The base: records, then entries (parent, child, name), then the bitmap
 * (only checked when there are no deltas). */
static int merge_base(struct merge *m, const uint8_t *p, size_t len, struct loader *l)
{
	uint64_t n;
	int r;

	*l = (struct loader){ .p = p, .len = len, .msg = l->msg, .msg_size = l->msg_size };
	r = merge_records(m, l, "");
	if (r < 0)
		return r;
	n = get64(l);
	if (l->bad || n > len / 20)
		return corrupt(l, "directory entry count out of range");
	for (uint64_t i = 0; i < n; i++) {
		uint64_t pino = get64(l), cino = get64(l);
		uint32_t nl = get32(l);
		const char *name = take(l, nl);
		struct mino *e;

		if (l->bad || !pino)
			return corrupt(l, "directory entry %llu runs past the stream",
				       (unsigned long long)i);
		if (!(e = mget(m, pino)) || ment_add(e, cino, name, nl) < 0)
			return -ENOMEM;
	}
	return 0;
}

/* One delta (its header already checked): changed records, deleted inode
 * numbers, replaced entry lists. */
static int merge_delta(struct merge *m, const uint8_t *p, size_t len, struct loader *l)
{
	uint64_t n;
	int r;

	*l = (struct loader){ .p = p, .len = len, .pos = DELTA_HEADER, .msg = l->msg,
			      .msg_size = l->msg_size };
	r = merge_records(m, l, "delta ");
	if (r < 0)
		return r;
	n = get64(l);
	if (l->bad || n > len / 8)
		return corrupt(l, "delta deletion count out of range");
	for (uint64_t i = 0; i < n; i++) {
		uint64_t ino = get64(l);
		struct mino *e = m->cap ? mfind(m, ino) : NULL;

		if (e) {
			e->rec = NULL;
			e->nents = 0;
		}
	}
	n = get64(l);
	if (l->bad || n > len / 16)
		return corrupt(l, "delta directory count out of range");
	for (uint64_t i = 0; i < n; i++) {
		uint64_t dino = get64(l), cnt = get64(l);
		struct mino *e;

		if (l->bad || !dino || cnt > len / 12)
			return corrupt(l, "delta directory %llu is invalid", (unsigned long long)i);
		e = mget(m, dino);
		if (!e)
			return -ENOMEM;
		e->nents = 0;
		for (uint64_t k = 0; k < cnt; k++) {
			uint64_t cino = get64(l);
			uint32_t nl = get32(l);
			const char *name = take(l, nl);

			if (l->bad)
				return corrupt(l, "delta directory %llu runs past the stream",
					       (unsigned long long)dino);
			if (ment_add(e, cino, name, nl) < 0)
				return -ENOMEM;
		}
	}
	if (l->bad || l->pos != l->len)
		return corrupt(l, "a delta stream has trailing bytes");
	return 0;
}

/*
 * Rewrite base + deltas as one stream in the base's layout, without the
 * bitmap: every surviving record, then the entries of the directories
 * reachable from the root, parents first. What is unreachable is left
 * out, for load_stream_tab() to report ("has no name").
 */
static int merge_emit(struct merge *m, uint64_t root_ino, struct buf *out)
{
	_cleanup_free_ uint64_t *stack = NULL;
	size_t nstack = 0, cap = 0;
	uint64_t n = 0;
	size_t at;
	struct mino *e;

	for (size_t i = 0; i < m->cap; i++)
		if (m->tab[i].ino && m->tab[i].rec)
			n++;
	put64(out, n);
	for (size_t i = 0; i < m->cap; i++)
		if (m->tab[i].ino && m->tab[i].rec)
			buf_put(out, m->tab[i].rec, m->tab[i].rec_len);
	at = out->len;
	n = 0;
	put64(out, 0);
	e = m->cap ? mfind(m, root_ino) : NULL;
	if (!e)
		return out->err;
	e->visited = true;
	for (uint64_t dir = root_ino;;) {
		e = mfind(m, dir);
		for (size_t k = 0; e && k < e->nents; k++) {
			const struct mdent *d = &e->ents[k];
			struct mino *c = mfind(m, d->ino);

			put64(out, dir);
			put64(out, d->ino);
			put32(out, d->len);
			buf_put(out, d->name, d->len);
			n++;
			if (c && c->nents && !c->visited) {
				if (nstack == cap) {
					size_t nc = cap ? cap * 2 : 64;
					uint64_t *t = realloc(stack, nc * sizeof(*t));

					if (!t)
						return -ENOMEM;
					stack = t;
					cap = nc;
				}
				c->visited = true;
				stack[nstack++] = d->ino;
			}
		}
		if (!nstack)
			break;
		dir = stack[--nstack];
	}
	if (out->err)
		return out->err;
	memcpy(out->p + at, &n, 8);
	return 0;
}

/* Base plus deltas as one stream for load_stream_tab(); @su describes the
 * result (meta_len) on return. */
int read_merged(struct image *img, struct image_super *su, uint8_t **stream,
		       struct loader *l)
{
	struct chain base = { .first = su->meta_first, .blocks = su->meta_blocks,
			      .len = su->meta_len, .generation = su->meta_generation,
			      .crc = su->meta_crc };
	struct chain c = { .first = su->delta_first, .blocks = su->delta_blocks,
			   .len = su->delta_len, .generation = su->delta_generation,
			   .crc = su->delta_crc };
	_cleanup_free_ uint8_t *bstream = NULL;
	_cleanup_free_ uint8_t **deltas = NULL;
	_cleanup_free_ size_t *lens = NULL;
	struct merge m = { 0 };
	struct buf out = { 0 };
	uint64_t blocks = 0;
	int r;

	r = read_chain(img->fd, &base, su->total_blocks, &bstream, img->committed, img, l);
	if (r < 0)
		return r;
	img->base = base;
	if (!su->delta_count) {
		*stream = TAKE_PTR(bstream);
		return 0;
	}
	deltas = calloc(su->delta_count, sizeof(*deltas));
	lens = calloc(su->delta_count, sizeof(*lens));
	if (!deltas || !lens)
		return -ENOMEM;
	img->delta = c;
	/* Newest first, each naming the one before. */
	for (uint64_t k = su->delta_count; k-- > 0;) {
		uint64_t prev[4];
		uint32_t pcrc, pad;

		r = read_chain(img->fd, &c, su->total_blocks, &deltas[k], img->committed, img, l);
		if (r < 0)
			goto out;
		lens[k] = c.len;
		blocks += c.blocks;
		if (c.len < DELTA_HEADER) {
			r = corrupt(l, "delta of generation %llu is too short",
				    (unsigned long long)c.generation);
			goto out;
		}
		memcpy(prev, deltas[k], 32);
		memcpy(&pcrc, deltas[k] + 32, 4);
		memcpy(&pad, deltas[k] + 36, 4);
		if (k == 0 ? (prev[0] || prev[1] || prev[2] || prev[3] || pcrc || pad)
			   : (!chain_ok(prev[0], prev[1], prev[2], su->total_blocks) || pad ||
			      prev[3] >= c.generation || prev[3] <= su->meta_generation)) {
			r = corrupt(l, "delta of generation %llu names a wrong predecessor",
				    (unsigned long long)c.generation);
			goto out;
		}
		c = (struct chain){ .first = prev[0], .blocks = prev[1], .len = prev[2],
				    .generation = prev[3], .crc = pcrc };
	}
	if (blocks != su->delta_blocks_total) {
		r = corrupt(l, "the deltas' blocks do not add up to the superblock's count");
		goto out;
	}
	r = merge_base(&m, bstream, su->meta_len, l);
	for (uint64_t k = 0; r == 0 && k < su->delta_count; k++)
		r = merge_delta(&m, deltas[k], lens[k], l);
	if (r == 0)
		r = merge_emit(&m, su->root_ino, &out);
	if (r < 0)
		goto out;
	su->meta_len = out.len;
	*stream = TAKE_PTR(out.p);
out:
	for (uint64_t k = 0; k < su->delta_count; k++)
		free(deltas[k]);
	free(out.p);
	merge_free(&m);
	return r;
}
