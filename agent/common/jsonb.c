// SPDX-License-Identifier: GPL-2.0
/* JSON building with one out-of-memory check per object (jsonb.h). */
#include <stdio.h>

#include <json-c/json.h>

#include "jsonb.h"

void jadd(struct jb *b, struct json_object *o, const char *key,
	  struct json_object *v)
{
	if (!o || !v || json_object_object_add(o, key, v)) {
		json_object_put(v);
		b->failed = true;
	}
}

void jpush(struct jb *b, struct json_object *a, struct json_object *v)
{
	if (!a || !v || json_object_array_add(a, v)) {
		json_object_put(v);
		b->failed = true;
	}
}

struct json_object *ju64(uint64_t v)
{
	return json_object_new_uint64(v);
}

struct json_object *ju64_array(struct jb *b, const uint64_t *v, unsigned int n)
{
	struct json_object *a = json_object_new_array_ext((int)n);
	unsigned int i;

	for (i = 0; v && i < n; i++)
		jpush(b, a, ju64(v[i]));
	return a;
}

struct json_object *jb_done(struct jb *b, struct json_object *o)
{
	if (b->failed || !o) {
		json_object_put(o);
		return NULL;
	}
	return o;
}

void print_json(struct json_object *obj)
{
	puts(json_object_to_json_string_ext(obj, JSON_C_TO_STRING_PRETTY |
					    JSON_C_TO_STRING_NOSLASHESCAPE));
}
