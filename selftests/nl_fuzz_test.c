// SPDX-License-Identifier: GPL-2.0
/*
 * Netlink fuzzer: generated and mutated messages, sent raw on a
 * NETLINK_GENERIC socket to every pcopy command and to unknown ones, from a
 * privileged and an unprivileged sender.
 *
 * Each message is one of: well formed; random attributes (types 0, in
 * range, above PCOPY_A_MAX, with NLA_F_NESTED / NLA_F_NET_BYTEORDER; lengths
 * 0, short, odd, huge); nested where flat is expected, and deep nesting;
 * header mutations (nlmsg_len short, long, past the buffer; a truncated
 * genlmsghdr; reserved and version fields; NLM_F_* none, ACK, DUMP,
 * garbage; control message types; an unregistered family); attribute
 * lengths past the message or below the header; bit flips; several
 * messages in one send.
 *
 * What the kernel does with a message up to the family's handler is
 * predicted exactly, by the same walk netlink_rcv_skb() and genetlink make:
 * no reply, an ack, or an exact errno (EINVAL, ENOENT, EOPNOTSUPP, and EPERM
 * for every known command from the unprivileged sender).  Since 6.2
 * genetlink looks up the do or dump handler the flags ask for (split ops)
 * before it checks GENL_ADMIN_PERM, so there a dump of a command that has
 * none is EOPNOTSUPP even for the unprivileged sender; before, EPERM.  What the handler
 * answers must be a well-formed reply, or an error from ALLOWED_ERRNOS.
 * Every reply is checked: its length, port, sequence, the echoed header
 * and extack attributes of an error, the attributes of a reply, the DONE
 * of a dump.  A sentinel (NLMSG_NOOP + ACK) every SENTINEL_EVERY messages
 * must be answered within a second: the socket never hangs.
 *
 * Safety: every message header the kernel will parse (including ones that
 * a short nlmsg_len makes it find inside another message) is rewritten to
 * carry the pcopy family, a control type or a family id proven unused, so
 * no other family ever sees fuzz; every PCOPY_A_PID and PCOPY_A_TID the
 * family will parse names our own idle child, 0, or a pid above
 * PID_MAX_LIMIT.  The sessions it makes are deleted at the end.
 *
 * Environment: PCOPY_FUZZ_N (privileged messages, default 100000),
 * PCOPY_FUZZ_UNPRIV_N (default 25000), PCOPY_FUZZ_SEED (printed).
 */
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/utsname.h>
#include <sys/wait.h>
#include <unistd.h>

#include <linux/genetlink.h>
#include <linux/netlink.h>

#include "kselftest_harness.h"
#include "lib.h"

#undef TEST_TIMEOUT_DEFAULT
#define TEST_TIMEOUT_DEFAULT 600

#define BUF_SIZE	65536
#define MAX_MSG		16384	/* one generated message */
#define MAX_PARTS	4	/* messages in one send */
#define SENTINEL_EVERY	256
#define UNUSED_FAMILY	0xfff0
#define NO_PID		(4194304u + 77)	/* above PID_MAX_LIMIT */

/* errnos the handlers and the attribute validation may answer */
static const int allowed_errnos[] = {
	0, EINVAL, ERANGE, EOPNOTSUPP, ENOENT, ESRCH, EEXIST,
};

static uint32_t pick(const uint32_t *v, size_t n)
{
	return v[rnd() % n];
}

#define PICK(a) pick(a, sizeof(a) / sizeof(a[0]))

/* Does genetlink resolve do/dump handlers before the permission (>= 6.2)? */
static bool split_ops(void)
{
	static int cached = -1;
	struct utsname u;
	unsigned int maj = 0, min = 0;

	if (cached < 0) {
		cached = uname(&u) == 0 &&
			 sscanf(u.release, "%u.%u", &maj, &min) == 2 &&
			 (maj > 6 || (maj == 6 && min >= 2));
	}
	return cached;
}

struct fuzz {
	int fd;
	uint32_t portid;
	int fam;
	pid_t target;
	bool priv;
	uint32_t seq;
	uint8_t *buf;		/* what is sent */
	uint8_t *rx;

	/* results */
	uint64_t msgs, sends, replies, sentinels;
	uint64_t per_cmd[PCOPY_CMD_MAX + 3];	/* last: unknown commands */
	uint64_t handled, handler_ok, data_replies, dumps_done;
	uint64_t err_hist[135];
	uint64_t predicted_err, no_reply, acks, empty_sends;
	uint64_t bad;
	char first_bad[512];
};

#define BAD(f, ...) do {						\
	if (!(f)->bad++)						\
		snprintf((f)->first_bad, sizeof((f)->first_bad), __VA_ARGS__); \
} while (0)

/* ---- building messages ---- */

struct mb {
	uint8_t *b;
	size_t len;
	size_t limit;		/* end of the message being built */
};

static void *mb_put(struct mb *m, size_t n)
{
	void *p;

	if (m->len + NLMSG_ALIGN(n) > m->limit)
		return NULL;
	p = m->b + m->len;
	memset(p, 0, NLMSG_ALIGN(n));
	m->len += NLMSG_ALIGN(n);
	return p;
}

static void hdr_put(struct mb *m, struct fuzz *f, uint16_t flags, uint8_t cmd)
{
	struct nlmsghdr *nlh = mb_put(m, NLMSG_HDRLEN);
	struct genlmsghdr *gh = mb_put(m, GENL_HDRLEN);

	nlh->nlmsg_type = f->fam;
	nlh->nlmsg_flags = flags;
	nlh->nlmsg_seq = ++f->seq;
	gh->cmd = cmd;
	gh->version = PCOPY_GENL_VERSION;
}

static void hdr_end(struct mb *m, size_t start)
{
	((struct nlmsghdr *)(m->b + start))->nlmsg_len = m->len - start;
}

static struct nlattr *attr_put(struct mb *m, uint16_t type, size_t len)
{
	struct nlattr *a = mb_put(m, NLA_HDRLEN + len);
	size_t i;

	if (!a)
		return NULL;
	a->nla_type = type;
	a->nla_len = NLA_HDRLEN + len;
	for (i = 0; i < len; i++)
		((uint8_t *)a)[NLA_HDRLEN + i] = rnd();
	return a;
}

static void attr_u32(struct mb *m, uint16_t type, uint32_t v)
{
	struct nlattr *a = attr_put(m, type, 4);

	if (a)
		memcpy((char *)a + NLA_HDRLEN, &v, 4);
}

static void attr_u64(struct mb *m, uint16_t type, uint64_t v)
{
	struct nlattr *a = attr_put(m, type, 8);

	if (a)
		memcpy((char *)a + NLA_HDRLEN, &v, 8);
}

static void attr_str(struct mb *m, uint16_t type, size_t len, bool nul)
{
	struct nlattr *a = attr_put(m, type, len);
	size_t i;

	if (!a)
		return;
	for (i = 0; i < len; i++)
		((char *)a)[NLA_HDRLEN + i] = 'a' + i % 26;
	if (nul && len)
		((char *)a)[NLA_HDRLEN + len - 1] = 0;
}

static uint16_t rnd_type(void)
{
	static const uint32_t types[] = {
		0, PCOPY_A_PAD, PCOPY_A_PID, PCOPY_A_TID, PCOPY_A_VCPU,
		PCOPY_A_MAX, PCOPY_A_MAX + 1, PCOPY_A_MAX + 2, 0x3fff, 0x7fff,
	};
	uint16_t t;

	switch (rnd() % 4) {
	case 0:
		t = PICK(types);
		break;
	case 1:
		t = rnd();
		break;
	default:
		t = rnd() % (PCOPY_A_MAX + 3);
	}
	switch (rnd() % 8) {
	case 0:
		t |= NLA_F_NESTED;
		break;
	case 1:
		t |= NLA_F_NET_BYTEORDER;
		break;
	}
	return t;
}

static size_t rnd_len(void)
{
	static const uint32_t lens[] = {
		0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 12, 15, 16, 17, 31, 32, 33, 63,
		64, 255, 256, 1000, 4095, 8000,
	};

	return PICK(lens);
}

/* Attributes a command really takes, with plausible values. */
static void good_attrs(struct mb *m, uint8_t cmd)
{
	static const uint32_t vcpus[] = {
		0, 1, 7, PCOPY_MAX_VCPUS - 1, PCOPY_MAX_VCPUS, PCOPY_VCPU_NONE,
		0x7fffffff,
	};

	switch (cmd) {
	case PCOPY_CMD_GET_INFO:
		if (rnd() % 4 == 0)
			attr_u32(m, PCOPY_A_ABI_VERSION, rnd() % 3);
		if (rnd() % 4 == 0)
			attr_u64(m, PCOPY_A_FEATURES, rnd() & (rnd() % 2 ? __PCOPY_FEAT_ALL : ~0ull));
		if (rnd() % 4 == 0)
			attr_str(m, PCOPY_A_MODULE_VERSION, rnd() % 40, rnd() % 4);
		break;
	case PCOPY_CMD_SET_VCPU:
		if (rnd() % 8)
			attr_u32(m, PCOPY_A_TID, 0);
		if (rnd() % 8)
			attr_u32(m, PCOPY_A_VCPU, rnd() % 2 ? PICK(vcpus) : (uint32_t)rnd());
		/* fall through */
	default:
		if (rnd() % 8)
			attr_u32(m, PCOPY_A_PID, 0);
	}
}

static void random_attrs(struct mb *m, int n)
{
	while (n--) {
		uint16_t t = rnd_type();
		size_t len = rnd_len();

		if (rnd() % 3 == 0 && len)
			attr_str(m, t, len, rnd() % 2);
		else
			attr_put(m, t, len);
	}
}

/* A nest of @depth levels of random content under @type. */
static void nest_put(struct mb *m, uint16_t type, int depth)
{
	size_t start = m->len;
	struct nlattr *a = mb_put(m, NLA_HDRLEN);

	if (!a)
		return;
	a->nla_type = type | (rnd() % 4 ? NLA_F_NESTED : 0);
	if (depth > 1 && rnd() % 8)
		nest_put(m, rnd() % (PCOPY_STATS_A_MAX + 2), depth - 1);
	else
		random_attrs(m, rnd() % 4);
	((struct nlattr *)(m->b + start))->nla_len = m->len - start;
}

static uint8_t rnd_cmd(void)
{
	switch (rnd() % 8) {
	case 0:
		return rnd();
	case 1:
		return PCOPY_CMD_MAX + 1 + rnd() % 3;
	case 2:
		return PCOPY_CMD_UNSPEC;
	default:
		return 1 + rnd() % PCOPY_CMD_MAX;
	}
}

static uint16_t rnd_flags(void)
{
	static const uint32_t flags[] = {
		NLM_F_REQUEST, NLM_F_REQUEST | NLM_F_ACK,
		NLM_F_REQUEST | NLM_F_DUMP, NLM_F_REQUEST | NLM_F_DUMP | NLM_F_ACK,
		NLM_F_REQUEST | NLM_F_ECHO, NLM_F_REQUEST | NLM_F_ROOT,
		NLM_F_REQUEST | NLM_F_MATCH | NLM_F_ACK, NLM_F_REQUEST | NLM_F_EXCL,
		NLM_F_REQUEST | NLM_F_ACK | NLM_F_MULTI, 0, NLM_F_ACK,
	};

	return rnd() % 16 ? PICK(flags) : (uint16_t)rnd();
}

/* One message at @m->len; returns nothing, the header carries its length. */
static void gen_one(struct fuzz *f, struct mb *m)
{
	size_t start = m->len;
	unsigned int kind = rnd() % 100;
	struct nlmsghdr *nlh;
	struct genlmsghdr *gh;
	uint8_t cmd = rnd_cmd();

	m->limit = start + MAX_MSG;
	if (kind < 30) {
		static const uint32_t good_flags[] = {
			NLM_F_REQUEST, NLM_F_REQUEST | NLM_F_ACK,
			NLM_F_REQUEST | NLM_F_DUMP, NLM_F_REQUEST | NLM_F_ACK,
		};

		cmd = 1 + rnd() % PCOPY_CMD_MAX;
		hdr_put(m, f, PICK(good_flags), cmd);
		good_attrs(m, cmd);
		if (rnd() % 8 == 0)
			random_attrs(m, 1);
	} else if (kind < 55) {
		hdr_put(m, f, rnd_flags(), cmd);
		if (rnd() % 2)
			good_attrs(m, cmd);
		random_attrs(m, rnd() % 9);
	} else if (kind < 70) {
		static const uint32_t nest_types[] = {
			PCOPY_A_STATS, PCOPY_A_VCPUS, PCOPY_A_VCPU_ENTRY,
			PCOPY_A_HIST_NS, PCOPY_A_HOOKS, PCOPY_A_PID, PCOPY_A_TID,
			PCOPY_A_VCPU, PCOPY_A_MODULE_VERSION, 0, PCOPY_A_MAX + 1,
		};

		hdr_put(m, f, rnd_flags(), cmd);
		if (rnd() % 2)
			good_attrs(m, cmd);
		nest_put(m, PICK(nest_types), 1 + rnd() % 32);
		if (rnd() % 2)
			good_attrs(m, cmd);
	} else {
		/* a well-formed base for the mutations below */
		hdr_put(m, f, rnd() % 2 ? NLM_F_REQUEST | NLM_F_ACK : rnd_flags(), cmd);
		good_attrs(m, cmd);
		if (rnd() % 3 == 0)
			random_attrs(m, 1 + rnd() % 3);
	}
	hdr_end(m, start);
	nlh = (void *)(m->b + start);
	gh = NLMSG_DATA(nlh);

	if (kind >= 70 && kind < 85) {
		static const uint32_t lens[] = { 0, 1, 15, 16, 17, 18, 19, 20, 21, 0xffffffff };
		static const uint32_t types[] = { 1, 2, 3, 4, 15, UNUSED_FAMILY };

		switch (rnd() % 7) {
		case 0:
			nlh->nlmsg_len = PICK(lens);
			break;
		case 1:		/* one byte short, or past the end */
			if (rnd() % 2)
				nlh->nlmsg_len -= 1;
			else
				nlh->nlmsg_len += 1 + rnd() % 300;
			break;
		case 2:
			gh->reserved = 1 + rnd() % 0xffff;
			break;
		case 3:
			gh->version = rnd();
			break;
		case 4:
			nlh->nlmsg_flags = rnd();
			break;
		case 5:
			nlh->nlmsg_type = PICK(types);
			break;
		default:	/* the genlmsghdr cut short */
			nlh->nlmsg_len = NLMSG_HDRLEN + rnd() % GENL_HDRLEN;
			m->len = start + NLMSG_ALIGN(nlh->nlmsg_len);
		}
	} else if (kind >= 85 && kind < 95 && nlh->nlmsg_len > NLMSG_HDRLEN + GENL_HDRLEN) {
		/* break the length of the first attribute */
		struct nlattr *a = (void *)((char *)gh + GENL_HDRLEN);
		static const uint32_t lens[] = { 0, 1, 2, 3, 5, 7, 0xffff };

		if (rnd() % 2)
			a->nla_len = PICK(lens);
		else
			a->nla_len += 1 + rnd() % 64;
	} else if (kind >= 95) {
		size_t len = m->len - start;
		int flips = 1 + rnd() % 8;

		while (flips--) {
			size_t at = rnd() % len;

			/* type and seq are set below; everything else may flip */
			m->b[start + at] ^= 1 << (rnd() % 8);
		}
	}
}

/* ---- the kernel's walk: safety and prediction ---- */

enum expect_kind { EXP_NONE, EXP_ERR, EXP_HANDLER };

struct expect {
	enum expect_kind kind;
	uint32_t seq;
	int err;		/* EXP_ERR: the exact errno (0: an ack) */
	bool dump;
	uint8_t cmd;
};

static uint32_t safe_pid(struct fuzz *f)
{
	static const uint32_t other[] = { 0, NO_PID, 0xffffffff, 0x80000000 };

	return rnd() % 2 ? (uint32_t)f->target : PICK(other);
}

/*
 * Walk the buffer as netlink_rcv_skb() will, make each message safe, and
 * predict what happens to it.  Returns the number of messages in @e.
 *
 * A dump that starts keeps running while later messages of the same send
 * are answered (and a second dump would be refused with EBUSY while it
 * runs), so a send ends with its first dump: *@sent is cut there.
 */
static int walk(struct fuzz *f, size_t *sentp, struct expect *e)
{
	size_t sent = *sentp;
	size_t off = 0;
	int n = 0;

	while (sent - off >= NLMSG_HDRLEN && n < 64) {
		struct nlmsghdr *nlh = (void *)(f->buf + off);
		struct genlmsghdr *gh = NLMSG_DATA(nlh);
		struct expect x = { EXP_NONE };
		uint16_t fl;
		size_t ml;

		if (nlh->nlmsg_len < NLMSG_HDRLEN || nlh->nlmsg_len > sent - off)
			break;
		/* nothing but pcopy, control messages or nobody */
		if (nlh->nlmsg_type >= NLMSG_MIN_TYPE && nlh->nlmsg_type != f->fam)
			nlh->nlmsg_type = UNUSED_FAMILY;
		nlh->nlmsg_seq = ++f->seq;
		x.seq = nlh->nlmsg_seq;
		fl = nlh->nlmsg_flags;
		if (nlh->nlmsg_type == f->fam && nlh->nlmsg_len >= NLMSG_HDRLEN + GENL_HDRLEN) {
			uint8_t *p = (uint8_t *)gh + GENL_HDRLEN;
			int rem = nlh->nlmsg_len - NLMSG_HDRLEN - GENL_HDRLEN;
			struct nlattr *a = (void *)p;

			for (; rem >= NLA_HDRLEN && a->nla_len >= NLA_HDRLEN && a->nla_len <= rem;
			     rem -= NLA_ALIGN(a->nla_len),
			     a = (void *)((char *)a + NLA_ALIGN(a->nla_len))) {
				uint16_t t = a->nla_type & NLA_TYPE_MASK;
				uint32_t v;

				if ((t == PCOPY_A_PID || t == PCOPY_A_TID) &&
				    a->nla_len >= NLA_HDRLEN + 4) {
					v = safe_pid(f);
					memcpy((char *)a + NLA_HDRLEN, &v, 4);
				}
				if ((int)NLA_ALIGN(a->nla_len) > rem)
					break;
			}
			x.cmd = gh->cmd;
		}

		if (!(fl & NLM_F_REQUEST) || nlh->nlmsg_type < NLMSG_MIN_TYPE) {
			x.kind = fl & NLM_F_ACK ? EXP_ERR : EXP_NONE;
		} else if (nlh->nlmsg_type != f->fam) {
			x.kind = EXP_ERR;
			x.err = ENOENT;
		} else if (nlh->nlmsg_len < NLMSG_HDRLEN + GENL_HDRLEN || gh->reserved) {
			x.kind = EXP_ERR;
			x.err = EINVAL;
		} else {
			uint16_t rest = fl;

			if ((rest & NLM_F_DUMP) == NLM_F_DUMP)
				rest &= ~NLM_F_DUMP;
			x.dump = (fl & NLM_F_DUMP) == NLM_F_DUMP;
			x.kind = EXP_ERR;
			if (rest & ~(NLM_F_REQUEST | NLM_F_ACK | NLM_F_ECHO))
				x.err = EINVAL;
			else if (gh->cmd < 1 || gh->cmd > PCOPY_CMD_MAX)
				x.err = EOPNOTSUPP;
			else if (split_ops() && x.dump &&
				 gh->cmd != PCOPY_CMD_SESSION_GET)
				x.err = EOPNOTSUPP;
			else if (!f->priv)
				x.err = EPERM;
			else if (x.dump && gh->cmd != PCOPY_CMD_SESSION_GET)
				x.err = EOPNOTSUPP;
			else
				x.kind = EXP_HANDLER;
		}
		if (nlh->nlmsg_type == f->fam)
			f->per_cmd[x.cmd <= PCOPY_CMD_MAX ? x.cmd : PCOPY_CMD_MAX + 1]++;
		else
			f->per_cmd[PCOPY_CMD_MAX + 2]++;
		e[n++] = x;
		ml = NLMSG_ALIGN(nlh->nlmsg_len);
		off += ml > sent - off ? sent - off : ml;
		if (x.kind == EXP_HANDLER && x.dump) {
			*sentp = off;
			break;
		}
	}
	return n;
}

/* ---- replies ---- */

/* The attributes in [p, p + len) tile it exactly; nested ones too, @depth deep. */
static bool attrs_ok(const uint8_t *p, int len, int depth)
{
	const struct nlattr *a = (const void *)p;

	while (len >= NLA_HDRLEN) {
		if (a->nla_len < NLA_HDRLEN || a->nla_len > len)
			return false;
		if ((a->nla_type & NLA_F_NESTED) && depth > 0 &&
		    !attrs_ok((const uint8_t *)a + NLA_HDRLEN, a->nla_len - NLA_HDRLEN,
			      depth - 1))
			return false;
		len -= NLA_ALIGN(a->nla_len);
		a = (const void *)((const char *)a + NLA_ALIGN(a->nla_len));
	}
	return len == 0;
}

/* An NLMSG_ERROR: returns its errno (>= 0), or -1 if malformed. */
static int check_error(struct fuzz *f, const struct nlmsghdr *nlh)
{
	const struct nlmsgerr *err = NLMSG_DATA(nlh);
	struct nlattr *tb[NLMSGERR_ATTR_MAX + 1] = { 0 };
	size_t hlen = sizeof(*err);

	if (nlh->nlmsg_len < NLMSG_HDRLEN + sizeof(*err) || err->error > 0 ||
	    err->error < -134 || err->msg.nlmsg_seq != nlh->nlmsg_seq) {
		BAD(f, "malformed NLMSG_ERROR (len %u, error %d)", nlh->nlmsg_len,
		    nlh->nlmsg_len >= NLMSG_HDRLEN + sizeof(*err) ? err->error : 0);
		return -1;
	}
	/* the echoed request, then the extack attributes, aligned */
	if (!(nlh->nlmsg_flags & NLM_F_CAPPED) && err->error)
		hlen = NLMSG_ALIGN(hlen + err->msg.nlmsg_len - NLMSG_HDRLEN);
	if (nlh->nlmsg_len < NLMSG_HDRLEN + hlen) {
		BAD(f, "NLMSG_ERROR shorter (%u) than the message it echoes", nlh->nlmsg_len);
		return -1;
	}
	if (nlh->nlmsg_flags & NLM_F_ACK_TLVS) {
		const uint8_t *tlv = (const uint8_t *)err + hlen;
		int tlen = nlh->nlmsg_len - NLMSG_HDRLEN - hlen;

		if (!attrs_ok(tlv, tlen, 0) ||
		    nla_parse(tb, NLMSGERR_ATTR_MAX, (struct nlattr *)tlv, tlen, NULL)) {
			BAD(f, "bad extack attributes after error %d", err->error);
			return -1;
		}
		if (tb[NLMSGERR_ATTR_MSG] &&
		    (nla_len(tb[NLMSGERR_ATTR_MSG]) < 1 ||
		     ((char *)nla_data(tb[NLMSGERR_ATTR_MSG]))[nla_len(tb[NLMSGERR_ATTR_MSG]) - 1])) {
			BAD(f, "extack message without its NUL");
			return -1;
		}
		if (tb[NLMSGERR_ATTR_OFFS] &&
		    (nla_len(tb[NLMSGERR_ATTR_OFFS]) != 4 ||
		     nla_get_u32(tb[NLMSGERR_ATTR_OFFS]) >= err->msg.nlmsg_len)) {
			BAD(f, "extack offset %u outside the %u-byte message",
			    nla_get_u32(tb[NLMSGERR_ATTR_OFFS]), err->msg.nlmsg_len);
			return -1;
		}
	}
	return -err->error;
}

/* A pcopy message: a known command and attributes that tile it. */
static bool check_data(const struct fuzz *f, const struct nlmsghdr *nlh)
{
	const struct genlmsghdr *gh = NLMSG_DATA(nlh);

	return nlh->nlmsg_type == f->fam &&
	       nlh->nlmsg_len >= NLMSG_HDRLEN + GENL_HDRLEN &&
	       gh->cmd >= 1 && gh->cmd <= PCOPY_CMD_MAX &&
	       attrs_ok((const uint8_t *)gh + GENL_HDRLEN,
			nlh->nlmsg_len - NLMSG_HDRLEN - GENL_HDRLEN, 3);
}

static bool errno_allowed(int err)
{
	size_t i;

	for (i = 0; i < sizeof(allowed_errnos) / sizeof(allowed_errnos[0]); i++)
		if (allowed_errnos[i] == err)
			return true;
	return false;
}

struct rx_state {
	int next;		/* expectation being answered */
	bool dump_open;		/* a dump has sent parts but no DONE */
};

/* Match one reply against the expectations; false stops the message. */
static bool on_reply(struct fuzz *f, const struct nlmsghdr *nlh,
		     const struct expect *e, int ne, struct rx_state *st)
{
	const struct expect *x;
	int err;

	f->replies++;
	if (nlh->nlmsg_pid != f->portid) {
		BAD(f, "reply to port %u, we are %u", nlh->nlmsg_pid, f->portid);
		return false;
	}
	/* expectations that answer nothing are skipped over */
	while (st->next < ne &&
	       (e[st->next].kind == EXP_NONE || e[st->next].seq != nlh->nlmsg_seq)) {
		x = &e[st->next];
		if (x->kind == EXP_ERR) {
			BAD(f, "no answer to seq %u (expected errno %d), got seq %u type %u",
			    x->seq, x->err, nlh->nlmsg_seq, nlh->nlmsg_type);
			return false;
		}
		st->next++;
	}
	if (st->next >= ne) {
		BAD(f, "unexpected reply seq %u type %u", nlh->nlmsg_seq, nlh->nlmsg_type);
		return false;
	}
	x = &e[st->next];
	if (nlh->nlmsg_type == NLMSG_ERROR) {
		err = check_error(f, nlh);
		if (err < 0)
			return false;
		f->err_hist[err]++;
		if (x->kind == EXP_ERR && err != x->err) {
			BAD(f, "seq %u cmd %u: errno %d, predicted %d", x->seq, x->cmd,
			    err, x->err);
			return false;
		}
		if (x->kind == EXP_HANDLER) {
			if (!errno_allowed(err)) {
				BAD(f, "seq %u cmd %u: errno %d (%s) not allowed", x->seq,
				    x->cmd, err, strerror(err));
				return false;
			}
			f->handler_ok += !err;
		} else {
			f->predicted_err += err != 0;
			f->acks += !err;
		}
		st->dump_open = false;
		st->next++;
		return true;
	}
	if (x->kind != EXP_HANDLER) {
		BAD(f, "seq %u: type %u where errno %d was predicted", x->seq,
		    nlh->nlmsg_type, x->err);
		return false;
	}
	if (nlh->nlmsg_type == NLMSG_DONE) {
		if (!x->dump || nlh->nlmsg_len < NLMSG_HDRLEN + 4 ||
		    *(const int *)NLMSG_DATA(nlh) > 0) {
			BAD(f, "seq %u: malformed or unexpected DONE", x->seq);
			return false;
		}
		f->dumps_done++;
		f->handler_ok++;
		st->dump_open = false;
		st->next++;		/* a dump ends with DONE */
		return true;
	}
	if (!check_data(f, nlh) ||
	    ((const struct genlmsghdr *)NLMSG_DATA(nlh))->cmd != x->cmd) {
		BAD(f, "seq %u cmd %u: malformed reply (type %u, len %u)", x->seq,
		    x->cmd, nlh->nlmsg_type, nlh->nlmsg_len);
		return false;
	}
	f->data_replies++;
	if (x->dump) {
		if (!(nlh->nlmsg_flags & NLM_F_MULTI)) {
			BAD(f, "seq %u: dump part without NLM_F_MULTI", x->seq);
			return false;
		}
		st->dump_open = true;
	}
	/* a "do" reply may be followed by its ack, with the same seq */
	return true;
}

/* Read every reply to what was just sent; false on a hang or a bad reply. */
static bool receive(struct fuzz *f, const struct expect *e, int ne)
{
	struct rx_state st = { 0 };
	int i;

	for (;;) {
		ssize_t len = recv(f->fd, f->rx, BUF_SIZE, MSG_DONTWAIT | MSG_TRUNC);
		struct nlmsghdr *nlh;

		if (len < 0 && errno == EAGAIN) {
			struct pollfd pfd = { .fd = f->fd, .events = POLLIN };

			if (!st.dump_open)
				break;
			/* the rest of a dump comes as we read: it must come */
			if (poll(&pfd, 1, 2000) != 1) {
				BAD(f, "dump of seq %u never finished", e[st.next].seq);
				return false;
			}
			continue;
		}
		if (len < 0) {
			BAD(f, "recv: %s", strerror(errno));
			return false;
		}
		if (len > BUF_SIZE) {
			BAD(f, "a %zd-byte datagram", len);
			return false;
		}
		for (nlh = (void *)f->rx; NLMSG_OK(nlh, len); nlh = NLMSG_NEXT(nlh, len))
			if (!on_reply(f, nlh, e, ne, &st))
				return false;
		if (len) {
			BAD(f, "%zd trailing bytes in a datagram", len);
			return false;
		}
	}
	/* everything that had to answer did */
	for (i = st.next; i < ne; i++) {
		if (e[i].kind == EXP_ERR) {
			BAD(f, "seq %u: no answer (expected errno %d)", e[i].seq, e[i].err);
			return false;
		}
		f->no_reply++;
	}
	return true;
}

static bool sentinel(struct fuzz *f)
{
	struct nlmsghdr nlh = {
		.nlmsg_len = NLMSG_HDRLEN, .nlmsg_type = NLMSG_NOOP,
		.nlmsg_flags = NLM_F_REQUEST | NLM_F_ACK, .nlmsg_seq = ++f->seq,
	};
	struct pollfd pfd = { .fd = f->fd, .events = POLLIN };
	struct expect x = { .kind = EXP_ERR, .seq = nlh.nlmsg_seq };

	f->sentinels++;
	if (send(f->fd, &nlh, sizeof(nlh), 0) != sizeof(nlh)) {
		BAD(f, "sentinel send: %s", strerror(errno));
		return false;
	}
	if (poll(&pfd, 1, 1000) != 1) {
		BAD(f, "no answer to the sentinel within 1 s");
		return false;
	}
	return receive(f, &x, 1);
}

static int fuzz_open(struct fuzz *f, int fam, pid_t target, bool priv)
{
	struct sockaddr_nl sa = { .nl_family = AF_NETLINK };
	socklen_t sl = sizeof(sa);
	int one = 1, big = 4 << 20;

	memset(f, 0, sizeof(*f));
	f->fam = fam;
	f->target = target;
	f->priv = priv;
	f->buf = calloc(1, BUF_SIZE);
	f->rx = calloc(1, BUF_SIZE);
	f->fd = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_GENERIC);
	if (f->fd < 0 || !f->buf || !f->rx)
		return -errno;
	setsockopt(f->fd, SOL_NETLINK, NETLINK_EXT_ACK, &one, sizeof(one));
	/* best effort: an unprivileged sender cannot force it */
	if (setsockopt(f->fd, SOL_SOCKET, SO_RCVBUFFORCE, &big, sizeof(big)))
		setsockopt(f->fd, SOL_SOCKET, SO_RCVBUF, &big, sizeof(big));
	if (bind(f->fd, (struct sockaddr *)&sa, sizeof(sa)) ||
	    getsockname(f->fd, (struct sockaddr *)&sa, &sl))
		return -errno;
	f->portid = sa.nl_pid;
	return 0;
}

static void fuzz_close(struct fuzz *f)
{
	close(f->fd);
	free(f->buf);
	free(f->rx);
}

/* @n messages; stops at the first bad reply (f->first_bad says which). */
static void fuzz_run(struct fuzz *f, uint64_t n)
{
	struct expect e[64];

	while (f->msgs < n && !f->bad) {
		struct mb m = { f->buf, 0, 0 };
		int parts = rnd() % 16 ? 1 : 2 + rnd() % (MAX_PARTS - 1);
		size_t sent;
		int ne, i;

		for (i = 0; i < parts && m.len + MAX_MSG <= BUF_SIZE; i++)
			gen_one(f, &m);
		sent = m.len;
		/* sometimes less than what the headers say */
		if (rnd() % 32 == 0 && sent)
			sent = rnd() % sent;
		ne = walk(f, &sent, e);
		f->msgs += parts;
		f->sends++;
		for (i = 0; i < ne; i++)
			f->handled += e[i].kind == EXP_HANDLER;
		/* an empty send is refused by the socket itself */
		if (!sent) {
			if (send(f->fd, f->buf, 0, 0) != -1 || errno != ENODATA) {
				BAD(f, "an empty send did not fail with ENODATA");
				return;
			}
			f->empty_sends++;
			continue;
		}
		if (send(f->fd, f->buf, sent, 0) != (ssize_t)sent) {
			BAD(f, "send of %zu bytes: %s", sent, strerror(errno));
			return;
		}
		if (!receive(f, e, ne))
			return;
		if (f->sends % SENTINEL_EVERY == 0 && !sentinel(f))
			return;
	}
	sentinel(f);
}

static void fuzz_report(struct __test_metadata *_metadata, struct fuzz *f)
{
	char line[512];
	int i, o = 0;

	TH_LOG("%llu messages in %llu sends: %llu replies, %llu reached the handlers (%llu answered 0 or data), %llu data replies, %llu dumps done, %llu predicted errors, %llu acks, %llu without reply, %llu empty sends, %llu sentinels",
	       (unsigned long long)f->msgs, (unsigned long long)f->sends,
	       (unsigned long long)f->replies, (unsigned long long)f->handled,
	       (unsigned long long)f->handler_ok, (unsigned long long)f->data_replies,
	       (unsigned long long)f->dumps_done, (unsigned long long)f->predicted_err,
	       (unsigned long long)f->acks, (unsigned long long)f->no_reply,
	       (unsigned long long)f->empty_sends,
	       (unsigned long long)f->sentinels);
	for (i = 0; i <= PCOPY_CMD_MAX + 2; i++)
		o += snprintf(line + o, sizeof(line) - o, " %s%d=%llu",
			      i == PCOPY_CMD_MAX + 1 ? "unknown" :
			      i == PCOPY_CMD_MAX + 2 ? "other-type" : "cmd",
			      i <= PCOPY_CMD_MAX ? i : 0,
			      (unsigned long long)f->per_cmd[i]);
	TH_LOG("per command:%s", line);
	o = 0;
	for (i = 0; i < 135; i++)
		if (f->err_hist[i])
			o += snprintf(line + o, sizeof(line) - o, " %s=%llu",
				      i ? strerrorname_np(i) : "0",
				      (unsigned long long)f->err_hist[i]);
	TH_LOG("errnos:%s", line);
	if (f->bad)
		TH_LOG("first bad reply (after %llu messages): %s",
		       (unsigned long long)f->msgs, f->first_bad);
}

static uint64_t seed_of(struct __test_metadata *_metadata, uint64_t def)
{
	uint64_t seed = env_num("PCOPY_FUZZ_SEED", def);

	TH_LOG("seed %#llx (PCOPY_FUZZ_SEED)", (unsigned long long)seed);
	rnd_seed(seed ? seed : 1);
	return seed;
}

/* The family id 0xfff0 is not registered: fuzz sent there reaches nobody. */
static int family_unused(struct nl_sock *sk)
{
	struct nl_msg *msg = nlmsg_alloc();
	struct nl_result r;
	int ret;

	genlmsg_put(msg, NL_AUTO_PORT, NL_AUTO_SEQ, GENL_ID_CTRL, 0, 0,
		    CTRL_CMD_GETFAMILY, 1);
	nla_put_u16(msg, CTRL_ATTR_FAMILY_ID, UNUSED_FAMILY);
	ret = nl_xfer(sk, msg, &r);
	nl_result_free(&r);
	nlmsg_free(msg);
	return ret;
}

FIXTURE(fz) {
	struct nl_sock *sk;
	int fam;
	pid_t target;
	int target_w;
	struct fuzz f;
};

FIXTURE_SETUP(fz)
{
	int p[2];

	ASSERT_EQ(0, module_ensure_loaded());
	self->sk = genl_open();
	ASSERT_NE(NULL, self->sk);
	ASSERT_EQ(0, sock_rcvtimeo(nl_socket_get_fd(self->sk), 5000));
	self->fam = pcopy_family(self->sk);
	ASSERT_LT(0, self->fam);
	ASSERT_EQ(-ENOENT, family_unused(self->sk));
	ASSERT_EQ(0, pcopy_status("sessions"));
	ASSERT_EQ(0, pipe(p));
	self->target = fork();
	ASSERT_LE(0, self->target);
	if (self->target == 0) {
		char c;

		close(p[1]);
		read(p[0], &c, 1);
		_exit(0);
	}
	close(p[0]);
	self->target_w = p[1];
}

FIXTURE_TEARDOWN(fz)
{
	struct nl_result r;
	int status;

	sess_cmd(self->sk, self->fam, PCOPY_CMD_SESSION_DEL, self->target, &r);
	nl_result_free(&r);
	close(self->target_w);
	waitpid(self->target, &status, 0);
	nl_socket_free(self->sk);
}

/* What is left after the fuzz: GET_INFO answers, no session, no leak. */
static void after_fuzz(struct __test_metadata *_metadata, FIXTURE_DATA(fz) *self)
{
	struct nl_msg *msg = pcopy_msg(self->fam, PCOPY_CMD_GET_INFO, 0);
	struct nl_result r;
	int ret;

	EXPECT_EQ(0, nl_xfer(self->sk, msg, &r));
	EXPECT_NE(NULL, r.tb[PCOPY_A_MODULE_VERSION]);
	nl_result_free(&r);
	nlmsg_free(msg);
	/* the fuzz may have turned auto-attach on: off, for the tests after */
	msg = pcopy_msg(self->fam, PCOPY_CMD_SET_AUTO, 0);
	ASSERT_EQ(0, nla_put_u8(msg, PCOPY_A_AUTO_ON, 0));
	EXPECT_EQ(0, nl_xfer(self->sk, msg, &r));
	nl_result_free(&r);
	nlmsg_free(msg);
	/* the fuzzer's sessions can only be of our child: delete it */
	ret = sess_cmd(self->sk, self->fam, PCOPY_CMD_SESSION_DEL, self->target, &r);
	nl_result_free(&r);
	EXPECT_TRUE(ret == 0 || ret == -ENOENT);
	EXPECT_EQ(0, sess_dump_count(self->sk, self->fam, 0, NULL));
	EXPECT_EQ(0, pcopy_status("sessions"));
	EXPECT_EQ(0, wait_status("sessions_allocated", 0, 10000));
}

TEST_F(fz, privileged)
{
	uint64_t n = env_num("PCOPY_FUZZ_N", 100000);
	uint64_t t0;
	int i;

	seed_of(_metadata, 0xf022c0de);
	ASSERT_EQ(0, fuzz_open(&self->f, self->fam, self->target, true));
	t0 = now_ns();
	fuzz_run(&self->f, n);
	TH_LOG("%.1f s", (now_ns() - t0) / 1e9);
	fuzz_report(_metadata, &self->f);
	EXPECT_EQ(0, self->f.bad);
	EXPECT_LE(n, self->f.msgs);
	/* every command, and unknown ones, got a real share */
	for (i = 0; i <= PCOPY_CMD_MAX + 2; i++)
		EXPECT_LE(n / 100, self->f.per_cmd[i]) TH_LOG("command %d", i);
	/* a privileged sender is never refused for lack of a capability */
	EXPECT_EQ(0, self->f.err_hist[EPERM]);
	/* the handlers were reached, and did real work */
	EXPECT_LE(n / 5, self->f.handled);
	EXPECT_LE(n / 50, self->f.handler_ok);
	EXPECT_LT(0, self->f.dumps_done);
	EXPECT_LT(0, self->f.err_hist[ESRCH]);
	EXPECT_LT(0, self->f.err_hist[EEXIST]);
	fuzz_close(&self->f);
	after_fuzz(_metadata, self);
}

TEST_F(fz, unprivileged)
{
	uint64_t n = env_num("PCOPY_FUZZ_UNPRIV_N", 25000);
	int status;
	pid_t pid;

	seed_of(_metadata, 0x0bad5eed);
	/* this test's process drops its capabilities; the fixture keeps ours */
	pid = fork();
	ASSERT_LE(0, pid);
	if (pid == 0) {
		struct fuzz f;
		int i;

		if (drop_admin_caps() || fuzz_open(&f, self->fam, self->target, false))
			_exit(10);
		fuzz_run(&f, n);
		fuzz_report(_metadata, &f);
		if (f.bad || f.msgs < n)
			_exit(11);
		/* every known command was refused: EPERM, or EOPNOTSUPP for a dump it lacks */
		for (i = 1; i <= PCOPY_CMD_MAX; i++)
			if (!f.per_cmd[i])
				_exit(12);
		if (f.err_hist[EPERM] < n / 10 || f.handled)
			_exit(13);
		_exit(0);
	}
	ASSERT_EQ(pid, waitpid(pid, &status, 0));
	ASSERT_TRUE(WIFEXITED(status));
	EXPECT_EQ(0, WEXITSTATUS(status));
	/* nothing it sent created anything */
	EXPECT_EQ(0, sess_dump_count(self->sk, self->fam, 0, NULL));
	after_fuzz(_metadata, self);
}

TEST_HARNESS_MAIN
