/* SPDX-License-Identifier: GPL-2.0 */
#ifndef PCOPY_AGENT_MIG_NET_H
#define PCOPY_AGENT_MIG_NET_H

/*
 * Migration connections: TCP addresses, socket options, and packets
 * (proto.h) sent whole and received with their header checked before
 * the payload is read.
 */
#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "proto.h"

struct mig_conn {
	int fd;
	char name[16];		/* "control", "urgent", "bulk 3" */

	/* receive side: one reader thread */
	unsigned char *rbuf;
	size_t rcap, rhead, rtail;
	uint64_t rx_bytes;	/* relaxed atomics: read by the progress line */

	/* send side: writers hold wlock */
	pthread_mutex_t wlock;
	uint64_t tx_bytes;

	char why[192];		/* why the last mig_recv() failed */
};

/* A received packet; data stays valid until the next mig_recv(). */
struct mig_pkt {
	uint16_t type;
	uint32_t len;
	const unsigned char *data;
};

#define MIG_BIT(t)	(1u << (t))

int mig_conn_init(struct mig_conn *c, int fd, const char *name);
/* shutdown(): wakes a thread blocked on the connection, keeps the fd. */
void mig_conn_shutdown(struct mig_conn *c);
void mig_conn_close(struct mig_conn *c);

/*
 * Send one packet, header + @a + @b, whole (the writer lock is held across
 * it).  0 or a negative errno; a peer that went away is -EPIPE.
 */
int mig_send(struct mig_conn *c, uint16_t type, const void *a, size_t alen,
	     const void *b, size_t blen);
/* An ERROR packet (enum mig_error_flags, text). */
int mig_send_error(struct mig_conn *c, uint32_t flags, const char *text);
/*
 * The same on the way out of a failure: only if the connection can take
 * it now (never blocks; skipped if another thread is mid-packet).
 */
void mig_send_error_nowait(struct mig_conn *c, uint32_t flags, const char *text);
/* Send bytes holding whole packets built with mig_put_hdr(). */
int mig_send_buf(struct mig_conn *c, const void *buf, size_t len);
/* Write a packet header at @buf; returns its size. */
size_t mig_put_hdr(void *buf, uint16_t type, uint32_t len);

/*
 * Receive the next packet.  Its header is checked first: a type in the
 * @allowed mask (MIG_BIT(type)...), flags 0, a length within the type's
 * bounds; only then is the payload read.  @timeout_ms < 0 waits forever.
 * Returns 0; -EPIPE at a clean end of stream (between packets);
 * -ECONNRESET for a stream that ends inside a packet or is reset;
 * -ETIMEDOUT; -EPROTO for a packet refused; each with c->why set.
 */
int mig_recv(struct mig_conn *c, uint32_t allowed, struct mig_pkt *p, int timeout_ms);

const char *mig_type_name(unsigned int type);

/* A received ERROR packet's text, made printable, in @buf; returns its flags. */
uint32_t mig_error_text(const struct mig_pkt *p, char *buf, size_t len);

/*
 * "HOST:PORT" ("[v6]:PORT"; an empty HOST listens on every address).
 * Errors are described in @err.
 */
int mig_listen_tcp(const char *addr, int *fd, char *err, size_t len);
/* Retries refused connections until @timeout_ms has passed. */
int mig_connect_tcp(const char *addr, int timeout_ms, int *fd, char *err, size_t len);
/* 0 and *fd, -ETIMEDOUT, or another negative errno. */
int mig_accept(int lfd, int timeout_ms, int *fd);
/* Socket options for a connection of kind @kind (enum mig_chan_kind). */
/*
 * Traffic marks (Documentation/migration.rst, "Marking"): control and
 * urgent connections carry what a blocked vCPU waits for, bulk ones the
 * background stream.  The DSCP goes in the IP header for switches and
 * routers, the socket priority picks the band of a priority qdisc on the
 * host; 6 is the highest a socket may take without CAP_NET_ADMIN.
 */
#define MIG_DSCP_URGENT		46	/* EF, expedited forwarding */
#define MIG_DSCP_BULK		8	/* CS1, lower effort */
#define MIG_PRIO_URGENT		6	/* TC_PRIO_INTERACTIVE */
#define MIG_PRIO_BULK		2	/* TC_PRIO_BULK */

void mig_tune(int fd, int kind);

#endif
