// SPDX-License-Identifier: GPL-2.0
/*
 * ctltest: minivm control socket client and protocol self-test.
 *
 *   ctltest SOCK status|layout          print the reply as JSON
 *   ctltest SOCK pause|resume|stop|quit
 *   ctltest SOCK memfd-dump FILE        receive the RAM memfd, copy it to FILE
 *   ctltest SOCK export FILE            save the state image
 *   ctltest SOCK import FILE            send a state image
 *   ctltest SOCK wait STATE [SECS]      poll until running|paused|finished|
 *                                       incoming (default 30 s)
 *   ctltest SOCK selftest               protocol checks on a running VM
 *   ctltest SOCK raw CMD                send a bare request, print the status
 *   ctltest json FILE PATH              print a value of a JSON file, PATH
 *                                       like "vcpu.0.guest_csum"
 * Exit status: 0 ok, 1 failure/error reply, 2 usage.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <json-c/json.h>

#include "guest_abi.h"
#include "vmm_minivm_proto.h"

struct reply {
	struct mvm_ctl_hdr h;
	uint8_t *data;		/* h.len bytes */
	int fd;			/* SCM_RIGHTS fd or -1 */
};

static int ctl_connect(const char *path)
{
	struct sockaddr_un sa;
	int fd;

	if (strlen(path) >= sizeof(sa.sun_path)) {
		fprintf(stderr, "ctltest: socket path too long\n");
		return -1;
	}
	fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
	if (fd < 0) {
		perror("ctltest: socket");
		return -1;
	}
	memset(&sa, 0, sizeof(sa));
	sa.sun_family = AF_UNIX;
	strcpy(sa.sun_path, path);
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		fprintf(stderr, "ctltest: connect %s: %s\n", path,
			strerror(errno));
		close(fd);
		return -1;
	}
	return fd;
}

static int send_raw(int fd, const void *buf, size_t len)
{
	ssize_t n = send(fd, buf, len, MSG_NOSIGNAL);

	if (n < 0) {
		fprintf(stderr, "ctltest: send: %s\n", strerror(errno));
		return -1;
	}
	return 0;
}

static int send_req(int fd, uint16_t cmd, const void *payload, uint32_t len)
{
	struct mvm_ctl_hdr h = {
		.magic = MVM_CTL_MAGIC, .version = MVM_CTL_VERSION,
		.cmd = cmd, .status = 0, .len = len,
	};
	uint8_t *buf = malloc(sizeof(h) + len);
	int r;

	if (!buf)
		return -1;
	memcpy(buf, &h, sizeof(h));
	if (len)
		memcpy(buf + sizeof(h), payload, len);
	r = send_raw(fd, buf, sizeof(h) + len);
	free(buf);
	return r;
}

static void reply_free(struct reply *r)
{
	free(r->data);
	r->data = NULL;
	if (r->fd >= 0)
		close(r->fd);
	r->fd = -1;
}

static int recv_reply(int fd, struct reply *r)
{
	char cbuf[CMSG_SPACE(sizeof(int))];
	uint8_t *buf = malloc(MVM_CTL_MAX_MSG);
	struct iovec iov = { .iov_base = buf, .iov_len = MVM_CTL_MAX_MSG };
	struct msghdr msg;
	struct cmsghdr *cm;
	ssize_t n;

	memset(r, 0, sizeof(*r));
	r->fd = -1;
	if (!buf)
		return -1;
	memset(&msg, 0, sizeof(msg));
	msg.msg_iov = &iov;
	msg.msg_iovlen = 1;
	msg.msg_control = cbuf;
	msg.msg_controllen = sizeof(cbuf);
	n = recvmsg(fd, &msg, MSG_CMSG_CLOEXEC);
	if (n < (ssize_t)sizeof(r->h)) {
		fprintf(stderr, "ctltest: recv: %s\n",
			n < 0 ? strerror(errno) : "short or no reply");
		free(buf);
		return -1;
	}
	for (cm = CMSG_FIRSTHDR(&msg); cm; cm = CMSG_NXTHDR(&msg, cm))
		if (cm->cmsg_level == SOL_SOCKET && cm->cmsg_type == SCM_RIGHTS)
			memcpy(&r->fd, CMSG_DATA(cm), sizeof(int));
	memcpy(&r->h, buf, sizeof(r->h));
	if (r->h.magic != MVM_CTL_MAGIC || r->h.len != n - sizeof(r->h)) {
		fprintf(stderr, "ctltest: malformed reply\n");
		free(buf);
		reply_free(r);
		return -1;
	}
	r->data = malloc(r->h.len + 1);
	if (!r->data) {
		free(buf);
		reply_free(r);
		return -1;
	}
	memcpy(r->data, buf + sizeof(r->h), r->h.len);
	r->data[r->h.len] = 0;
	free(buf);
	return 0;
}

/* One request/reply; returns the reply status (or -1000 on I/O error). */
static int call(int fd, uint16_t cmd, const void *payload, uint32_t len,
		struct reply *r)
{
	if (send_req(fd, cmd, payload, len) || recv_reply(fd, r))
		return -1000;
	return r->h.status;
}

static int call_simple(int fd, uint16_t cmd, const void *payload,
		       uint32_t len, const char *what)
{
	struct reply r;
	int st = call(fd, cmd, payload, len, &r);

	if (st == -1000)
		return 1;
	if (st) {
		fprintf(stderr, "ctltest: %s: %s (%d)\n", what,
			r.h.len ? (char *)r.data : "error", st);
		reply_free(&r);
		return 1;
	}
	reply_free(&r);
	return 0;
}

static const char *state_name(uint32_t st)
{
	static const char *const n[] = { "?", "running", "paused", "finished",
					 "incoming", "failed" };

	return st < 6 ? n[st] : "?";
}

static int get_status(int fd, struct mvm_ctl_status *st)
{
	struct reply r;
	int s = call(fd, MVM_CMD_STATUS, NULL, 0, &r);

	if (s || r.h.len != sizeof(*st)) {
		fprintf(stderr, "ctltest: status failed (%d)\n", s);
		reply_free(&r);
		return -1;
	}
	memcpy(st, r.data, sizeof(*st));
	reply_free(&r);
	return 0;
}

static int get_layout(int fd, struct mvm_ctl_layout *l)
{
	struct reply r;
	int s = call(fd, MVM_CMD_LAYOUT, NULL, 0, &r);

	if (s || r.h.len != sizeof(*l)) {
		fprintf(stderr, "ctltest: layout failed (%d)\n", s);
		reply_free(&r);
		return -1;
	}
	memcpy(l, r.data, sizeof(*l));
	reply_free(&r);
	return 0;
}

#define JADD(o, k, v)	json_object_object_add(o, k, v)
#define JU(v)		json_object_new_uint64(v)

static void print_json(struct json_object *o)
{
	printf("%s\n", json_object_to_json_string_ext(o, JSON_C_TO_STRING_PRETTY));
	json_object_put(o);
}

static int cmd_status(int fd)
{
	struct mvm_ctl_status st;
	struct json_object *o, *a;
	unsigned int i;

	if (get_status(fd, &st))
		return 1;
	o = json_object_new_object();
	a = json_object_new_array();
	JADD(o, "state", json_object_new_string(state_name(st.state)));
	JADD(o, "nvcpus", JU(st.nvcpus));
	JADD(o, "workload", JU(st.workload));
	JADD(o, "flags", JU(st.flags));
	JADD(o, "dirty_entries", JU(st.dirty_entries));
	JADD(o, "dirty_distinct", JU(st.dirty_distinct));
	JADD(o, "ring_full_exits", JU(st.ring_full_exits));
	JADD(o, "uptime_ns", JU(st.uptime_ns));
	for (i = 0; i < st.nvcpus && i < MVM_MAX_VCPUS; i++) {
		struct mvm_ctl_vcpu_status *v = &st.vcpu[i];
		struct json_object *j = json_object_new_object();

		JADD(j, "state", JU(v->state));
		JADD(j, "flags", JU(v->flags));
		JADD(j, "guest_csum", JU(v->guest_csum));
		JADD(j, "host_csum", JU(v->host_csum));
		JADD(j, "csum_reports", JU(v->csum_reports));
		JADD(j, "scan_csum", JU(v->scan_csum));
		JADD(j, "progress", JU(v->progress));
		JADD(j, "dirty_entries", JU(v->dirty_entries));
		JADD(j, "exits", JU(v->exits));
		json_object_array_add(a, j);
	}
	JADD(o, "vcpu", a);
	print_json(o);
	return 0;
}

static int cmd_layout(int fd)
{
	struct mvm_ctl_layout l;
	struct json_object *o, *s, *a;
	unsigned int i;

	if (get_layout(fd, &l))
		return 1;
	o = json_object_new_object();
	JADD(o, "page_size", JU(l.page_size));
	JADD(o, "nvcpus", JU(l.nvcpus));
	JADD(o, "mem_size", JU(l.mem_size));
	JADD(o, "dirty_ring_entries", JU(l.dirty_ring_entries));
	JADD(o, "flags", JU(l.flags));
	a = json_object_new_array();
	for (i = 0; i < l.nslots && i < MVM_MAX_SLOTS; i++) {
		s = json_object_new_object();
		JADD(s, "slot", JU(l.slots[i].slot));
		JADD(s, "flags", JU(l.slots[i].flags));
		JADD(s, "gpa", JU(l.slots[i].gpa));
		JADD(s, "size", JU(l.slots[i].size));
		JADD(s, "memfd_offset", JU(l.slots[i].memfd_offset));
		JADD(s, "hva", JU(l.slots[i].hva));
		json_object_array_add(a, s);
	}
	JADD(o, "slots", a);
	a = json_object_new_array();
	for (i = 0; i < l.nvcpus && i < MVM_MAX_VCPUS; i++) {
		s = json_object_new_object();
		JADD(s, "gpa", JU(l.vcpu[i].gpa));
		JADD(s, "npages", JU(l.vcpu[i].npages));
		JADD(s, "param_gpa", JU(l.vcpu[i].param_gpa));
		JADD(s, "stack_gpa", JU(l.vcpu[i].stack_gpa));
		json_object_array_add(a, s);
	}
	JADD(o, "vcpu", a);
	print_json(o);
	return 0;
}

static int get_memfd(int fd, uint64_t *size)
{
	struct mvm_ctl_memfd m;
	struct reply r;
	int s = call(fd, MVM_CMD_GET_MEMFD, NULL, 0, &r), mfd;

	if (s || r.h.len != sizeof(m) || r.fd < 0) {
		fprintf(stderr, "ctltest: get-memfd failed (%d)\n", s);
		reply_free(&r);
		return -1;
	}
	memcpy(&m, r.data, sizeof(m));
	mfd = r.fd;
	r.fd = -1;
	reply_free(&r);
	*size = m.size;
	return mfd;
}

static int write_file(const char *path, const void *p, size_t len)
{
	FILE *f = fopen(path, "we");
	bool ok;

	if (!f) {
		fprintf(stderr, "ctltest: %s: %s\n", path, strerror(errno));
		return -1;
	}
	ok = fwrite(p, 1, len, f) == len;
	ok = !fclose(f) && ok;
	if (!ok) {
		fprintf(stderr, "ctltest: writing %s failed\n", path);
		return -1;
	}
	return 0;
}

static uint8_t *read_file(const char *path, size_t *len)
{
	struct stat st;
	uint8_t *buf;
	int fd = open(path, O_RDONLY | O_CLOEXEC);

	if (fd < 0 || fstat(fd, &st) < 0) {
		fprintf(stderr, "ctltest: %s: %s\n", path, strerror(errno));
		if (fd >= 0)
			close(fd);
		return NULL;
	}
	buf = malloc((size_t)st.st_size + 1);
	if (!buf || read(fd, buf, (size_t)st.st_size) != st.st_size) {
		fprintf(stderr, "ctltest: reading %s failed\n", path);
		free(buf);
		close(fd);
		return NULL;
	}
	close(fd);
	*len = (size_t)st.st_size;
	return buf;
}

static int cmd_memfd_dump(int fd, const char *path)
{
	uint64_t size;
	void *p;
	int mfd = get_memfd(fd, &size), r;

	if (mfd < 0)
		return 1;
	p = mmap(NULL, size, PROT_READ, MAP_SHARED, mfd, 0);
	close(mfd);
	if (p == MAP_FAILED) {
		perror("ctltest: mmap memfd");
		return 1;
	}
	r = write_file(path, p, size);
	munmap(p, size);
	return r ? 1 : 0;
}

static int cmd_export(int fd, const char *path)
{
	struct reply r;
	int s = call(fd, MVM_CMD_EXPORT, NULL, 0, &r), rc;

	if (s) {
		fprintf(stderr, "ctltest: export: %s (%d)\n",
			s == -1000 ? "I/O error" : (char *)r.data, s);
		if (s != -1000)
			reply_free(&r);
		return 1;
	}
	rc = write_file(path, r.data, r.h.len) ? 1 : 0;
	reply_free(&r);
	return rc;
}

static int cmd_import(int fd, const char *path)
{
	size_t len;
	uint8_t *img = read_file(path, &len);
	int rc;

	if (!img)
		return 1;
	rc = call_simple(fd, MVM_CMD_IMPORT, img, (uint32_t)len, "import");
	free(img);
	return rc;
}

static int cmd_wait(int fd, const char *want, double secs)
{
	struct timespec ts = { 0, 20 * 1000 * 1000 };
	struct mvm_ctl_status st;
	double waited = 0;

	for (;;) {
		if (get_status(fd, &st))
			return 1;
		if (!strcmp(state_name(st.state), want))
			return 0;
		if (st.state == MVM_VM_FAILED) {
			fprintf(stderr, "ctltest: VM failed\n");
			return 1;
		}
		if (waited >= secs) {
			fprintf(stderr, "ctltest: timeout waiting for '%s' (state %s)\n",
				want, state_name(st.state));
			return 1;
		}
		nanosleep(&ts, NULL);
		waited += 0.02;
	}
}

/* ---- selftest ---- */

static int g_checks, g_fails;

static void check(bool ok, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

static void check(bool ok, const char *fmt, ...)
{
	va_list ap;

	g_checks++;
	if (ok)
		return;
	g_fails++;
	va_start(ap, fmt);
	fputs("ctltest: FAIL: ", stderr);
	vfprintf(stderr, fmt, ap);
	fputc('\n', stderr);
	va_end(ap);
}

static void msleep(unsigned int ms)
{
	struct timespec ts = { ms / 1000, (long)(ms % 1000) * 1000000 };

	nanosleep(&ts, NULL);
}

static uint32_t fnv_dwords(const uint8_t *p, size_t len)
{
	uint32_t h = MVM_FNV_OFFSET, w;
	size_t i;

	for (i = 0; i + 4 <= len; i += 4) {
		memcpy(&w, p + i, 4);
		h = (h ^ w) * MVM_FNV_PRIME;
	}
	return h;
}

static uint32_t fnv_bytes(const uint8_t *p, size_t len)
{
	uint32_t h = MVM_FNV_OFFSET;
	size_t i;

	for (i = 0; i < len; i++)
		h = (h ^ p[i]) * MVM_FNV_PRIME;
	return h;
}

/* Expect an error reply (status < 0) to a hand-made packet. */
static void expect_error(int fd, const void *pkt, size_t len, const char *what)
{
	struct reply r;

	if (send_raw(fd, pkt, len) || recv_reply(fd, &r)) {
		check(false, "%s: no reply", what);
		return;
	}
	check(r.h.status < 0 && r.h.len > 0, "%s: expected an error reply, got %d",
	      what, r.h.status);
	reply_free(&r);
}

static void selftest_bad_requests(int fd)
{
	struct mvm_ctl_hdr h = { MVM_CTL_MAGIC, MVM_CTL_VERSION,
				 MVM_CMD_STATUS, 0, 0 };
	struct mvm_ctl_status st;
	uint8_t *big;
	struct {
		struct mvm_ctl_hdr h;
		uint32_t junk;
	} withp;
	struct reply r;
	int s;

	s = call(fd, 99, NULL, 0, &r);
	check(s == -EINVAL, "unknown command: status %d", s);
	if (s != -1000)
		reply_free(&r);

	h.magic = 0x12345678;
	expect_error(fd, &h, sizeof(h), "bad magic");
	h.magic = MVM_CTL_MAGIC;
	h.version = 77;
	expect_error(fd, &h, sizeof(h), "bad version");
	h.version = MVM_CTL_VERSION;
	h.len = 100;
	expect_error(fd, &h, sizeof(h), "length mismatch");
	h.len = 0;
	expect_error(fd, &h, 5, "short packet");
	withp.h = h;
	withp.h.len = sizeof(withp.junk);
	withp.junk = 0;
	expect_error(fd, &withp, sizeof(withp), "payload on STATUS");

	big = calloc(1, MVM_CTL_MAX_MSG + 4096);
	if (big) {
		h.cmd = MVM_CMD_IMPORT;
		h.len = MVM_CTL_MAX_MSG + 4096 - sizeof(h);
		memcpy(big, &h, sizeof(h));
		expect_error(fd, big, MVM_CTL_MAX_MSG + 4096, "oversized packet");
		free(big);
	}

	/* Import garbage of various kinds. */
	s = call(fd, MVM_CMD_IMPORT, "garbage", 7, &r);
	check(s < 0 && s != -1000, "import garbage: status %d", s);
	if (s != -1000)
		reply_free(&r);

	/* The connection must still work. */
	check(get_status(fd, &st) == 0, "status after bad requests");
}

static void selftest_export_import(int fd, const struct mvm_ctl_layout *l)
{
	struct mvm_state_hdr sh;
	struct mvm_blob_hdr bh;
	struct reply r, r2;
	uint8_t *img;
	size_t len, boff;
	unsigned int i;
	int s, s0;

	s0 = call(fd, MVM_CMD_EXPORT, NULL, 0, &r);
	check(s0 == 0, "export while paused: status %d", s0);
	if (s0)
		goto out_reply;
	len = r.h.len;
	img = r.data;
	check(len >= sizeof(sh), "export: image too short");
	if (len < sizeof(sh))
		goto out_reply;
	memcpy(&sh, img, sizeof(sh));
	check(sh.magic == MVM_STATE_MAGIC && sh.version == MVM_STATE_VERSION,
	      "export: bad magic/version");
	check(sh.nvcpus == l->nvcpus && sh.mem_size == l->mem_size,
	      "export: nvcpus/mem_size do not match the layout");
	check(sh.vcpu_rec_size == sizeof(struct mvm_vcpu_state) &&
	      sh.hdr_size == sizeof(sh), "export: record sizes");
	boff = sizeof(sh) + (size_t)sh.nvcpus * sizeof(struct mvm_vcpu_state);
	check(len == boff + sh.blob_size, "export: length %zu", len);
	if (len != boff + sh.blob_size)
		goto out_reply;
	for (i = 0; i < sh.nvcpus; i++) {
		struct mvm_vcpu_state vs;

		memcpy(&vs, img + sizeof(sh) + i * sizeof(vs), sizeof(vs));
		check(vs.id == i, "export: vcpu %u id %u", i, vs.id);
		check(vs.regs.rip >= MVM_GPA_CODE &&
		      vs.regs.rip < MVM_GPA_CODE + MVM_CODE_MAX,
		      "export: vcpu %u rip 0x%llx outside the program", i,
		      (unsigned long long)vs.regs.rip);
		check(vs.regs.rsi == l->vcpu[i].param_gpa,
		      "export: vcpu %u esi is not its parameter block", i);
		check(vs.regs.rsp == l->vcpu[i].stack_gpa + MVM_PAGE_SIZE,
		      "export: vcpu %u esp moved (stack used?)", i);
		check((vs.sregs.cr0 & 1) && !(vs.sregs.cr0 & 0x80000000u),
		      "export: vcpu %u not in protected mode without paging", i);
		check(!(vs.regs.rflags & 0x200), "export: vcpu %u has IF set", i);
		check((uint32_t)vs.progress == (uint32_t)vs.regs.rbp,
		      "export: vcpu %u progress %llu != ebp %llu", i,
		      (unsigned long long)vs.progress,
		      (unsigned long long)vs.regs.rbp);
	}
	memcpy(&bh, img + boff, sizeof(bh));
	check(bh.magic == MVM_BLOB_MAGIC && bh.size == sh.blob_size &&
	      bh.body_fnv == fnv_bytes(img + boff + sizeof(bh),
				       sh.blob_size - sizeof(bh)),
	      "export: device blob header/checksum");

	/* Round trip: importing what we exported must succeed. */
	s = call(fd, MVM_CMD_IMPORT, img, (uint32_t)len, &r2);
	check(s == 0, "import of own export: status %d (%s)", s,
	      s && s != -1000 ? (char *)r2.data : "");
	if (s != -1000)
		reply_free(&r2);

	/* Corruptions that must be refused. */
	img[boff + sizeof(bh)] ^= 0xff;
	s = call(fd, MVM_CMD_IMPORT, img, (uint32_t)len, &r2);
	check(s < 0 && s != -1000, "import with corrupt blob accepted");
	if (s != -1000)
		reply_free(&r2);
	img[boff + sizeof(bh)] ^= 0xff;
	s = call(fd, MVM_CMD_IMPORT, img, (uint32_t)len - 1, &r2);
	check(s < 0 && s != -1000, "truncated import accepted");
	if (s != -1000)
		reply_free(&r2);
	sh.nvcpus++;
	memcpy(img, &sh, sizeof(sh));
	s = call(fd, MVM_CMD_IMPORT, img, (uint32_t)len, &r2);
	check(s < 0 && s != -1000, "import with wrong vCPU count accepted");
	if (s != -1000)
		reply_free(&r2);
out_reply:
	if (s0 != -1000)
		reply_free(&r);
}

static int cmd_selftest(const char *path, int fd)
{
	struct mvm_ctl_status st, st2;
	struct mvm_ctl_layout l;
	uint64_t size, p1[MVM_MAX_VCPUS];
	uint32_t c1[MVM_MAX_VCPUS];
	struct reply r;
	struct stat sb;
	unsigned int i, waited;
	uint8_t *mem;
	int mfd, fd2, s;

	/* layout */
	if (get_layout(fd, &l))
		return 1;
	check(l.page_size == MVM_PAGE_SIZE, "layout: page size %u", l.page_size);
	check(l.nvcpus >= 1 && l.nvcpus <= MVM_MAX_VCPUS, "layout: nvcpus");
	check(l.nslots == 1 && l.slots[0].gpa == 0 &&
	      l.slots[0].size == l.mem_size && l.slots[0].memfd_offset == 0,
	      "layout: slot 0 must map all RAM at GPA 0, memfd offset 0");
	for (i = 0; i < l.nvcpus; i++) {
		check(l.vcpu[i].gpa >= MVM_GPA_DATA &&
		      l.vcpu[i].gpa + l.vcpu[i].npages * MVM_PAGE_SIZE <= l.mem_size,
		      "layout: vcpu %u region outside RAM", i);
		check(!i || l.vcpu[i].gpa >= l.vcpu[i - 1].gpa +
		      l.vcpu[i - 1].npages * MVM_PAGE_SIZE,
		      "layout: regions overlap");
	}

	/* memfd handoff */
	mfd = get_memfd(fd, &size);
	check(mfd >= 0, "get-memfd");
	if (mfd < 0)
		return 1;
	check(fstat(mfd, &sb) == 0 && (uint64_t)sb.st_size == l.mem_size &&
	      size == l.mem_size, "memfd size");
	mem = mmap(NULL, size, PROT_READ, MAP_SHARED, mfd, 0);
	close(mfd);
	check(mem != MAP_FAILED, "mmap memfd");
	if (mem == MAP_FAILED)
		return 1;
	check(!memcmp(mem + MVM_GPA_INFO, "MINIVM01", 8),
	      "memfd: boot page info header missing");
	for (i = 0; i < l.nvcpus; i++) {
		uint32_t magic;

		memcpy(&magic, mem + l.vcpu[i].param_gpa + MVM_P_MAGIC, 4);
		check(magic == MVM_PARAM_MAGIC, "memfd: vcpu %u param block", i);
	}

	/* a second client works concurrently */
	fd2 = ctl_connect(path);
	check(fd2 >= 0 && get_status(fd2, &st) == 0, "second client status");
	if (fd2 >= 0)
		close(fd2);

	/* running VM: export must be refused */
	if (get_status(fd, &st))
		return 1;
	check(st.state == MVM_VM_RUNNING, "VM not running at start (state %s)",
	      state_name(st.state));
	s = call(fd, MVM_CMD_EXPORT, NULL, 0, &r);
	check(s == -EBUSY, "export while running: status %d", s);
	if (s != -1000)
		reply_free(&r);

	/* pause: really stopped */
	check(call_simple(fd, MVM_CMD_PAUSE, NULL, 0, "pause") == 0, "pause");
	if (get_status(fd, &st))
		return 1;
	check(st.state == MVM_VM_PAUSED, "state after pause: %s",
	      state_name(st.state));
	for (i = 0; i < st.nvcpus; i++) {
		check(st.vcpu[i].state == MVM_VCPU_PAUSED ||
		      st.vcpu[i].state == MVM_VCPU_FINISHED,
		      "vcpu %u state %u after pause", i, st.vcpu[i].state);
		p1[i] = st.vcpu[i].progress;
		c1[i] = fnv_dwords(mem + l.vcpu[i].gpa,
				   l.vcpu[i].npages * MVM_PAGE_SIZE);
	}
	msleep(300);
	if (get_status(fd, &st2))
		return 1;
	for (i = 0; i < st.nvcpus; i++) {
		check(st2.vcpu[i].progress == p1[i],
		      "vcpu %u progressed while paused", i);
		check(fnv_dwords(mem + l.vcpu[i].gpa,
				 l.vcpu[i].npages * MVM_PAGE_SIZE) == c1[i],
		      "vcpu %u memory changed while paused", i);
	}
	check(call_simple(fd, MVM_CMD_PAUSE, NULL, 0, "pause") == 0,
	      "second pause is harmless");

	selftest_export_import(fd, &l);
	selftest_bad_requests(fd);

	/* resume: progress again */
	check(call_simple(fd, MVM_CMD_RESUME, NULL, 0, "resume") == 0, "resume");
	if (get_status(fd, &st2))
		return 1;
	check(st2.state == MVM_VM_RUNNING || st2.state == MVM_VM_FINISHED,
	      "state after resume: %s", state_name(st2.state));
	/*
	 * Progress is reported every --batch pages, and the end-of-run
	 * checksum reports none, so give it time (the guest may be emulated).
	 */
	for (waited = 0; waited < 10000; waited += 50) {
		unsigned int moved = 0;

		if (get_status(fd, &st2))
			return 1;
		for (i = 0; i < st.nvcpus; i++)
			moved += st2.vcpu[i].progress > p1[i] ||
				 st2.vcpu[i].state == MVM_VCPU_FINISHED;
		if (moved == st.nvcpus)
			break;
		msleep(50);
	}
	for (i = 0; i < st.nvcpus; i++)
		check(st2.vcpu[i].progress > p1[i] ||
		      st2.vcpu[i].state == MVM_VCPU_FINISHED,
		      "vcpu %u did not progress within 10 s of resume", i);

	munmap(mem, size);
	fprintf(stderr, "ctltest: selftest: %d checks, %d failed\n", g_checks,
		g_fails);
	return g_fails ? 1 : 0;
}

/* ---- json helper ---- */

static int cmd_json(const char *file, const char *path)
{
	struct json_object *root = json_object_from_file(file), *o;
	char *p, *tok, *save = NULL, *dup;
	int rc = 1;

	if (!root) {
		fprintf(stderr, "ctltest: cannot parse %s\n", file);
		return 1;
	}
	dup = strdup(path);
	o = root;
	for (tok = strtok_r(dup, ".", &save); tok && o;
	     tok = strtok_r(NULL, ".", &save)) {
		if (json_object_is_type(o, json_type_array)) {
			long idx = strtol(tok, &p, 10);

			o = *p ? NULL : json_object_array_get_idx(o, (size_t)idx);
		} else if (!json_object_object_get_ex(o, tok, &o)) {
			o = NULL;
		}
	}
	if (!o) {
		fprintf(stderr, "ctltest: %s: no '%s'\n", file, path);
	} else {
		if (json_object_is_type(o, json_type_string))
			printf("%s\n", json_object_get_string(o));
		else
			printf("%s\n", json_object_to_json_string_ext(o,
							JSON_C_TO_STRING_PLAIN));
		rc = 0;
	}
	free(dup);
	json_object_put(root);
	return rc;
}

static int usage(void)
{
	fprintf(stderr,
		"usage: ctltest SOCK status|layout|pause|resume|stop|quit\n"
		"       ctltest SOCK memfd-dump|export|import FILE\n"
		"       ctltest SOCK wait running|paused|finished|incoming [SECS]\n"
		"       ctltest SOCK selftest | raw CMD\n"
		"       ctltest json FILE PATH\n");
	return 2;
}

int main(int argc, char **argv)
{
	const char *cmd;
	int fd, rc;

	if (argc >= 4 && !strcmp(argv[1], "json"))
		return cmd_json(argv[2], argv[3]);
	if (argc < 3)
		return usage();
	cmd = argv[2];
	fd = ctl_connect(argv[1]);
	if (fd < 0)
		return 1;
	if (!strcmp(cmd, "status"))
		rc = cmd_status(fd);
	else if (!strcmp(cmd, "layout"))
		rc = cmd_layout(fd);
	else if (!strcmp(cmd, "pause"))
		rc = call_simple(fd, MVM_CMD_PAUSE, NULL, 0, cmd);
	else if (!strcmp(cmd, "resume"))
		rc = call_simple(fd, MVM_CMD_RESUME, NULL, 0, cmd);
	else if (!strcmp(cmd, "stop"))
		rc = call_simple(fd, MVM_CMD_STOP, NULL, 0, cmd);
	else if (!strcmp(cmd, "quit"))
		rc = call_simple(fd, MVM_CMD_QUIT, NULL, 0, cmd);
	else if (!strcmp(cmd, "memfd-dump") && argc == 4)
		rc = cmd_memfd_dump(fd, argv[3]);
	else if (!strcmp(cmd, "export") && argc == 4)
		rc = cmd_export(fd, argv[3]);
	else if (!strcmp(cmd, "import") && argc == 4)
		rc = cmd_import(fd, argv[3]);
	else if (!strcmp(cmd, "wait") && argc >= 4)
		rc = cmd_wait(fd, argv[3], argc > 4 ? atof(argv[4]) : 30.0);
	else if (!strcmp(cmd, "selftest"))
		rc = cmd_selftest(argv[1], fd);
	else if (!strcmp(cmd, "raw") && argc == 4) {
		struct reply r;
		int s = call(fd, (uint16_t)atoi(argv[3]), NULL, 0, &r);

		printf("status %d%s%s\n", s, s && s != -1000 ? ": " : "",
		       s && s != -1000 ? (char *)r.data : "");
		if (s != -1000)
			reply_free(&r);
		rc = s ? 1 : 0;
	} else {
		close(fd);
		return usage();
	}
	close(fd);
	return rc;
}
