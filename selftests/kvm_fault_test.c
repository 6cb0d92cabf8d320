// SPDX-License-Identifier: GPL-2.0
/*
 * vCPU attribution with a real KVM guest: guest memory is registered with
 * userfaultfd, the guest writes to it from its vCPU thread, and pcopy must
 * attribute those faults to the vCPU index KVM runs (learned from KVM, with
 * no help from this "VMM"), count KVM's non-blocking GUP attempts as nowait
 * faults, and count a helper thread's faults as non-vCPU faults.
 *
 * session_follows_exec: a shell tracks itself with "pcopy track $$" and
 * execs (through env) this program in guest mode, which runs the guest on
 * vCPU 3 and then execs itself to run it again on vCPU 5.  Every fault
 * after each exec must be counted in the one session, and the vCPUs must
 * be learned again: after the second exec only vCPU 5 is known.
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include <json-c/json.h>
#include <linux/kvm.h>
#include <linux/userfaultfd.h>

#include "kselftest_harness.h"
#include "lib.h"

#undef TEST_TIMEOUT_DEFAULT
#define TEST_TIMEOUT_DEFAULT 300

#define PAGE 4096UL
#define CODE_GPA 0x0UL
#define CODE_SIZE 0x10000UL
#define DATA_GPA 0x10000UL
#define DATA_SIZE 0x10000UL
#define GUEST_PAGES 4
#define HELPER_PAGES 2
#define VCPU_ID 3

/*
 * Real mode at 0000:1000.  DS = 0x1000 puts DS:0 at DATA_GPA; one byte is
 * written into each of GUEST_PAGES pages, then hlt.
 */
static const unsigned char guest_code[] = {
	0xb8, 0x00, 0x10,		/* mov ax, 0x1000 */
	0x8e, 0xd8,			/* mov ds, ax */
	0xc6, 0x06, 0x00, 0x00, 0x11,	/* mov byte [0x0000], 0x11 */
	0xc6, 0x06, 0x00, 0x10, 0x22,	/* mov byte [0x1000], 0x22 */
	0xc6, 0x06, 0x00, 0x20, 0x33,	/* mov byte [0x2000], 0x33 */
	0xc6, 0x06, 0x00, 0x30, 0x44,	/* mov byte [0x3000], 0x44 */
	0xf4,				/* hlt */
};

struct vm {
	int kvm, vm, vcpu;
	struct kvm_run *run;
	char *code, *data;
	pid_t vcpu_tid;
	int exit_reason;
	int run_err;
};

static void *vcpu_thread(void *arg)
{
	struct vm *v = arg;

	v->vcpu_tid = sys_gettid();
	v->run_err = ioctl(v->vcpu, KVM_RUN, 0) ? errno : 0;
	v->exit_reason = v->run->exit_reason;
	return NULL;
}

struct resolver {
	int uffd;
	int expect;
	int served;
	int err;
	pid_t ptid[GUEST_PAGES + HELPER_PAGES];
	unsigned long addr[GUEST_PAGES + HELPER_PAGES];
};

static void *resolver_thread(void *arg)
{
	struct resolver *r = arg;
	struct uffd_msg msg;

	while (r->served < r->expect) {
		r->err = uffd_read_msg(r->uffd, &msg, 60000);
		if (r->err)
			return NULL;
		r->ptid[r->served] = msg.arg.pagefault.feat.ptid;
		r->addr[r->served] = msg.arg.pagefault.address;
		r->err = uffd_copy_page(r->uffd, msg.arg.pagefault.address, 0);
		if (r->err)
			return NULL;
		r->served++;
	}
	return NULL;
}

static void *helper_thread(void *arg)
{
	volatile char *p = arg;
	unsigned long sum = 0;
	int i;

	for (i = 0; i < HELPER_PAGES; i++)
		sum += p[i * PAGE];
	return (void *)sum;
}

/* What one guest run saw; err names the step that failed. */
struct guest_result {
	const char *err;
	int sys_errno;
	pid_t vcpu_tid;
	int served, vcpu_faults;	/* as the resolver saw them */
	bool data_ok;
};

#define GUEST_FAIL(step) do { out->err = (step); out->sys_errno = errno; goto out; } while (0)

/*
 * Build the guest (code slot present, data and helper areas registered
 * with userfaultfd), run it on vCPU @vcpu_id with the resolver and the
 * helper thread, and check what it wrote.  Nothing here tracks anything.
 */
static void guest_run(int vcpu_id, struct guest_result *out)
{
	struct kvm_userspace_memory_region code_slot, data_slot;
	struct resolver res = { .expect = GUEST_PAGES + HELPER_PAGES };
	pthread_t vth, rth, hth;
	struct kvm_sregs sregs;
	struct kvm_regs regs;
	struct vm v = { 0 };
	int i, mmap_size;
	char *helper_area;

	memset(out, 0, sizeof(*out));
	v.kvm = open("/dev/kvm", O_RDWR | O_CLOEXEC);
	if (v.kvm < 0)
		GUEST_FAIL("open /dev/kvm");
	res.uffd = uffd_open(UFFD_FEATURE_THREAD_ID);
	if (res.uffd < 0)
		GUEST_FAIL("userfaultfd");
	v.vm = ioctl(v.kvm, KVM_CREATE_VM, 0);
	if (v.vm < 0)
		GUEST_FAIL("KVM_CREATE_VM");
	v.code = mmap(NULL, CODE_SIZE, PROT_READ | PROT_WRITE,
		      MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (v.code == MAP_FAILED)
		GUEST_FAIL("mmap code");
	memset(v.code, 0xf4, CODE_SIZE);	/* present, and hlt everywhere */
	memcpy(v.code + 0x1000, guest_code, sizeof(guest_code));
	v.data = uffd_area(res.uffd, DATA_SIZE);
	helper_area = uffd_area(res.uffd, HELPER_PAGES * PAGE);
	if (!v.data || !helper_area)
		GUEST_FAIL("uffd_area");

	code_slot = (struct kvm_userspace_memory_region){
		.slot = 0, .guest_phys_addr = CODE_GPA,
		.memory_size = CODE_SIZE, .userspace_addr = (unsigned long)v.code,
	};
	data_slot = (struct kvm_userspace_memory_region){
		.slot = 1, .guest_phys_addr = DATA_GPA,
		.memory_size = DATA_SIZE, .userspace_addr = (unsigned long)v.data,
	};
	if (ioctl(v.vm, KVM_SET_USER_MEMORY_REGION, &code_slot) ||
	    ioctl(v.vm, KVM_SET_USER_MEMORY_REGION, &data_slot))
		GUEST_FAIL("KVM_SET_USER_MEMORY_REGION");
	v.vcpu = ioctl(v.vm, KVM_CREATE_VCPU, vcpu_id);
	if (v.vcpu < 0)
		GUEST_FAIL("KVM_CREATE_VCPU");
	mmap_size = ioctl(v.kvm, KVM_GET_VCPU_MMAP_SIZE, 0);
	if (mmap_size <= 0)
		GUEST_FAIL("KVM_GET_VCPU_MMAP_SIZE");
	v.run = mmap(NULL, mmap_size, PROT_READ | PROT_WRITE, MAP_SHARED, v.vcpu, 0);
	if (v.run == MAP_FAILED)
		GUEST_FAIL("mmap kvm_run");
	if (ioctl(v.vcpu, KVM_GET_SREGS, &sregs))
		GUEST_FAIL("KVM_GET_SREGS");
	sregs.cs.base = 0;
	sregs.cs.selector = 0;
	if (ioctl(v.vcpu, KVM_SET_SREGS, &sregs))
		GUEST_FAIL("KVM_SET_SREGS");
	memset(&regs, 0, sizeof(regs));
	regs.rip = 0x1000;
	regs.rflags = 0x2;
	if (ioctl(v.vcpu, KVM_SET_REGS, &regs))
		GUEST_FAIL("KVM_SET_REGS");

	if (pthread_create(&rth, NULL, resolver_thread, &res))
		GUEST_FAIL("resolver thread");
	if (pthread_create(&vth, NULL, vcpu_thread, &v))
		GUEST_FAIL("vCPU thread");
	if (pthread_create(&hth, NULL, helper_thread, helper_area))
		GUEST_FAIL("helper thread");
	pthread_join(vth, NULL);
	pthread_join(hth, NULL);
	pthread_join(rth, NULL);
	errno = v.run_err;
	if (v.run_err)
		GUEST_FAIL("KVM_RUN");
	errno = 0;
	if (v.exit_reason != KVM_EXIT_HLT)
		GUEST_FAIL("guest exit other than hlt");
	errno = -res.err;
	if (res.err)
		GUEST_FAIL("resolver");

	out->vcpu_tid = v.vcpu_tid;
	out->served = res.served;
	for (i = 0; i < res.served; i++)
		if (res.ptid[i] == v.vcpu_tid)
			out->vcpu_faults++;
	/* what the guest wrote, byte for byte */
	out->data_ok = true;
	for (i = 0; i < GUEST_PAGES; i++)
		if ((unsigned char)v.data[i * PAGE] != 0x11 * (i + 1) ||
		    v.data[i * PAGE + 1])
			out->data_ok = false;
out:
	/* the caller exits or execs: the kernel closes the rest */
	return;
}

static bool have_kvm(void)
{
	int fd = open("/dev/kvm", O_RDWR | O_CLOEXEC);

	if (fd < 0)
		return false;
	close(fd);
	return true;
}

TEST(vcpu_attribution)
{
	struct sess_stats *st = malloc(sizeof(*st));
	struct guest_result g;
	struct nl_result r;
	struct nl_sock *sk;
	const struct vcpu_stat *vs;
	int fam;

	ASSERT_NE(NULL, st);
	ASSERT_EQ(0, module_ensure_loaded());
	if (!have_kvm())
		SKIP(return, "no /dev/kvm");
	sk = pcopy_connect(&fam);
	ASSERT_NE(NULL, sk) TH_LOG("cannot reach the pcopy family");

	/* track ourselves; nothing tells pcopy which thread is the vCPU */
	ASSERT_EQ(0, sess_cmd(sk, fam, PCOPY_CMD_SESSION_NEW, getpid(), &r));
	nl_result_free(&r);

	guest_run(VCPU_ID, &g);
	ASSERT_EQ(NULL, g.err) TH_LOG("%s: %s", g.err, strerror(g.sys_errno));
	ASSERT_EQ(GUEST_PAGES + HELPER_PAGES, g.served);
	EXPECT_TRUE(g.data_ok);
	EXPECT_EQ(GUEST_PAGES, g.vcpu_faults);

	ASSERT_EQ(0, sess_get(sk, fam, getpid(), st));
	EXPECT_EQ(GUEST_PAGES + HELPER_PAGES, st->faults);
	EXPECT_EQ(GUEST_PAGES, st->vcpu_faults);
	EXPECT_EQ(HELPER_PAGES, st->nonvcpu_faults);
	/* KVM tried each guest page once without waiting first */
	EXPECT_EQ(GUEST_PAGES, st->nowait);
	/* the vCPU thread has exited: its vCPU is listed, no longer known */
	EXPECT_EQ(0, st->known_vcpus);
	ASSERT_EQ(1, st->nvcpus);
	vs = find_vcpu(st, VCPU_ID);
	ASSERT_NE(NULL, vs);
	EXPECT_TRUE(vs->detached);
	EXPECT_EQ((uint32_t)g.vcpu_tid, vs->tid);
	EXPECT_FALSE(vs->explicit_map);
	EXPECT_EQ(GUEST_PAGES, vs->faults);
	EXPECT_EQ(0, vs->outstanding);
	EXPECT_LT(0, vs->lat_min);
	EXPECT_EQ(vs->lat_sum, vs->blocktime);
	/* a single known vCPU: the VM was blocked whenever it was */
	EXPECT_EQ(vs->blocktime, st->blocktime);

	sess_cmd(sk, fam, PCOPY_CMD_SESSION_DEL, getpid(), &r);
	nl_result_free(&r);
	nl_socket_free(sk);
	free(st);
}

/*
 * Guest mode, for session_follows_exec: run the guest on vCPU @argv[2],
 * report on fd 3, then exec this program again for vCPU @argv[3] if given;
 * the last one waits for fd 4 to reach EOF, so the test reads the session
 * while the process still exists.
 */
static int guest_main(int argc, char **argv)
{
	struct guest_result g;
	char buf[256];
	int n;

	guest_run(atoi(argv[2]), &g);
	n = snprintf(buf, sizeof(buf), "%s %d %d %d %d %d\n",
		     g.err ? "fail" : "ok", atoi(argv[2]), (int)g.vcpu_tid,
		     g.served, g.vcpu_faults, g.data_ok);
	if (write(3, buf, n) != n || g.err)
		return 1;
	if (argc > 3) {
		execl("/proc/self/exe", argv[0], "--guest", argv[3], (char *)NULL);
		return 1;
	}
	while (read(4, buf, sizeof(buf)) > 0)
		;
	return 0;
}

TEST(session_follows_exec)
{
	struct sess_stats *st = malloc(sizeof(*st));
	int res[2], hold[2], fam, status, i;
	int vcpu[2], tid[2], served[2], vf[2], ok[2];
	const struct vcpu_stat *vs;
	struct nl_result r;
	struct nl_sock *sk;
	char self[4096], word[8];
	struct nl_msg *msg;
	uint64_t features;
	ssize_t len;
	FILE *f;
	pid_t pid;

	ASSERT_NE(NULL, st);
	ASSERT_EQ(0, module_ensure_loaded());
	if (!have_kvm())
		SKIP(return, "no /dev/kvm");
	sk = pcopy_connect(&fam);
	ASSERT_NE(NULL, sk);
	msg = pcopy_msg(fam, PCOPY_CMD_GET_INFO, 0);
	ASSERT_EQ(0, nl_xfer(sk, msg, &r));
	nlmsg_free(msg);
	features = nla_get_u64(r.tb[PCOPY_A_FEATURES]);
	nl_result_free(&r);
	ASSERT_TRUE(features & PCOPY_FEAT_EXEC_HOOK) TH_LOG("no exec hook: %#llx",
							    (unsigned long long)features);

	len = readlink("/proc/self/exe", self, sizeof(self) - 1);
	ASSERT_LT(0, len);
	self[len] = 0;
	ASSERT_EQ(0, setenv("PCOPY", src_path("agent/pcopy"), 1));
	ASSERT_EQ(0, pipe(res));
	ASSERT_EQ(0, pipe(hold));
	pid = fork();
	ASSERT_LE(0, pid);
	if (pid == 0) {
		/* fd 3: reports, fd 4: held open by the test */
		if (dup2(res[1], 3) < 0 || dup2(hold[0], 4) < 0)
			_exit(126);
		if (res[0] != 3 && res[0] != 4)
			close(res[0]);
		if (hold[1] != 3 && hold[1] != 4)
			close(hold[1]);
		execl("/bin/sh", "sh", "-c",
		      "\"$PCOPY\" track $$ >/dev/null && exec env \"$0\" --guest 3 5",
		      self, (char *)NULL);
		_exit(127);
	}
	close(res[1]);
	close(hold[0]);
	f = fdopen(res[0], "r");
	ASSERT_NE(NULL, f);
	for (i = 0; i < 2; i++) {
		ASSERT_EQ(6, fscanf(f, "%7s %d %d %d %d %d", word, &vcpu[i], &tid[i],
				    &served[i], &vf[i], &ok[i]))
			TH_LOG("guest run %d did not report", i);
		ASSERT_STREQ("ok", word);
		EXPECT_EQ(GUEST_PAGES + HELPER_PAGES, served[i]);
		EXPECT_EQ(GUEST_PAGES, vf[i]);
		EXPECT_EQ(1, ok[i]);
	}
	EXPECT_EQ(3, vcpu[0]);
	EXPECT_EQ(5, vcpu[1]);

	/* one session through sh -> env -> guest on vCPU 3 -> guest on vCPU 5 */
	ASSERT_EQ(0, sess_get(sk, fam, pid, st));
	EXPECT_EQ(3, st->execs);
	EXPECT_EQ(served[0] + served[1], st->faults);
	EXPECT_EQ(vf[0] + vf[1], st->vcpu_faults);
	EXPECT_EQ(2 * HELPER_PAGES, st->nonvcpu_faults);
	EXPECT_EQ(2 * GUEST_PAGES, st->nowait);
	EXPECT_EQ(0, st->outstanding);
	/* each image's vCPU was learned from KVM in that image */
	ASSERT_EQ(2, st->nvcpus);
	vs = find_vcpu(st, 3);
	ASSERT_NE(NULL, vs);
	EXPECT_EQ((uint32_t)tid[0], vs->tid);
	EXPECT_EQ(GUEST_PAGES, vs->faults);
	EXPECT_TRUE(vs->detached);
	vs = find_vcpu(st, 5);
	ASSERT_NE(NULL, vs);
	EXPECT_EQ((uint32_t)tid[1], vs->tid);
	EXPECT_EQ(GUEST_PAGES, vs->faults);
	EXPECT_EQ(0, st->known_vcpus);

	close(hold[1]);
	fclose(f);
	ASSERT_EQ(pid, waitpid(pid, &status, 0));
	EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	nl_socket_free(sk);
	free(st);
}

/*
 * pcopy run: this program in guest mode, started by "pcopy run --json F
 * --", runs the guest on vCPU 2, then execs itself for vCPU 6.  The
 * session starts before the command's first instruction and its final
 * figures, read after the exit, count every fault of both images.
 */
TEST(run_tracks_from_the_first_instruction)
{
	const char *jf = "/tmp/pcopy-kvm-run.json";
	int res[2], hold[2], status, i;
	int vcpu[2], tid[2], served[2], vf[2], ok[2];
	struct json_object *o, *v, *e;
	char self[4096], word[8], *json;
	size_t n, k;
	ssize_t len;
	FILE *f;
	pid_t pid;

	ASSERT_EQ(0, module_ensure_loaded());
	if (!have_kvm())
		SKIP(return, "no /dev/kvm");
	len = readlink("/proc/self/exe", self, sizeof(self) - 1);
	ASSERT_LT(0, len);
	self[len] = 0;
	unlink(jf);
	ASSERT_EQ(0, pipe(res));
	ASSERT_EQ(0, pipe(hold));
	pid = fork();
	ASSERT_LE(0, pid);
	if (pid == 0) {
		if (dup2(res[1], 3) < 0 || dup2(hold[0], 4) < 0)
			_exit(126);
		if (res[0] != 3 && res[0] != 4)
			close(res[0]);
		if (hold[1] != 3 && hold[1] != 4)
			close(hold[1]);
		execl(src_path("agent/pcopy"), "pcopy", "run", "--json", jf, "--",
		      self, "--guest", "2", "6", (char *)NULL);
		_exit(127);
	}
	close(res[1]);
	close(hold[0]);
	f = fdopen(res[0], "r");
	ASSERT_NE(NULL, f);
	for (i = 0; i < 2; i++) {
		ASSERT_EQ(6, fscanf(f, "%7s %d %d %d %d %d", word, &vcpu[i], &tid[i],
				    &served[i], &vf[i], &ok[i]))
			TH_LOG("guest run %d did not report", i);
		ASSERT_STREQ("ok", word);
		EXPECT_EQ(1, ok[i]);
	}
	close(hold[1]);
	fclose(f);
	ASSERT_EQ(pid, waitpid(pid, &status, 0));
	EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) TH_LOG("%#x", status);

	json = read_file(jf);
	ASSERT_NE(NULL, json);
	o = json_tokener_parse(json);
	free(json);
	ASSERT_NE(NULL, o);
#define J(key) (json_object_object_get_ex(o, key, &v) ? json_object_get_int64(v) : -1)
	EXPECT_EQ(served[0] + served[1], J("faults"));
	EXPECT_EQ(vf[0] + vf[1], J("vcpu_faults"));
	EXPECT_EQ(2 * HELPER_PAGES, J("nonvcpu_faults"));
	EXPECT_EQ(2 * GUEST_PAGES, J("nowait_faults"));
	/* the fork of pcopy execs this program, which execs itself */
	EXPECT_EQ(2, J("execs"));
	EXPECT_EQ(0, J("outstanding"));
#undef J
	ASSERT_TRUE(json_object_object_get_ex(o, "ended", &e));
	ASSERT_TRUE(json_object_object_get_ex(e, "reason", &e));
	EXPECT_STREQ("exited", json_object_get_string(e));
	ASSERT_TRUE(json_object_object_get_ex(o, "vcpus", &e));
	n = json_object_array_length(e);
	EXPECT_EQ(2, n);
	for (k = 0; k < n && k < 2; k++) {
		struct json_object *x = json_object_array_get_idx(e, k);

		ASSERT_TRUE(json_object_object_get_ex(x, "index", &v));
		EXPECT_EQ(vcpu[k], json_object_get_int64(v));
		ASSERT_TRUE(json_object_object_get_ex(x, "tid", &v));
		EXPECT_EQ(tid[k], json_object_get_int64(v));
		ASSERT_TRUE(json_object_object_get_ex(x, "faults", &v));
		EXPECT_EQ(vf[k], json_object_get_int64(v));
	}
	json_object_put(o);
	unlink(jf);
}

#define main harness_main
TEST_HARNESS_MAIN
#undef main

int main(int argc, char **argv)
{
	if (argc >= 3 && !strcmp(argv[1], "--guest"))
		return guest_main(argc, argv);
	return harness_main(argc, argv);
}
