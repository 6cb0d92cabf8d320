/* SPDX-License-Identifier: GPL-2.0 */
#ifndef PCOPY_AGENT_MIG_PROTO_H
#define PCOPY_AGENT_MIG_PROTO_H

/*
 * The migration wire protocol between `pcopy send` (source) and `pcopy
 * recv` (destination); Documentation/migration.rst has the prose.
 *
 * A migration is 2 + N TCP connections, opened by the source in this
 * order: control (both ways: the source's commands and the destination's
 * return path), urgent (page answers to the destination's requests), and N
 * bulk channels ("multifd": precopy rounds, the device state, the
 * postcopy background stream).  Each connection is a stream of packets:
 *
 *   struct mig_hdr   8 bytes: type, flags (0), payload length
 *   payload          hdr.len bytes, at most the type's maximum
 *
 * Every multi-byte field is little-endian on the wire, whatever the host;
 * the structs below are the wire layout (natural alignment, explicit
 * padding, sizes asserted) and are converted with htole / le*toh at the
 * one place each is encoded or decoded.  Reserved fields are sent as zero
 * and must be zero.  A receiver refuses, before acting on it, a packet of
 * an unknown type, of a type not allowed on that connection, with flags
 * set, longer or shorter than its type allows, or whose fields are out of
 * range (a page outside the layout, a round that cannot exist): it prints
 * one line naming the connection and the fault, and gives up the migration.
 *
 * The first packet on every connection is HELLO, answered by HELLO_ACK or
 * ERROR.  A peer that speaks another MIG_VERSION is refused with ERROR:
 * versions are not negotiated, the two ends must match.
 */
#include <stdint.h>

#define MIG_MAGIC		"PCOPYMIG"	/* 8 bytes, no NUL on the wire */
#define MIG_VERSION		1

#define MIG_PAGE_SIZE		4096		/* the only page size spoken */
#define MIG_MAX_BULK		16		/* bulk channels */
#define MIG_MAX_PAGES		(1ull << 32)	/* 16 TiB of 4 KiB pages */
#define MIG_MAX_PAYLOAD		(1u << 20)	/* any packet */
#define MIG_MAX_ERROR		512		/* ERROR text, bytes */
#define MIG_STATE_CHUNK		(16u * 1024)	/* device state chunk */
#define MIG_MAX_STATE		(16u << 20)	/* whole device state */
#define MIG_MANIFEST_CHUNK	(64u * 1024)	/* pages per MANIFEST */

/*
 * Page versions.  A precopy round r (1..MIG_MAX_ROUNDS) sends a page at
 * most once, so (page, round) names one version; the destination keeps the
 * highest round it received.  MIG_ROUND_FINAL marks a page read while the
 * source was paused (or from a file): its content is final and the
 * destination places it at once.
 */
#define MIG_MAX_ROUNDS		250
#define MIG_ROUND_FINAL		255

enum mig_chan_kind {
	MIG_CHAN_CONTROL	= 1,
	MIG_CHAN_URGENT		= 2,
	MIG_CHAN_BULK		= 3,
};

enum mig_type {
	MIG_T_HELLO		= 1,	/* src->dst, every connection, first */
	MIG_T_HELLO_ACK		= 2,	/* dst->src */
	MIG_T_ERROR		= 3,	/* either way: why the sender gives up */
	MIG_T_SETUP		= 4,	/* control src->dst: what is migrated */
	MIG_T_SETUP_ACK		= 5,	/* control dst->src */
	MIG_T_ROUND		= 6,	/* control src->dst: a precopy round begins */
	MIG_T_SWITCHOVER	= 7,	/* control src->dst: the source is paused */
	MIG_T_MANIFEST		= 8,	/* control src->dst: final round of pages */
	MIG_T_MANIFEST_END	= 9,	/* control src->dst: the manifest is whole */
	MIG_T_COMPLETE		= 10,	/* control src->dst: the source is done */
	MIG_T_REQUEST		= 11,	/* control dst->src: a faulting page */
	MIG_T_RESUMED		= 12,	/* control dst->src: device state taken */
	MIG_T_DONE		= 13,	/* control dst->src: every page placed */
	MIG_T_PAGE		= 14,	/* urgent, bulk: one page */
	MIG_T_STATE		= 15,	/* bulk: a device state chunk */
	MIG_T_END		= 16,	/* urgent, bulk: the connection's last */
	__MIG_T_MAX
};

struct mig_hdr {
	uint16_t type;		/* enum mig_type */
	uint16_t flags;		/* none defined: 0 */
	uint32_t len;		/* payload bytes that follow */
};

struct mig_hello {
	char magic[8];		/* MIG_MAGIC */
	uint16_t version;	/* MIG_VERSION */
	uint16_t kind;		/* enum mig_chan_kind */
	uint16_t index;		/* bulk: 0..nbulk-1; else 0 */
	uint16_t nbulk;		/* bulk channels of this migration */
	uint64_t session;	/* random, the same on every connection */
};

struct mig_hello_ack {
	uint16_t version;	/* MIG_VERSION */
	uint16_t reserved;
	uint32_t reserved2;
};

enum mig_error_flags {
	/*
	 * From the destination: its VMM was not resumed and never will be
	 * by this migration, so the source may resume its own VM.
	 */
	MIG_ERR_NOT_RESUMED	= 1 << 0,
	__MIG_ERR_ALL		= (1 << 1) - 1
};

/* ERROR: this, then 1 to MIG_MAX_ERROR bytes of text (no NUL needed). */
struct mig_error {
	uint32_t flags;		/* enum mig_error_flags */
	uint32_t reserved;
};

enum mig_setup_flags {
	MIG_SETUP_PRECOPY	= 1 << 0,	/* precopy rounds will come */
	MIG_SETUP_STATE		= 1 << 1,	/* device state will come */
	MIG_SETUP_LIVE		= 1 << 2,	/* a running VM (not a file) */
	__MIG_SETUP_ALL		= (1 << 3) - 1
};

struct mig_setup {
	uint32_t page_size;	/* MIG_PAGE_SIZE */
	uint32_t flags;		/* enum mig_setup_flags */
	uint64_t npages;	/* pages 0..npages-1 = file offsets / page size */
	uint32_t max_rounds;	/* precopy rounds at most; <= MIG_MAX_ROUNDS */
	uint32_t reserved;
};

enum mig_ack_flags {
	MIG_ACK_RING		= 1 << 0,	/* faults come from pcopy.ko's ring */
	MIG_ACK_VMM		= 1 << 1,	/* a VMM will be resumed (downtime) */
};

struct mig_setup_ack {
	uint32_t flags;		/* enum mig_ack_flags */
	uint32_t reserved;
};

struct mig_round {
	uint32_t round;		/* 1..max_rounds */
	uint32_t reserved;
	uint64_t pages;		/* pages this round will send */
};

struct mig_switchover {
	uint64_t final_pages;	/* final pages sent before the device state */
	uint64_t postcopy_pages;	/* left for postcopy (before the check) */
};

/*
 * The manifest: for every page, the round whose version is final (the
 * page did not change after it was read), or 0: the page comes as a
 * MIG_ROUND_FINAL version (sent at switchover, in postcopy, or as an
 * answer).  Chunks come in page order, covering 0..npages-1 exactly.
 */
struct mig_manifest {
	uint64_t first;		/* first page of this chunk */
	uint32_t count;		/* pages, 1..MIG_MANIFEST_CHUNK; count bytes follow */
	uint32_t reserved;
};

struct mig_manifest_end {
	uint64_t late_pages;	/* precopied pages found changed at switchover */
	uint64_t postcopy_pages;	/* the background stream's size */
};

enum mig_req_flags {
	MIG_REQ_RING		= 1 << 0,	/* seen in pcopy.ko's ring */
	MIG_REQ_NOWAIT		= 1 << 1,	/* KVM's first, non-blocking try */
	MIG_REQ_VCPU		= 1 << 2,	/* a vCPU thread faulted */
	__MIG_REQ_ALL		= (1 << 3) - 1
};

struct mig_request {
	uint64_t page;
	uint32_t vcpu;		/* PCOPY_VCPU_NONE if unknown */
	uint16_t flags;		/* enum mig_req_flags */
	uint16_t reserved;
};

enum mig_resumed_flags {
	MIG_RESUMED_VMM		= 1 << 0,	/* a VMM was imported and resumed */
};

struct mig_resumed {
	uint32_t flags;
	uint32_t reserved;
	uint64_t import_ns;	/* IMPORT + RESUME took this long */
};

enum mig_done_flags {
	MIG_DONE_MODULE		= 1 << 0,	/* the mod_* fields are valid */
};

#define MIG_HIST_US		24	/* = PCOPY_HIST_US_BUCKETS, asserted in dest.c */

struct mig_done {
	uint64_t placed;		/* UFFDIO_COPY/ZEROPAGE that succeeded */
	uint64_t placed_buffer;		/* ... from the precopy buffer */
	uint64_t placed_zero;		/* ... as zero pages */
	uint64_t eexist;		/* pages found present already */
	uint64_t requests;		/* pages requested from the source */
	uint64_t faults;		/* faults seen (ring or uffd) */
	uint64_t samples;		/* fault -> placed latencies measured */
	uint64_t lat_p50_ns;
	uint64_t lat_p99_ns;
	uint64_t lat_max_ns;
	uint32_t flags;			/* enum mig_done_flags */
	uint32_t reserved;
	uint64_t mod_faults;		/* pcopy.ko: blocking faults */
	uint64_t mod_blocktime_ns;	/* pcopy.ko: whole-VM blocktime */
	uint64_t mod_hist_us[MIG_HIST_US];
};

enum mig_page_flags {
	MIG_PAGE_ZERO		= 1 << 0,	/* all zeroes: no data follows */
	MIG_PAGE_ANSWER		= 1 << 1,	/* answers a REQUEST */
	__MIG_PAGE_ALL		= (1 << 2) - 1
};

struct mig_page {
	uint64_t page;		/* < npages */
	uint8_t round;		/* 1..max_rounds or MIG_ROUND_FINAL */
	uint8_t flags;		/* enum mig_page_flags */
	uint16_t reserved;
	uint32_t reserved2;
	/* MIG_PAGE_SIZE bytes unless MIG_PAGE_ZERO */
};

struct mig_state {
	uint32_t seq;		/* chunk number, < count */
	uint32_t count;		/* chunks: ceil(total / MIG_STATE_CHUNK) */
	uint64_t total;		/* bytes of the whole image, 1..MIG_MAX_STATE */
	uint64_t hash;		/* mig_hash() of the whole image */
	/* min(MIG_STATE_CHUNK, total - seq * MIG_STATE_CHUNK) bytes */
};

struct mig_end {
	uint64_t pages;		/* PAGE packets sent on this connection */
	uint64_t chunks;	/* STATE packets sent on this connection */
};

_Static_assert(sizeof(struct mig_hdr) == 8, "mig_hdr");
_Static_assert(sizeof(struct mig_hello) == 24, "mig_hello");
_Static_assert(sizeof(struct mig_hello_ack) == 8, "mig_hello_ack");
_Static_assert(sizeof(struct mig_error) == 8, "mig_error");
_Static_assert(sizeof(struct mig_setup) == 24, "mig_setup");
_Static_assert(sizeof(struct mig_setup_ack) == 8, "mig_setup_ack");
_Static_assert(sizeof(struct mig_round) == 16, "mig_round");
_Static_assert(sizeof(struct mig_switchover) == 16, "mig_switchover");
_Static_assert(sizeof(struct mig_manifest) == 16, "mig_manifest");
_Static_assert(sizeof(struct mig_manifest_end) == 16, "mig_manifest_end");
_Static_assert(sizeof(struct mig_request) == 16, "mig_request");
_Static_assert(sizeof(struct mig_resumed) == 16, "mig_resumed");
_Static_assert(sizeof(struct mig_done) == 104 + 8 * MIG_HIST_US, "mig_done");
_Static_assert(sizeof(struct mig_page) == 16, "mig_page");
_Static_assert(sizeof(struct mig_state) == 24, "mig_state");
_Static_assert(sizeof(struct mig_end) == 16, "mig_end");

/* A PAGE packet with data, the largest thing on a data connection. */
#define MIG_PAGE_PKT	(sizeof(struct mig_hdr) + sizeof(struct mig_page) + MIG_PAGE_SIZE)

#endif
