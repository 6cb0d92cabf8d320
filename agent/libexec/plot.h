/* SPDX-License-Identifier: GPL-2.0 */
#ifndef PCOPY_AGENT_PLOT_H
#define PCOPY_AGENT_PLOT_H

/*
 * Pictures of a recording with cairo (`pcopy report FILE --plot OUT`,
 * Documentation/agent.rst): three panels, one above the other, of one
 * PLOT_W x PLOT_H image (pixels in PNG, points in SVG):
 *
 *   0  the latency histogram of the blocking faults: a bar per 2^N ns
 *      bucket from the lowest non-empty one to the highest;
 *   1  the fault timeline: a dot per blocking fault at (its start, its
 *      address), coloured by vCPU (plot_vcpu_rgb());
 *   2  the dirty rate: PLOT_DIRTY_BINS bars over the time of the DIRTY
 *      records, each as high as the GFNs in its bin.
 *
 * The geometry is fixed here, so that a reader (the test) can find every
 * data point: panel k's data area is x in [PLOT_X0, PLOT_X1), y in
 * [PLOT_TOP(k), PLOT_TOP(k) + PLOT_PANEL_H), values growing upwards.
 * Data are drawn without antialiasing, in exact colours.
 */
#include <stdint.h>

#include <pcopy.h>

#include "common/defs.h"

PCOPY_PUBLIC_BEGIN

#define PLOT_W			960
#define PLOT_H			720
#define PLOT_X0			80
#define PLOT_X1			940
#define PLOT_PANEL_H		180
#define PLOT_TOP(k)		(40 + (k) * 240)
#define PLOT_DOT_R		3
#define PLOT_DIRTY_BINS		60
#define PLOT_HIST_RGB		0x1f77b4
#define PLOT_DIRTY_RGB		0x2ca02c
#define PLOT_NONVCPU_RGB	0x7f7f7f
#define PLOT_BG_RGB		0xffffff

struct plot;

/* A plot of a recording whose times count from @start_ns; NULL: no memory. */
struct plot *plot_new(uint64_t start_ns);

/* Take one record that passed rec_check(): 0 or -ENOMEM. */
int plot_add(struct plot *p, const struct pcopy_rec_hdr *rec);

/*
 * Draw into @path, PNG or SVG by its ending (.png, .svg).  0, or a
 * negative errno with the reason in @why.
 */
int plot_write(struct plot *p, const char *path, char *why, size_t len);

void plot_free(struct plot *p);

/* The colour of vCPU @vcpu's dots (0xRRGGBB): ten colours, by index % 10. */
uint32_t plot_vcpu_rgb(uint32_t vcpu);

/* The latency bucket of @ns: floor(log2(ns)), 0 for 0 and 1. */
unsigned int plot_bucket(uint64_t ns);

PCOPY_PUBLIC_END

#endif
