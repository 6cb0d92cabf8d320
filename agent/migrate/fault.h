/* SPDX-License-Identifier: GPL-2.0 */
#ifndef PCOPY_AGENT_MIG_FAULT_H
#define PCOPY_AGENT_MIG_FAULT_H

/*
 * The destination's fault thread: learns which pages the destination VM
 * is waiting for and has them placed from the precopy buffer or requested
 * from the source over the return path.
 *
 * With pcopy.ko, from the destination VMM's record ring (bound with
 * PCOPY_RING_BIND_FAULTS): a FAULT_BEGIN carries the faulting vCPU, and
 * KVM's first, non-blocking attempt (a FAULT_END flagged NOWAIT) announces
 * a vCPU fault before it blocks; each batch of records is requested in
 * order of urgency: blocking vCPU faults, then vCPU first attempts, then
 * other threads.  The userfaultfd is read as well, as a backstop for
 * records the ring could not hold.  Without the module (or with
 * --no-ring), from the userfaultfd alone.
 */
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include "handoff.h"
#include "transport.h"
#include "place.h"
#include "observe/ring.h"

struct fault_stats {
	uint64_t ring_records;	/* fault records taken from the ring */
	uint64_t ring_lost;	/* fault records the module dropped */
	uint64_t uffd_msgs;	/* page-fault messages read from the uffd */
	uint64_t requests;	/* REQUESTs sent */
	uint64_t outside;	/* faults outside every region */
};

struct mig_rec;

struct mig_faults {
	struct place *pl;
	const struct mig_handoff *h;
	struct mig_conn *ctl;		/* requests go here */
	bool use_ring;
	struct ring ring;
	struct mig_rec *rec;		/* --plot: a copy of the ring's records */
	pthread_t thread;
	bool running;
	int stop;			/* atomic */
	int wake_fd;			/* eventfd: look at stop / placement now */
	struct fault_stats st;		/* written by the thread only */
	unsigned char *reqbuf;
	size_t reqlen;
	void *batch;
	size_t nbatch;
};

/*
 * Start the fault thread; with @use_ring, bind a ring to tracked @pid
 * first (printing why not, and returning an error, if that fails), and
 * copy what it takes off the ring to recording @record if not NULL.
 */
int faults_start(struct mig_faults *f, struct place *pl, const struct mig_handoff *h,
		 struct mig_conn *ctl, bool use_ring, uint32_t pid, const char *record);
void faults_stop(struct mig_faults *f);
/* Only stop the thread, keeping what other threads may still touch. */
void faults_halt(struct mig_faults *f);
/* Have the thread look again now (e.g. every page is placed). */
void faults_wake(struct mig_faults *f);
void faults_stats(const struct mig_faults *f, struct fault_stats *st);

#endif
