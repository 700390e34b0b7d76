/* SPDX-License-Identifier: MIT */
/*
 * kkey device operations. Semantics follow the original KDLP kkey module
 * (docs/kkeyd.md) with its files fixed: explicit tempo, End of Track with
 * its delta, VLQs capped at 4 bytes, no hanging notes.
 */
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>

#include "kkey.h"
#include "log.h"
#include "smf.h"

/* Per open file: the snapshot it is reading, taken at its first read. */
struct kkey_file {
	uint8_t *smf;
	size_t len;
	bool taken;
};

static struct kkey *kkey_of(struct ukd_file *file)
{
	return file->dev->data;
}

static uint8_t note_of(struct ukd_file *file)
{
	return (uint8_t)(file->dev - kkey_of(file)->nodes);
}

static int kkey_open(struct ukd_file *file)
{
	struct kkey_file *kf = calloc(1, sizeof(*kf));

	if (!kf)
		return -ENOMEM;
	file->private_data = kf;
	return 0;
}

static void kkey_release(struct ukd_file *file)
{
	struct kkey_file *kf = file->private_data;

	if (kf)
		free(kf->smf);
	free(kf);
}

static void wake_all(struct kkey *k)
{
	for (unsigned int i = 0; i < KKEY_NOTES; i++)
		ukd_chardev_wake(&k->nodes[i]);
}

/* After a clear: the journal shrinks to what the recording still holds.
 * If it cannot, the old records stay: a restart would replay notes already
 * read (twice rather than lost). */
static void compact_journal(struct kkey *k)
{
	int r;

	if (!k->journal)
		return;
	r = kkey_journal_rewrite(k->journal, k->rec);
	if (r < 0)
		ukd_log_errno(LOG_ERR, r, "kkey: cannot compact the journal: %m; a restart will "
			      "replay notes already read");
}

static int take_snapshot(struct kkey *k, struct kkey_file *kf)
{
	struct ukd_recording snap;
	struct ukd_smf_params p = {
		.tempo_us = UKD_SMF_TEMPO_US * k->cfg.slowdown,
		.channel = k->cfg.channel,
	};
	int r;

	r = ukd_recorder_snapshot(k->rec, &snap, !k->cfg.keep, ukd_now_ns());
	if (r < 0)
		return r;
	r = ukd_smf_from_recording(&snap, &p, &kf->smf, &kf->len);
	if (r < 0) {
		size_t n = snap.n_events;

		/* With clear the notes have left the recorder: put them back,
		 * so that a later read still gets them. */
		if (!k->cfg.keep && ukd_recorder_restore(k->rec, &snap) < 0)
			ukd_log(LOG_ERR, "kkey: cannot build the MIDI file of %zu events (%s), "
				"and cannot keep them either: they are lost", n, strerror(-r));
		else
			ukd_log(LOG_ERR, "kkey: cannot build the MIDI file of %zu events: %s; "
				"the recording is kept for the next read", n, strerror(-r));
	}
	ukd_recording_clear(&snap);
	if (r == 0) {
		kf->taken = true;
		k->full_logged = false;
		if (!k->cfg.keep)
			compact_journal(k);
	}
	return r;
}

static ssize_t kkey_read(struct ukd_file *file, void *buf, size_t size)
{
	struct kkey *k = kkey_of(file);
	struct kkey_file *kf = file->private_data;
	size_t n;

	if (size == 0)
		return 0;
	if (!kf->taken) {
		int r = take_snapshot(k, kf);

		if (r < 0)
			return r;
	}
	if (file->pos >= kf->len)
		return 0;
	n = kf->len - (size_t)file->pos;
	if (n > size)
		n = size;
	memcpy(buf, kf->smf + file->pos, n);
	file->pos += n;
	return (ssize_t)n;
}

static ssize_t kkey_write(struct ukd_file *file, const struct ukd_write *w)
{
	const char *c = w->buf;
	int r;

	if (w->size == 0)
		return 0;
	if (w->continued)
		return (ssize_t)w->size; /* the rest of a write(2) already counted */
	/* As the original: '0' releases, any other first byte presses. */
	r = kkey_play(kkey_of(file), &(struct kkey_event){ .note = note_of(file), .on = c[0] != '0' });
	return r < 0 ? r : (ssize_t)w->size;
}

/*
 * Into the recording and, with a journal, into the journal: an event a
 * caller is told was taken is in both. ENOSPC is logged once until space
 * returns, a failing journal once until it works again.
 */
static int record(struct kkey *k, const struct ukd_note_event *rec)
{
	int r = ukd_recorder_record(k->rec, rec->note, rec->on, rec->velocity, rec->t_ns);

	if (r == -ENOSPC) {
		if (!k->full_logged)
			ukd_log(LOG_WARNING, "kkey: recording full (%zu events); new notes are heard live but not recorded until it is read or reset",
				ukd_recorder_capacity(k->rec));
		k->full_logged = true;
	}
	if (r < 0)
		return r;
	wake_all(k);
	if (!k->journal)
		return 0;
	/* Before the caller's write(2) returns: in the page cache, so a
	 * killed kkeyd loses nothing it acknowledged. */
	r = kkey_journal_append(k->journal, rec);
	if (r < 0 && !k->journal_failed)
		ukd_log_errno(LOG_ERR, r, "kkey: cannot append to the journal: %m; writes fail "
			      "until it works again");
	k->journal_failed = r < 0;
	return r;
}

int kkey_play(struct kkey *k, const struct kkey_event *ev)
{
	struct ukd_note_event rec = {
		.note = ev->note,
		.on = ev->on,
		.velocity = ev->velocity ? ev->velocity : (uint8_t)k->cfg.velocity,
		.t_ns = ev->t_ns ? ev->t_ns : ukd_now_ns(),
	};
	int r;

	if (ev->note >= KKEY_NOTES || ev->velocity > 127)
		return -EINVAL;
	r = record(k, &rec);
	/* A full recording must not silence the instrument: the player still
	 * hears the note; only the file misses it. */
	k->held[ev->note] = ev->on;
	if (k->listener && k->listener->note)
		k->listener->note(k->listener_data, k->cfg.channel, ev->note, ev->on, rec.velocity);
	return r;
}

void kkey_set_listener(struct kkey *k, const struct kkey_listener_ops *ops, void *data)
{
	k->listener = ops;
	k->listener_data = data;
}

void kkey_set_panic_hook(struct kkey *k, void (*fn)(void *data), void *data)
{
	k->on_panic = fn;
	k->on_panic_data = data;
}

void kkey_control(struct kkey *k, uint8_t cc, uint8_t value)
{
	if (k->listener && k->listener->control && cc < 128 && value < 128)
		k->listener->control(k->listener_data, k->cfg.channel, cc, value);
}

int kkey_panic(struct kkey *k, uint64_t t_ns)
{
	struct ukd_note_event rec = { .on = false, .velocity = (uint8_t)k->cfg.velocity };
	int released = 0, r = 0, q;

	rec.t_ns = t_ns ? t_ns : ukd_now_ns();
	if (k->on_panic)
		k->on_panic(k->on_panic_data);
	for (unsigned int n = 0; n < KKEY_NOTES; n++) {
		if (!k->held[n])
			continue;
		k->held[n] = false;
		rec.note = (uint8_t)n;
		q = record(k, &rec);
		if (q < 0)
			r = q;
		else
			released++;
		/* Each release live too, so a recorder on the port (arecordmidi)
		 * gets the same note-offs as our file. */
		if (k->listener && k->listener->note)
			k->listener->note(k->listener_data, k->cfg.channel, (uint8_t)n, false, rec.velocity);
	}
	if (k->listener && k->listener->all_notes_off)
		k->listener->all_notes_off(k->listener_data, k->cfg.channel);
	ukd_log(LOG_INFO, "kkey: panic: %d held notes released", released);
	return r < 0 ? r : released;
}

/* Check a command's size and direction against what its number means. */
static int expect(unsigned int cmd, unsigned int want)
{
	return cmd == want ? 0 : -EINVAL;
}

static int kkey_ioctl(struct ukd_file *file, unsigned int cmd, const void *in, size_t in_size,
		      void *out, size_t out_size)
{
	struct kkey *k = kkey_of(file);
	uint32_t v;
	int r;

	if (_IOC_TYPE(cmd) != KKEY_IOC_MAGIC)
		return -ENOTTY;
	switch (_IOC_NR(cmd)) {
	case _IOC_NR(KKEY_IOC_RESET):
		r = expect(cmd, KKEY_IOC_RESET);
		if (r == 0) {
			ukd_recorder_reset(k->rec, ukd_now_ns());
			k->full_logged = false;
			compact_journal(k);
			ukd_log(LOG_DEBUG, "kkey: recording reset");
		}
		return r;
	case _IOC_NR(KKEY_IOC_GET_VELOCITY):
		r = expect(cmd, KKEY_IOC_GET_VELOCITY);
		if (r == 0)
			memcpy(out, &k->cfg.velocity, sizeof(uint32_t));
		return r;
	case _IOC_NR(KKEY_IOC_SET_VELOCITY):
		r = expect(cmd, KKEY_IOC_SET_VELOCITY);
		if (r < 0)
			return r;
		memcpy(&v, in, sizeof(v));
		/* MIDI: a note-on with velocity 0 is a note-off. */
		if (v < 1 || v > 127)
			return -EINVAL;
		k->cfg.velocity = v;
		return 0;
	case _IOC_NR(KKEY_IOC_GET_SLOWDOWN):
		r = expect(cmd, KKEY_IOC_GET_SLOWDOWN);
		if (r == 0)
			memcpy(out, &k->cfg.slowdown, sizeof(uint32_t));
		return r;
	case _IOC_NR(KKEY_IOC_SET_SLOWDOWN):
		r = expect(cmd, KKEY_IOC_SET_SLOWDOWN);
		if (r < 0)
			return r;
		memcpy(&v, in, sizeof(v));
		if (v < KKEY_SLOWDOWN_MIN || v > KKEY_SLOWDOWN_MAX)
			return -EINVAL;
		k->cfg.slowdown = v;
		return 0;
	case _IOC_NR(KKEY_IOC_PANIC):
		r = expect(cmd, KKEY_IOC_PANIC);
		if (r == 0)
			r = kkey_panic(k, 0);
		return r < 0 ? r : 0;
	case _IOC_NR(KKEY_IOC_GET_STATUS): {
		struct kkey_status st = {
			.events = ukd_recorder_count(k->rec),
			.capacity = ukd_recorder_capacity(k->rec),
			.velocity = k->cfg.velocity,
			.slowdown = k->cfg.slowdown,
			.held = ukd_recorder_held(k->rec),
			.flags = k->cfg.keep ? KKEY_STATUS_KEEP : 0,
		};

		r = expect(cmd, KKEY_IOC_GET_STATUS);
		if (r == 0)
			memcpy(out, &st, sizeof(st));
		return r;
	}
	default:
		return -ENOTTY;
	}
}

static unsigned int kkey_poll(struct ukd_file *file)
{
	struct kkey *k = kkey_of(file);
	struct kkey_file *kf = file->private_data;
	unsigned int mask = POLLOUT | POLLWRNORM;

	if (kf->taken ? file->pos < kf->len : ukd_recorder_count(k->rec) > 0)
		mask |= POLLIN | POLLRDNORM;
	return mask;
}

static const struct ukd_chardev_ops kkey_ops = {
	.open = kkey_open,
	.read = kkey_read,
	.write = kkey_write,
	.ioctl = kkey_ioctl,
	.poll = kkey_poll,
	.release = kkey_release,
};

void kkey_config_default(struct kkey_config *cfg)
{
	*cfg = (struct kkey_config){
		.capacity = UKD_RECORDER_DEFAULT_CAPACITY,
		.velocity = KKEY_VELOCITY_DEFAULT,
		.slowdown = 1,
		.channel = 0,
		.keep = false,
		.mode = 0666,
	};
}

int kkey_new(struct kkey **ret, const struct kkey_config *cfg)
{
	struct kkey *k;
	int r;

	if (!ret || !cfg || cfg->velocity < 1 || cfg->velocity > 127 || cfg->channel > 15 ||
	    cfg->slowdown < KKEY_SLOWDOWN_MIN || cfg->slowdown > KKEY_SLOWDOWN_MAX ||
	    (cfg->mode & ~07777u))
		return -EINVAL;
	k = calloc(1, sizeof(*k));
	if (!k)
		return -ENOMEM;
	k->cfg = *cfg;
	r = ukd_recorder_new(&k->rec, cfg->capacity);
	if (r < 0) {
		free(k);
		return r;
	}
	for (unsigned int i = 0; i < KKEY_NOTES; i++) {
		snprintf(k->names[i], sizeof(k->names[i]), "kkey%03u", i);
		k->nodes[i] = (struct ukd_chardev){
			.name = k->names[i],
			.ops = &kkey_ops,
			.data = k,
			.mode = cfg->mode,
		};
		k->node_ptrs[i] = &k->nodes[i];
	}
	*ret = k;
	return 0;
}

void kkey_free(struct kkey *k)
{
	if (!k)
		return;
	ukd_recorder_free(k->rec);
	free(k);
}

void kkey_reconfigure(struct kkey *k, const struct kkey_config *cfg)
{
	if (k->cfg.velocity != cfg->velocity)
		ukd_log(LOG_INFO, "velocity: %u -> %u", k->cfg.velocity, cfg->velocity);
	if (k->cfg.slowdown != cfg->slowdown)
		ukd_log(LOG_INFO, "slowdown: %u -> %u", k->cfg.slowdown, cfg->slowdown);
	if (k->cfg.channel != cfg->channel)
		ukd_log(LOG_INFO, "channel: %u -> %u", k->cfg.channel + 1u, cfg->channel + 1u);
	if (k->cfg.keep != cfg->keep)
		ukd_log(LOG_INFO, "keep: %s", cfg->keep ? "yes" : "no");
	k->cfg.velocity = cfg->velocity;
	k->cfg.slowdown = cfg->slowdown;
	k->cfg.channel = cfg->channel;
	k->cfg.keep = cfg->keep;
}
