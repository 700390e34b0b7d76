/* SPDX-License-Identifier: MIT */
/*
 * Allocating the page allocator's memfd ahead of need, in a thread
 * (page_prefill.c): what page_alloc.c calls. page_allocator_prefill(),
 * which starts it, is in fs.h with the rest of the allocator's interface.
 */
#pragma once

#include <stdint.h>

struct page_allocator;

/** prefill_ask() - the memfd's windows now end at @end: keep filling ahead of it. */
void prefill_ask(struct page_allocator *pa, uint64_t end);

/** prefill_stop() - stop and join the thread; accepts an allocator without one. */
void prefill_stop(struct page_allocator *pa);
