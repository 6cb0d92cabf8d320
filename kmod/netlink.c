// SPDX-License-Identifier: GPL-2.0
/*
 * The generic netlink family "pcopy": the control surface of the module.
 * The ABI is documented in uapi/pcopy.h.
 */
#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <net/genetlink.h>

#include <pcopy.h>

#include "internal.h"

/*
 * One flat attribute space for every command, validated strictly by the
 * genetlink core before any handler runs (resv_start_op is 0, so every
 * command gets strict parsing).
 */
static const struct nla_policy pcopy_policy[PCOPY_A_MAX + 1] = {
	[PCOPY_A_PAD]		 = { .type = NLA_REJECT },
	[PCOPY_A_MODULE_VERSION] = { .type = NLA_NUL_STRING,
				     .len = PCOPY_VERSION_MAXLEN },
	[PCOPY_A_ABI_VERSION]	 = { .type = NLA_U32 },
	[PCOPY_A_FEATURES]	 = NLA_POLICY_MASK(NLA_U64, __PCOPY_FEAT_ALL),
	[PCOPY_A_FEATURES_KNOWN] = NLA_POLICY_MASK(NLA_U64, __PCOPY_FEAT_ALL),
};

static struct genl_family pcopy_family;

static int pcopy_nl_get_info(struct sk_buff *skb, struct genl_info *info)
{
	struct sk_buff *msg;
	void *hdr;

	msg = genlmsg_new(NLMSG_DEFAULT_SIZE, GFP_KERNEL);
	if (!msg)
		return -ENOMEM;

	hdr = genlmsg_put_reply(msg, info, &pcopy_family, 0, PCOPY_CMD_GET_INFO);
	if (!hdr)
		goto err_size;

	if (nla_put_string(msg, PCOPY_A_MODULE_VERSION, PCOPY_MODULE_VERSION) ||
	    nla_put_u32(msg, PCOPY_A_ABI_VERSION, PCOPY_ABI_VERSION) ||
	    nla_put_u64_64bit(msg, PCOPY_A_FEATURES, pcopy_features(),
			      PCOPY_A_PAD) ||
	    nla_put_u64_64bit(msg, PCOPY_A_FEATURES_KNOWN, __PCOPY_FEAT_ALL,
			      PCOPY_A_PAD))
		goto err_size;

	genlmsg_end(msg, hdr);
	return genlmsg_reply(msg, info);

err_size:
	nlmsg_free(msg);
	return -EMSGSIZE;
}

static const struct genl_small_ops pcopy_ops[] = {
	{
		.cmd = PCOPY_CMD_GET_INFO,
		.flags = GENL_ADMIN_PERM,
		.doit = pcopy_nl_get_info,
	},
};

static struct genl_family pcopy_family __ro_after_init = {
	.name = PCOPY_GENL_NAME,
	.version = PCOPY_GENL_VERSION,
	.maxattr = PCOPY_A_MAX,
	.policy = pcopy_policy,
	.netnsok = true,
	.module = THIS_MODULE,
	.small_ops = pcopy_ops,
	.n_small_ops = ARRAY_SIZE(pcopy_ops),
};

int __init pcopy_netlink_init(void)
{
	return genl_register_family(&pcopy_family);
}

void pcopy_netlink_exit(void)
{
	genl_unregister_family(&pcopy_family);
}
