// SPDX-License-Identifier: GPL-2.0
/*
 * TCP addresses: "HOST:PORT" resolved, and listening sockets, for every
 * part that serves or connects (the migration engine, the exporter).
 */
#include <errno.h>
#include <netdb.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "net.h"

static int split_addr(const char *addr, char *host, size_t hlen, const char **port,
		      char *err, size_t elen)
{
	const char *colon = strrchr(addr, ':');
	size_t n;

	if (!colon || !colon[1]) {
		snprintf(err, elen, "'%s' is not HOST:PORT", addr);
		return -EINVAL;
	}
	n = (size_t)(colon - addr);
	if (n >= 2 && addr[0] == '[' && addr[n - 1] == ']') {
		addr++;
		n -= 2;
	}
	if (n >= hlen) {
		snprintf(err, elen, "host name in '%s' is too long", addr);
		return -EINVAL;
	}
	memcpy(host, addr, n);
	host[n] = '\0';
	*port = colon + 1;
	return 0;
}

int net_resolve(const char *addr, bool passive, struct addrinfo **res, char *err,
		size_t elen)
{
	struct addrinfo hints = {
		.ai_family = AF_UNSPEC,
		.ai_socktype = SOCK_STREAM,
		.ai_flags = AI_NUMERICSERV | (passive ? AI_PASSIVE : 0),
	};
	char host[256];
	const char *port;
	int ret;

	ret = split_addr(addr, host, sizeof(host), &port, err, elen);
	if (ret)
		return ret;
	ret = getaddrinfo(*host ? host : NULL, port, &hints, res);
	if (ret) {
		snprintf(err, elen, "%s: %s", addr, gai_strerror(ret));
		return -EINVAL;
	}
	return 0;
}

int net_listen_tcp(const char *addr, int *fd, char *err, size_t elen)
{
	struct addrinfo *res, *ai;
	int one = 1, s = -1, ret = -EADDRNOTAVAIL;

	ret = net_resolve(addr, true, &res, err, elen);
	if (ret)
		return ret;
	for (ai = res; ai; ai = ai->ai_next) {
		s = socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC, ai->ai_protocol);
		if (s < 0) {
			ret = -errno;
			continue;
		}
		setsockopt(s, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
		if (!bind(s, ai->ai_addr, ai->ai_addrlen) && !listen(s, 32))
			break;
		ret = -errno;
		close(s);
		s = -1;
	}
	freeaddrinfo(res);
	if (s < 0) {
		snprintf(err, elen, "cannot listen on %s: %s", addr, strerror(-ret));
		return ret;
	}
	*fd = s;
	return 0;
}
