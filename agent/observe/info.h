/* SPDX-License-Identifier: GPL-2.0 */
#ifndef PCOPY_AGENT_INFO_H
#define PCOPY_AGENT_INFO_H

/* PCOPY_CMD_GET_INFO: what the module says about itself (pcopy status, the exporter). */
#include <stdbool.h>
#include <stdint.h>

#include "nl.h"

#include "common/defs.h"

PCOPY_PUBLIC_BEGIN

#define MODULE_INFO_MAX_HOOKS 16

struct module_hook {
	char name[64];
	uint64_t feature;
	int err;			/* negative errno, 0: attached */
	char reason[128];
};


struct module_info {
	char version[PCOPY_VERSION_MAXLEN + 1];
	uint32_t abi;
	uint64_t features;
	uint64_t known;
	uint32_t maxactive;
	uint64_t uffd_missed;
	uint64_t probe_missed;
	bool has_auto;			/* ABI 3 */
	bool auto_on;
	char auto_comm[PCOPY_AUTO_COMM_MAXLEN + 1];
	uint64_t auto_cgroup;
	uint32_t auto_max;
	uint64_t auto_created, auto_filtered, auto_capped, auto_no_slot;
	bool auto_follow;
	uint64_t forks, forks_lost;
	bool has_ended;			/* ABI 3 */
	uint32_t ended_max, ended_secs, ended_count;
	unsigned int nhooks;
	struct module_hook hooks[MODULE_INFO_MAX_HOOKS];
};

/*
 * Ask the module over @p; 0, or a negative errno (printed: an incomplete
 * reply, the module's error).
 */
int module_info_get(struct pnl *p, struct module_info *in);

PCOPY_PUBLIC_END

#endif
