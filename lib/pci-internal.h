/* SPDX-License-Identifier: MIT */
/* Between lib/pci.c and its backends lib/hw-uio.c, lib/hw-vfio.c. */
#pragma once

#include "pci.h"

#define UKD_PCI_MAX_BARS 6

struct ukd_pci_bar {
	void *base;
	size_t size;
};

struct ukd_pci_ops {
	int (*open)(struct ukd_pci *p);
	int (*map_bar)(struct ukd_pci *p, unsigned int bar, struct ukd_pci_bar *out);
	int64_t (*irq_take)(struct ukd_pci *p);
	int (*irq_unmask)(struct ukd_pci *p);
	int (*dma_map)(struct ukd_pci *p, void *vaddr, size_t size, uint64_t iova);
	int (*dma_unmap)(struct ukd_pci *p, uint64_t iova, size_t size);
	void (*close)(struct ukd_pci *p);
};

struct ukd_pci {
	char addr[UKD_PCI_ADDR_MAX];
	const char *sysfs;                   /* "/sys" (tests pass a fake tree) */
	enum ukd_pci_backend backend;
	enum ukd_pci_irq_mode irq;
	const struct ukd_pci_ops *ops;
	struct ukd_pci_bar bars[UKD_PCI_MAX_BARS];
	int irq_fd;
	/* UIO */
	int uio_num;
	uint32_t uio_count;                  /* last interrupt count read */
	bool uio_count_valid;
	/* VFIO */
	int container_fd, group_fd, device_fd;
	int req_fd;                          /* VFIO_PCI_REQ_IRQ_INDEX eventfd */
	uint64_t config_offset;              /* of the config region in device_fd */
};

extern const struct ukd_pci_ops ukd_hw_uio_ops;
extern const struct ukd_pci_ops ukd_hw_vfio_ops;

/*
 * The last part of the link SYSFS/bus/pci/devices/ADDR/@attr: "driver" gives
 * the bound driver, "iommu_group" the group number.
 * Returns 0; -ENODEV (no such function); -ENXIO (no such link).
 */
int ukd_pci_sysfs_link(const char *sysfs, const char *addr, const char *attr, char *out,
		       size_t size);

/*
 * The UIO number of @addr bound to ukd_uio, from SYSFS/bus/pci/devices/ADDR/uio/uioN.
 * Returns N >= 0, -ENODEV, -ENXIO (not bound to ukd_uio) or -ENOENT (no uio child).
 */
int ukd_hw_uio_find(const char *sysfs, const char *addr);

/* Read a sysfs file holding one number (0x.. or decimal). 0 or -errno. */
int ukd_pci_sysfs_read_u64(const char *path, uint64_t *ret);
