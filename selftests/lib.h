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
int module_unload(void);
bool module_loaded(void);
/* Make sure the module is loaded (tests leave it loaded). */
int module_ensure_loaded(void);

/* A generic netlink socket with extack enabled. */
struct nl_sock *genl_open(void);
/* The family id of "pcopy", or a negative libnl error. */
int pcopy_family(struct nl_sock *sk);

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

/* Run a shell command, capturing stdout (NUL-terminated, malloc'd). */
int run_capture(const char *cmd, char **out);
/* Read a whole file (NUL-terminated, malloc'd); NULL on error. */
char *read_file(const char *path);

#endif
