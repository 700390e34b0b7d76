/* SPDX-License-Identifier: MIT */
/* kkeyd's settings: defaults, then the config file, then the command line. */
#pragma once

#include <stdbool.h>

#include "config.h"
#include "front.h"
#include "kkey.h"
#include "pci.h"

#define KKEYD_PCI_MAX 16

#define KKEYD_CONFIG_DEFAULT "/etc/ukd/kkeyd.conf"
#define KKEYD_MOUNTPOINT_DEFAULT "/run/kkey"

struct kkeyd_options {
	enum ukd_front_kind frontend;  /* UKD_FRONT_AUTO by default */
	char *mountpoint;          /* FUSE */
	char node_dir[UKD_CHARDEV_DIR_MAX + 1];  /* CUSE: "" = /dev/kkeyNNN, else /dev/DIR/kkeyNNN */
	struct kkey_config kkey;
	char *state_dir;           /* the journal's directory; NULL: no journal */
	unsigned int commit_s;     /* fdatasync period; 0: after every write */
	char pci[KKEYD_PCI_MAX][UKD_PCI_ADDR_MAX];  /* key cards (--pci) */
	unsigned int n_pci;
	enum ukd_pci_backend pci_backend;
	enum ukd_pci_irq_mode pci_irq;
	unsigned int pci_storm_limit;  /* interrupts/s without an event: a storm */
	bool verbose;
	int seq_mode;              /* enum seq_mode (seq-output.h) */
	char **seq_connect;        /* --seq-connect, n_seq_connect of them */
	size_t n_seq_connect;
	char **keyboards;          /* --keyboard MATCHes, n_keyboards of them */
	size_t n_keyboards;
	char *keymap;              /* NULL = the built-in layout */
	bool grab;
};

/**
 * kkeyd_options_parse() - fill @o from defaults, the config file and argv.
 * Returns 1 to run, 0 to exit successfully (--help, --version), or -EINVAL
 * after printing what is wrong to stderr (exit status 2).
 */
int kkeyd_options_parse(struct kkeyd_options *o, int argc, char **argv);

/**
 * kkeyd_options_reload() - the same for a running daemon (SIGHUP): @o gets
 * defaults, the config file read again, and argv over it.
 * Returns 0, or -errno after logging why (the caller keeps its settings).
 */
int kkeyd_options_reload(struct kkeyd_options *o, int argc, char **argv);

/** kkeyd_options_done() - free and zero @o; accepts a zeroed @o. */
void kkeyd_options_done(struct kkeyd_options *o);
