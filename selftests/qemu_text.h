/* SPDX-License-Identifier: GPL-2.0 */
/*
 * QEMU's HMP text, for the tests of `pcopy stats --qemu`: apart from lib.c,
 * so that a host test linked against the agent's parts can use it too.
 */
#ifndef PCOPY_SELFTEST_QEMU_TEXT_H
#define PCOPY_SELFTEST_QEMU_TEXT_H

#include <stddef.h>
#include <stdint.h>

#include <pcopy.h>

/*
 * What QEMU 10.1's `info migrate -a` prints as its "Postcopy Latency
 * Distribution" for the 24 bucket counts @hist (the title line included),
 * written to @out.  The bucket labels are literal, from QEMU's own sample
 * output, so they check the agent's formatting rather than repeat it.
 */
void qemu_dist_text(char *out, size_t len, const uint64_t *hist);

#endif
