/* SPDX-License-Identifier: MIT */
/* kkeyd's manager: the loop, the device and the front end serving it. */
#pragma once

#include <systemd/sd-event.h>

#include "front.h"
#include "kkey.h"
#include "options.h"

struct manager {
	sd_event *event;
	struct kkey *kkey;
	struct ukd_front *front;
	struct kkey_journal *journal;     /* NULL without a state directory */
	sd_event_source *commit_timer;    /* fdatasyncs the journal every commit= seconds */
	enum ukd_front_kind kind;
	struct kkeyd_options *options;  /* main's; a reload updates what it changes */
	int argc;                       /* the command line, read again on reload */
	char **argv;
};

/* Build the loop and the device; @o, @argv are borrowed from main. Silent: returns -errno. */
int manager_new(struct manager **ret, struct kkeyd_options *o, int argc, char **argv);
/* Serve the nodes. Logs why on failure; returns -errno. */
int manager_start(struct manager *m);
int manager_run(struct manager *m);
void manager_free(struct manager *m);
UKD_DEFINE_CLEANUP(struct manager *, manager_free)
