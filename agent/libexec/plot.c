// SPDX-License-Identifier: GPL-2.0
/*
 * pcopy report --plot: a recording's latency histogram, fault timeline
 * and dirty rate drawn with cairo.  plot.h fixes the geometry.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cairo.h>
#include <cairo-svg.h>

#include "common/buf.h"
#include "plot.h"

struct fault_pt {
	uint64_t start_ns, addr;
	uint32_t vcpu;
};

struct dirty_pt {
	uint64_t time_ns;
	uint32_t gfns;
};

struct plot {
	uint64_t start_ns;
	uint64_t hist[64];
	struct fault_pt *f;
	size_t nf, f_cap;
	struct dirty_pt *d;
	size_t nd, d_cap;
};

struct plot *plot_new(uint64_t start_ns)
{
	struct plot *p = calloc(1, sizeof(*p));

	if (p)
		p->start_ns = start_ns;
	return p;
}

void plot_free(struct plot *p)
{
	if (!p)
		return;
	free(p->f);
	free(p->d);
	free(p);
}

unsigned int plot_bucket(uint64_t ns)
{
	return ns > 1 ? 63 - (unsigned int)__builtin_clzll(ns) : 0;
}

uint32_t plot_vcpu_rgb(uint32_t vcpu)
{
	/* matplotlib's "tab10" without its grey, which marks non-vCPU threads */
	static const uint32_t c[10] = {
		0xd62728, 0xff7f0e, 0x9467bd, 0x8c564b, 0xe377c2,
		0x17becf, 0xbcbd22, 0x1f3a93, 0x006d2c, 0x000000,
	};

	return vcpu == PCOPY_VCPU_NONE ? PLOT_NONVCPU_RGB : c[vcpu % 10];
}

int plot_add(struct plot *p, const struct pcopy_rec_hdr *rec)
{
	if (rec->type == PCOPY_REC_FAULT_END && !(rec->flags & PCOPY_REC_F_NOWAIT)) {
		const struct pcopy_rec_fault *f = (const void *)rec;

		if (buf_grow((void **)&p->f, &p->f_cap, (p->nf + 1) * sizeof(*p->f)))
			return -ENOMEM;
		p->f[p->nf++] = (struct fault_pt){ f->start_ns, f->addr, f->vcpu };
		p->hist[plot_bucket(f->latency_ns)]++;
	} else if (rec->type == PCOPY_REC_DIRTY) {
		const struct pcopy_rec_dirty *d = (const void *)rec;

		if (buf_grow((void **)&p->d, &p->d_cap, (p->nd + 1) * sizeof(*p->d)))
			return -ENOMEM;
		p->d[p->nd++] = (struct dirty_pt){ d->time_ns, d->count };
	}
	return 0;
}

static void rgb(cairo_t *cr, uint32_t c)
{
	cairo_set_source_rgb(cr, (c >> 16 & 0xff) / 255.0, (c >> 8 & 0xff) / 255.0,
			     (c & 0xff) / 255.0);
}

static void text(cairo_t *cr, double x, double y, const char *s)
{
	cairo_move_to(cr, x, y);
	cairo_show_text(cr, s);
}

/* The frame of panel @k: its title, axes outside the data area, ranges. */
static void frame(cairo_t *cr, int k, const char *title, const char *ylo, const char *yhi,
		  const char *xlo, const char *xhi)
{
	double top = PLOT_TOP(k), bot = top + PLOT_PANEL_H;

	cairo_set_antialias(cr, CAIRO_ANTIALIAS_DEFAULT);
	rgb(cr, 0);
	cairo_set_font_size(cr, 14);
	text(cr, PLOT_X0, top - 12, title);
	cairo_set_font_size(cr, 10);
	text(cr, 4, bot, ylo);
	text(cr, 4, top + 10, yhi);
	text(cr, PLOT_X0, bot + 16, xlo);
	text(cr, PLOT_X1 - 90, bot + 16, xhi);
	cairo_set_line_width(cr, 1);
	cairo_move_to(cr, PLOT_X0 - 2.5, top);
	cairo_line_to(cr, PLOT_X0 - 2.5, bot + 2.5);
	cairo_line_to(cr, PLOT_X1, bot + 2.5);
	cairo_stroke(cr);
	cairo_set_antialias(cr, CAIRO_ANTIALIAS_NONE);
}

static void draw_hist(cairo_t *cr, const struct plot *p)
{
	unsigned int lo = 64, hi = 0, b;
	uint64_t max = 0;
	char l1[32], l2[32], y[32];
	double w;

	for (b = 0; b < 64; b++) {
		if (!p->hist[b])
			continue;
		lo = b < lo ? b : lo;
		hi = b;
		max = p->hist[b] > max ? p->hist[b] : max;
	}
	if (!max) {
		frame(cr, 0, "Blocking fault latency: no faults", "0", "", "", "");
		return;
	}
	snprintf(l1, sizeof(l1), "2^%u ns", lo);
	snprintf(l2, sizeof(l2), "2^%u ns", hi + 1);
	snprintf(y, sizeof(y), "%" PRIu64, max);
	frame(cr, 0, "Blocking fault latency (faults per 2^N ns bucket)", "0", y, l1, l2);
	w = (double)(PLOT_X1 - PLOT_X0) / (hi - lo + 1);
	rgb(cr, PLOT_HIST_RGB);
	for (b = lo; b <= hi; b++) {
		double h = (double)p->hist[b] / (double)max * PLOT_PANEL_H;

		cairo_rectangle(cr, PLOT_X0 + (b - lo) * w, PLOT_TOP(0) + PLOT_PANEL_H - h,
				w - 2, h);
	}
	cairo_fill(cr);
}

static void draw_timeline(cairo_t *cr, const struct plot *p)
{
	uint64_t t0 = UINT64_MAX, t1 = 0, a0 = UINT64_MAX, a1 = 0;
	char l1[32], l2[32], y1[32], y2[32];
	size_t i;

	for (i = 0; i < p->nf; i++) {
		const struct fault_pt *f = &p->f[i];

		t0 = f->start_ns < t0 ? f->start_ns : t0;
		t1 = f->start_ns > t1 ? f->start_ns : t1;
		a0 = f->addr < a0 ? f->addr : a0;
		a1 = f->addr > a1 ? f->addr : a1;
	}
	if (!p->nf) {
		frame(cr, 1, "Fault timeline: no faults", "", "", "", "");
		return;
	}
	if (t1 == t0)
		t1 = t0 + 1;
	if (a1 == a0)
		a1 = a0 + 1;
	snprintf(l1, sizeof(l1), "%.3f s", (double)(t0 - p->start_ns) / 1e9);
	snprintf(l2, sizeof(l2), "%.3f s", (double)(t1 - p->start_ns) / 1e9);
	snprintf(y1, sizeof(y1), "%#" PRIx64, a0);
	snprintf(y2, sizeof(y2), "%#" PRIx64, a1);
	frame(cr, 1, "Fault timeline (address against time, colour: vCPU)", y1, y2, l1, l2);
	for (i = 0; i < p->nf; i++) {
		const struct fault_pt *f = &p->f[i];
		double x = PLOT_X0 + (double)(f->start_ns - t0) / (double)(t1 - t0) *
			   (PLOT_X1 - PLOT_X0 - 1);
		double y = PLOT_TOP(1) + PLOT_PANEL_H - 1 -
			   (double)(f->addr - a0) / (double)(a1 - a0) * (PLOT_PANEL_H - 1);

		rgb(cr, plot_vcpu_rgb(f->vcpu));
		/* centred on the pixel that holds (x, y) */
		cairo_arc(cr, (int)x + 0.5, (int)y + 0.5, PLOT_DOT_R, 0, 2 * 3.14159265358979);
		cairo_fill(cr);
	}
}

static void draw_dirty(cairo_t *cr, const struct plot *p)
{
	uint64_t d0 = UINT64_MAX, d1 = 0, bins[PLOT_DIRTY_BINS] = { 0 }, max = 0;
	char l1[32], l2[32], y[48];
	double w, span;
	size_t i;

	for (i = 0; i < p->nd; i++) {
		d0 = p->d[i].time_ns < d0 ? p->d[i].time_ns : d0;
		d1 = p->d[i].time_ns > d1 ? p->d[i].time_ns : d1;
	}
	if (!p->nd) {
		frame(cr, 2, "Dirty rate: no dirty records", "", "", "", "");
		return;
	}
	for (i = 0; i < p->nd; i++) {
		uint64_t b = (p->d[i].time_ns - d0) * PLOT_DIRTY_BINS / (d1 - d0 + 1);

		bins[b] += p->d[i].gfns;
	}
	for (i = 0; i < PLOT_DIRTY_BINS; i++)
		max = bins[i] > max ? bins[i] : max;
	span = (double)(d1 - d0 + 1) / 1e9 / PLOT_DIRTY_BINS;
	snprintf(l1, sizeof(l1), "%.3f s", (double)(d0 - p->start_ns) / 1e9);
	snprintf(l2, sizeof(l2), "%.3f s", (double)(d1 - p->start_ns) / 1e9);
	snprintf(y, sizeof(y), "%.0f/s", max ? (double)max / span : 0);
	frame(cr, 2, "Dirty rate (GFNs per second)", "0", y, l1, l2);
	if (!max)
		return;
	w = (double)(PLOT_X1 - PLOT_X0) / PLOT_DIRTY_BINS;
	rgb(cr, PLOT_DIRTY_RGB);
	for (i = 0; i < PLOT_DIRTY_BINS; i++) {
		double h = (double)bins[i] / (double)max * PLOT_PANEL_H;

		if (bins[i])
			cairo_rectangle(cr, PLOT_X0 + i * w, PLOT_TOP(2) + PLOT_PANEL_H - h,
					w - 1, h);
	}
	cairo_fill(cr);
}

static bool ends_with(const char *s, const char *tail)
{
	size_t n = strlen(s), m = strlen(tail);

	return n > m && !strcmp(s + n - m, tail);
}

int plot_write(struct plot *p, const char *path, char *why, size_t len)
{
	bool png = ends_with(path, ".png");
	cairo_surface_t *s;
	cairo_status_t st;
	cairo_t *cr;

	if (!png && !ends_with(path, ".svg")) {
		snprintf(why, len, "%s: the plot's name must end in .png or .svg", path);
		return -EINVAL;
	}
	s = png ? cairo_image_surface_create(CAIRO_FORMAT_RGB24, PLOT_W, PLOT_H) :
		  cairo_svg_surface_create(path, PLOT_W, PLOT_H);
	cr = cairo_create(s);
	rgb(cr, PLOT_BG_RGB);
	cairo_paint(cr);
	cairo_select_font_face(cr, "sans-serif", CAIRO_FONT_SLANT_NORMAL,
			       CAIRO_FONT_WEIGHT_NORMAL);
	draw_hist(cr, p);
	draw_timeline(cr, p);
	draw_dirty(cr, p);
	st = cairo_status(cr);
	cairo_destroy(cr);
	if (!st && png)
		st = cairo_surface_write_to_png(s, path);
	cairo_surface_finish(s);
	if (!st)
		st = cairo_surface_status(s);
	cairo_surface_destroy(s);
	if (st) {
		snprintf(why, len, "%s: %s", path, cairo_status_to_string(st));
		return -EIO;
	}
	return 0;
}
