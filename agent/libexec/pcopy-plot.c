// SPDX-License-Identifier: GPL-2.0
/*
 * pcopy-plot FILE OUT.svg|OUT.png: the picture of a recording (plot.h),
 * the helper behind `pcopy report FILE --plot OUT` (which checks OUT's
 * name first) and `pcopy send/recv --plot DIR` (agent/helper.c).  Exit
 * status 0, or 1 with the reason on stderr as "pcopy: report FILE: ...".
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "observe/recfile.h"
#include "plot.h"

int main(int argc, char **argv)
{
	const struct pcopy_rec_hdr *rec;
	struct plot *pl = NULL;
	char why[256];
	struct recr rr;
	int ret;

	if (argc != 3) {
		fprintf(stderr, "usage: pcopy-plot FILE OUT.svg|OUT.png (run by 'pcopy report FILE --plot OUT')\n");
		return 2;
	}
	ret = recr_open(&rr, argv[1]);
	if (ret) {
		fprintf(stderr, "pcopy: report %s: %s\n", argv[1], rr.why);
		return 1;
	}
	pl = plot_new(rr.hdr.start_mono_ns);
	if (!pl) {
		snprintf(rr.why, sizeof(rr.why), "out of memory");
		ret = -ENOMEM;
	}
	while (!ret && (ret = recr_next(&rr, &rec)) > 0) {
		ret = plot_add(pl, rec);
		if (ret)
			snprintf(rr.why, sizeof(rr.why), "out of memory");
	}
	if (ret) {
		fprintf(stderr, "pcopy: report %s: %s\n", argv[1], rr.why);
	} else {
		ret = plot_write(pl, argv[2], why, sizeof(why));
		if (ret)
			fprintf(stderr, "pcopy: report %s: plot %s\n", argv[1], why);
	}
	plot_free(pl);
	recr_close(&rr);
	return ret ? 1 : 0;
}
