/* SPDX-License-Identifier: MIT */
/* A user's program of ukd's ioctl headers, compiled by client.sh against
 * an installed tree only: it prints what it sees of the interface. */
#include <stdio.h>
#include <ukd/kkey.h>
#include <ukd/kprng.h>

int main(void)
{
	struct kkey_status st = { 0 };

	printf("KKEY_IOC_RESET=%#x sizeof(struct kkey_status)=%zu KPRNG_IOC_MAGIC=%#x\n",
	       (unsigned int)KKEY_IOC_RESET, sizeof(st), (unsigned int)KPRNG_IOC_MAGIC);
	return 0;
}
