// SPDX-License-Identifier: GPL-2.0
/* A growing buffer (buf.h). */
#include <errno.h>
#include <stdlib.h>

#include "buf.h"

int buf_grow(void **buf, size_t *cap, size_t len)
{
	size_t n = *cap ? *cap : 512;
	void *p;

	if (len <= *cap)
		return 0;
	while (n < len)
		n *= 2;
	p = realloc(*buf, n);
	if (!p)
		return -ENOMEM;
	*buf = p;
	*cap = n;
	return 0;
}
