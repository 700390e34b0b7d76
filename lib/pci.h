/* SPDX-License-Identifier: MIT */
/*
 * One interface to a PCI device whose driver runs in userspace, over two
 * kernel paths: UIO (the ukd_uio stub in kmod/) and VFIO (vfio-pci behind
 * an IOMMU). Open by PCI address, map a BAR, wait for / acknowledge /
 * unmask the interrupt through a pollable fd, map memory for the device's
 * DMA (VFIO only). Register access goes through the inline helpers below.
 * Nothing here prints; errors are -errno, details at debug level.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "macro.h"

/* The kernel driver each backend expects the function to be bound to. */
#define UKD_PCI_UIO_DRIVER "ukd_uio"
#define UKD_PCI_VFIO_DRIVER "vfio-pci"

/* "DDDD:BB:DD.F" plus NUL */
#define UKD_PCI_ADDR_MAX 13

enum ukd_pci_backend {
	UKD_PCI_UIO,
	UKD_PCI_VFIO,
};

enum ukd_pci_irq_mode {
	UKD_PCI_IRQ_INTX,  /* level, masked by the kernel until ukd_pci_irq_unmask() */
	UKD_PCI_IRQ_MSI,   /* VFIO only; edge, nothing to unmask */
};

struct ukd_pci;

/**
 * ukd_pci_parse_addr() - check and normalise a PCI address.
 * @s: "DDDD:BB:DD.F" (hex; domain 4 digits, bus 2, device 2 below 0x20,
 *     function 0..7), or "BB:DD.F" meaning domain 0000.
 * @out: UKD_PCI_ADDR_MAX bytes, written (lower case) only on success.
 * Returns 0 or -EINVAL.
 */
int ukd_pci_parse_addr(const char *s, char out[UKD_PCI_ADDR_MAX]);

/** ukd_pci_backend_name() - "uio" or "vfio". */
const char *ukd_pci_backend_name(enum ukd_pci_backend b);

/** ukd_pci_backend_from_name() - 0 and *@ret set, or -EINVAL. */
int ukd_pci_backend_from_name(const char *name, enum ukd_pci_backend *ret);

/**
 * ukd_pci_open() - take a PCI function for a userspace driver.
 * @ret: set on success; free with ukd_pci_close().
 * @addr: a PCI address (see ukd_pci_parse_addr()).
 * @backend: UKD_PCI_UIO needs the function bound to ukd_uio; UKD_PCI_VFIO to
 *           vfio-pci with its IOMMU group in /dev/vfio.
 * @irq: the interrupt to wire to the pollable fd. VFIO also turns on Memory
 *       and Bus Master in COMMAND (vfio-pci leaves Bus Master off, and the
 *       device's MSI and DMA writes are then dropped silently).
 * Returns 0; -EINVAL (bad address, MSI over UIO); -ENODEV (no such
 * function); -ENXIO (bound to another driver, or to none); -EBUSY (VFIO
 * group not viable or in use); -EOPNOTSUPP (no VFIO type1 IOMMU driver:
 * modprobe vfio_iommu_type1); other -errno from the kernel.
 */
int ukd_pci_open(struct ukd_pci **ret, const char *addr, enum ukd_pci_backend backend,
		 enum ukd_pci_irq_mode irq);

/** ukd_pci_close() - unmap, release every fd; accepts NULL. */
void ukd_pci_close(struct ukd_pci *p);
UKD_DEFINE_CLEANUP(struct ukd_pci *, ukd_pci_close)

/** ukd_pci_addr() - the normalised address the device was opened by. */
const char *ukd_pci_addr(const struct ukd_pci *p);

/**
 * ukd_pci_map_bar() - map memory BAR @bar (UIO: only BAR0, which the stub
 * exposes as map 0). The mapping lives until ukd_pci_close().
 * Returns 0 with *@base and *@size set; -EINVAL; -ENOENT (no such BAR).
 */
int ukd_pci_map_bar(struct ukd_pci *p, unsigned int bar, volatile void **base, size_t *size);

/**
 * ukd_pci_irq_fd() - an fd that polls readable (POLLIN) when an interrupt
 * arrived, and POLLERR/POLLHUP when the device went away (UIO). Owned by @p.
 */
int ukd_pci_irq_fd(const struct ukd_pci *p);

/**
 * ukd_pci_gone_fd() - VFIO: an fd that turns readable when the kernel asks
 * for the device back (hot unplug, unbind); the kernel's removal waits until
 * ukd_pci_close(). -1 for UIO, whose irq fd reports removal itself, and when
 * the kernel offers no request interrupt. Owned by @p.
 */
int ukd_pci_gone_fd(const struct ukd_pci *p);

/**
 * ukd_pci_irq_take() - consume the interrupts signalled on the fd.
 * Returns how many arrived since the last call (>1: the kernel saw more
 * interrupts than we took; with INTx masked between them this means missed
 * events), -EAGAIN when none is pending, -ENODEV when the device is gone.
 */
int64_t ukd_pci_irq_take(struct ukd_pci *p);

/**
 * ukd_pci_irq_unmask() - let the next INTx through (after acknowledging the
 * device). No-op for MSI. Returns 0 or -errno.
 */
int ukd_pci_irq_unmask(struct ukd_pci *p);

/**
 * ukd_pci_dma_map() - make [@vaddr, @vaddr+@size) visible to the device at
 * @iova through the IOMMU (VFIO only). Page aligned. Returns 0, -EINVAL,
 * -EOPNOTSUPP (UIO) or -errno.
 */
int ukd_pci_dma_map(struct ukd_pci *p, void *vaddr, size_t size, uint64_t iova);

/** ukd_pci_dma_unmap() - undo ukd_pci_dma_map(). Returns 0 or -errno. */
int ukd_pci_dma_unmap(struct ukd_pci *p, uint64_t iova, size_t size);

/*
 * Register access: one volatile 32-bit load or store. Callers check @off
 * against the mapped size once, when they decide on their register map.
 */
static inline uint32_t ukd_reg_read32(volatile void *base, size_t off)
{
	return *(volatile uint32_t *)((volatile uint8_t *)base + off);
}

static inline void ukd_reg_write32(volatile void *base, size_t off, uint32_t v)
{
	*(volatile uint32_t *)((volatile uint8_t *)base + off) = v;
}

static inline uint64_t ukd_reg_read64(volatile void *base, size_t off)
{
	return *(volatile uint64_t *)((volatile uint8_t *)base + off);
}

static inline void ukd_reg_write64(volatile void *base, size_t off, uint64_t v)
{
	*(volatile uint64_t *)((volatile uint8_t *)base + off) = v;
}
