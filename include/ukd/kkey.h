/* SPDX-License-Identifier: MIT */
/*
 * kkey: the userspace MIDI keyboard's ioctl interface. Include this from
 * programs that drive /dev/kkeyNNN (or DIR/kkeyNNN in FUSE mode); every
 * ioctl works on any of the 128 nodes and acts on the one shared recording.
 *
 * Magic 0x11 and KKEY_IOC_RESET are those of the original kkey kernel
 * module, so its reset.c keeps working. All arguments are fixed-size, so
 * 32- and 64-bit callers share one layout.
 */
#ifndef UKD_KKEY_H
#define UKD_KKEY_H

#include <linux/ioctl.h>
#include <stdint.h>

#define KKEY_IOC_MAGIC 0x11
#define KKEY_NOTES 128

#define KKEY_VELOCITY_DEFAULT 63   /* as the original module */
#define KKEY_SLOWDOWN_MIN 1
#define KKEY_SLOWDOWN_MAX 32       /* tempo = 500000 us * slowdown must fit 24 bits */

/* Status flags */
#define KKEY_STATUS_KEEP (1u << 0) /* read does not clear (--keep) */

struct kkey_status {
	uint64_t events;     /* events recorded and not yet read/cleared */
	uint64_t capacity;   /* events the recording holds before write fails with ENOSPC */
	uint32_t velocity;   /* 1..127, used for presses and releases from now on */
	uint32_t slowdown;   /* playback slowdown factor, 1 = real time */
	uint32_t held;       /* notes pressed and not released */
	uint32_t flags;      /* KKEY_STATUS_* */
};

/* Clear the recording (held notes stay held). As the original. */
#define KKEY_IOC_RESET        _IO(KKEY_IOC_MAGIC, 0)
/* Velocity: 1..127, else EINVAL (a note-on of velocity 0 means note-off in
 * MIDI, so 0 would record silence). Applies to events written after the call. */
#define KKEY_IOC_GET_VELOCITY _IOR(KKEY_IOC_MAGIC, 1, uint32_t)
#define KKEY_IOC_SET_VELOCITY _IOW(KKEY_IOC_MAGIC, 2, uint32_t)
/* Slowdown: KKEY_SLOWDOWN_MIN..MAX, else EINVAL. Applies to files generated after the call. */
#define KKEY_IOC_GET_SLOWDOWN _IOR(KKEY_IOC_MAGIC, 3, uint32_t)
#define KKEY_IOC_SET_SLOWDOWN _IOW(KKEY_IOC_MAGIC, 4, uint32_t)
#define KKEY_IOC_GET_STATUS   _IOR(KKEY_IOC_MAGIC, 5, struct kkey_status)
/* Panic: every held note (from any input) is released in the recording now,
 * and the live sequencer port sends All Sound Off and All Notes Off. */
#define KKEY_IOC_PANIC        _IO(KKEY_IOC_MAGIC, 6)

#endif
