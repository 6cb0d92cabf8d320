// SPDX-License-Identifier: GPL-2.0
/*
 * pcopy exporter against the real module, scraped by curl, checked by
 * promtool and scraped by a real Prometheus server: this process tracks
 * itself, maps its thread to vCPU 2 and takes three userfaults; the
 * exposition must carry exactly the module's figures (counters, the
 * cumulative histogram bucket by bucket, its _sum and _count, the per-vCPU
 * series), promtool must find nothing to say about it, and Prometheus's
 * query API must return the same fault count as `pcopy stats -j`.
 * Without curl (or promtool, prometheus) the tests that need it skip.
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <json-c/json.h>

#include "kselftest_harness.h"
#include "lib.h"

/* Prometheus starts, scrapes and answers slowly under TCG */
#undef TEST_TIMEOUT_DEFAULT
#define TEST_TIMEOUT_DEFAULT 300

#define PORT		19123
#define PROM_PORT	19124
#define VCPU		2

static bool have(const char *prog)
{
	char cmd[128];

	snprintf(cmd, sizeof(cmd), "command -v %s >/dev/null 2>&1", prog);
	return system(cmd) == 0;
}

static pid_t spawn(const char *cmd)
{
	pid_t pid = fork();

	if (pid == 0) {
		/* a test killed by its timeout takes the server with it */
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		execl("/bin/sh", "sh", "-c", cmd, (char *)NULL);
		_exit(127);
	}
	return pid;
}

/* Stop @pid with SIGTERM; its exit status, or -1. */
static int stop(pid_t pid)
{
	int st;

	if (pid <= 0)
		return -1;
	kill(pid, SIGTERM);
	if (waitpid(pid, &st, 0) != pid)
		return -1;
	return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
}

/* The value of the one line of @text that starts with @series + ' '. */
static const char *series_value(const char *text, const char *series, char *buf, size_t len)
{
	size_t n = strlen(series);
	const char *p = text;

	while (p && *p) {
		if (!strncmp(p, series, n) && p[n] == ' ') {
			size_t v = strcspn(p + n + 1, "\n");

			snprintf(buf, len, "%.*s", (int)v, p + n + 1);
			return buf;
		}
		p = strchr(p, '\n');
		if (p)
			p++;
	}
	return NULL;
}

FIXTURE(ex) {
	struct nl_sock *sk;
	int fam;
	pid_t pid, exporter;
	int uffd;
	char comm[32];
	char *out;
	struct sess_stats st;
};

FIXTURE_SETUP(ex)
{
	struct nl_result r;
	char cmd[512], *tmp = NULL;
	char *c;
	int i;

	self->out = NULL;
	self->exporter = -1;
	ASSERT_EQ(0, module_ensure_loaded());
	self->sk = pcopy_connect(&self->fam);
	ASSERT_NE(NULL, self->sk);
	self->pid = getpid();
	c = read_file("/proc/self/comm");
	ASSERT_NE(NULL, c);
	c[strcspn(c, "\n")] = '\0';
	snprintf(self->comm, sizeof(self->comm), "%s", c);
	free(c);
	self->uffd = uffd_open(0);
	ASSERT_LE(0, self->uffd);
	ASSERT_EQ(0, sess_cmd(self->sk, self->fam, PCOPY_CMD_SESSION_NEW, self->pid, &r));
	nl_result_free(&r);
	ASSERT_EQ(0, set_vcpu(self->sk, self->fam, self->pid, sys_gettid(), VCPU, &r));
	nl_result_free(&r);
	ASSERT_EQ(0, take_faults(self->uffd, 3, 5));
	ASSERT_EQ(0, sess_get(self->sk, self->fam, self->pid, &self->st));
	ASSERT_EQ(3, self->st.faults);

	if (!have("curl"))
		SKIP(return, "no curl");
	snprintf(cmd, sizeof(cmd), "exec \"$PCOPY_SRC/agent/pcopy\" exporter --listen 127.0.0.1:%d",
		 PORT);
	self->exporter = spawn(cmd);
	ASSERT_LT(0, self->exporter);
	snprintf(cmd, sizeof(cmd), "curl -sf http://127.0.0.1:%d/ 2>&1", PORT);
	for (i = 0; i < 200; i++) {
		free(tmp);
		if (!run_capture(cmd, &tmp))
			break;
		sleep_ms(100);
	}
	EXPECT_STREQ("pcopy exporter: the metrics are at /metrics\n", tmp);
	free(tmp);
	ASSERT_LT(i, 200) TH_LOG("the exporter never answered");
}

FIXTURE_TEARDOWN(ex)
{
	struct nl_result r;

	if (self->exporter > 0)
		EXPECT_EQ(0, stop(self->exporter));
	free(self->out);
	self->out = NULL;
	sess_cmd(self->sk, self->fam, PCOPY_CMD_SESSION_DEL, self->pid, &r);
	nl_result_free(&r);
	close(self->uffd);
	nl_socket_free(self->sk);
}

TEST_F(ex, scrape_equals_the_module)
{
	char cmd[256], lab[160], vlab[128], series[400], buf[64], want[64];
	struct test_ring ring;
	uint64_t cum = 0;
	int i;

	/* a ring whose consumer position is garbage: one more fault, 2 records lost */
	ASSERT_EQ(0, ring_bind(&ring, self->pid, 1, 1, PCOPY_RING_BIND_FAULTS));
	ASSERT_EQ(0, ring_map(&ring));
	ring.cons->consumer_pos = 3;
	ASSERT_EQ(0, take_faults(self->uffd, 1, 6));
	EXPECT_EQ(2, ring.hdr->lost_records);
	test_ring_close(&ring);
	ASSERT_EQ(0, sess_get(self->sk, self->fam, self->pid, &self->st));
	ASSERT_EQ(4, self->st.faults);
	ASSERT_EQ(2, self->st.ring_lost_records);

	snprintf(cmd, sizeof(cmd), "curl -s -D - http://127.0.0.1:%d/metrics", PORT);
	ASSERT_EQ(0, run_capture(cmd, &self->out));
	ASSERT_EQ(0, strncmp(self->out, "HTTP/1.1 200", 12)) TH_LOG("%.200s", self->out);
	EXPECT_NE(NULL, strstr(self->out,
			       "Content-Type: text/plain; version=0.0.4; charset=utf-8\r\n"));

	snprintf(lab, sizeof(lab), "pid=\"%d\",comm=\"%s\",session_id=\"%llu\"", self->pid,
		 self->comm, (unsigned long long)self->st.session_id);
	snprintf(vlab, sizeof(vlab), "pid=\"%d\",comm=\"%s\",vcpu=\"%d\"", self->pid,
		 self->comm, VCPU);
#define CHECK(name, labels, fmt, val) do {					\
		snprintf(series, sizeof(series), "%s{%s}", name, labels);	\
		snprintf(want, sizeof(want), fmt, val);				\
		EXPECT_STREQ(want, series_value(self->out, series, buf, sizeof(buf)) ?: "(none)") \
			TH_LOG("%s", series);					\
	} while (0)
	CHECK("pcopy_faults_total", lab, "%llu", (unsigned long long)self->st.faults);
	CHECK("pcopy_nonvcpu_faults_total", lab, "%llu",
	      (unsigned long long)self->st.nonvcpu_faults);
	CHECK("pcopy_nowait_faults_total", lab, "%llu", (unsigned long long)self->st.nowait);
	CHECK("pcopy_missed_faults_total", lab, "%llu", (unsigned long long)self->st.missed);
	CHECK("pcopy_known_vcpus", lab, "%u", self->st.known_vcpus);
	CHECK("pcopy_outstanding_faults", lab, "%u", 0u);
	CHECK("pcopy_ring_lost_records_total", lab, "%d", 2);
	CHECK("pcopy_ring_lost_dirty_gfns_total", lab, "%d", 0);
	CHECK("pcopy_vcpu_faults_total", vlab, "%d", 4);
	CHECK("pcopy_vcpu_fault_latency_seconds_total", vlab, "%.9f",
	      (double)self->st.vcpus[0].lat_sum / 1e9);
	/* the histogram: cumulative, bucket i's bound 2^(i+1) ns */
	for (i = 0; i < PCOPY_HIST_NS_BUCKETS - 1; i++) {
		char le[224];

		cum += self->st.hist_ns[i];
		snprintf(le, sizeof(le), "%s,le=\"%.9g\"", lab, (double)(2ull << i) / 1e9);
		CHECK("pcopy_fault_latency_seconds_bucket", le, "%llu", (unsigned long long)cum);
	}
	cum += self->st.hist_ns[i];
	EXPECT_EQ(4, cum);
	{
		char inf[200];

		snprintf(inf, sizeof(inf), "%s,le=\"+Inf\"", lab);
		CHECK("pcopy_fault_latency_seconds_bucket", inf, "%llu", (unsigned long long)cum);
	}
	CHECK("pcopy_fault_latency_seconds_count", lab, "%llu", (unsigned long long)cum);
	CHECK("pcopy_fault_latency_seconds_sum", lab, "%.9f", (double)self->st.lat_sum / 1e9);
	EXPECT_NE(NULL, strstr(self->out, "# TYPE pcopy_fault_latency_seconds histogram\n"));
	EXPECT_NE(NULL, strstr(self->out, "pcopy_module_info{version=\"0.2.0\",abi=\"3\"} 1\n"));
#undef CHECK
	free(self->out);
	self->out = NULL;

	/* not the metrics: 404; not a GET: 405 */
	snprintf(cmd, sizeof(cmd), "curl -s -o /dev/null -w '%%{http_code}' http://127.0.0.1:%d/x",
		 PORT);
	ASSERT_EQ(0, run_capture(cmd, &self->out));
	EXPECT_STREQ("404", self->out);
	free(self->out);
	self->out = NULL;
	snprintf(cmd, sizeof(cmd),
		 "curl -s -X POST -o /dev/null -w '%%{http_code}' http://127.0.0.1:%d/metrics", PORT);
	ASSERT_EQ(0, run_capture(cmd, &self->out));
	EXPECT_STREQ("405", self->out);
}

TEST_F(ex, second_exporter_on_the_port_fails)
{
	char cmd[256];

	snprintf(cmd, sizeof(cmd),
		 "\"$PCOPY_SRC/agent/pcopy\" exporter --listen 127.0.0.1:%d 2>&1", PORT);
	EXPECT_EQ(1, run_capture(cmd, &self->out));
	EXPECT_NE(NULL, strstr(self->out, "cannot listen on 127.0.0.1:")) TH_LOG("%s", self->out);
	EXPECT_NE(NULL, strstr(self->out, "Address already in use")) TH_LOG("%s", self->out);
}

TEST_F(ex, promtool_finds_nothing)
{
	char cmd[256];

	if (!have("promtool"))
		SKIP(return, "no promtool (Debian package prometheus)");
	snprintf(cmd, sizeof(cmd),
		 "curl -sf http://127.0.0.1:%d/metrics | promtool check metrics 2>&1", PORT);
	EXPECT_EQ(0, run_capture(cmd, &self->out)) TH_LOG("%s", self->out);
	EXPECT_STREQ("", self->out);
}

/* `pcopy -j stats PID`, parsed. */
static int agent_json_stats(pid_t pid, struct json_object **root)
{
	char cmd[256], *out = NULL;
	int ret;

	snprintf(cmd, sizeof(cmd), "\"$PCOPY_SRC/agent/pcopy\" -j stats %d", pid);
	ret = run_capture(cmd, &out);
	*root = out ? json_tokener_parse(out) : NULL;
	free(out);
	return ret ? ret : *root ? 0 : -EPROTO;
}

/* The value Prometheus's query API returns for @query, or NULL. */
static char *prom_query(const char *query)
{
	char cmd[512], *out = NULL, *val = NULL;
	struct json_object *root, *data, *result, *value;

	snprintf(cmd, sizeof(cmd),
		 "curl -sf http://127.0.0.1:%d/api/v1/query --data-urlencode 'query=%s'",
		 PROM_PORT, query);
	if (run_capture(cmd, &out) || !out)
		goto out;
	root = json_tokener_parse(out);
	if (root && json_object_object_get_ex(root, "data", &data) &&
	    json_object_object_get_ex(data, "result", &result) &&
	    json_object_array_length(result) == 1 &&
	    json_object_object_get_ex(json_object_array_get_idx(result, 0), "value", &value))
		val = strdup(json_object_get_string(json_object_array_get_idx(value, 1)));
	json_object_put(root);
out:
	free(out);
	return val;
}

TEST_F(ex, prometheus_scrapes_it)
{
	char dir[] = "/tmp/pcopy-prom.XXXXXX", path[128], cmd[768], q[128], *v = NULL;
	struct json_object *root, *faults;
	pid_t prom;
	FILE *f;
	int i;

	if (!have("prometheus"))
		SKIP(return, "no prometheus (Debian package prometheus)");
	ASSERT_NE(NULL, mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/prometheus.yml", dir);
	f = fopen(path, "w");
	ASSERT_NE(NULL, f);
	fprintf(f, "global:\n  scrape_interval: 1s\nscrape_configs:\n"
		"  - job_name: pcopy\n    static_configs:\n      - targets: ['127.0.0.1:%d']\n",
		PORT);
	fclose(f);
	snprintf(cmd, sizeof(cmd),
		 "exec prometheus --config.file=%s --storage.tsdb.path=%s/data "
		 "--web.listen-address=127.0.0.1:%d >%s/log 2>&1", path, dir, PROM_PORT, dir);
	prom = spawn(cmd);
	ASSERT_LT(0, prom);

	/* the first scrape lands a second or more after the start */
	snprintf(q, sizeof(q), "pcopy_faults_total{pid=\"%d\"}", self->pid);
	for (i = 0; i < 1200 && !v; i++) {
		v = prom_query(q);
		if (!v)
			sleep_ms(100);
	}
	ASSERT_EQ(0, agent_json_stats(self->pid, &root));
	ASSERT_TRUE(json_object_object_get_ex(root, "faults", &faults));
	EXPECT_STREQ(json_object_get_string(faults), v ?: "(no result)");
	json_object_put(root);
	free(v);
	snprintf(q, sizeof(q), "pcopy_fault_latency_seconds_count{pid=\"%d\"}", self->pid);
	v = prom_query(q);
	EXPECT_STREQ("3", v ?: "(no result)");
	free(v);
	snprintf(q, sizeof(q), "pcopy_vcpu_faults_total{pid=\"%d\",vcpu=\"%d\"}", self->pid, VCPU);
	v = prom_query(q);
	EXPECT_STREQ("3", v ?: "(no result)");
	free(v);
	EXPECT_EQ(0, stop(prom));
	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	EXPECT_EQ(0, system(cmd));
}

TEST_HARNESS_MAIN
