/* SPDX-License-Identifier: MIT */
/*
 * Live output to the ALSA sequencer: client "kkey", one source port that
 * every press and release leaves through as it happens (direct dispatch,
 * no queue). Subscribers come from --seq-connect or from aconnect. Built
 * only with -Dalsa; kkeyd runs and records without it.
 */
#pragma once

#include <stddef.h>
#include <systemd/sd-event.h>

#include "kkey.h"

#define SEQ_DEVICE "/dev/snd/seq"
#define SEQ_CLIENT_NAME "kkey"

enum seq_mode {
	SEQ_AUTO = 0,   /* on when /dev/snd/seq exists */
	SEQ_ON,         /* must work: no sequencer is an error */
	SEQ_OFF,
};

struct seq_output;

/**
 * seq_output_new() - open the sequencer, create the port, subscribe each
 * of @connect ("14:0", "FLUID Synth", "Midi Through:0"; borrowed, must
 * outlive the output) and listen to @k. A destination that is missing now
 * or vanishes later (its module unloaded, its program restarted) is
 * retried every second, as is the sequencer itself after a send error:
 * kkeyd logs it and keeps recording. With SEQ_AUTO and no /dev/snd/seq,
 * live output is off (one log line) until the node appears (snd-seq
 * loaded later: inotify, no polling), then it opens as above.
 * Returns 0 (with *ret NULL when @mode is off, or auto with a sequencer
 * that cannot be opened: one log line), or -errno after logging why
 * (SEQ_ON only).
 */
int seq_output_new(struct seq_output **ret, enum seq_mode mode, sd_event *event,
		   struct kkey *k, char *const *connect, size_t n_connect);

/** seq_output_free() - accepts NULL; closes the client (subscribers see it leave). */
void seq_output_free(struct seq_output *s);
