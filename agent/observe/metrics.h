/* SPDX-License-Identifier: GPL-2.0 */
#ifndef PCOPY_AGENT_METRICS_H
#define PCOPY_AGENT_METRICS_H

/*
 * The module's state in the Prometheus text exposition format (0.0.4),
 * for "pcopy exporter" (Documentation/exporter.rst): module counters, one
 * set of series per live session (labels pid, comm, session_id), its
 * latency histogram as a real Prometheus histogram, and per-vCPU series
 * (labels pid, comm, vcpu).
 */
#include <stddef.h>

#include "nl.h"

#include "common/defs.h"

PCOPY_PUBLIC_BEGIN

#define METRICS_CONTENT_TYPE	"text/plain; version=0.0.4; charset=utf-8"

/*
 * Ask the module over @p and render everything into a malloc()ed *@out of
 * *@len bytes.  Returns 0 or a negative errno (the module's, -ENOMEM);
 * what failed is printed.
 */
int metrics_render(struct pnl *p, char **out, size_t *len);

PCOPY_PUBLIC_END

#endif
