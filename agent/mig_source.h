/* SPDX-License-Identifier: GPL-2.0 */
#ifndef PCOPY_AGENT_MIG_SOURCE_H
#define PCOPY_AGENT_MIG_SOURCE_H

/*
 * The source side of a migration (`pcopy send`): precopy rounds driven by
 * pcopy.ko's dirty records, the switchover, and postcopy (answers to the
 * destination's requests on the urgent channel, the rest streamed on the
 * bulk channels).  Documentation/migration.rst describes it.
 */
#include <stdbool.h>
#include <stdint.h>

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
	bool json;
};

/* Run the migration; 0 on success, else a negative errno (reported). */
int source_run(const struct send_opts *o);

#endif
