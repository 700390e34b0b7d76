/* SPDX-License-Identifier: MIT */
/*
 * pci-check: vm-tier checks of kmod/'s stub and lib/pci.h on QEMU's edu.
 *   pci-check stub ADDR_A ADDR_B N   interrupts on A counted exactly, none on B
 *                                    (shared INTx), masked until irqcontrol
 *   pci-check dma ADDR               VFIO: edu DMA round trip over an IOMMU
 *                                    mapping; an unmapped IOVA faults
 *   pci-check raise ADDR VALUE       raise VALUE (any, also an invalid event)
 *                                    on a ukd_uio-bound card whose driver runs
 *                                    elsewhere; wait until it is acknowledged
 *   pci-check storm ADDR VALUE MS    for MS milliseconds raise VALUE again as
 *                                    soon as the driver acknowledged the last
 *                                    one (one interrupt each); prints the rate
 * Prints one line per check ("ok: ..." / "FAIL: ..."); exit 0 if all pass.
 */
#include <errno.h>
#include <inttypes.h>
#include <poll.h>
#include <sched.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#include "pci.h"

/* edu.rst, "Register space" */
#define EDU_ID       0x00
#define EDU_STATUS   0x24
#define EDU_RAISE    0x60
#define EDU_ACK      0x64
#define EDU_DMA_SRC  0x80
#define EDU_DMA_DST  0x88
#define EDU_DMA_CNT  0x90
#define EDU_DMA_CMD  0x98
#define EDU_DMA_BUF  0x40000   /* edu.rst: the 4 KiB DMA buffer in device space */
#define EDU_DMA_START 0x1
#define EDU_DMA_TO_RAM 0x2

static int fails;

static void check(bool ok, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void check(bool ok, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	printf("%s: ", ok ? "ok" : "FAIL");
	vprintf(fmt, ap);
	putchar('\n');
	va_end(ap);
	fails += !ok;
}

static bool irq_within(struct ukd_pci *p, int ms)
{
	struct pollfd pfd = { .fd = ukd_pci_irq_fd(p), .events = POLLIN };

	return poll(&pfd, 1, ms) == 1 && (pfd.revents & POLLIN);
}

static uint64_t uio_event_count(const char *addr)
{
	char path[256];
	FILE *f;
	unsigned long long v = 0;

	/* /sys/bus/pci/devices/ADDR/uio/uioN/event */
	snprintf(path, sizeof(path), "sh -c 'cat /sys/bus/pci/devices/%s/uio/uio*/event'", addr);
	f = popen(path, "r");
	if (f) {
		if (fscanf(f, "%llu", &v) != 1)
			v = UINT64_MAX;
		pclose(f);
	}
	return v;
}

static int stub(const char *a, const char *b, long n)
{
	_cleanup_(ukd_pci_closep) struct ukd_pci *pa = NULL, *pb = NULL;
	volatile void *bar_a, *bar_b;
	size_t size;
	uint64_t a0, b0;
	long got = 0;
	int r;

	r = ukd_pci_open(&pa, a, UKD_PCI_UIO, UKD_PCI_IRQ_INTX);
	check(r == 0, "open %s over uio: %s", a, strerror(-r));
	r = r ?: ukd_pci_open(&pb, b, UKD_PCI_UIO, UKD_PCI_IRQ_INTX);
	check(r == 0, "open %s over uio: %s", b, strerror(-r));
	if (r)
		return 1;
	check(ukd_pci_open(&(struct ukd_pci *){ NULL }, a, UKD_PCI_VFIO, UKD_PCI_IRQ_INTX) == -ENXIO,
	      "vfio open of a ukd_uio-bound function: ENXIO");
	check(ukd_pci_map_bar(pa, 0, &bar_a, &size) == 0 && size == 0x100000, "map0 of %s is 1 MiB", a);
	check(ukd_pci_map_bar(pb, 0, &bar_b, &size) == 0 && size == 0x100000, "map0 of %s is 1 MiB", b);
	check(ukd_pci_map_bar(pa, 1, &bar_b, &size) == -ENOENT, "BAR1 over uio: ENOENT");
	check(ukd_reg_read32(bar_a, EDU_ID) == 0x010000ed, "edu id 0x010000ed");
	a0 = uio_event_count(a);
	b0 = uio_event_count(b);
	for (long i = 0; i < n; i++) {
		ukd_reg_write32(bar_a, EDU_RAISE, 0x100 + (uint32_t)(i & 0xff));
		if (!irq_within(pa, 2000))
			break;
		if (ukd_pci_irq_take(pa) != 1)
			break;
		if (ukd_reg_read32(bar_a, EDU_STATUS) != 0x100 + (uint32_t)(i & 0xff))
			break;
		ukd_reg_write32(bar_a, EDU_ACK, 0x100 + (uint32_t)(i & 0xff));
		if (ukd_pci_irq_unmask(pa) < 0)
			break;
		got++;
	}
	check(got == n, "%ld of %ld interrupts on %s, each counted once, status as raised", got, n, a);
	check(uio_event_count(a) - a0 == (uint64_t)n, "%s's uio event count grew by exactly %ld (%" PRIu64 ")",
	      a, n, uio_event_count(a) - a0);
	check(uio_event_count(b) == b0, "%s (same INTx line) counted none of them: IRQ_NONE", b);
	check(!irq_within(pb, 0), "%s's fd is not readable", b);

	/* Masked until irqcontrol: an event raised after ack but before unmask waits. */
	ukd_reg_write32(bar_a, EDU_RAISE, 0x1aa);
	check(irq_within(pa, 2000) && ukd_pci_irq_take(pa) == 1, "interrupt for 0x1aa");
	ukd_reg_write32(bar_a, EDU_ACK, 0x1aa);
	ukd_reg_write32(bar_a, EDU_RAISE, 0x1bb);
	check(!irq_within(pa, 300), "0x1bb raised while masked: no interrupt for 300 ms");
	check(ukd_pci_irq_unmask(pa) == 0, "irqcontrol write of 1");
	check(irq_within(pa, 2000) && ukd_pci_irq_take(pa) == 1, "... then exactly one interrupt");
	check(ukd_reg_read32(bar_a, EDU_STATUS) == 0x1bb, "status 0x1bb");
	ukd_reg_write32(bar_a, EDU_ACK, 0x1bb);
	check(ukd_pci_irq_unmask(pa) == 0, "unmask again");
	check(!irq_within(pa, 100), "nothing pending after ack");
	/* Both at once: each function counts its own. */
	a0 = uio_event_count(a);
	b0 = uio_event_count(b);
	ukd_reg_write32(bar_a, EDU_RAISE, 0x101);
	ukd_reg_write32(bar_b, EDU_RAISE, 0x102);
	check(irq_within(pa, 2000) && irq_within(pb, 2000), "both functions interrupt");
	check(uio_event_count(a) - a0 == 1 && uio_event_count(b) - b0 == 1, "one each, not two");
	ukd_reg_write32(bar_a, EDU_ACK, 0x101);
	ukd_reg_write32(bar_b, EDU_ACK, 0x102);
	(void)ukd_pci_irq_take(pa);
	(void)ukd_pci_irq_take(pb);
	check(ukd_pci_irq_unmask(pa) == 0 && ukd_pci_irq_unmask(pb) == 0, "unmask both");
	return fails ? 1 : 0;
}

/* edu.rst, "DMA controller": source, destination, count, then the command;
 * bit 0 of the command clears when the transfer is done. */
static bool edu_dma(volatile void *bar, uint64_t src, uint64_t dst, uint64_t count, uint64_t dir)
{
	ukd_reg_write64(bar, EDU_DMA_SRC, src);
	ukd_reg_write64(bar, EDU_DMA_DST, dst);
	ukd_reg_write64(bar, EDU_DMA_CNT, count);
	ukd_reg_write64(bar, EDU_DMA_CMD, EDU_DMA_START | dir);
	for (int i = 0; i < 2000; i++) {
		if (!(ukd_reg_read64(bar, EDU_DMA_CMD) & EDU_DMA_START))
			return true;
		usleep(1000);
	}
	return false;
}

static int dma(const char *addr)
{
	_cleanup_(ukd_pci_closep) struct ukd_pci *p = NULL;
	const uint64_t iova = 0x100000;
	long page = sysconf(_SC_PAGESIZE);
	volatile void *bar;
	uint8_t *buf;
	size_t size;
	int r;

	r = ukd_pci_open(&p, addr, UKD_PCI_VFIO, UKD_PCI_IRQ_MSI);
	check(r == 0, "open %s over vfio (MSI): %s", addr, strerror(-r));
	if (r)
		return 1;
	check(ukd_pci_map_bar(p, 0, &bar, &size) == 0 && size == 0x100000, "BAR0 is 1 MiB");
	check(ukd_reg_read32(bar, EDU_ID) == 0x010000ed, "edu id 0x010000ed");
	buf = mmap(NULL, (size_t)page, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (buf == MAP_FAILED)
		return 1;
	for (long i = 0; i < 2048; i++)
		buf[i] = (uint8_t)(i * 7 + 3);
	memset(buf + 2048, 0, 2048);
	check(ukd_pci_dma_map(p, buf, (size_t)page, iova) == 0, "map a page at IOVA 0x%" PRIx64, iova);
	check(ukd_pci_dma_map(p, buf + 1, (size_t)page, iova) == -EINVAL, "unaligned vaddr: EINVAL");
	check(edu_dma(bar, iova, EDU_DMA_BUF, 2048, 0), "DMA RAM -> edu done");
	check(edu_dma(bar, EDU_DMA_BUF, iova + 2048, 2048, EDU_DMA_TO_RAM), "DMA edu -> RAM done");
	check(memcmp(buf, buf + 2048, 2048) == 0, "2048 bytes RAM -> edu -> RAM compare equal");
	check(ukd_pci_dma_unmap(p, iova, (size_t)page) == 0, "unmap");
	check(ukd_pci_dma_unmap(p, iova, (size_t)page) == -ENOENT, "unmap again: ENOENT");
	/* Unmapped now: the device's write must fault in the IOMMU, not land. */
	memset(buf + 2048, 0x5a, 2048);
	(void)edu_dma(bar, EDU_DMA_BUF, iova + 2048, 2048, EDU_DMA_TO_RAM);
	bool untouched = true;
	for (int i = 2048; i < 4096; i++)
		untouched &= buf[i] == 0x5a;
	check(untouched, "DMA to the unmapped IOVA left the buffer untouched");
	munmap(buf, (size_t)page);
	return fails ? 1 : 0;
}

static int raise_raw(const char *addr, uint32_t value)
{
	_cleanup_(ukd_pci_closep) struct ukd_pci *p = NULL;
	volatile void *bar;
	size_t size;
	int i;

	if (ukd_pci_open(&p, addr, UKD_PCI_UIO, UKD_PCI_IRQ_INTX) < 0 ||
	    ukd_pci_map_bar(p, 0, &bar, &size) < 0)
		return 1;
	ukd_reg_write32(bar, EDU_RAISE, value);
	for (i = 0; i < 5000 && ukd_reg_read32(bar, EDU_STATUS); i++)
		usleep(1000);
	check(i < 5000, "0x%x raised on %s and acknowledged", value, addr);
	return fails ? 1 : 0;
}

/* As many interrupts as the driver takes: the next raise as soon as STATUS
 * reads 0. While the driver does not acknowledge (it paused the card), the
 * loop just waits; the time is spent here, yielding, not in the driver. */
static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static int storm(const char *addr, uint32_t value, long ms)
{
	_cleanup_(ukd_pci_closep) struct ukd_pci *p = NULL;
	volatile void *bar;
	size_t size;
	uint64_t t0, end, raised = 0;

	if (ms <= 0 || ukd_pci_open(&p, addr, UKD_PCI_UIO, UKD_PCI_IRQ_INTX) < 0 ||
	    ukd_pci_map_bar(p, 0, &bar, &size) < 0)
		return 1;
	t0 = now_ns();
	end = t0 + (uint64_t)ms * 1000000u;
	while (now_ns() < end) {
		if (ukd_reg_read32(bar, EDU_STATUS) != 0) {
			sched_yield();
			continue;
		}
		ukd_reg_write32(bar, EDU_RAISE, value);
		raised++;
	}
	printf("raised 0x%x %" PRIu64 " times in %ld ms: %" PRIu64 "/s\n", value, raised, ms,
	       raised * 1000 / (uint64_t)ms);
	return 0;
}

int main(int argc, char **argv)
{
	if (argc == 5 && !strcmp(argv[1], "stub"))
		return stub(argv[2], argv[3], strtol(argv[4], NULL, 10));
	if (argc == 3 && !strcmp(argv[1], "dma"))
		return dma(argv[2]);
	if (argc == 4 && !strcmp(argv[1], "raise"))
		return raise_raw(argv[2], (uint32_t)strtoul(argv[3], NULL, 0));
	if (argc == 5 && !strcmp(argv[1], "storm"))
		return storm(argv[2], (uint32_t)strtoul(argv[3], NULL, 0), strtol(argv[4], NULL, 10));
	fprintf(stderr, "usage: pci-check stub ADDR_A ADDR_B N | dma ADDR | raise ADDR VALUE | "
		"storm ADDR VALUE MS\n");
	return 2;
}
