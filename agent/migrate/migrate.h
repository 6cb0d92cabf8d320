/* SPDX-License-Identifier: GPL-2.0 */
#ifndef PCOPY_AGENT_MIGRATE_H
#define PCOPY_AGENT_MIGRATE_H

/*
 * The public face of libmigrate: what the CLI (cmd_send.c, cmd_recv.c)
 * may call.  Everything else in agent/migrate/ is hidden from the other
 * parts at link time (Documentation/architecture.rst).
 *
 * The source side (`pcopy send`): precopy rounds driven by pcopy.ko's
 * dirty records, the switchover, and postcopy (answers to the
 * destination's requests on the urgent channel, the rest streamed on the
 * bulk channels).
 *
 * The destination side (`pcopy recv`): takes the destination VMM's
 * userfaultfd (Firecracker's UFFD handoff), receives precopied pages into
 * a local buffer, imports the device state and resumes the VM as soon as
 * it has arrived, then serves its faults while the rest streams in.
 *
 * Documentation/migration.rst describes both; proto.h is the wire format.
 */
#include <stdbool.h>
#include <stdint.h>

#include "common/defs.h"
#include "proto.h"

PCOPY_PUBLIC_BEGIN

#define SEND_DEFAULT_CHANNELS	4
#define SEND_DEFAULT_ROUNDS	10
#define SEND_DEFAULT_DOWNTIME_MS 300

struct send_opts {
	const char *to;			/* HOST:PORT */
	unsigned int channels;		/* bulk channels */
	const char *vmm_control;	/* a live minivm ... */
	const char *mem_file;		/* ... or a memory file */
	const char *state_file;		/* device state to send with a file */
	unsigned int max_rounds;
	uint64_t downtime_ns;		/* the switchover target */
	bool postcopy_only;
	bool no_urgent;			/* answers on a bulk channel */
	bool no_hint;			/* no preempt hints */
	const char *record;		/* the dirty records, as by pcopy record */
	bool json;
};

/* Run the migration; 0 on success, else a negative errno (reported). */
int source_run(const struct send_opts *o);

#define RECV_DEFAULT_TIMEOUT_S	120

struct recv_opts {
	const char *listen;		/* ADDR:PORT */
	const char *uffd_sock;		/* the handoff socket */
	const char *vmm_control;	/* import + resume here */
	const char *mem_out;		/* every placed page, as received */
	bool no_ring;			/* faults from the uffd even with pcopy.ko */
	const char *record;		/* the fault records, as by pcopy record */
	uint64_t timeout_ns;		/* for the VMM and the source to connect */
	bool json;
};

/* Run the migration; 0 on success, else a negative errno (reported). */
int dest_run(const struct recv_opts *o);

PCOPY_PUBLIC_END

#endif
