// SPDX-License-Identifier: GPL-2.0
/*
 * The agent's QEMU-compatible output, on the host, from made-up statistics:
 * `pcopy stats --qemu` must print what QEMU 10.1's `info migrate -a`
 * prints for the same figures (migration_dump_blocktime() in QEMU's
 * migration/migration-hmp-cmds.c), and the JSON "qemu" member must carry
 * query-migrate's member names.  The corner cases a real session cannot
 * reach in a short test are here: exactly 10 and 20 vCPUs (no dangling
 * continuation), a reply without the vCPU table, blocktimes past QEMU's
 * uint32 ms.  Needs no module: it links the agent's libobserve.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <json-c/json.h>

#include "observe/stats.h"
/* the harness's kselftest.h defines it too, the same way */
#undef ARRAY_SIZE
#include "kselftest_harness.h"
#include "qemu_text.h"

/* What stats_print_qemu() printed, NUL-terminated (malloc'd). */
static char *qemu_text(const struct session_stats *s, int *ret)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);

	if (!f)
		return NULL;
	*ret = stats_print_qemu(f, s);
	fclose(f);
	return buf;
}

/* stats_print_qemu() of @s must be @head and then QEMU's distribution. */
static void check_block(struct __test_metadata *_metadata,
			const struct session_stats *s, const char *head)
{
	char expect[4096], *out;
	size_t n = snprintf(expect, sizeof(expect), "%s", head);
	int ret = -1;

	qemu_dist_text(expect + n, sizeof(expect) - n, s->hist_us);
	out = qemu_text(s, &ret);
	ASSERT_NE(NULL, out);
	EXPECT_EQ(0, ret);
	EXPECT_STREQ(expect, out);
	free(out);
}

/* @n vCPUs, vCPU i with i+1 faults of (i+1) ms and a blocktime of i s. */
static void make_vcpus(struct session_stats *s, unsigned int n)
{
	unsigned int i;

	s->vcpus = calloc(n, sizeof(*s->vcpus));
	s->nr_vcpus = n;
	for (i = 0; i < n; i++) {
		s->vcpus[i].index = i;
		s->vcpus[i].faults = i + 1;
		s->vcpus[i].latency_sum_ns = (i + 1) * (i + 1) * 1000000ull;
		s->vcpus[i].blocktime_ns = i * 1000000000ull + 999999;
	}
}

TEST(sparse_vcpus_exact_block)
{
	struct session_stats s = {
		.faults = 7, .latency_sum_ns = 7 * 40000123ull,
		.nonvcpu_faults = 3, .nonvcpu_latency_sum_ns = 3 * 35000001ull + 2,
		.blocktime_ns = 123456789,
	};

	/* vCPUs 2 and 11 known: 12 values, the 11th on a second line */
	s.vcpus = calloc(2, sizeof(*s.vcpus));
	s.nr_vcpus = 2;
	s.vcpus[0] = (struct vcpu_stats){ .index = 2, .faults = 1,
		.latency_sum_ns = 5000000, .blocktime_ns = 5000000 };
	s.vcpus[1] = (struct vcpu_stats){ .index = 11, .faults = 3,
		.latency_sum_ns = 3 * 41000000ull + 1, .blocktime_ns = 123999999 };
	s.hist_us[0] = 1;	/* below 2 us, 0 included */
	s.hist_us[15] = 5;	/* [32768, 65536) us */
	s.hist_us[23] = 1;	/* 2^23 us and up */

	check_block(_metadata, &s,
		    "Postcopy Blocktime (ms): 123\n"
		    "Postcopy vCPU Blocktime (ms):\n"
		    " [0, 0, 5, 0, 0, 0, 0, 0, 0, 0,\n"
		    "  0, 123]\n"
		    "Postcopy Latency (ns): 40000123\n"
		    "Postcopy non-vCPU Latencies (ns): 35000001\n"
		    "Postcopy vCPU Latencies (ns):\n"
		    " [0, 0, 5000000, 0, 0, 0, 0, 0, 0, 0,\n"
		    "  0, 41000000]\n");
	session_stats_free(&s);
}

/* A list of exactly 10 is one line; of 20, two, and no third. */
TEST(ten_and_twenty_vcpus_no_dangling_line)
{
	static const struct {
		unsigned int vcpus;
		const char *want;
	} cases[] = {
		{ 10, "Postcopy vCPU Blocktime (ms):\n"
		      " [0, 1000, 2000, 3000, 4000, 5000, 6000, 7000, 8000, 9000]\n"
		      "Postcopy Latency (ns): 0\n" },
		{ 10, "Postcopy vCPU Latencies (ns):\n"
		      " [1000000, 2000000, 3000000, 4000000, 5000000, 6000000,"
		      " 7000000, 8000000, 9000000, 10000000]\n"
		      "Postcopy Latency Distribution:\n" },
		{ 20, "Postcopy vCPU Blocktime (ms):\n"
		      " [0, 1000, 2000, 3000, 4000, 5000, 6000, 7000, 8000, 9000,\n"
		      "  10000, 11000, 12000, 13000, 14000, 15000, 16000, 17000, 18000, 19000]\n"
		      "Postcopy Latency (ns): " },
	};
	unsigned int i;

	for (i = 0; i < ARRAY_SIZE(cases); i++) {
		struct session_stats s = { 0 };
		char *out;
		int ret = -1;

		make_vcpus(&s, cases[i].vcpus);
		out = qemu_text(&s, &ret);
		ASSERT_NE(NULL, out);
		EXPECT_EQ(0, ret);
		EXPECT_NE(NULL, strstr(out, cases[i].want)) TH_LOG("%s", out);
		free(out);
		session_stats_free(&s);
	}
}

TEST(no_vcpu_known_empty_lists)
{
	struct session_stats s = { .faults = 2, .latency_sum_ns = 10,
				   .nonvcpu_faults = 2, .nonvcpu_latency_sum_ns = 10 };

	check_block(_metadata, &s,
		    "Postcopy Blocktime (ms): 0\n"
		    "Postcopy vCPU Blocktime (ms):\n"
		    " []\n"
		    "Postcopy Latency (ns): 5\n"
		    "Postcopy non-vCPU Latencies (ns): 5\n"
		    "Postcopy vCPU Latencies (ns):\n"
		    " []\n");
}

/* A dump reply without the vCPU table: QEMU's vCPU members are absent. */
TEST(truncated_reply_omits_vcpu_members)
{
	struct session_stats s = { .truncated = true, .blocktime_ns = 2000000 };
	struct json_object *o, *q, *v;

	check_block(_metadata, &s,
		    "Postcopy Blocktime (ms): 2\n"
		    "Postcopy Latency (ns): 0\n"
		    "Postcopy non-vCPU Latencies (ns): 0\n");

	o = stats_to_json(&s);
	ASSERT_NE(NULL, o);
	ASSERT_TRUE(json_object_object_get_ex(o, "qemu", &q));
	EXPECT_EQ(4, json_object_object_length(q));
	EXPECT_FALSE(json_object_object_get_ex(q, "postcopy-vcpu-blocktime", &v));
	EXPECT_FALSE(json_object_object_get_ex(q, "postcopy-vcpu-latency", &v));
	ASSERT_TRUE(json_object_object_get_ex(q, "postcopy-blocktime", &v));
	EXPECT_EQ(2, json_object_get_int64(v));
	json_object_put(o);
}

/* QEMU's blocktimes are uint32 ms: beyond, pcopy saturates, never wraps. */
TEST(blocktime_saturates_at_uint32_ms)
{
	struct session_stats s = { .blocktime_ns = (1ull << 32) * 1000000ull };
	struct json_object *o, *q, *v;
	char *out;
	int ret = -1;

	make_vcpus(&s, 1);
	s.vcpus[0].blocktime_ns = UINT64_MAX;
	out = qemu_text(&s, &ret);
	ASSERT_NE(NULL, out);
	EXPECT_NE(NULL, strstr(out, "Postcopy Blocktime (ms): 4294967295\n"
			       "Postcopy vCPU Blocktime (ms):\n"
			       " [4294967295]\n")) TH_LOG("%s", out);
	free(out);

	o = stats_to_json(&s);
	ASSERT_NE(NULL, o);
	ASSERT_TRUE(json_object_object_get_ex(o, "qemu", &q));
	ASSERT_TRUE(json_object_object_get_ex(q, "postcopy-blocktime", &v));
	EXPECT_EQ(UINT32_MAX, json_object_get_int64(v));
	ASSERT_TRUE(json_object_object_get_ex(q, "postcopy-vcpu-blocktime", &v));
	ASSERT_EQ(1, json_object_array_length(v));
	EXPECT_EQ(UINT32_MAX, json_object_get_int64(json_object_array_get_idx(v, 0)));
	json_object_put(o);
	session_stats_free(&s);
}

/* query-migrate 10.1's six postcopy members, their order and values. */
TEST(json_member_names_and_values)
{
	static const char * const names[] = {
		"postcopy-blocktime", "postcopy-vcpu-blocktime", "postcopy-latency",
		"postcopy-latency-dist", "postcopy-vcpu-latency",
		"postcopy-non-vcpu-latency",
	};
	struct session_stats s = {
		.faults = 4, .latency_sum_ns = 4000, .nonvcpu_faults = 1,
		.nonvcpu_latency_sum_ns = 700, .blocktime_ns = 3999999,
	};
	struct json_object *o, *q, *v;
	unsigned int i = 0;

	s.hist_us[3] = 4;
	make_vcpus(&s, 3);
	o = stats_to_json(&s);
	ASSERT_NE(NULL, o);
	ASSERT_TRUE(json_object_object_get_ex(o, "qemu", &q));
	ASSERT_EQ(6, json_object_object_length(q));
	json_object_object_foreach(q, key, val) {
		(void)val;
		ASSERT_GT(6, i);
		EXPECT_STREQ(names[i], key);
		i++;
	}
	ASSERT_TRUE(json_object_object_get_ex(q, "postcopy-blocktime", &v));
	EXPECT_EQ(3, json_object_get_int64(v));
	ASSERT_TRUE(json_object_object_get_ex(q, "postcopy-latency", &v));
	EXPECT_EQ(1000, json_object_get_int64(v));
	ASSERT_TRUE(json_object_object_get_ex(q, "postcopy-non-vcpu-latency", &v));
	EXPECT_EQ(700, json_object_get_int64(v));
	ASSERT_TRUE(json_object_object_get_ex(q, "postcopy-vcpu-blocktime", &v));
	ASSERT_EQ(3, json_object_array_length(v));
	EXPECT_EQ(2000, json_object_get_int64(json_object_array_get_idx(v, 2)));
	ASSERT_TRUE(json_object_object_get_ex(q, "postcopy-vcpu-latency", &v));
	ASSERT_EQ(3, json_object_array_length(v));
	EXPECT_EQ(3000000, json_object_get_int64(json_object_array_get_idx(v, 2)));
	ASSERT_TRUE(json_object_object_get_ex(q, "postcopy-latency-dist", &v));
	ASSERT_EQ(PCOPY_HIST_US_BUCKETS, json_object_array_length(v));
	for (i = 0; i < PCOPY_HIST_US_BUCKETS; i++)
		EXPECT_EQ(i == 3 ? 4 : 0,
			  json_object_get_int64(json_object_array_get_idx(v, i)));
	json_object_put(o);
	session_stats_free(&s);
}

TEST_HARNESS_MAIN
