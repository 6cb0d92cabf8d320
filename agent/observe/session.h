/* SPDX-License-Identifier: GPL-2.0 */
#ifndef PCOPY_AGENT_SESSION_H
#define PCOPY_AGENT_SESSION_H

/*
 * The session commands' netlink side: building requests, turning
 * PCOPY_CMD_SESSION_{NEW,GET} replies into struct session_stats, and the
 * one error line a failed command prints.
 */
#include "nl.h"
#include "stats.h"

#include "common/defs.h"

PCOPY_PUBLIC_BEGIN

/* The sessions of one request's replies (one for a "do", any for a dump). */
struct session_set {
	struct session_stats *v;
	unsigned int n;
	unsigned int alloc;
	char why[160];		/* what was wrong with a rejected reply */
};

/*
 * pnl_request() callback: parse one reply into @arg, a struct session_set.
 * A reply that breaks the ABI is refused with -EPROTO and set->why.
 */
int session_set_add(struct nlattr **tb, void *arg);
void session_set_free(struct session_set *set);

/*
 * Parse one reply; nested attributes are held to a policy per nesting
 * level and every attribute the ABI promises must be present.  Returns 0,
 * -ENOMEM, or -EPROTO with the reason in @why.
 */
PCOPY_PART_ONLY int session_parse(struct nlattr **tb, struct session_stats *s, char *why,
		  size_t len);

/* A request for @cmd carrying PCOPY_A_PID; NULL if out of memory. */
struct nl_msg *session_msg(struct pnl *p, uint8_t cmd, int flags, uint32_t pid);

/*
 * Send a "do" request whose reply is one session (SESSION_NEW, SESSION_GET)
 * and parse it into @s.  Returns 0 or a negative errno; on -EPROTO, @why
 * (@len bytes) says what was wrong.
 */
int session_do(struct pnl *p, struct nl_msg *msg, struct session_stats *s,
	       char *why, size_t len);

/* session_msg() for @cmd and @pid, then session_do(): the same returns. */
int session_call(struct pnl *p, uint8_t cmd, uint32_t pid, struct session_stats *s,
		 char *why, size_t len);

/* PCOPY_CMD_SESSION_NEW for @pid, with PCOPY_A_FOLLOW_FORKS if @follow_forks. */
int session_new(struct pnl *p, uint32_t pid, bool follow_forks, struct session_stats *s,
		char *why, size_t len);

/*
 * PCOPY_CMD_SESSION_GET for pid @pid (0: none) and session @id (0: none):
 * by id, that session, live or ended; by pid alone, the live session, or,
 * with @ended, if there is none, the newest ended one.  Returns like
 * session_do().
 */
int session_get(struct pnl *p, uint32_t pid, uint64_t id, bool ended,
		struct session_stats *s, char *why, size_t len);

/* What a command's errno means for its object, where it differs from strerror. */
struct errtext {
	int err;		/* positive errno */
	const char *text;
};

/*
 * The single error line of a failed command: "pcopy: WHAT: TEXT", TEXT from
 * @texts (ending with { 0 }, may be NULL), then the meanings common to every
 * command, then strerror().  @why details an -EPROTO.
 */
void session_perror(const char *what, int err, const struct errtext *texts,
		    const char *why);

/*
 * Send @msg (NULL: out of memory), a request answered by an ack only, and
 * wait for it; a failure is printed with session_perror(@what, @texts).
 * Returns 0 or the negative errno.
 */
int session_ack(struct pnl *p, struct nl_msg *msg, const char *what,
		const struct errtext *texts);

PCOPY_PUBLIC_END

#endif
