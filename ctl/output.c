/*
 * JSON at the edge: typed replies from kmd become the reference's JSON,
 * pretty-printed with yajl.
 */
#include <stdio.h>
#include <string.h>
#include <yajl_gen.h>

#include "output.h"

static void
gen_str(yajl_gen g, const char *s)
{
	yajl_gen_string(g, (const unsigned char *)s, strlen(s));
}

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

static void
gen_status(yajl_gen g, const char *code, const char *desc)
{
	gen_str(g, "status");
	yajl_gen_map_open(g);
	gen_str(g, "code");
	gen_str(g, code);
	gen_str(g, "description");
	gen_str(g, desc);
	yajl_gen_map_close(g);
}

int
print_cluster_info(const struct cluster_info *ci)
{
	yajl_gen	 g;

	if ((g = gen_new()) == NULL)
		return -1;
	yajl_gen_map_open(g);
	gen_str(g, "nodeID");
	gen_str(g, ci->nodeid);
	gen_status(g, ci->code, ci->desc);
	if (ci->nodecount >= 0) {
		gen_str(g, "nodeCount");
		yajl_gen_integer(g, ci->nodecount);
	}
	yajl_gen_map_close(g);
	return gen_print(g);
}

int
print_status(const struct ctl_proc *procs, size_t n)
{
	yajl_gen	 g;
	size_t		 i;

	if ((g = gen_new()) == NULL)
		return -1;
	yajl_gen_map_open(g);
	gen_str(g, "processes");
	yajl_gen_array_open(g);
	for (i = 0; i < n; i++) {
		yajl_gen_map_open(g);
		gen_str(g, "role");
		gen_str(g, procs[i].role);
		gen_str(g, "pid");
		yajl_gen_integer(g, procs[i].pid);
		gen_str(g, "user");
		gen_str(g, procs[i].user);
		gen_str(g, "uptime");
		yajl_gen_integer(g, procs[i].uptime);
		gen_str(g, "restarts");
		yajl_gen_integer(g, procs[i].restarts);
		yajl_gen_map_close(g);
	}
	yajl_gen_array_close(g);
	yajl_gen_map_close(g);
	return gen_print(g);
}

static void
gen_node(yajl_gen g, const struct node_info *n)
{
	yajl_gen_map_open(g);
	gen_str(g, "nodeID");
	gen_str(g, n->nodeid);
	gen_status(g, n->code, n->desc);
	gen_str(g, "host");
	gen_str(g, n->host);
	gen_str(g, "port");
	yajl_gen_integer(g, n->port);
	gen_str(g, "publicAddress");
	gen_str(g, n->pubaddr);
	gen_str(g, "isThisNode");
	yajl_gen_bool(g, n->this_node);
	yajl_gen_map_close(g);
}

/* {"skip","limit","total","resources":[...]}, as the reference lists. */
int
print_nodes(const struct nodes_page *pg, const struct node_info *nodes,
    size_t n)
{
	yajl_gen	 g;
	size_t		 i;

	if ((g = gen_new()) == NULL)
		return -1;
	yajl_gen_map_open(g);
	gen_str(g, "skip");
	yajl_gen_integer(g, pg->skip);
	gen_str(g, "limit");
	yajl_gen_integer(g, pg->limit);
	gen_str(g, "total");
	yajl_gen_integer(g, pg->total);
	gen_str(g, "resources");
	yajl_gen_array_open(g);
	for (i = 0; i < n; i++)
		gen_node(g, &nodes[i]);
	yajl_gen_array_close(g);
	yajl_gen_map_close(g);
	return gen_print(g);
}

int
print_node(const struct node_info *n)
{
	yajl_gen	 g;

	if ((g = gen_new()) == NULL)
		return -1;
	gen_node(g, n);
	return gen_print(g);
}
