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
	"missed_hook", "wake_hook", "exec_hook",
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
	if (tb[PCOPY_A_HOOKS])
		parse_hooks(tb[PCOPY_A_HOOKS], in);
	return 0;
}

int cmd_status(int argc, char **argv, const struct opts *o)
{
	struct info in = { 0 };
	struct nl_msg *msg;
	struct pnl p;
	unsigned int i;
	int ret;

	(void)argv;
	if (argc > 1)
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
