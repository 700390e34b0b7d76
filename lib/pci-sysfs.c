/* SPDX-License-Identifier: MIT */
/*
 * sysfs reads that both PCI backends and the dispatcher use. Below
 * hw-uio.c, hw-vfio.c and pci.c, so that they call down into it and never
 * into each other (lib/README.md).
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "pci-internal.h"

int ukd_pci_sysfs_link(const char *sysfs, const char *addr, const char *attr, char *out,
		       size_t size)
{
	char path[PATH_MAX], link[PATH_MAX];
	const char *base;
	ssize_t n;

	snprintf(path, sizeof(path), "%s/bus/pci/devices/%s", sysfs, addr);
	if (access(path, F_OK) < 0)
		return -ENODEV;
	snprintf(path, sizeof(path), "%s/bus/pci/devices/%s/%s", sysfs, addr, attr);
	n = readlink(path, link, sizeof(link) - 1);
	if (n < 0)
		return errno == ENOENT ? -ENXIO : ukd_negerrno();
	link[n] = '\0';
	base = strrchr(link, '/');
	base = base ? base + 1 : link;
	if (strlen(base) >= size)
		return -ENAMETOOLONG;
	strcpy(out, base);
	return 0;
}

int ukd_pci_sysfs_read_u64(const char *path, uint64_t *ret)
{
	char buf[64], *end;
	_cleanup_close_ int fd = -1;
	unsigned long long v;
	ssize_t n;

	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return ukd_negerrno();
	n = read(fd, buf, sizeof(buf) - 1);
	if (n < 0)
		return ukd_negerrno();
	buf[n] = '\0';
	errno = 0;
	v = strtoull(buf, &end, 0);
	if (errno || end == buf || (*end && *end != '\n'))
		return -EINVAL;
	*ret = v;
	return 0;
}
