// SPDX-License-Identifier: GPL-2.0
/*
 * pcopy-exporter, the helper behind `pcopy exporter` (agent/helper.c):
 * pcopy exporter --listen ADDR:PORT: serve pcopy.ko's state to Prometheus
 * (observe/metrics.c renders it) over HTTP with libmicrohttpd, until
 * SIGINT or SIGTERM.  GET /metrics is the scrape; GET / says where that
 * is; anything else is 404, a method other than GET or HEAD 405, and a
 * scrape the module cannot answer (not loaded, say) 503 with the reason.
 */
#include <errno.h>
#include <getopt.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <microhttpd.h>

#include "agent.h"
#include "common/net.h"
#include "observe/metrics.h"

#define USAGE "--listen ADDR:PORT"

enum { OPT_LISTEN = 256 };

static void exporter_opt(int c, const char *arg, void *ctx)
{
	if (c == OPT_LISTEN)
		*(const char **)ctx = arg;
}

static enum MHD_Result reply(struct MHD_Connection *c, unsigned int status,
			     const char *type, char *body, size_t len, bool owned)
{
	struct MHD_Response *r;
	enum MHD_Result ret;

	r = MHD_create_response_from_buffer(len, body, owned ? MHD_RESPMEM_MUST_FREE :
					    MHD_RESPMEM_PERSISTENT);
	if (!r) {
		if (owned)
			free(body);
		return MHD_NO;
	}
	MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, type);
	ret = MHD_queue_response(c, status, r);
	MHD_destroy_response(r);
	return ret;
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *c, const char *url,
				  const char *method, const char *version,
				  const char *upload, size_t *upload_len, void **state)
{
	static char index_page[] = "pcopy exporter: the metrics are at /metrics\n";
	static char not_found[] = "not found: the metrics are at /metrics\n";
	static char not_allowed[] = "only GET and HEAD\n";
	char *body, err[160];
	struct pnl p;
	size_t len;
	int ret;

	(void)cls;
	(void)version;
	(void)upload;
	(void)upload_len;
	(void)state;
	if (strcmp(method, MHD_HTTP_METHOD_GET) && strcmp(method, MHD_HTTP_METHOD_HEAD))
		return reply(c, MHD_HTTP_METHOD_NOT_ALLOWED, "text/plain", not_allowed,
			     strlen(not_allowed), false);
	if (!strcmp(url, "/"))
		return reply(c, MHD_HTTP_OK, "text/plain", index_page, strlen(index_page), false);
	if (strcmp(url, "/metrics"))
		return reply(c, MHD_HTTP_NOT_FOUND, "text/plain", not_found, strlen(not_found),
			     false);

	/* a connection per scrape: the module may come and go meanwhile */
	ret = pnl_open(&p);
	if (!ret) {
		ret = metrics_render(&p, &body, &len);
		pnl_close(&p);
		if (!ret)
			return reply(c, MHD_HTTP_OK, METRICS_CONTENT_TYPE, body, len, true);
	}
	len = (size_t)snprintf(err, sizeof(err), "pcopy.ko cannot be read: %s\n",
			       ret == -ENOENT ? "the module is not loaded" : strerror(-ret));
	body = strdup(err);
	if (!body)
		return MHD_NO;
	return reply(c, MHD_HTTP_SERVICE_UNAVAILABLE, "text/plain", body, len, true);
}

static int cmd_exporter(int argc, char **argv, const struct opts *go)
{
	static const struct option lopts[] = {
		{ "listen", required_argument, NULL, OPT_LISTEN },
		{ 0 },
	};
	const char *listen_addr = NULL;
	struct MHD_Daemon *d;
	struct opts o = *go;
	char err[256];
	sigset_t sigs;
	int fd, sig, i;

	i = cmd_opts_ext(argc, argv, &o, USAGE, lopts, "", exporter_opt, &listen_addr);
	if (i != argc)
		usage_error("exporter takes no operands");
	if (!listen_addr)
		usage_error("exporter: --listen ADDR:PORT is required");

	if (net_listen_tcp(listen_addr, &fd, err, sizeof(err))) {
		fprintf(stderr, "pcopy: exporter: %s\n", err);
		return 1;
	}
	/* the signals are taken by sigwait() below, in no thread else */
	sigemptyset(&sigs);
	sigaddset(&sigs, SIGINT);
	sigaddset(&sigs, SIGTERM);
	pthread_sigmask(SIG_BLOCK, &sigs, NULL);
	d = MHD_start_daemon(MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_ERROR_LOG, 0, NULL, NULL,
			     on_request, NULL, MHD_OPTION_LISTEN_SOCKET, fd,
			     MHD_OPTION_CONNECTION_TIMEOUT, 30u, MHD_OPTION_END);
	if (!d) {
		fprintf(stderr, "pcopy: exporter: cannot start the HTTP server on %s\n",
			listen_addr);
		close(fd);
		return 1;
	}
	fprintf(stderr, "pcopy: exporter: serving http://%s/metrics\n", listen_addr);
	while (sigwait(&sigs, &sig))
		;
	MHD_stop_daemon(d);
	close(fd);
	return 0;
}

/* pcopy execs this as "pcopy-exporter [-j] ARGS..." */
int main(int argc, char **argv)
{
	struct opts o = { 0 };

	argv[0] = "exporter";
	return cmd_exporter(argc, argv, &o) ? 1 : 0;
}
