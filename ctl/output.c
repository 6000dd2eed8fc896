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
	case P_SUMMARY:
		json_summary(g, r->rows, r->nrows);
		break;
	case P_ALARMS:
		json_alarms(g, &r->page, r->alarms, r->nalarms);
		break;
	case P_ROTKEYS:
		json_rotkeys(g, r->rotkeys, r->nrotkeys);
		break;
	case P_KEYS:
		json_keys(g, &r->page, r->keys, r->nkeys);
		break;
	case P_KEY:
		json_key(g, &r->keys[0]);
		break;
	case P_CRYPT:
		json_crypt(g, r->crypt);
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

int
print_json(yajl_val v)
{
	yajl_gen	 g;

	if ((g = gen_new()) == NULL)
		return -1;
	json_value(g, v, 0);
	return gen_print(g);
}

/* A preflight item of cluster join, one line on stderr. */
void
print_check(const struct join_check *c)
{
	fprintf(stderr, "preflight: %-12s %s  %s\n", c->item,
	    c->ok ? "ok    " : "FAILED", c->detail);
}
