/* SPDX-License-Identifier: GPL-2.0 */
#ifndef PCOPY_AGENT_MIG_MOD_H
#define PCOPY_AGENT_MIG_MOD_H

/*
 * What a migration asks of pcopy.ko: is it loaded and what can it do,
 * track the VMM (a session), read the session's statistics.  Both ends
 * work without the module; these calls say why they cannot help instead
 * of printing, so the caller can say what it does instead.
 */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "observe/nl.h"
#include "observe/stats.h"

struct mig_mod {
	struct pnl p;
	bool open;
	uint64_t features;	/* PCOPY_FEAT_* usable now */
	uint32_t pid;		/* tracked VMM, 0 if none */
	bool created;		/* we started the session: we end it */
};

/*
 * Connect to the module's family and read its features.  0; -ENOENT when
 * the module is not loaded (no "pcopy" family); another negative errno
 * with @why filled.  Prints nothing.
 */
int mod_open(struct mig_mod *m, char *why, size_t len);

/* Track @pid; a session that already exists is used as it is. */
int mod_track(struct mig_mod *m, uint32_t pid, char *why, size_t len);

/* The tracked session's statistics (session_stats_free() them). */
int mod_stats(struct mig_mod *m, struct session_stats *s, char *why, size_t len);

/* End the session if we started it, and disconnect. */
void mod_close(struct mig_mod *m);

#endif
