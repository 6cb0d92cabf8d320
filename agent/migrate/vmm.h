/* SPDX-License-Identifier: GPL-2.0 */
#ifndef PCOPY_AGENT_MIGRATE_VMM_H
#define PCOPY_AGENT_MIGRATE_VMM_H

/*
 * The VMM adapter: all the migration engines ask of the thing that holds
 * the guest.  An adapter fills a struct vmm with its ops when it opens;
 * the engines call the vmm_*() wrappers below and never see a VMM's own
 * protocol.  Two adapters exist:
 *
 *   vmm_minivm.c   minivm's control socket (vmm_minivm_proto.h): a live VM
 *                  that pauses, resumes, exports and imports its state;
 *   vmm_file.c     a memory file and an optional state file (a stopped
 *                  source, a Firecracker snapshot): nothing runs, pause and
 *                  resume have nothing to do, there is no import.
 *
 * A new VMM (Firecracker's API socket, QEMU's QMP, ...) is a new file with
 * its own open function; Documentation/architecture.rst says where it is
 * chosen.  Errors name the VMM and the request, with the VMM's own message
 * when it sent one; they are kept in err[] and printed here unless the
 * caller set quiet to report them itself.
 */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#define VMM_MAX_SLOTS	4

struct vmm_slot {
	uint32_t id;		/* KVM memslot id */
	uint64_t gpa;
	uint64_t size;
	uint64_t mem_offset;	/* offset of gpa in the memory fd */
};

struct vmm_layout {
	uint32_t page_size;
	uint64_t mem_size;		/* bytes of guest RAM */
	uint32_t nvcpus;
	uint32_t dirty_ring_entries;	/* per vCPU, 0 = no KVM dirty ring */
	uint32_t nslots;
	struct vmm_slot slots[VMM_MAX_SLOTS];
};

struct vmm;

struct vmm_ops {
	void (*close)(struct vmm *v);
	int (*layout)(struct vmm *v, struct vmm_layout *l);
	/*
	 * A descriptor the guest RAM can be mapped from, its size and the
	 * offset of GPA 0 in it; the caller owns *fd.
	 */
	int (*memory)(struct vmm *v, int *fd, uint64_t *size, uint64_t *offset);
	int (*pause)(struct vmm *v);
	int (*resume)(struct vmm *v);
	/* The device state image, opaque to the engines; *img is malloc()ed. */
	int (*state_export)(struct vmm *v, void **img, size_t *len);
	int (*state_import)(struct vmm *v, const void *img, size_t len);
	/* The process whose memory pcopy.ko tracks; 0 if none runs. */
	pid_t (*pid)(const struct vmm *v);
};

struct vmm {
	const struct vmm_ops *ops;	/* NULL until opened */
	const char *who;	/* "send" or "recv", for messages */
	const char *what;	/* what the memory is, for messages */
	bool live;		/* a running guest: precopy and pause make sense */
	bool has_state;		/* state_export() has something to give */
	bool quiet;		/* keep errors in err[] only, do not print them */
	char err[320];		/* the last error, the VMM's message included */

	/* the adapter's own */
	int fd;
	pid_t peer;
	const char *path;
	const char *state_path;
};

/*
 * minivm's control socket at @path (vmm_minivm.c): connect, waiting a few
 * seconds for it to appear, and learn the VMM's pid.  0 or a negative
 * errno (printed).
 */
int vmm_minivm_open(struct vmm *v, const char *path, const char *who);

/*
 * A memory file @mem and, if not NULL, a state file @state (vmm_file.c).
 * Opens nothing yet: memory() and state_export() read the files.
 */
int vmm_file_open(struct vmm *v, const char *mem, const char *state, const char *who);

/* printf into v->err, and onto stderr as "pcopy: WHO: ..." unless quiet */
void vmm_err(struct vmm *v, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static inline void vmm_close(struct vmm *v)
{
	if (v->ops)
		v->ops->close(v);
	v->ops = NULL;
}

static inline int vmm_layout(struct vmm *v, struct vmm_layout *l)
{
	return v->ops->layout(v, l);
}

static inline int vmm_memory(struct vmm *v, int *fd, uint64_t *size, uint64_t *offset)
{
	return v->ops->memory(v, fd, size, offset);
}

static inline int vmm_pause(struct vmm *v)
{
	return v->ops->pause(v);
}

static inline int vmm_resume(struct vmm *v)
{
	return v->ops->resume(v);
}

static inline int vmm_export(struct vmm *v, void **img, size_t *len)
{
	return v->ops->state_export(v, img, len);
}

static inline int vmm_import(struct vmm *v, const void *img, size_t len)
{
	return v->ops->state_import(v, img, len);
}

static inline pid_t vmm_pid(const struct vmm *v)
{
	return v->ops->pid(v);
}

#endif
