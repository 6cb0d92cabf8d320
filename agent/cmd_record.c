// SPDX-License-Identifier: GPL-2.0
/*
 * pcopy record PID -o FILE: copy a tracked session's record ring to a file
 * (Documentation/record-format.rst) until the session ends, SIGINT or
 * SIGTERM arrives, or --duration elapses.  Nothing is dropped quietly:
 * what the module could not deliver is in its LOST records and the
 * trailer's counters, what the agent refused is counted in the trailer,
 * and a write error ends the recording with exit status 1.
 */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <json-c/json.h>

#include "agent.h"
#include "common/jsonb.h"
#include "observe/recfile.h"
#include "observe/ring.h"
#include "observe/session.h"

#define USAGE "PID -o|--output FILE [--pages N] [--watermark BYTES] [--faults|--dirty] [--duration SECONDS]"

#define DEFAULT_PAGES		256	/* 1 MiB of records */
#define PROGRESS_NS		NSEC_PER_SEC
#define MAX_DURATION_S		(10ull * 365 * 24 * 3600)
#define WAIT_MS			1000	/* wake up at least this often */
#define DRAIN_TRIES		1000	/* of the last drain, 1 ms apart */

enum {
	OPT_PAGES = 256,
	OPT_WATERMARK,
	OPT_FAULTS,
	OPT_DIRTY,
	OPT_DURATION,
};

struct record_opts {
	const char *out;
	uint32_t pages;
	uint32_t watermark;		/* 0: a quarter of the ring */
	uint32_t flags;			/* 0: both */
	uint64_t duration_ns;		/* 0: until the session ends */
};

static void record_opt(int c, const char *arg, void *ctx)
{
	struct record_opts *ro = ctx;
	int ret;

	switch (c) {
	case 'o':
		ro->out = arg;
		break;
	case OPT_PAGES:
		ret = parse_u32(arg, 1, PCOPY_RING_MAX_PAGES, &ro->pages);
		if (ret || ro->pages & (ro->pages - 1))
			usage_error("record: --pages %s is not a power of two from 1 to %d",
				    arg, PCOPY_RING_MAX_PAGES);
		break;
	case OPT_WATERMARK:
		if (parse_u32(arg, 1, UINT32_MAX, &ro->watermark))
			usage_error("record: --watermark %s is not a byte count of at least 1",
				    arg);
		break;
	case OPT_FAULTS:
		ro->flags |= PCOPY_RING_BIND_FAULTS;
		break;
	case OPT_DIRTY:
		ro->flags |= PCOPY_RING_BIND_DIRTY;
		break;
	case OPT_DURATION:
		ro->duration_ns = seconds_arg("record", "--duration", arg, MAX_DURATION_S);
		break;
	}
}

static volatile sig_atomic_t stop_signal;

static void on_signal(int sig)
{
	stop_signal = sig;
}

struct progress {
	bool tty;			/* stderr is a terminal: show progress */
	bool shown;			/* the status line is on the screen */
	uint64_t next_ns;
};

/* One status line on a terminal, redrawn in place at most once a second. */
static void progress(struct progress *pg, const struct ring *r, const struct recw *w)
{
	struct ring_counters c;
	uint64_t now = clock_ns(CLOCK_MONOTONIC);
	char sz[24];

	if (!pg->tty || now < pg->next_ns)
		return;
	pg->next_ns = now + PROGRESS_NS;
	pg->shown = true;
	ring_counters(r, &c);
	fprintf(stderr, "\r\033[Kpcopy: recording pid %" PRIu32 ": %" PRIu64 " records, %s, lost %" PRIu64
		" records and %" PRIu64 " GFNs", r->pid, w->records,
		fmt_bytes(sz, sizeof(sz), w->bytes), c.lost_records, c.lost_gfns);
	fflush(stderr);
}

/* Before any other line on stderr: take the status line away. */
static void progress_clear(struct progress *pg)
{
	if (pg->shown)
		fputs("\r\033[K", stderr);
	pg->shown = false;
}

/* The session must exist before a ring can be bound: say so plainly. */
static int check_tracked(uint32_t pid)
{
	char what[32], notrk[96], why[160] = "";
	const struct errtext texts[] = {
		{ ENOENT, notrk },
		{ 0, NULL },
	};
	struct session_stats s;
	struct pnl p;
	int ret;

	snprintf(what, sizeof(what), "record %" PRIu32, pid);
	snprintf(notrk, sizeof(notrk), "pid %" PRIu32 " is not tracked (run 'pcopy track %" PRIu32 "' first)",
		 pid, pid);
	ret = pnl_open(&p);
	if (ret)
		return ret;
	ret = session_call(&p, PCOPY_CMD_SESSION_GET, pid, &s, why, sizeof(why));
	if (ret)
		session_perror(what, ret, texts, why);
	else
		session_stats_free(&s);
	pnl_close(&p);
	return ret;
}

static int print_summary(const struct opts *o, const struct record_opts *ro,
			 uint32_t pid, const struct recw *w,
			 const struct recfile_trailer *t)
{
	struct json_object *obj;
	struct jb b = { 0 };
	char sz[24];

	if (!o->json) {
		printf("pid %" PRIu32 ": %" PRIu64 " records (%s) written to %s; lost %" PRIu64
		       " records and %" PRIu64 " GFNs; stopped: %s\n", pid, w->records,
		       fmt_bytes(sz, sizeof(sz), w->bytes), ro->out, t->lost_records,
		       t->lost_gfns, recfile_stop_text(t->stop));
		return 0;
	}
	obj = json_object_new_object();
	jadd(&b, obj, "file", json_object_new_string(ro->out));
	jadd(&b, obj, "pid", ju64(pid));
	jadd(&b, obj, "records", ju64(w->records));
	jadd(&b, obj, "bytes", ju64(w->bytes));
	jadd(&b, obj, "lost_records", ju64(t->lost_records));
	jadd(&b, obj, "lost_gfns", ju64(t->lost_gfns));
	jadd(&b, obj, "skipped_unknown", ju64(t->skipped_unknown));
	jadd(&b, obj, "skipped_malformed", ju64(t->skipped_malformed));
	jadd(&b, obj, "stop_reason", json_object_new_string(recfile_stop_key(t->stop)));
	obj = jb_done(&b, obj);
	if (!obj)
		return -ENOMEM;
	print_json(obj);
	json_object_put(obj);
	return 0;
}

static void file_error(uint32_t pid, const struct recw *w)
{
	fprintf(stderr, "pcopy: record %" PRIu32 ": %s: %s failed: %s\n", pid, w->path,
		w->err_op, strerror(-w->err));
}

static void ring_error(uint32_t pid, const struct ring *r, int err)
{
	if (err == -EPROTO)
		fprintf(stderr, "pcopy: record %" PRIu32 ": ring: %s\n", pid, r->why);
	else
		fprintf(stderr, "pcopy: record %" PRIu32 ": ring: %s\n", pid, strerror(-err));
}

/*
 * Copy records until something stops the recording; returns why (enum
 * recfile_stop), or the writer's negative errno once the file cannot take
 * more.  On RECFILE_STOP_ERROR, *err is the ring's error.
 */
static int record_loop(struct ring *r, struct recw *w, uint64_t deadline,
		       const sigset_t *waitmask, struct progress *pg, int *err)
{
	bool hup = false;
	int ret;

	for (;;) {
		int timeout = WAIT_MS;
		uint64_t now;

		ret = ring_consume(r, recw_record, w);
		if (ret < 0)
			break;
		if (ring_eof(r))
			return RECFILE_STOP_EOF;
		if (stop_signal)
			return RECFILE_STOP_SIGNAL;
		now = clock_ns(CLOCK_MONOTONIC);
		if (deadline && now >= deadline)
			return RECFILE_STOP_DURATION;
		if (deadline && deadline - now < (uint64_t)WAIT_MS * NSEC_PER_MSEC)
			timeout = (int)((deadline - now + NSEC_PER_MSEC - 1) / NSEC_PER_MSEC);
		progress(pg, r, w);

		/* signals are let in only here: none is lost between checks */
		ret = ring_wait(r, timeout, waitmask);
		if (ret == -EINTR)
			continue;
		if (ret < 0)
			break;
		/* POLLHUP means ended and drained: one more pass must reach EOF */
		if (ret == RING_HUP && hup) {
			snprintf(r->why, sizeof(r->why),
				 "the module hung up before the ring reached its end");
			ret = -EPROTO;
			break;
		}
		hup = ret == RING_HUP;
	}
	*err = ret;
	return w->err ? w->err : RECFILE_STOP_ERROR;
}

/* The options and the PID operand; exits on a usage error. */
static uint32_t record_args(int argc, char **argv, struct opts *o, struct record_opts *ro)
{
	static const struct option lopts[] = {
		{ "output", required_argument, NULL, 'o' },
		{ "pages", required_argument, NULL, OPT_PAGES },
		{ "watermark", required_argument, NULL, OPT_WATERMARK },
		{ "faults", no_argument, NULL, OPT_FAULTS },
		{ "dirty", no_argument, NULL, OPT_DIRTY },
		{ "duration", required_argument, NULL, OPT_DURATION },
		{ NULL, 0, NULL, 0 },
	};
	uint64_t size;
	uint32_t pid;
	int i;

	i = cmd_opts_ext(argc, argv, o, USAGE, lopts, "o:", record_opt, ro);
	pid = pid_arg(argc, argv, i, "record");
	if (!ro->out)
		usage_error("record: -o FILE is required");
	if (!ro->flags)
		ro->flags = PCOPY_RING_BIND_FAULTS | PCOPY_RING_BIND_DIRTY;
	size = (uint64_t)ro->pages * (uint64_t)sysconf(_SC_PAGESIZE);
	if (!ro->watermark)
		ro->watermark = (uint32_t)(size / 4);
	if (ro->watermark > size)
		usage_error("record: --watermark %" PRIu32 " is above the ring's %" PRIu64 " bytes",
			    ro->watermark, size);
	return pid;
}

int cmd_record(int argc, char **argv, const struct opts *go)
{
	struct record_opts ro = { .pages = DEFAULT_PAGES };
	struct sigaction sa = { .sa_handler = on_signal }, ign = { .sa_handler = SIG_IGN };
	struct sigaction old_int, old_term, old_xfsz;
	struct recfile_trailer t = { 0 };
	struct ring_counters final;
	bool have_final = false;
	struct recfile_header h = { 0 };
	struct progress pg = { .tty = isatty(STDERR_FILENO) };
	uint64_t deadline = 0;
	sigset_t block, old;
	struct opts o = *go;
	struct recw w;
	struct ring r;
	int ret, stop, err = 0;
	uint32_t pid;

	pid = record_args(argc, argv, &o, &ro);

	ret = check_tracked(pid);
	if (ret)
		return ret;
	ret = ring_open(&r, pid, ro.pages, ro.watermark, ro.flags);
	if (ret)
		return ret;

	recfile_header_fill(&h, &r, pid, ro.flags, ro.watermark);
	ret = recw_open(&w, ro.out, &h);
	if (ret) {
		file_error(pid, &w);
		goto err_ring;
	}
	if (ro.duration_ns)
		deadline = h.start_mono_ns + ro.duration_ns;

	sigemptyset(&block);
	sigaddset(&block, SIGINT);
	sigaddset(&block, SIGTERM);
	sigprocmask(SIG_BLOCK, &block, &old);
	sigaction(SIGINT, &sa, &old_int);
	sigaction(SIGTERM, &sa, &old_term);
	/* past a file size limit, have write() fail with EFBIG and say so */
	sigaction(SIGXFSZ, &ign, &old_xfsz);

	stop = record_loop(&r, &w, deadline, &old, &pg, &err);
	progress_clear(&pg);
	if (stop < 0) {
		file_error(pid, &w);
		ret = stop;
		goto err_file;
	}
	if (stop == RECFILE_STOP_ERROR) {
		ring_error(pid, &r, err);
	} else if (stop != RECFILE_STOP_EOF) {
		/* have pending dirty batches and drops emitted, then drain */
		ret = ring_flush(&r);
		if (ret && !ring_eof(&r))
			fprintf(stderr, "pcopy: record %" PRIu32 ": flush: %s (what it would have emitted stays counted as pending)\n",
				pid, strerror(-ret));
		/*
		 * Producers may still be running: the trailer's counters must
		 * describe exactly the records taken off the ring.
		 */
		ret = ring_drain_exact(&r, recw_record, &w, &final, DRAIN_TRIES);
		if (ret == -EAGAIN) {
			fprintf(stderr, "pcopy: record %" PRIu32 ": records kept arriving while it stopped: the trailer's counters may be ahead of the file\n",
				pid);
			ret = 0;
		}
		have_final = ret == 0;
		if (ret < 0 && w.err) {
			file_error(pid, &w);
			goto err_file;
		}
		if (ret < 0) {
			ring_error(pid, &r, ret);
			stop = RECFILE_STOP_ERROR;
			err = ret;
		}
	}

	/* the records taken off the ring are kept, even after a ring error */
	recfile_trailer_fill(&t, &r, (uint32_t)stop, have_final ? &final : NULL);
	ret = recw_close(&w, &t);
	if (ret) {
		file_error(pid, &w);
		goto out_signals;
	}

	if (r.unknown || r.malformed)
		fprintf(stderr, "pcopy: record %" PRIu32 ": skipped %" PRIu64 " records of unknown types and %" PRIu64 " malformed ones%s%s\n",
			pid, r.unknown, r.malformed, r.malformed ? "; the last: " : "",
			r.malformed ? r.malformed_why : "");
	ret = print_summary(&o, &ro, pid, &w, &t);
	if (ret)
		fprintf(stderr, "pcopy: record %" PRIu32 ": out of memory\n", pid);
	if (stop == RECFILE_STOP_ERROR)
		ret = err;
	goto out_signals;

err_file:
	recw_abort(&w);
out_signals:
	sigaction(SIGXFSZ, &old_xfsz, NULL);
	sigaction(SIGTERM, &old_term, NULL);
	sigaction(SIGINT, &old_int, NULL);
	sigprocmask(SIG_SETMASK, &old, NULL);
err_ring:
	ring_close(&r);
	return ret;
}
