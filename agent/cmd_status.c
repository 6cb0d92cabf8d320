// SPDX-License-Identifier: GPL-2.0
/* pcopy status: what the module reports about itself. */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <string.h>

#include <json-c/json.h>

#include "agent.h"
#include "observe/info.h"
#include "observe/nl.h"

static const char * const feature_names[] = {
	"uffd_hook", "kvm", "dirty_ring_hook", "vcpu_map", "dirty_reset_hook",
	"missed_hook", "wake_hook", "exec_hook", "auto_hook",
	"fork_hook",
};

_Static_assert(((1u << (sizeof(feature_names) / sizeof(feature_names[0]))) - 1) ==
	       __PCOPY_FEAT_ALL, "feature_names out of date");

int cmd_status(int argc, char **argv, const struct opts *go)
{
	struct opts so = *go;
	const struct opts *o = &so;
	struct module_info in = { 0 };
	struct pnl p;
	unsigned int i;
	int ret;

	if (cmd_opts(argc, argv, &so, "") != argc)
		usage_error("status takes no arguments");

	ret = pnl_open(&p);
	if (ret)
		return ret;
	ret = module_info_get(&p, &in);
	if (ret) {
		fprintf(stderr, "pcopy: status: %s\n", strerror(-ret));
		goto out;
	}

	if (o->json) {
		struct json_object *root = json_object_new_object();
		struct json_object *feats = json_object_new_object();
		struct json_object *hooks;

		json_object_object_add(root, "module_version",
				       json_object_new_string(in.version));
		json_object_object_add(root, "abi_version",
				       json_object_new_int64(in.abi));
		json_object_object_add(root, "agent_abi_version",
				       json_object_new_int64(PCOPY_ABI_VERSION));
		json_object_object_add(root, "features_mask",
				       json_object_new_uint64(in.features));
		for (i = 0; i < sizeof(feature_names) / sizeof(feature_names[0]); i++)
			json_object_object_add(feats, feature_names[i],
				json_object_new_boolean(!!(in.features & (1ull << i))));
		json_object_object_add(root, "features", feats);
		json_object_object_add(root, "uffd_maxactive",
				       json_object_new_int64(in.maxactive));
		json_object_object_add(root, "faults_missed",
				       json_object_new_uint64(in.uffd_missed));
		json_object_object_add(root, "probe_missed",
				       json_object_new_uint64(in.probe_missed));
		if (in.has_auto) {
			struct json_object *a = json_object_new_object();

			json_object_object_add(a, "on", json_object_new_boolean(in.auto_on));
			json_object_object_add(a, "comm", in.auto_comm[0] ?
					       json_object_new_string(in.auto_comm) : NULL);
			json_object_object_add(a, "cgroup_id", in.auto_cgroup ?
					       json_object_new_uint64(in.auto_cgroup) : NULL);
			json_object_object_add(a, "max", json_object_new_int64(in.auto_max));
			json_object_object_add(a, "created", json_object_new_uint64(in.auto_created));
			json_object_object_add(a, "filtered", json_object_new_uint64(in.auto_filtered));
			json_object_object_add(a, "capped", json_object_new_uint64(in.auto_capped));
			json_object_object_add(a, "no_slot", json_object_new_uint64(in.auto_no_slot));
			json_object_object_add(a, "follow_forks", json_object_new_boolean(in.auto_follow));
			json_object_object_add(root, "forks_followed", json_object_new_uint64(in.forks));
			json_object_object_add(root, "forks_lost", json_object_new_uint64(in.forks_lost));
			json_object_object_add(root, "auto", a);
		}
		if (in.has_ended) {
			struct json_object *e = json_object_new_object();

			json_object_object_add(e, "max", json_object_new_int64(in.ended_max));
			json_object_object_add(e, "secs", json_object_new_int64(in.ended_secs));
			json_object_object_add(e, "kept", json_object_new_int64(in.ended_count));
			json_object_object_add(root, "ended_sessions", e);
		}
		hooks = json_object_new_array();
		for (i = 0; i < in.nhooks; i++) {
			struct json_object *h = json_object_new_object();

			json_object_object_add(h, "name",
					       json_object_new_string(in.hooks[i].name));
			json_object_object_add(h, "attached",
					       json_object_new_boolean(!in.hooks[i].err));
			if (in.hooks[i].err) {
				json_object_object_add(h, "error",
						       json_object_new_int(in.hooks[i].err));
				json_object_object_add(h, "reason",
						       json_object_new_string(in.hooks[i].reason));
			}
			json_object_array_add(hooks, h);
		}
		json_object_object_add(root, "hooks", hooks);
		print_json(root);
		json_object_put(root);
	} else {
		printf("module version: %s\n", in.version);
		printf("ABI version:    %u (agent %u)\n", in.abi, PCOPY_ABI_VERSION);
		printf("features:       %#llx\n", (unsigned long long)in.features);
		for (i = 0; i < sizeof(feature_names) / sizeof(feature_names[0]); i++)
			printf("  %-16s %s\n", feature_names[i],
			       in.features & (1ull << i) ? "yes" : "no");
		printf("faults timed at once: %u\n", in.maxactive);
		printf("faults missed:  %llu (all timing slots busy), %llu probe hits skipped\n",
		       (unsigned long long)in.uffd_missed,
		       (unsigned long long)in.probe_missed);
		if (in.has_auto) {
			printf("auto-attach:    %s", in.auto_on ? "on" : "off");
			if (in.auto_on) {
				printf(" (");
				if (in.auto_comm[0])
					printf("command %s, ", in.auto_comm);
				if (in.auto_cgroup)
					printf("cgroup id %llu, ", (unsigned long long)in.auto_cgroup);
				printf("at most %u sessions%s)", in.auto_max,
				       in.auto_follow ? ", following forks" : "");
			}
			printf("; %llu sessions created, %llu processes filtered out",
			       (unsigned long long)in.auto_created,
			       (unsigned long long)in.auto_filtered);
			if (in.auto_capped)
				printf(", %llu REFUSED AT THE CAP", (unsigned long long)in.auto_capped);
			if (in.auto_no_slot)
				printf(", %llu registrations not seen (too many at once)",
				       (unsigned long long)in.auto_no_slot);
			printf("\n");
			printf("forks followed: %llu (%llu could not be)\n",
			       (unsigned long long)in.forks, (unsigned long long)in.forks_lost);
		}
		if (in.has_ended) {
			printf("ended sessions: %u kept (the last %u", in.ended_count, in.ended_max);
			if (in.ended_secs)
				printf(", for %u s", in.ended_secs);
			printf("; module parameters ended_max, ended_secs)\n");
		}
		for (i = 0; i < in.nhooks; i++) {
			if (in.hooks[i].err)
				printf("  hook %-28s not attached: %s (%s)\n",
				       in.hooks[i].name, in.hooks[i].reason,
				       strerror(-in.hooks[i].err));
			else
				printf("  hook %-28s attached\n", in.hooks[i].name);
		}
		if (in.known & ~(uint64_t)__PCOPY_FEAT_ALL)
			printf("  (the module knows features %#llx this agent does not)\n",
			       (unsigned long long)(in.known & ~(uint64_t)__PCOPY_FEAT_ALL));
	}
	if (in.abi < PCOPY_ABI_VERSION)
		fprintf(stderr, "pcopy: warning: the module's ABI %u is older than the agent's %u\n",
			in.abi, PCOPY_ABI_VERSION);
out:
	pnl_close(&p);
	return ret;
}
