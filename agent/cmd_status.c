// SPDX-License-Identifier: GPL-2.0
/* pcopy status: what the module reports about itself. */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <string.h>

#include <json-c/json.h>

#include "agent.h"
#include "observe/nl.h"

static const char * const feature_names[] = {
	"uffd_hook", "kvm", "dirty_ring_hook", "vcpu_map", "dirty_reset_hook",
	"missed_hook", "wake_hook", "exec_hook", "auto_hook",
	"fork_hook",
};

#define MAX_HOOKS 16

struct hook {
	char name[64];
	uint64_t feature;
	int err;			/* negative errno, 0: attached */
	char reason[128];
};

_Static_assert(((1u << (sizeof(feature_names) / sizeof(feature_names[0]))) - 1) ==
	       __PCOPY_FEAT_ALL, "feature_names out of date");

struct info {
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
	struct hook hooks[MAX_HOOKS];
};

static void parse_hooks(struct nlattr *nest, struct info *in)
{
	struct nlattr *tb[PCOPY_HOOK_A_MAX + 1];
	struct nlattr *h;
	int rem;

	nla_for_each_nested(h, nest, rem) {
		struct hook *k;

		if (nla_type(h) != PCOPY_A_HOOK || in->nhooks == MAX_HOOKS ||
		    nla_parse_nested(tb, PCOPY_HOOK_A_MAX, h, NULL) ||
		    !tb[PCOPY_HOOK_A_NAME])
			continue;
		k = &in->hooks[in->nhooks++];
		snprintf(k->name, sizeof(k->name), "%s",
			 nla_get_string(tb[PCOPY_HOOK_A_NAME]));
		k->feature = tb[PCOPY_HOOK_A_FEATURE] ?
			     nla_get_u64(tb[PCOPY_HOOK_A_FEATURE]) : 0;
		k->err = tb[PCOPY_HOOK_A_ERROR] ?
			 (int)nla_get_u32(tb[PCOPY_HOOK_A_ERROR]) : 0;
		snprintf(k->reason, sizeof(k->reason), "%s",
			 tb[PCOPY_HOOK_A_REASON] ?
			 nla_get_string(tb[PCOPY_HOOK_A_REASON]) : "");
	}
}

static int info_cb(struct nlattr **tb, void *arg)
{
	struct info *in = arg;

	if (!tb[PCOPY_A_MODULE_VERSION] || !tb[PCOPY_A_ABI_VERSION] ||
	    !tb[PCOPY_A_FEATURES]) {
		fprintf(stderr, "pcopy: the module's info reply is incomplete\n");
		return -EPROTO;
	}
	snprintf(in->version, sizeof(in->version), "%s",
		 nla_get_string(tb[PCOPY_A_MODULE_VERSION]));
	in->abi = nla_get_u32(tb[PCOPY_A_ABI_VERSION]);
	in->features = nla_get_u64(tb[PCOPY_A_FEATURES]);
	in->known = tb[PCOPY_A_FEATURES_KNOWN] ?
		    nla_get_u64(tb[PCOPY_A_FEATURES_KNOWN]) : in->features;
	if (tb[PCOPY_A_UFFD_MAXACTIVE])
		in->maxactive = nla_get_u32(tb[PCOPY_A_UFFD_MAXACTIVE]);
	if (tb[PCOPY_A_UFFD_MISSED])
		in->uffd_missed = nla_get_u64(tb[PCOPY_A_UFFD_MISSED]);
	if (tb[PCOPY_A_PROBE_MISSED])
		in->probe_missed = nla_get_u64(tb[PCOPY_A_PROBE_MISSED]);
	if (tb[PCOPY_A_ENDED_MAX] && tb[PCOPY_A_ENDED_SECS] && tb[PCOPY_A_ENDED_COUNT]) {
		in->has_ended = true;
		in->ended_max = nla_get_u32(tb[PCOPY_A_ENDED_MAX]);
		in->ended_secs = nla_get_u32(tb[PCOPY_A_ENDED_SECS]);
		in->ended_count = nla_get_u32(tb[PCOPY_A_ENDED_COUNT]);
	}
	if (tb[PCOPY_A_AUTO_ON] && tb[PCOPY_A_AUTO_MAX] && tb[PCOPY_A_AUTO_CREATED] &&
	    tb[PCOPY_A_AUTO_FILTERED] && tb[PCOPY_A_AUTO_CAPPED] && tb[PCOPY_A_AUTO_NO_SLOT]) {
		in->has_auto = true;
		in->auto_on = nla_get_u8(tb[PCOPY_A_AUTO_ON]);
		if (tb[PCOPY_A_AUTO_COMM])
			snprintf(in->auto_comm, sizeof(in->auto_comm), "%s",
				 nla_get_string(tb[PCOPY_A_AUTO_COMM]));
		if (tb[PCOPY_A_AUTO_CGROUP])
			in->auto_cgroup = nla_get_u64(tb[PCOPY_A_AUTO_CGROUP]);
		in->auto_max = nla_get_u32(tb[PCOPY_A_AUTO_MAX]);
		in->auto_created = nla_get_u64(tb[PCOPY_A_AUTO_CREATED]);
		in->auto_filtered = nla_get_u64(tb[PCOPY_A_AUTO_FILTERED]);
		in->auto_capped = nla_get_u64(tb[PCOPY_A_AUTO_CAPPED]);
		in->auto_no_slot = nla_get_u64(tb[PCOPY_A_AUTO_NO_SLOT]);
		in->auto_follow = !!tb[PCOPY_A_FOLLOW_FORKS];
		if (tb[PCOPY_A_AUTO_FORKS])
			in->forks = nla_get_u64(tb[PCOPY_A_AUTO_FORKS]);
		if (tb[PCOPY_A_AUTO_FORKS_LOST])
			in->forks_lost = nla_get_u64(tb[PCOPY_A_AUTO_FORKS_LOST]);
	}
	if (tb[PCOPY_A_HOOKS])
		parse_hooks(tb[PCOPY_A_HOOKS], in);
	return 0;
}

int cmd_status(int argc, char **argv, const struct opts *go)
{
	struct opts so = *go;
	const struct opts *o = &so;
	struct info in = { 0 };
	struct nl_msg *msg;
	struct pnl p;
	unsigned int i;
	int ret;

	if (cmd_opts(argc, argv, &so, "") != argc)
		usage_error("status takes no arguments");

	ret = pnl_open(&p);
	if (ret)
		return ret;
	msg = pnl_msg(&p, PCOPY_CMD_GET_INFO, 0);
	if (!msg) {
		ret = -ENOMEM;
		goto out;
	}
	ret = pnl_request(&p, msg, info_cb, &in);
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
