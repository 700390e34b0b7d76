/* SPDX-License-Identifier: MIT */
/* The backend-neutral half of lib/pci.h: addresses and dispatch to a backend. */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "log.h"
#include "pci-internal.h"

static int hex_field(const char *s, size_t len, unsigned int max, unsigned int *ret)
{
	unsigned int v = 0;

	for (size_t i = 0; i < len; i++) {
		char c = s[i];
		unsigned int d;

		if (c >= '0' && c <= '9')
			d = (unsigned int)(c - '0');
		else if (c >= 'a' && c <= 'f')
			d = (unsigned int)(c - 'a' + 10);
		else if (c >= 'A' && c <= 'F')
			d = (unsigned int)(c - 'A' + 10);
		else
			return -EINVAL;
		v = v * 16 + d;
	}
	if (v > max)
		return -EINVAL;
	*ret = v;
	return 0;
}

int ukd_pci_parse_addr(const char *s, char out[UKD_PCI_ADDR_MAX])
{
	unsigned int dom = 0, bus, dev, fn;
	size_t len;

	if (!s || !out)
		return -EINVAL;
	len = strlen(s);
	if (len == 7) {
		/* BB:DD.F: domain 0 */
	} else if (len == 12 && s[4] == ':') {
		if (hex_field(s, 4, 0xffff, &dom) < 0)
			return -EINVAL;
		s += 5;
	} else {
		return -EINVAL;
	}
	/* PCI: 8-bit bus, 5-bit device, 3-bit function */
	if (s[2] != ':' || s[5] != '.' || hex_field(s, 2, 0xff, &bus) < 0 ||
	    hex_field(s + 3, 2, 0x1f, &dev) < 0 || hex_field(s + 6, 1, 7, &fn) < 0)
		return -EINVAL;
	snprintf(out, UKD_PCI_ADDR_MAX, "%04x:%02x:%02x.%u", dom, bus, dev, fn);
	return 0;
}

const char *ukd_pci_backend_name(enum ukd_pci_backend b)
{
	return b == UKD_PCI_VFIO ? "vfio" : "uio";
}

int ukd_pci_backend_from_name(const char *name, enum ukd_pci_backend *ret)
{
	if (name && strcmp(name, "uio") == 0)
		*ret = UKD_PCI_UIO;
	else if (name && strcmp(name, "vfio") == 0)
		*ret = UKD_PCI_VFIO;
	else
		return -EINVAL;
	return 0;
}

int ukd_pci_open(struct ukd_pci **ret, const char *addr, enum ukd_pci_backend backend,
		 enum ukd_pci_irq_mode irq)
{
	_cleanup_(ukd_pci_closep) struct ukd_pci *p = NULL;
	int r;

	if (!ret || (backend != UKD_PCI_UIO && backend != UKD_PCI_VFIO) ||
	    (irq != UKD_PCI_IRQ_INTX && irq != UKD_PCI_IRQ_MSI))
		return -EINVAL;
	if (backend == UKD_PCI_UIO && irq == UKD_PCI_IRQ_MSI)
		return -EINVAL;  /* the stub wires INTx only */
	p = calloc(1, sizeof(*p));
	if (!p)
		return -ENOMEM;
	p->irq_fd = p->container_fd = p->group_fd = p->device_fd = p->req_fd = -1;
	p->uio_num = -1;
	p->sysfs = "/sys";
	p->backend = backend;
	p->irq = irq;
	p->ops = backend == UKD_PCI_VFIO ? &ukd_hw_vfio_ops : &ukd_hw_uio_ops;
	r = ukd_pci_parse_addr(addr, p->addr);
	if (r < 0)
		return r;
	r = p->ops->open(p);
	if (r < 0) {
		ukd_log(LOG_DEBUG, "pci %s: open over %s: %s", p->addr,
			ukd_pci_backend_name(backend), strerror(-r));
		return r;
	}
	*ret = TAKE_PTR(p);
	return 0;
}

void ukd_pci_close(struct ukd_pci *p)
{
	if (!p)
		return;
	for (unsigned int i = 0; i < UKD_PCI_MAX_BARS; i++)
		if (p->bars[i].base)
			munmap(p->bars[i].base, p->bars[i].size);
	if (p->ops)
		p->ops->close(p);
	free(p);
}

const char *ukd_pci_addr(const struct ukd_pci *p)
{
	return p->addr;
}

int ukd_pci_map_bar(struct ukd_pci *p, unsigned int bar, volatile void **base, size_t *size)
{
	int r;

	if (!p || !base || !size || bar >= UKD_PCI_MAX_BARS)
		return -EINVAL;
	if (!p->bars[bar].base) {
		r = p->ops->map_bar(p, bar, &p->bars[bar]);
		if (r < 0) {
			ukd_log(LOG_DEBUG, "pci %s: map BAR%u: %s", p->addr, bar, strerror(-r));
			return r;
		}
	}
	*base = p->bars[bar].base;
	*size = p->bars[bar].size;
	return 0;
}

int ukd_pci_irq_fd(const struct ukd_pci *p)
{
	return p ? p->irq_fd : -EINVAL;
}

int ukd_pci_gone_fd(const struct ukd_pci *p)
{
	return p ? p->req_fd : -EINVAL;
}

int64_t ukd_pci_irq_take(struct ukd_pci *p)
{
	return p ? p->ops->irq_take(p) : -EINVAL;
}

int ukd_pci_irq_unmask(struct ukd_pci *p)
{
	if (!p)
		return -EINVAL;
	if (p->irq == UKD_PCI_IRQ_MSI)
		return 0;
	return p->ops->irq_unmask(p);
}

static int dma_args_ok(void *vaddr, size_t size, uint64_t iova)
{
	long page = sysconf(_SC_PAGESIZE);

	if (!vaddr || size == 0 || page <= 0 || (uintptr_t)vaddr % (uintptr_t)page ||
	    size % (size_t)page || iova % (uint64_t)page || iova + size < iova)
		return -EINVAL;
	return 0;
}

int ukd_pci_dma_map(struct ukd_pci *p, void *vaddr, size_t size, uint64_t iova)
{
	int r;

	if (!p)
		return -EINVAL;
	r = dma_args_ok(vaddr, size, iova);
	if (r < 0)
		return r;
	if (!p->ops->dma_map)
		return -EOPNOTSUPP;
	return p->ops->dma_map(p, vaddr, size, iova);
}

int ukd_pci_dma_unmap(struct ukd_pci *p, uint64_t iova, size_t size)
{
	long page = sysconf(_SC_PAGESIZE);

	if (!p || size == 0 || page <= 0 || size % (size_t)page || iova % (uint64_t)page ||
	    iova + size < iova)
		return -EINVAL;
	if (!p->ops->dma_unmap)
		return -EOPNOTSUPP;
	return p->ops->dma_unmap(p, iova, size);
}
