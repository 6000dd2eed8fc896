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

	if ((g = gen_new()) == NULL)
		return -1;
	switch (what) {
	case P_INFO:
		json_cluster_info(g, &r->info);
		break;
	case P_STATUS:
		json_procs(g, r->procs, r->nprocs);
		break;
	case P_NODES:
		json_nodes(g, &r->page, r->nodes, r->nnodes);
		break;
	case P_NODE:
		json_node(g, &r->nodes[0]);
		break;
	case P_CSR:
		json_csr(g, r->csr);
		break;
	case P_CRED:
		json_credentials(g, r->cred);
		break;
	case P_NONE:
		yajl_gen_free(g);
		return 0;
	}
	return gen_print(g);
}

/* Copy a parsed value into g, keys in their order, numbers verbatim. */
static void
gen_value(yajl_gen g, yajl_val v)
{
	size_t	 i;

	if (YAJL_IS_OBJECT(v)) {
		yajl_gen_map_open(g);
		for (i = 0; i < v->u.object.len; i++) {
			json_str(g, v->u.object.keys[i]);
			gen_value(g, v->u.object.values[i]);
		}
		yajl_gen_map_close(g);
	} else if (YAJL_IS_ARRAY(v)) {
		yajl_gen_array_open(g);
		for (i = 0; i < v->u.array.len; i++)
			gen_value(g, v->u.array.values[i]);
		yajl_gen_array_close(g);
	} else if (YAJL_IS_STRING(v))
		json_str(g, v->u.string);
	else if (YAJL_IS_NUMBER(v))
		yajl_gen_number(g, v->u.number.r, strlen(v->u.number.r));
	else if (YAJL_IS_TRUE(v))
		yajl_gen_bool(g, 1);
	else if (YAJL_IS_FALSE(v))
		yajl_gen_bool(g, 0);
	else
		yajl_gen_null(g);
}

int
print_json(yajl_val v)
{
	yajl_gen	 g;

	if ((g = gen_new()) == NULL)
		return -1;
	gen_value(g, v);
	return gen_print(g);
}

/* A preflight item of cluster join, one line on stderr. */
void
print_check(const struct join_check *c)
{
	fprintf(stderr, "preflight: %-12s %s  %s\n", c->item,
	    c->ok ? "ok    " : "FAILED", c->detail);
}
