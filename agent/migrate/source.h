/* SPDX-License-Identifier: GPL-2.0 */
#ifndef PCOPY_AGENT_MIGRATE_SOURCE_H
#define PCOPY_AGENT_MIGRATE_SOURCE_H

/*
 * The source engine's own header: its state and what its files share.
 * The engine is source.c (setup, connections, the phases, the run) and
 * source_*.c, one responsibility each; migrate.h is its public face.
 *
 * Threads: main (rounds, switchover, progress, summary); one worker per
 * bulk channel, each sending what the current job hands out; the
 * responder, which reads the destination's return path and answers each
 * page request at once on the urgent channel; and the dirty tracker
 * (dirty.c) when pcopy.ko is there.
 *
 * A job is a set of pages (a bitmap whose words the workers claim with an
 * atomic exchange, so each page goes out once per job), the switchover
 * (final pages, then device state chunks claimed with a counter: a worker
 * done with pages sends state while the others still send pages), or the
 * end.  Jobs run one at a time: main posts one and waits until every
 * worker has flushed its share.
 */
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "dirty.h"
#include "migrate.h"
#include "mod.h"
#include "proto.h"
#include "transport.h"
#include "vmm.h"

struct json_object;

#define PS		MIG_PAGE_SIZE
#define WBUF_SIZE	(256 * 1024)
#define HANDSHAKE_MS	10000
#define CONNECT_MS	30000
#define TRUST_WAIT_MS	2000
#define CLOSE_WAIT_MS	10000

/*
 * Preempt hints, one stream per faulting vCPU (source_responder.c,
 * source_workers.c): a request from vCPU v starts (or moves) stream
 * v % HINT_STREAMS at the page after the one requested; the postcopy
 * workers take the words of the live streams in turn, HINT_WORDS of them
 * (4096 pages) per stream, before they go back to the plain scan.  So two
 * vCPUs touching two places both get the stream ahead of them.
 */
#define HINT_STREAMS	8
#define HINT_WORDS	64

struct hint_stream {
	uint64_t word;		/* the next word of the bitmap to take */
	unsigned int first;	/* in the first word: the bit to start at */
	unsigned int left;	/* words to go; 0: not live */
};

enum job_kind { JOB_NONE, JOB_PAGES, JOB_SWITCH, JOB_END };

enum phase { PH_SETUP, PH_PRECOPY, PH_SWITCHOVER, PH_POSTCOPY, PH_FINISH };

struct job {
	enum job_kind kind;
	uint64_t *bm;		/* JOB_PAGES: pages to send, claimed per word */
	uint8_t round;		/* 1..MIG_MAX_ROUNDS or MIG_ROUND_FINAL */
	bool wrap;		/* postcopy: follow hints, scan until none left */
	uint64_t cursor;	/* atomic: next word */
	uint32_t next_chunk;	/* atomic, JOB_SWITCH */
};

struct worker {
	struct source *s;
	unsigned int idx;
	struct mig_conn conn;
	bool conn_ok;
	pthread_t thread;
	bool started;
	unsigned char *buf;
	size_t len;
	uint64_t gen;
	uint64_t pages, chunks;	/* sent on this connection, for END */
};

struct round_stat {
	unsigned int round;
	uint64_t pages, zero, bytes, time_ns, dirty_after, dirty_rate;
};

struct source {
	const struct send_opts *o;

	/* guest memory, as file offsets */
	/*
	 * The guest RAM, read with pread(): never mapped, so reading a page
	 * the guest never touched allocates nothing on either side (a shmem
	 * hole reads as zeroes) and costs pcopy send no memory.
	 */
	int mem_fd;
	uint64_t size, npages;
	struct vmm vmm;			/* a live VMM or a memory file */
	struct vmm_layout layout;

	struct mig_mod mod;
	struct mig_dirty dirty;
	bool tracking;
	char postcopy_why[256];		/* why there is no precopy */

	/* connections */
	uint64_t session;
	struct mig_conn ctl, urg;
	bool ctl_ok, urg_ok;
	struct worker *w;
	unsigned int nw;
	uint32_t dst_flags;		/* enum mig_ack_flags */

	/* per page */
	uint8_t *sent_round;		/* round of the last precopied version */
	uint64_t *sent_hash;		/* its hash */
	uint64_t *answered;		/* bitmap: answered in postcopy */
	uint64_t *post_bm;		/* bitmap: the postcopy stream */
	int64_t post_left;		/* atomic: bits set in post_bm */
	bool post_live;			/* atomic: answers clear post_bm bits */
	bool post_stop;			/* atomic: DONE came, stop streaming */

	/* jobs */
	pthread_mutex_t lock;
	pthread_cond_t work_cv, done_cv;
	struct job job;
	uint64_t job_gen;
	unsigned int job_busy;

	/* postcopy */
	enum phase phase;
	bool paused;			/* under lock: answers may be read now */
	pthread_mutex_t hint_lock;	/* the streams below */
	struct hint_stream hint[HINT_STREAMS];
	unsigned int hint_rr;		/* the stream to look at first */
	uint64_t *fifo;			/* --no-urgent: requests for the workers */
	size_t fhead, flen, fcap;	/* under lock */
	unsigned int fifo_n;		/* atomic copy of flen */
	pthread_t responder;
	bool responder_started, responder_done;	/* under lock */
	bool complete_sent;		/* atomic */
	unsigned char *abuf;		/* the responder's packet */

	/* device state */
	void *state;
	size_t state_len;
	uint64_t state_hash;
	bool state_on_wire;		/* a chunk may have left: no auto-resume */
	bool peer_failed;		/* atomic: the destination sent ERROR */
	bool dst_not_resumed;		/* atomic: ... saying it never resumed */

	/* events from the responder, under lock */
	bool resumed, done;
	uint64_t t_resumed;
	struct mig_resumed resumed_msg;
	struct mig_done done_msg;

	/* figures */
	uint64_t pages_sent, zero_sent, data_bytes;	/* atomic */
	uint64_t round_pages, round_zero;		/* atomic, current job */
	uint64_t requests, answers_urgent, answers_bulk;	/* atomic */
	uint64_t hints_set, hints_consumed;		/* atomic */
	uint64_t late, final_pages, post_pages;
	uint64_t dirty_at_switch;
	struct round_stat rounds[MIG_MAX_ROUNDS];
	unsigned int nrounds;
	const char *switch_why;
	char switch_buf[256];
	uint64_t t_start, t_connected, t_pause, t_paused, t_state_sent, t_end;
	uint64_t job_pages;				/* pages of the current job */

	/* progress */
	uint64_t rate_t, rate_bytes, rate_pages, rate_dirty;
	double bps, pps, dps;
};

/* source_workers.c: scheduler and workers: jobs, page packets, the --no-urgent queue */
/* Read page @p into @buf (PS bytes): 0, or -EIO after mig_fail(). */
int src_read_page(struct source *s, uint64_t p, unsigned char *buf);
/* A PAGE packet of page @p in @buf: its size, or 0 after mig_fail(). */
size_t src_put_page(struct source *s, unsigned char *buf, uint64_t p, uint8_t round,
		    uint8_t flags, uint64_t *hash);
int src_fifo_push(struct source *s, uint64_t p);
int src_send_end(struct mig_conn *c, uint64_t pages, uint64_t chunks);
void *src_worker_main(void *arg);
void src_post_job(struct source *s, enum job_kind kind);
void src_timed_wait(struct source *s, uint64_t ns);
/*
 * Draw the progress line while @busy(s) holds (read under s->lock) and
 * nothing failed: 0, or -EIO after a failure.  src_wait_job() waits so for
 * the current job.
 */
int src_wait_progress(struct source *s, bool (*busy)(const struct source *s));
int src_wait_job(struct source *s);
int src_run_job_pages(struct source *s, uint64_t *bm, uint64_t n, uint8_t round, bool wrap);

/* source_responder.c: the responder: the destination's return path */
void *src_responder_main(void *arg);

/* source_switchover.c: when to switch over (the policy) and the switchover itself */
bool src_should_switch(struct source *s, unsigned int k, uint64_t dirty, double bw,
		       double rate, uint64_t prev_dirty);
int src_switchover(struct source *s);

/* source_verify.c: the check of precopied pages and the manifest */
int src_send_manifest(struct source *s, const uint64_t *final);
void src_post_add(struct source *s, uint64_t p);
void src_verify(struct source *s, const uint64_t *dset, uint64_t *final);

/* source_report.c: progress line and summary (text and JSON) */
uint64_t src_tx_bytes(struct source *s);
void src_progress(struct source *s);
struct json_object *src_summary_json(struct source *s);
void src_summary_text(struct source *s, FILE *f);

#endif
