// SPDX-License-Identifier: GPL-2.0
/* The destination engine (dest.h): connections: accepting them and their handshakes. */
#include <endian.h>
#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "common/defs.h"
#include "dest.h"
#include "util.h"

static int refuse(struct mig_conn *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static int refuse(struct mig_conn *c, const char *fmt, ...)
{
	char text[MIG_MAX_ERROR];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(text, sizeof(text), fmt, ap);
	va_end(ap);
	/* nothing was resumed: the handshake is not over */
	mig_send_error(c, MIG_ERR_NOT_RESUMED, text);
	fprintf(stderr, "pcopy: recv: %s: %s\n", c->name, text);
	return -EPROTO;
}

/* Accept a connection and its HELLO.  The caller checks kind and index. */
static int accept_hello(struct dest *d, struct mig_conn *c, struct mig_hello *h, uint64_t deadline)
{
	struct mig_pkt pkt;
	uint64_t now = mig_now_ns();
	int fd, ret;

	memset(c, 0, sizeof(*c));
	c->fd = -1;
	ret = mig_accept(d->lfd, now < deadline ? (int)((deadline - now) / NSEC_PER_MSEC) + 1 : 0,
			 &fd);
	if (ret) {
		fprintf(stderr, "pcopy: recv: %s on %s\n", ret == -ETIMEDOUT ?
			"the source did not connect in time" : strerror(-ret), d->o->listen);
		return ret;
	}
	ret = mig_conn_init(c, fd, "connection");
	if (ret) {
		close(fd);
		return ret;
	}
	ret = mig_recv(c, MIG_BIT(MIG_T_HELLO), &pkt, HANDSHAKE_MS);
	if (ret) {
		if (ret == -EPROTO)
			refuse(c, "%s (is this pcopy send?)", c->why);
		else
			fprintf(stderr, "pcopy: recv: a new connection: %s\n", c->why);
		return ret;
	}
	memcpy(h, pkt.data, sizeof(*h));
	if (memcmp(h->magic, MIG_MAGIC, sizeof(h->magic)))
		return refuse(c, "not a pcopy migration (bad magic)");
	if (le16toh(h->version) != MIG_VERSION)
		return refuse(c, "protocol version %u is not supported (this pcopy speaks version %d)",
			      le16toh(h->version), MIG_VERSION);
	h->kind = le16toh(h->kind);
	h->index = le16toh(h->index);
	h->nbulk = le16toh(h->nbulk);
	h->session = le64toh(h->session);
	return 0;
}

static int ack_hello(struct mig_conn *c)
{
	struct mig_hello_ack a = { .version = htole16(MIG_VERSION) };

	return mig_send(c, MIG_T_HELLO_ACK, &a, sizeof(a), NULL, 0);
}

int dst_accept_control(struct dest *d, uint64_t deadline)
{
	struct mig_setup_ack ack = { 0 };
	struct mig_hello h;
	struct mig_setup su;
	struct mig_pkt pkt;
	char err[256];
	uint64_t size;
	int ret;

	ret = accept_hello(d, &d->ctl, &h, deadline);
	d->ctl_ok = d->ctl.rcap != 0;
	if (ret)
		return ret;
	snprintf(d->ctl.name, sizeof(d->ctl.name), "control");
	mig_tune(d->ctl.fd, MIG_CHAN_CONTROL);
	if (h.kind != MIG_CHAN_CONTROL || h.index)
		return refuse(&d->ctl, "the first connection must be the control channel");
	if (!h.nbulk || h.nbulk > MIG_MAX_BULK)
		return refuse(&d->ctl, "%u bulk channels (1 to %d are accepted)", h.nbulk, MIG_MAX_BULK);
	d->session = h.session;
	d->nbulk = h.nbulk;
	ret = ack_hello(&d->ctl);
	if (!ret)
		ret = mig_recv(&d->ctl, MIG_BIT(MIG_T_SETUP), &pkt, HANDSHAKE_MS);
	if (ret) {
		fprintf(stderr, "pcopy: recv: control: %s\n", ret == -EPROTO || ret == -EPIPE ||
			ret == -ECONNRESET || ret == -ETIMEDOUT ? d->ctl.why : strerror(-ret));
		return ret;
	}
	memcpy(&su, pkt.data, sizeof(su));
	d->sflags = le32toh(su.flags);
	d->npages = le64toh(su.npages);
	d->max_rounds = le32toh(su.max_rounds);
	if (le32toh(su.page_size) != PS)
		return refuse(&d->ctl, "page size %u is not supported (only %d)", le32toh(su.page_size), PS);
	if (d->sflags & ~__MIG_SETUP_ALL || su.reserved || !d->npages ||
	    d->npages > MIG_MAX_PAGES || d->max_rounds > MIG_MAX_ROUNDS)
		return refuse(&d->ctl, "malformed SETUP (flags 0x%x, %" PRIu64 " pages, %u rounds)",
			      d->sflags, d->npages, d->max_rounds);
	size = d->npages * PS;
	if (handoff_check_cover(&d->h, size, err, sizeof(err)))
		return refuse(&d->ctl, "%s", err);
	if (d->have_vmm && !(d->sflags & MIG_SETUP_STATE))
		return refuse(&d->ctl, "the source sends no device state, so the VMM at --vmm-control cannot be resumed");

	if (d->use_ring)
		ack.flags |= MIG_ACK_RING;
	if (d->have_vmm)
		ack.flags |= MIG_ACK_VMM;
	ack.flags = htole32(ack.flags);
	ret = mig_send(&d->ctl, MIG_T_SETUP_ACK, &ack, sizeof(ack), NULL, 0);
	if (ret)
		fprintf(stderr, "pcopy: recv: control: %s\n", strerror(-ret));
	return ret;
}

int dst_accept_data(struct dest *d, uint64_t deadline)
{
	bool seen[1 + MIG_MAX_BULK] = { false };
	struct mig_conn c;
	struct mig_hello h;
	unsigned int n, slot = 0;
	int ret;

	d->nch = 1 + d->nbulk;
	for (n = 0; n < d->nch; n++) {
		ret = accept_hello(d, &c, &h, deadline);
		if (ret) {
			if (c.rcap)
				mig_conn_close(&c);
			return ret;
		}
		if (h.session != d->session)
			ret = refuse(&c, "a connection of another migration");
		else if (h.kind == MIG_CHAN_URGENT && !h.index)
			slot = 0;
		else if (h.kind == MIG_CHAN_BULK && h.index < d->nbulk)
			slot = 1 + h.index;
		else
			ret = refuse(&c, "a connection of unknown kind %u, index %u", h.kind, h.index);
		if (!ret && seen[slot])
			ret = refuse(&c, "a second connection for the same channel");
		if (ret) {
			mig_conn_close(&c);
			return ret;
		}
		seen[slot] = true;
		d->ch[slot].conn = c;
		/* a mutex is not copied: give the moved connection a fresh one */
		pthread_mutex_init(&d->ch[slot].conn.wlock, NULL);
		d->ch[slot].ok = true;
		d->ch[slot].d = d;
		d->ch[slot].kind = h.kind;
		if (slot)
			snprintf(d->ch[slot].conn.name, sizeof(d->ch[slot].conn.name), "bulk %u", slot - 1);
		else
			snprintf(d->ch[slot].conn.name, sizeof(d->ch[slot].conn.name), "urgent");
		mig_tune(d->ch[slot].conn.fd, h.kind);
		ret = ack_hello(&d->ch[slot].conn);
		if (ret) {
			fprintf(stderr, "pcopy: recv: %s: %s\n", d->ch[slot].conn.name, strerror(-ret));
			return ret;
		}
	}
	return 0;
}
