// SPDX-License-Identifier: GPL-2.0
/*
 * The helper programs: subcommands (or parts of one) that need a large
 * library live in their own executables, so that the libraries they load
 * (cairo's and libmicrohttpd's, some 25 shared objects) cost nothing to
 * every other pcopy run.  pcopy-exporter is `pcopy exporter`; pcopy-plot
 * draws the pictures of `pcopy report --plot` and `pcopy send/recv --plot`.
 *
 * A helper is looked up beside the running pcopy: in libexec/ (the build
 * tree: agent/pcopy and agent/libexec/), then in ../libexec/pcopy/ (an
 * installed one: PREFIX/sbin/pcopy and PREFIX/libexec/pcopy/, wherever
 * PREFIX and DESTDIR put them).
 */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "agent.h"

/* The helper's path into @path, or -ENOENT (the places tried in @path). */
static int helper_path(const char *name, char *path, size_t len)
{
	static const char *const where[] = { "libexec", "../libexec/pcopy" };
	char exe[PATH_MAX];
	unsigned int i;
	ssize_t n;
	char *slash;

	n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
	if (n <= 0 || !(exe[n] = '\0', slash = strrchr(exe, '/'))) {
		snprintf(path, len, "cannot find pcopy-%s: /proc/self/exe: %s", name,
			 n < 0 ? strerror(errno) : "not a path");
		return -ENOENT;
	}
	*slash = '\0';
	for (i = 0; i < ARRAY_SIZE(where); i++) {
		if ((size_t)snprintf(path, len, "%s/%s/pcopy-%s", exe, where[i], name) < len &&
		    !access(path, X_OK))
			return 0;
	}
	snprintf(path, len, "pcopy-%s is in neither %s/ nor %s/ beside %.2048s",
		 name, where[0], where[1], exe);
	return -ENOENT;
}

/* The helper's path into @path; -1 after saying why there is none. */
static int helper_find(const char *name, char *path, size_t len)
{
	if (!helper_path(name, path, len))
		return 0;
	fprintf(stderr, "pcopy: %s: %s (is pcopy installed whole?)\n", name, path);
	return -1;
}

/*
 * Exec helper pcopy-@name at @path with @opt (if not NULL) and then @args
 * (NULL-terminated) after argv[0]; returns only after saying why it could
 * not.
 */
static void helper_execv(const char *name, const char *path, const char *opt,
			 char *const *args)
{
	char arg0[64];
	char **argv;
	int n, k = 0;

	for (n = 0; args[n]; n++)
		;
	argv = calloc(n + 3, sizeof(*argv));
	if (!argv) {
		fprintf(stderr, "pcopy: %s: out of memory\n", name);
		return;
	}
	snprintf(arg0, sizeof(arg0), "pcopy-%s", name);
	argv[k++] = arg0;
	if (opt)
		argv[k++] = (char *)opt;
	memcpy(&argv[k], args, (n + 1) * sizeof(*argv));
	execv(path, argv);
	fprintf(stderr, "pcopy: %s: cannot run %s: %s\n", name, path, strerror(errno));
	free(argv);
}

int helper_exec(const char *name, char **argv, const struct opts *o)
{
	char path[PATH_MAX + 64];

	if (!helper_find(name, path, sizeof(path)))
		helper_execv(name, path, o->json ? "-j" : NULL, argv + 1);
	return 1;
}

int helper_run(const char *name, const char *const *args)
{
	char path[PATH_MAX + 64];
	int status;
	pid_t pid;

	if (helper_find(name, path, sizeof(path)))
		return 1;
	fflush(NULL);
	pid = fork();
	if (pid == 0) {
		helper_execv(name, path, NULL, (char *const *)args);
		_exit(127);
	}
	if (pid < 0) {
		fprintf(stderr, "pcopy: %s: fork: %s\n", name, strerror(errno));
		return 1;
	}
	while (waitpid(pid, &status, 0) < 0) {
		if (errno != EINTR) {
			fprintf(stderr, "pcopy: %s: waitpid: %s\n", name, strerror(errno));
			return 1;
		}
	}
	if (WIFEXITED(status))
		return WEXITSTATUS(status);
	fprintf(stderr, "pcopy: %s: killed by signal %d\n", name, WTERMSIG(status));
	return 1;
}

int plot_dir_prepare(const char *cmd, const char *dir, const char *name, char *rec, size_t len)
{
	struct stat st;
	char png[PATH_MAX];

	if (mkdir(dir, 0755) && (errno != EEXIST || stat(dir, &st) || !S_ISDIR(st.st_mode))) {
		fprintf(stderr, "pcopy: %s: --plot %s: %s\n", cmd, dir,
			errno == EEXIST ? "not a directory" : strerror(errno));
		return -1;
	}
	if ((size_t)snprintf(rec, len, "%s/%s.rec", dir, name) >= len ||
	    (size_t)snprintf(png, sizeof(png), "%s/%s.png", dir, name) >= sizeof(png)) {
		fprintf(stderr, "pcopy: %s: --plot %s: the name is too long\n", cmd, dir);
		return -1;
	}
	/* what an earlier run left must not pass for this one's */
	if ((unlink(rec) && errno != ENOENT) || (unlink(png) && errno != ENOENT)) {
		fprintf(stderr, "pcopy: %s: --plot %s: cannot replace %s.rec, %s.png: %s\n", cmd,
			dir, name, name, strerror(errno));
		return -1;
	}
	return 0;
}

int plot_dir_draw(const char *cmd, const char *dir, const char *name)
{
	char rec[PATH_MAX], png[PATH_MAX];
	const char *args[] = { rec, png, NULL };

	if ((size_t)snprintf(rec, sizeof(rec), "%s/%s.rec", dir, name) >= sizeof(rec) ||
	    (size_t)snprintf(png, sizeof(png), "%s/%s.png", dir, name) >= sizeof(png))
		return 1;
	if (access(rec, R_OK)) {
		fprintf(stderr, "pcopy: %s: --plot %s: nothing was recorded (pcopy.ko's ring was not used: see above)\n",
			cmd, dir);
		return 1;
	}
	if (helper_run("plot", args))
		return 1;
	fprintf(stderr, "pcopy: %s: drew %s from the recording %s\n", cmd, png, rec);
	return 0;
}
