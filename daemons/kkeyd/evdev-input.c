/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <fcntl.h>
#include <fnmatch.h>
#include <glob.h>
#include <libevdev/libevdev.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "evdev-input.h"
#include "log.h"
#include "macro.h"

struct keyboard {
	struct keyboards *set;
	struct keyboard *next;
	char *devnode;
	int fd;
	struct libevdev *dev;
	sd_event_source *io;
	bool grabbed;
	struct kb_core core;
};

struct keyboards {
	sd_event *event;
	struct kkey *kkey;
	const struct keymap *map;
	char *const *match;
	size_t n_match;
	bool grab;
	struct keyboard *list;
	size_t count;
};

static uint64_t event_ns(const struct input_event *ev)
{
	return (uint64_t)ev->input_event_sec * 1000000000ull + (uint64_t)ev->input_event_usec * 1000ull;
}

static void kb_note(void *user, uint8_t note, bool on, uint8_t velocity, uint64_t t_ns)
{
	struct keyboard *kb = user;
	int r = kkey_play(kb->set->kkey, &(struct kkey_event){
		.note = note, .on = on, .velocity = velocity, .t_ns = t_ns });

	if (r < 0 && r != -ENOSPC)
		ukd_log(LOG_DEBUG, "%s: note %u not played: %s", kb->devnode, note, strerror(-r));
}

static void kb_control(void *user, uint8_t cc, uint8_t value, uint64_t t_ns)
{
	struct keyboard *kb = user;

	kkey_control(kb->set->kkey, cc, value);
}

static void kb_panic(void *user, uint64_t t_ns)
{
	struct keyboard *kb = user;

	kkey_panic(kb->set->kkey, t_ns);
}

static void kb_escape(void *user)
{
	struct keyboard *kb = user;

	if (!kb->grabbed)
		return;
	if (libevdev_grab(kb->dev, LIBEVDEV_UNGRAB) == 0) {
		kb->grabbed = false;
		ukd_log(LOG_NOTICE, "%s: grab released (Left Ctrl + Left Alt + Esc)", kb->devnode);
	}
}

static const struct kb_output_ops kb_ops = {
	.note = kb_note,
	.control = kb_control,
	.panic = kb_panic,
	.escape = kb_escape,
};

static void keyboard_free(struct keyboard *kb)
{
	if (!kb)
		return;
	sd_event_source_disable_unref(kb->io);
	libevdev_free(kb->dev);
	if (kb->fd >= 0)
		close(kb->fd);
	free(kb->devnode);
	free(kb);
}

static void keyboard_detach(struct keyboard *kb, const char *why)
{
	struct keyboards *kbs = kb->set;
	struct keyboard **p;

	/* Unplugged mid-chord: its notes end now, in the recording and live. */
	kb_core_release_all(&kb->core, ukd_now_ns());
	for (p = &kbs->list; *p; p = &(*p)->next)
		if (*p == kb) {
			*p = kb->next;
			kbs->count--;
			break;
		}
	ukd_log(LOG_INFO, "keyboard %s \"%s\" detached (%s)", kb->devnode,
		libevdev_get_name(kb->dev), why);
	keyboard_free(kb);
}

static void feed(struct keyboard *kb, const struct input_event *ev)
{
	if (ev->type == EV_KEY)
		kb_core_key(&kb->core, ev->code, ev->value, event_ns(ev));
}

static int on_input(sd_event_source *src, int fd, uint32_t revents, void *userdata)
{
	struct keyboard *kb = userdata;
	struct input_event ev;
	unsigned int flags = LIBEVDEV_READ_FLAG_NORMAL;
	int r;

	/* Bounded: one wake-up handles what is queued, then the loop moves on. */
	for (int budget = 256; budget > 0; budget--) {
		r = libevdev_next_event(kb->dev, flags, &ev);
		if (r == LIBEVDEV_READ_STATUS_SYNC) {
			/* The kernel dropped events (SYN_DROPPED): libevdev replays
			 * the key state changes, which we play as they come. */
			flags = LIBEVDEV_READ_FLAG_SYNC;
			feed(kb, &ev);
			continue;
		}
		if (r == -EAGAIN && flags == LIBEVDEV_READ_FLAG_SYNC) {
			flags = LIBEVDEV_READ_FLAG_NORMAL;
			continue;
		}
		if (r == -EAGAIN)
			return 0;
		if (r < 0) {
			keyboard_detach(kb, r == -ENODEV ? "gone" : strerror(-r));
			return 0;
		}
		feed(kb, &ev);
	}
	return 0;
}

static bool is_keyboard(struct libevdev *dev)
{
	/* A typing keyboard, not a power button or a mouse with a few keys. */
	return libevdev_has_event_code(dev, EV_KEY, KEY_Q) &&
	       libevdev_has_event_code(dev, EV_KEY, KEY_Z) &&
	       libevdev_has_event_code(dev, EV_KEY, KEY_SPACE);
}

static bool matches(const struct keyboards *kbs, const char *devnode, struct libevdev *dev)
{
	char real[PATH_MAX], want[PATH_MAX];

	if (!realpath(devnode, real))
		return false;
	for (size_t i = 0; i < kbs->n_match; i++) {
		const char *m = kbs->match[i];

		if (!strcmp(m, "all")) {
			if (is_keyboard(dev))
				return true;
		} else if (m[0] == '/') {
			/* A node or a by-id/by-path link to it, resolved now:
			 * the link of a keyboard plugged in later exists by now. */
			if (realpath(m, want) && !strcmp(want, real))
				return true;
		} else if (fnmatch(m, libevdev_get_name(dev), 0) == 0) {
			return true;
		}
	}
	return false;
}

int keyboards_add(struct keyboards *kbs, const char *devnode)
{
	struct keyboard *kb;
	int fd, r;

	for (kb = kbs->list; kb; kb = kb->next)
		if (!strcmp(kb->devnode, devnode))
			return 0;
	fd = open(devnode, O_RDONLY | O_NONBLOCK | O_CLOEXEC);
	if (fd < 0) {
		r = ukd_negerrno();
		ukd_log(LOG_DEBUG, "%s: %s", devnode, strerror(-r));
		return r == -EACCES ? r : 0;
	}
	kb = calloc(1, sizeof(*kb));
	if (!kb) {
		close(fd);
		return -ENOMEM;
	}
	kb->set = kbs;
	kb->fd = fd;
	kb->devnode = strdup(devnode);
	r = kb->devnode ? libevdev_new_from_fd(fd, &kb->dev) : -ENOMEM;
	if (r < 0) {
		keyboard_free(kb);
		return r == -ENOMEM ? r : 0;   /* not an evdev device */
	}
	if (!libevdev_has_event_type(kb->dev, EV_KEY) || !matches(kbs, devnode, kb->dev)) {
		keyboard_free(kb);
		return 0;
	}
	/* Kernel timestamps on the clock the recorder uses. */
	r = libevdev_set_clock_id(kb->dev, CLOCK_MONOTONIC);
	if (r < 0) {
		ukd_log(LOG_ERR, "%s: cannot set its clock to CLOCK_MONOTONIC: %s", devnode, strerror(-r));
		keyboard_free(kb);
		return r;
	}
	if (kbs->grab) {
		r = libevdev_grab(kb->dev, LIBEVDEV_GRAB);
		if (r < 0)
			ukd_log(LOG_WARNING, "%s: cannot grab it (%s); playing it shared", devnode,
				strerror(-r));
		kb->grabbed = r == 0;
	}
	r = sd_event_add_io(kbs->event, &kb->io, fd, EPOLLIN, on_input, kb);
	if (r < 0) {
		keyboard_free(kb);
		return r;
	}
	kb_core_init(&kb->core, kbs->map, &kb_ops, kb, (uint8_t)kbs->kkey->cfg.velocity);
	kb->next = kbs->list;
	kbs->list = kb;
	kbs->count++;
	ukd_log(LOG_INFO, "keyboard %s \"%s\" attached%s", devnode, libevdev_get_name(kb->dev),
		kb->grabbed ? " (grabbed: Left Ctrl + Left Alt + Esc releases it)" : "");
	return 1;
}

void keyboards_remove(struct keyboards *kbs, const char *devnode)
{
	for (struct keyboard *kb = kbs->list; kb; kb = kb->next)
		if (!strcmp(kb->devnode, devnode)) {
			keyboard_detach(kb, "removed");
			return;
		}
}

int keyboards_scan(struct keyboards *kbs)
{
	glob_t g;
	int n = 0;

	if (glob("/dev/input/event*", 0, NULL, &g) != 0)
		return 0;
	for (size_t i = 0; i < g.gl_pathc; i++)
		if (keyboards_add(kbs, g.gl_pathv[i]) > 0)
			n++;
	globfree(&g);
	return n;
}

size_t keyboards_count(const struct keyboards *kbs)
{
	return kbs->count;
}

/* A panic from anywhere: kkey releases every held note itself. */
static void forget_all(void *data)
{
	struct keyboards *kbs = data;

	for (struct keyboard *kb = kbs->list; kb; kb = kb->next)
		kb_core_forget(&kb->core);
}

int keyboards_new(struct keyboards **ret, sd_event *event, struct kkey *k,
		  const struct keymap *map, char *const *match, size_t n_match, bool grab)
{
	struct keyboards *kbs = calloc(1, sizeof(*kbs));

	if (!kbs)
		return -ENOMEM;
	*kbs = (struct keyboards){
		.event = event, .kkey = k, .map = map, .match = match, .n_match = n_match, .grab = grab,
	};
	kkey_set_panic_hook(k, forget_all, kbs);
	*ret = kbs;
	return 0;
}

void keyboards_free(struct keyboards *kbs)
{
	if (!kbs)
		return;
	while (kbs->list)
		keyboard_detach(kbs->list, "stopping");
	kkey_set_panic_hook(kbs->kkey, NULL, NULL);
	free(kbs);
}
