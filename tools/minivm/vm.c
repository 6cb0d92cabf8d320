// SPDX-License-Identifier: GPL-2.0
/*
 * minivm VM setup and vCPU threads.
 *
 * One memfd holds guest RAM; it is mapped MAP_SHARED and registered as KVM
 * memslot 0 at GPA 0 (with KVM_MEM_LOG_DIRTY_PAGES when the dirty ring is
 * on).  Each vCPU has a thread that loops on KVM_RUN and handles the port
 * I/O protocol of the guest program (guest_abi.h).
 *
 * Pause protocol: the controller sets vm->pause_req under vm->lock, sets
 * kvm_run->immediate_exit = 1 on every live vCPU and sends it SIGUSR1 (an
 * empty handler, no SA_RESTART).  Whether the signal lands inside KVM_RUN
 * or just before it, KVM_RUN returns -EINTR, after completing any pending
 * port I/O, so the registers are consistent.  The vCPU thread then parks
 * on vm->cond, marking itself PAUSED, and the controller waits until every
 * live vCPU is parked.  Resume clears pause_req and broadcasts; the vCPU
 * clears immediate_exit under the lock before re-entering.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <sys/mman.h>

#include "minivm.h"

#define MVM_TSS_ADDR	0xfffbd000u	/* above any RAM we allow (3 GiB) */

enum { IO_CONTINUE = 0, IO_DONE = 1 };

static void notify_main(struct mvm_vm *vm)
{
	uint64_t one = 1;

	if (write(vm->event_fd, &one, sizeof(one)) < 0 && errno != EAGAIN)
		mvm_err("eventfd write: %s", strerror(errno));
}

static void vcpu_fail(struct mvm_vcpu *v, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

static void vcpu_fail(struct mvm_vcpu *v, const char *fmt, ...)
{
	struct mvm_vm *vm = v->vm;
	struct kvm_regs regs;
	char msg[128];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (ioctl(v->fd, KVM_GET_REGS, &regs) < 0)
		memset(&regs, 0, sizeof(regs));
	pthread_mutex_lock(&vm->lock);
	snprintf(v->fail_msg, sizeof(v->fail_msg), "%s (rip 0x%llx)", msg,
		 (unsigned long long)regs.rip);
	v->state = MVM_VCPU_FAILED;
	vm->failed = true;
	pthread_cond_broadcast(&vm->cond);
	pthread_mutex_unlock(&vm->lock);
	mvm_err("vcpu %u: %s", v->id, v->fail_msg);
}

/* Account a new 32-bit W; caller holds vm->lock. */
static void set_w(struct mvm_vcpu *v, uint32_t w)
{
	v->progress += (uint32_t)(w - v->last_w);
	v->last_w = w;
}

/* Refresh progress from %ebp; vCPU must be out of KVM_RUN. */
static void sync_progress(struct mvm_vcpu *v)
{
	struct kvm_regs regs;

	if (ioctl(v->fd, KVM_GET_REGS, &regs) == 0)
		set_w(v, (uint32_t)regs.rbp);
}

/*
 * Park while a pause is requested.  Returns false if the VM is quitting.
 * Called at thread start and whenever KVM_RUN returned -EINTR.
 */
static bool vcpu_park(struct mvm_vcpu *v)
{
	struct mvm_vm *vm = v->vm;
	bool parked = false;

	pthread_mutex_lock(&vm->lock);
	while (vm->pause_req && !vm->quit_req) {
		if (!parked) {
			parked = true;
			sync_progress(v);
			v->state = MVM_VCPU_PAUSED;
			pthread_cond_broadcast(&vm->cond);
		}
		pthread_cond_wait(&vm->cond, &vm->lock);
	}
	/* Quitting, or imported as already finished on the source. */
	if (vm->quit_req || v->state == MVM_VCPU_FINISHED) {
		pthread_mutex_unlock(&vm->lock);
		return false;
	}
	__atomic_store_n(&v->run->immediate_exit, 0, __ATOMIC_RELAXED);
	v->state = MVM_VCPU_RUNNING;
	if (parked)
		v->rate_rebase = true;
	pthread_mutex_unlock(&vm->lock);
	return true;
}

static bool stop_requested(struct mvm_vm *vm)
{
	return __atomic_load_n(&vm->pause_req, __ATOMIC_RELAXED) ||
	       __atomic_load_n(&vm->quit_req, __ATOMIC_RELAXED);
}

/* Hold the vCPU to vm->rate pages/s, measured since the last (re)start. */
static void rate_limit(struct mvm_vcpu *v, uint64_t progress)
{
	uint32_t rate = __atomic_load_n(&v->vm->rate, __ATOMIC_RELAXED);
	uint64_t now, target;
	struct timespec ts;

	if (!rate)
		return;
	now = mvm_now_ns();
	if (v->rate_rebase) {
		v->rate_rebase = false;
		v->rate_t0_ns = now;
		v->rate_w0 = progress;
		return;
	}
	target = v->rate_t0_ns +
		 (progress - v->rate_w0) * 1000000000ull / rate;
	/* Far behind (e.g. stalled on a fault): do not burst to catch up. */
	if (now > target + 1000000000ull) {
		v->rate_t0_ns = now;
		v->rate_w0 = progress;
		return;
	}
	while (now < target && !stop_requested(v->vm)) {
		ts.tv_sec = (time_t)(target / 1000000000ull);
		ts.tv_nsec = (long)(target % 1000000000ull);
		clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, NULL);
		now = mvm_now_ns();
	}
}

static void report_csum(struct mvm_vcpu *v, uint32_t guest)
{
	struct mvm_vm *vm = v->vm;
	/* This vCPU is stopped and nobody else writes its region. */
	uint32_t host = mvm_region_csum(vm, v->id);

	pthread_mutex_lock(&vm->lock);
	v->guest_csum = guest;
	v->host_csum = host;
	v->csum_reports++;
	v->vs_flags |= MVM_VS_CSUM_VALID | MVM_VS_HOST_CSUM_VALID;
	if (guest != host)
		v->vs_flags |= MVM_VS_CSUM_MISMATCH;
	pthread_mutex_unlock(&vm->lock);
	if (guest != host)
		mvm_err("vcpu %u: checksum MISMATCH: guest 0x%08x host 0x%08x",
			v->id, guest, host);
	else
		mvm_log(vm, "vcpu %u: run %u checksum 0x%08x (host agrees)",
			v->id, v->csum_reports, guest);
}

static int handle_io(struct mvm_vcpu *v)
{
	struct mvm_vm *vm = v->vm;
	struct kvm_run *run = v->run;
	uint8_t *data = (uint8_t *)run + run->io.data_offset;
	uint32_t val;

	if (run->io.size != 4 || run->io.count != 1)
		goto bad;
	if (run->io.direction == KVM_EXIT_IO_IN) {
		if (run->io.port != MVM_PORT_CTRL)
			goto bad;
		pthread_mutex_lock(&vm->lock);
		val = vm->loop && !vm->stop_loop;
		pthread_mutex_unlock(&vm->lock);
		memcpy(data, &val, sizeof(val));
		return IO_CONTINUE;
	}

	memcpy(&val, data, sizeof(val));
	switch (run->io.port) {
	case MVM_PORT_BATCH: {
		uint64_t progress;

		pthread_mutex_lock(&vm->lock);
		set_w(v, val);
		progress = v->progress;
		pthread_mutex_unlock(&vm->lock);
		rate_limit(v, progress);
		return IO_CONTINUE;
	}
	case MVM_PORT_SCAN:
		pthread_mutex_lock(&vm->lock);
		v->scan_csum = val;
		v->scan_reports++;
		pthread_mutex_unlock(&vm->lock);
		return IO_CONTINUE;
	case MVM_PORT_CSUM:
		report_csum(v, val);
		return IO_CONTINUE;
	case MVM_PORT_DONE:
		return IO_DONE;
	case MVM_PORT_ERROR:
		vcpu_fail(v, "guest rejected its parameter block (0x%x)", val);
		return -EINVAL;
	}
bad:
	vcpu_fail(v, "unexpected port I/O: %s port 0x%x size %u count %u",
		  run->io.direction == KVM_EXIT_IO_IN ? "in" : "out",
		  run->io.port, run->io.size, run->io.count);
	return -EINVAL;
}

static int handle_exit(struct mvm_vcpu *v)
{
	struct kvm_run *run = v->run;

	switch (run->exit_reason) {
	case KVM_EXIT_IO:
		return handle_io(v);
	case KVM_EXIT_DIRTY_RING_FULL: {
		uint64_t mine;

		pthread_mutex_lock(&v->vm->lock);
		v->ring_full_exits++;
		pthread_mutex_unlock(&v->vm->lock);
		mvm_dirty_reap(v->vm, v, &mine);
		/*
		 * Another reaper may have emptied our ring just before, so one
		 * empty harvest is fine; a long run of them means our fetch
		 * index and KVM's ring no longer agree (ring overflow).
		 */
		v->ring_full_idle = mine ? 0 : v->ring_full_idle + 1;
		if (v->ring_full_idle >= 1000) {
			vcpu_fail(v, "dirty ring out of sync: KVM keeps reporting it full but no entry is at the harvest index (ring overflow, entries lost)");
			return -EIO;
		}
		return IO_CONTINUE;
	}
	case KVM_EXIT_INTR:
		return IO_CONTINUE;
	case KVM_EXIT_HLT:
		vcpu_fail(v, "guest halted unexpectedly");
		break;
	case KVM_EXIT_SHUTDOWN:
		vcpu_fail(v, "guest triple fault (KVM_EXIT_SHUTDOWN)");
		break;
	case KVM_EXIT_FAIL_ENTRY:
		vcpu_fail(v, "KVM_EXIT_FAIL_ENTRY, reason 0x%llx",
			  (unsigned long long)
			  run->fail_entry.hardware_entry_failure_reason);
		break;
	case KVM_EXIT_INTERNAL_ERROR:
		vcpu_fail(v, "KVM_EXIT_INTERNAL_ERROR, suberror %u",
			  run->internal.suberror);
		break;
	case KVM_EXIT_MMIO:
		vcpu_fail(v, "access to unbacked GPA 0x%llx",
			  (unsigned long long)run->mmio.phys_addr);
		break;
	default:
		vcpu_fail(v, "unexpected exit reason %u", run->exit_reason);
		break;
	}
	return -EINVAL;
}

static void vcpu_finish(struct mvm_vcpu *v)
{
	struct mvm_vm *vm = v->vm;
	unsigned int i, done = 0;

	/* Complete the OUT to MVM_PORT_DONE so RIP is past it. */
	__atomic_store_n(&v->run->immediate_exit, 1, __ATOMIC_RELAXED);
	if (ioctl(v->fd, KVM_RUN, 0) == 0 || errno != EINTR)
		mvm_err("vcpu %u: completing the last exit did not return EINTR",
			v->id);

	pthread_mutex_lock(&vm->lock);
	sync_progress(v);
	v->state = MVM_VCPU_FINISHED;
	v->vs_flags |= MVM_VS_FINISHED;
	for (i = 0; i < vm->nvcpus; i++)
		done += vm->vcpus[i].state == MVM_VCPU_FINISHED;
	if (done == vm->nvcpus)
		vm->t_done_ns = mvm_now_ns();
	pthread_cond_broadcast(&vm->cond);
	pthread_mutex_unlock(&vm->lock);
	mvm_log(vm, "vcpu %u: finished", v->id);
}

static void *vcpu_thread(void *arg)
{
	struct mvm_vcpu *v = arg;
	struct mvm_vm *vm = v->vm;
	sigset_t set;
	int r;

	sigemptyset(&set);
	sigaddset(&set, SIGUSR1);
	pthread_sigmask(SIG_UNBLOCK, &set, NULL);

	if (!vcpu_park(v))
		goto out;
	for (;;) {
		r = ioctl(v->fd, KVM_RUN, 0);
		if (r < 0) {
			if (errno == EINTR || errno == EAGAIN) {
				if (!vcpu_park(v))
					break;
				continue;
			}
			vcpu_fail(v, "KVM_RUN: %s", strerror(errno));
			break;
		}
		__atomic_fetch_add(&v->exits, 1, __ATOMIC_RELAXED);
		r = handle_exit(v);
		if (r == IO_DONE) {
			vcpu_finish(v);
			break;
		}
		if (r < 0)
			break;
	}
out:
	notify_main(vm);
	return NULL;
}

static bool vcpu_live(const struct mvm_vcpu *v)
{
	return v->thread_started && v->state != MVM_VCPU_FINISHED &&
	       v->state != MVM_VCPU_FAILED;
}

/* Caller holds vm->lock. */
static void kick_all(struct mvm_vm *vm)
{
	unsigned int i;

	for (i = 0; i < vm->nvcpus; i++) {
		struct mvm_vcpu *v = &vm->vcpus[i];

		if (!vcpu_live(v))
			continue;
		__atomic_store_n(&v->run->immediate_exit, 1, __ATOMIC_RELAXED);
		pthread_kill(v->thread, SIGUSR1);
	}
}

/* Caller holds vm->lock. */
static bool all_stopped(struct mvm_vm *vm)
{
	unsigned int i;

	for (i = 0; i < vm->nvcpus; i++)
		if (vcpu_live(&vm->vcpus[i]) &&
		    vm->vcpus[i].state != MVM_VCPU_PAUSED)
			return false;
	return true;
}

int mvm_vm_pause(struct mvm_vm *vm)
{
	struct timespec dl;
	int r = 0;

	clock_gettime(CLOCK_MONOTONIC, &dl);
	dl.tv_sec += MVM_PAUSE_TIMEOUT_MS / 1000;
	pthread_mutex_lock(&vm->lock);
	vm->pause_req = true;
	kick_all(vm);
	while (!all_stopped(vm)) {
		r = pthread_cond_timedwait(&vm->cond, &vm->lock, &dl);
		if (r == ETIMEDOUT && !all_stopped(vm)) {
			pthread_mutex_unlock(&vm->lock);
			return -ETIMEDOUT;
		}
	}
	pthread_mutex_unlock(&vm->lock);
	mvm_dirty_reap(vm, NULL, NULL);
	mvm_dirty_flush(vm);
	return 0;
}

int mvm_vm_resume(struct mvm_vm *vm)
{
	pthread_mutex_lock(&vm->lock);
	if (vm->pause_req) {
		vm->pause_req = false;
		if (!vm->ever_ran) {
			vm->ever_ran = true;
			vm->t_run_ns = mvm_now_ns();
		}
		pthread_cond_broadcast(&vm->cond);
	}
	pthread_mutex_unlock(&vm->lock);
	return 0;
}

/* Paused: a pause was requested and every live vCPU is parked. */
bool mvm_vm_paused(struct mvm_vm *vm)
{
	bool r;

	pthread_mutex_lock(&vm->lock);
	r = vm->pause_req && all_stopped(vm);
	pthread_mutex_unlock(&vm->lock);
	return r;
}

int mvm_vm_state(struct mvm_vm *vm)
{
	unsigned int i, done = 0;
	int st;

	pthread_mutex_lock(&vm->lock);
	for (i = 0; i < vm->nvcpus; i++)
		done += vm->vcpus[i].state == MVM_VCPU_FINISHED;
	if (vm->failed)
		st = MVM_VM_FAILED;
	else if (vm->incoming && !vm->imported)
		st = MVM_VM_INCOMING;
	else if (done == vm->nvcpus)
		st = MVM_VM_FINISHED;
	else if (vm->pause_req && all_stopped(vm))
		st = MVM_VM_PAUSED;
	else
		st = MVM_VM_RUNNING;
	pthread_mutex_unlock(&vm->lock);
	return st;
}

int mvm_vm_start(struct mvm_vm *vm)
{
	unsigned int i;
	int r;

	pthread_mutex_lock(&vm->lock);
	vm->pause_req = vm->cfg->start_paused || vm->incoming;
	if (!vm->pause_req) {
		vm->ever_ran = true;
		vm->t_run_ns = mvm_now_ns();
	}
	pthread_mutex_unlock(&vm->lock);

	for (i = 0; i < vm->nvcpus; i++) {
		struct mvm_vcpu *v = &vm->vcpus[i];

		v->rate_rebase = true;
		r = pthread_create(&v->thread, NULL, vcpu_thread, v);
		if (r) {
			mvm_err("pthread_create: %s", strerror(r));
			return -r;	/* caller runs mvm_vm_stop() */
		}
		v->thread_started = true;
	}
	return 0;
}

static void quit_and_kick(struct mvm_vm *vm)
{
	pthread_mutex_lock(&vm->lock);
	vm->quit_req = true;
	kick_all(vm);
	pthread_cond_broadcast(&vm->cond);
	pthread_mutex_unlock(&vm->lock);
}

/* Join the vCPU threads until the CLOCK_REALTIME deadline; true if all. */
static bool join_all(struct mvm_vm *vm, unsigned int secs)
{
	struct timespec dl;
	unsigned int i;
	bool all = true;

	clock_gettime(CLOCK_REALTIME, &dl);
	dl.tv_sec += secs;
	for (i = 0; i < vm->nvcpus; i++) {
		struct mvm_vcpu *v = &vm->vcpus[i];

		if (!v->thread_started)
			continue;
		if (pthread_timedjoin_np(v->thread, NULL, &dl) == 0)
			v->thread_started = false;
		else
			all = false;
	}
	return all;
}

/*
 * Stop and join every vCPU thread, then harvest what is left.  A vCPU
 * blocked on a userfault that is never served cannot be interrupted (KVM
 * waits for the page); in incoming mode minivm then drops its own uffd
 * reference, which releases the faults if the handler has gone away.
 * Threads still stuck after that are reported and vm->stuck is set: the
 * caller must then exit without mvm_vm_destroy().
 */
void mvm_vm_stop(struct mvm_vm *vm)
{
	unsigned int i;

	quit_and_kick(vm);
	if (!join_all(vm, 5) && vm->incoming) {
		mvm_err("vCPUs do not stop (unserved userfaults?): releasing the uffd");
		pthread_mutex_lock(&vm->lock);
		vm->failed = true;	/* faults may now see zero pages */
		pthread_mutex_unlock(&vm->lock);
		mvm_incoming_fini(vm);
		quit_and_kick(vm);
		join_all(vm, 2);
	}
	for (i = 0; i < vm->nvcpus; i++) {
		if (vm->vcpus[i].thread_started) {
			mvm_err("vcpu %u is stuck in KVM_RUN", i);
			vm->stuck = true;
		}
	}
	mvm_dirty_reap(vm, NULL, NULL);
	mvm_dirty_flush(vm);
}

static struct kvm_cpuid2 *get_supported_cpuid(int kvm_fd)
{
	struct kvm_cpuid2 *c;
	unsigned int n = 64;

	for (;;) {
		c = calloc(1, sizeof(*c) + n * sizeof(c->entries[0]));
		if (!c)
			return NULL;
		c->nent = n;
		if (ioctl(kvm_fd, KVM_GET_SUPPORTED_CPUID, c) == 0)
			return c;
		free(c);
		if (errno != E2BIG || n >= 4096) {
			mvm_err("KVM_GET_SUPPORTED_CPUID: %s", strerror(errno));
			return NULL;
		}
		n *= 2;
	}
}

static void vcpu_destroy(struct mvm_vm *vm, struct mvm_vcpu *v)
{
	mvm_dirty_unmap_vcpu(vm, v);
	if (v->run) {
		munmap(v->run, vm->run_size);
		v->run = NULL;
	}
	if (v->fd >= 0) {
		close(v->fd);
		v->fd = -1;
	}
}

static int vcpu_create(struct mvm_vm *vm, struct mvm_vcpu *v,
		       struct kvm_cpuid2 *cpuid)
{
	void *run;
	int err;

	v->fd = ioctl(vm->vm_fd, KVM_CREATE_VCPU, v->id);
	if (v->fd < 0) {
		err = -errno;
		mvm_err("KVM_CREATE_VCPU %u: %s", v->id, strerror(errno));
		return err;
	}
	run = mmap(NULL, vm->run_size, PROT_READ | PROT_WRITE, MAP_SHARED,
		   v->fd, 0);
	if (run == MAP_FAILED) {
		err = -errno;
		mvm_err("vcpu %u: mmap kvm_run: %s", v->id, strerror(errno));
		goto err_fd;
	}
	v->run = run;
	if (ioctl(v->fd, KVM_SET_CPUID2, cpuid) < 0) {
		err = -errno;
		mvm_err("vcpu %u: KVM_SET_CPUID2: %s", v->id, strerror(errno));
		goto err_run;
	}
	err = mvm_guest_init_vcpu(vm, v);
	if (err)
		goto err_run;
	err = mvm_dirty_map_vcpu(vm, v);
	if (err)
		goto err_run;
	v->state = MVM_VCPU_INIT;
	return 0;

err_run:
	munmap(v->run, vm->run_size);
	v->run = NULL;
err_fd:
	close(v->fd);
	v->fd = -1;
	return err;
}

static int check_kvm(struct mvm_vm *vm)
{
	int r;

	r = ioctl(vm->kvm_fd, KVM_GET_API_VERSION, 0);
	if (r != KVM_API_VERSION) {
		mvm_err("unexpected KVM API version %d", r);
		return -ENOTSUP;
	}
	if (ioctl(vm->vm_fd, KVM_CHECK_EXTENSION, KVM_CAP_USER_MEMORY) <= 0 ||
	    ioctl(vm->vm_fd, KVM_CHECK_EXTENSION, KVM_CAP_IMMEDIATE_EXIT) <= 0) {
		mvm_err("KVM lacks KVM_CAP_USER_MEMORY or KVM_CAP_IMMEDIATE_EXIT");
		return -ENOTSUP;
	}
	r = ioctl(vm->vm_fd, KVM_CHECK_EXTENSION, KVM_CAP_MAX_VCPUS);
	if (r <= 0)
		r = ioctl(vm->vm_fd, KVM_CHECK_EXTENSION, KVM_CAP_NR_VCPUS);
	if (r > 0 && (unsigned int)r < vm->nvcpus) {
		mvm_err("KVM supports only %d vCPUs", r);
		return -EINVAL;
	}
	r = ioctl(vm->kvm_fd, KVM_GET_VCPU_MMAP_SIZE, 0);
	if (r < (int)sizeof(struct kvm_run)) {
		mvm_err("KVM_GET_VCPU_MMAP_SIZE: %s", strerror(errno));
		return -ENOTSUP;
	}
	vm->run_size = (size_t)r;
	return 0;
}

int mvm_vm_create(struct mvm_vm *vm, const struct mvm_config *cfg)
{
	struct kvm_userspace_memory_region mr;
	struct kvm_cpuid2 *cpuid;
	pthread_condattr_t ca;
	unsigned int i, made = 0;
	void *mem;
	int err;

	memset(vm, 0, sizeof(*vm));
	vm->cfg = cfg;
	vm->nvcpus = cfg->nvcpus;
	vm->mem_size = cfg->mem_size;
	vm->region_pages = (uint32_t)((cfg->mem_size - MVM_GPA_DATA) /
				      MVM_PAGE_SIZE / cfg->nvcpus);
	vm->workload = cfg->workload;
	vm->rate = cfg->rate;
	vm->loop = cfg->loop;
	vm->incoming = cfg->incoming != NULL;
	vm->kvm_fd = vm->vm_fd = vm->mem_fd = vm->event_fd = -1;
	vm->uffd = vm->uffd_sock = -1;
	vm->t_start_ns = mvm_now_ns();
	for (i = 0; i < MVM_MAX_VCPUS; i++) {
		vm->vcpus[i].vm = vm;
		vm->vcpus[i].id = i;
		vm->vcpus[i].fd = -1;
	}

	pthread_mutex_init(&vm->lock, NULL);
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&vm->cond, &ca);
	pthread_condattr_destroy(&ca);

	vm->kvm_fd = open("/dev/kvm", O_RDWR | O_CLOEXEC);
	if (vm->kvm_fd < 0) {
		err = -errno;
		mvm_err("cannot open /dev/kvm: %s", strerror(errno));
		goto err_sync;
	}
	vm->vm_fd = ioctl(vm->kvm_fd, KVM_CREATE_VM, 0);
	if (vm->vm_fd < 0) {
		err = -errno;
		mvm_err("KVM_CREATE_VM: %s", strerror(errno));
		goto err_kvm;
	}
	err = check_kvm(vm);
	if (err)
		goto err_vmfd;
	if (ioctl(vm->vm_fd, KVM_SET_TSS_ADDR, MVM_TSS_ADDR) < 0) {
		err = -errno;
		mvm_err("KVM_SET_TSS_ADDR: %s", strerror(errno));
		goto err_vmfd;
	}
	vm->event_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (vm->event_fd < 0) {
		err = -errno;
		mvm_err("eventfd: %s", strerror(errno));
		goto err_vmfd;
	}
	/* Must precede vCPU creation. */
	err = mvm_dirty_init(vm);
	if (err)
		goto err_event;

	vm->mem_fd = memfd_create("minivm-ram", MFD_CLOEXEC);
	if (vm->mem_fd < 0) {
		err = -errno;
		mvm_err("memfd_create: %s", strerror(errno));
		goto err_dirty;
	}
	if (ftruncate(vm->mem_fd, (off_t)vm->mem_size) < 0) {
		err = -errno;
		mvm_err("ftruncate memfd to %llu bytes: %s",
			(unsigned long long)vm->mem_size, strerror(errno));
		goto err_memfd;
	}
	mem = mmap(NULL, vm->mem_size, PROT_READ | PROT_WRITE, MAP_SHARED,
		   vm->mem_fd, 0);
	if (mem == MAP_FAILED) {
		err = -errno;
		mvm_err("mmap guest RAM: %s", strerror(errno));
		goto err_memfd;
	}
	vm->mem = mem;

	memset(&mr, 0, sizeof(mr));
	mr.slot = 0;
	mr.flags = vm->dirty.enabled ? KVM_MEM_LOG_DIRTY_PAGES : 0;
	mr.guest_phys_addr = 0;
	mr.memory_size = vm->mem_size;
	mr.userspace_addr = (uintptr_t)vm->mem;
	if (ioctl(vm->vm_fd, KVM_SET_USER_MEMORY_REGION, &mr) < 0) {
		err = -errno;
		mvm_err("KVM_SET_USER_MEMORY_REGION: %s", strerror(errno));
		goto err_mmap;
	}

	/* An incoming VM gets all of its memory from the source. */
	if (!vm->incoming) {
		err = mvm_guest_load(vm);
		if (err)
			goto err_mmap;
	}
	err = mvm_blob_init(vm, cfg->blob_size, cfg->seed);
	if (err)
		goto err_mmap;

	cpuid = get_supported_cpuid(vm->kvm_fd);
	if (!cpuid) {
		err = -ENOMEM;
		goto err_blob;
	}
	for (made = 0; made < vm->nvcpus; made++) {
		err = vcpu_create(vm, &vm->vcpus[made], cpuid);
		if (err)
			break;
	}
	free(cpuid);
	if (err)
		goto err_vcpus;

	if (vm->incoming) {
		err = mvm_incoming_setup(vm, cfg->incoming);
		if (err)
			goto err_vcpus;
	}
	mvm_log(vm, "VM: %u vCPU(s), %llu MiB, %u pages per vCPU region",
		vm->nvcpus, (unsigned long long)(vm->mem_size >> 20),
		vm->region_pages);
	return 0;

err_vcpus:
	while (made--)
		vcpu_destroy(vm, &vm->vcpus[made]);
err_blob:
	mvm_blob_fini(vm);
err_mmap:
	munmap(vm->mem, vm->mem_size);
	vm->mem = NULL;
err_memfd:
	close(vm->mem_fd);
	vm->mem_fd = -1;
err_dirty:
	mvm_dirty_fini(vm);
err_event:
	close(vm->event_fd);
	vm->event_fd = -1;
err_vmfd:
	close(vm->vm_fd);
	vm->vm_fd = -1;
err_kvm:
	close(vm->kvm_fd);
	vm->kvm_fd = -1;
err_sync:
	pthread_cond_destroy(&vm->cond);
	pthread_mutex_destroy(&vm->lock);
	return err;
}

/* Threads must have been stopped with mvm_vm_stop(). */
void mvm_vm_destroy(struct mvm_vm *vm)
{
	unsigned int i;

	mvm_incoming_fini(vm);
	for (i = 0; i < vm->nvcpus; i++)
		vcpu_destroy(vm, &vm->vcpus[i]);
	mvm_blob_fini(vm);
	munmap(vm->mem, vm->mem_size);
	vm->mem = NULL;
	close(vm->mem_fd);
	mvm_dirty_fini(vm);
	close(vm->event_fd);
	close(vm->vm_fd);
	close(vm->kvm_fd);
	pthread_cond_destroy(&vm->cond);
	pthread_mutex_destroy(&vm->lock);
}
