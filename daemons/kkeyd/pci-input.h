/* SPDX-License-Identifier: MIT */
/*
 * kkeyd's PCI input: a "key card" (QEMU's edu standing in) that reports one
 * note event per interrupt. Register protocol: docs/kkey-pci.md.
 */
#pragma once

#include <stdbool.h>
#include <stdint.h>
#include <systemd/sd-event.h>

#include "kkey.h"
#include "pci.h"

/* docs/kkey-pci.md, "Registers" (edu.rst offsets). */
#define KCARD_REG_ID        0x00   /* edu: 0xRRrr00ed */
#define KCARD_REG_STATUS    0x24   /* edu: interrupt status */
#define KCARD_REG_RAISE     0x60   /* edu: interrupt raise (ORed into status) */
#define KCARD_REG_ACK       0x64   /* edu: interrupt acknowledge (clears bits) */
#define KCARD_REG_SPAN      0x68   /* the card's registers end here */
#define KCARD_EVENT_VALID   0x100u /* always set, so a release of note 0 interrupts */
#define KCARD_EVENT_PRESSED 0x080u
#define KCARD_EVENT_NOTE    0x07fu
#define KCARD_ID_MASK       0x0000ffffu
#define KCARD_ID_EDU        0x000000edu

/* The value a card reports for one event. */
static inline uint32_t kcard_event_value(uint8_t note, bool pressed)
{
	return KCARD_EVENT_VALID | (pressed ? KCARD_EVENT_PRESSED : 0) | (note & KCARD_EVENT_NOTE);
}

/**
 * kcard_decode() - what a status value means.
 * Returns 0 and fills @ev for one event; -ENODATA for 0 (not this card's
 * interrupt); -ENODEV for all-ones (the card is gone); -EINVAL for any
 * other value (bits outside 0x1ff, or bit 8 clear).
 */
int kcard_decode(uint32_t status, struct kkey_event *ev);

struct pci_card_stats {
	uint64_t events;      /* recorded */
	uint64_t interrupts;  /* taken from the fd */
	uint64_t missed;      /* interrupts the kernel counted that we never saw */
	uint64_t spurious;    /* status 0 */
	uint64_t unknown;     /* status not a valid event */
	uint64_t removals;
};

struct pci_card;

/* Interrupts without an event in one second above which a card is closed
 * for a second (kkeyd --pci-storm-limit, docs/kkey-pci.md). */
#define PCI_STORM_LIMIT_DEFAULT 1000
#define PCI_STORM_LIMIT_MAX 1000000

/**
 * pci_card_new() - watch the card at @addr: open it now if it is there,
 * else (and after any removal) retry every 500 ms. More than @storm_limit
 * interrupts without an event in one second close it for a second.
 * Returns 0 or -errno (-EINVAL: bad address).
 */
int pci_card_new(struct pci_card **ret, struct kkey *k, sd_event *e, const char *addr,
		 enum ukd_pci_backend backend, enum ukd_pci_irq_mode irq,
		 unsigned int storm_limit);
void pci_card_free(struct pci_card *c);
UKD_DEFINE_CLEANUP(struct pci_card *, pci_card_free)

const struct pci_card_stats *pci_card_stats(const struct pci_card *c);

/**
 * pci_card_service() - handle one interrupt: read the status at @bar,
 * acknowledge it, record it. Returns what kcard_decode() returned.
 * Separate from the fd handling so unit tests can drive it on a
 * memory-backed fake BAR.
 */
int pci_card_service(struct pci_card *c, volatile void *bar);

/** pci_card_new_detached() - a card without a device or loop (unit tests). */
int pci_card_new_detached(struct pci_card **ret, struct kkey *k);
