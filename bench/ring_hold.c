// SPDX-License-Identifier: GPL-2.0
/*
 * ring_hold PID PAGES: bind a /dev/pcopy ring to tracked process PID and
 * never consume it, then on SIGTERM/SIGINT print the ring's counters as
 * one line "records N lost_gfns N lost_records N delivered_gfns N" (the
 * GFNs in the records that fit).  The benchmark's "no consumer" state.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <unistd.h>

#include <pcopy.h>

static volatile sig_atomic_t stop;

static void on_signal(int sig)
{
	(void)sig;
	stop = 1;
}

int main(int argc, char **argv)
{
	struct pcopy_ring_bind b = { .flags = PCOPY_RING_BIND_DIRTY };
	const struct pcopy_ring_header *h;
	unsigned long long gfns = 0;
	long psz = sysconf(_SC_PAGESIZE);
	struct sigaction sa = { .sa_handler = on_signal };
	const char *data;
	uint64_t pos, prod;
	void *p;
	int fd;

	if (argc != 3) {
		fprintf(stderr, "usage: ring_hold PID PAGES\n");
		return 2;
	}
	b.pid = atoi(argv[1]);
	b.data_pages = atoi(argv[2]);
	b.watermark = psz;
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	fd = open(PCOPY_DEV_PATH, O_RDWR | O_CLOEXEC);
	if (fd < 0 || ioctl(fd, PCOPY_IOC_BIND, &b)) {
		fprintf(stderr, "ring_hold: bind to pid %u: %s\n", b.pid, strerror(errno));
		return 1;
	}
	p = mmap(NULL, psz + (size_t)b.data_pages * psz, PROT_READ, MAP_SHARED, fd,
		 PCOPY_RING_OFF_PRODUCER);
	if (p == MAP_FAILED) {
		perror("ring_hold: mmap");
		return 1;
	}
	h = p;
	data = (const char *)p + h->data_offset;
	printf("bound\n");
	fflush(stdout);
	while (!stop)
		pause();
	/* count the GFNs that made it in, without consuming */
	prod = __atomic_load_n(&h->producer_pos, __ATOMIC_ACQUIRE);
	for (pos = 0; pos != prod;) {
		const struct pcopy_rec_hdr *r = (const void *)(data + (pos & (h->data_size - 1)));

		if (r->len < sizeof(*r) || r->len % 8)
			break;
		if (r->type == PCOPY_REC_DIRTY)
			gfns += ((const struct pcopy_rec_dirty *)r)->count;
		pos += r->len;
	}
	printf("records %llu lost_gfns %llu lost_records %llu delivered_gfns %llu\n",
	       (unsigned long long)h->records, (unsigned long long)h->lost_gfns,
	       (unsigned long long)h->lost_records, gfns);
	return 0;
}
