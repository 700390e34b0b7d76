/* SPDX-License-Identifier: MIT */
/*
 * ChaCha20 read-ahead (prng.h). Two buffers: while the caller's thread hands
 * one out (the FUSE/CUSE reply copies it to the reader), the helper thread
 * generates the bytes that follow into the other. Over FUSE the copy and
 * the generation then overlap on two CPUs instead of taking turns on one.
 *
 * The job, under @lock:
 *   NONE -> POSTED (caller) -> RUNNING (helper) -> DONE (helper) -> NONE (caller)
 * A POSTED job the caller no longer wants is dropped (-> NONE) before the
 * helper starts it; a RUNNING one is always waited for before its buffer is
 * reused. The job carries a copy of the stream's key and IV, so the helper
 * never touches a struct ukd_prng, which the caller may rekey or free.
 */
#include <errno.h>
#include <openssl/crypto.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "prng-internal.h"

enum job_state {
	JOB_NONE,
	JOB_POSTED,
	JOB_RUNNING,
	JOB_DONE,
};

struct ahead_job {
	uint8_t key[UKD_PRNG_KEY_SIZE];
	uint8_t iv[16];
	uint64_t pos;
	size_t size;
	unsigned int buf;          /* index into ukd_prng_ahead.buf */
	int result;                /* DONE: 0 or -EIO */
};

struct ukd_prng_ahead {
	pthread_mutex_t lock;
	pthread_cond_t cond;       /* @state changed */
	bool has_thread;
	bool quit;                 /* under lock */
	pthread_t thread;
	enum job_state state;      /* under lock */
	struct ahead_job job;      /* under lock; the helper owns it while RUNNING */
	EVP_CIPHER_CTX *ctx;       /* the helper's */
	size_t max;
	uint8_t *buf[2];
	/* The buffer lent by the last read and what it holds (caller's thread). */
	unsigned int lent;
	size_t lent_size;
	uint8_t lent_key[UKD_PRNG_KEY_SIZE];
	uint8_t lent_iv[16];
	uint64_t hits;
};

static void *ahead_main(void *userdata)
{
	struct ukd_prng_ahead *a = userdata;

	pthread_mutex_lock(&a->lock);
	for (;;) {
		struct ahead_job *j = &a->job;

		while (!a->quit && a->state != JOB_POSTED)
			pthread_cond_wait(&a->cond, &a->lock);
		if (a->quit)
			break;
		a->state = JOB_RUNNING;
		pthread_mutex_unlock(&a->lock);

		j->result = chacha20_seek(a->ctx, j->key, j->iv, j->pos);
		if (j->result >= 0)
			j->result = chacha20_fill(a->ctx, a->buf[j->buf], j->size);

		pthread_mutex_lock(&a->lock);
		a->state = JOB_DONE;
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
	pthread_mutex_init(&a->lock, NULL);
	pthread_cond_init(&a->cond, NULL);
	a->ctx = EVP_CIPHER_CTX_new();
	/* Page-aligned: the kernel copies them to readers page by page. */
	a->buf[0] = aligned_alloc(4096, (max + 4095) & ~(size_t)4095);
	a->buf[1] = thread ? aligned_alloc(4096, (max + 4095) & ~(size_t)4095) : NULL;
	if (!a->ctx || !a->buf[0] || (thread && !a->buf[1])) {
		ukd_prng_ahead_free(a);
		return -ENOMEM;
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
	for (unsigned int i = 0; i < 2; i++) {
		if (a->buf[i])
			OPENSSL_cleanse(a->buf[i], a->max);
		free(a->buf[i]);
	}
	EVP_CIPHER_CTX_free(a->ctx);
	pthread_cond_destroy(&a->cond);
	pthread_mutex_destroy(&a->lock);
	OPENSSL_cleanse(a, sizeof(*a));
	free(a);
}

static bool same_stream(const uint8_t *key, const uint8_t *iv, const struct ukd_prng *p)
{
	return p->kind == UKD_PRNG_CHACHA20 && !memcmp(key, p->key, UKD_PRNG_KEY_SIZE) &&
	       !memcmp(iv, p->iv, sizeof(p->iv));
}

/* Under lock: until the helper has finished whatever it is running. */
static void wait_not_running(struct ukd_prng_ahead *a)
{
	while (a->state == JOB_RUNNING)
		pthread_cond_wait(&a->cond, &a->lock);
}

/* Under lock, the job not RUNNING: drop it, wiping its bytes. */
static void job_drop(struct ukd_prng_ahead *a)
{
	if (a->state == JOB_DONE)
		OPENSSL_cleanse(a->buf[a->job.buf], a->job.size);
	OPENSSL_cleanse(&a->job, sizeof(a->job));
	a->state = JOB_NONE;
}

int ukd_prng_ahead_read(struct ukd_prng_ahead *a, struct ukd_prng *p, size_t size,
			const void **data)
{
	unsigned int use;
	bool hit;
	int r = 0;

	if (!a || !p || !data || size > a->max)
		return -EINVAL;

	pthread_mutex_lock(&a->lock);
	hit = a->state != JOB_NONE && same_stream(a->job.key, a->job.iv, p) &&
	      a->job.pos == p->pos && a->job.size >= size;
	if (hit) {
		while (a->state != JOB_DONE)
			pthread_cond_wait(&a->cond, &a->lock);
		hit = a->job.result >= 0;
	}
	if (hit) {
		use = a->job.buf;
		a->state = JOB_NONE;
		p->pos += size;  /* p->chacha_pos stays behind: ukd_prng_fill() seeks */
		a->hits++;
	} else {
		/* A guess that did not come true: generate here, into a buffer
		 * the helper is not writing. */
		if (a->state == JOB_POSTED || a->state == JOB_DONE)
			job_drop(a);
		use = a->state == JOB_RUNNING ? !a->job.buf : 0;
		pthread_mutex_unlock(&a->lock);
		r = ukd_prng_fill(p, a->buf[use], size);
		pthread_mutex_lock(&a->lock);
		wait_not_running(a);
		if (a->state == JOB_DONE)
			job_drop(a);
	}
	if (r >= 0 && a->has_thread && p->kind == UKD_PRNG_CHACHA20 && size >= UKD_PRNG_AHEAD_MIN) {
		/* Guess that the next read is as long and follows on. */
		memcpy(a->job.key, p->key, UKD_PRNG_KEY_SIZE);
		memcpy(a->job.iv, p->iv, sizeof(a->job.iv));
		a->job.pos = p->pos;
		a->job.size = size;
		a->job.buf = !use;
		a->job.result = 0;
		a->state = JOB_POSTED;
		pthread_cond_broadcast(&a->cond);
	}
	pthread_mutex_unlock(&a->lock);
	if (r < 0)
		return r;
	a->lent = use;
	a->lent_size = size;
	memcpy(a->lent_key, p->key, UKD_PRNG_KEY_SIZE);
	memcpy(a->lent_iv, p->iv, sizeof(a->lent_iv));
	*data = a->buf[use];
	return 0;
}

void ukd_prng_ahead_forget(struct ukd_prng_ahead *a, const struct ukd_prng *p)
{
	if (!a || !p)
		return;
	/* xoshiro streams have no key here: wipe what was lent regardless. */
	if (p->kind != UKD_PRNG_CHACHA20 || same_stream(a->lent_key, a->lent_iv, p)) {
		OPENSSL_cleanse(a->buf[a->lent], a->lent_size);
		a->lent_size = 0;
	}
	pthread_mutex_lock(&a->lock);
	if (a->state != JOB_NONE && same_stream(a->job.key, a->job.iv, p)) {
		wait_not_running(a);
		job_drop(a);
	}
	pthread_mutex_unlock(&a->lock);
}

uint64_t ukd_prng_ahead_hits(const struct ukd_prng_ahead *a)
{
	return a ? a->hits : 0;
}
