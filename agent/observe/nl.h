/* SPDX-License-Identifier: GPL-2.0 */
#ifndef PCOPY_AGENT_NL_H
#define PCOPY_AGENT_NL_H

#include <netlink/attr.h>
#include <netlink/genl/genl.h>

#include <pcopy.h>

#include "common/defs.h"

PCOPY_PUBLIC_BEGIN

/* A connection to the pcopy generic netlink family. */
struct pnl {
	struct nl_sock *sk;
	int family;
};

/*
 * Connect and resolve the family.  On failure prints one line naming the
 * cause (module not loaded, no permission, ...) and returns a negative errno.
 */
int pnl_open(struct pnl *p);
void pnl_close(struct pnl *p);

/* A new request for @cmd; NULL on allocation failure. */
struct nl_msg *pnl_msg(struct pnl *p, uint8_t cmd, int flags);

/*
 * Send @msg (consumed) and parse each reply into @tb (PCOPY_A_MAX + 1
 * entries, validated by pnl_policy) before calling @cb: once for a "do"
 * request that has a reply, once per object for a dump (pnl_msg() with
 * NLM_F_DUMP).  A negative return from @cb stops the request and is
 * returned.  Returns 0 once the request is acknowledged (do) or the dump
 * is complete (NLMSG_DONE), else a negative errno: the kernel's, -EAGAIN
 * for a dump interrupted by a concurrent change, -EPROTO for a reply that
 * fails pnl_policy, -EIO for a transport failure.  The kernel's extack
 * message and transport failures are printed here; the caller prints the
 * error itself, naming the object.
 */
int pnl_request(struct pnl *p, struct nl_msg *msg,
		int (*cb)(struct nlattr **tb, void *arg), void *arg);

extern PCOPY_PART_ONLY struct nla_policy pnl_policy[PCOPY_A_MAX + 1];

/* Policy entries: a fixed-size attribute must have exactly its size. */
#define PNL_POLICY_U32 { .type = NLA_U32, .maxlen = sizeof(uint32_t) }
#define PNL_POLICY_U64 { .type = NLA_U64, .maxlen = sizeof(uint64_t) }

PCOPY_PUBLIC_END

#endif
