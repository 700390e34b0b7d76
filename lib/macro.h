/* SPDX-License-Identifier: MIT */
/*
 * Small helpers shared by all of ukd: cleanup attributes in the style of
 * systemd's (written for ukd, not imported), array sizes, overflow checks.
 */
#pragma once

#include <errno.h>
#include <stdlib.h>
#include <unistd.h>

#define UKD_ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))

#define _cleanup_(f) __attribute__((cleanup(f)))
#define _unused_ __attribute__((unused))
#define _printf_(a, b) __attribute__((format(printf, a, b)))
#define _public_ __attribute__((visibility("default")))

static inline void ukd_freep(void *p)
{
	free(*(void **)p);
}
#define _cleanup_free_ _cleanup_(ukd_freep)

static inline void ukd_closep(int *fd)
{
	if (*fd >= 0) {
		int saved = errno;
		close(*fd);
		errno = saved;
	}
}
#define _cleanup_close_ _cleanup_(ukd_closep)

/* Declare a cleanup function for a type whose destructor accepts NULL. */
#define UKD_DEFINE_CLEANUP(type, func)                  \
	static inline void func##p(type *p)             \
	{                                               \
		if (*p)                                 \
			func(*p);                       \
	}

/* Hand ownership out of a _cleanup_ variable. */
#define TAKE_PTR(p)                                     \
	({                                              \
		__typeof__(p) _tp = (p);                \
		(p) = NULL;                             \
		_tp;                                    \
	})
#define TAKE_FD(fd)                                     \
	({                                              \
		int _tf = (fd);                         \
		(fd) = -1;                              \
		_tf;                                    \
	})

/* -errno from a libc call that returned -1; keeps a positive errno safe. */
static inline int ukd_negerrno(void)
{
	return errno > 0 ? -errno : -EIO;
}
