/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "smf.h"

int ukd_smf_vlq_encode(uint32_t value, uint8_t out[4])
{
	uint8_t tmp[4];
	int n = 0;

	if (value > UKD_SMF_VLQ_MAX)
		return -ERANGE;
	/* SMF 1.0: 7 bits per byte, most significant first, bit 7 set on all
	 * bytes but the last. */
	do {
		tmp[n++] = value & 0x7f;
		value >>= 7;
	} while (value);
	for (int i = 0; i < n; i++)
		out[i] = tmp[n - 1 - i] | (i < n - 1 ? 0x80 : 0);
	return n;
}

int ukd_smf_vlq_decode(const uint8_t *buf, size_t len, uint32_t *value)
{
	uint32_t v = 0;

	for (size_t i = 0; i < 4; i++) {
		if (i >= len)
			return -EINVAL;
		v = (v << 7) | (buf[i] & 0x7f);
		if (!(buf[i] & 0x80)) {
			*value = v;
			return (int)i + 1;
		}
	}
	return -EINVAL; /* a fifth byte would be needed */
}

/* A growable output buffer. */
struct smf_out {
	uint8_t *data;
	size_t len, cap;
	int err;
};

static void out_put(struct smf_out *o, const void *src, size_t n)
{
	if (o->err)
		return;
	if (n > o->cap - o->len) {
		size_t cap = o->cap ? o->cap : 256;
		uint8_t *grown;

		while (cap - o->len < n) {
			if (cap > SIZE_MAX / 2) {
				o->err = -ENOMEM;
				return;
			}
			cap *= 2;
		}
		grown = realloc(o->data, cap);
		if (!grown) {
			o->err = -ENOMEM;
			return;
		}
		o->data = grown;
		o->cap = cap;
	}
	memcpy(o->data + o->len, src, n);
	o->len += n;
}

static void out_be32(struct smf_out *o, uint32_t v)
{
	uint8_t b[4] = { v >> 24, v >> 16, v >> 8, v };

	out_put(o, b, 4);
}

static void out_be16(struct smf_out *o, uint16_t v)
{
	uint8_t b[2] = { v >> 8, v };

	out_put(o, b, 2);
}

/* A delta of any size: SMF deltas stop at UKD_SMF_VLQ_MAX, so a longer
 * pause is carried by empty Text events (FF 01 00), which every player
 * skips, each advancing time by the maximum. */
static void out_delta(struct smf_out *o, uint64_t delta)
{
	static const uint8_t empty_text[] = { 0xff, 0x01, 0x00 };
	uint8_t vlq[4];

	while (delta > UKD_SMF_VLQ_MAX) {
		out_put(o, vlq, (size_t)ukd_smf_vlq_encode(UKD_SMF_VLQ_MAX, vlq));
		out_put(o, empty_text, sizeof(empty_text));
		delta -= UKD_SMF_VLQ_MAX;
	}
	out_put(o, vlq, (size_t)ukd_smf_vlq_encode((uint32_t)delta, vlq));
}

int ukd_smf_from_recording(const struct ukd_recording *rec, const struct ukd_smf_params *p,
			   uint8_t **out, size_t *out_len)
{
	/* SMF 1.0 meta events: Time Signature 4/4, 24 MIDI clocks per
	 * metronome click, 8 32nd notes per quarter; Set Tempo (3 bytes). */
	const uint8_t time_sig[] = { 0x00, 0xff, 0x58, 0x04, 0x04, 0x02, 0x18, 0x08 };
	const uint8_t eot[] = { 0x00, 0xff, 0x2f, 0x00 };
	struct smf_out o = { 0 };
	uint64_t t0, last_tick = 0;
	size_t track_len_at;

	if (!rec || !p || !out || !out_len || p->channel > 15 || p->tempo_us == 0 ||
	    p->tempo_us > UKD_SMF_TEMPO_MAX || (rec->n_events && !rec->events))
		return -EINVAL;

	out_put(&o, "MThd", 4);
	out_be32(&o, 6);
	out_be16(&o, 0);                /* format 0 */
	out_be16(&o, 1);                /* one track */
	out_be16(&o, UKD_SMF_DIVISION); /* ticks per quarter note */
	out_put(&o, "MTrk", 4);
	track_len_at = o.len;
	out_be32(&o, 0);                /* patched below */

	out_put(&o, time_sig, sizeof(time_sig));
	{
		uint8_t tempo[] = { 0x00, 0xff, 0x51, 0x03, p->tempo_us >> 16,
				    p->tempo_us >> 8, p->tempo_us };
		out_put(&o, tempo, sizeof(tempo));
	}

	t0 = rec->n_events ? rec->events[0].t_ns : rec->end_ns;
	for (size_t i = 0; i < rec->n_events; i++) {
		const struct ukd_note_event *ev = &rec->events[i];
		uint64_t tick;
		uint8_t msg[3];

		if (ev->note > 127 || ev->velocity > 127 || ev->t_ns < t0)
			goto invalid;
		/* Absolute ticks from t0, so rounding never accumulates. */
		tick = (ev->t_ns - t0) / UKD_SMF_TICK_NS;
		if (tick < last_tick)
			goto invalid; /* events must be in time order */
		out_delta(&o, tick - last_tick);
		last_tick = tick;
		msg[0] = (ev->on ? 0x90 : 0x80) | p->channel;
		msg[1] = ev->note;
		msg[2] = ev->velocity;
		out_put(&o, msg, 3);
	}

	/* Close every held note at the snapshot's end. */
	for (unsigned int n = 0; n < UKD_RECORDER_NOTES; n++) {
		uint64_t tick;
		uint8_t msg[3];

		if (!rec->held[n])
			continue;
		tick = rec->end_ns > t0 ? (rec->end_ns - t0) / UKD_SMF_TICK_NS : 0;
		if (tick < last_tick)
			tick = last_tick;
		out_delta(&o, tick - last_tick);
		last_tick = tick;
		msg[0] = 0x80 | p->channel;
		msg[1] = (uint8_t)n;
		msg[2] = rec->held[n] - 1;
		out_put(&o, msg, 3);
	}
	out_put(&o, eot, sizeof(eot));

	if (o.err) {
		free(o.data);
		return o.err;
	}
	if (o.len - track_len_at - 4 > UINT32_MAX) {
		free(o.data);
		return -EFBIG;
	}
	{
		uint32_t tl = (uint32_t)(o.len - track_len_at - 4);
		uint8_t b[4] = { tl >> 24, tl >> 16, tl >> 8, tl };

		memcpy(o.data + track_len_at, b, 4);
	}
	*out = o.data;
	*out_len = o.len;
	return 0;

invalid:
	free(o.data);
	return -EINVAL;
}

static uint32_t be32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static uint16_t be16(const uint8_t *p)
{
	return (uint16_t)(p[0] << 8 | p[1]);
}

/* Data bytes that follow a channel status (SMF 1.0 / MIDI 1.0 table). */
static int channel_data_len(uint8_t status)
{
	switch (status & 0xf0) {
	case 0xc0:
	case 0xd0:
		return 1;
	default:
		return 2;
	}
}

/*
 * SMF 1.0: meta and sysex events carry a VLQ length, then that many bytes.
 * Reads both at @p[*@i], which is inside the track's @len bytes, into
 * @ev's payload and moves *@i past them; -EBADMSG if either runs past the
 * track's end.
 */
static int read_payload(const uint8_t *p, size_t len, size_t *i, struct ukd_smf_event *ev)
{
	uint32_t plen;
	int n;

	n = ukd_smf_vlq_decode(p + *i, len - *i, &plen);
	if (n < 0 || plen > len - *i - (size_t)n)
		return -EBADMSG;
	*i += (size_t)n;
	ev->payload = p + *i;
	ev->payload_len = plen;
	*i += plen;
	return 0;
}

static int parse_track(const uint8_t *p, size_t len, unsigned int track,
		       ukd_smf_event_fn fn, void *userdata)
{
	size_t i = 0;
	uint64_t tick = 0;
	uint8_t running = 0;

	while (i < len) {
		struct ukd_smf_event ev = { .track = track };
		uint32_t delta;
		int n, r;

		n = ukd_smf_vlq_decode(p + i, len - i, &delta);
		if (n < 0)
			return -EBADMSG;
		i += (size_t)n;
		tick += delta;
		ev.tick = tick;
		if (i >= len)
			return -EBADMSG;

		if (p[i] == 0xff) {
			if (len - i < 2)
				return -EBADMSG;
			ev.status = 0xff;
			ev.meta_type = p[i + 1];
			if (ev.meta_type & 0x80)
				return -EBADMSG;
			i += 2;
			r = read_payload(p, len, &i, &ev);
			if (r < 0)
				return r;
			running = 0; /* SMF 1.0: meta events cancel running status */
			if (ev.meta_type == 0x2f) {
				if (ev.payload_len != 0 || i != len)
					return -EBADMSG; /* End of Track must be last */
				return fn ? fn(&ev, userdata) : 0;
			}
		} else if (p[i] == 0xf0 || p[i] == 0xf7) {
			ev.status = p[i++];
			r = read_payload(p, len, &i, &ev);
			if (r < 0)
				return r;
			running = 0; /* and so do sysex events */
		} else {
			uint8_t status = p[i];
			int dl;

			if (status & 0x80) {
				if (status >= 0xf0)
					return -EBADMSG; /* undefined in a file */
				running = status;
				i++;
			} else if (!running) {
				return -EBADMSG; /* data byte with no status */
			}
			ev.status = running;
			dl = channel_data_len(running);
			if (len - i < (size_t)dl)
				return -EBADMSG;
			for (int k = 0; k < dl; k++) {
				if (p[i + k] & 0x80)
					return -EBADMSG;
				ev.data[k] = p[i + k];
			}
			i += (size_t)dl;
		}
		if (fn) {
			r = fn(&ev, userdata);
			if (r < 0)
				return r;
		}
	}
	return -EBADMSG; /* ran out without End of Track */
}

int ukd_smf_parse(const uint8_t *buf, size_t len, struct ukd_smf_header *hdr,
		  ukd_smf_event_fn fn, void *userdata)
{
	struct ukd_smf_header h;
	uint32_t hlen;
	size_t i;
	unsigned int tracks = 0;

	if (!buf || len < 14 || memcmp(buf, "MThd", 4))
		return -EBADMSG;
	hlen = be32(buf + 4);
	if (hlen < 6 || hlen > len - 8)
		return -EBADMSG;
	h.format = be16(buf + 8);
	h.ntracks = be16(buf + 10);
	h.division = be16(buf + 12);
	if (h.format > 1 || h.ntracks == 0 || (h.format == 0 && h.ntracks != 1))
		return -EBADMSG;
	if (h.division == 0)
		return -EBADMSG;
	if (h.division & 0x8000) {
		int8_t fps = (int8_t)(h.division >> 8);

		if (fps != -24 && fps != -25 && fps != -29 && fps != -30)
			return -EBADMSG;
		if ((h.division & 0xff) == 0)
			return -EBADMSG;
	}
	i = 8 + (size_t)hlen;
	while (i < len) {
		uint32_t clen;
		int r;

		if (len - i < 8)
			return -EBADMSG;
		clen = be32(buf + i + 4);
		if (clen > len - i - 8)
			return -EBADMSG;
		if (!memcmp(buf + i, "MTrk", 4)) {
			if (tracks >= h.ntracks)
				return -EBADMSG;
			r = parse_track(buf + i + 8, clen, tracks, fn, userdata);
			if (r < 0)
				return r;
			tracks++;
		}
		i += 8 + (size_t)clen;
	}
	if (tracks != h.ntracks)
		return -EBADMSG;
	if (hdr)
		*hdr = h;
	return 0;
}
