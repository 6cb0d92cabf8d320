// SPDX-License-Identifier: GPL-2.0
/*
 * The destination side of a migration (migrate.h): setup, the device
 * state import and resume, DONE, the run; dest.h has the design and the
 * state.
 */
#include <endian.h>
#include <errno.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <json-c/json.h>

#include "common/defs.h"
#include "common/jsonb.h"
#include "dest.h"
#include "util.h"

/* DONE carries pcopy.ko's microsecond histogram bucket for bucket */
_Static_assert(MIG_HIST_US == PCOPY_HIST_US_BUCKETS, "DONE's mod_hist_us is the module's hist_us");

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
		dst_progress(d);
		pthread_mutex_lock(&d->lock);
	}
	pthread_mutex_unlock(&d->lock);
	return mig_failed() ? -EIO : 0;
}

/*
 * Listen for the handoff and the source, take the VMM's userfaultfd and,
 * with --vmm-control, open the VMM adapter for the same process.
 */
static int take_vmm(struct dest *d)
{
	const struct recv_opts *o = d->o;
	char err[256];
	int ret;

	/* listen on both first: whoever comes first waits in a backlog */
	ret = handoff_listen(&d->h, o->uffd_sock);
	if (ret)
		return ret;
	ret = mig_listen_tcp(o->listen, &d->lfd, err, sizeof(err));
	if (ret) {
		fprintf(stderr, "pcopy: recv: %s\n", err);
		return ret;
	}
	ret = handoff_accept(&d->h, (int)(o->timeout_ns / NSEC_PER_MSEC));
	if (ret)
		return ret;
	if (!o->vmm_control)
		return 0;
	ret = vmm_minivm_open(&d->vmm, o->vmm_control, "recv");
	if (ret)
		return ret;
	d->have_vmm = true;
	if (vmm_pid(&d->vmm) != d->h.pid) {
		fprintf(stderr, "pcopy: recv: the VMM at %s (pid %d) is not the one that handed over its userfaultfd (pid %d)\n",
			o->vmm_control, (int)vmm_pid(&d->vmm), (int)d->h.pid);
		return -EINVAL;
	}
	return 0;
}

/* The fault thread, then one receiver per data connection and the control reader. */
static int start_threads(struct dest *d)
{
	unsigned int i;
	int ret;

	ret = faults_start(&d->f, &d->pl, &d->h, &d->ctl, d->use_ring, (uint32_t)d->h.pid,
			   d->o->record);
	if (ret && d->use_ring) {
		mig_note(d->o->record ? "faults are read from the userfaultfd instead, and not recorded for --plot" :
			 "faults are read from the userfaultfd instead");
		d->use_ring = false;
		ret = faults_start(&d->f, &d->pl, &d->h, &d->ctl, false, 0, NULL);
	}
	if (ret)
		return ret;
	d->f_ok = true;
	for (i = 0; i < d->nch; i++) {
		if (pthread_create(&d->ch[i].thread, NULL, dst_chan_main, &d->ch[i])) {
			mig_fail("cannot start the receiver threads");
			break;
		}
		d->ch[i].started = true;
	}
	if (!mig_failed()) {
		if (pthread_create(&d->ctl_thread, NULL, dst_ctl_main, d))
			mig_fail("cannot start the control thread");
		else
			d->ctl_started = true;
	}
	return 0;
}

static void print_summary(struct dest *d)
{
	struct json_object *j;

	if (d->o->json) {
		j = dst_summary_json(d);
		if (j) {
			print_json(j);
			json_object_put(j);
		}
		/* JSON on stdout for programs, the same in words on stderr */
		dst_summary_text(d, stderr);
	} else {
		dst_summary_text(d, stdout);
	}
}

static void cleanup(struct dest *d)
{
	unsigned int i;

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
}

int dest_run(const struct recv_opts *o)
{
	static struct dest dst;
	struct dest *d = &dst;
	uint64_t deadline;
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

	ret = take_vmm(d);
	if (ret)
		goto out;
	setup_module(d);

	ret = dst_accept_control(d, deadline);
	if (ret)
		goto out;
	d->t_connected = mig_now_ns();
	ret = place_init(&d->pl, d->h.uffd, &d->h, d->npages, (uint8_t)d->max_rounds, o->mem_out,
			 dst_all_placed, d);
	if (ret)
		goto out;
	d->pl_ok = true;
	ret = dst_accept_data(d, d->t_connected + 2 * HANDSHAKE_MS * NSEC_PER_MSEC);
	if (ret)
		goto out;
	ret = start_threads(d);
	if (ret)
		goto out;
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
	print_summary(d);
	ret = 0;
out:
	cleanup(d);
	return ret;
}
