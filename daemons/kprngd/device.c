/* SPDX-License-Identifier: MIT */
/*
 * The kprng device (docs/kprngd.md, "Streams"):
 *  - device key S: the seed (deterministic mode) or 32 bytes of getrandom;
 *  - write(2) bytes are absorbed by a SHA-256 stream and folded into S at
 *    the next open(2): S = SHA-256(mix tag || S || SHA-256(bytes));
 *  - an open file's key: deterministic S, else SHA-256(open tag || S || R)
 *    with R fresh from getrandom; its stream is the generator keyed by that,
 *    from position 0, so it depends on nothing but the key: not on read
 *    sizes, other readers, or the front end.
 * Reads generate into the read-ahead engine's buffers, which the front end
 * replies from (read_lend: no copy); with the helper thread configured, the
 * bytes after a large ChaCha20 read are generated while the front end sends
 * it (lib/prng/ahead.c). Reads never block on anything but that thread.
 */
#include <errno.h>
#include <fcntl.h>
#include <openssl/crypto.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>

#include "device.h"
#include "log.h"

_Static_assert(KPRNG_GEN_CHACHA20 == UKD_PRNG_CHACHA20, "generator ABI");
_Static_assert(KPRNG_GEN_XOSHIRO == UKD_PRNG_XOSHIRO, "generator ABI");
_Static_assert(KPRNG_SEED_SIZE == UKD_PRNG_KEY_SIZE, "seed size");

struct kprng_file {
	struct ukd_prng *prng;
	bool deterministic;
	uint8_t key[UKD_PRNG_KEY_SIZE];  /* kept to switch generators */
};

static struct kprng *kprng_of(struct ukd_file *file)
{
	return file->dev->data;
}

/* The key of a new stream, per the rules at the top. */
static int stream_key(struct kprng *k, bool deterministic, uint8_t key[UKD_PRNG_KEY_SIZE])
{
	uint8_t rnd[UKD_PRNG_KEY_SIZE];
	int r;

	r = ukd_prng_mix_fold(k->mix, k->key);
	if (r < 0)
		return r;
	if (r > 0)
		k->stats.key_changes++;
	if (deterministic) {
		memcpy(key, k->key, UKD_PRNG_KEY_SIZE);
		return 0;
	}
	/* The pool is ready: kprng_new() waited for it. */
	r = ukd_prng_getrandom(rnd, sizeof(rnd), true);
	if (r >= 0)
		r = ukd_prng_derive_key(key, UKD_PRNG_OPEN_TAG, k->key, rnd);
	OPENSSL_cleanse(rnd, sizeof(rnd));
	return r;
}

static int kprng_open(struct ukd_file *file)
{
	struct kprng *k = kprng_of(file);
	struct kprng_file *f;
	int r;

	f = calloc(1, sizeof(*f));
	if (!f)
		return -ENOMEM;
	f->deterministic = k->deterministic;
	r = stream_key(k, f->deterministic, f->key);
	if (r >= 0)
		r = ukd_prng_new(&f->prng, k->generator, f->key);
	if (r < 0) {
		OPENSSL_cleanse(f, sizeof(*f));
		free(f);
		return r;
	}
	file->private_data = f;
	k->stats.opens++;
	k->stats.open_now++;
	return 0;
}

static void kprng_release(struct ukd_file *file)
{
	struct kprng *k = kprng_of(file);
	struct kprng_file *f = file->private_data;

	if (!f)
		return;
	ukd_prng_ahead_forget(k->ahead, f->prng);
	ukd_prng_free(f->prng);
	OPENSSL_cleanse(f, sizeof(*f));
	free(f);
	file->private_data = NULL;
	k->stats.open_now--;
}

static ssize_t kprng_read_lend(struct ukd_file *file, const void **data, size_t size)
{
	struct kprng *k = kprng_of(file);
	struct kprng_file *f = file->private_data;
	int r;

	if (size == 0)
		return 0;
	r = ukd_prng_ahead_read(k->ahead, f->prng, size, data);
	if (r < 0) {
		ukd_log(LOG_ERR, "%s: generator failed: %s", k->node.name, strerror(-r));
		return r;
	}
	file->pos += size;
	k->stats.bytes_read += size;
	k->stats.reads++;
	return (ssize_t)size;
}

/* For callers with their own buffer; the front ends use read_lend. */
static ssize_t kprng_read(struct ukd_file *file, void *buf, size_t size)
{
	const void *data;
	ssize_t n = kprng_read_lend(file, &data, size);

	if (n > 0)
		memcpy(buf, data, (size_t)n);
	return n;
}

static ssize_t kprng_write(struct ukd_file *file, const struct ukd_write *w)
{
	struct kprng *k = kprng_of(file);
	int r;

	r = ukd_prng_mix_add(k->mix, w->buf, w->size);
	if (r < 0)
		return r;
	k->stats.bytes_written += w->size;
	if (!w->continued && w->size > 0)
		k->stats.writes++;
	return (ssize_t)w->size;
}

static bool file_writable(const struct ukd_file *file)
{
	return (file->flags & O_ACCMODE) != O_RDONLY;
}

/* Restart @f's stream: @key (NULL: keep its key), @kind. */
static int file_restart(struct kprng *k, struct kprng_file *f, enum ukd_prng_kind kind,
			const uint8_t key[UKD_PRNG_KEY_SIZE])
{
	int r;

	ukd_prng_ahead_forget(k->ahead, f->prng);
	r = ukd_prng_rekey(f->prng, kind, key ? key : f->key);
	if (r < 0)
		return r;
	if (key)
		memcpy(f->key, key, UKD_PRNG_KEY_SIZE);
	return 0;
}

static int ioctl_set_seed(struct ukd_file *file, const struct kprng_seed *s)
{
	struct kprng *k = kprng_of(file);
	struct kprng_file *f = file->private_data;
	int r;

	if (s->reserved || (s->flags & ~KPRNG_SCOPE_DEVICE))
		return -EINVAL;
	if ((s->flags & KPRNG_SCOPE_DEVICE) && !file_writable(file))
		return -EPERM;
	r = file_restart(k, f, ukd_prng_get_kind(f->prng), s->seed);
	if (r < 0)
		return r;
	f->deterministic = true;
	if (s->flags & KPRNG_SCOPE_DEVICE) {
		r = kprng_set_seed(k, s->seed);
		if (r < 0)
			return r;
		ukd_log(LOG_INFO, "%s: seeded by ioctl; later opens are reproducible", k->node.name);
	}
	return 0;
}

static int ioctl_set_generator(struct ukd_file *file, const struct kprng_generator *g)
{
	struct kprng *k = kprng_of(file);
	struct kprng_file *f = file->private_data;
	int r;

	if (g->generator >= _UKD_PRNG_KIND_MAX || (g->flags & ~KPRNG_SCOPE_DEVICE))
		return -EINVAL;
	if ((g->flags & KPRNG_SCOPE_DEVICE) && !file_writable(file))
		return -EPERM;
	r = file_restart(k, f, (enum ukd_prng_kind)g->generator, NULL);
	if (r < 0)
		return r;
	if (g->flags & KPRNG_SCOPE_DEVICE) {
		(void)kprng_set_generator(k, (enum ukd_prng_kind)g->generator);
		ukd_log(LOG_INFO, "%s: generator for later opens: %s", k->node.name,
			ukd_prng_kind_to_string(k->generator));
	}
	return 0;
}

static int ioctl_reseed(struct ukd_file *file, uint32_t flags)
{
	struct kprng *k = kprng_of(file);
	struct kprng_file *f = file->private_data;
	uint8_t key[UKD_PRNG_KEY_SIZE];
	int r;

	if (flags & ~KPRNG_SCOPE_DEVICE)
		return -EINVAL;
	if ((flags & KPRNG_SCOPE_DEVICE) && !file_writable(file))
		return -EPERM;
	if (flags & KPRNG_SCOPE_DEVICE) {
		r = kprng_set_seed(k, NULL);
		if (r < 0)
			return r;
		ukd_log(LOG_INFO, "%s: reseeded from getrandom", k->node.name);
	}
	r = stream_key(k, false, key);
	if (r >= 0)
		r = file_restart(k, f, ukd_prng_get_kind(f->prng), key);
	if (r >= 0)
		f->deterministic = false;
	OPENSSL_cleanse(key, sizeof(key));
	return r;
}

static int kprng_ioctl(struct ukd_file *file, unsigned int cmd,
		       const void *in, size_t in_size, void *out, size_t out_size)
{
	struct kprng *k = kprng_of(file);
	struct kprng_file *f = file->private_data;

	if (_IOC_TYPE(cmd) != KPRNG_IOC_MAGIC)
		return -ENOTTY;
	/* The front end matched the sizes to the command; the command's size
	 * and direction must be the ones we define (chardev.h). */
	switch (_IOC_NR(cmd)) {
	case _IOC_NR(KPRNG_IOC_SET_SEED): {
		struct kprng_seed seed;
		int r;

		if (cmd != KPRNG_IOC_SET_SEED)
			return -EINVAL;
		memcpy(&seed, in, sizeof(seed));  /* @in need not be aligned */
		r = ioctl_set_seed(file, &seed);
		OPENSSL_cleanse(&seed, sizeof(seed));
		return r;
	}
	case _IOC_NR(KPRNG_IOC_GET_GENERATOR): {
		struct kprng_generator g = {
			.generator = ukd_prng_get_kind(f->prng),
			.flags = f->deterministic ? KPRNG_DETERMINISTIC : 0,
		};

		if (cmd != KPRNG_IOC_GET_GENERATOR)
			return -EINVAL;
		memcpy(out, &g, sizeof(g));
		return 0;
	}
	case _IOC_NR(KPRNG_IOC_SET_GENERATOR): {
		struct kprng_generator g;

		if (cmd != KPRNG_IOC_SET_GENERATOR)
			return -EINVAL;
		memcpy(&g, in, sizeof(g));
		return ioctl_set_generator(file, &g);
	}
	case _IOC_NR(KPRNG_IOC_RESEED): {
		uint32_t flags;

		if (cmd != KPRNG_IOC_RESEED)
			return -EINVAL;
		memcpy(&flags, in, sizeof(flags));
		return ioctl_reseed(file, flags);
	}
	case _IOC_NR(KPRNG_IOC_GET_STATS): {
		struct kprng_stats st = k->stats;

		if (cmd != KPRNG_IOC_GET_STATS)
			return -EINVAL;
		st.position = ukd_prng_position(f->prng);
		st.generator = k->generator;
		st.flags = k->deterministic ? KPRNG_DETERMINISTIC : 0;
		memcpy(out, &st, sizeof(st));
		return 0;
	}
	default:
		return -ENOTTY;
	}
}

const struct ukd_chardev_ops kprng_ops = {
	.open = kprng_open,
	.read = kprng_read,
	.read_lend = kprng_read_lend,
	.write = kprng_write,
	.ioctl = kprng_ioctl,
	.release = kprng_release,
};

int kprng_new(struct kprng **ret, const struct kprng_config *cfg)
{
	_cleanup_(kprng_freep) struct kprng *k = NULL;
	int r;

	if (!ret || !cfg || !cfg->name || (unsigned int)cfg->generator >= _UKD_PRNG_KIND_MAX)
		return -EINVAL;
	k = calloc(1, sizeof(*k));
	if (!k)
		return -ENOMEM;
	k->node.name = cfg->name;
	k->node.ops = &kprng_ops;
	k->node.data = k;
	k->node.mode = cfg->mode;
	k->generator = cfg->generator;
	k->deterministic = cfg->deterministic;
	r = ukd_prng_mix_new(&k->mix);
	if (r < 0)
		return r;
	r = ukd_prng_ahead_new(&k->ahead, UKD_CHARDEV_MAX_IO, cfg->helper);
	if (r < 0)
		return r;
	if (cfg->deterministic)
		memcpy(k->key, cfg->seed, UKD_PRNG_KEY_SIZE);
	else {
		/* Blocks only in early boot, before the kernel pool is ready. */
		r = ukd_prng_getrandom(k->key, sizeof(k->key), false);
		if (r < 0)
			return r;
	}
	*ret = TAKE_PTR(k);
	return 0;
}

int kprng_set_seed(struct kprng *k, const uint8_t seed[UKD_PRNG_KEY_SIZE])
{
	uint8_t fresh[UKD_PRNG_KEY_SIZE];
	int r;

	if (seed) {
		r = ukd_prng_mix_discard(k->mix);
		if (r < 0)
			return r;
		memcpy(k->key, seed, UKD_PRNG_KEY_SIZE);
		k->deterministic = true;
		k->stats.key_changes++;
		return 0;
	}
	/* Pending writes are folded in, not lost: they cannot hurt. */
	r = ukd_prng_getrandom(fresh, sizeof(fresh), true);
	if (r >= 0)
		r = ukd_prng_mix_fold(k->mix, k->key);
	if (r >= 0)
		r = ukd_prng_derive_key(k->key, UKD_PRNG_OPEN_TAG, k->key, fresh);
	OPENSSL_cleanse(fresh, sizeof(fresh));
	if (r < 0)
		return r;
	k->deterministic = false;
	k->stats.key_changes++;
	return 0;
}

int kprng_set_generator(struct kprng *k, enum ukd_prng_kind kind)
{
	if ((unsigned int)kind >= _UKD_PRNG_KIND_MAX)
		return -EINVAL;
	k->generator = kind;
	return 0;
}

void kprng_free(struct kprng *k)
{
	if (!k)
		return;
	ukd_prng_ahead_free(k->ahead);
	ukd_prng_mix_free(k->mix);
	OPENSSL_cleanse(k, sizeof(*k));
	free(k);
}
