// SPDX-License-Identifier: GPL-2.0
/*
 * vCPU attribution with a real KVM guest: guest memory is registered with
 * userfaultfd, the guest writes to it from its vCPU thread, and pcopy must
 * attribute those faults to the vCPU index KVM runs (learned from KVM, with
 * no help from this "VMM"), count KVM's non-blocking GUP attempts as nowait
 * faults, and count a helper thread's faults as non-vCPU faults.
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <unistd.h>

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

TEST(vcpu_attribution)
{
	struct kvm_userspace_memory_region code_slot, data_slot;
	struct resolver res = { .expect = GUEST_PAGES + HELPER_PAGES };
	struct sess_stats *st = malloc(sizeof(*st));
	pthread_t vth, rth, hth;
	struct kvm_sregs sregs;
	struct kvm_regs regs;
	struct nl_result r;
	struct nl_sock *sk;
	struct vm v = { 0 };
	int fam, i, mmap_size, vcpu_faults_seen = 0;
	char *helper_area;
	const struct vcpu_stat *vs;

	ASSERT_NE(NULL, st);
	ASSERT_EQ(0, module_ensure_loaded());
	v.kvm = open("/dev/kvm", O_RDWR | O_CLOEXEC);
	if (v.kvm < 0)
		SKIP(return, "no /dev/kvm");
	sk = pcopy_connect(&fam);
	ASSERT_NE(NULL, sk) TH_LOG("cannot reach the pcopy family");

	res.uffd = uffd_open(UFFD_FEATURE_THREAD_ID);
	ASSERT_LE(0, res.uffd);
	v.vm = ioctl(v.kvm, KVM_CREATE_VM, 0);
	ASSERT_LE(0, v.vm);

	v.code = mmap(NULL, CODE_SIZE, PROT_READ | PROT_WRITE,
		      MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	ASSERT_NE(MAP_FAILED, v.code);
	memset(v.code, 0xf4, CODE_SIZE);	/* present, and hlt everywhere */
	memcpy(v.code + 0x1000, guest_code, sizeof(guest_code));
	v.data = uffd_area(res.uffd, DATA_SIZE);
	ASSERT_NE(NULL, v.data);
	helper_area = uffd_area(res.uffd, HELPER_PAGES * PAGE);
	ASSERT_NE(NULL, helper_area);

	code_slot = (struct kvm_userspace_memory_region){
		.slot = 0, .guest_phys_addr = CODE_GPA,
		.memory_size = CODE_SIZE, .userspace_addr = (unsigned long)v.code,
	};
	data_slot = (struct kvm_userspace_memory_region){
		.slot = 1, .guest_phys_addr = DATA_GPA,
		.memory_size = DATA_SIZE, .userspace_addr = (unsigned long)v.data,
	};
	ASSERT_EQ(0, ioctl(v.vm, KVM_SET_USER_MEMORY_REGION, &code_slot));
	ASSERT_EQ(0, ioctl(v.vm, KVM_SET_USER_MEMORY_REGION, &data_slot));

	v.vcpu = ioctl(v.vm, KVM_CREATE_VCPU, VCPU_ID);
	ASSERT_LE(0, v.vcpu);
	mmap_size = ioctl(v.kvm, KVM_GET_VCPU_MMAP_SIZE, 0);
	ASSERT_LT(0, mmap_size);
	v.run = mmap(NULL, mmap_size, PROT_READ | PROT_WRITE, MAP_SHARED, v.vcpu, 0);
	ASSERT_NE(MAP_FAILED, v.run);
	ASSERT_EQ(0, ioctl(v.vcpu, KVM_GET_SREGS, &sregs));
	sregs.cs.base = 0;
	sregs.cs.selector = 0;
	ASSERT_EQ(0, ioctl(v.vcpu, KVM_SET_SREGS, &sregs));
	memset(&regs, 0, sizeof(regs));
	regs.rip = 0x1000;
	regs.rflags = 0x2;
	ASSERT_EQ(0, ioctl(v.vcpu, KVM_SET_REGS, &regs));

	/* track ourselves; nothing tells pcopy which thread is the vCPU */
	ASSERT_EQ(0, sess_cmd(sk, fam, PCOPY_CMD_SESSION_NEW, getpid(), &r));
	nl_result_free(&r);

	ASSERT_EQ(0, pthread_create(&rth, NULL, resolver_thread, &res));
	ASSERT_EQ(0, pthread_create(&vth, NULL, vcpu_thread, &v));
	ASSERT_EQ(0, pthread_create(&hth, NULL, helper_thread, helper_area));
	pthread_join(vth, NULL);
	pthread_join(hth, NULL);
	pthread_join(rth, NULL);
	ASSERT_EQ(0, v.run_err);
	ASSERT_EQ(KVM_EXIT_HLT, v.exit_reason);
	ASSERT_EQ(0, res.err);
	ASSERT_EQ(GUEST_PAGES + HELPER_PAGES, res.served);

	/* what the guest wrote, byte for byte */
	for (i = 0; i < GUEST_PAGES; i++) {
		EXPECT_EQ(0x11 * (i + 1), (unsigned char)v.data[i * PAGE]);
		EXPECT_EQ(0, v.data[i * PAGE + 1]);
	}
	for (i = 0; i < res.served; i++)
		if (res.ptid[i] == v.vcpu_tid)
			vcpu_faults_seen++;
	EXPECT_EQ(GUEST_PAGES, vcpu_faults_seen);

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
	EXPECT_EQ((uint32_t)v.vcpu_tid, vs->tid);
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

TEST_HARNESS_MAIN
