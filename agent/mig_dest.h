/* SPDX-License-Identifier: GPL-2.0 */
#ifndef PCOPY_AGENT_MIG_DEST_H
#define PCOPY_AGENT_MIG_DEST_H

/*
 * The destination side of a migration (`pcopy recv`): takes the
 * destination VMM's userfaultfd (Firecracker's UFFD handoff), receives
 * precopied pages into a local buffer, imports the device state and
 * resumes the VM as soon as it has arrived, then serves its faults while
 * the rest streams in.  Documentation/migration.rst describes it.
 */
#include <stdbool.h>
#include <stdint.h>

#define RECV_DEFAULT_TIMEOUT_S	120

struct recv_opts {
	const char *listen;		/* ADDR:PORT */
	const char *uffd_sock;		/* the handoff socket */
	const char *vmm_control;	/* import + resume here */
	const char *mem_out;		/* every placed page, as received */
	bool no_ring;			/* faults from the uffd even with pcopy.ko */
	uint64_t timeout_ns;		/* for the VMM and the source to connect */
	bool json;
};

/* Run the migration; 0 on success, else a negative errno (reported). */
int dest_run(const struct recv_opts *o);

#endif
