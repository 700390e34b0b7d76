/* SPDX-License-Identifier: MIT */
/*
 * ChaCha20 read-ahead (prng.h). A few slots, each a buffer of up to @max
 * bytes of one stream: while the caller's thread hands out one slot (the
 * FUSE/CUSE reply copies it to the reader), the helper thread generates the
 * bytes that follow into another. Over FUSE the copy and the generation
 * then overlap on two CPUs instead of taking turns on one. With several
 * slots, readers that take turns each keep their read-ahead.
 *
 * A slot's life, under @lock:
 *   FREE -> POSTED (caller guesses the next read) -> RUNNING (helper) -> DONE
 *   FREE/POSTED/DONE -> LENT (caller hands it out) -> FREE (at the next call)
 * A POSTED slot the caller needs now is claimed and generated on the
 * caller's thread (no waiting for a helper that has not started); a RUNNING
 * one is waited for. A slot carries a copy of its stream's key and IV, so
 * the helper never touches a struct ukd_prng, which the caller may rekey or
 * free at any time.
 */
#include <errno.h>
#include <openssl/crypto.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "macro.h"
#include "prng-internal.h"

#define AHEAD_SLOTS 4

enum slot_state {
	SLOT_FREE,
	SLOT_LENT,
	SLOT_POSTED,
	SLOT_RUNNING,
	SLOT_DONE,
};

struct slot {
	enum slot_state state;
	/* Unless FREE: the bytes [pos, pos + size) of the stream (key, iv). */
	uint8_t key[UKD_PRNG_KEY_SIZE];
	uint8_t iv[16];
	uint64_t pos;
	size_t size;
	const struct ukd_prng *owner;  /* who asked, for ukd_prng_ahead_forget() */
	uint64_t seq;                  /* posting order */
	int result;                    /* DONE: 0 or -EIO */
	uint8_t *buf;
};

struct ukd_prng_ahead {
	pthread_mutex_t lock;
	pthread_cond_t cond;       /* a slot's state changed, or @quit */
	bool has_thread;
	bool quit;                 /* under lock */
	pthread_t thread;
	EVP_CIPHER_CTX *ctx;       /* the helper's */
	size_t max;
	unsigned int n_slots;      /* AHEAD_SLOTS with the thread, else 1 */
	struct slot slot[AHEAD_SLOTS];  /* state and the fields under lock; the
	                                 * helper owns a RUNNING slot's buffer */
	uint64_t seq;              /* under lock */
	uint64_t hits;             /* caller's thread */
};

/* Under lock: the oldest POSTED slot, or NULL. */
static struct slot *oldest_posted(struct ukd_prng_ahead *a)
{
	struct slot *best = NULL;

	for (unsigned int i = 0; i < a->n_slots; i++)
		if (a->slot[i].state == SLOT_POSTED && (!best || a->slot[i].seq < best->seq))
			best = &a->slot[i];
	return best;
}

static void *ahead_main(void *userdata)
{
	struct ukd_prng_ahead *a = userdata;

	pthread_mutex_lock(&a->lock);
	for (;;) {
		struct slot *s = NULL;

		while (!a->quit && !(s = oldest_posted(a)))
			pthread_cond_wait(&a->cond, &a->lock);
		if (a->quit)
			break;
		s->state = SLOT_RUNNING;
		pthread_mutex_unlock(&a->lock);

		s->result = ukd_prng_chacha20_seek(a->ctx, s->key, s->iv, s->pos);
		if (s->result >= 0)
			s->result = ukd_prng_chacha20_fill(a->ctx, s->buf, s->size);

		pthread_mutex_lock(&a->lock);
		s->state = SLOT_DONE;
		pthread_cond_broadcast(&a->cond);
	}
	pthread_mutex_unlock(&a->lock);
	return NULL;
}

int ukd_prng_ahead_new(struct ukd_prng_ahead **ret, size_t max, bool thread)
{
	struct ukd_prng_ahead *a;
	int r;

	if (!ret || max == 0 || max > SIZE_MAX / 2)
		return -EINVAL;
	a = calloc(1, sizeof(*a));
	if (!a)
		return -ENOMEM;
	a->max = max;
	a->n_slots = thread ? AHEAD_SLOTS : 1;
	pthread_mutex_init(&a->lock, NULL);
	pthread_cond_init(&a->cond, NULL);
	a->ctx = EVP_CIPHER_CTX_new();
	if (!a->ctx) {
		ukd_prng_ahead_free(a);
		return -ENOMEM;
	}
	for (unsigned int i = 0; i < a->n_slots; i++) {
		/* Page-aligned: the kernel copies them to readers page by page. */
		a->slot[i].buf = aligned_alloc(4096, (max + 4095) & ~(size_t)4095);
		if (!a->slot[i].buf) {
			ukd_prng_ahead_free(a);
			return -ENOMEM;
		}
	}
	if (thread) {
		r = pthread_create(&a->thread, NULL, ahead_main, a);
		if (r != 0) {
			ukd_prng_ahead_free(a);
			return -r;
		}
		a->has_thread = true;
	}
	*ret = a;
	return 0;
}

void ukd_prng_ahead_free(struct ukd_prng_ahead *a)
{
	if (!a)
		return;
	if (a->has_thread) {
		pthread_mutex_lock(&a->lock);
		a->quit = true;
		pthread_cond_broadcast(&a->cond);
		pthread_mutex_unlock(&a->lock);
		pthread_join(a->thread, NULL);
	}
	for (unsigned int i = 0; i < a->n_slots; i++) {
		if (a->slot[i].buf)
			OPENSSL_cleanse(a->slot[i].buf, a->max);
		free(a->slot[i].buf);
	}
	EVP_CIPHER_CTX_free(a->ctx);
	pthread_cond_destroy(&a->cond);
	pthread_mutex_destroy(&a->lock);
	OPENSSL_cleanse(a, sizeof(*a));
	free(a);
}

/* Does @s hold (or will it hold) @size bytes of @p's stream from p->pos? */
static bool slot_serves(const struct slot *s, const struct ukd_prng *p, size_t size)
{
	return s->state >= SLOT_POSTED && p->kind == UKD_PRNG_CHACHA20 && s->pos == p->pos &&
	       s->size >= size && !memcmp(s->key, p->key, UKD_PRNG_KEY_SIZE) &&
	       !memcmp(s->iv, p->iv, sizeof(p->iv));
}

/* Under lock, @s not RUNNING: empty it, wiping what it holds (a FREE slot
 * that was LENT still holds what it lent). */
static void slot_free(struct slot *s)
{
	uint8_t *buf = s->buf;

	if (s->state != SLOT_POSTED)
		OPENSSL_cleanse(buf, s->size);
	OPENSSL_cleanse(s, sizeof(*s));
	s->buf = buf;
	s->state = SLOT_FREE;
}

/* Under lock: a FREE slot, emptying the oldest POSTED or DONE one if need
 * be (never @keep); NULL if every other slot is LENT or RUNNING. */
static struct slot *slot_get(struct ukd_prng_ahead *a, const struct slot *keep)
{
	struct slot *victim = NULL;

	for (unsigned int i = 0; i < a->n_slots; i++) {
		struct slot *s = &a->slot[i];

		if (s == keep)
			continue;
		if (s->state == SLOT_FREE)
			return s;
		if ((s->state == SLOT_POSTED || s->state == SLOT_DONE) &&
		    (!victim || s->seq < victim->seq))
			victim = s;
	}
	if (victim)
		slot_free(victim);
	return victim;
}

/* Under lock: guess that @p's next read is @size bytes on from here. */
static void post(struct ukd_prng_ahead *a, const struct ukd_prng *p, size_t size,
		 const struct slot *lent)
{
	struct slot *s = slot_get(a, lent);

	if (!s)
		return;
	memcpy(s->key, p->key, UKD_PRNG_KEY_SIZE);
	memcpy(s->iv, p->iv, sizeof(s->iv));
	s->pos = p->pos;
	s->size = size;
	s->owner = p;
	s->seq = ++a->seq;
	s->result = 0;
	s->state = SLOT_POSTED;
	pthread_cond_broadcast(&a->cond);
}

int ukd_prng_ahead_read(struct ukd_prng_ahead *a, struct ukd_prng *p, size_t size,
			const void **data)
{
	struct slot *s = NULL;
	bool generate = true;
	int r = 0;

	if (!a || !p || !data || size > a->max)
		return -EINVAL;

	pthread_mutex_lock(&a->lock);
	/* What the last call lent is no longer in use. */
	for (unsigned int i = 0; i < a->n_slots; i++)
		if (a->slot[i].state == SLOT_LENT)
			a->slot[i].state = SLOT_FREE;
	for (unsigned int i = 0; i < a->n_slots && !s; i++)
		if (slot_serves(&a->slot[i], p, size))
			s = &a->slot[i];
	if (s && s->state != SLOT_POSTED) {
		while (s->state == SLOT_RUNNING)
			pthread_cond_wait(&a->cond, &a->lock);
		if (s->result >= 0) {
			generate = false;
			p->pos += size;  /* p->chacha_pos stays behind: ukd_prng_fill() seeks */
			a->hits++;
		}
	}
	/* A POSTED slot not started yet is claimed (faster than waiting for the
	 * helper); otherwise a guess that did not come true: any slot will do. */
	if (!s)
		s = slot_get(a, NULL);
	s->state = SLOT_LENT;
	s->owner = p;
	if (generate) {
		pthread_mutex_unlock(&a->lock);
		r = ukd_prng_fill(p, s->buf, size);
		pthread_mutex_lock(&a->lock);
	}
	s->size = size;
	if (r >= 0 && a->has_thread && p->kind == UKD_PRNG_CHACHA20 && size >= UKD_PRNG_AHEAD_MIN)
		post(a, p, size, s);
	pthread_mutex_unlock(&a->lock);
	if (r < 0)
		return r;
	*data = s->buf;
	return 0;
}

void ukd_prng_ahead_forget(struct ukd_prng_ahead *a, const struct ukd_prng *p)
{
	if (!a || !p)
		return;
	pthread_mutex_lock(&a->lock);
	for (unsigned int i = 0; i < a->n_slots; i++) {
		struct slot *s = &a->slot[i];

		if (s->owner != p)
			continue;
		while (s->state == SLOT_RUNNING)
			pthread_cond_wait(&a->cond, &a->lock);
		if (s->owner == p)
			slot_free(s);
	}
	pthread_mutex_unlock(&a->lock);
}

void ukd_prng_ahead_wait(struct ukd_prng_ahead *a)
{
	if (!a)
		return;
	pthread_mutex_lock(&a->lock);
	for (unsigned int i = 0; i < a->n_slots; i++)
		while (a->slot[i].state == SLOT_POSTED || a->slot[i].state == SLOT_RUNNING)
			pthread_cond_wait(&a->cond, &a->lock);
	pthread_mutex_unlock(&a->lock);
}

uint64_t ukd_prng_ahead_hits(const struct ukd_prng_ahead *a)
{
	return a ? a->hits : 0;
}
