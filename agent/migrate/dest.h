/* SPDX-License-Identifier: GPL-2.0 */
#ifndef PCOPY_AGENT_MIGRATE_DEST_H
#define PCOPY_AGENT_MIGRATE_DEST_H

/*
 * The destination engine's own header: its state and what its files
 * share.  The engine is dest.c (setup, import and resume, the run),
 * dest_*.c, and fault.c, place.c, handoff.c; migrate.h is its public face.
 *
 * Threads: main (handshakes, device state import and resume, DONE,
 * progress, summary); one receiver per data connection (urgent and bulk),
 * which checks every packet whole before a byte of it reaches guest memory
 * and hands pages to the placement (place.c); the control reader
 * (rounds, switchover, the manifest, completion); the fault thread
 * (fault.c); and, once the manifest is in, the placer.
 */
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "observe/session.h"

#include "fault.h"
#include "handoff.h"
#include "migrate.h"
#include "mod.h"
#include "place.h"
#include "proto.h"
#include "transport.h"
#include "vmm.h"

struct json_object;

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

/* dest_receive.c: the receivers: data channels and the control reader */
void dst_all_placed(void *arg);
void *dst_chan_main(void *arg);
void *dst_ctl_main(void *arg);

/* dest_accept.c: connections: accepting them and their handshakes */
int dst_accept_control(struct dest *d, uint64_t deadline);
int dst_accept_data(struct dest *d, uint64_t deadline);

/* dest_report.c: progress line and summary (text and JSON) */
void dst_progress(struct dest *d);
struct json_object *dst_summary_json(struct dest *d);
void dst_summary_text(struct dest *d, FILE *f);

#endif
