// SPDX-License-Identifier: GPL-2.0
/* PCOPY_CMD_GET_INFO's reply, parsed. */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "info.h"

static void parse_hooks(struct nlattr *nest, struct module_info *in)
{
	struct nlattr *tb[PCOPY_HOOK_A_MAX + 1];
	struct nlattr *h;
	int rem;

	nla_for_each_nested(h, nest, rem) {
		struct module_hook *k;

		if (nla_type(h) != PCOPY_A_HOOK || in->nhooks == MODULE_INFO_MAX_HOOKS ||
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
	struct module_info *in = arg;

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

int module_info_get(struct pnl *p, struct module_info *in)
{
	struct nl_msg *msg = pnl_msg(p, PCOPY_CMD_GET_INFO, 0);

	memset(in, 0, sizeof(*in));
	if (!msg) {
		fprintf(stderr, "pcopy: out of memory\n");
		return -ENOMEM;
	}
	return pnl_request(p, msg, info_cb, in);
}
