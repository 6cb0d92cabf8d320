/* SPDX-License-Identifier: GPL-2.0 */
/* Helpers shared by the pcopy selftests. */
#ifndef PCOPY_SELFTEST_LIB_H
#define PCOPY_SELFTEST_LIB_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <netlink/attr.h>
#include <netlink/genl/genl.h>
#include <netlink/msg.h>

#include <pcopy.h>

#define PCOPY_DEBUGFS "/sys/kernel/debug/pcopy"

/* Path of a file in the source tree ($PCOPY_SRC, else the cwd). */
const char *src_path(const char *rel);

/* Module control through finit_module/delete_module; return 0 or -errno. */
int module_load(void);
/* The same, with module parameters ("uffd_maxactive=2"). */
int module_load_params(const char *params);
int module_unload(void);
bool module_loaded(void);
/* Make sure the module is loaded (tests leave it loaded). */
int module_ensure_loaded(void);

/* A generic netlink socket with extack enabled. */
struct nl_sock *genl_open(void);
/* The family id of "pcopy", or a negative libnl error. */
int pcopy_family(struct nl_sock *sk);
/* genl_open() and pcopy_family() in one: the socket, or NULL (freed). */
struct nl_sock *pcopy_connect(int *family);

/*
 * The outcome of one request: errno (0 on success, positive otherwise),
 * the extack message and bad-attribute offset if the kernel sent them, and
 * the attributes of the (first) reply.
 */
struct nl_result {
	int err;
	char msg[256];
	bool has_offs;
	uint32_t offs;
	bool has_miss;			/* NLMSGERR_ATTR_MISS_TYPE */
	uint32_t miss_type;
	int nreplies;
	struct nl_msg *reply;		/* first reply, owned */
	struct nlattr *tb[PCOPY_A_MAX + 1];
};

/* A request for @cmd with @flags (e.g. NLM_F_DUMP) to @family. */
struct nl_msg *pcopy_msg(int family, uint8_t cmd, int flags);
/* Send @msg (not consumed) and collect the result. Returns -errno too. */
int nl_xfer(struct nl_sock *sk, struct nl_msg *msg, struct nl_result *r);
void nl_result_free(struct nl_result *r);
/* Byte offset of @attr inside @msg, as NLMSGERR_ATTR_OFFS reports it. */
uint32_t attr_offset(struct nl_msg *msg, struct nlattr *attr);

/* Sessions over netlink. */
#define TEST_MAX_VCPUS 64

struct vcpu_stat {
	uint32_t index, tid;
	bool explicit_map;
	bool detached;			/* no thread mapped to it now */
	uint64_t faults, lat_sum, lat_min, lat_max, blocktime;
	uint32_t outstanding;
	uint64_t dirty, dirty_rate;
};

struct sess_stats {
	uint32_t pid;
	uint64_t faults, nowait, interrupted, lat_sum, lat_max;
	uint32_t outstanding, outstanding_max;
	uint64_t vcpu_faults, nonvcpu_faults, nonvcpu_lat_sum;
	uint32_t known_vcpus;
	uint64_t blocktime, elapsed;
	uint64_t dirty, dirty_rate;
	uint64_t missed, threads_dropped, execs;
	uint64_t ring_lost_records, ring_lost_gfns;
	int nvcpus;
	struct vcpu_stat vcpus[TEST_MAX_VCPUS];
	uint64_t hist_ns[PCOPY_HIST_NS_BUCKETS], hist_us[PCOPY_HIST_US_BUCKETS];
	bool truncated;
	uint32_t end_reason;		/* events and ended sessions; else ~0 */
	uint64_t session_id;		/* PCOPY_A_SESSION_ID */
	bool ended;			/* PCOPY_A_ENDED */
	uint64_t end_time;		/* PCOPY_A_END_TIME, ns since the epoch */
};

/* A command that only carries PCOPY_A_PID; returns -errno. */
int sess_cmd(struct nl_sock *sk, int fam, uint8_t cmd, uint32_t pid,
	     struct nl_result *r);
int sess_get(struct nl_sock *sk, int fam, uint32_t pid, struct sess_stats *st);
/*
 * SESSION_GET by @pid and/or session @id (0: left out), with the
 * PCOPY_A_ENDED flag if @ended; -errno, the result in @r if not NULL.
 */
int sess_get_by(struct nl_sock *sk, int fam, uint32_t pid, uint64_t id, bool ended,
		struct sess_stats *st, struct nl_result *r);
int set_vcpu(struct nl_sock *sk, int fam, uint32_t pid, uint32_t tid,
	     uint32_t vcpu, struct nl_result *r);
/* Fill @st from the attributes of a session message; -EPROTO if malformed. */
int parse_session(struct nlattr **tb, struct sess_stats *st);
const struct vcpu_stat *find_vcpu(const struct sess_stats *st, uint32_t index);
/* Number of sessions a dump returns, or -errno; *found set if @pid is one. */
int sess_dump_count(struct nl_sock *sk, int fam, uint32_t pid, bool *found);
uint64_t hist_sum(const uint64_t *b, int n);

/* A socket subscribed to the "events" group. */
struct nl_sock *events_open(void);
/*
 * Wait up to @timeout_ms for an event @cmd about @pid; fills @st (stats,
 * end reason).  Returns 0, or -ETIMEDOUT.
 */
int events_wait(struct nl_sock *sk, uint8_t cmd, uint32_t pid, int timeout_ms,
		struct sess_stats *st);

/* userfaultfd */
int uffd_open(uint64_t features);
/* Anonymous private memory of @len bytes registered MISSING with @uffd. */
void *uffd_area(int uffd, size_t len);
/* Resolve one page at @addr with bytes @fill; 0, or -errno (EEXIST...). */
int uffd_copy_page(int uffd, unsigned long addr, int fill);
/* Read one message, waiting up to @timeout_ms; 0, -ETIMEDOUT or -errno. */
struct uffd_msg;
int uffd_read_msg(int uffd, struct uffd_msg *msg, int timeout_ms);

/* @n faults of the calling thread, resolved by a forked child; 0 if all
 * pages then read back @fill. */
int take_faults(int uffd, int n, int fill);
/*
 * The same, each fault resolved @delay_ms after its message was read: the
 * kernel saw the thread fault before that, so each latency is at least
 * @delay_ms.
 */
int take_faults_delayed(int uffd, int n, int fill, unsigned int delay_ms);

pid_t sys_gettid(void);
uint64_t now_ns(void);
void sleep_ms(unsigned int ms);
/* Poll @cond-like getter: wait until sess OUTSTANDING == @n or timeout. */
int wait_outstanding(struct nl_sock *sk, int fam, uint32_t pid, uint32_t n,
		     int timeout_ms);
/* Read a "key:\tvalue" line of a debugfs-like file as a number. */
long long file_key(const char *path, const char *key);

/* The record ring, as a test consumer sees it. */
struct test_ring {
	int fd;
	struct pcopy_ring_consumer *cons;
	struct pcopy_ring_header *hdr;	/* start of the producer mapping */
	char *data;
	uint64_t size;
};

/* Open /dev/pcopy and bind; returns 0 or -errno (r->fd stays open). */
int ring_bind(struct test_ring *r, uint32_t pid, uint32_t pages,
	      uint32_t watermark, uint32_t flags);
/* mmap both parts as uapi/pcopy.h says; 0 or -errno. */
int ring_map(struct test_ring *r);
void test_ring_close(struct test_ring *r);

/* Counts of what a drain delivered. */
struct ring_counts {
	uint64_t begin, end, nowait_end, interrupted_end, dirty_recs, gfns, resets;
	uint64_t lost_records, lost_gfns;	/* sum of LOST records */
	uint64_t pads, bad;
};
/*
 * Consume every record up to the producer position, validating each one,
 * and add to @c; @cb (may be NULL) sees each non-PAD record.
 */
void ring_drain(struct test_ring *r, struct ring_counts *c,
		void (*cb)(const struct pcopy_rec_hdr *h, void *arg), void *arg);

/* The value of environment variable @name as a number, or @def. */
long long env_num(const char *name, long long def);
/*
 * Drop every capability of the calling process (effective, permitted,
 * inheritable); the uid stays.  0, or -errno.
 */
int drop_admin_caps(void);
/* A "key:\tvalue" line of <debugfs>/pcopy/status as a number, -1 if none. */
long long pcopy_status(const char *key);
/* Wait up to @timeout_ms until pcopy_status(@key) == @val; 0 or -ETIMEDOUT. */
int wait_status(const char *key, long long val, int timeout_ms);
/* SO_RCVTIMEO of @ms on socket @fd; 0, or -errno. */
int sock_rcvtimeo(int fd, int ms);

/* xorshift64*: a reproducible stream from a printed seed (not zero). */
void rnd_seed(uint64_t seed);
uint64_t rnd(void);

/* Run a shell command, capturing stdout (NUL-terminated, malloc'd). */
int run_capture(const char *cmd, char **out);

/*
 * A check script of the tree (tools/migrate-e2e.sh, ...): run
 * "env ENV sh $PCOPY_SRC/SCRIPT 2>&1", print every line of its output as
 * a TAP comment, and count the lines that start with PASS and with FAIL.
 * Returns the script's exit status, or -errno if it could not be run.
 */
struct checks {
	int pass, fail;
};
int run_checks(const char *script, const char *env, struct checks *c);
/* Read a whole file (NUL-terminated, malloc'd); NULL on error. */
char *read_file(const char *path);

#endif
