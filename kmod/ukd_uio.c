// SPDX-License-Identifier: GPL-2.0
/*
 * ukd_uio - the thin UIO stub of ukd: a PCI device's BAR0 and its INTx line
 * exposed through UIO, so that the driver itself runs in userspace
 * (lib/hw-uio.c, kkeyd --pci). Today it binds QEMU's edu device (1234:11e8).
 *
 * Usage:
 *	make -C kmod KDIR=/lib/modules/$(uname -r)/build
 *	insmod kmod/ukd_uio.ko      (or modprobe ukd_uio once installed;
 *	                             udev loads it by modalias)
 *	-> /dev/uioN per bound function, /sys/class/uio/uioN/maps/map0 = BAR0
 *	read(/dev/uioN, &u32, 4)    blocks until the next interrupt, returns
 *	                            the running count (a gap = missed events)
 *	write(/dev/uioN, &one, 4)   re-enables the interrupt (irqcontrol)
 *
 * Interrupt contract: the handler claims an interrupt only when the
 * device's INTx is not already masked and edu's interrupt status register
 * (0x24) is non-zero; it then masks INTx (PCI COMMAND bit 10) and leaves
 * the status alone. Userspace reads the status, acknowledges it (0x64) and
 * writes 1 to /dev/uioN. Two functions sharing one line therefore never
 * count each other's interrupts.
 *
 * Why not uio_pci_generic: on Debian's 6.1 it has no irqcontrol and no
 * maps/ (measured), so userspace would need root access to config space.
 */
#include <linux/interrupt.h>
#include <linux/module.h>
#include <linux/pci.h>
#include <linux/spinlock.h>
#include <linux/uio_driver.h>

#define EDU_IRQ_STATUS 0x24	/* edu.rst: "interrupt status register" */

struct ukd_uio {
	struct uio_info info;
	struct pci_dev *pdev;
	void __iomem *bar0;
	spinlock_t lock;	/* COMMAND read-modify-write: handler vs irqcontrol */
};

static bool intx_masked(struct pci_dev *pdev)
{
	u16 cmd;

	pci_read_config_word(pdev, PCI_COMMAND, &cmd);
	return cmd & PCI_COMMAND_INTX_DISABLE;
}

static void intx_set_masked(struct pci_dev *pdev, bool masked)
{
	u16 cmd, want;

	pci_read_config_word(pdev, PCI_COMMAND, &cmd);
	want = masked ? cmd | PCI_COMMAND_INTX_DISABLE : cmd & ~PCI_COMMAND_INTX_DISABLE;
	if (want != cmd)
		pci_write_config_word(pdev, PCI_COMMAND, want);
}

static irqreturn_t ukd_uio_handler(int irq, struct uio_info *info)
{
	struct ukd_uio *u = info->priv;
	irqreturn_t ret = IRQ_NONE;

	spin_lock(&u->lock);
	/* A masked function cannot be driving the line; an all-ones read
	 * means the device is gone. */
	if (!intx_masked(u->pdev)) {
		u32 status = ioread32(u->bar0 + EDU_IRQ_STATUS);

		if (status && status != ~0u) {
			intx_set_masked(u->pdev, true);
			ret = IRQ_HANDLED;
		}
	}
	spin_unlock(&u->lock);
	return ret;
}

static int ukd_uio_irqcontrol(struct uio_info *info, s32 irq_on)
{
	struct ukd_uio *u = info->priv;
	unsigned long flags;

	spin_lock_irqsave(&u->lock, flags);
	intx_set_masked(u->pdev, !irq_on);
	spin_unlock_irqrestore(&u->lock, flags);
	return 0;
}

static int ukd_uio_probe(struct pci_dev *pdev, const struct pci_device_id *id)
{
	struct ukd_uio *u;
	int ret;

	ret = pcim_enable_device(pdev);
	if (ret)
		return ret;
	if (!pdev->irq)
		return dev_err_probe(&pdev->dev, -ENODEV, "no INTx line\n");
	ret = pcim_iomap_regions(pdev, BIT(0), KBUILD_MODNAME);
	if (ret)
		return ret;
	u = devm_kzalloc(&pdev->dev, sizeof(*u), GFP_KERNEL);
	if (!u)
		return -ENOMEM;
	spin_lock_init(&u->lock);
	u->pdev = pdev;
	u->bar0 = pcim_iomap_table(pdev)[0];

	u->info.name = KBUILD_MODNAME;
	u->info.version = "1";
	u->info.priv = u;
	u->info.mem[0].name = "BAR0";
	u->info.mem[0].addr = pci_resource_start(pdev, 0);
	u->info.mem[0].size = pci_resource_len(pdev, 0);
	u->info.mem[0].memtype = UIO_MEM_PHYS;
	u->info.irq = pdev->irq;
	u->info.irq_flags = IRQF_SHARED;
	u->info.handler = ukd_uio_handler;
	u->info.irqcontrol = ukd_uio_irqcontrol;

	intx_set_masked(pdev, false);
	return devm_uio_register_device(&pdev->dev, &u->info);
}

static const struct pci_device_id ukd_uio_ids[] = {
	{ PCI_DEVICE(0x1234, 0x11e8) },	/* QEMU edu */
	{ }
};
MODULE_DEVICE_TABLE(pci, ukd_uio_ids);

static struct pci_driver ukd_uio_driver = {
	.name = KBUILD_MODNAME,
	.id_table = ukd_uio_ids,
	.probe = ukd_uio_probe,
};
module_pci_driver(ukd_uio_driver);

MODULE_DESCRIPTION("ukd: BAR0 and INTx of a PCI device through UIO, driver in userspace");
MODULE_LICENSE("GPL");
