/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <systemd/sd-daemon.h>

#include "daemon.h"
#include "log.h"
#include "manager.h"
#ifdef HAVE_ALSA
#include "seq-output.h"
#endif
#ifdef HAVE_LIBEVDEV
#include "evdev-input.h"
#endif
#ifdef HAVE_LIBUDEV
#include "hotplug.h"
#endif

/* Two lists of strings (--keyboard, --seq-connect) are the same. */
static bool same_list(char *const *a, size_t na, char *const *b, size_t nb)
{
	if (na != nb)
		return false;
	for (size_t i = 0; i < na; i++)
		if (strcmp(a[i], b[i]))
			return false;
	return true;
}

/* SIGHUP: read the config file again (the command line still wins) and
 * apply what can change live. The recording is kept. */
static int on_reload(sd_event_source *s, const struct signalfd_siginfo *si, void *userdata)
{
	struct manager *m = userdata;
	struct kkeyd_options *o = m->options;
	_cleanup_(kkeyd_options_done) struct kkeyd_options n = {};

	ukd_daemon_reloading();
	if (kkeyd_options_reload(&n, m->argc, m->argv) == 0) {
		const bool state_dir_changed = !n.state_dir != !o->state_dir ||
			(n.state_dir && strcmp(n.state_dir, o->state_dir));
		const bool pci_changed = n.n_pci != o->n_pci || memcmp(n.pci, o->pci, sizeof(n.pci)) ||
			n.pci_backend != o->pci_backend || n.pci_irq != o->pci_irq ||
			n.pci_storm_limit != o->pci_storm_limit;

		ukd_daemon_needs_restart(n.frontend != o->frontend, "frontend");
		ukd_daemon_needs_restart(strcmp(n.mountpoint, o->mountpoint) != 0, "mountpoint");
		ukd_daemon_needs_restart(strcmp(n.node_dir, o->node_dir) != 0, "node-dir");
		ukd_daemon_needs_restart(n.kkey.capacity != o->kkey.capacity, "capacity");
		ukd_daemon_needs_restart(n.kkey.mode != o->kkey.mode, "mode");
		ukd_daemon_needs_restart(state_dir_changed, "statedir");
		ukd_daemon_needs_restart(n.commit_s != o->commit_s, "commit");
		ukd_daemon_needs_restart(n.seq_mode != o->seq_mode, "seq");
		ukd_daemon_needs_restart(!same_list(n.seq_connect, n.n_seq_connect, o->seq_connect,
						    o->n_seq_connect), "seq-connect");
		ukd_daemon_needs_restart(!same_list(n.keyboards, n.n_keyboards, o->keyboards,
						    o->n_keyboards), "keyboard");
		ukd_daemon_needs_restart(!same_list(&n.keymap, n.keymap != NULL, &o->keymap,
						    o->keymap != NULL), "keymap");
		ukd_daemon_needs_restart(n.grab != o->grab, "grab");
		ukd_daemon_needs_restart(pci_changed, "pci");
		kkey_reconfigure(m->kkey, &n.kkey);
		o->kkey.velocity = n.kkey.velocity;
		o->kkey.slowdown = n.kkey.slowdown;
		o->kkey.channel = n.kkey.channel;
		o->kkey.keep = n.kkey.keep;
		o->verbose = n.verbose;
		ukd_log_set_hook(ukd_log_stderr, o->verbose ? LOG_DEBUG : LOG_INFO, "kkeyd");
		ukd_log(LOG_INFO, "configuration reloaded");
	}
	ukd_daemon_reloaded("Serving kkey000..kkey127");
	return 0;
}

int manager_new(struct manager **ret, struct kkeyd_options *o, int argc, char **argv)
{
	_cleanup_(manager_freep) struct manager *m = NULL;
	int r;

	m = calloc(1, sizeof(*m));
	if (!m)
		return -ENOMEM;
	m->options = o;
	m->argc = argc;
	m->argv = argv;
	r = ukd_daemon_event_new(&m->event);
	if (r < 0)
		return r;
	r = ukd_daemon_on_reload(m->event, on_reload, m);
	if (r < 0)
		return r;
	r = kkey_new(&m->kkey, &o->kkey);
	if (r < 0)
		return r;
	*ret = TAKE_PTR(m);
	return 0;
}

static int on_commit(sd_event_source *s, uint64_t usec, void *userdata)
{
	struct manager *m = userdata;
	int r = kkey_journal_sync(m->journal);

	if (r < 0)
		ukd_log_errno(LOG_ERR, r, "journal: fdatasync failed: %m");
	/* A time source is one-shot: arm it again. */
	r = sd_event_source_set_time_relative(s, m->options->commit_s * UINT64_C(1000000));
	return r < 0 ? r : sd_event_source_set_enabled(s, SD_EVENT_ONESHOT);
}

/* Replay the journal into the (empty) recording before anyone can write. */
static int start_journal(struct manager *m)
{
	const struct kkeyd_options *o = m->options;
	struct kkey_journal_replay info;
	int r;

	if (!o->state_dir) {
		ukd_log(LOG_DEBUG, "no state directory: no journal, a restart loses the recording");
		return 0;
	}
	r = kkey_journal_open(&m->journal, o->state_dir, m->kkey->rec, o->commit_s == 0, &info);
	if (r == -EBUSY)
		return ukd_log_errno(LOG_ERR, r, "journal: %s is in use by another kkeyd", o->state_dir);
	if (r < 0)
		return ukd_log_errno(LOG_ERR, r, "journal: cannot open %s/" KKEY_JOURNAL_FILE ": %m",
				     o->state_dir);
	if (info.bad_header)
		ukd_log(LOG_WARNING, "journal: %s/" KKEY_JOURNAL_FILE " has no valid header (%" PRIu64
			" bytes): nothing replayed, kept as " KKEY_JOURNAL_FILE ".bad",
			o->state_dir, info.dropped_bytes);
	else if (info.dropped_bytes)
		ukd_log(LOG_WARNING, "journal: torn or corrupt tail: %" PRIu64 " bytes after record %zu "
			"dropped, the %zu records before it kept", info.dropped_bytes,
			info.replayed + info.refused, info.replayed + info.refused);
	if (info.refused)
		ukd_log(LOG_WARNING, "journal: %zu events did not fit the capacity and are dropped",
			info.refused);
	ukd_log(LOG_INFO, "journal: %zu events replayed from %s%s", info.replayed, o->state_dir,
		info.other_boot ? " (written before a reboot: times moved to end now)" : "");
	m->kkey->journal = m->journal;
	if (o->commit_s == 0)
		return 0;
	r = sd_event_add_time_relative(m->event, &m->commit_timer, CLOCK_MONOTONIC,
				       o->commit_s * UINT64_C(1000000), 0, on_commit, m);
	if (r >= 0)
		r = sd_event_source_set_enabled(m->commit_timer, SD_EVENT_ON);
	if (r < 0)
		return ukd_log_errno(LOG_ERR, r, "journal: cannot set up the commit timer: %m");
	return 0;
}

/* Live output to the ALSA sequencer. */
static int start_seq(struct manager *m)
{
	const struct kkeyd_options *o = m->options;

#ifdef HAVE_ALSA
	return seq_output_new(&m->seq, (enum seq_mode)o->seq_mode, m->event, m->kkey,
			      o->seq_connect, o->n_seq_connect);
#else
	if (o->seq_mode == 1) {   /* SEQ_ON */
		ukd_log(LOG_ERR, "--seq=on: this kkeyd was built without ALSA (-Dalsa=disabled)");
		return -EOPNOTSUPP;
	}
	if (o->seq_mode == 0 || o->n_seq_connect)
		ukd_log(LOG_INFO, "live output off: built without ALSA");
	return 0;
#endif
}

/* The keymap, before anything is served: a wrong one is a start-up error. */
static int load_keymap(struct manager *m)
{
	const struct kkeyd_options *o = m->options;
	char why[512];
	int r;

	if (!o->n_keyboards)
		return 0;
#ifndef HAVE_LIBEVDEV
	ukd_log(LOG_ERR, "--keyboard: this kkeyd was built without libevdev (-Devdev=disabled)");
	return -EOPNOTSUPP;
#endif
	r = o->keymap ? keymap_load(&m->keymap, o->keymap, why, sizeof(why)) :
			keymap_default(&m->keymap, why, sizeof(why));
	if (r < 0)
		ukd_log(LOG_ERR, "keymap %s%s", o->keymap ? "" : "(built-in):", why);
	return r;
}

/* The computer keyboards --keyboard names, now and as they are plugged in. */
static int start_keyboards(struct manager *m)
{
#ifdef HAVE_LIBEVDEV
	const struct kkeyd_options *o = m->options;
	int r, n;

	if (!o->n_keyboards)
		return 0;
	r = keyboards_new(&m->keyboards, m->event, m->kkey, &m->keymap, o->keyboards,
			  o->n_keyboards, o->grab);
	if (r < 0)
		return r;
#ifdef HAVE_LIBUDEV
	/* Watch first, then scan: a keyboard plugged in between is seen twice
	 * (keyboards_add() ignores the second), never missed. */
	r = hotplug_new(&m->hotplug, m->event, m->keyboards);
	if (r < 0)
		ukd_log(LOG_WARNING, "no hotplug (%s): only keyboards present now are played",
			strerror(-r));
#else
	ukd_log(LOG_INFO, "built without libudev: only keyboards present now are played");
#endif
	n = keyboards_scan(m->keyboards);
	if (n == 0)
		ukd_log(LOG_INFO, "no matching keyboard yet%s", m->hotplug ? "; waiting for one" : "");
#endif
	return 0;
}

int manager_start(struct manager *m)
{
	const struct kkeyd_options *o = m->options;
	enum ukd_front_kind kind = ukd_front_kind_resolve(o->frontend);
	struct ukd_front_config cfg = {
		.kind = kind,
		.mountpoint = o->mountpoint,
		.make_mountpoint = true,
		.fsname = "kkeyd",
		.allow_other = geteuid() == 0,
		.cuse_dir = o->node_dir,
	};
	int r;

	/* What can fail on a setting goes first, before anything is served. */
	/* A FUSE mount point already keeps instances apart; a node-dir there
	 * would be a directory in the mount that nobody asked for. */
	if (o->node_dir[0] && kind != UKD_FRONT_CUSE)
		return ukd_log_errno(LOG_ERR, -EINVAL, "--node-dir=%s needs the CUSE front end "
				     "(--cuse); with --fuse the mount point keeps kkeyds apart",
				     o->node_dir);
	r = start_seq(m);
	if (r >= 0)
		r = load_keymap(m);
	if (r < 0)
		return r;
	if (o->frontend == UKD_FRONT_AUTO)
		ukd_log(LOG_DEBUG, "front end: %s (auto)", ukd_front_kind_name(kind));
	m->kind = kind;
	r = start_journal(m);
	if (r < 0)
		return r;
	r = ukd_front_new(&m->front, &cfg, m->kkey->node_ptrs, KKEY_NOTES, m->event);
	if (r == -ENODEV && kind == UKD_FRONT_CUSE)
		return ukd_log_errno(LOG_ERR, r, "CUSE is not available: /dev/cuse is missing or not "
				     "writable. Load the module with 'modprobe cuse' (as root), or use --fuse");
	if (r == -EEXIST && kind == UKD_FRONT_CUSE)
		return ukd_log_errno(LOG_ERR, r, "/dev/%s%skkey000 .. kkey127 are already served "
				     "(is another kkeyd running?)", o->node_dir, o->node_dir[0] ? "/" : "");
	if (r == -EEXIST)
		return ukd_log_errno(LOG_ERR, r, "%s is already in use (is another kkeyd running?)",
				     o->mountpoint);
	if (r < 0)
		return ukd_log_errno(LOG_ERR, r, "cannot serve the kkey nodes through %s: %m",
				     ukd_front_kind_name(kind));
	ukd_log(LOG_INFO, "serving kkey000..kkey127 via %s%s%s%s", ukd_front_kind_name(kind),
		kind == UKD_FRONT_FUSE ? " at " : " in /dev",
		kind == UKD_FRONT_FUSE ? o->mountpoint : o->node_dir[0] ? "/" : "",
		kind == UKD_FRONT_FUSE ? "" : o->node_dir);
	for (unsigned int i = 0; i < o->n_pci; i++) {
		r = pci_card_new(&m->cards[i], m->kkey, m->event, o->pci[i], o->pci_backend, o->pci_irq,
				 o->pci_storm_limit);
		if (r < 0) {
			ukd_log(LOG_ERR, "pci %s: cannot watch the card: %s", o->pci[i], strerror(-r));
			return r;
		}
	}
	return start_keyboards(m);
}

int manager_run(struct manager *m)
{
	const struct kkeyd_options *o = m->options;

	sd_notifyf(false, "READY=1\nSTATUS=Serving kkey000..kkey127 via %s%s%s",
		   ukd_front_kind_name(m->kind), m->kind == UKD_FRONT_FUSE ? " at " : "",
		   m->kind == UKD_FRONT_FUSE ? o->mountpoint : "");
	return sd_event_loop(m->event);
}

void manager_free(struct manager *m)
{
	if (!m)
		return;
	if (m->front)
		sd_notify(false, "STOPPING=1");
	/* Inputs first (their held notes end in the recording and live), then
	 * the live output, then the device. */
	for (unsigned int i = 0; i < KKEYD_PCI_MAX; i++)
		pci_card_free(m->cards[i]);
#ifdef HAVE_LIBUDEV
	hotplug_free(m->hotplug);
#endif
#ifdef HAVE_LIBEVDEV
	keyboards_free(m->keyboards);
#endif
#ifdef HAVE_ALSA
	seq_output_free(m->seq);
#endif
	ukd_front_free(m->front);
	sd_event_source_unref(m->commit_timer);
	kkey_journal_close(m->journal);
	kkey_free(m->kkey);
	sd_event_unref(m->event);
	free(m);
}
