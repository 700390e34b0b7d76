/* SPDX-License-Identifier: MIT */
/*
 * The VFIO backend of lib/pci.h: a function bound to vfio-pci behind an
 * IOMMU (Debian's kernel has no no-IOMMU mode). One container per device:
 * container -> group -> device fd (Documentation/driver-api/vfio.rst).
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <unistd.h>
#include <linux/pci_regs.h>
#include <linux/vfio.h>

#include "log.h"
#include "pci-internal.h"

static int xioctl(int fd, unsigned long req, void *arg)
{
	return ioctl(fd, req, arg) < 0 ? ukd_negerrno() : 0;
}

static int group_number(const char *sysfs, const char *addr)
{
	char name[32], *end;
	long g;
	int r = ukd_pci_sysfs_link(sysfs, addr, "iommu_group", name, sizeof(name));

	if (r < 0)
		return r;
	g = strtol(name, &end, 10);
	if (end == name || *end || g < 0 || g > INT_MAX)
		return -EINVAL;
	return (int)g;
}

static int region_info(struct ukd_pci *p, unsigned int index, struct vfio_region_info *ri)
{
	*ri = (struct vfio_region_info){ .argsz = sizeof(*ri), .index = index };
	return xioctl(p->device_fd, VFIO_DEVICE_GET_REGION_INFO, ri);
}

/* PCI 3.0, 6.2.2: COMMAND bit 1 Memory Space, bit 2 Bus Master. */
static int enable_bus_master(struct ukd_pci *p)
{
	uint16_t cmd;

	if (pread(p->device_fd, &cmd, sizeof(cmd), (off_t)(p->config_offset + PCI_COMMAND)) != sizeof(cmd))
		return -EIO;
	cmd |= PCI_COMMAND_MEMORY | PCI_COMMAND_MASTER;
	if (pwrite(p->device_fd, &cmd, sizeof(cmd), (off_t)(p->config_offset + PCI_COMMAND)) != sizeof(cmd))
		return -EIO;
	return 0;
}

static int set_irq_eventfd(struct ukd_pci *p, unsigned int index, int fd)
{
	struct {
		struct vfio_irq_set set;
		int32_t fd;
	} s = {
		.set = {
			.argsz = sizeof(s),
			.flags = VFIO_IRQ_SET_DATA_EVENTFD | VFIO_IRQ_SET_ACTION_TRIGGER,
			.index = index,
			.start = 0,
			.count = 1,
		},
		.fd = fd,
	};

	return xioctl(p->device_fd, VFIO_DEVICE_SET_IRQS, &s);
}

static int vfio_open(struct ukd_pci *p)
{
	struct vfio_group_status gs = { .argsz = sizeof(gs) };
	struct vfio_device_info di = { .argsz = sizeof(di) };
	struct vfio_region_info ri;
	char drv[64], path[64];
	int g, r;

	r = ukd_pci_sysfs_link(p->sysfs, p->addr, "driver", drv, sizeof(drv));
	if (r < 0)
		return r;
	if (strcmp(drv, UKD_PCI_VFIO_DRIVER) != 0)
		return -ENXIO;
	g = group_number(p->sysfs, p->addr);
	if (g < 0)
		return g;

	p->container_fd = open("/dev/vfio/vfio", O_RDWR | O_CLOEXEC);
	if (p->container_fd < 0)
		return ukd_negerrno();
	if (ioctl(p->container_fd, VFIO_GET_API_VERSION) != VFIO_API_VERSION ||
	    ioctl(p->container_fd, VFIO_CHECK_EXTENSION, VFIO_TYPE1v2_IOMMU) <= 0)
		return -EOPNOTSUPP;
	snprintf(path, sizeof(path), "/dev/vfio/%d", g);
	p->group_fd = open(path, O_RDWR | O_CLOEXEC);
	if (p->group_fd < 0)
		return ukd_negerrno();
	r = xioctl(p->group_fd, VFIO_GROUP_GET_STATUS, &gs);
	if (r < 0)
		return r;
	/* Every device in the group must be bound to vfio-pci (or none). */
	if (!(gs.flags & VFIO_GROUP_FLAGS_VIABLE))
		return -EBUSY;
	r = xioctl(p->group_fd, VFIO_GROUP_SET_CONTAINER, &p->container_fd);
	if (r < 0)
		return r;
	r = ioctl(p->container_fd, VFIO_SET_IOMMU, VFIO_TYPE1v2_IOMMU) < 0 ? ukd_negerrno() : 0;
	if (r < 0)
		return r;
	p->device_fd = ioctl(p->group_fd, VFIO_GROUP_GET_DEVICE_FD, p->addr);
	if (p->device_fd < 0)
		return ukd_negerrno();
	r = xioctl(p->device_fd, VFIO_DEVICE_GET_INFO, &di);
	if (r < 0)
		return r;
	if (!(di.flags & VFIO_DEVICE_FLAGS_PCI) || di.num_regions <= VFIO_PCI_CONFIG_REGION_INDEX)
		return -ENODEV;
	r = region_info(p, VFIO_PCI_CONFIG_REGION_INDEX, &ri);
	if (r < 0)
		return r;
	p->config_offset = ri.offset;
	r = enable_bus_master(p);
	if (r < 0)
		return r;

	/* The request interrupt: without it a hot unplug or unbind would wait
	 * for us forever (vfio-pci only re-asks every few seconds). */
	if (di.num_irqs > VFIO_PCI_REQ_IRQ_INDEX) {
		p->req_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
		if (p->req_fd < 0)
			return ukd_negerrno();
		if (set_irq_eventfd(p, VFIO_PCI_REQ_IRQ_INDEX, p->req_fd) < 0) {
			close(p->req_fd);
			p->req_fd = -1;
		}
	}
	p->irq_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (p->irq_fd < 0)
		return ukd_negerrno();
	return set_irq_eventfd(p, p->irq == UKD_PCI_IRQ_MSI ? VFIO_PCI_MSI_IRQ_INDEX
							      : VFIO_PCI_INTX_IRQ_INDEX, p->irq_fd);
}

static int vfio_map_bar(struct ukd_pci *p, unsigned int bar, struct ukd_pci_bar *out)
{
	struct vfio_region_info ri;
	void *base;
	int r;

	r = region_info(p, VFIO_PCI_BAR0_REGION_INDEX + bar, &ri);
	if (r < 0)
		return r;
	if (ri.size == 0)
		return -ENOENT;
	if (!(ri.flags & VFIO_REGION_INFO_FLAG_MMAP) || ri.size > SIZE_MAX)
		return -EOPNOTSUPP;
	base = mmap(NULL, (size_t)ri.size, PROT_READ | PROT_WRITE, MAP_SHARED, p->device_fd,
		    (off_t)ri.offset);
	if (base == MAP_FAILED)
		return ukd_negerrno();
	out->base = base;
	out->size = (size_t)ri.size;
	return 0;
}

static int64_t vfio_irq_take(struct ukd_pci *p)
{
	uint64_t n;

	if (read(p->irq_fd, &n, sizeof(n)) != sizeof(n))
		return errno == EAGAIN ? -EAGAIN : ukd_negerrno();
	return (int64_t)n;
}

static int vfio_irq_unmask(struct ukd_pci *p)
{
	struct vfio_irq_set s = {
		.argsz = sizeof(s),
		.flags = VFIO_IRQ_SET_DATA_NONE | VFIO_IRQ_SET_ACTION_UNMASK,
		.index = VFIO_PCI_INTX_IRQ_INDEX,
		.start = 0,
		.count = 1,
	};

	return xioctl(p->device_fd, VFIO_DEVICE_SET_IRQS, &s);
}

static int vfio_dma_map(struct ukd_pci *p, void *vaddr, size_t size, uint64_t iova)
{
	struct vfio_iommu_type1_dma_map m = {
		.argsz = sizeof(m),
		.flags = VFIO_DMA_MAP_FLAG_READ | VFIO_DMA_MAP_FLAG_WRITE,
		.vaddr = (uintptr_t)vaddr,
		.iova = iova,
		.size = size,
	};

	return xioctl(p->container_fd, VFIO_IOMMU_MAP_DMA, &m);
}

static int vfio_dma_unmap(struct ukd_pci *p, uint64_t iova, size_t size)
{
	struct vfio_iommu_type1_dma_unmap u = {
		.argsz = sizeof(u),
		.iova = iova,
		.size = size,
	};
	int r = xioctl(p->container_fd, VFIO_IOMMU_UNMAP_DMA, &u);

	if (r == 0 && u.size != size)
		return -ENOENT;  /* nothing (or not all of it) was mapped there */
	return r;
}

static void vfio_close(struct ukd_pci *p)
{
	if (p->device_fd >= 0) {
		struct vfio_irq_set s = {
			.argsz = sizeof(s),
			.flags = VFIO_IRQ_SET_DATA_NONE | VFIO_IRQ_SET_ACTION_TRIGGER,
			.index = p->irq == UKD_PCI_IRQ_MSI ? VFIO_PCI_MSI_IRQ_INDEX
							   : VFIO_PCI_INTX_IRQ_INDEX,
			.count = 0,  /* count 0 with DATA_NONE: tear the interrupt down */
		};

		(void)ioctl(p->device_fd, VFIO_DEVICE_SET_IRQS, &s);
	}
	/* Device before group before container: the reverse of opening. */
	int *fds[] = { &p->irq_fd, &p->req_fd, &p->device_fd, &p->group_fd, &p->container_fd };

	for (size_t i = 0; i < UKD_ARRAY_SIZE(fds); i++)
		if (*fds[i] >= 0) {
			close(*fds[i]);
			*fds[i] = -1;
		}
}

const struct ukd_pci_ops ukd_hw_vfio_ops = {
	.open = vfio_open,
	.map_bar = vfio_map_bar,
	.irq_take = vfio_irq_take,
	.irq_unmask = vfio_irq_unmask,
	.dma_map = vfio_dma_map,
	.dma_unmap = vfio_dma_unmap,
	.close = vfio_close,
};
