/* SPDX-License-Identifier: GPL-2.0 */
#ifndef PCOPY_AGENT_H
#define PCOPY_AGENT_H

#include <stdbool.h>
#include <stdint.h>

#define PCOPY_AGENT_VERSION "0.1.0"

struct json_object;

/* Options common to every subcommand. */
struct opts {
	bool json;
};

/* main.c */
void usage_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void print_json(struct json_object *obj);

/* subcommands, one file each */
int cmd_status(int argc, char **argv, const struct opts *o);

#endif
