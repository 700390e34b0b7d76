/* SPDX-License-Identifier: MIT */
/*
 * Computer keyboards as kkey inputs (libevdev): the keyboards --keyboard
 * names, each with its own keyboard-core, read on the sd-event loop. Times
 * are the kernel's input timestamps on CLOCK_MONOTONIC (EVIOCSCLOCKID), so
 * the recording holds when keys were pressed, not when kkeyd read them.
 * Attaching and detaching are by device node, from the start-up scan and
 * from hotplug.c; a keyboard whose read fails with ENODEV detaches itself.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <systemd/sd-event.h>

#include "keymap.h"
#include "kkey.h"

struct keyboards;

/**
 * keyboards_new() - an empty set. @match (borrowed, @n_match entries) and
 * @map (borrowed) must outlive it. Returns 0 or -ENOMEM.
 */
int keyboards_new(struct keyboards **ret, sd_event *event, struct kkey *k,
		  const struct keymap *map, char *const *match, size_t n_match, bool grab);

/** keyboards_free() - detaches all (held notes released); accepts NULL. */
void keyboards_free(struct keyboards *kbs);

/**
 * keyboards_add() - attach the event node @devnode if it matches and is
 * not attached yet. Returns 1 attached, 0 not wanted, or -errno (logged).
 */
int keyboards_add(struct keyboards *kbs, const char *devnode);

/** keyboards_remove() - detach @devnode if attached, releasing its notes. */
void keyboards_remove(struct keyboards *kbs, const char *devnode);

/** keyboards_scan() - keyboards_add() every /dev/input/event*. Returns how many attached. */
int keyboards_scan(struct keyboards *kbs);

/** keyboards_count() - attached now. */
size_t keyboards_count(const struct keyboards *kbs);
