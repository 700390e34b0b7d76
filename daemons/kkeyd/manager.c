/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <systemd/sd-daemon.h>

#include "daemon.h"
#include "log.h"
#include "manager.h"

/* Log a setting a reload cannot change while the nodes are served. */
static void needs_restart(bool changed, const char *key)
{
	if (changed)
		ukd_log(LOG_WARNING, "reload: %s changed; it takes effect when kkeyd is restarted", key);
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
		needs_restart(n.frontend != o->frontend, "frontend");
		needs_restart(strcmp(n.mountpoint, o->mountpoint) != 0, "mountpoint");
		needs_restart(n.kkey.capacity != o->kkey.capacity, "capacity");
		needs_restart(n.kkey.mode != o->kkey.mode, "mode");
		needs_restart(!n.state_dir != !o->state_dir ||
			      (n.state_dir && strcmp(n.state_dir, o->state_dir)), "statedir");
		needs_restart(n.commit_s != o->commit_s, "commit");
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
	};
	int r;

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
		return ukd_log_errno(LOG_ERR, r, "/dev/kkey000 .. /dev/kkey127 are already served "
				     "(is another kkeyd running?)");
	if (r == -EEXIST)
		return ukd_log_errno(LOG_ERR, r, "%s is already in use (is another kkeyd running?)",
				     o->mountpoint);
	if (r < 0)
		return ukd_log_errno(LOG_ERR, r, "cannot serve the kkey nodes through %s: %m",
				     ukd_front_kind_name(kind));
	ukd_log(LOG_INFO, "serving kkey000..kkey127 via %s%s%s", ukd_front_kind_name(kind),
		kind == UKD_FRONT_FUSE ? " at " : " in /dev",
		kind == UKD_FRONT_FUSE ? o->mountpoint : "");
	return 0;
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
	ukd_front_free(m->front);
	sd_event_source_unref(m->commit_timer);
	kkey_journal_close(m->journal);
	kkey_free(m->kkey);
	sd_event_unref(m->event);
	free(m);
}
