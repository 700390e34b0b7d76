/* SPDX-License-Identifier: MIT */
/*
 * kkeyd played by a PCI key card (docs/kkey-pci.md). Per card: the device
 * (lib/pci.h over UIO or VFIO), its interrupt fd in the event loop, and a
 * retry timer while the card is away. Events go through kkey_play(), the
 * same path as node writes, so one recorder keeps them all in order.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "pci-input.h"
#include "recorder.h"

#define RETRY_USEC (500 * 1000)
/* More than storm_limit interrupts that carry no event in one second: a storm. */
#define STORM_PAUSE_USEC (1000 * 1000)

struct pci_card {
	struct kkey *kkey;
	sd_event *event;
	char addr[UKD_PCI_ADDR_MAX];
	enum ukd_pci_backend backend;
	enum ukd_pci_irq_mode irq;
	struct ukd_pci *pci;            /* NULL while the card is away */
	volatile void *bar;
	sd_event_source *io;
	sd_event_source *gone;          /* VFIO: the kernel wants the device back */
	sd_event_source *retry;
	bool held[128];                 /* notes this card pressed and did not release */
	bool absent_logged;
	uint64_t window_start_ns;       /* storm detection */
	uint64_t window_empty;
	unsigned int storm_limit;
	struct pci_card_stats stats;
};

int kcard_decode(uint32_t status, struct kkey_event *ev)
{
	if (status == 0)
		return -ENODATA;
	if (status == UINT32_MAX)
		return -ENODEV;
	if (!(status & KCARD_EVENT_VALID) ||
	    (status & ~(KCARD_EVENT_VALID | KCARD_EVENT_PRESSED | KCARD_EVENT_NOTE)))
		return -EINVAL;
	*ev = (struct kkey_event){
		.note = (uint8_t)(status & KCARD_EVENT_NOTE),
		.on = status & KCARD_EVENT_PRESSED,
	};
	return 0;
}

/* Too many interrupts without an event in the current second? */
static bool storm(struct pci_card *c)
{
	uint64_t now = ukd_now_ns();

	if (now - c->window_start_ns > 1000000000ull) {
		c->window_start_ns = now;
		c->window_empty = 0;
	}
	return ++c->window_empty > c->storm_limit;
}

int pci_card_service(struct pci_card *c, volatile void *bar)
{
	struct kkey_event ev;
	uint32_t status = ukd_reg_read32(bar, KCARD_REG_STATUS);
	int r = kcard_decode(status, &ev);

	if (r == -ENODEV)
		return r;
	if (r == -ENODATA) {
		c->stats.spurious++;
		return r;
	}
	/* Acknowledge exactly what we read: edu clears those bits only. */
	ukd_reg_write32(bar, KCARD_REG_ACK, status);
	if (r == -EINVAL) {
		c->stats.unknown++;
		if (c->stats.unknown == 1 || c->stats.unknown % 1000 == 0)
			ukd_log(LOG_WARNING, "pci %s: unknown event value 0x%08x (%llu so far); acknowledged and ignored",
				c->addr, status, (unsigned long long)c->stats.unknown);
		return r;
	}
	r = kkey_play(c->kkey, &ev);
	if (r < 0) {
		ukd_log(LOG_DEBUG, "pci %s: note %u %s not recorded: %s", c->addr, ev.note,
			ev.on ? "on" : "off", strerror(-r));
		return 0;  /* the card did its part; kkey_play logged a full recording */
	}
	c->held[ev.note] = ev.on;
	c->stats.events++;
	return 0;
}

static int card_open(struct pci_card *c);
static void card_gone(struct pci_card *c, const char *why);

static int on_retry(sd_event_source *s, uint64_t usec, void *userdata)
{
	struct pci_card *c = userdata;

	if (card_open(c) == 0)
		return 0;
	return sd_event_source_set_time_relative(s, RETRY_USEC) < 0 ? 0 :
		sd_event_source_set_enabled(s, SD_EVENT_ONESHOT);
}

static void arm_retry(struct pci_card *c, uint64_t usec)
{
	int r = sd_event_source_set_time_relative(c->retry, usec);

	if (r >= 0)
		r = sd_event_source_set_enabled(c->retry, SD_EVENT_ONESHOT);
	if (r < 0)
		ukd_log(LOG_ERR, "pci %s: cannot arm the retry timer: %s; the card stays off",
			c->addr, strerror(-r));
}

static int on_irq(sd_event_source *s, int fd, uint32_t revents, void *userdata)
{
	struct pci_card *c = userdata;
	int64_t n;
	int r;

	if (revents & (EPOLLERR | EPOLLHUP)) {
		card_gone(c, "the kernel removed the device");
		return 0;
	}
	n = ukd_pci_irq_take(c->pci);
	if (n == -EAGAIN)
		return 0;
	if (n < 0) {
		card_gone(c, strerror((int)-n));
		return 0;
	}
	c->stats.interrupts += (uint64_t)n;
	if (n > 1) {
		c->stats.missed += (uint64_t)(n - 1);
		ukd_log(LOG_WARNING, "pci %s: %lld interrupts since the last one we took: %lld missed",
			c->addr, (long long)n, (long long)(n - 1));
	}
	r = pci_card_service(c, c->bar);
	if (r == -ENODEV) {
		card_gone(c, "registers read all-ones (surprise removal?)");
		return 0;
	}
	if (r < 0 && storm(c)) {
		ukd_log(LOG_ERR, "pci %s: interrupt storm (more than %u interrupts without an event in 1 s); "
			"closing the card for %d s", c->addr, c->storm_limit, STORM_PAUSE_USEC / 1000000);
		card_gone(c, NULL);
		arm_retry(c, STORM_PAUSE_USEC);
		return 0;
	}
	r = ukd_pci_irq_unmask(c->pci);
	if (r < 0)
		card_gone(c, strerror(-r));
	return 0;
}

static int on_gone(sd_event_source *s, int fd, uint32_t revents, void *userdata)
{
	card_gone(userdata, "the kernel asked for the device back: unplug or unbind");
	return 0;
}

/* Release what the card held, close it, and look for it again. */
static void card_gone(struct pci_card *c, const char *why)
{
	unsigned int released = 0;

	for (unsigned int note = 0; note < 128; note++)
		if (c->held[note]) {
			(void)kkey_play(c->kkey, &(struct kkey_event){ .note = (uint8_t)note });
			c->held[note] = false;
			released++;
		}
	if (why)
		ukd_log(LOG_WARNING, "pci %s: card removed (%s); released %u held note(s); "
			"waiting for it to return", c->addr, why, released);
	c->stats.removals++;
	c->io = sd_event_source_disable_unref(c->io);
	c->gone = sd_event_source_disable_unref(c->gone);
	ukd_pci_close(c->pci);
	c->pci = NULL;
	c->bar = NULL;
	c->absent_logged = true;
	if (why)
		arm_retry(c, RETRY_USEC);
}

static int card_open(struct pci_card *c)
{
	_cleanup_(ukd_pci_closep) struct ukd_pci *pci = NULL;
	volatile void *bar;
	size_t size;
	uint32_t id;
	int r;

	r = ukd_pci_open(&pci, c->addr, c->backend, c->irq);
	if (r == 0)
		r = ukd_pci_map_bar(pci, 0, &bar, &size);
	if (r == 0 && size < KCARD_REG_SPAN)
		r = -EINVAL;
	if (r < 0) {
		if (!c->absent_logged)
			ukd_log(LOG_WARNING, "pci %s: not available over %s (%s); retrying every %d ms",
				c->addr, ukd_pci_backend_name(c->backend), strerror(-r), RETRY_USEC / 1000);
		c->absent_logged = true;
		return r;
	}
	/* edu.rst, "Register space": 0x00 identification 0xRRrr00edu. */
	id = ukd_reg_read32(bar, KCARD_REG_ID);
	if ((id & KCARD_ID_MASK) != KCARD_ID_EDU) {
		if (!c->absent_logged)
			ukd_log(LOG_WARNING, "pci %s: id register reads 0x%08x, not a key card", c->addr, id);
		c->absent_logged = true;
		return -ENODEV;
	}
	r = sd_event_add_io(c->event, &c->io, ukd_pci_irq_fd(pci), EPOLLIN, on_irq, c);
	if (r >= 0 && ukd_pci_gone_fd(pci) >= 0)
		r = sd_event_add_io(c->event, &c->gone, ukd_pci_gone_fd(pci), EPOLLIN, on_gone, c);
	if (r < 0) {
		c->io = sd_event_source_disable_unref(c->io);
		return r;
	}
	c->pci = TAKE_PTR(pci);
	c->bar = bar;
	c->absent_logged = false;
	ukd_log(LOG_INFO, "pci %s: key card (id 0x%08x) over %s%s", c->addr, id,
		ukd_pci_backend_name(c->backend), c->irq == UKD_PCI_IRQ_MSI ? " (MSI)" : "");
	/* An event raised while nobody listened is still pending: take it, then unmask. */
	if (ukd_reg_read32(c->bar, KCARD_REG_STATUS) != 0)
		(void)pci_card_service(c, c->bar);
	(void)ukd_pci_irq_unmask(c->pci);  /* a failure shows as the fd's error */
	return 0;
}

int pci_card_new_detached(struct pci_card **ret, struct kkey *k)
{
	struct pci_card *c = calloc(1, sizeof(*c));

	if (!c)
		return -ENOMEM;
	c->kkey = k;
	c->storm_limit = PCI_STORM_LIMIT_DEFAULT;
	*ret = c;
	return 0;
}

int pci_card_new(struct pci_card **ret, struct kkey *k, sd_event *e, const char *addr,
		 enum ukd_pci_backend backend, enum ukd_pci_irq_mode irq,
		 unsigned int storm_limit)
{
	_cleanup_(pci_card_freep) struct pci_card *c = NULL;
	int r;

	r = pci_card_new_detached(&c, k);
	if (r < 0)
		return r;
	r = ukd_pci_parse_addr(addr, c->addr);
	if (r < 0)
		return r;
	c->event = sd_event_ref(e);
	c->backend = backend;
	c->irq = irq;
	if (storm_limit)
		c->storm_limit = storm_limit;
	/* The timer exists from the start (off), so that a removal later
	 * allocates nothing: kkeyd's fd count stays flat across hotplug. */
	r = sd_event_add_time_relative(e, &c->retry, CLOCK_MONOTONIC, RETRY_USEC, 0, on_retry, c);
	if (r < 0)
		return r;
	r = sd_event_source_set_enabled(c->retry, SD_EVENT_OFF);
	if (r < 0)
		return r;
	if (card_open(c) < 0)
		arm_retry(c, RETRY_USEC);
	*ret = TAKE_PTR(c);
	return 0;
}

void pci_card_free(struct pci_card *c)
{
	if (!c)
		return;
	if (c->event)
		ukd_log(LOG_INFO, "pci %s: %llu events recorded, %llu interrupts, %llu missed, "
			"%llu spurious, %llu unknown, %llu removals", c->addr,
			(unsigned long long)c->stats.events, (unsigned long long)c->stats.interrupts,
			(unsigned long long)c->stats.missed, (unsigned long long)c->stats.spurious,
			(unsigned long long)c->stats.unknown, (unsigned long long)c->stats.removals);
	sd_event_source_disable_unref(c->io);
	sd_event_source_disable_unref(c->gone);
	sd_event_source_disable_unref(c->retry);
	ukd_pci_close(c->pci);
	sd_event_unref(c->event);
	free(c);
}

const struct pci_card_stats *pci_card_stats(const struct pci_card *c)
{
	return &c->stats;
}
