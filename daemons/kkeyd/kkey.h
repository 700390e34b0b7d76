/* SPDX-License-Identifier: MIT */
/*
 * The kkey device: 128 nodes, one per MIDI note, sharing one recording.
 * Pure device logic over lib/'s chardev interface: no FUSE, no CUSE.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "chardev.h"
#include "recorder.h"
#include "ukd/kkey.h"

struct kkey_config {
	size_t capacity;      /* events, 1..UKD_RECORDER_MAX_CAPACITY */
	uint32_t velocity;    /* 0..127 */
	uint32_t slowdown;    /* KKEY_SLOWDOWN_MIN..MAX */
	uint8_t channel;      /* 0..15 */
	bool keep;            /* read does not clear */
	mode_t mode;          /* node permissions */
};

struct kkey {
	struct kkey_config cfg;        /* velocity/slowdown change through ioctls */
	struct ukd_recorder *rec;
	struct ukd_chardev nodes[KKEY_NOTES];
	struct ukd_chardev *node_ptrs[KKEY_NOTES];
	char names[KKEY_NOTES][8];     /* "kkey000" ... "kkey127" */
	bool full_logged;              /* ENOSPC logged once until space returns */
};

/** kkey_config_default() - the original module's defaults, real-time playback. */
void kkey_config_default(struct kkey_config *cfg);

/**
 * kkey_new() - a kkey with an empty recording and its 128 nodes named
 * kkey000..kkey127. Returns 0, -EINVAL (bad config) or -ENOMEM.
 */
int kkey_new(struct kkey **ret, const struct kkey_config *cfg);

/** kkey_free() - accepts NULL; the nodes must no longer be served. */
void kkey_free(struct kkey *k);

/**
 * kkey_reconfigure() - take @cfg's velocity, slowdown, channel and keep
 * (a reload); the recording is kept. Capacity and mode stay as they were
 * (the caller says they need a restart). Logs each change.
 */
void kkey_reconfigure(struct kkey *k, const struct kkey_config *cfg);
