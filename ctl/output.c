/*
 * JSON at the edge: typed replies from kmd become the reference's JSON
 * (common/json.c), pretty-printed with yajl.  Remote replies arrive as
 * JSON already and are re-printed the same way.
 */
#include <stdio.h>
#include <string.h>
#include <yajl_gen.h>
#include <yajl_tree.h>

#include "json.h"
#include "output.h"

static yajl_gen
gen_new(void)
{
	yajl_gen	 g;

	if ((g = yajl_gen_alloc(NULL)) == NULL)
		return NULL;
	yajl_gen_config(g, yajl_gen_beautify, 1);
	yajl_gen_config(g, yajl_gen_indent_string, "  ");
	return g;
}

static int
gen_print(yajl_gen g)
{
	const unsigned char	*buf;
	size_t			 len;
	int			 r = -1;

	if (yajl_gen_get_buf(g, &buf, &len) == yajl_gen_status_ok &&
	    fwrite(buf, 1, len, stdout) == len && fflush(stdout) == 0)
		r = 0;
	yajl_gen_free(g);
	return r;
}

int
print_reply(const struct reply *r, enum print_what what)
{
	yajl_gen	 g;

	if (what == P_NONE)
		return 0;
	if ((g = gen_new()) == NULL)
		return -1;
	json_reply(g, r, what, KMD_VERSION);
	return gen_print(g);
}

int
print_json(yajl_val v)
{
	yajl_gen	 g;

	if ((g = gen_new()) == NULL)
		return -1;
	json_value(g, v, 0);
	return gen_print(g);
}

/* kmctl version with --url: the node's answer, and kmctl's own. */
int
print_version(yajl_val v)
{
	const char		*kp[] = { "kmdVersion", NULL };
	const char		*sp[] = { "schemaVersion", NULL };
	yajl_val		 k, n;
	struct version_info	 vi;
	yajl_gen		 g;

	memset(&vi, 0, sizeof(vi));
	vi.schema_version = -1;
	if ((k = yajl_tree_get(v, kp, yajl_t_string)) != NULL)
		snprintf(vi.kmd_version, sizeof(vi.kmd_version), "%s",
		    YAJL_GET_STRING(k));
	if ((n = yajl_tree_get(v, sp, yajl_t_number)) != NULL &&
	    YAJL_IS_INTEGER(n))
		vi.schema_version = (int32_t)YAJL_GET_INTEGER(n);
	if ((g = gen_new()) == NULL)
		return -1;
	json_version(g, &vi, KMD_VERSION);
	return gen_print(g);
}

/*
 * A preflight item of cluster join (what: "preflight"), or nodes
 * create's advice, one line on stderr.
 */
void
print_check(const char *what, const struct join_check *c)
{
	fprintf(stderr, "%s: %-12s %s  %s\n", what, c->item,
	    c->ok ? "ok    " : "FAILED", c->detail);
}
