// SPDX-License-Identifier: GPL-2.0
/*
 * The destination side of a migration (migrate.h).
 *
 * Threads: main (handshakes, device state import and resume, DONE,
 * progress, summary); one receiver per data connection (urgent and bulk),
 * which checks every packet whole before a byte of it reaches guest memory
 * and hands pages to the placement (place.c); the control reader
 * (rounds, switchover, the manifest, completion); the fault thread
 * (fault.c); and, once the manifest is in, the placer.
 */
#include <endian.h>
#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <json-c/json.h>

#include "common/defs.h"
#include "common/jsonb.h"
#include "migrate.h"
#include "fault.h"
#include "handoff.h"
#include "mod.h"
#include "transport.h"
#include "place.h"
#include "util.h"
#include "vmm.h"
#include "observe/stats.h"

#define PS		MIG_PAGE_SIZE
#define HANDSHAKE_MS	10000

struct chan {
	struct dest *d;
	struct mig_conn conn;
	bool ok;
	int kind;
	pthread_t thread;
	bool started;
	uint64_t pages, chunks;		/* received */
};

struct dest {
	const struct recv_opts *o;
	struct mig_handoff h;
	struct vmm vmm;			/* the VMM to import into, if any */
	bool have_vmm;
	struct mig_mod mod;
	bool mod_ok, use_ring;

	int lfd;
	uint64_t session;
	unsigned int nbulk;
	struct mig_conn ctl;
	bool ctl_ok;
	pthread_t ctl_thread;
	bool ctl_started;
	struct chan ch[1 + MIG_MAX_BULK];	/* [0] urgent, then bulk */
	unsigned int nch;

	uint32_t sflags;		/* enum mig_setup_flags */
	uint64_t npages;
	uint32_t max_rounds;

	struct place pl;
	bool pl_ok;
	struct mig_faults f;
	bool f_ok;

	pthread_mutex_t lock;
	pthread_cond_t cv;
	/* device state, under lock */
	unsigned char *state;
	uint64_t state_total, state_hash;
	uint32_t state_count, state_got;
	uint8_t *state_seen;
	bool state_ready, state_done;
	/* events, under lock */
	bool all_placed, done_sent, complete;
	unsigned int ends;

	/* the control reader's */
	uint32_t round;
	bool switched;
	uint8_t *manifest;
	uint64_t manifest_next, manifest_final, late, post_pages;
	bool manifest_done;

	bool resumed;
	bool resume_started;		/* atomic, seq_cst: RESUME may be under way */
	bool peer_failed;		/* atomic: the source sent ERROR */
	uint64_t import_ns;
	uint64_t t_start, t_connected, t_switch, t_state, t_resumed, t_done, t_end;
	struct fault_stats fst;
	struct session_stats ms;
	bool ms_ok;
	uint64_t p50, p99, pmax, nlat;

	uint64_t rate_t, rate_bytes, rate_settled;
	double bps, sps;
};

static uint64_t rx_bytes(struct dest *d)
{
	uint64_t n = 0;
	unsigned int i;

	for (i = 0; i < d->nch; i++)
		if (d->ch[i].ok)
			n += __atomic_load_n(&d->ch[i].conn.rx_bytes, __ATOMIC_RELAXED);
	return n;
}

static void on_fail(void *arg, const char *msg)
{
	struct dest *d = arg;
	unsigned int i;

	/*
	 * Tell the source why, unless it is the one that failed; and whether
	 * our VMM was resumed.  resume_started is read after mig_fail() set
	 * the failure (both seq_cst), pairing with import_resume(): either we
	 * see it set, or import_resume() sees the failure and never resumes.
	 */
	if (d->ctl_ok && !__atomic_load_n(&d->peer_failed, __ATOMIC_ACQUIRE))
		mig_send_error_nowait(&d->ctl, d->have_vmm &&
				      !__atomic_load_n(&d->resume_started, __ATOMIC_SEQ_CST) ?
				      MIG_ERR_NOT_RESUMED : 0, msg);
	if (d->ctl_ok)
		mig_conn_shutdown(&d->ctl);
	for (i = 0; i < d->nch; i++)
		if (d->ch[i].ok)
			mig_conn_shutdown(&d->ch[i].conn);
	pthread_mutex_lock(&d->lock);
	pthread_cond_broadcast(&d->cv);
	pthread_mutex_unlock(&d->lock);
}

static void all_placed(void *arg)
{
	struct dest *d = arg;

	/* the fault thread has nothing left to do; before main may stop it */
	faults_wake(&d->f);
	pthread_mutex_lock(&d->lock);
	d->all_placed = true;
	pthread_cond_broadcast(&d->cv);
	pthread_mutex_unlock(&d->lock);
}

/* ---- data connections ---- */

static int on_page(struct dest *d, struct chan *c, const struct mig_pkt *pkt)
{
	struct mig_page ph;
	uint64_t p;
	size_t want;
	bool zero;

	memcpy(&ph, pkt->data, sizeof(ph));
	p = le64toh(ph.page);
	zero = ph.flags & MIG_PAGE_ZERO;
	want = sizeof(ph) + (zero ? 0 : PS);
	if ((ph.flags & ~__MIG_PAGE_ALL) || ph.reserved || ph.reserved2) {
		mig_fail("%s: PAGE %" PRIu64 " with unknown flags 0x%x or reserved fields set",
			  c->conn.name, p, ph.flags);
		return -EPROTO;
	}
	if (p >= d->npages) {
		mig_fail("%s: page %" PRIu64 " is outside the %" PRIu64 "-page layout",
			  c->conn.name, p, d->npages);
		return -EPROTO;
	}
	if (pkt->len != want) {
		mig_fail("%s: PAGE %" PRIu64 " of %u bytes, expected %zu", c->conn.name, p,
			  pkt->len, want);
		return -EPROTO;
	}
	if (ph.round != MIG_ROUND_FINAL &&
	    (!(d->sflags & MIG_SETUP_PRECOPY) || !ph.round || ph.round > d->max_rounds)) {
		mig_fail("%s: page %" PRIu64 " of round %u, which cannot exist here",
			  c->conn.name, p, ph.round);
		return -EPROTO;
	}
	if (((ph.flags & MIG_PAGE_ANSWER) && ph.round != MIG_ROUND_FINAL) ||
	    (c->kind == MIG_CHAN_URGENT && !(ph.flags & MIG_PAGE_ANSWER))) {
		mig_fail("%s: page %" PRIu64 ": only final answers travel as answers, and only answers on the urgent channel",
			  c->conn.name, p);
		return -EPROTO;
	}
	c->pages++;
	if (ph.round == MIG_ROUND_FINAL)
		return place_final(&d->pl, p, zero ? NULL : pkt->data + sizeof(ph));
	return place_precopy(&d->pl, p, ph.round, zero ? NULL : pkt->data + sizeof(ph));
}

static int on_state(struct dest *d, struct chan *c, const struct mig_pkt *pkt)
{
	struct mig_state st;
	uint64_t total, hash, off, n;
	uint32_t seq, count;
	int ret = -EPROTO;

	memcpy(&st, pkt->data, sizeof(st));
	seq = le32toh(st.seq);
	count = le32toh(st.count);
	total = le64toh(st.total);
	hash = le64toh(st.hash);
	if (!(d->sflags & MIG_SETUP_STATE)) {
		mig_fail("%s: device state, but the source announced none", c->conn.name);
		return -EPROTO;
	}
	if (!total || total > MIG_MAX_STATE ||
	    count != (total + MIG_STATE_CHUNK - 1) / MIG_STATE_CHUNK || seq >= count) {
		mig_fail("%s: device state chunk %u of %u for %" PRIu64 " bytes: inconsistent",
			  c->conn.name, seq, count, total);
		return -EPROTO;
	}
	off = (uint64_t)seq * MIG_STATE_CHUNK;
	n = total - off < MIG_STATE_CHUNK ? total - off : MIG_STATE_CHUNK;
	if (pkt->len != sizeof(st) + n) {
		mig_fail("%s: device state chunk %u of %u bytes, expected %" PRIu64,
			  c->conn.name, seq, pkt->len, sizeof(st) + n);
		return -EPROTO;
	}
	pthread_mutex_lock(&d->lock);
	if (!d->state) {
		d->state = malloc(total);
		d->state_seen = calloc(count, 1);
		if (!d->state || !d->state_seen) {
			pthread_mutex_unlock(&d->lock);
			mig_fail("out of memory for the device state");
			return -ENOMEM;
		}
		d->state_total = total;
		d->state_count = count;
		d->state_hash = hash;
	} else if (total != d->state_total || hash != d->state_hash) {
		pthread_mutex_unlock(&d->lock);
		mig_fail("%s: device state chunk %u disagrees with the others on the size or hash",
			  c->conn.name, seq);
		return -EPROTO;
	}
	if (d->state_seen[seq]) {
		pthread_mutex_unlock(&d->lock);
		mig_fail("%s: device state chunk %u arrived twice", c->conn.name, seq);
		return -EPROTO;
	}
	memcpy(d->state + off, pkt->data + sizeof(st), n);
	d->state_seen[seq] = 1;
	if (++d->state_got == count) {
		/* reassembled in order whatever channel each chunk took */
		if (mig_hash(d->state, total) != hash) {
			pthread_mutex_unlock(&d->lock);
			mig_fail("the reassembled device state does not match its hash");
			return -EPROTO;
		}
		d->state_ready = true;
		d->t_state = mig_now_ns();
		pthread_cond_broadcast(&d->cv);
	}
	ret = 0;
	pthread_mutex_unlock(&d->lock);
	c->chunks++;
	return ret;
}

static void *chan_main(void *arg)
{
	struct chan *c = arg;
	struct dest *d = c->d;
	uint32_t allowed = MIG_BIT(MIG_T_PAGE) | MIG_BIT(MIG_T_END) |
			   (c->kind == MIG_CHAN_BULK ? MIG_BIT(MIG_T_STATE) : 0);
	struct mig_pkt pkt;
	struct mig_end e;
	int ret;

	while (!mig_failed()) {
		ret = mig_recv(&c->conn, allowed, &pkt, -1);
		if (ret) {
			if (ret == -EPIPE || ret == -ECONNRESET)
				mig_fail_lost(500, "%s: %s before its END (did pcopy send fail?)",
					      c->conn.name, c->conn.why);
			else if (!mig_failed())
				mig_fail("%s: %s", c->conn.name, c->conn.why);
			break;
		}
		if (pkt.type == MIG_T_PAGE)
			ret = on_page(d, c, &pkt);
		else if (pkt.type == MIG_T_STATE)
			ret = on_state(d, c, &pkt);
		if (ret)
			break;
		if (pkt.type != MIG_T_END)
			continue;
		memcpy(&e, pkt.data, sizeof(e));
		if (le64toh(e.pages) != c->pages || le64toh(e.chunks) != c->chunks) {
			mig_fail("%s: END counts %" PRIu64 " pages and %" PRIu64 " state chunks sent, %" PRIu64 " and %" PRIu64 " arrived",
				  c->conn.name, le64toh(e.pages), le64toh(e.chunks), c->pages,
				  c->chunks);
			break;
		}
		pthread_mutex_lock(&d->lock);
		d->ends++;
		pthread_cond_broadcast(&d->cv);
		pthread_mutex_unlock(&d->lock);
		break;
	}
	return NULL;
}

/* ---- the control connection ---- */

static int on_manifest(struct dest *d, const struct mig_pkt *pkt)
{
	struct mig_manifest m;
	uint64_t first, i;
	uint32_t count;
	const uint8_t *r = pkt->data + sizeof(m);

	memcpy(&m, pkt->data, sizeof(m));
	first = le64toh(m.first);
	count = le32toh(m.count);
	if (!d->switched || d->manifest_done || m.reserved || first != d->manifest_next ||
	    !count || count > MIG_MANIFEST_CHUNK || pkt->len != sizeof(m) + count ||
	    first + count > d->npages) {
		mig_fail("control: MANIFEST for pages %" PRIu64 "+%u out of place or malformed",
			  first, count);
		return -EPROTO;
	}
	if (!d->manifest) {
		d->manifest = calloc(d->npages, 1);
		if (!d->manifest) {
			mig_fail("out of memory for the manifest");
			return -ENOMEM;
		}
	}
	for (i = 0; i < count; i++) {
		/* a final round must be a round that ran */
		if (r[i] > d->round) {
			mig_fail("control: MANIFEST says page %" PRIu64 " is final as of round %u, but only %u rounds ran",
				  first + i, r[i], d->round);
			return -EPROTO;
		}
		d->manifest[first + i] = r[i];
		if (r[i])
			d->manifest_final++;
	}
	d->manifest_next += count;
	return 0;
}

static void *ctl_main(void *arg)
{
	struct dest *d = arg;
	const uint32_t allowed = MIG_BIT(MIG_T_ROUND) | MIG_BIT(MIG_T_SWITCHOVER) |
				 MIG_BIT(MIG_T_MANIFEST) | MIG_BIT(MIG_T_MANIFEST_END) |
				 MIG_BIT(MIG_T_COMPLETE) | MIG_BIT(MIG_T_ERROR);
	char text[MIG_MAX_ERROR + 1];
	struct mig_pkt pkt;
	int ret;

	while (!mig_failed()) {
		ret = mig_recv(&d->ctl, allowed, &pkt, -1);
		if (ret) {
			if (!mig_failed())
				mig_fail("control: %s%s", d->ctl.why, ret == -EPIPE || ret == -ECONNRESET ?
					 " before the migration completed (did pcopy send fail?)" : "");
			break;
		}
		switch (pkt.type) {
		case MIG_T_ROUND: {
			struct mig_round r;

			memcpy(&r, pkt.data, sizeof(r));
			if (!(d->sflags & MIG_SETUP_PRECOPY) || d->switched || r.reserved ||
			    le32toh(r.round) != d->round + 1 || le32toh(r.round) > d->max_rounds) {
				mig_fail("control: ROUND %u out of place", le32toh(r.round));
				return NULL;
			}
			d->round = le32toh(r.round);
			break;
		}
		case MIG_T_SWITCHOVER:
			if (d->switched) {
				mig_fail("control: a second SWITCHOVER");
				return NULL;
			}
			d->switched = true;
			d->t_switch = mig_now_ns();
			break;
		case MIG_T_MANIFEST:
			if (on_manifest(d, &pkt))
				return NULL;
			break;
		case MIG_T_MANIFEST_END: {
			struct mig_manifest_end me;

			memcpy(&me, pkt.data, sizeof(me));
			if (d->manifest_done || d->manifest_next != d->npages) {
				mig_fail("control: MANIFEST_END after %" PRIu64 " of %" PRIu64 " pages",
					  d->manifest_next, d->npages);
				return NULL;
			}
			d->late = le64toh(me.late_pages);
			d->post_pages = le64toh(me.postcopy_pages);
			d->manifest_done = true;
			/* the placement owns the manifest from here */
			place_manifest(&d->pl, d->manifest);
			d->manifest = NULL;
			break;
		}
		case MIG_T_COMPLETE:
			pthread_mutex_lock(&d->lock);
			if (!d->done_sent) {
				pthread_mutex_unlock(&d->lock);
				mig_fail("control: COMPLETE before every page was placed");
				return NULL;
			}
			d->complete = true;
			pthread_cond_broadcast(&d->cv);
			pthread_mutex_unlock(&d->lock);
			return NULL;
		case MIG_T_ERROR:
			mig_error_text(&pkt, text, sizeof(text));
			__atomic_store_n(&d->peer_failed, true, __ATOMIC_RELEASE);
			mig_fail("the source failed: %s", text);
			return NULL;
		}
	}
	return NULL;
}

/* ---- handshakes ---- */

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

static int accept_control(struct dest *d, uint64_t deadline)
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

static int accept_data(struct dest *d, uint64_t deadline)
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

/* ---- pcopy.ko ---- */

static void setup_module(struct dest *d)
{
	char why[192];

	if (mod_open(&d->mod, why, sizeof(why))) {
		mig_note("%s: faults are read from the userfaultfd, and there are no kernel fault statistics",
			 why);
		return;
	}
	if (mod_track(&d->mod, (uint32_t)d->h.pid, why, sizeof(why))) {
		mig_note("pcopy.ko: %s: faults are read from the userfaultfd", why);
		mod_close(&d->mod);
		return;
	}
	d->mod_ok = true;
	if (d->o->no_ring)
		return;
	if (!(d->mod.features & PCOPY_FEAT_UFFD_HOOK)) {
		mig_note("pcopy.ko has no userfault hook here: faults are read from the userfaultfd");
		return;
	}
	d->use_ring = true;
}

/* ---- the main steps ---- */

static int import_resume(struct dest *d)
{
	struct mig_resumed r = { 0 };
	uint64_t t0 = mig_now_ns();
	int ret;

	if (d->have_vmm) {
		d->vmm.quiet = true;
		ret = vmm_import(&d->vmm, d->state, d->state_total);
		if (ret) {
			mig_fail("the destination VMM refused the device state: %s", d->vmm.err);
			return ret;
		}
		/* pairs with the seq_cst load in on_fail() */
		__atomic_store_n(&d->resume_started, true, __ATOMIC_SEQ_CST);
		if (mig_failed())
			return -EIO;	/* the source was told we would not resume */
		ret = vmm_resume(&d->vmm);
		if (ret) {
			mig_fail("the destination VMM could not be resumed: %s", d->vmm.err);
			return ret;
		}
		d->resumed = true;
		r.flags = MIG_RESUMED_VMM;
	}
	d->t_resumed = mig_now_ns();
	d->import_ns = d->t_resumed - t0;
	r.flags = htole32(r.flags);
	r.import_ns = htole64(d->import_ns);
	ret = mig_send(&d->ctl, MIG_T_RESUMED, &r, sizeof(r), NULL, 0);
	if (ret && !mig_failed())
		mig_fail("control: sending RESUMED: %s", strerror(-ret));
	return ret;
}

static int send_done(struct dest *d)
{
	struct mig_done m = { 0 };
	struct place_stats st;
	const uint64_t *lat;
	char why[192];
	unsigned int i;
	int ret;

	d->t_done = mig_now_ns();
	/* every page is in: the fault thread ends by itself */
	faults_stop(&d->f);
	d->f_ok = false;
	faults_stats(&d->f, &d->fst);
	place_stats(&d->pl, &st);
	lat = place_latencies(&d->pl, &d->nlat);
	d->p50 = mig_percentile(lat, d->nlat, 50);
	d->p99 = mig_percentile(lat, d->nlat, 99);
	d->pmax = d->nlat ? lat[d->nlat - 1] : 0;
	if (d->mod_ok) {
		if (!mod_stats(&d->mod, &d->ms, why, sizeof(why)))
			d->ms_ok = true;
		else
			mig_note("pcopy.ko: %s", why);
	}

	m.placed = htole64(st.placed);
	m.placed_buffer = htole64(st.placed_buffer);
	m.placed_zero = htole64(st.placed_zero);
	m.eexist = htole64(st.eexist);
	m.requests = htole64(d->fst.requests);
	m.faults = htole64(st.faulted);
	m.samples = htole64(d->nlat);
	m.lat_p50_ns = htole64(d->p50);
	m.lat_p99_ns = htole64(d->p99);
	m.lat_max_ns = htole64(d->pmax);
	if (d->ms_ok) {
		m.flags = htole32(MIG_DONE_MODULE);
		m.mod_faults = htole64(d->ms.faults);
		m.mod_blocktime_ns = htole64(d->ms.blocktime_ns);
		for (i = 0; i < MIG_HIST_US; i++)
			m.mod_hist_us[i] = htole64(d->ms.hist_us[i]);
	}
	ret = mig_send(&d->ctl, MIG_T_DONE, &m, sizeof(m), NULL, 0);
	if (ret && !mig_failed())
		mig_fail("control: sending DONE: %s", strerror(-ret));
	return ret;
}

static void progress(struct dest *d)
{
	uint64_t now = mig_now_ns(), bytes = rx_bytes(d), settled = place_settled(&d->pl);
	struct place_stats st;
	char b1[24], b2[24], b3[24], phase[32];

	if (now - d->rate_t >= NSEC_PER_SEC / 2) {
		double dt = (double)(now - d->rate_t) / 1e9;

		if (d->rate_t) {
			d->bps = (double)(bytes - d->rate_bytes) / dt;
			d->sps = (double)(settled - d->rate_settled) / dt;
		}
		d->rate_t = now;
		d->rate_bytes = bytes;
		d->rate_settled = settled;
	}
	/* placement only runs ahead once the manifest is in: no ETA before */
	if (d->manifest_done && d->sps >= 1)
		fmt_duration(b3, sizeof(b3),
			     (uint64_t)((double)(d->npages - settled) / d->sps * 1e9));
	else
		snprintf(b3, sizeof(b3), "?");
	place_stats(&d->pl, &st);
	if (d->switched)
		snprintf(phase, sizeof(phase), d->resumed || !d->have_vmm ? "postcopy" : "switchover");
	else if (d->round)
		snprintf(phase, sizeof(phase), "precopy round %u", d->round);
	else
		snprintf(phase, sizeof(phase), "starting");
	mig_progress("%s: %" PRIu64 "/%" PRIu64 " pages placed, %" PRIu64 " precopied versions, %" PRIu64 " pages faulted, %s received, %s/s, ETA %s",
		     phase, settled, d->npages, st.precopy_rx, st.faulted,
		     fmt_bytes(b1, sizeof(b1), bytes), fmt_bytes(b2, sizeof(b2), (uint64_t)d->bps),
		     b3);
}

static int wait_events(struct dest *d)
{
	struct timespec ts;

	pthread_mutex_lock(&d->lock);
	while (!mig_failed()) {
		if (d->state_ready && !d->state_done) {
			d->state_done = true;
			pthread_mutex_unlock(&d->lock);
			if (import_resume(d))
				return -EIO;
			pthread_mutex_lock(&d->lock);
			continue;
		}
		if (d->all_placed && !d->done_sent) {
			/* set first: the source's COMPLETE may follow DONE at once */
			d->done_sent = true;
			pthread_mutex_unlock(&d->lock);
			if (send_done(d))
				return -EIO;
			pthread_mutex_lock(&d->lock);
			continue;
		}
		if (d->done_sent && d->complete && d->ends == d->nch)
			break;
		clock_gettime(CLOCK_REALTIME, &ts);
		ts.tv_nsec += 250 * 1000 * 1000;
		ts.tv_sec += ts.tv_nsec / 1000000000;
		ts.tv_nsec %= 1000000000;
		pthread_cond_timedwait(&d->cv, &d->lock, &ts);
		pthread_mutex_unlock(&d->lock);
		mig_check_signal();
		progress(d);
		pthread_mutex_lock(&d->lock);
	}
	pthread_mutex_unlock(&d->lock);
	return mig_failed() ? -EIO : 0;
}

/* ---- the summary ---- */

static struct json_object *summary_json(struct dest *d)
{
	struct json_object *o = json_object_new_object(), *x, *a;
	struct place_stats st;
	struct jb b = { 0 };
	unsigned int i;

	place_stats(&d->pl, &st);
	jadd(&b, o, "result", json_object_new_string("ok"));
	jadd(&b, o, "vmm_pid", ju64((uint64_t)d->h.pid));
	a = json_object_new_array();
	for (i = 0; i < d->h.n; i++) {
		x = json_object_new_object();
		jadd(&b, x, "base_host_virt_addr", ju64(d->h.r[i].base));
		jadd(&b, x, "size", ju64(d->h.r[i].size));
		jadd(&b, x, "offset", ju64(d->h.r[i].offset));
		jadd(&b, x, "page_size", ju64(d->h.r[i].page_size));
		jpush(&b, a, x);
	}
	jadd(&b, o, "regions", a);
	jadd(&b, o, "page_size", ju64(PS));
	jadd(&b, o, "pages", ju64(d->npages));
	jadd(&b, o, "mem_bytes", ju64(d->npages * PS));
	jadd(&b, o, "channels", ju64(d->nbulk));
	jadd(&b, o, "placed", ju64(st.placed));
	jadd(&b, o, "placed_buffer", ju64(st.placed_buffer));
	jadd(&b, o, "placed_zero", ju64(st.placed_zero));
	jadd(&b, o, "placed_network", ju64(st.placed - st.placed_buffer));
	jadd(&b, o, "eexist", ju64(st.eexist));
	jadd(&b, o, "placed_twice", ju64(st.twice));
	jadd(&b, o, "placed_exactly_once",
	     json_object_new_boolean(st.placed == d->npages && !st.eexist && !st.twice));
	jadd(&b, o, "final_duplicates", ju64(st.final_dups));
	x = json_object_new_object();
	jadd(&b, x, "source", json_object_new_string(d->use_ring ? "ring" : "uffd"));
	jadd(&b, x, "pages_faulted", ju64(st.faulted));
	jadd(&b, x, "ring_records", ju64(d->fst.ring_records));
	jadd(&b, x, "ring_lost", ju64(d->fst.ring_lost));
	jadd(&b, x, "uffd_messages", ju64(d->fst.uffd_msgs));
	jadd(&b, x, "requests", ju64(d->fst.requests));
	jadd(&b, x, "local", ju64(st.local));
	jadd(&b, x, "outside", ju64(d->fst.outside));
	jadd(&b, x, "latency_samples", ju64(d->nlat));
	jadd(&b, x, "latency_p50_ns", ju64(d->p50));
	jadd(&b, x, "latency_p99_ns", ju64(d->p99));
	jadd(&b, x, "latency_max_ns", ju64(d->pmax));
	jadd(&b, o, "faults", x);
	x = json_object_new_object();
	jadd(&b, x, "rounds", ju64(d->round));
	jadd(&b, x, "versions_received", ju64(st.precopy_rx));
	jadd(&b, x, "replaced", ju64(st.precopy_newer));
	jadd(&b, x, "older_dropped", ju64(st.precopy_older));
	jadd(&b, x, "after_placed", ju64(st.precopy_late));
	jadd(&b, x, "manifest_final", ju64(d->manifest_final));
	jadd(&b, x, "late_pages", ju64(d->late));
	jadd(&b, x, "postcopy_pages", ju64(d->post_pages));
	jadd(&b, o, "precopy", x);
	jadd(&b, o, "state_bytes", ju64(d->state_total));
	jadd(&b, o, "resumed", json_object_new_boolean(d->resumed));
	jadd(&b, o, "import_resume_ns", ju64(d->import_ns));
	if (d->resumed && d->t_switch)
		jadd(&b, o, "switchover_to_resume_ns", ju64(d->t_resumed - d->t_switch));
	else
		json_object_object_add(o, "switchover_to_resume_ns", NULL);
	jadd(&b, o, "bytes_received", ju64(rx_bytes(d)));
	jadd(&b, o, "total_time_ns", ju64(d->t_end - d->t_connected));
	if (d->ms_ok)
		jadd(&b, o, "module", stats_to_json(&d->ms));
	else
		json_object_object_add(o, "module", NULL);
	return jb_done(&b, o);
}

static void summary_text(struct dest *d, FILE *f)
{
	char b1[24], b2[24], b3[24];
	struct place_stats st;

	place_stats(&d->pl, &st);
	fprintf(f, "received %s (%" PRIu64 " pages) in %s over %u bulk channels + urgent, %s in all\n",
	       fmt_bytes(b1, sizeof(b1), d->npages * PS), d->npages,
	       fmt_duration(b2, sizeof(b2), d->t_end - d->t_connected), d->nbulk,
	       fmt_bytes(b3, sizeof(b3), rx_bytes(d)));
	if (d->resumed)
		fprintf(f, "  VM resumed %s after the switchover began (IMPORT + RESUME took %s)\n",
		       fmt_duration(b1, sizeof(b1), d->t_resumed - d->t_switch),
		       fmt_duration(b2, sizeof(b2), d->import_ns));
	fprintf(f, "  placed: %" PRIu64 " of %" PRIu64 " pages%s (%" PRIu64 " from the precopy buffer, %" PRIu64 " zero); %" PRIu64 " already present\n",
	       st.placed, d->npages,
	       st.placed == d->npages && !st.eexist && !st.twice ? ", each exactly once" : "",
	       st.placed_buffer, st.placed_zero, st.eexist);
	fprintf(f, "  faults (%s): %" PRIu64 " pages, %" PRIu64 " requested, %" PRIu64 " placed from the buffer; latency p50 %s, p99 %s, max %s (%" PRIu64 " measured)\n",
	       d->use_ring ? "pcopy.ko ring" : "userfaultfd", st.faulted, d->fst.requests, st.local,
	       fmt_duration(b1, sizeof(b1), d->p50), fmt_duration(b2, sizeof(b2), d->p99),
	       fmt_duration(b3, sizeof(b3), d->pmax), d->nlat);
	fprintf(f, "  precopy: %u rounds, %" PRIu64 " versions received (%" PRIu64 " replaced by newer ones), %" PRIu64 " pages final from precopy, %" PRIu64 " late-detected\n",
	       d->round, st.precopy_rx, st.precopy_newer, d->manifest_final, d->late);
	if (d->ms_ok) {
		fprintf(f, "  pcopy.ko, pid %u: %" PRIu64 " blocking faults, blocktime %s, average latency %s\n",
		       d->ms.pid, d->ms.faults, fmt_duration(b1, sizeof(b1), d->ms.blocktime_ns),
		       fmt_duration(b2, sizeof(b2), stats_avg(d->ms.latency_sum_ns, d->ms.faults)));
		hist_print(f, "  fault latency (us):", d->ms.hist_us, PCOPY_HIST_US_BUCKETS, true);
	}
}

/* ---- the whole thing ---- */

int dest_run(const struct recv_opts *o)
{
	static struct dest dst;
	struct dest *d = &dst;
	uint64_t deadline;
	struct json_object *j;
	char err[256];
	unsigned int i;
	int ret;

	d->o = o;
	d->lfd = -1;
	d->f.wake_fd = -1;
	d->h.lfd = d->h.conn = d->h.uffd = -1;
	d->t_start = mig_now_ns();
	pthread_mutex_init(&d->lock, NULL);
	pthread_cond_init(&d->cv, NULL);
	mig_signals();
	mig_fail_setup("recv", on_fail, d);
	deadline = d->t_start + o->timeout_ns;

	/* listen on both first: whoever comes first waits in a backlog */
	ret = handoff_listen(&d->h, o->uffd_sock);
	if (ret)
		goto out;
	ret = mig_listen_tcp(o->listen, &d->lfd, err, sizeof(err));
	if (ret) {
		fprintf(stderr, "pcopy: recv: %s\n", err);
		goto out;
	}
	ret = handoff_accept(&d->h, (int)(o->timeout_ns / NSEC_PER_MSEC));
	if (ret)
		goto out;
	if (o->vmm_control) {
		ret = vmm_minivm_open(&d->vmm, o->vmm_control, "recv");
		if (ret)
			goto out;
		d->have_vmm = true;
		if (vmm_pid(&d->vmm) != d->h.pid) {
			fprintf(stderr, "pcopy: recv: the VMM at %s (pid %d) is not the one that handed over its userfaultfd (pid %d)\n",
				o->vmm_control, (int)vmm_pid(&d->vmm), (int)d->h.pid);
			ret = -EINVAL;
			goto out;
		}
	}
	setup_module(d);

	ret = accept_control(d, deadline);
	if (ret)
		goto out;
	d->t_connected = mig_now_ns();
	ret = place_init(&d->pl, d->h.uffd, &d->h, d->npages, (uint8_t)d->max_rounds, o->mem_out,
			 all_placed, d);
	if (ret)
		goto out;
	d->pl_ok = true;
	ret = accept_data(d, d->t_connected + 2 * HANDSHAKE_MS * NSEC_PER_MSEC);
	if (ret)
		goto out;

	ret = faults_start(&d->f, &d->pl, &d->h, &d->ctl, d->use_ring, (uint32_t)d->h.pid);
	if (ret && d->use_ring) {
		mig_note("faults are read from the userfaultfd instead");
		d->use_ring = false;
		ret = faults_start(&d->f, &d->pl, &d->h, &d->ctl, false, 0);
	}
	if (ret)
		goto out;
	d->f_ok = true;
	for (i = 0; i < d->nch; i++) {
		if (pthread_create(&d->ch[i].thread, NULL, chan_main, &d->ch[i])) {
			mig_fail("cannot start the receiver threads");
			break;
		}
		d->ch[i].started = true;
	}
	if (!mig_failed()) {
		if (pthread_create(&d->ctl_thread, NULL, ctl_main, d))
			mig_fail("cannot start the control thread");
		else
			d->ctl_started = true;
	}
	/* nothing to import: the VM (if any) is someone else's to resume */
	if (!mig_failed() && !(d->sflags & MIG_SETUP_STATE))
		import_resume(d);

	ret = wait_events(d);
	d->t_end = mig_now_ns();
	mig_progress_clear();
	if (ret) {
		if (d->resumed)
			mig_note("the destination VM runs without the pages it lacks: stop it (its faults stay blocked)");
		/* the other threads are blocked on shut-down sockets or gone */
		if (d->f_ok)
			faults_halt(&d->f);
		mod_close(&d->mod);
		return ret;
	}
	for (i = 0; i < d->nch; i++)
		if (d->ch[i].started)
			pthread_join(d->ch[i].thread, NULL);
	if (d->ctl_started)
		pthread_join(d->ctl_thread, NULL);

	if (o->json) {
		j = summary_json(d);
		if (j) {
			print_json(j);
			json_object_put(j);
		}
		/* JSON on stdout for programs, the same in words on stderr */
		summary_text(d, stderr);
	} else {
		summary_text(d, stdout);
	}
	ret = 0;
out:
	if (d->f_ok)
		faults_stop(&d->f);
	if (d->pl_ok)
		place_fini(&d->pl);
	for (i = 0; i < d->nch; i++)
		if (d->ch[i].ok)
			mig_conn_close(&d->ch[i].conn);
	if (d->ctl_ok)
		mig_conn_close(&d->ctl);
	if (d->ms_ok)
		session_stats_free(&d->ms);
	mod_close(&d->mod);
	vmm_close(&d->vmm);
	if (d->lfd >= 0)
		close(d->lfd);
	free(d->state);
	free(d->state_seen);
	free(d->manifest);
	handoff_close(&d->h);
	return ret;
}
