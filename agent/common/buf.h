/* SPDX-License-Identifier: GPL-2.0 */
#ifndef PCOPY_AGENT_COMMON_BUF_H
#define PCOPY_AGENT_COMMON_BUF_H

#include <stddef.h>

#include "defs.h"

PCOPY_PUBLIC_BEGIN

/*
 * Make the malloc()ed buffer *@buf of *@cap bytes (0 and NULL at first)
 * hold at least @len bytes: doubled from 512 until it does.  0, or -ENOMEM
 * with the buffer as it was.
 */
int buf_grow(void **buf, size_t *cap, size_t len);

PCOPY_PUBLIC_END

#endif
