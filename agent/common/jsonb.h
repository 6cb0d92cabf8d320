/* SPDX-License-Identifier: GPL-2.0 */
#ifndef PCOPY_AGENT_JSONB_H
#define PCOPY_AGENT_JSONB_H

/*
 * Building JSON output with json-c, which returns NULL when out of memory:
 * rather than test every call, a struct jb remembers the first failure and
 * the caller drops the whole object at the end.
 */
#include <stdbool.h>
#include <stdint.h>

#include "defs.h"

PCOPY_PUBLIC_BEGIN

struct json_object;

struct jb {
	bool failed;
};

/* Add @v (consumed, may be NULL) to object @o under @key. */
void jadd(struct jb *b, struct json_object *o, const char *key,
	  struct json_object *v);
/* Append @v (consumed, may be NULL) to array @a. */
void jpush(struct jb *b, struct json_object *a, struct json_object *v);

struct json_object *ju64(uint64_t v);
/* An array of @n u64s; @v may be NULL when @n is 0. */
struct json_object *ju64_array(struct jb *b, const uint64_t *v, unsigned int n);

/* Return @o, or drop it and return NULL if anything failed. */
struct json_object *jb_done(struct jb *b, struct json_object *o);

/* Print @obj on stdout, pretty, one document. */
void print_json(struct json_object *obj);

PCOPY_PUBLIC_END

#endif
