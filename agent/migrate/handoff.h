/* SPDX-License-Identifier: GPL-2.0 */
#ifndef PCOPY_AGENT_MIG_HANDOFF_H
#define PCOPY_AGENT_MIG_HANDOFF_H

/*
 * The receiving end of Firecracker's UFFD handoff: the VMM connects to our
 * Unix SOCK_STREAM socket and sends ONE message whose body is a JSON array
 * of guest memory regions
 *   {"base_host_virt_addr": N, "size": N, "offset": N, "page_size": N}
 * ("page_size_kib" is the deprecated spelling of the page size) and whose
 * SCM_RIGHTS control message carries its userfaultfd.  "offset" is the
 * region's offset in the guest memory file; migration pages are numbered
 * by file offset / page size.  The connection stays open while the VMM
 * runs.
 */
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#define HANDOFF_MAX_REGIONS	64
#define HANDOFF_MAX_BODY	(64 * 1024)

struct mig_region {
	uint64_t base;		/* host virtual address in the VMM */
	uint64_t size;		/* bytes */
	uint64_t offset;	/* in the guest memory file */
	uint64_t page_size;
};

struct mig_handoff {
	int lfd;		/* listening socket */
	char path[108];
	int conn;		/* EOF on it: the VMM went away */
	int uffd;
	pid_t pid;		/* the VMM, from SO_PEERCRED */
	struct mig_region *r;	/* ascending offset */
	unsigned int n;
	uint64_t page_size;
	uint64_t end;		/* highest offset + size */
	char json[512];		/* the body, shortened, for messages */
};

/* Bind and listen on @path (a stale socket there is replaced). */
int handoff_listen(struct mig_handoff *h, const char *path);

/*
 * Accept one VMM, receive and check its handoff.  Everything wrong is
 * refused with one line naming the problem: no message, no descriptor or
 * more than one, a descriptor that is not a userfaultfd, a body that is
 * not the JSON described above, regions that are empty, unaligned,
 * overlapping (in the VMM or in the file) or of a page size other than
 * the system's.  0 or a negative errno.
 */
int handoff_accept(struct mig_handoff *h, int timeout_ms);

/* The JSON check alone; @err gets the reason. 0 or -EINVAL/-ENOMEM. */
int handoff_parse(const char *body, size_t len, struct mig_region **r, unsigned int *n,
		  char *err, size_t elen);

/*
 * Do the regions tile file offsets [0, @size) exactly?  0, or -EINVAL with
 * the gap or excess described in @err.
 */
int handoff_check_cover(const struct mig_handoff *h, uint64_t size, char *err,
			size_t elen);

/* The page holding host address @addr: 0, or -ERANGE outside every region. */
int handoff_page_of(const struct mig_handoff *h, uint64_t addr, uint64_t *page);
/* The host address of page @page (which the cover check has vouched for). */
uint64_t handoff_addr_of(const struct mig_handoff *h, uint64_t page);

void handoff_close(struct mig_handoff *h);

#endif
