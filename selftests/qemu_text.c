// SPDX-License-Identifier: GPL-2.0
/* QEMU's HMP text, as the tests expect the agent to reproduce it. */
#include <stdio.h>

#include "qemu_text.h"

void qemu_dist_text(char *out, size_t len, const uint64_t *hist)
{
	/* each bound in whole us, ms or sec, truncated ("65 ms"), width 8 */
	static const char * const labels[PCOPY_HIST_US_BUCKETS] = {
		"  [     1 us -     2 us ]: ", "  [     2 us -     4 us ]: ",
		"  [     4 us -     8 us ]: ", "  [     8 us -    16 us ]: ",
		"  [    16 us -    32 us ]: ", "  [    32 us -    64 us ]: ",
		"  [    64 us -   128 us ]: ", "  [   128 us -   256 us ]: ",
		"  [   256 us -   512 us ]: ", "  [   512 us -     1 ms ]: ",
		"  [     1 ms -     2 ms ]: ", "  [     2 ms -     4 ms ]: ",
		"  [     4 ms -     8 ms ]: ", "  [     8 ms -    16 ms ]: ",
		"  [    16 ms -    32 ms ]: ", "  [    32 ms -    65 ms ]: ",
		"  [    65 ms -   131 ms ]: ", "  [   131 ms -   262 ms ]: ",
		"  [   262 ms -   524 ms ]: ", "  [   524 ms -    1 sec ]: ",
		"  [    1 sec -    2 sec ]: ", "  [    2 sec -    4 sec ]: ",
		"  [    4 sec -    8 sec ]: ", "  [    8 sec -   16 sec ]: ",
	};
	size_t n = snprintf(out, len, "Postcopy Latency Distribution:\n");
	int i;

	for (i = 0; i < PCOPY_HIST_US_BUCKETS && n < len; i++)
		n += snprintf(out + n, len - n, "%s%10llu\n", labels[i],
			      (unsigned long long)hist[i]);
}
