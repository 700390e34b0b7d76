/* SPDX-License-Identifier: MIT */
/*
 * lib/pci.c without hardware: address parsing, the UIO lookup on a fake
 * sysfs tree, argument checks; and kkeyd's key-card protocol
 * (daemons/kkeyd/pci-input.c) against FAKE BAR, a test double: plain
 * memory standing in for edu's BAR0. The real device is tested in the vm
 * tier (tests/vm/pci-uio.sh, pci-vfio.sh).
 */
#include <check.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "check-run.h"
#include "kkey.h"
#include "pci-input.h"
#include "pci-internal.h"

START_TEST(parse_addr)
{
	char out[UKD_PCI_ADDR_MAX] = "untouched";

	ck_assert_int_eq(ukd_pci_parse_addr("0000:00:03.0", out), 0);
	ck_assert_str_eq(out, "0000:00:03.0");
	ck_assert_int_eq(ukd_pci_parse_addr("00:1F.7", out), 0);
	ck_assert_str_eq(out, "0000:00:1f.7");
	ck_assert_int_eq(ukd_pci_parse_addr("ABCD:ff:1f.7", out), 0);
	ck_assert_str_eq(out, "abcd:ff:1f.7");
	strcpy(out, "untouched");
	const char *bad[] = { "", "0000:00:03", "0000:00:20.0", "0000:00:03.8", "0000:0g:03.0",
			      "00000:00:03.0", "0000-00:03.0", "0000:00:03.0 ", " 00:03.0",
			      "0000:00:03:0", "00:03.0.0", "0000:00:03.+" };
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		ck_assert_msg(ukd_pci_parse_addr(bad[i], out) == -EINVAL, "'%s' accepted", bad[i]);
	ck_assert_str_eq(out, "untouched");
	ck_assert_int_eq(ukd_pci_parse_addr(NULL, out), -EINVAL);
}
END_TEST

START_TEST(backend_names)
{
	enum ukd_pci_backend b;

	ck_assert_int_eq(ukd_pci_backend_from_name("vfio", &b), 0);
	ck_assert_int_eq(b, UKD_PCI_VFIO);
	ck_assert_int_eq(ukd_pci_backend_from_name("uio", &b), 0);
	ck_assert_int_eq(b, UKD_PCI_UIO);
	ck_assert_int_eq(ukd_pci_backend_from_name("UIO", &b), -EINVAL);
	ck_assert_str_eq(ukd_pci_backend_name(UKD_PCI_VFIO), "vfio");
}
END_TEST

START_TEST(open_checks_arguments)
{
	struct ukd_pci *p = (void *)1;

	ck_assert_int_eq(ukd_pci_open(&p, "0000:00:03.0", UKD_PCI_UIO, UKD_PCI_IRQ_MSI), -EINVAL);
	ck_assert_int_eq(ukd_pci_open(&p, "nonsense", UKD_PCI_UIO, UKD_PCI_IRQ_INTX), -EINVAL);
	ck_assert_int_eq(ukd_pci_open(&p, "0000:00:03.0", 7, UKD_PCI_IRQ_INTX), -EINVAL);
	/* A function that does not exist (bus ff, device 1f, function 7). */
	ck_assert_int_eq(ukd_pci_open(&p, "ffff:ff:1f.7", UKD_PCI_UIO, UKD_PCI_IRQ_INTX), -ENODEV);
	ck_assert_int_eq(ukd_pci_open(&p, "ffff:ff:1f.7", UKD_PCI_VFIO, UKD_PCI_IRQ_MSI), -ENODEV);
	ck_assert_ptr_eq(p, (void *)1);
	ukd_pci_close(NULL);
}
END_TEST

/* A FAKE sysfs tree (test double) with one function at 0000:00:03.0. */
static char root[64];

static void mk(const char *rel)
{
	char path[256];

	snprintf(path, sizeof(path), "%s/%s", root, rel);
	ck_assert_int_eq(mkdir(path, 0755), 0);
}

static void driver_link(const char *drv)
{
	char path[256], target[128];

	snprintf(path, sizeof(path), "%s/bus/pci/devices/0000:00:03.0/driver", root);
	unlink(path);
	if (!drv)
		return;
	snprintf(target, sizeof(target), "../../../bus/pci/drivers/%s", drv);
	ck_assert_int_eq(symlink(target, path), 0);
}

START_TEST(uio_find_on_fake_sysfs)
{
	char cmd[128];

	strcpy(root, "/tmp/ukd-test-pci-XXXXXX");
	ck_assert_ptr_nonnull(mkdtemp(root));
	mk("bus");
	mk("bus/pci");
	mk("bus/pci/devices");
	ck_assert_int_eq(ukd_hw_uio_find(root, "0000:00:03.0"), -ENODEV);
	mk("bus/pci/devices/0000:00:03.0");
	ck_assert_int_eq(ukd_hw_uio_find(root, "0000:00:03.0"), -ENXIO);   /* no driver */
	driver_link("uio_pci_generic");
	ck_assert_int_eq(ukd_hw_uio_find(root, "0000:00:03.0"), -ENXIO);   /* another driver */
	driver_link("ukd_uio");
	ck_assert_int_eq(ukd_hw_uio_find(root, "0000:00:03.0"), -ENOENT);  /* no uio child yet */
	mk("bus/pci/devices/0000:00:03.0/uio");
	mk("bus/pci/devices/0000:00:03.0/uio/uiox");
	ck_assert_int_eq(ukd_hw_uio_find(root, "0000:00:03.0"), -ENOENT);
	mk("bus/pci/devices/0000:00:03.0/uio/uio12");
	ck_assert_int_eq(ukd_hw_uio_find(root, "0000:00:03.0"), 12);
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", root);
	ck_assert_int_eq(system(cmd), 0);
}
END_TEST

START_TEST(register_helpers)
{
	/* FAKE BAR: plain memory in place of MMIO. */
	static uint64_t bar[16];
	volatile void *b = bar;

	ukd_reg_write32(b, 0x24, 0x1ff);
	ck_assert_uint_eq(ukd_reg_read32(b, 0x24), 0x1ff);
	ck_assert_uint_eq(((uint32_t *)bar)[9], 0x1ff);
	ukd_reg_write64(b, 0x40, 0x0123456789abcdefull);
	ck_assert_uint_eq(ukd_reg_read64(b, 0x40), 0x0123456789abcdefull);
	ck_assert_uint_eq(ukd_reg_read32(b, 0x40), 0x89abcdef);
}
END_TEST

START_TEST(decode)
{
	struct kkey_event ev = { .note = 99 };

	ck_assert_int_eq(kcard_decode(0, &ev), -ENODATA);
	ck_assert_int_eq(kcard_decode(0xffffffff, &ev), -ENODEV);
	ck_assert_int_eq(kcard_decode(0x0ff, &ev), -EINVAL);   /* bit 8 clear */
	ck_assert_int_eq(kcard_decode(0x200, &ev), -EINVAL);   /* bit outside 0x1ff */
	ck_assert_int_eq(kcard_decode(0x1000100, &ev), -EINVAL);
	ck_assert_uint_eq(ev.note, 99);                        /* untouched on error */
	ck_assert_int_eq(kcard_decode(0x100, &ev), 0);         /* release of note 0 */
	ck_assert_uint_eq(ev.note, 0);
	ck_assert(!ev.on);
	ck_assert_int_eq(kcard_decode(0x1ff, &ev), 0);
	ck_assert_uint_eq(ev.note, 127);
	ck_assert(ev.on);
	ck_assert_uint_eq(kcard_event_value(60, true), 0x1bc);
	ck_assert_uint_eq(kcard_event_value(0, false), 0x100);
}
END_TEST

START_TEST(service_on_fake_bar)
{
	/* FAKE BAR (test double): edu's registers as plain memory. The real edu
	 * clears acked bits; here the ack register just keeps what was written. */
	static uint32_t bar[0x68 / 4];
	struct kkey_config cfg;
	struct kkey *k;
	struct pci_card *c;
	struct ukd_recording snap;
	const struct pci_card_stats *st;

	kkey_config_default(&cfg);
	ck_assert_int_eq(kkey_new(&k, &cfg), 0);
	ck_assert_int_eq(pci_card_new_detached(&c, k), 0);
	st = pci_card_stats(c);

	bar[KCARD_REG_STATUS / 4] = 0x1bc;                      /* press 60 */
	ck_assert_int_eq(pci_card_service(c, bar), 0);
	ck_assert_uint_eq(bar[KCARD_REG_ACK / 4], 0x1bc);       /* acked with the same value */
	bar[KCARD_REG_STATUS / 4] = 0x13c;                      /* release 60 */
	ck_assert_int_eq(pci_card_service(c, bar), 0);
	bar[KCARD_REG_ACK / 4] = 0;
	bar[KCARD_REG_STATUS / 4] = 0;                          /* not ours */
	ck_assert_int_eq(pci_card_service(c, bar), -ENODATA);
	ck_assert_uint_eq(bar[KCARD_REG_ACK / 4], 0);           /* nothing acked */
	bar[KCARD_REG_STATUS / 4] = 0x2bc;                      /* unknown */
	ck_assert_int_eq(pci_card_service(c, bar), -EINVAL);
	ck_assert_uint_eq(bar[KCARD_REG_ACK / 4], 0x2bc);       /* cleared anyway */
	bar[KCARD_REG_ACK / 4] = 0;
	bar[KCARD_REG_STATUS / 4] = 0xffffffff;                 /* gone */
	ck_assert_int_eq(pci_card_service(c, bar), -ENODEV);
	ck_assert_uint_eq(bar[KCARD_REG_ACK / 4], 0);           /* never write to a dead card */

	ck_assert_uint_eq(st->events, 2);
	ck_assert_uint_eq(st->spurious, 1);
	ck_assert_uint_eq(st->unknown, 1);
	ck_assert_int_eq(ukd_recorder_snapshot(k->rec, &snap, true, ukd_now_ns()), 0);
	ck_assert_uint_eq(snap.n_events, 2);
	ck_assert_uint_eq(snap.events[0].note, 60);
	ck_assert_uint_eq(snap.events[0].on, 1);
	ck_assert_uint_eq(snap.events[0].velocity, cfg.velocity);
	ck_assert_uint_eq(snap.events[1].note, 60);
	ck_assert_uint_eq(snap.events[1].on, 0);
	ukd_recording_clear(&snap);
	pci_card_free(c);
	kkey_free(k);
}
END_TEST

static Suite *suite(void)
{
	Suite *s = suite_create("pci");
	TCase *tc = tcase_create("pci");

	tcase_add_test(tc, parse_addr);
	tcase_add_test(tc, backend_names);
	tcase_add_test(tc, open_checks_arguments);
	tcase_add_test(tc, uio_find_on_fake_sysfs);
	tcase_add_test(tc, register_helpers);
	tcase_add_test(tc, decode);
	tcase_add_test(tc, service_on_fake_bar);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	return ukd_check_run(suite());
}
