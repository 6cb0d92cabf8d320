// SPDX-License-Identifier: GPL-2.0
/* The destination's fault thread (fault.h). */
#include <endian.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include <linux/userfaultfd.h>

#include "common/defs.h"
#include "fault.h"
#include "record.h"
#include "util.h"

#define RING_PAGES	64
#define POLL_MS		100
#define MAX_BATCH	1024
#define UFFD_MSGS	64

/* Urgency classes, most urgent first. */
enum { PRIO_VCPU_BLOCKED, PRIO_VCPU_NOWAIT, PRIO_OTHER, PRIO_UFFD };

struct fault_ent {
	uint64_t addr;
	uint32_t vcpu;
	uint16_t prio;
	uint16_t seq;		/* arrival order within the batch */
};

static int ent_cmp(const void *a, const void *b)
{
	const struct fault_ent *x = a, *y = b;

	if (x->prio != y->prio)
		return x->prio < y->prio ? -1 : 1;
	return x->seq < y->seq ? -1 : x->seq > y->seq;
}

static int fault_record(const struct pcopy_rec_hdr *rec, void *arg)
{
	struct mig_faults *f = arg;
	const struct pcopy_rec_fault *r = (const void *)rec;
	struct fault_ent *e;
	bool vcpu;

	if (rec->type == PCOPY_REC_LOST) {
		f->st.ring_lost += ((const struct pcopy_rec_lost *)rec)->records;
		return 0;
	}
	if (rec->type != PCOPY_REC_FAULT_BEGIN && rec->type != PCOPY_REC_FAULT_END)
		return 0;
	/* a FAULT_END is news only for KVM's non-blocking first try */
	if (rec->type == PCOPY_REC_FAULT_END && !(rec->flags & PCOPY_REC_F_NOWAIT))
		return 0;
	if (r->reason != PCOPY_REASON_MISSING)
		return 0;
	if (f->nbatch == MAX_BATCH)
		return -ENOSPC;		/* handled, then consumed from here on */
	f->st.ring_records++;
	vcpu = r->vcpu != PCOPY_VCPU_NONE;
	e = (struct fault_ent *)f->batch + f->nbatch;
	e->addr = r->addr;
	e->vcpu = r->vcpu;
	e->prio = rec->type == PCOPY_REC_FAULT_BEGIN ?
		  (vcpu ? PRIO_VCPU_BLOCKED : PRIO_OTHER) :
		  (vcpu ? PRIO_VCPU_NOWAIT : PRIO_OTHER);
	e->seq = (uint16_t)f->nbatch;
	f->nbatch++;
	return 0;
}

static void add_request(struct mig_faults *f, uint64_t page, uint32_t vcpu, uint16_t flags)
{
	struct mig_request r = {
		.page = htole64(page),
		.vcpu = htole32(vcpu),
		.flags = htole16(flags),
	};

	f->reqlen += mig_put_hdr(f->reqbuf + f->reqlen, MIG_T_REQUEST, sizeof(r));
	memcpy(f->reqbuf + f->reqlen, &r, sizeof(r));
	f->reqlen += sizeof(r);
	f->st.requests++;
}

/* Handle the batch in order of urgency; send its requests in one write. */
static int handle_batch(struct mig_faults *f)
{
	struct fault_ent *v = f->batch;
	uint64_t now = mig_now_ns();
	size_t i;
	int ret;

	qsort(v, f->nbatch, sizeof(*v), ent_cmp);
	for (i = 0; i < f->nbatch; i++) {
		uint64_t page;
		uint16_t flags = 0;

		if (handoff_page_of(f->h, v[i].addr, &page) || page >= f->pl->npages) {
			f->st.outside++;
			continue;
		}
		if (place_fault(f->pl, page, now) != FAULT_REQUEST)
			continue;
		if (v[i].prio != PRIO_UFFD)
			flags |= MIG_REQ_RING;
		if (v[i].prio == PRIO_VCPU_NOWAIT)
			flags |= MIG_REQ_NOWAIT;
		if (v[i].prio == PRIO_VCPU_BLOCKED || v[i].prio == PRIO_VCPU_NOWAIT)
			flags |= MIG_REQ_VCPU;
		add_request(f, page, v[i].vcpu, flags);
	}
	f->nbatch = 0;
	if (!f->reqlen)
		return 0;
	ret = mig_send_buf(f->ctl, f->reqbuf, f->reqlen);
	f->reqlen = 0;
	if (ret && !mig_failed())
		mig_fail("control: sending requests: %s", ret == -EPIPE ?
			 "the source closed the connection" : strerror(-ret));
	return ret;
}

static int read_uffd(struct mig_faults *f)
{
	struct uffd_msg msg[UFFD_MSGS];
	ssize_t n;
	size_t i;

	for (;;) {
		n = read(f->pl->uffd, msg, sizeof(msg));
		if (n < 0) {
			if (errno == EAGAIN || errno == EINTR)
				return 0;
			mig_fail("reading the userfaultfd: %s", strerror(errno));
			return -errno;
		}
		for (i = 0; i < (size_t)n / sizeof(msg[0]); i++) {
			struct fault_ent *e;

			if (msg[i].event != UFFD_EVENT_PAGEFAULT)
				continue;
			f->st.uffd_msgs++;
			if (f->nbatch == MAX_BATCH && handle_batch(f))
				return -EIO;
			e = (struct fault_ent *)f->batch + f->nbatch;
			e->addr = msg[i].arg.pagefault.address;
			e->vcpu = PCOPY_VCPU_NONE;
			e->prio = PRIO_UFFD;
			e->seq = (uint16_t)f->nbatch;
			f->nbatch++;
		}
		if ((size_t)n < sizeof(msg))
			return 0;
	}
}

static void *fault_main(void *arg)
{
	struct mig_faults *f = arg;
	struct pollfd pfd[4];
	int n, ret;

	while (!__atomic_load_n(&f->stop, __ATOMIC_ACQUIRE) && !mig_failed() &&
	       place_settled(f->pl) < f->pl->npages) {
		n = 0;
		pfd[n].fd = f->pl->uffd;
		pfd[n++].events = POLLIN;
		pfd[n].fd = f->h->conn;
		pfd[n++].events = POLLIN;
		pfd[n].fd = f->wake_fd;
		pfd[n++].events = POLLIN;
		if (f->use_ring) {
			pfd[n].fd = f->ring.fd;
			pfd[n++].events = POLLIN;
		}
		ret = poll(pfd, (nfds_t)n, POLL_MS);
		if (ret < 0 && errno != EINTR) {
			mig_fail("poll: %s", strerror(errno));
			break;
		}
		if (f->use_ring) {
			/* the ring first: its records come with the vCPU */
			do {
				ret = mig_rec_consume(&f->ring, f->rec, fault_record, f);
				if (ret == -EPROTO) {
					mig_fail("the fault ring: %s", f->ring.why);
					goto out;
				}
				if (handle_batch(f))
					goto out;
			} while (ret == -ENOSPC);
		}
		if (pfd[2].revents) {
			uint64_t v;

			if (read(f->wake_fd, &v, sizeof(v)) < 0 && errno != EAGAIN)
				break;
		}
		if (read_uffd(f) || handle_batch(f))
			break;
		if (pfd[1].revents) {
			char c;

			if (!recv(f->h->conn, &c, 1, MSG_DONTWAIT | MSG_PEEK) &&
			    place_settled(f->pl) < f->pl->npages) {
				mig_fail("the destination VMM closed its UFFD handoff connection (did it exit?)");
				break;
			}
		}
	}
out:
	return NULL;
}

int faults_start(struct mig_faults *f, struct place *pl, const struct mig_handoff *h,
		 struct mig_conn *ctl, bool use_ring, uint32_t pid, const char *record)
{
	int ret;

	memset(f, 0, sizeof(*f));
	f->wake_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (f->wake_fd < 0) {
		ret = -errno;
		fprintf(stderr, "pcopy: recv: eventfd: %s\n", strerror(errno));
		return ret;
	}
	f->pl = pl;
	f->h = h;
	f->ctl = ctl;
	f->reqbuf = malloc(MAX_BATCH * (sizeof(struct mig_hdr) + sizeof(struct mig_request)));
	f->batch = malloc(MAX_BATCH * sizeof(struct fault_ent));
	if (!f->reqbuf || !f->batch) {
		ret = -ENOMEM;
		goto err;
	}
	/* we only ever read it after poll(), but never block on it either */
	fcntl(pl->uffd, F_SETFL, fcntl(pl->uffd, F_GETFL) | O_NONBLOCK);
	if (use_ring) {
		/* watermark 1: wake at every record, a fault is waiting */
		ret = ring_open(&f->ring, pid, RING_PAGES, 1, PCOPY_RING_BIND_FAULTS);
		if (ret)
			goto err;
		f->use_ring = true;
		ret = mig_rec_open(&f->rec, record, &f->ring, pid, PCOPY_RING_BIND_FAULTS, 1);
		if (ret)
			goto err;
	}
	ret = pthread_create(&f->thread, NULL, fault_main, f);
	if (ret) {
		ret = -ret;
		fprintf(stderr, "pcopy: recv: cannot start the fault thread: %s\n", strerror(-ret));
		goto err;
	}
	f->running = true;
	return 0;
err:
	faults_stop(f);
	return ret;
}

void faults_halt(struct mig_faults *f)
{
	if (f->running) {
		__atomic_store_n(&f->stop, 1, __ATOMIC_RELEASE);
		faults_wake(f);
		pthread_join(f->thread, NULL);
		f->running = false;
	}
}

void faults_stop(struct mig_faults *f)
{
	faults_halt(f);
	if (f->wake_fd >= 0)
		close(f->wake_fd);
	f->wake_fd = -1;
	if (f->use_ring) {
		mig_rec_close(f->rec, &f->ring);
		f->rec = NULL;
		ring_close(&f->ring);
	}
	f->use_ring = false;
	free(f->reqbuf);
	free(f->batch);
	f->reqbuf = NULL;
	f->batch = NULL;
}

void faults_wake(struct mig_faults *f)
{
	uint64_t one = 1;

	if (f->wake_fd >= 0 && write(f->wake_fd, &one, sizeof(one)) < 0)
		return;	/* the counter is full: it is awake anyway */
}

void faults_stats(const struct mig_faults *f, struct fault_stats *st)
{
	/* read after faults_stop(), or racy but only for progress */
	*st = f->st;
}
