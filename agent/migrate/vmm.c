// SPDX-License-Identifier: GPL-2.0
/* What every VMM adapter shares (vmm.h). */
#include <stdarg.h>
#include <stdio.h>

#include "vmm.h"

void vmm_err(struct vmm *v, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(v->err, sizeof(v->err), fmt, ap);
	va_end(ap);
	if (!v->quiet)
		fprintf(stderr, "pcopy: %s: %s\n", v->who, v->err);
}
