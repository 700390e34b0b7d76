/* SPDX-License-Identifier: MIT */
/*
 * The UIO backend of lib/pci.h: a function bound to kmod/'s ukd_uio stub.
 * The stub exposes BAR0 as map 0 and masks INTx in its handler; /dev/uioN
 * read()s the interrupt count and a 4-byte write of 1 unmasks (irqcontrol).
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "log.h"
#include "pci-internal.h"

static void closedirp(DIR **d)
{
	if (*d)
		closedir(*d);
}

int ukd_hw_uio_find(const char *sysfs, const char *addr)
{
	char drv[64], path[PATH_MAX];
	_cleanup_(closedirp) DIR *d = NULL;
	struct dirent *de;
	int r;

	r = ukd_pci_sysfs_link(sysfs, addr, "driver", drv, sizeof(drv));
	if (r < 0)
		return r;
	if (strcmp(drv, UKD_PCI_UIO_DRIVER) != 0)
		return -ENXIO;
	snprintf(path, sizeof(path), "%s/bus/pci/devices/%s/uio", sysfs, addr);
	d = opendir(path);
	if (!d)
		return -ENOENT;
	while ((de = readdir(d))) {
		char *end;
		long n;

		if (strncmp(de->d_name, "uio", 3) != 0)
			continue;
		n = strtol(de->d_name + 3, &end, 10);
		if (end != de->d_name + 3 && *end == '\0' && n >= 0 && n < INT_MAX)
			return (int)n;
	}
	return -ENOENT;
}

static int uio_open(struct ukd_pci *p)
{
	char path[PATH_MAX];
	uint64_t count;
	int n = ukd_hw_uio_find(p->sysfs, p->addr);

	if (n < 0)
		return n;
	p->uio_num = n;
	snprintf(path, sizeof(path), "/dev/uio%d", n);
	p->irq_fd = open(path, O_RDWR | O_CLOEXEC | O_NONBLOCK);
	if (p->irq_fd < 0)
		return ukd_negerrno();
	/* Where the stub's count stands now, so the first read's gap is exact. */
	snprintf(path, sizeof(path), "%s/class/uio/uio%d/event", p->sysfs, n);
	if (ukd_pci_sysfs_read_u64(path, &count) == 0) {
		p->uio_count = (uint32_t)count;
		p->uio_count_valid = true;
	}
	return 0;
}

static int uio_map_bar(struct ukd_pci *p, unsigned int bar, struct ukd_pci_bar *out)
{
	char path[PATH_MAX];
	uint64_t size;
	long page = sysconf(_SC_PAGESIZE);
	void *base;
	int r;

	/* The stub maps BAR0 as map 0 and nothing else. */
	if (bar != 0)
		return -ENOENT;
	snprintf(path, sizeof(path), "%s/class/uio/uio%d/maps/map0/size", p->sysfs, p->uio_num);
	r = ukd_pci_sysfs_read_u64(path, &size);
	if (r < 0)
		return r;
	if (size == 0 || size > SIZE_MAX)
		return -EINVAL;
	/* UIO: map N is selected by mmap offset N * page size. */
	base = mmap(NULL, (size_t)size, PROT_READ | PROT_WRITE, MAP_SHARED, p->irq_fd, 0 * page);
	if (base == MAP_FAILED)
		return ukd_negerrno();
	out->base = base;
	out->size = (size_t)size;
	return 0;
}

static int64_t uio_irq_take(struct ukd_pci *p)
{
	uint32_t count;
	int64_t delta;
	ssize_t n;

	n = read(p->irq_fd, &count, sizeof(count));
	if (n < 0)
		return errno == EAGAIN ? -EAGAIN : errno == EIO ? -ENODEV : ukd_negerrno();
	if (n != sizeof(count))
		return -EIO;
	/* Without a start value (no sysfs "event"), the first read counts one. */
	delta = p->uio_count_valid ? (int64_t)(uint32_t)(count - p->uio_count) : 1;
	p->uio_count = count;
	p->uio_count_valid = true;
	return delta;
}

static int uio_irq_unmask(struct ukd_pci *p)
{
	uint32_t one = 1;
	ssize_t n = write(p->irq_fd, &one, sizeof(one));

	if (n < 0)
		return errno == EIO ? -ENODEV : ukd_negerrno();
	return n == sizeof(one) ? 0 : -EIO;
}

static void uio_close(struct ukd_pci *p)
{
	if (p->irq_fd >= 0)
		close(p->irq_fd);
	p->irq_fd = -1;
}

const struct ukd_pci_ops ukd_hw_uio_ops = {
	.open = uio_open,
	.map_bar = uio_map_bar,
	.irq_take = uio_irq_take,
	.irq_unmask = uio_irq_unmask,
	.close = uio_close,
};
