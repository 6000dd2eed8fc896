/*
 * The JSON documents of kmd's replies, in the reference's shapes and key
 * order.  kmctl prints them (pretty) and the API sends them (compact) from
 * this one place, so local and remote output cannot drift apart.
 */
#include <string.h>

#include "json.h"

void
json_str(yajl_gen g, const char *s)
{
	yajl_gen_string(g, (const unsigned char *)s, strlen(s));
}

static void
json_status(yajl_gen g, const char *code, const char *desc)
{
	json_str(g, "status");
	yajl_gen_map_open(g);
	json_str(g, "code");
	json_str(g, code);
	json_str(g, "description");
	json_str(g, desc);
	yajl_gen_map_close(g);
}

void
json_cluster_info(yajl_gen g, const struct cluster_info *ci)
{
	yajl_gen_map_open(g);
	json_str(g, "nodeID");
	json_str(g, ci->nodeid);
	json_status(g, ci->code, ci->desc);
	if (ci->nodecount >= 0) {
		json_str(g, "nodeCount");
		yajl_gen_integer(g, ci->nodecount);
	}
	if (ci->error[0] != '\0') {
		json_str(g, "error");
		json_str(g, ci->error);
	}
	if (ci->progress[0] != '\0') {
		json_str(g, "progress");
		json_str(g, ci->progress);
	}
	yajl_gen_map_close(g);
}

void
json_node(yajl_gen g, const struct node_info *n)
{
	yajl_gen_map_open(g);
	json_str(g, "nodeID");
	json_str(g, n->nodeid);
	json_status(g, n->code, n->desc);
	json_str(g, "host");
	json_str(g, n->host);
	json_str(g, "port");
	yajl_gen_integer(g, n->port);
	json_str(g, "publicAddress");
	json_str(g, n->pubaddr);
	json_str(g, "isThisNode");
	yajl_gen_bool(g, n->this_node);
	yajl_gen_map_close(g);
}

void
json_nodes(yajl_gen g, const struct nodes_page *pg,
    const struct node_info *nodes, size_t n)
{
	size_t	 i;

	yajl_gen_map_open(g);
	json_str(g, "skip");
	yajl_gen_integer(g, pg->skip);
	json_str(g, "limit");
	yajl_gen_integer(g, pg->limit);
	json_str(g, "total");
	yajl_gen_integer(g, pg->total);
	json_str(g, "resources");
	yajl_gen_array_open(g);
	for (i = 0; i < n; i++)
		json_node(g, &nodes[i]);
	yajl_gen_array_close(g);
	yajl_gen_map_close(g);
}

void
json_procs(yajl_gen g, const struct ctl_proc *p, size_t n)
{
	size_t	 i;

	yajl_gen_map_open(g);
	json_str(g, "processes");
	yajl_gen_array_open(g);
	for (i = 0; i < n; i++) {
		yajl_gen_map_open(g);
		json_str(g, "role");
		json_str(g, p[i].role);
		json_str(g, "pid");
		yajl_gen_integer(g, p[i].pid);
		json_str(g, "user");
		json_str(g, p[i].user);
		json_str(g, "uptime");
		yajl_gen_integer(g, p[i].uptime);
		json_str(g, "restarts");
		yajl_gen_integer(g, p[i].restarts);
		yajl_gen_map_close(g);
	}
	yajl_gen_array_close(g);
	yajl_gen_map_close(g);
}

/* {"code": N, "codeDesc": "...", "message": "..."} */
void
json_error(yajl_gen g, int code, const char *desc, const char *msg)
{
	yajl_gen_map_open(g);
	json_str(g, "code");
	yajl_gen_integer(g, code);
	json_str(g, "codeDesc");
	json_str(g, desc);
	json_str(g, "message");
	json_str(g, msg);
	yajl_gen_map_close(g);
}

/* cluster csr: {"csr": PEM} */
void
json_csr(yajl_gen g, const struct csr_reply *c)
{
	yajl_gen_map_open(g);
	json_str(g, "csr");
	json_str(g, c->csr);
	yajl_gen_map_close(g);
}

/* cluster nodes create: {"cert", "cachain", "mkek_blob"} */
void
json_credentials(yajl_gen g, const struct node_credentials *c)
{
	yajl_gen_map_open(g);
	json_str(g, "cert");
	json_str(g, c->cert);
	json_str(g, "cachain");
	json_str(g, c->cachain);
	json_str(g, "mkek_blob");
	json_str(g, c->mkek_blob);
	yajl_gen_map_close(g);
}

/* One preflight item, as cluster join reports it. */
void
json_check(yajl_gen g, const struct join_check *c)
{
	yajl_gen_map_open(g);
	json_str(g, "check");
	json_str(g, c->item);
	json_str(g, "ok");
	yajl_gen_bool(g, c->ok);
	json_str(g, "detail");
	json_str(g, c->detail);
	yajl_gen_map_close(g);
}
