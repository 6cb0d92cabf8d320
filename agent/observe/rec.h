/* SPDX-License-Identifier: GPL-2.0 */
#ifndef PCOPY_AGENT_REC_H
#define PCOPY_AGENT_REC_H

/*
 * The records of the ring (struct pcopy_rec_* in uapi/pcopy.h), as the ring
 * consumer and the record file both see them: one body check and the names.
 * Framing (length against the bytes around a record) depends on where the
 * record sits, so the ring and the file reader check it themselves.
 */
#include <stddef.h>
#include <stdint.h>

#include <pcopy.h>

#include "common/defs.h"

PCOPY_PUBLIC_BEGIN

/* Records are 8-byte aligned and their lengths a multiple of 8. */
#define REC_ALIGN	8

enum rec_verdict {
	REC_OK,			/* a known record with a sound body */
	REC_UNKNOWN,		/* a type this agent does not know */
	REC_MALFORMED,		/* a known type whose body breaks the ABI */
};

/*
 * Check the body of the record at @rec, whose len (at least
 * sizeof(struct pcopy_rec_hdr)) the caller has already held to its
 * surroundings.  Fixed-size records may be longer than this agent's struct
 * (structures grow at the end); a DIRTY record's length must match its
 * count exactly.  A fault's vCPU must be below PCOPY_MAX_VCPUS or be
 * PCOPY_VCPU_NONE; a DIRTY or DIRTY_RESET record's is KVM's vCPU id,
 * unbounded.  On REC_MALFORMED, @why (@len bytes) says what is wrong.
 */
PCOPY_PART_ONLY enum rec_verdict rec_check(const struct pcopy_rec_hdr *rec, char *why, size_t len);

/* "FAULT_BEGIN", ...; NULL for a type this agent does not know. */
const char *rec_type_name(uint16_t type);

PCOPY_PUBLIC_END

#endif
