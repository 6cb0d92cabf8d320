/* SPDX-License-Identifier: GPL-2.0 */
#ifndef PCOPY_AGENT_COMMON_NET_H
#define PCOPY_AGENT_COMMON_NET_H

#include <stdbool.h>
#include <stddef.h>

#include "defs.h"

PCOPY_PUBLIC_BEGIN

struct addrinfo;

/*
 * Resolve "HOST:PORT" ("[v6]:PORT"; an empty HOST with @passive: every
 * address) for a TCP socket: 0 and *@res (freeaddrinfo() it), or -EINVAL
 * with the reason in @err.
 */
int net_resolve(const char *addr, bool passive, struct addrinfo **res, char *err,
		size_t elen);

/* A socket listening on @addr (SO_REUSEADDR, backlog 32), close-on-exec. */
int net_listen_tcp(const char *addr, int *fd, char *err, size_t elen);

PCOPY_PUBLIC_END

#endif
