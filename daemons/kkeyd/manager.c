/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <systemd/sd-daemon.h>

#include "daemon.h"
#include "log.h"
#include "manager.h"

int manager_new(struct manager **ret, const struct kkeyd_options *o)
{
	_cleanup_(manager_freep) struct manager *m = NULL;
	int r;

	m = calloc(1, sizeof(*m));
	if (!m)
		return -ENOMEM;
	m->options = o;
	r = ukd_daemon_event_new(&m->event);
	if (r < 0)
		return r;
	r = kkey_new(&m->kkey, &o->kkey);
	if (r < 0)
		return r;
	*ret = TAKE_PTR(m);
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
	r = ukd_front_new(&m->front, &cfg, m->kkey->node_ptrs, KKEY_NOTES, m->event);
	if (r == -ENODEV && kind == UKD_FRONT_CUSE)
		ukd_log(LOG_ERR, "CUSE is not available: /dev/cuse is missing or not writable. "
			"Load the module with 'modprobe cuse' (as root), or use --fuse");
	else if (r == -EEXIST && kind == UKD_FRONT_CUSE)
		ukd_log(LOG_ERR, "/dev/kkey000 .. /dev/kkey127 are already served (is another kkeyd running?)");
	else if (r == -EEXIST)
		ukd_log(LOG_ERR, "%s is already in use (is another kkeyd running?)", o->mountpoint);
	else if (r < 0)
		ukd_log(LOG_ERR, "cannot serve the kkey nodes through %s: %s",
			ukd_front_kind_name(kind), strerror(-r));
	if (r < 0)
		return r;
	ukd_log(LOG_INFO, "serving kkey000..kkey127 via %s%s%s", ukd_front_kind_name(kind),
		kind == UKD_FRONT_FUSE ? " at " : " in /dev",
		kind == UKD_FRONT_FUSE ? o->mountpoint : "");
	for (unsigned int i = 0; i < o->n_pci; i++) {
		r = pci_card_new(&m->cards[i], m->kkey, m->event, o->pci[i], o->pci_backend, o->pci_irq);
		if (r < 0) {
			ukd_log(LOG_ERR, "pci %s: cannot watch the card: %s", o->pci[i], strerror(-r));
			return r;
		}
	}
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
	for (unsigned int i = 0; i < KKEYD_PCI_MAX; i++)
		pci_card_free(m->cards[i]);
	ukd_front_free(m->front);
	kkey_free(m->kkey);
	sd_event_unref(m->event);
	free(m);
}
