// SPDX-License-Identifier: GPL-2.0
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <sys/capability.h>

#include <linux/netlink.h>
#include <linux/userfaultfd.h>
#include <netlink/genl/ctrl.h>
#include <poll.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <time.h>

#include "lib.h"

const char *src_path(const char *rel)
{
	static char buf[8][PATH_MAX];
	static int n;
	const char *src = getenv("PCOPY_SRC");
	char *b = buf[n++ % 8];

	snprintf(b, PATH_MAX, "%s/%s", src ? src : ".", rel);
	return b;
}

int module_load(void)
{
	return module_load_params("");
}

/* $PCOPY_KO names the module to load (a lane's own build), else the tree's. */
static const char *module_path(void)
{
	const char *ko = getenv("PCOPY_KO");

	return ko && *ko ? ko : src_path("kmod/pcopy.ko");
}

int module_load_params(const char *params)
{
	int fd = open(module_path(), O_RDONLY | O_CLOEXEC);
	int ret;

	if (fd < 0)
		return -errno;
	ret = syscall(SYS_finit_module, fd, params, 0);
	ret = ret ? -errno : 0;
	close(fd);
	return ret;
}

int module_unload(void)
{
	return syscall(SYS_delete_module, "pcopy", O_NONBLOCK) ? -errno : 0;
}

bool module_loaded(void)
{
	return access("/sys/module/pcopy", F_OK) == 0;
}

int module_ensure_loaded(void)
{
	return module_loaded() ? 0 : module_load();
}

struct nl_sock *genl_open(void)
{
	struct nl_sock *sk = nl_socket_alloc();
	int one = 1;

	if (!sk)
		return NULL;
	if (genl_connect(sk)) {
		nl_socket_free(sk);
		return NULL;
	}
	setsockopt(nl_socket_get_fd(sk), SOL_NETLINK, NETLINK_EXT_ACK,
		   &one, sizeof(one));
	return sk;
}

int pcopy_family(struct nl_sock *sk)
{
	return genl_ctrl_resolve(sk, PCOPY_GENL_NAME);
}

struct nl_sock *pcopy_connect(int *family)
{
	struct nl_sock *sk = genl_open();

	if (!sk)
		return NULL;
	*family = pcopy_family(sk);
	if (*family < 0) {
		nl_socket_free(sk);
		return NULL;
	}
	return sk;
}

struct nl_msg *pcopy_msg(int family, uint8_t cmd, int flags)
{
	struct nl_msg *msg = nlmsg_alloc();

	if (msg && !genlmsg_put(msg, NL_AUTO_PORT, NL_AUTO_SEQ, family, 0,
				flags, cmd, PCOPY_GENL_VERSION)) {
		nlmsg_free(msg);
		msg = NULL;
	}
	return msg;
}

uint32_t attr_offset(struct nl_msg *msg, struct nlattr *attr)
{
	return (char *)attr - (char *)nlmsg_hdr(msg);
}

static int valid_cb(struct nl_msg *msg, void *arg)
{
	struct nl_result *r = arg;

	if (r->nreplies++ == 0) {
		nlmsg_get(msg);
		r->reply = msg;
		genlmsg_parse(nlmsg_hdr(msg), 0, r->tb, PCOPY_A_MAX, NULL);
	}
	return NL_OK;
}

static int error_cb(struct sockaddr_nl *nla, struct nlmsgerr *e, void *arg)
{
	struct nlmsghdr *nlh = (struct nlmsghdr *)((char *)e - NLMSG_HDRLEN);
	struct nlattr *tb[NLMSGERR_ATTR_MAX + 1] = { 0 };
	struct nl_result *r = arg;
	int hlen = sizeof(*e);

	(void)nla;
	r->err = -e->error;
	if (nlh->nlmsg_flags & NLM_F_ACK_TLVS) {
		if (!(nlh->nlmsg_flags & NLM_F_CAPPED))
			hlen += e->msg.nlmsg_len - NLMSG_HDRLEN;
		if ((int)nlh->nlmsg_len > (int)NLMSG_HDRLEN + hlen &&
		    !nla_parse(tb, NLMSGERR_ATTR_MAX,
			       (struct nlattr *)((char *)e + hlen),
			       nlh->nlmsg_len - NLMSG_HDRLEN - hlen, NULL)) {
			if (tb[NLMSGERR_ATTR_MSG])
				snprintf(r->msg, sizeof(r->msg), "%s",
					 nla_get_string(tb[NLMSGERR_ATTR_MSG]));
			if (tb[NLMSGERR_ATTR_MISS_TYPE]) {
				r->has_miss = true;
				r->miss_type = nla_get_u32(tb[NLMSGERR_ATTR_MISS_TYPE]);
			}
			if (tb[NLMSGERR_ATTR_OFFS]) {
				r->has_offs = true;
				r->offs = nla_get_u32(tb[NLMSGERR_ATTR_OFFS]);
			}
		}
	}
	return NL_STOP;
}

static int done_cb(struct nl_msg *msg, void *arg)
{
	(void)msg;
	((struct nl_result *)arg)->err = 0;
	return NL_STOP;
}

int nl_xfer(struct nl_sock *sk, struct nl_msg *msg, struct nl_result *r)
{
	struct nl_cb *cb = nl_cb_alloc(NL_CB_DEFAULT);
	int ret;

	memset(r, 0, sizeof(*r));
	r->err = -1;
	if (!cb)
		return -ENOMEM;
	nl_cb_set(cb, NL_CB_VALID, NL_CB_CUSTOM, valid_cb, r);
	nl_cb_set(cb, NL_CB_FINISH, NL_CB_CUSTOM, done_cb, r);
	nl_cb_set(cb, NL_CB_ACK, NL_CB_CUSTOM, done_cb, r);
	nl_cb_err(cb, NL_CB_CUSTOM, error_cb, r);
	nlmsg_hdr(msg)->nlmsg_flags |= NLM_F_ACK;
	/* nl_send_auto completes the header (port, sequence) */
	ret = nl_send_auto(sk, msg);
	if (ret < 0) {
		nl_cb_put(cb);
		return -EIO;
	}
	while (r->err < 0) {
		ret = nl_recvmsgs(sk, cb);
		if (ret < 0 && r->err < 0) {
			r->err = EIO;
			break;
		}
	}
	nl_cb_put(cb);
	return -r->err;
}

void nl_result_free(struct nl_result *r)
{
	if (r->reply)
		nlmsg_free(r->reply);
	r->reply = NULL;
}

static uint64_t rng_state = 1;

void rnd_seed(uint64_t seed)
{
	rng_state = seed;
}

uint64_t rnd(void)
{
	rng_state ^= rng_state >> 12;
	rng_state ^= rng_state << 25;
	rng_state ^= rng_state >> 27;
	return rng_state * 2685821657736338717ull;
}

int run_capture(const char *cmd, char **out)
{
	FILE *f = popen(cmd, "r");
	size_t cap = 4096, len = 0, n;
	char *buf;
	int st;

	*out = NULL;
	if (!f)
		return -errno;
	buf = malloc(cap);
	while (buf && (n = fread(buf + len, 1, cap - len - 1, f)) > 0) {
		len += n;
		if (cap - len < 2) {
			cap *= 2;
			buf = realloc(buf, cap);
		}
	}
	st = pclose(f);
	if (buf)
		buf[len] = 0;
	*out = buf;
	return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
}

int run_checks(const char *script, const char *env, struct checks *c)
{
	char cmd[512], *out, *line, *save;
	int rc;

	c->pass = c->fail = 0;
	snprintf(cmd, sizeof(cmd), "env %s sh \"$PCOPY_SRC/%s\" 2>&1", env, script);
	rc = run_capture(cmd, &out);
	if (!out)
		return rc < 0 ? rc : -ENOMEM;
	for (line = strtok_r(out, "\n", &save); line;
	     line = strtok_r(NULL, "\n", &save)) {
		if (!strncmp(line, "PASS", 4))
			c->pass++;
		else if (!strncmp(line, "FAIL", 4))
			c->fail++;
		printf("# %s\n", line);
	}
	fflush(stdout);
	free(out);
	return rc;
}

char *read_file(const char *path)
{
	size_t cap = 4096, len = 0, n;
	FILE *f = fopen(path, "re");
	char *buf;

	if (!f)
		return NULL;
	buf = malloc(cap);
	while (buf && (n = fread(buf + len, 1, cap - len - 1, f)) > 0) {
		len += n;
		if (cap - len < 2)
			buf = realloc(buf, cap *= 2);
	}
	fclose(f);
	if (buf)
		buf[len] = 0;
	return buf;
}

/* ---- sessions ---- */

int sess_cmd(struct nl_sock *sk, int fam, uint8_t cmd, uint32_t pid,
	     struct nl_result *r)
{
	struct nl_msg *msg = pcopy_msg(fam, cmd, 0);
	int ret;

	if (!msg)
		return -ENOMEM;
	nla_put_u32(msg, PCOPY_A_PID, pid);
	ret = nl_xfer(sk, msg, r);
	nlmsg_free(msg);
	return ret;
}

int set_vcpu(struct nl_sock *sk, int fam, uint32_t pid, uint32_t tid,
	     uint32_t vcpu, struct nl_result *r)
{
	struct nl_msg *msg = pcopy_msg(fam, PCOPY_CMD_SET_VCPU, 0);
	int ret;

	if (!msg)
		return -ENOMEM;
	nla_put_u32(msg, PCOPY_A_PID, pid);
	nla_put_u32(msg, PCOPY_A_TID, tid);
	nla_put_u32(msg, PCOPY_A_VCPU, vcpu);
	ret = nl_xfer(sk, msg, r);
	nlmsg_free(msg);
	return ret;
}

static uint64_t get64(struct nlattr **tb, int t)
{
	return tb[t] ? nla_get_u64(tb[t]) : 0;
}

static uint32_t get32(struct nlattr **tb, int t)
{
	return tb[t] ? nla_get_u32(tb[t]) : 0;
}

static int parse_hist(struct nlattr *nest, uint64_t *b, int n)
{
	struct nlattr *a;
	int rem;

	memset(b, 0, n * sizeof(*b));
	if (!nest)
		return -EPROTO;
	nla_for_each_nested(a, nest, rem) {
		int t = nla_type(a);

		if (t == 0)
			continue;	/* padding */
		if (t > n || nla_len(a) != 8)
			return -EPROTO;
		b[t - 1] = nla_get_u64(a);
	}
	return 0;
}

int parse_session(struct nlattr **tb, struct sess_stats *st)
{
	struct nlattr *s[PCOPY_STATS_A_MAX + 1];
	struct nlattr *v[PCOPY_VCPU_A_MAX + 1];
	struct nlattr *e;
	int rem;

	memset(st, 0, sizeof(*st));
	if (!tb[PCOPY_A_PID] || !tb[PCOPY_A_STATS])
		return -EPROTO;
	st->pid = nla_get_u32(tb[PCOPY_A_PID]);
	st->end_reason = tb[PCOPY_A_END_REASON] ? nla_get_u32(tb[PCOPY_A_END_REASON]) : ~0u;
	st->session_id = tb[PCOPY_A_SESSION_ID] ? nla_get_u64(tb[PCOPY_A_SESSION_ID]) : 0;
	st->ended = tb[PCOPY_A_ENDED];
	st->end_time = tb[PCOPY_A_END_TIME] ? nla_get_u64(tb[PCOPY_A_END_TIME]) : 0;
	if (nla_parse_nested(s, PCOPY_STATS_A_MAX, tb[PCOPY_A_STATS], NULL))
		return -EPROTO;
	st->faults = get64(s, PCOPY_STATS_A_FAULTS);
	st->nowait = get64(s, PCOPY_STATS_A_NOWAIT_FAULTS);
	st->interrupted = get64(s, PCOPY_STATS_A_INTERRUPTED);
	st->lat_sum = get64(s, PCOPY_STATS_A_LATENCY_SUM_NS);
	st->lat_max = get64(s, PCOPY_STATS_A_LATENCY_MAX_NS);
	st->outstanding = get32(s, PCOPY_STATS_A_OUTSTANDING);
	st->outstanding_max = get32(s, PCOPY_STATS_A_OUTSTANDING_MAX);
	st->vcpu_faults = get64(s, PCOPY_STATS_A_VCPU_FAULTS);
	st->nonvcpu_faults = get64(s, PCOPY_STATS_A_NONVCPU_FAULTS);
	st->nonvcpu_lat_sum = get64(s, PCOPY_STATS_A_NONVCPU_LATENCY_SUM_NS);
	st->known_vcpus = get32(s, PCOPY_STATS_A_KNOWN_VCPUS);
	st->blocktime = get64(s, PCOPY_STATS_A_BLOCKTIME_NS);
	st->elapsed = get64(s, PCOPY_STATS_A_ELAPSED_NS);
	st->dirty = get64(s, PCOPY_STATS_A_DIRTY_PAGES);
	st->dirty_rate = get64(s, PCOPY_STATS_A_DIRTY_RATE);
	st->missed = get64(s, PCOPY_STATS_A_MISSED);
	st->threads_dropped = get64(s, PCOPY_STATS_A_THREADS_DROPPED);
	st->execs = get64(s, PCOPY_STATS_A_EXECS);
	st->ring_lost_records = get64(s, PCOPY_STATS_A_RING_LOST_RECORDS);
	st->ring_lost_gfns = get64(s, PCOPY_STATS_A_RING_LOST_GFNS);
	st->truncated = !!tb[PCOPY_A_TRUNCATED];
	if (tb[PCOPY_A_VCPUS]) {
		nla_for_each_nested(e, tb[PCOPY_A_VCPUS], rem) {
			struct vcpu_stat *vs;

			if (nla_type(e) != PCOPY_A_VCPU_ENTRY ||
			    st->nvcpus >= TEST_MAX_VCPUS ||
			    nla_parse_nested(v, PCOPY_VCPU_A_MAX, e, NULL) ||
			    !v[PCOPY_VCPU_A_INDEX])
				return -EPROTO;
			vs = &st->vcpus[st->nvcpus++];
			vs->index = get32(v, PCOPY_VCPU_A_INDEX);
			vs->tid = get32(v, PCOPY_VCPU_A_TID);
			vs->explicit_map = !!v[PCOPY_VCPU_A_EXPLICIT];
			vs->detached = !!v[PCOPY_VCPU_A_DETACHED];
			vs->faults = get64(v, PCOPY_VCPU_A_FAULTS);
			vs->lat_sum = get64(v, PCOPY_VCPU_A_LATENCY_SUM_NS);
			vs->lat_min = get64(v, PCOPY_VCPU_A_LATENCY_MIN_NS);
			vs->lat_max = get64(v, PCOPY_VCPU_A_LATENCY_MAX_NS);
			vs->blocktime = get64(v, PCOPY_VCPU_A_BLOCKTIME_NS);
			vs->outstanding = get32(v, PCOPY_VCPU_A_OUTSTANDING);
			vs->dirty = get64(v, PCOPY_VCPU_A_DIRTY_PAGES);
			vs->dirty_rate = get64(v, PCOPY_VCPU_A_DIRTY_RATE);
		}
	}
	if (tb[PCOPY_A_HIST_NS] &&
	    parse_hist(tb[PCOPY_A_HIST_NS], st->hist_ns, PCOPY_HIST_NS_BUCKETS))
		return -EPROTO;
	if (tb[PCOPY_A_HIST_US] &&
	    parse_hist(tb[PCOPY_A_HIST_US], st->hist_us, PCOPY_HIST_US_BUCKETS))
		return -EPROTO;
	return 0;
}

int sess_get(struct nl_sock *sk, int fam, uint32_t pid, struct sess_stats *st)
{
	struct nl_result r;
	int ret;

	ret = sess_cmd(sk, fam, PCOPY_CMD_SESSION_GET, pid, &r);
	if (!ret)
		ret = r.reply ? parse_session(r.tb, st) : -EPROTO;
	nl_result_free(&r);
	return ret;
}

int sess_get_by(struct nl_sock *sk, int fam, uint32_t pid, uint64_t id, bool ended,
		struct sess_stats *st, struct nl_result *rp)
{
	struct nl_msg *msg = pcopy_msg(fam, PCOPY_CMD_SESSION_GET, 0);
	struct nl_result r;
	int ret;

	if (!msg)
		return -ENOMEM;
	if ((pid && nla_put_u32(msg, PCOPY_A_PID, pid)) ||
	    (id && nla_put_u64(msg, PCOPY_A_SESSION_ID, id)) ||
	    (ended && nla_put_flag(msg, PCOPY_A_ENDED))) {
		nlmsg_free(msg);
		return -ENOMEM;
	}
	ret = nl_xfer(sk, msg, &r);
	nlmsg_free(msg);
	if (!ret && st)
		ret = r.reply ? parse_session(r.tb, st) : -EPROTO;
	if (rp)
		*rp = r;
	else
		nl_result_free(&r);
	return ret;
}

const struct vcpu_stat *find_vcpu(const struct sess_stats *st, uint32_t index)
{
	int i;

	for (i = 0; i < st->nvcpus; i++)
		if (st->vcpus[i].index == index)
			return &st->vcpus[i];
	return NULL;
}

uint64_t hist_sum(const uint64_t *b, int n)
{
	uint64_t sum = 0;

	while (n--)
		sum += b[n];
	return sum;
}

struct dump_ctx {
	uint32_t pid;
	bool found;
	int n;
	int err;
};

static int dump_valid(struct nl_msg *msg, void *arg)
{
	struct nlattr *tb[PCOPY_A_MAX + 1];
	struct dump_ctx *d = arg;

	if (genlmsg_parse(nlmsg_hdr(msg), 0, tb, PCOPY_A_MAX, NULL) ||
	    !tb[PCOPY_A_PID]) {
		d->err = -EPROTO;
		return NL_OK;
	}
	d->n++;
	if (nla_get_u32(tb[PCOPY_A_PID]) == d->pid)
		d->found = true;
	return NL_OK;
}

int sess_dump_count(struct nl_sock *sk, int fam, uint32_t pid, bool *found)
{
	struct nl_msg *msg = pcopy_msg(fam, PCOPY_CMD_SESSION_GET, NLM_F_DUMP);
	struct dump_ctx d = { .pid = pid };
	struct nl_cb *cb;
	int ret;

	if (!msg)
		return -ENOMEM;
	cb = nl_cb_alloc(NL_CB_DEFAULT);
	nl_cb_set(cb, NL_CB_VALID, NL_CB_CUSTOM, dump_valid, &d);
	ret = nl_send_auto(sk, msg);
	nlmsg_free(msg);
	if (ret >= 0)
		ret = nl_recvmsgs(sk, cb);
	nl_cb_put(cb);
	if (ret < 0)
		return -EIO;
	if (d.err)
		return d.err;
	if (found)
		*found = d.found;
	return d.n;
}

/* ---- events ---- */

struct nl_sock *events_open(void)
{
	struct nl_sock *sk = genl_open();
	int grp;

	if (!sk)
		return NULL;
	grp = genl_ctrl_resolve_grp(sk, PCOPY_GENL_NAME, PCOPY_MCGRP_EVENTS);
	if (grp < 0 || nl_socket_add_membership(sk, grp)) {
		nl_socket_free(sk);
		return NULL;
	}
	nl_socket_disable_seq_check(sk);
	return sk;
}

struct ev_ctx {
	uint8_t cmd;
	uint32_t pid;
	bool hit;
	struct sess_stats *st;
};

static int ev_valid(struct nl_msg *msg, void *arg)
{
	struct genlmsghdr *gh = nlmsg_data(nlmsg_hdr(msg));
	struct nlattr *tb[PCOPY_A_MAX + 1];
	struct ev_ctx *e = arg;

	if (e->hit || gh->cmd != e->cmd ||
	    genlmsg_parse(nlmsg_hdr(msg), 0, tb, PCOPY_A_MAX, NULL) ||
	    !tb[PCOPY_A_PID] || nla_get_u32(tb[PCOPY_A_PID]) != e->pid)
		return NL_OK;
	e->hit = true;
	if (e->st) {
		memset(e->st, 0, sizeof(*e->st));
		if (tb[PCOPY_A_STATS])
			parse_session(tb, e->st);
		else
			e->st->pid = e->pid;
		e->st->end_reason = tb[PCOPY_A_END_REASON] ?
				    nla_get_u32(tb[PCOPY_A_END_REASON]) : ~0u;
	}
	return NL_OK;
}

static int seq_any(struct nl_msg *msg, void *arg)
{
	(void)msg;
	(void)arg;
	return NL_OK;
}

int events_wait(struct nl_sock *sk, uint8_t cmd, uint32_t pid, int timeout_ms,
		struct sess_stats *st)
{
	struct ev_ctx e = { .cmd = cmd, .pid = pid, .st = st };
	uint64_t end = now_ns() + (uint64_t)timeout_ms * 1000000;
	struct nl_cb *cb = nl_cb_alloc(NL_CB_DEFAULT);
	struct pollfd pfd = { .fd = nl_socket_get_fd(sk), .events = POLLIN };

	nl_cb_set(cb, NL_CB_VALID, NL_CB_CUSTOM, ev_valid, &e);
	/* events carry sequence number 0: a fresh cb would reject them */
	nl_cb_set(cb, NL_CB_SEQ_CHECK, NL_CB_CUSTOM, seq_any, NULL);
	while (!e.hit) {
		int64_t left = (int64_t)(end - now_ns()) / 1000000;

		if (left <= 0 || poll(&pfd, 1, left) <= 0)
			break;
		nl_recvmsgs(sk, cb);
	}
	nl_cb_put(cb);
	return e.hit ? 0 : -ETIMEDOUT;
}

/* ---- userfaultfd ---- */

int uffd_open(uint64_t features)
{
	struct uffdio_api api = { .api = UFFD_API, .features = features };
	int fd = syscall(SYS_userfaultfd, O_CLOEXEC | O_NONBLOCK);

	if (fd < 0)
		return -errno;
	if (ioctl(fd, UFFDIO_API, &api)) {
		close(fd);
		return -errno;
	}
	return fd;
}

void *uffd_area(int uffd, size_t len)
{
	struct uffdio_register reg = { .mode = UFFDIO_REGISTER_MODE_MISSING };
	void *p = mmap(NULL, len, PROT_READ | PROT_WRITE,
		       MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

	if (p == MAP_FAILED)
		return NULL;
	reg.range.start = (unsigned long)p;
	reg.range.len = len;
	if (ioctl(uffd, UFFDIO_REGISTER, &reg)) {
		munmap(p, len);
		return NULL;
	}
	return p;
}

int uffd_copy_page(int uffd, unsigned long addr, int fill)
{
	static __thread char *page;
	long psz = sysconf(_SC_PAGESIZE);
	struct uffdio_copy c;

	if (!page)
		page = aligned_alloc(psz, psz);
	memset(page, fill, psz);
	c.dst = addr & ~(psz - 1);
	c.src = (unsigned long)page;
	c.len = psz;
	c.mode = 0;
	c.copy = 0;
	if (ioctl(uffd, UFFDIO_COPY, &c))
		return -errno;
	return 0;
}

int uffd_read_msg(int uffd, struct uffd_msg *msg, int timeout_ms)
{
	struct pollfd pfd = { .fd = uffd, .events = POLLIN };
	int ret;

	for (;;) {
		ret = poll(&pfd, 1, timeout_ms);
		if (ret < 0 && errno == EINTR)
			continue;
		if (ret < 0)
			return -errno;
		if (ret == 0)
			return -ETIMEDOUT;
		ret = read(uffd, msg, sizeof(*msg));
		if (ret == sizeof(*msg))
			return 0;
		if (ret < 0 && (errno == EAGAIN || errno == EINTR))
			continue;
		return ret < 0 ? -errno : -EIO;
	}
}

pid_t sys_gettid(void)
{
	return syscall(SYS_gettid);
}

uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000000000ull + ts.tv_nsec;
}

void sleep_ms(unsigned int ms)
{
	struct timespec ts = { ms / 1000, (ms % 1000) * 1000000L };

	while (nanosleep(&ts, &ts) && errno == EINTR)
		;
}

int wait_outstanding(struct nl_sock *sk, int fam, uint32_t pid, uint32_t n,
		     int timeout_ms)
{
	uint64_t end = now_ns() + (uint64_t)timeout_ms * 1000000;
	struct sess_stats *st = malloc(sizeof(*st));
	int ret = -ETIMEDOUT;

	while (now_ns() < end) {
		if (sess_get(sk, fam, pid, st) == 0 && st->outstanding == n) {
			ret = 0;
			break;
		}
		sleep_ms(5);
	}
	free(st);
	return ret;
}

long long file_key(const char *path, const char *key)
{
	char *txt = read_file(path), *p;
	size_t kl = strlen(key);
	long long v = -1;

	if (!txt)
		return -1;
	for (p = txt; p && *p; p = strchr(p, '\n') ? strchr(p, '\n') + 1 : NULL) {
		if (!strncmp(p, key, kl) && p[kl] == ':') {
			v = strtoll(p + kl + 1, NULL, 0);
			break;
		}
	}
	free(txt);
	return v;
}

/* ---- the record ring ---- */

int ring_bind(struct test_ring *r, uint32_t pid, uint32_t pages,
	      uint32_t watermark, uint32_t flags)
{
	struct pcopy_ring_bind b = {
		.pid = pid, .data_pages = pages, .watermark = watermark,
		.flags = flags,
	};

	memset(r, 0, sizeof(*r));
	r->size = (uint64_t)pages * sysconf(_SC_PAGESIZE);
	r->fd = open(PCOPY_DEV_PATH, O_RDWR | O_CLOEXEC);
	if (r->fd < 0)
		return -errno;
	return ioctl(r->fd, PCOPY_IOC_BIND, &b) ? -errno : 0;
}

int ring_map(struct test_ring *r)
{
	long psz = sysconf(_SC_PAGESIZE);
	void *c, *p;
	uint64_t size;

	c = mmap(NULL, psz, PROT_READ | PROT_WRITE, MAP_SHARED, r->fd,
		 (off_t)PCOPY_RING_PGOFF_CONSUMER * sysconf(_SC_PAGESIZE));
	if (c == MAP_FAILED)
		return -errno;
	/* the data size is what was bound */
	size = r->size;
	p = mmap(NULL, psz + size, PROT_READ, MAP_SHARED, r->fd,
		 (off_t)PCOPY_RING_PGOFF_PRODUCER * sysconf(_SC_PAGESIZE));
	if (p == MAP_FAILED)
		return -errno;
	r->cons = c;
	r->hdr = p;
	r->data = (char *)p + r->hdr->data_offset;
	r->size = size;
	return 0;
}

void test_ring_close(struct test_ring *r)
{
	long psz = sysconf(_SC_PAGESIZE);

	if (r->cons)
		munmap(r->cons, psz);
	if (r->hdr)
		munmap(r->hdr, psz + r->size);
	if (r->fd >= 0)
		close(r->fd);
	memset(r, 0, sizeof(*r));
	r->fd = -1;
}

void ring_drain(struct test_ring *r, struct ring_counts *c,
		void (*cb)(const struct pcopy_rec_hdr *h, void *arg), void *arg)
{
	/* pairs with smp_store_release() in kmod/ring.c ring_commit() */
	uint64_t prod = __atomic_load_n(&r->hdr->producer_pos, __ATOMIC_ACQUIRE);
	uint64_t pos = r->cons->consumer_pos;

	while (pos != prod) {
		const struct pcopy_rec_hdr *h =
			(const void *)(r->data + (pos & (r->size - 1)));
		uint64_t room = r->size - (pos & (r->size - 1));

		if (h->len < sizeof(*h) || h->len % 8 || h->len > room ||
		    h->len > prod - pos) {
			c->bad++;
			break;
		}
		switch (h->type) {
		case PCOPY_REC_PAD:
			c->pads++;
			break;
		case PCOPY_REC_FAULT_BEGIN:
			c->begin++;
			break;
		case PCOPY_REC_FAULT_END:
			c->end++;
			if (h->flags & PCOPY_REC_F_NOWAIT)
				c->nowait_end++;
			if (h->flags & PCOPY_REC_F_INTERRUPTED)
				c->interrupted_end++;
			break;
		case PCOPY_REC_DIRTY: {
			const struct pcopy_rec_dirty *d = (const void *)h;

			if (h->len != sizeof(*d) + d->count * sizeof(d->gfns[0]))
				c->bad++;
			c->dirty_recs++;
			c->gfns += d->count;
			break;
		}
		case PCOPY_REC_DIRTY_RESET:
			if (h->len != sizeof(struct pcopy_rec_dirty_reset))
				c->bad++;
			c->resets++;
			break;
		case PCOPY_REC_LOST: {
			const struct pcopy_rec_lost *l = (const void *)h;

			c->lost_records += l->records;
			c->lost_gfns += l->gfns;
			break;
		}
		default:
			c->bad++;
		}
		if (cb && h->type != PCOPY_REC_PAD)
			cb(h, arg);
		pos += h->len;
	}
	/* pairs with smp_load_acquire() in kmod/ring.c ring_cons() */
	__atomic_store_n(&r->cons->consumer_pos, pos, __ATOMIC_RELEASE);
}

int take_faults(int uffd, int n, int fill)
{
	return take_faults_delayed(uffd, n, fill, 0);
}

int take_faults_delayed(int uffd, int n, int fill, unsigned int delay_ms)
{
	char *area = uffd_area(uffd, n * 4096UL);
	int i, status, bad = 0;
	pid_t child;

	if (!area)
		return -1;
	child = fork();
	if (child < 0)
		return -1;
	if (child == 0) {
		struct uffd_msg msg;

		for (i = 0; i < n; i++) {
			if (uffd_read_msg(uffd, &msg, 60000))
				_exit(1);
			if (delay_ms)
				sleep_ms(delay_ms);
			if (uffd_copy_page(uffd, msg.arg.pagefault.address, fill))
				_exit(1);
		}
		_exit(0);
	}
	for (i = 0; i < n; i++)
		bad += *(volatile char *)(area + i * 4096UL) != (char)fill;
	waitpid(child, &status, 0);
	munmap(area, n * 4096UL);
	return bad || status ? -1 : 0;
}

long long env_num(const char *name, long long def)
{
	const char *v = getenv(name);
	char *end;
	long long n;

	if (!v || !*v)
		return def;
	n = strtoll(v, &end, 0);
	return *end ? def : n;
}

int drop_admin_caps(void)
{
	cap_t none = cap_init();
	int ret;

	if (!none)
		return -errno;
	ret = cap_set_proc(none) ? -errno : 0;
	cap_free(none);
	return ret;
}

long long pcopy_status(const char *key)
{
	return file_key(PCOPY_DEBUGFS "/status", key);
}

int wait_status(const char *key, long long val, int timeout_ms)
{
	uint64_t end = now_ns() + (uint64_t)timeout_ms * 1000000;

	for (;;) {
		if (pcopy_status(key) == val)
			return 0;
		if (now_ns() >= end)
			return -ETIMEDOUT;
		sleep_ms(5);
	}
}

int sock_rcvtimeo(int fd, int ms)
{
	struct timeval tv = { ms / 1000, (ms % 1000) * 1000 };

	return setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv)) ? -errno : 0;
}
