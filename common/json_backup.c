/*
 * Backups and backup keys as JSON: the shapes kmctl prints and the api
 * would answer, kept beside the rest of json.c's shapes.
 */
#include <string.h>

#include <yajl_gen.h>

#include "json.h"
#include "proto.h"
#include "reply.h"

static void
str(yajl_gen g, const char *s)
{
	yajl_gen_string(g, (const unsigned char *)s, strlen(s));
}

/* A member whose value is a string, or null when it is "". */
static void
str_or_null(yajl_gen g, const char *name, const char *v)
{
	str(g, name);
	if (v[0] == '\0')
		yajl_gen_null(g);
	else
		str(g, v);
}

/* {"id", "description", "origin", "createdAt", "exportedAt", "default"} */
void
json_bkey(yajl_gen g, const struct bkey_info *k)
{
	yajl_gen_map_open(g);
	str(g, "id");
	str(g, k->id);
	str_or_null(g, "description", k->description);
	str(g, "origin");
	str(g, k->origin);
	str(g, "createdAt");
	str(g, k->created);
	str_or_null(g, "exportedAt", k->exported);
	str(g, "default");
	yajl_gen_bool(g, k->is_default);
	yajl_gen_map_close(g);
}

/* {"id", "description", "backupKey", ... "keys", "users", "size"} */
void
json_backup(yajl_gen g, const struct backup_info *b)
{
	yajl_gen_map_open(g);
	str(g, "id");
	str(g, b->id);
	str_or_null(g, "description", b->description);
	str(g, "createdAt");
	str(g, b->created);
	str(g, "backupKey");
	str(g, b->backup_key);
	str(g, "origin");
	str(g, b->origin);
	str(g, "madeOnNode");
	str(g, b->node);
	str(g, "kmdVersion");
	str(g, b->kmd_version);
	str(g, "schemaVersion");
	yajl_gen_integer(g, b->schema);
	str(g, "keyVersions");
	yajl_gen_integer(g, b->keys);
	str(g, "users");
	yajl_gen_integer(g, b->users);
	str(g, "size");
	yajl_gen_integer(g, b->size);
	yajl_gen_map_close(g);
}

/* {"total": N, "resources": [...]}: backup keys or backups */
void
json_backup_list(yajl_gen g, const struct reply *r, int keys)
{
	size_t	 i, n = keys ? r->nbkeys : r->nbackups;

	yajl_gen_map_open(g);
	str(g, "total");
	yajl_gen_integer(g, (long long)n);
	str(g, "resources");
	yajl_gen_array_open(g);
	for (i = 0; i < n; i++) {
		if (keys)
			json_bkey(g, &r->bkeys[i]);
		else
			json_backup(g, &r->backups[i]);
	}
	yajl_gen_array_close(g);
	yajl_gen_map_close(g);
}
