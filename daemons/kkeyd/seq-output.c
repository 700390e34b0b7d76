/* SPDX-License-Identifier: MIT */
#include <alsa/asoundlib.h>
#include <errno.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/inotify.h>
#include <unistd.h>

#include "log.h"
#include "seq-output.h"

#define SEQ_RETRY_US (1000 * 1000ull)

struct seq_target {
	const char *spec;        /* as given to --seq-connect */
	bool connected;          /* as of the last check; for logging changes once */
	bool missing_logged;
};

struct seq_output {
	snd_seq_t *seq;          /* NULL while the sequencer is gone */
	int port;
	int client;
	struct kkey *kkey;
	sd_event_source *retry;  /* reopen and resubscribe, every second */
	sd_event_source *watch;  /* inotify on /dev or /dev/snd until the sequencer appears */
	bool watching_dev;       /* on /dev: /dev/snd is not there yet */
	struct seq_target *targets;
	size_t n_targets;
	bool lost_logged;
	bool busy_logged;
};

/* alsa-lib prints its errors to stderr by default; ours go through the
 * daemon's log, at debug level: we log the decision ourselves. */
static void quiet_alsa_error(const char *file, int line, const char *function, int err,
			     const char *fmt, ...)
{
	char msg[256];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	ukd_log(LOG_DEBUG, "alsa-lib %s:%d %s: %s%s%s", file, line, function, msg,
		err ? ": " : "", err ? snd_strerror(err) : "");
}

static void seq_close(struct seq_output *s)
{
	if (s->seq)
		snd_seq_close(s->seq);
	s->seq = NULL;
	for (size_t i = 0; i < s->n_targets; i++)
		s->targets[i].connected = false;
}

static int seq_open(struct seq_output *s)
{
	snd_seq_t *seq;
	int r;

	r = snd_seq_open(&seq, "default", SND_SEQ_OPEN_OUTPUT, SND_SEQ_NONBLOCK);
	if (r < 0)
		return r;
	r = snd_seq_set_client_name(seq, SEQ_CLIENT_NAME);
	if (r >= 0)
		r = snd_seq_create_simple_port(seq, SEQ_CLIENT_NAME,
					       SND_SEQ_PORT_CAP_READ | SND_SEQ_PORT_CAP_SUBS_READ,
					       SND_SEQ_PORT_TYPE_MIDI_GENERIC |
					       SND_SEQ_PORT_TYPE_SOFTWARE |
					       SND_SEQ_PORT_TYPE_APPLICATION);
	if (r < 0) {
		snd_seq_close(seq);
		return r;
	}
	s->seq = seq;
	s->port = r;
	s->client = snd_seq_client_id(seq);
	return 0;
}

/* Subscribe each --seq-connect destination not subscribed yet. A name
 * resolves anew each time, so a synth that restarts under a new client
 * number is found again. */
static void seq_connect_targets(struct seq_output *s)
{
	snd_seq_port_subscribe_t *sub;

	snd_seq_port_subscribe_alloca(&sub);
	for (size_t i = 0; i < s->n_targets; i++) {
		struct seq_target *t = &s->targets[i];
		snd_seq_addr_t sender = { .client = (unsigned char)s->client, .port = (unsigned char)s->port };
		snd_seq_addr_t dest;
		bool made = false;
		int r = snd_seq_parse_address(s->seq, &dest, t->spec);

		if (r >= 0) {
			snd_seq_port_subscribe_set_sender(sub, &sender);
			snd_seq_port_subscribe_set_dest(sub, &dest);
			/* Still there (or made by aconnect): nothing to do. */
			if (snd_seq_get_port_subscription(s->seq, sub) < 0) {
				if (t->connected)
					ukd_log(LOG_INFO, "sequencer: the connection to %s is gone; reconnecting",
						t->spec);
				r = snd_seq_connect_to(s->seq, s->port, dest.client, dest.port);
				made = r >= 0;
			}
		}
		if (made)
			ukd_log(LOG_INFO, "sequencer: kkey connected to %s (%d:%d)", t->spec,
				dest.client, dest.port);
		if (r < 0 && (t->connected || !t->missing_logged))
			ukd_log(LOG_WARNING, "sequencer: cannot connect to %s: %s; retrying every second",
				t->spec, snd_strerror(r));
		t->connected = r >= 0;
		t->missing_logged = r < 0;
	}
}

static int seq_retry(sd_event_source *src, uint64_t usec, void *userdata)
{
	struct seq_output *s = userdata;

	if (!s->seq) {
		if (seq_open(s) < 0)
			goto again;
		ukd_log(LOG_INFO, "sequencer: %s; live output on as client %d port %d",
			s->lost_logged ? "back" : "open", s->client, s->port);
		s->lost_logged = false;
	}
	seq_connect_targets(s);
again:
	/* Keep looking while anything is missing; a vanished destination is
	 * found at the next check, at most a second later. */
	if (!s->seq || s->n_targets) {
		sd_event_source_set_time(src, usec + SEQ_RETRY_US);
		return sd_event_source_set_enabled(src, SD_EVENT_ONESHOT);
	}
	return 0;
}

static void seq_lost(struct seq_output *s, int r)
{
	uint64_t now;

	if (!s->lost_logged)
		ukd_log(LOG_WARNING, "sequencer: lost (%s); recording goes on, reconnecting every second",
			snd_strerror(r));
	s->lost_logged = true;
	seq_close(s);
	if (sd_event_now(sd_event_source_get_event(s->retry), CLOCK_MONOTONIC, &now) >= 0)
		sd_event_source_set_time(s->retry, now + SEQ_RETRY_US);
	sd_event_source_set_enabled(s->retry, SD_EVENT_ONESHOT);
}

/* --seq=auto and no sequencer at start: /dev/snd/seq appears when snd-seq
 * is loaded (devtmpfs makes the node; inotify sees it made). Watch its
 * directory, or /dev until /dev/snd exists; no timer wakes an idle kkeyd. */
static int on_dev_change(sd_event_source *src, const struct inotify_event *ev, void *userdata);

/* The node is there: open it from the retry timer (now, then every second
 * until the new module answers). Else (re)watch the directory it will be
 * made in. */
static int seq_await(struct seq_output *s, sd_event *event)
{
	const char *dir;
	int r;

	s->watch = sd_event_source_disable_unref(s->watch);
	if (access(SEQ_DEVICE, F_OK) == 0) {
		ukd_log(LOG_INFO, "sequencer: %s appeared", SEQ_DEVICE);
		sd_event_source_set_time_relative(s->retry, 0);
		return sd_event_source_set_enabled(s->retry, SD_EVENT_ONESHOT);
	}
	s->watching_dev = access("/dev/snd", F_OK) < 0;
	dir = s->watching_dev ? "/dev" : "/dev/snd";
	r = sd_event_add_inotify(event, &s->watch, dir, IN_CREATE | IN_ONLYDIR, on_dev_change, s);
	if (r < 0)
		return r;
	/* Made between the checks and the watch: not missed. */
	if (access(SEQ_DEVICE, F_OK) == 0 || (s->watching_dev && access("/dev/snd", F_OK) == 0))
		return seq_await(s, event);
	return 0;
}

static int on_dev_change(sd_event_source *src, const struct inotify_event *ev, void *userdata)
{
	struct seq_output *s = userdata;

	if (access(SEQ_DEVICE, F_OK) == 0 || (s->watching_dev && access("/dev/snd", F_OK) == 0))
		return seq_await(s, sd_event_source_get_event(src));
	return 0;
}

static void seq_send(struct seq_output *s, snd_seq_event_t *ev)
{
	int r;

	if (!s->seq)
		return;
	snd_seq_ev_set_source(ev, (unsigned char)s->port);
	snd_seq_ev_set_subs(ev);
	snd_seq_ev_set_direct(ev);
	/* Straight to the kernel, no library buffer to drain. */
	r = snd_seq_event_output_direct(s->seq, ev);
	if (r >= 0) {
		s->busy_logged = false;
		return;
	}
	if (r == -EAGAIN || r == -ENOMEM) {
		/* A subscriber that does not read fills its pool; the note is
		 * dropped live (the recording has it). */
		if (!s->busy_logged)
			ukd_log(LOG_WARNING, "sequencer: a subscriber is not keeping up (%s); live events dropped",
				snd_strerror(r));
		s->busy_logged = true;
		return;
	}
	seq_lost(s, r);
}

static void on_note(void *data, uint8_t channel, uint8_t note, bool on, uint8_t velocity)
{
	snd_seq_event_t ev;

	snd_seq_ev_clear(&ev);
	if (on)
		snd_seq_ev_set_noteon(&ev, channel, note, velocity);
	else
		snd_seq_ev_set_noteoff(&ev, channel, note, velocity);
	seq_send(data, &ev);
}

static void on_control(void *data, uint8_t channel, uint8_t cc, uint8_t value)
{
	snd_seq_event_t ev;

	snd_seq_ev_clear(&ev);
	snd_seq_ev_set_controller(&ev, channel, cc, value);
	seq_send(data, &ev);
}

static void on_all_notes_off(void *data, uint8_t channel)
{
	/* MIDI 1.0 channel mode messages: 120 All Sound Off, 123 All Notes Off,
	 * and the sustain pedal up so nothing keeps ringing. */
	on_control(data, channel, 64, 0);
	on_control(data, channel, 120, 0);
	on_control(data, channel, 123, 0);
}

static const struct kkey_listener_ops seq_listener = {
	.note = on_note,
	.control = on_control,
	.all_notes_off = on_all_notes_off,
};

int seq_output_new(struct seq_output **ret, enum seq_mode mode, sd_event *event,
		   struct kkey *k, char *const *connect, size_t n_connect)
{
	struct seq_output *s;
	int r;

	*ret = NULL;
	snd_lib_error_set_handler(quiet_alsa_error);
	if (mode == SEQ_OFF)
		return 0;
	s = calloc(1, sizeof(*s));
	if (!s)
		return -ENOMEM;
	s->kkey = k;
	s->n_targets = n_connect;
	s->targets = calloc(n_connect ? n_connect : 1, sizeof(*s->targets));
	if (!s->targets) {
		free(s);
		return -ENOMEM;
	}
	for (size_t i = 0; i < n_connect; i++)
		s->targets[i].spec = connect[i];
	r = sd_event_add_time_relative(event, &s->retry, CLOCK_MONOTONIC, SEQ_RETRY_US, 0,
				       seq_retry, s);
	if (r < 0)
		goto fail;
	sd_event_source_set_enabled(s->retry, SD_EVENT_OFF);
	if (mode == SEQ_AUTO && access(SEQ_DEVICE, F_OK) < 0) {
		r = seq_await(s, event);
		if (r < 0) {
			ukd_log_errno(LOG_INFO, r, "no ALSA sequencer (%s missing): live output off "
				      "(cannot watch for it: %m)", SEQ_DEVICE);
			seq_output_free(s);
			return 0;
		}
		ukd_log(LOG_INFO, "no ALSA sequencer (%s missing): live output off until it appears",
			SEQ_DEVICE);
	} else {
		r = seq_open(s);
		if (r < 0 && mode == SEQ_ON) {
			ukd_log(LOG_ERR, "cannot open the ALSA sequencer %s: %s (--seq=on)", SEQ_DEVICE,
				snd_strerror(r));
			r = r == -ENOENT ? -ENODEV : r;
			goto fail;
		}
		if (r < 0) {
			ukd_log(LOG_INFO, "cannot open the ALSA sequencer (%s): live output off",
				snd_strerror(r));
			seq_output_free(s);
			return 0;
		}
		sd_event_source_set_enabled(s->retry, n_connect ? SD_EVENT_ONESHOT : SD_EVENT_OFF);
		seq_connect_targets(s);
		ukd_log(LOG_INFO, "live output: ALSA sequencer client %d port %d (\"%s\")", s->client,
			s->port, SEQ_CLIENT_NAME);
	}
	/* Events before the sequencer is open are recorded, not sent. */
	kkey_set_listener(k, &seq_listener, s);
	*ret = s;
	return 0;
fail:
	seq_output_free(s);
	return r;
}

void seq_output_free(struct seq_output *s)
{
	if (!s)
		return;
	if (s->kkey && s->kkey->listener_data == s)
		kkey_set_listener(s->kkey, NULL, NULL);
	sd_event_source_disable_unref(s->retry);
	sd_event_source_disable_unref(s->watch);
	seq_close(s);
	free(s->targets);
	free(s);
}
