// SPDX-License-Identifier: GPL-2.0
/*
 * The source side of a migration (migrate.h): setup, connections, the
 * phases and the run; source.h has the design and the state.
 */
#include <endian.h>
#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <unistd.h>

#include <json-c/json.h>

#include "common/defs.h"
#include "common/jsonb.h"
#include "source.h"
#include "util.h"

static void on_fail(void *arg, const char *msg)
{
	struct source *s = arg;
	unsigned int i;

	/* tell the destination why, unless it is the one that failed */
	if (s->ctl_ok && !__atomic_load_n(&s->peer_failed, __ATOMIC_ACQUIRE))
		mig_send_error_nowait(&s->ctl, 0, msg);
	if (s->ctl_ok)
		mig_conn_shutdown(&s->ctl);
	if (s->urg_ok)
		mig_conn_shutdown(&s->urg);
	for (i = 0; i < s->nw; i++)
		if (s->w[i].conn_ok)
			mig_conn_shutdown(&s->w[i].conn);
	pthread_mutex_lock(&s->lock);
	pthread_cond_broadcast(&s->work_cv);
	pthread_cond_broadcast(&s->done_cv);
	pthread_mutex_unlock(&s->lock);
}

static int handshake_reply(struct source *s, struct mig_conn *c, uint16_t want, void *out,
			   size_t len)
{
	char text[MIG_MAX_ERROR + 1];
	struct mig_pkt pkt;
	int ret;

	ret = mig_recv(c, MIG_BIT(want) | MIG_BIT(MIG_T_ERROR), &pkt, HANDSHAKE_MS);
	if (ret) {
		fprintf(stderr, "pcopy: send: %s: %s\n", c->name, c->why);
		return ret;
	}
	if (pkt.type == MIG_T_ERROR) {
		mig_error_text(&pkt, text, sizeof(text));
		fprintf(stderr, "pcopy: send: the destination refused the migration: %s\n", text);
		return -ECONNREFUSED;
	}
	(void)s;
	memcpy(out, pkt.data, len);
	return 0;
}

static int open_channel(struct source *s, struct mig_conn *c, int kind, unsigned int idx,
			const char *name)
{
	struct mig_hello h = {
		.version = htole16(MIG_VERSION),
		.kind = htole16((uint16_t)kind),
		.index = htole16((uint16_t)idx),
		.nbulk = htole16((uint16_t)s->o->channels),
		.session = htole64(s->session),
	};
	struct mig_hello_ack ack;
	char err[256];
	int fd, ret;

	ret = mig_connect_tcp(s->o->to, CONNECT_MS, &fd, err, sizeof(err));
	if (ret) {
		fprintf(stderr, "pcopy: send: %s: %s\n", name, err);
		return ret;
	}
	mig_tune(fd, kind);
	ret = mig_conn_init(c, fd, name);
	if (ret) {
		close(fd);
		return ret;
	}
	memcpy(h.magic, MIG_MAGIC, sizeof(h.magic));
	ret = mig_send(c, MIG_T_HELLO, &h, sizeof(h), NULL, 0);
	if (ret) {
		fprintf(stderr, "pcopy: send: %s: sending HELLO: %s\n", name, strerror(-ret));
		goto err;
	}
	ret = handshake_reply(s, c, MIG_T_HELLO_ACK, &ack, sizeof(ack));
	if (ret)
		goto err;
	if (le16toh(ack.version) != MIG_VERSION || ack.reserved || ack.reserved2) {
		fprintf(stderr, "pcopy: send: %s: the destination speaks protocol version %u, this pcopy version %d\n",
			name, le16toh(ack.version), MIG_VERSION);
		ret = -EPROTO;
		goto err;
	}
	return 0;
err:
	mig_conn_close(c);
	return ret;
}

static int connect_all(struct source *s)
{
	struct mig_setup su = {
		.page_size = htole32(PS),
		.npages = htole64(s->npages),
		.max_rounds = htole32(s->o->max_rounds),
	};
	struct mig_setup_ack ack;
	uint32_t flags = 0;
	unsigned int i;
	char name[16];
	int ret;

	if (getrandom(&s->session, sizeof(s->session), 0) != sizeof(s->session))
		s->session = mig_now_ns() ^ ((uint64_t)getpid() << 32);

	ret = open_channel(s, &s->ctl, MIG_CHAN_CONTROL, 0, "control");
	if (ret)
		return ret;
	s->ctl_ok = true;
	if (s->tracking)
		flags |= MIG_SETUP_PRECOPY;
	if (s->vmm.has_state)
		flags |= MIG_SETUP_STATE;
	if (s->vmm.live)
		flags |= MIG_SETUP_LIVE;
	su.flags = htole32(flags);
	ret = mig_send(&s->ctl, MIG_T_SETUP, &su, sizeof(su), NULL, 0);
	if (ret) {
		fprintf(stderr, "pcopy: send: control: sending SETUP: %s\n", strerror(-ret));
		return ret;
	}
	ret = handshake_reply(s, &s->ctl, MIG_T_SETUP_ACK, &ack, sizeof(ack));
	if (ret)
		return ret;
	s->dst_flags = le32toh(ack.flags);

	ret = open_channel(s, &s->urg, MIG_CHAN_URGENT, 0, "urgent");
	if (ret)
		return ret;
	s->urg_ok = true;
	for (i = 0; i < s->nw; i++) {
		snprintf(name, sizeof(name), "bulk %u", i);
		ret = open_channel(s, &s->w[i].conn, MIG_CHAN_BULK, i, name);
		if (ret)
			return ret;
		s->w[i].conn_ok = true;
	}
	return 0;
}

/*
 * The adapter for what the options name (vmm.h): minivm's control socket
 * or a memory file.  A new VMM adapter is chosen here.
 */
static int open_vmm(struct source *s)
{
	if (s->o->vmm_control)
		return vmm_minivm_open(&s->vmm, s->o->vmm_control, "send");
	return vmm_file_open(&s->vmm, s->o->mem_file, s->o->state_file, "send");
}

static int map_memory(struct source *s)
{
	uint64_t size, offset;
	int fd, ret;

	ret = open_vmm(s);
	if (ret)
		return ret;
	ret = vmm_layout(&s->vmm, &s->layout);
	if (ret)
		return ret;
	ret = vmm_memory(&s->vmm, &fd, &size, &offset);
	if (ret)
		return ret;
	if (s->layout.page_size != PS || size % PS || !size || offset ||
	    size != s->layout.mem_size || s->layout.nslots > VMM_MAX_SLOTS) {
		fprintf(stderr, "pcopy: send: the VMM's layout is not one this agent migrates (page size %u, %" PRIu64 " bytes of RAM, GPA 0 at memfd offset %" PRIu64 ")\n",
			s->layout.page_size, size, offset);
		close(fd);
		return -EINVAL;
	}
	s->size = size;
	s->npages = s->size / PS;
	if (s->npages > MIG_MAX_PAGES) {
		fprintf(stderr, "pcopy: send: %s: too large\n", s->vmm.what);
		close(fd);
		return -EFBIG;
	}
	s->mem_fd = fd;
	return 0;
}

/* Decide whether there will be precopy rounds, and say why if not. */
static void setup_tracking(struct source *s)
{
	struct mig_dirty_slot slots[VMM_MAX_SLOTS];
	char why[192];
	unsigned int i;
	int ret;

	if (!s->vmm.live) {
		snprintf(s->postcopy_why, sizeof(s->postcopy_why),
			 "the source is a memory file: nothing runs, so every page moves once");
		return;
	}
	if (s->o->postcopy_only) {
		snprintf(s->postcopy_why, sizeof(s->postcopy_why), "--postcopy-only");
		return;
	}
	ret = mod_open(&s->mod, why, sizeof(why));
	if (ret) {
		snprintf(s->postcopy_why, sizeof(s->postcopy_why), "%s", why);
		goto postcopy_only;
	}
	if (!(s->mod.features & PCOPY_FEAT_DIRTY_RING_HOOK)) {
		snprintf(s->postcopy_why, sizeof(s->postcopy_why),
			 "pcopy.ko cannot harvest dirty pages here (kvm not loaded, or no kvm_dirty_ring_push tracepoint)");
		goto postcopy_only;
	}
	if (!s->layout.dirty_ring_entries) {
		snprintf(s->postcopy_why, sizeof(s->postcopy_why),
			 "the VMM does not use KVM's dirty ring (minivm --dirty-ring)");
		goto postcopy_only;
	}
	ret = mod_track(&s->mod, (uint32_t)vmm_pid(&s->vmm), why, sizeof(why));
	if (ret) {
		snprintf(s->postcopy_why, sizeof(s->postcopy_why), "pcopy.ko: %s", why);
		goto postcopy_only;
	}
	for (i = 0; i < s->layout.nslots; i++) {
		slots[i].id = s->layout.slots[i].id;
		slots[i].first_page = s->layout.slots[i].mem_offset / PS;
		slots[i].npages = s->layout.slots[i].size / PS;
	}
	ret = dirty_start(&s->dirty, (uint32_t)vmm_pid(&s->vmm), s->npages, s->layout.nvcpus, slots,
			  s->layout.nslots, s->o->record);
	if (ret) {
		snprintf(s->postcopy_why, sizeof(s->postcopy_why),
			 "the dirty ring of pcopy.ko could not be bound (see above)");
		goto postcopy_only;
	}
	s->tracking = true;
	return;

postcopy_only:
	mig_note("%s: no dirty-page tracking, so no precopy: migrating postcopy-only",
		 s->postcopy_why);
}

static int src_precopy(struct source *s)
{
	uint64_t *bm = bm_alloc(s->npages), n, prev_dirty = UINT64_MAX;
	uint64_t tot_bytes = 0, tot_ns = 0;
	struct mig_dirty_stats st;
	unsigned int k;
	int ret = 0;

	if (!bm)
		return -ENOMEM;
	s->phase = PH_PRECOPY;
	if (!dirty_wait_trusted(&s->dirty, TRUST_WAIT_MS) && !mig_failed())
		mig_note("pcopy.ko has not shown a dirty-ring reset for every vCPU within %d s: pages read before it does stay dirty",
			 TRUST_WAIT_MS / 1000);

	/* round 1: everything */
	memset(bm, 0xff, BM_WORDS(s->npages) * sizeof(uint64_t));
	if (s->npages % 64)
		bm[BM_WORDS(s->npages) - 1] = (1ull << (s->npages % 64)) - 1;
	n = s->npages;
	for (k = 1; !ret; k++) {
		struct mig_round r = { .round = htole32(k), .pages = htole64(n) };
		struct round_stat *rs = &s->rounds[k - 1];
		uint64_t t0 = mig_now_ns(), b0 = src_tx_bytes(s), nd0, dirty, bytes;
		uint64_t zero0 = __atomic_load_n(&s->zero_sent, __ATOMIC_RELAXED);
		double bw, rate;

		dirty_stats(&s->dirty, &st);
		nd0 = st.newly_dirty;
		ret = mig_send(&s->ctl, MIG_T_ROUND, &r, sizeof(r), NULL, 0);
		if (ret) {
			mig_fail("control: sending ROUND: %s", strerror(-ret));
			break;
		}
		ret = src_run_job_pages(s, bm, n, (uint8_t)k, false);
		if (ret)
			break;
		s->nrounds = k;
		rs->round = k;
		rs->pages = n;
		rs->zero = __atomic_load_n(&s->zero_sent, __ATOMIC_RELAXED) - zero0;
		rs->time_ns = mig_now_ns() - t0;
		bytes = src_tx_bytes(s) - b0;
		rs->bytes = bytes;
		tot_bytes += bytes;
		tot_ns += rs->time_ns;
		dirty_stats(&s->dirty, &st);
		dirty = dirty_count(&s->dirty);
		rate = (double)(st.newly_dirty - nd0) / ((double)rs->time_ns / 1e9);
		rs->dirty_after = dirty;
		rs->dirty_rate = (uint64_t)rate;
		/* a round of less than 1 MiB measures latency more than bandwidth */
		bw = bytes >= (1u << 20) ? (double)bytes / ((double)rs->time_ns / 1e9) :
		     (double)tot_bytes / ((double)tot_ns / 1e9);
		if (src_should_switch(s, k, dirty, bw, rate, prev_dirty))
			break;
		prev_dirty = dirty;
		n = dirty_take(&s->dirty, bm);
	}
	bm_free(bm, s->npages);
	return ret;
}

static bool not_done(const struct source *s)
{
	return !s->done;
}

static int src_postcopy(struct source *s)
{
	int ret;

	s->phase = PH_POSTCOPY;
	ret = src_run_job_pages(s, s->post_bm, s->post_pages, MIG_ROUND_FINAL, true);
	if (ret)
		return ret;
	/* every page is out; the destination says when it has them all */
	return src_wait_progress(s, not_done);
}

static int finish(struct source *s)
{
	uint64_t deadline;
	int ret;

	s->phase = PH_FINISH;
	/* the responder has answered every request that came before DONE */
	src_post_job(s, JOB_END);
	ret = src_wait_job(s);
	if (ret)
		return ret;
	ret = src_send_end(&s->urg, __atomic_load_n(&s->answers_urgent, __ATOMIC_RELAXED), 0);
	if (ret)
		return ret;
	__atomic_store_n(&s->complete_sent, true, __ATOMIC_RELEASE);
	ret = mig_send(&s->ctl, MIG_T_COMPLETE, NULL, 0, NULL, 0);
	if (ret) {
		mig_fail("control: sending COMPLETE: %s", strerror(-ret));
		return ret;
	}
	s->t_end = mig_now_ns();
	/* let the destination read everything and close first */
	deadline = mig_now_ns() + (uint64_t)CLOSE_WAIT_MS * NSEC_PER_MSEC;
	pthread_mutex_lock(&s->lock);
	while (!s->responder_done && !mig_failed() && mig_now_ns() < deadline)
		src_timed_wait(s, 100 * NSEC_PER_MSEC);
	pthread_mutex_unlock(&s->lock);
	return mig_failed() ? -EIO : 0;
}

static void cleanup(struct source *s)
{
	unsigned int i;

	if (s->tracking)
		dirty_stop(&s->dirty);
	mod_close(&s->mod);
	for (i = 0; i < s->nw; i++)
		if (s->w[i].conn_ok)
			mig_conn_close(&s->w[i].conn);
	if (s->urg_ok)
		mig_conn_close(&s->urg);
	if (s->ctl_ok)
		mig_conn_close(&s->ctl);
	vmm_close(&s->vmm);
	if (s->mem_fd >= 0)
		close(s->mem_fd);
}

/* One worker per bulk channel, and the responder. */
static void start_threads(struct source *s)
{
	unsigned int i;

	for (i = 0; i < s->nw; i++) {
		s->w[i].s = s;
		s->w[i].idx = i;
		s->w[i].buf = malloc(WBUF_SIZE);
		if (!s->w[i].buf || pthread_create(&s->w[i].thread, NULL, src_worker_main, &s->w[i])) {
			mig_fail("cannot start the bulk channel threads");
			break;
		}
		s->w[i].started = true;
	}
	if (!mig_failed()) {
		if (pthread_create(&s->responder, NULL, src_responder_main, s))
			mig_fail("cannot start the responder thread");
		else
			s->responder_started = true;
	}
}

/*
 * After a failure: resume a paused source if it is safe, stop the dirty
 * tracker where it stands and end the session.
 */
static void give_up(struct source *s)
{
	if (s->vmm.live && s->paused) {
		/*
		 * Resume the source only when the destination cannot
		 * have run the VM: no device state left here, or the
		 * destination said it never resumed (and never will).
		 */
		if ((!s->state_on_wire ||
		     __atomic_load_n(&s->dst_not_resumed, __ATOMIC_ACQUIRE)) &&
		    !vmm_resume(&s->vmm))
			mig_note("the source VM was resumed: it never ran on the destination");
		else
			mig_note("the source VM stays paused: the destination may have run it (resume or quit it by hand)");
	}
	/* the other threads are blocked on shut-down sockets or gone */
	if (s->tracking)
		dirty_halt(&s->dirty);
	mod_close(&s->mod);
}

static void print_summary(struct source *s)
{
	struct json_object *j;

	if (s->o->json) {
		j = src_summary_json(s);
		if (j) {
			print_json(j);
			json_object_put(j);
		}
		/* JSON on stdout for programs, the same in words on stderr */
		src_summary_text(s, stderr);
	} else {
		src_summary_text(s, stdout);
	}
}

int source_run(const struct send_opts *o)
{
	static struct source src;
	struct source *s = &src;
	unsigned int i;
	int ret;

	s->o = o;
	s->mem_fd = -1;
	s->t_start = mig_now_ns();
	pthread_mutex_init(&s->hint_lock, NULL);
	pthread_mutex_init(&s->lock, NULL);
	pthread_cond_init(&s->work_cv, NULL);
	pthread_cond_init(&s->done_cv, NULL);
	mig_signals();
	mig_fail_setup("send", on_fail, s);

	ret = map_memory(s);
	if (ret)
		goto out;
	/* nothing runs: the state is final now, and a bad file fails early */
	if (!s->vmm.live && s->vmm.has_state) {
		ret = vmm_export(&s->vmm, &s->state, &s->state_len);
		if (ret)
			goto out;
	}
	s->nw = o->channels;
	s->w = calloc(s->nw, sizeof(*s->w));
	s->sent_round = calloc(s->npages, 1);
	s->sent_hash = malloc(s->npages * sizeof(uint64_t));
	s->answered = bm_alloc(s->npages);
	s->post_bm = bm_alloc(s->npages);
	s->abuf = malloc(MIG_PAGE_PKT);
	if (!s->w || !s->sent_round || !s->sent_hash || !s->answered || !s->post_bm || !s->abuf) {
		fprintf(stderr, "pcopy: send: out of memory\n");
		ret = -ENOMEM;
		goto out;
	}
	setup_tracking(s);

	ret = connect_all(s);
	if (ret)
		goto out;
	s->t_connected = mig_now_ns();
	start_threads(s);

	if (!mig_failed() && s->tracking)
		src_precopy(s);
	if (!mig_failed())
		src_switchover(s);
	if (!mig_failed())
		src_postcopy(s);
	if (!mig_failed())
		finish(s);

	mig_progress_clear();
	if (mig_failed()) {
		ret = -EIO;
		give_up(s);
		return ret;
	}

	print_summary(s);
	for (i = 0; i < s->nw; i++)
		if (s->w[i].started)
			pthread_join(s->w[i].thread, NULL);
	if (s->responder_started && s->responder_done)
		pthread_join(s->responder, NULL);
	ret = 0;
out:
	cleanup(s);
	return ret;
}
