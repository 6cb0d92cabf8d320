// SPDX-License-Identifier: GPL-2.0
/*
 * pcopy run [--json FILE] [--] CMD [ARGS...]: run CMD tracked from its first
 * instruction, the way `perf stat -- CMD` counts it.
 *
 * The child waits on a pipe until its session exists, then execs CMD: the
 * module follows the exec (PCOPY_FEAT_EXEC_HOOK), so every fault of CMD is
 * counted.  Signals sent to pcopy by another process (kill, a supervisor)
 * are passed on to CMD; those of the terminal reach CMD by themselves.
 * Once CMD has exited, its session's final figures, which the module keeps
 * after the end (ABI 3), are printed on stderr, or as JSON to FILE ("-":
 * stdout; -j alone: JSON on stdout).  pcopy then exits as CMD did: with its
 * exit code, or killed by the same signal.  Exit codes of its own: 127 CMD
 * was not found, 126 it could not be executed, 125 pcopy itself failed
 * before CMD ran.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/resource.h>
#include <sys/wait.h>

#include <json-c/json.h>

#include "agent.h"
#include "observe/session.h"

#define USAGE	"[--json FILE] [--follow-forks] [--] CMD [ARGS...]"

/* exit codes of our own, as env(1) and timeout(1) have them */
#define RUN_FAILED	125
#define RUN_NOEXEC	126
#define RUN_NOTFOUND	127

enum { OPT_JSON_FILE = 256, OPT_FOLLOW };

struct run_args {
	const char *json_file;
	bool follow;
};

static volatile sig_atomic_t child_pid;

/* The signals passed on, when another process sent them to us. */
static const int fwd_signals[] = {
	SIGINT, SIGTERM, SIGHUP, SIGQUIT, SIGUSR1, SIGUSR2, SIGWINCH, SIGALRM,
};

static void forward(int sig, siginfo_t *si, void *uc)
{
	(void)uc;
	/* the terminal's (SI_KERNEL) went to the child's process group too */
	if (child_pid > 0 && si->si_code != SI_KERNEL)
		kill(child_pid, sig);
}

static void run_opt(int c, const char *arg, void *ctx)
{
	struct run_args *a = ctx;

	if (c == OPT_JSON_FILE)
		a->json_file = arg;
	else if (c == OPT_FOLLOW)
		a->follow = true;
}

/* Does the module follow execve()?  0, or a negative errno (printed). */
static int features_cb(struct nlattr **tb, void *arg)
{
	if (!tb[PCOPY_A_FEATURES])
		return -EPROTO;
	*(uint64_t *)arg = nla_get_u64(tb[PCOPY_A_FEATURES]);
	return 0;
}

static int check_exec_hook(struct pnl *p)
{
	uint64_t features = 0;
	struct nl_msg *msg = pnl_msg(p, PCOPY_CMD_GET_INFO, 0);
	int ret;

	ret = msg ? pnl_request(p, msg, features_cb, &features) : -ENOMEM;
	if (ret) {
		fprintf(stderr, "pcopy: run: cannot read the module's features: %s\n",
			strerror(-ret));
		return ret;
	}
	if (!(features & PCOPY_FEAT_EXEC_HOOK)) {
		fprintf(stderr, "pcopy: run: the module cannot follow execve() on this kernel "
			"(no exec hook, see 'pcopy status'): CMD would not be tracked\n");
		return -EOPNOTSUPP;
	}
	return 0;
}

/*
 * The session's final state.  It ends in the module's workqueue soon after
 * the exit: until it reads as ended, ask again (up to 5 s).
 */
static int final_stats(struct pnl *p, uint32_t pid, uint64_t id,
		       struct session_stats *s)
{
	const struct timespec tick = { 0, 10 * 1000 * 1000 };
	char why[160] = "";
	int i, ret;

	for (i = 0;; i++) {
		ret = session_get(p, 0, id, false, s, why, sizeof(why));
		if (ret || s->ended || i == 500)
			break;
		session_stats_free(s);
		nanosleep(&tick, NULL);
	}
	if (ret == -ENOENT)
		fprintf(stderr, "pcopy: run: the module did not keep pid %u's session %" PRIu64
			" after its end (module parameter ended_max is 0?)\n", pid, id);
	else if (ret)
		session_perror("run", ret, NULL, why);
	return ret;
}

static int write_json(const char *file, const struct session_stats *s)
{
	struct json_object *obj = stats_to_json(s);
	FILE *f;
	int ret = 0;

	if (!obj)
		return -ENOMEM;
	if (!file || !strcmp(file, "-")) {
		print_json(obj);
		json_object_put(obj);
		return 0;
	}
	f = fopen(file, "w");
	if (!f) {
		ret = -errno;
		fprintf(stderr, "pcopy: run: %s: %s\n", file, strerror(errno));
	} else {
		fprintf(f, "%s\n", json_object_to_json_string_ext(obj, JSON_C_TO_STRING_PRETTY));
		if (fclose(f)) {
			ret = -errno;
			fprintf(stderr, "pcopy: run: %s: %s\n", file, strerror(errno));
		}
	}
	json_object_put(obj);
	return ret;
}

/* Exit as @status says the child did. */
static void __attribute__((noreturn)) exit_like(int status)
{
	struct rlimit no_core = { 0, 0 };
	int sig;

	if (WIFEXITED(status))
		exit(WEXITSTATUS(status));
	sig = WTERMSIG(status);
	/* die of the same signal, without a core of our own */
	setrlimit(RLIMIT_CORE, &no_core);
	signal(sig, SIG_DFL);
	sigprocmask(SIG_SETMASK, &(sigset_t){ 0 }, NULL);
	raise(sig);
	exit(128 + sig);
}

int cmd_run(int argc, char **argv, const struct opts *go)
{
	static const struct option lopts[] = {
		{ "json", required_argument, NULL, OPT_JSON_FILE },
		{ "follow-forks", no_argument, NULL, OPT_FOLLOW },
		{ NULL, 0, NULL, 0 },
	};
	struct sigaction sa = { .sa_sigaction = forward, .sa_flags = SA_SIGINFO | SA_RESTART };
	int go_pipe[2], err_pipe[2], status, err, i, ret;
	struct run_args a = { 0 };
	struct session_stats s;
	struct opts o = *go;
	uint64_t id;
	char why[160] = "";
	unsigned int k;
	struct pnl p;
	pid_t pid;
	ssize_t n;

	/* '+': CMD's own options are not ours */
	i = cmd_opts_ext(argc, argv, &o, USAGE, lopts, "+", run_opt, &a);
	if (i >= argc)
		usage_error("run: no command given (pcopy run [--json FILE] -- CMD [ARGS...])");

	if (pnl_open(&p))
		exit(RUN_FAILED);
	if (check_exec_hook(&p))
		exit(RUN_FAILED);
	if (pipe2(go_pipe, O_CLOEXEC) || pipe2(err_pipe, O_CLOEXEC)) {
		fprintf(stderr, "pcopy: run: pipe: %s\n", strerror(errno));
		exit(RUN_FAILED);
	}
	fflush(NULL);
	pid = fork();
	if (pid < 0) {
		fprintf(stderr, "pcopy: run: fork: %s\n", strerror(errno));
		exit(RUN_FAILED);
	}
	if (pid == 0) {
		char c;

		close(go_pipe[1]);
		close(err_pipe[0]);
		/* nothing runs until the session exists; EOF: pcopy gave up */
		if (read(go_pipe[0], &c, 1) != 1)
			_exit(RUN_FAILED);
		execvp(argv[i], &argv[i]);
		err = errno;
		if (write(err_pipe[1], &err, sizeof(err)) < 0)
			_exit(RUN_FAILED);
		_exit(err == ENOENT ? RUN_NOTFOUND : RUN_NOEXEC);
	}
	close(go_pipe[0]);
	close(err_pipe[1]);
	child_pid = pid;

	ret = session_new(&p, (uint32_t)pid, a.follow, &s, why, sizeof(why));
	if (ret) {
		session_perror("run: track", ret, NULL, why);
		kill(pid, SIGKILL);
		waitpid(pid, &status, 0);
		exit(RUN_FAILED);
	}
	id = s.session_id;
	session_stats_free(&s);
	if (!id) {
		fprintf(stderr, "pcopy: run: the module gives no session ids (older than ABI 3)\n");
		kill(pid, SIGKILL);
		waitpid(pid, &status, 0);
		exit(RUN_FAILED);
	}

	sigemptyset(&sa.sa_mask);
	for (k = 0; k < ARRAY_SIZE(fwd_signals); k++)
		sigaction(fwd_signals[k], &sa, NULL);
	signal(SIGPIPE, SIG_IGN);
	if (write(go_pipe[1], "g", 1) != 1) {
		fprintf(stderr, "pcopy: run: cannot start the command: %s\n", strerror(errno));
		kill(pid, SIGKILL);
	}
	close(go_pipe[1]);

	/* CLOEXEC: EOF once the exec worked, an errno if it did not */
	do {
		n = read(err_pipe[0], &err, sizeof(err));
	} while (n < 0 && errno == EINTR);
	close(err_pipe[0]);
	while (waitpid(pid, &status, 0) < 0) {
		if (errno != EINTR) {
			fprintf(stderr, "pcopy: run: waitpid: %s\n", strerror(errno));
			exit(RUN_FAILED);
		}
	}
	child_pid = 0;
	if (n == sizeof(err)) {
		fprintf(stderr, "pcopy: run: %s: %s\n", argv[i], strerror(err));
		exit(err == ENOENT ? RUN_NOTFOUND : RUN_NOEXEC);
	}

	ret = final_stats(&p, (uint32_t)pid, id, &s);
	pnl_close(&p);
	if (!ret) {
		if (a.json_file || o.json)
			ret = write_json(a.json_file, &s);
		else
			ret = stats_print_text(stderr, &s);
		if (ret == -ENOMEM)
			fprintf(stderr, "pcopy: run: out of memory\n");
		session_stats_free(&s);
	}
	exit_like(status);
}
