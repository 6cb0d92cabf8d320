/* SPDX-License-Identifier: GPL-2.0 */
#ifndef PCOPY_AGENT_NL_H
#define PCOPY_AGENT_NL_H

#include <netlink/attr.h>
#include <netlink/genl/genl.h>

#include <pcopy.h>

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
 * entries) before calling @cb.  Returns 0 or a negative errno; the kernel's
 * extack message, if any, is printed.
 */
int pnl_request(struct pnl *p, struct nl_msg *msg,
		int (*cb)(struct nlattr **tb, void *arg), void *arg);

extern struct nla_policy pnl_policy[PCOPY_A_MAX + 1];

#endif
