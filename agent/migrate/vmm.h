/* SPDX-License-Identifier: GPL-2.0 */
#ifndef PCOPY_AGENT_MIG_VMM_H
#define PCOPY_AGENT_MIG_VMM_H

/*
 * A client of a VMM's control socket: minivm's protocol
 * (tools/minivm/minivm_ctl.h, Documentation/minivm.rst).  Every request is
 * one SOCK_SEQPACKET packet answered by exactly one reply.  Errors name
 * the socket and the command, with the VMM's own message when it sent
 * one; they are kept in err[] and printed here unless the caller set quiet
 * to report them itself.
 */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "../../tools/minivm/minivm_ctl.h"

struct mig_vmm {
	int fd;
	const char *path;
	pid_t pid;		/* the VMM, from SO_PEERCRED */
	const char *who;	/* "send" or "recv", for messages */
	bool quiet;		/* keep errors in err[] only, do not print them */
	char err[320];		/* the last error, the VMM's message included */
};

/* Connect to @path and learn the VMM's pid.  0 or a negative errno. */
int vmm_open(struct mig_vmm *v, const char *path, const char *who);
void vmm_close(struct mig_vmm *v);

int vmm_layout(struct mig_vmm *v, struct mvm_ctl_layout *l);
/* The guest RAM memfd and its size; the caller owns *fd. */
int vmm_memfd(struct mig_vmm *v, int *fd, struct mvm_ctl_memfd *m);
int vmm_pause(struct mig_vmm *v);
int vmm_resume(struct mig_vmm *v);
/* The state image (vCPUs + device blob); *img is malloc()ed. */
int vmm_export(struct mig_vmm *v, void **img, size_t *len);
int vmm_import(struct mig_vmm *v, const void *img, size_t len);

#endif
