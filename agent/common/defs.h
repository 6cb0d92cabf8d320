/* SPDX-License-Identifier: GPL-2.0 */
#ifndef PCOPY_AGENT_COMMON_DEFS_H
#define PCOPY_AGENT_COMMON_DEFS_H

/*
 * Definitions every part of the agent shares, and the marker of a part's
 * public interface.
 *
 * Each part (libcommon, libobserve, libmigrate) is compiled with
 * -fvisibility=hidden and linked into one relocatable object whose hidden
 * symbols are then made local (agent/Makefile): a function the other parts
 * may call is declared between PCOPY_PUBLIC_BEGIN and PCOPY_PUBLIC_END in
 * one of the part's public headers; any other function that is not static
 * is still shared between the part's own files, but calling it from
 * another part fails to link.
 */
#include <stdint.h>
#include <time.h>

#define PCOPY_PUBLIC_BEGIN	_Pragma("GCC visibility push(default)")
#define PCOPY_PUBLIC_END	_Pragma("GCC visibility pop")
/* In a public header: this one is for the part's own files only. */
#define PCOPY_PART_ONLY		__attribute__((visibility("hidden")))

#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))

#define NSEC_PER_USEC	((uint64_t)1000)
#define NSEC_PER_MSEC	((uint64_t)1000000)
#define NSEC_PER_SEC	((uint64_t)1000000000)

/* Clock @clk now, in ns. */
static inline uint64_t clock_ns(clockid_t clk)
{
	struct timespec ts;

	clock_gettime(clk, &ts);
	return (uint64_t)ts.tv_sec * NSEC_PER_SEC + (uint64_t)ts.tv_nsec;
}

#endif
