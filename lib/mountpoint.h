/* SPDX-License-Identifier: MIT */
#pragma once

/**
 * ukd_mountpoint_check() - may a FUSE file system be mounted on @path?
 * Refuses to stack on a mount point someone already serves (a second
 * daemon would silently hide the first).
 * Returns 0; -EBUSY when something is mounted there; -ENOTCONN for a stale
 * FUSE mount (its daemon died: fusermount3 -u clears it); -ENOTDIR;
 * or another -errno from stat(2).
 */
int ukd_mountpoint_check(const char *path);
