// SPDX-License-Identifier: GPL-2.0
/*
 * Session replies, held to the ABI in uapi/pcopy.h.  libnl checks each
 * attribute against the policy of its nesting level; what a policy cannot
 * say (required attributes, flags without payload, histogram bucket
 * ranges, repeated vCPUs) is checked here, so that a reply that does not
 * follow the ABI is refused instead of being shown as zeroes.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include <netlink/msg.h>

#include "common/defs.h"
#include "session.h"

static const struct nla_policy stats_policy[PCOPY_STATS_A_MAX + 1] = {
	[PCOPY_STATS_A_FAULTS]			= PNL_POLICY_U64,
	[PCOPY_STATS_A_NOWAIT_FAULTS]		= PNL_POLICY_U64,
	[PCOPY_STATS_A_INTERRUPTED]		= PNL_POLICY_U64,
	[PCOPY_STATS_A_LATENCY_SUM_NS]		= PNL_POLICY_U64,
	[PCOPY_STATS_A_LATENCY_MAX_NS]		= PNL_POLICY_U64,
	[PCOPY_STATS_A_OUTSTANDING]		= PNL_POLICY_U32,
	[PCOPY_STATS_A_OUTSTANDING_MAX]		= PNL_POLICY_U32,
	[PCOPY_STATS_A_VCPU_FAULTS]		= PNL_POLICY_U64,
	[PCOPY_STATS_A_NONVCPU_FAULTS]		= PNL_POLICY_U64,
	[PCOPY_STATS_A_NONVCPU_LATENCY_SUM_NS]	= PNL_POLICY_U64,
	[PCOPY_STATS_A_KNOWN_VCPUS]		= PNL_POLICY_U32,
	[PCOPY_STATS_A_BLOCKTIME_NS]		= PNL_POLICY_U64,
	[PCOPY_STATS_A_ELAPSED_NS]		= PNL_POLICY_U64,
	[PCOPY_STATS_A_DIRTY_PAGES]		= PNL_POLICY_U64,
	[PCOPY_STATS_A_DIRTY_RATE]		= PNL_POLICY_U64,
	[PCOPY_STATS_A_MISSED]			= PNL_POLICY_U64,
	[PCOPY_STATS_A_THREADS_DROPPED]		= PNL_POLICY_U64,
	[PCOPY_STATS_A_EXECS]			= PNL_POLICY_U64,
	[PCOPY_STATS_A_RING_LOST_RECORDS]	= PNL_POLICY_U64,
	[PCOPY_STATS_A_RING_LOST_GFNS]		= PNL_POLICY_U64,
};

static const struct nla_policy vcpu_policy[PCOPY_VCPU_A_MAX + 1] = {
	[PCOPY_VCPU_A_INDEX]		= PNL_POLICY_U32,
	[PCOPY_VCPU_A_TID]		= PNL_POLICY_U32,
	[PCOPY_VCPU_A_EXPLICIT]		= { .type = NLA_FLAG },
	[PCOPY_VCPU_A_FAULTS]		= PNL_POLICY_U64,
	[PCOPY_VCPU_A_LATENCY_SUM_NS]	= PNL_POLICY_U64,
	[PCOPY_VCPU_A_LATENCY_MIN_NS]	= PNL_POLICY_U64,
	[PCOPY_VCPU_A_LATENCY_MAX_NS]	= PNL_POLICY_U64,
	[PCOPY_VCPU_A_BLOCKTIME_NS]	= PNL_POLICY_U64,
	[PCOPY_VCPU_A_OUTSTANDING]	= PNL_POLICY_U32,
	[PCOPY_VCPU_A_DIRTY_PAGES]	= PNL_POLICY_U64,
	[PCOPY_VCPU_A_DIRTY_RATE]	= PNL_POLICY_U64,
	[PCOPY_VCPU_A_DETACHED]		= { .type = NLA_FLAG },
};

/* Attributes the ABI promises in every reply, by nesting level. */
struct required {
	int type;
	const char *name;
};
#define REQUIRED(t) { t, #t }

static const struct required stats_required[] = {
	REQUIRED(PCOPY_STATS_A_FAULTS),
	REQUIRED(PCOPY_STATS_A_NOWAIT_FAULTS),
	REQUIRED(PCOPY_STATS_A_INTERRUPTED),
	REQUIRED(PCOPY_STATS_A_LATENCY_SUM_NS),
	REQUIRED(PCOPY_STATS_A_LATENCY_MAX_NS),
	REQUIRED(PCOPY_STATS_A_OUTSTANDING),
	REQUIRED(PCOPY_STATS_A_OUTSTANDING_MAX),
	REQUIRED(PCOPY_STATS_A_VCPU_FAULTS),
	REQUIRED(PCOPY_STATS_A_NONVCPU_FAULTS),
	REQUIRED(PCOPY_STATS_A_NONVCPU_LATENCY_SUM_NS),
	REQUIRED(PCOPY_STATS_A_KNOWN_VCPUS),
	REQUIRED(PCOPY_STATS_A_BLOCKTIME_NS),
	REQUIRED(PCOPY_STATS_A_ELAPSED_NS),
	REQUIRED(PCOPY_STATS_A_DIRTY_PAGES),
	REQUIRED(PCOPY_STATS_A_DIRTY_RATE),
};

static const struct required vcpu_required[] = {
	REQUIRED(PCOPY_VCPU_A_INDEX),
	REQUIRED(PCOPY_VCPU_A_TID),
	REQUIRED(PCOPY_VCPU_A_FAULTS),
	REQUIRED(PCOPY_VCPU_A_LATENCY_SUM_NS),
	REQUIRED(PCOPY_VCPU_A_LATENCY_MIN_NS),
	REQUIRED(PCOPY_VCPU_A_LATENCY_MAX_NS),
	REQUIRED(PCOPY_VCPU_A_BLOCKTIME_NS),
	REQUIRED(PCOPY_VCPU_A_OUTSTANDING),
	REQUIRED(PCOPY_VCPU_A_DIRTY_PAGES),
	REQUIRED(PCOPY_VCPU_A_DIRTY_RATE),
};

static const struct required session_required[] = {
	REQUIRED(PCOPY_A_PID),
	REQUIRED(PCOPY_A_STATS),
	REQUIRED(PCOPY_A_HIST_NS),
	REQUIRED(PCOPY_A_HIST_US),
};

/* Histogram bucket presence is tracked in a u64 bitmap. */
_Static_assert(PCOPY_HIST_NS_BUCKETS <= 64 && PCOPY_HIST_US_BUCKETS <= 64,
	       "histogram bitmap too small");

static int malformed(char *why, size_t len, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static int malformed(char *why, size_t len, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(why, len, fmt, ap);
	va_end(ap);
	return -EPROTO;
}

static int check_required(struct nlattr **tb, const struct required *req,
			  unsigned int n, const char *where, char *why, size_t len)
{
	unsigned int i;

	for (i = 0; i < n; i++)
		if (!tb[req[i].type])
			return malformed(why, len, "%s lacks %s", where, req[i].name);
	return 0;
}

/*
 * libnl only says that a nest broke its policy; name the attribute.  Every
 * attribute these policies check is a u32 or u64 of exactly that size.
 */
static int policy_error(struct nlattr *nest, const struct nla_policy *policy,
			int max, const struct required *req, unsigned int nreq,
			const char *where, int err, char *why, size_t len)
{
	struct nlattr *a;
	unsigned int i;
	int rem;

	nla_for_each_nested(a, nest, rem) {
		int type = nla_type(a);

		if (type > max || !policy[type].maxlen || nla_len(a) == policy[type].maxlen)
			continue;
		for (i = 0; i < nreq && req[i].type != type; i++)
			;
		if (i < nreq)
			return malformed(why, len, "%s: %s has a %d-byte payload, not %u",
					 where, req[i].name, nla_len(a), policy[type].maxlen);
		return malformed(why, len, "%s: attribute type %d has a %d-byte payload, not %u",
				 where, type, nla_len(a), policy[type].maxlen);
	}
	return malformed(why, len, "%s: %s", where, nl_geterror(err));
}

/* A nest the kernel built with nla_nest_start() carries NLA_F_NESTED. */
static int check_nest(const struct nlattr *a, const char *name, char *why, size_t len)
{
	if (!nla_is_nested(a))
		return malformed(why, len, "%s lacks NLA_F_NESTED", name);
	return 0;
}

/* A flag is present or absent; a payload would mean it is something else. */
static int check_flag(const struct nlattr *a, const char *name, char *why, size_t len)
{
	if (a && nla_len(a))
		return malformed(why, len, "flag %s has a %d-byte payload", name,
				 nla_len(a));
	return 0;
}

static int parse_stats(struct nlattr *nest, struct session_stats *s, char *why,
		       size_t len)
{
	struct nlattr *tb[PCOPY_STATS_A_MAX + 1];
	int ret;

	ret = check_nest(nest, "PCOPY_A_STATS", why, len);
	if (ret)
		return ret;
	ret = nla_parse_nested(tb, PCOPY_STATS_A_MAX, nest, stats_policy);
	if (ret < 0)
		return policy_error(nest, stats_policy, PCOPY_STATS_A_MAX, stats_required,
				    ARRAY_SIZE(stats_required), "PCOPY_A_STATS", ret, why, len);
	ret = check_required(tb, stats_required, ARRAY_SIZE(stats_required),
			     "PCOPY_A_STATS", why, len);
	if (ret)
		return ret;

	s->faults = nla_get_u64(tb[PCOPY_STATS_A_FAULTS]);
	s->nowait_faults = nla_get_u64(tb[PCOPY_STATS_A_NOWAIT_FAULTS]);
	s->interrupted = nla_get_u64(tb[PCOPY_STATS_A_INTERRUPTED]);
	s->latency_sum_ns = nla_get_u64(tb[PCOPY_STATS_A_LATENCY_SUM_NS]);
	s->latency_max_ns = nla_get_u64(tb[PCOPY_STATS_A_LATENCY_MAX_NS]);
	s->outstanding = nla_get_u32(tb[PCOPY_STATS_A_OUTSTANDING]);
	s->outstanding_max = nla_get_u32(tb[PCOPY_STATS_A_OUTSTANDING_MAX]);
	s->vcpu_faults = nla_get_u64(tb[PCOPY_STATS_A_VCPU_FAULTS]);
	s->nonvcpu_faults = nla_get_u64(tb[PCOPY_STATS_A_NONVCPU_FAULTS]);
	s->nonvcpu_latency_sum_ns =
		nla_get_u64(tb[PCOPY_STATS_A_NONVCPU_LATENCY_SUM_NS]);
	s->known_vcpus = nla_get_u32(tb[PCOPY_STATS_A_KNOWN_VCPUS]);
	s->blocktime_ns = nla_get_u64(tb[PCOPY_STATS_A_BLOCKTIME_NS]);
	s->elapsed_ns = nla_get_u64(tb[PCOPY_STATS_A_ELAPSED_NS]);
	s->dirty_pages = nla_get_u64(tb[PCOPY_STATS_A_DIRTY_PAGES]);
	s->dirty_rate = nla_get_u64(tb[PCOPY_STATS_A_DIRTY_RATE]);
	/* newer than ABI 1's first modules: optional */
	if (tb[PCOPY_STATS_A_MISSED])
		s->missed = nla_get_u64(tb[PCOPY_STATS_A_MISSED]);
	if (tb[PCOPY_STATS_A_THREADS_DROPPED])
		s->threads_dropped = nla_get_u64(tb[PCOPY_STATS_A_THREADS_DROPPED]);
	if (tb[PCOPY_STATS_A_EXECS])
		s->execs = nla_get_u64(tb[PCOPY_STATS_A_EXECS]);
	if (tb[PCOPY_STATS_A_RING_LOST_RECORDS])
		s->ring_lost_records = nla_get_u64(tb[PCOPY_STATS_A_RING_LOST_RECORDS]);
	if (tb[PCOPY_STATS_A_RING_LOST_GFNS])
		s->ring_lost_gfns = nla_get_u64(tb[PCOPY_STATS_A_RING_LOST_GFNS]);
	return 0;
}

static int parse_vcpu(struct nlattr *nest, struct vcpu_stats *v, char *why,
		      size_t len)
{
	struct nlattr *tb[PCOPY_VCPU_A_MAX + 1];
	int ret;

	ret = check_nest(nest, "PCOPY_A_VCPU_ENTRY", why, len);
	if (ret)
		return ret;
	ret = nla_parse_nested(tb, PCOPY_VCPU_A_MAX, nest, vcpu_policy);
	if (ret < 0)
		return policy_error(nest, vcpu_policy, PCOPY_VCPU_A_MAX, vcpu_required,
				    ARRAY_SIZE(vcpu_required), "PCOPY_A_VCPU_ENTRY", ret,
				    why, len);
	ret = check_required(tb, vcpu_required, ARRAY_SIZE(vcpu_required),
			     "PCOPY_A_VCPU_ENTRY", why, len);
	if (ret)
		return ret;
	ret = check_flag(tb[PCOPY_VCPU_A_EXPLICIT], "PCOPY_VCPU_A_EXPLICIT", why, len);
	if (ret)
		return ret;

	v->index = nla_get_u32(tb[PCOPY_VCPU_A_INDEX]);
	if (v->index >= PCOPY_MAX_VCPUS)
		return malformed(why, len, "vCPU index %u is not below PCOPY_MAX_VCPUS (%u)",
				 v->index, PCOPY_MAX_VCPUS);
	v->tid = nla_get_u32(tb[PCOPY_VCPU_A_TID]);
	v->is_explicit = !!tb[PCOPY_VCPU_A_EXPLICIT];
	v->detached = !!tb[PCOPY_VCPU_A_DETACHED];
	v->faults = nla_get_u64(tb[PCOPY_VCPU_A_FAULTS]);
	v->latency_sum_ns = nla_get_u64(tb[PCOPY_VCPU_A_LATENCY_SUM_NS]);
	v->latency_min_ns = nla_get_u64(tb[PCOPY_VCPU_A_LATENCY_MIN_NS]);
	v->latency_max_ns = nla_get_u64(tb[PCOPY_VCPU_A_LATENCY_MAX_NS]);
	v->blocktime_ns = nla_get_u64(tb[PCOPY_VCPU_A_BLOCKTIME_NS]);
	v->outstanding = nla_get_u32(tb[PCOPY_VCPU_A_OUTSTANDING]);
	v->dirty_pages = nla_get_u64(tb[PCOPY_VCPU_A_DIRTY_PAGES]);
	v->dirty_rate = nla_get_u64(tb[PCOPY_VCPU_A_DIRTY_RATE]);
	return 0;
}

static int vcpu_cmp(const void *a, const void *b)
{
	const struct vcpu_stats *x = a, *y = b;

	return x->index < y->index ? -1 : x->index > y->index;
}

/* PCOPY_A_VCPUS: one PCOPY_A_VCPU_ENTRY per known vCPU, nothing else. */
static int parse_vcpus(struct nlattr *nest, struct session_stats *s, char *why,
		       size_t len)
{
	struct nlattr *a;
	unsigned int i, n = 0;
	int rem, ret;

	ret = check_nest(nest, "PCOPY_A_VCPUS", why, len);
	if (ret)
		return ret;
	nla_for_each_nested(a, nest, rem) {
		if (nla_type(a) != PCOPY_A_VCPU_ENTRY)
			return malformed(why, len, "PCOPY_A_VCPUS holds an attribute of type %d",
					 nla_type(a));
		if (++n > PCOPY_MAX_VCPUS)
			return malformed(why, len, "PCOPY_A_VCPUS holds more than %u entries",
					 PCOPY_MAX_VCPUS);
	}
	if (rem)
		return malformed(why, len, "PCOPY_A_VCPUS ends with %d stray bytes", rem);
	if (!n)
		return 0;

	s->vcpus = calloc(n, sizeof(*s->vcpus));
	if (!s->vcpus)
		return -ENOMEM;
	nla_for_each_nested(a, nest, rem) {
		ret = parse_vcpu(a, &s->vcpus[s->nr_vcpus], why, len);
		if (ret)
			return ret;
		s->nr_vcpus++;
	}
	qsort(s->vcpus, s->nr_vcpus, sizeof(*s->vcpus), vcpu_cmp);
	for (i = 1; i < s->nr_vcpus; i++)
		if (s->vcpus[i].index == s->vcpus[i - 1].index)
			return malformed(why, len, "vCPU %u is listed twice",
					 s->vcpus[i].index);
	return 0;
}

/*
 * A histogram nest: one u64 per non-empty bucket, attribute type = bucket
 * index + 1.  Type 0 is the zero-length padding nla_put_u64_64bit() may
 * insert on architectures that need aligned u64s; anything else out of
 * range, repeated or of the wrong size is refused.
 */
static int parse_hist(struct nlattr *nest, const char *name, uint64_t *h,
		      unsigned int n, char *why, size_t len)
{
	uint64_t seen = 0;
	struct nlattr *a;
	int rem, ret;

	ret = check_nest(nest, name, why, len);
	if (ret)
		return ret;
	memset(h, 0, n * sizeof(*h));
	nla_for_each_nested(a, nest, rem) {
		int type = nla_type(a);

		if (type == 0 && nla_len(a) == 0)
			continue;
		if (type < 1 || type > (int)n)
			return malformed(why, len, "%s: bucket attribute type %d is outside 1..%u",
					 name, type, n);
		if (nla_len(a) != sizeof(uint64_t))
			return malformed(why, len, "%s: bucket %d has a %d-byte payload, not a u64",
					 name, type - 1, nla_len(a));
		if (seen & (1ull << (type - 1)))
			return malformed(why, len, "%s: bucket %d appears twice", name,
					 type - 1);
		seen |= 1ull << (type - 1);
		h[type - 1] = nla_get_u64(a);
	}
	if (rem)
		return malformed(why, len, "%s ends with %d stray bytes", name, rem);
	return 0;
}

int session_parse(struct nlattr **tb, struct session_stats *s, char *why,
		  size_t len)
{
	int ret;

	memset(s, 0, sizeof(*s));
	ret = check_required(tb, session_required, ARRAY_SIZE(session_required),
			     "the reply", why, len);
	if (ret)
		return ret;
	ret = check_flag(tb[PCOPY_A_TRUNCATED], "PCOPY_A_TRUNCATED", why, len);
	if (ret)
		return ret;
	s->truncated = !!tb[PCOPY_A_TRUNCATED];
	/* the table is there, or its absence is announced: never both */
	if (!tb[PCOPY_A_VCPUS] == !s->truncated)
		return malformed(why, len, s->truncated ?
				 "the reply has both PCOPY_A_VCPUS and PCOPY_A_TRUNCATED" :
				 "the reply lacks PCOPY_A_VCPUS");

	s->pid = nla_get_u32(tb[PCOPY_A_PID]);
	/* ABI 3: optional, a module of ABI 2 has neither */
	if (tb[PCOPY_A_SESSION_ID])
		s->session_id = nla_get_u64(tb[PCOPY_A_SESSION_ID]);
	ret = check_flag(tb[PCOPY_A_ENDED], "PCOPY_A_ENDED", why, len);
	if (!ret)
		ret = check_flag(tb[PCOPY_A_AUTO_ATTACHED], "PCOPY_A_AUTO_ATTACHED", why, len);
	if (ret)
		return ret;
	s->auto_attached = !!tb[PCOPY_A_AUTO_ATTACHED];
	ret = check_flag(tb[PCOPY_A_FOLLOW_FORKS], "PCOPY_A_FOLLOW_FORKS", why, len);
	if (ret)
		return ret;
	s->follow_forks = !!tb[PCOPY_A_FOLLOW_FORKS];
	if (tb[PCOPY_A_PARENT_ID])
		s->parent_id = nla_get_u64(tb[PCOPY_A_PARENT_ID]);
	if (tb[PCOPY_A_ENDED]) {
		if (!tb[PCOPY_A_END_REASON] || !tb[PCOPY_A_END_TIME])
			return malformed(why, len, "an ended session lacks %s",
					 tb[PCOPY_A_END_REASON] ? "PCOPY_A_END_TIME" :
					 "PCOPY_A_END_REASON");
		s->ended = true;
		s->end_reason = nla_get_u32(tb[PCOPY_A_END_REASON]);
		s->end_time_ns = nla_get_u64(tb[PCOPY_A_END_TIME]);
	}
	ret = parse_stats(tb[PCOPY_A_STATS], s, why, len);
	if (ret)
		goto err;
	if (tb[PCOPY_A_VCPUS]) {
		ret = parse_vcpus(tb[PCOPY_A_VCPUS], s, why, len);
		if (ret)
			goto err;
	}
	ret = parse_hist(tb[PCOPY_A_HIST_NS], "PCOPY_A_HIST_NS", s->hist_ns,
			 PCOPY_HIST_NS_BUCKETS, why, len);
	if (ret)
		goto err;
	ret = parse_hist(tb[PCOPY_A_HIST_US], "PCOPY_A_HIST_US", s->hist_us,
			 PCOPY_HIST_US_BUCKETS, why, len);
	if (ret)
		goto err;
	return 0;
err:
	session_stats_free(s);
	return ret;
}

int session_set_add(struct nlattr **tb, void *arg)
{
	struct session_set *set = arg;
	int ret;

	if (set->n == set->alloc) {
		unsigned int alloc = set->alloc ? 2 * set->alloc : 4;
		struct session_stats *v;

		v = realloc(set->v, alloc * sizeof(*v));
		if (!v)
			return -ENOMEM;
		set->v = v;
		set->alloc = alloc;
	}
	ret = session_parse(tb, &set->v[set->n], set->why, sizeof(set->why));
	if (ret)
		return ret;
	set->n++;
	return 0;
}

void session_set_free(struct session_set *set)
{
	unsigned int i;

	for (i = 0; i < set->n; i++)
		session_stats_free(&set->v[i]);
	free(set->v);
	set->v = NULL;
	set->n = set->alloc = 0;
}

struct nl_msg *session_msg(struct pnl *p, uint8_t cmd, int flags, uint32_t pid)
{
	struct nl_msg *msg = pnl_msg(p, cmd, flags);

	if (msg && nla_put_u32(msg, PCOPY_A_PID, pid) < 0) {
		nlmsg_free(msg);
		return NULL;
	}
	return msg;
}

int session_do(struct pnl *p, struct nl_msg *msg, struct session_stats *s,
	       char *why, size_t len)
{
	struct session_set set = { 0 };
	int ret;

	ret = pnl_request(p, msg, session_set_add, &set);
	if (ret) {
		snprintf(why, len, "%s", set.why);
		goto out;
	}
	if (set.n != 1) {
		ret = malformed(why, len, "%u sessions in the reply, not one", set.n);
		goto out;
	}
	/* hand the one session, and its vCPU table, to the caller */
	*s = set.v[0];
	set.n = 0;
out:
	session_set_free(&set);
	return ret;
}

int session_ack(struct pnl *p, struct nl_msg *msg, const char *what,
		const struct errtext *texts)
{
	int ret = msg ? pnl_request(p, msg, NULL, NULL) : -ENOMEM;

	if (ret)
		session_perror(what, ret, texts, NULL);
	return ret;
}

void session_perror(const char *what, int err, const struct errtext *texts,
		    const char *why)
{
	static const struct errtext common[] = {
		{ EPERM, "permission denied (pcopy needs CAP_NET_ADMIN)" },
		{ EAGAIN, "the sessions changed during the listing; try again" },
		{ EOPNOTSUPP, "the module does not know this command (older than the agent?)" },
		{ ESHUTDOWN, "the module is being unloaded" },
		{ ENOMEM, "out of memory" },
		{ 0, NULL },
	};
	const struct errtext *t;

	err = -err;
	if (err == EPROTO) {
		fprintf(stderr, "pcopy: %s: malformed reply from the module%s%s\n",
			what, why && *why ? ": " : "", why ? why : "");
		return;
	}
	for (t = texts; t && t->err; t++)
		if (t->err == err)
			goto found;
	for (t = common; t->err; t++)
		if (t->err == err)
			goto found;
	fprintf(stderr, "pcopy: %s: %s\n", what, strerror(err));
	return;
found:
	fprintf(stderr, "pcopy: %s: %s\n", what, t->text);
}

int session_call(struct pnl *p, uint8_t cmd, uint32_t pid, struct session_stats *s,
		 char *why, size_t len)
{
	struct nl_msg *msg = session_msg(p, cmd, 0, pid);

	return msg ? session_do(p, msg, s, why, len) : -ENOMEM;
}

int session_get(struct pnl *p, uint32_t pid, uint64_t id, bool ended,
		struct session_stats *s, char *why, size_t len)
{
	struct nl_msg *msg = pnl_msg(p, PCOPY_CMD_SESSION_GET, 0);

	if (!msg)
		return -ENOMEM;
	if ((pid && nla_put_u32(msg, PCOPY_A_PID, pid) < 0) ||
	    (id && nla_put_u64(msg, PCOPY_A_SESSION_ID, id) < 0) ||
	    (ended && nla_put_flag(msg, PCOPY_A_ENDED) < 0)) {
		nlmsg_free(msg);
		return -ENOMEM;
	}
	return session_do(p, msg, s, why, len);
}

int session_new(struct pnl *p, uint32_t pid, bool follow_forks, struct session_stats *s,
		char *why, size_t len)
{
	struct nl_msg *msg = session_msg(p, PCOPY_CMD_SESSION_NEW, 0, pid);

	if (!msg)
		return -ENOMEM;
	if (follow_forks && nla_put_flag(msg, PCOPY_A_FOLLOW_FORKS) < 0) {
		nlmsg_free(msg);
		return -ENOMEM;
	}
	return session_do(p, msg, s, why, len);
}
