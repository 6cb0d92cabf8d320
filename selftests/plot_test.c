// SPDX-License-Identifier: GPL-2.0
/*
 * pcopy report --plot on a known recording (written here with the agent's
 * own record-file writer): the PNG is PLOT_W x PLOT_H, and every data
 * point is where agent/libexec/plot.h's geometry puts it, in its exact
 * colour: each blocking fault's dot (its vCPU's colour, grey for a
 * non-vCPU thread; none for a nowait fault), each latency bucket's bar to
 * its height, each dirty bin's bar.  The SVG has the same size.  A host
 * test: no module needed.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cairo.h>

#include "kselftest_harness.h"
#include "lib.h"

/* the harness and the agent both define it, alike */
#undef ARRAY_SIZE
#include "libexec/plot.h"
#include "observe/recfile.h"

#define T0	1000000000ull		/* the recording's start */
#define ADDR0	0x7f0000000000ull
#define NF	8

static const uint64_t lat[NF] = { 1500, 3000, 3000, 6000, 6000, 6000, 100000, 2500 };
static const uint32_t vcpu[NF] = { 0, 1, 2, 0, 1, 2, 0, PCOPY_VCPU_NONE };
static const uint64_t addr_off[NF] = { 0, 0x30000, 0x10000, 0x70000, 0x20000, 0x60000,
				       0x40000, 0x50000 };
#define ND	10
static const uint32_t dirty_n[ND] = { 5, 10, 15, 20, 25, 30, 35, 40, 45, 50 };

static uint64_t fault_t(int i)
{
	return T0 + 10000000ull + (uint64_t)i * 100000000ull;
}

static uint64_t dirty_t(int i)
{
	return T0 + (uint64_t)i * 50000000ull;
}

static int write_recording(const char *path)
{
	struct recfile_header h = {
		.version = RECFILE_VERSION, .header_size = sizeof(h),
		.abi_version = PCOPY_ABI_VERSION, .ring_version = 1, .page_size = 4096,
		.pid = 4242, .ring_data_size = 1 << 16,
		.bind_flags = PCOPY_RING_BIND_FAULTS | PCOPY_RING_BIND_DIRTY,
		.watermark = 1, .start_mono_ns = T0, .start_real_ns = T0,
	};
	struct recfile_trailer t = {
		.hdr = { .len = sizeof(t), .type = RECFILE_REC_TRAILER },
		.stop = RECFILE_STOP_EOF, .end_mono_ns = T0 + 2000000000ull,
	};
	struct pcopy_rec_fault f;
	struct recw *w = calloc(1, sizeof(*w));
	int i, j, ret;

	if (!w)
		return -ENOMEM;
	memcpy(h.magic, RECFILE_MAGIC, sizeof(h.magic));
	ret = recw_open(w, path, &h);
	for (i = 0; !ret && i < NF; i++) {
		f = (struct pcopy_rec_fault){
			.hdr = { .len = sizeof(f), .type = PCOPY_REC_FAULT_END },
			.tid = 100 + i, .vcpu = vcpu[i], .addr = ADDR0 + addr_off[i],
			.start_ns = fault_t(i), .end_ns = fault_t(i) + lat[i],
			.latency_ns = lat[i], .reason = 1,
		};
		ret = recw_record(&f.hdr, w);
	}
	/* a nowait fault: no dot, no bar */
	f = (struct pcopy_rec_fault){
		.hdr = { .len = sizeof(f), .type = PCOPY_REC_FAULT_END, .flags = PCOPY_REC_F_NOWAIT },
		.tid = 99, .vcpu = 0, .addr = ADDR0 + 0x38000, .start_ns = fault_t(3) + 50000000,
		.end_ns = fault_t(3) + 50000000, .reason = 1,
	};
	if (!ret)
		ret = recw_record(&f.hdr, w);
	for (i = 0; !ret && i < ND; i++) {
		size_t len = sizeof(struct pcopy_rec_dirty) + dirty_n[i] * sizeof(struct pcopy_dirty_gfn);
		struct pcopy_rec_dirty *d = calloc(1, len);

		if (!d) {
			ret = -ENOMEM;
			break;
		}
		d->hdr = (struct pcopy_rec_hdr){ .len = len, .type = PCOPY_REC_DIRTY };
		d->vcpu = i % 2;
		d->count = dirty_n[i];
		d->time_ns = dirty_t(i);
		for (j = 0; j < (int)dirty_n[i]; j++)
			d->gfns[j] = (struct pcopy_dirty_gfn){ .slot = 0, .seq = j, .offset = j };
		ret = recw_record(&d->hdr, w);
		free(d);
	}
	t.records = NF + 1 + ND;
	if (ret)
		recw_abort(w);
	else
		ret = recw_close(w, &t);
	free(w);
	return ret;
}

static uint32_t pixel(cairo_surface_t *s, int x, int y)
{
	const unsigned char *data = cairo_image_surface_get_data(s);
	int stride = cairo_image_surface_get_stride(s);

	return *(const uint32_t *)(data + (size_t)y * stride + (size_t)x * 4) & 0xffffff;
}

FIXTURE(pl) {
	char dir[32];
	char rec[64], png[64], svg[64];
	char *out;
};

FIXTURE_SETUP(pl)
{
	char cmd[512];

	snprintf(self->dir, sizeof(self->dir), "/tmp/pcopy-plot.XXXXXX");
	ASSERT_NE(NULL, mkdtemp(self->dir));
	snprintf(self->rec, sizeof(self->rec), "%s/known.rec", self->dir);
	snprintf(self->png, sizeof(self->png), "%s/known.png", self->dir);
	snprintf(self->svg, sizeof(self->svg), "%s/known.svg", self->dir);
	ASSERT_EQ(0, write_recording(self->rec));
	snprintf(cmd, sizeof(cmd), "\"$PCOPY_SRC/agent/pcopy\" report %s --plot %s 2>&1",
		 self->rec, self->png);
	ASSERT_EQ(0, run_capture(cmd, &self->out)) TH_LOG("%s", self->out);
	/* the report itself is unchanged by --plot */
	EXPECT_NE(NULL, strstr(self->out, "records")) TH_LOG("%s", self->out);
	free(self->out);
	self->out = NULL;
}

FIXTURE_TEARDOWN(pl)
{
	char cmd[64];

	free(self->out);
	/* PCOPY_PLOT_KEEP=1 keeps the recording and the pictures to look at */
	if (getenv("PCOPY_PLOT_KEEP")) {
		TH_LOG("kept in %s", self->dir);
		return;
	}
	snprintf(cmd, sizeof(cmd), "rm -rf %s", self->dir);
	if (system(cmd))
		TH_LOG("cannot remove %s", self->dir);
}

TEST_F(pl, png_points_where_the_geometry_says)
{
	cairo_surface_t *s = cairo_image_surface_create_from_png(self->png);
	uint64_t hist[64] = { 0 }, max = 0, bins[PLOT_DIRTY_BINS] = { 0 }, dmax = 0;
	uint64_t t0 = fault_t(0), t1 = fault_t(NF - 1), a0 = ADDR0, a1 = ADDR0 + 0x70000;
	unsigned int lo = 64, hi = 0, b;
	int i, bottom;
	double w;

	ASSERT_EQ(CAIRO_STATUS_SUCCESS, cairo_surface_status(s));
	ASSERT_EQ(PLOT_W, cairo_image_surface_get_width(s));
	ASSERT_EQ(PLOT_H, cairo_image_surface_get_height(s));

	/* panel 1: a dot per blocking fault, in its vCPU's colour */
	for (i = 0; i < NF; i++) {
		int x = (int)(PLOT_X0 + (double)(fault_t(i) - t0) / (double)(t1 - t0) *
			      (PLOT_X1 - PLOT_X0 - 1));
		int y = (int)(PLOT_TOP(1) + PLOT_PANEL_H - 1 -
			      (double)(addr_off[i]) / (double)(a1 - a0) * (PLOT_PANEL_H - 1));

		EXPECT_EQ(plot_vcpu_rgb(vcpu[i]), pixel(s, x, y)) TH_LOG("fault %d at %d,%d", i, x, y);
	}
	/* the nowait fault left no dot */
	{
		uint64_t t = fault_t(3) + 50000000;
		int x = (int)(PLOT_X0 + (double)(t - t0) / (double)(t1 - t0) * (PLOT_X1 - PLOT_X0 - 1));
		int y = (int)(PLOT_TOP(1) + PLOT_PANEL_H - 1 -
			      (double)0x38000 / (double)(a1 - a0) * (PLOT_PANEL_H - 1));

		EXPECT_EQ(PLOT_BG_RGB, pixel(s, x, y));
	}

	/* panel 0: a bar per bucket from the lowest to the highest, to scale */
	for (i = 0; i < NF; i++)
		hist[plot_bucket(lat[i])]++;
	for (b = 0; b < 64; b++) {
		if (hist[b]) {
			lo = b < lo ? b : lo;
			hi = b;
		}
		max = hist[b] > max ? hist[b] : max;
	}
	ASSERT_EQ(10, lo);
	ASSERT_EQ(16, hi);
	w = (double)(PLOT_X1 - PLOT_X0) / (hi - lo + 1);
	bottom = PLOT_TOP(0) + PLOT_PANEL_H - 1;
	for (b = lo; b <= hi; b++) {
		int x = (int)(PLOT_X0 + (b - lo) * w + (w - 2) / 2);
		int top = (int)(PLOT_TOP(0) + PLOT_PANEL_H - (double)hist[b] / max * PLOT_PANEL_H);

		if (!hist[b]) {
			EXPECT_EQ(PLOT_BG_RGB, pixel(s, x, bottom)) TH_LOG("empty bucket %u", b);
			continue;
		}
		EXPECT_EQ(PLOT_HIST_RGB, pixel(s, x, bottom)) TH_LOG("bucket %u", b);
		EXPECT_EQ(PLOT_HIST_RGB, pixel(s, x, top + 1)) TH_LOG("bucket %u top", b);
		if (hist[b] < max)
			EXPECT_EQ(PLOT_BG_RGB, pixel(s, x, top - 2)) TH_LOG("above bucket %u", b);
	}

	/* panel 2: the dirty GFNs per bin, to scale */
	for (i = 0; i < ND; i++) {
		uint64_t bin = (dirty_t(i) - dirty_t(0)) * PLOT_DIRTY_BINS /
			       (dirty_t(ND - 1) - dirty_t(0) + 1);

		bins[bin] += dirty_n[i];
	}
	for (i = 0; i < PLOT_DIRTY_BINS; i++)
		dmax = bins[i] > dmax ? bins[i] : dmax;
	EXPECT_EQ(50, dmax);
	w = (double)(PLOT_X1 - PLOT_X0) / PLOT_DIRTY_BINS;
	bottom = PLOT_TOP(2) + PLOT_PANEL_H - 1;
	for (i = 0; i < PLOT_DIRTY_BINS; i++) {
		int x = (int)(PLOT_X0 + i * w + (w - 1) / 2);
		int top = (int)(PLOT_TOP(2) + PLOT_PANEL_H - (double)bins[i] / dmax * PLOT_PANEL_H);

		if (!bins[i]) {
			EXPECT_EQ(PLOT_BG_RGB, pixel(s, x, bottom)) TH_LOG("empty bin %d", i);
			continue;
		}
		EXPECT_EQ(PLOT_DIRTY_RGB, pixel(s, x, top + 1)) TH_LOG("bin %d top", i);
		if (bins[i] < dmax)
			EXPECT_EQ(PLOT_BG_RGB, pixel(s, x, top - 2)) TH_LOG("above bin %d", i);
	}
	cairo_surface_destroy(s);
}

TEST_F(pl, svg_of_the_same_size)
{
	char cmd[512], *svg;

	snprintf(cmd, sizeof(cmd), "\"$PCOPY_SRC/agent/pcopy\" report %s --plot %s 2>&1",
		 self->rec, self->svg);
	ASSERT_EQ(0, run_capture(cmd, &self->out)) TH_LOG("%s", self->out);
	svg = read_file(self->svg);
	ASSERT_NE(NULL, svg);
	EXPECT_EQ(0, strncmp(svg, "<?xml", 5));
	EXPECT_NE(NULL, strstr(svg, "width=\"960pt\" height=\"720pt\"")) TH_LOG("%.300s", svg);
	free(svg);
}

TEST_F(pl, bad_plot_names_are_refused)
{
	char cmd[512];

	snprintf(cmd, sizeof(cmd), "\"$PCOPY_SRC/agent/pcopy\" report %s --plot %s/x.jpg 2>&1",
		 self->rec, self->dir);
	EXPECT_EQ(2, run_capture(cmd, &self->out));
	EXPECT_NE(NULL, strstr(self->out, "the name must end in .svg or .png")) TH_LOG("%s", self->out);
	free(self->out);
	snprintf(cmd, sizeof(cmd), "\"$PCOPY_SRC/agent/pcopy\" report %s --plot /nonexistent/x.png 2>&1",
		 self->rec);
	EXPECT_EQ(1, run_capture(cmd, &self->out));
	EXPECT_NE(NULL, strstr(self->out, "plot /nonexistent/x.png: ")) TH_LOG("%s", self->out);
}

TEST_HARNESS_MAIN
