/*
 * replmon: the replication monitor.  It answers cluster info (and, with
 * the later issues, nodes list/get and summary) from the node database,
 * as the least-privileged role kmd_replmon, from inside a chroot that
 * holds only PostgreSQL's socket directory.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "pq.h"
#include "schema.h"
#include "status.h"
#include "util.h"
#include "worker.h"

struct replmon {
	struct worker	*w;
	struct pq	*db;
};

/* What a query callback needs to answer the request it serves. */
struct rm_req {
	struct replmon	*rm;
	uint32_t	 reqid;
};

/* A joining node shows its own view of the join (kmd_local.join_state). */
#define SQL_INFO \
	"SELECT l.node_id, coalesce(l.join_state, n.state, 'u')," \
	" (SELECT count(*) FROM kmd_nodes WHERE state <> 'v')," \
	" coalesce(l.join_error, ''), coalesce(l.join_progress, '')" \
	" FROM kmd_local l LEFT JOIN kmd_nodes n ON n.node_id = l.node_id"

static struct rm_req *
rm_req_new(struct replmon *rm, const struct kmsg *m)
{
	struct rm_req	*r;

	if ((r = malloc(sizeof(*r))) == NULL)
		fatal("%s", __func__);
	r->rm = rm;
	r->reqid = m->hdr.reqid;
	return r;
}

/* A query failed: tell the client in words it can act on. */
static void
rm_fail(struct rm_req *r, PGresult *res, const char *what)
{
	char	 msg[KMD_ERR_MAX];

	snprintf(msg, sizeof(msg), "%s", res ? PQresultErrorMessage(res) :
	    pq_error(r->rm->db));
	msg[strcspn(msg, "\n")] = '\0';
	kchan_senderr(r->rm->w->parent, r->reqid, "%s: the node database is"
	    " not ready (%s); try again in a few seconds", what, msg);
}

static void
rm_info_done(struct pq *db, PGresult *res, void *arg)
{
	struct rm_req		*r = arg;
	struct cluster_info	 ci;
	const char		*code = "none";

	(void)db;
	if (!pq_ok(res)) {
		rm_fail(r, res, "cluster info");
		free(r);
		return;
	}
	memset(&ci, 0, sizeof(ci));
	ci.nodecount = -1;
	if (PQntuples(res) == 1) {
		kmd_strlcpy(ci.nodeid, PQgetvalue(res, 0, 0),
		    sizeof(ci.nodeid));
		code = PQgetvalue(res, 0, 1);
		ci.nodecount = atoi(PQgetvalue(res, 0, 2));
		kmd_strlcpy(ci.error, PQgetvalue(res, 0, 3), sizeof(ci.error));
		kmd_strlcpy(ci.progress, PQgetvalue(res, 0, 4),
		    sizeof(ci.progress));
	}
	kmd_strlcpy(ci.code, code, sizeof(ci.code));
	kmd_strlcpy(ci.desc, status_desc(code), sizeof(ci.desc));
	if (kchan_send(r->rm->w->parent, IMSG_CLUSTER_INFO_REPLY, r->reqid, -1,
	    &ci, sizeof(ci)) == 0)
		kchan_send(r->rm->w->parent, IMSG_CTL_END, r->reqid, -1, NULL,
		    0);
	free(r);
}

static int
replmon_cluster_info(struct kchan *ch, struct kmsg *m, void *arg)
{
	struct worker	*w = arg;
	struct replmon	*rm = w->ctx;

	(void)ch;
	return pq_query(rm->db, SQL_INFO, 0, NULL, rm_info_done,
	    rm_req_new(rm, m));
}

/* One row with the total, and the page's nodes (none past the end). */
#define SQL_NODES \
	"SELECT t.total, n.node_id, n.state, n.host, n.public_address," \
	" n.port, n.this" \
	" FROM (SELECT count(*) AS total FROM kmd_nodes) t LEFT JOIN LATERAL" \
	" (SELECT node_id, state, host, public_address, port," \
	"  node_id = (SELECT node_id FROM kmd_local) AS this" \
	"  FROM kmd_nodes WHERE $3 = '' OR node_id::text = $3" \
	"  ORDER BY joined_at, node_id OFFSET $1 LIMIT $2) n ON true"

struct rm_nodes {
	struct rm_req		 r;
	struct nodes_query	 q;
};

static void
rm_nodes_done(struct pq *db, PGresult *res, void *arg)
{
	struct rm_nodes		*rn = arg;
	struct kchan		*ch = rn->r.rm->w->parent;
	struct nodes_page	 pg;
	struct node_info	 ni;
	int			 i, n;

	(void)db;
	if (!pq_ok(res)) {
		rm_fail(&rn->r, res, "cluster nodes");
		free(rn);
		return;
	}
	n = PQntuples(res);
	if (rn->q.id[0] != '\0' && (n != 1 || PQgetisnull(res, 0, 1))) {
		kchan_senderr(ch, rn->r.reqid, "cluster nodes get: no node %s"
		    " in this node's cluster; see kmctl cluster nodes list",
		    rn->q.id);
		free(rn);
		return;
	}
	memset(&pg, 0, sizeof(pg));
	pg.skip = rn->q.skip;
	pg.limit = rn->q.limit;
	pg.total = n > 0 ? atoi(PQgetvalue(res, 0, 0)) : 0;
	kchan_send(ch, IMSG_NODES_PAGE, rn->r.reqid, -1, &pg, sizeof(pg));
	for (i = 0; i < n; i++) {
		if (PQgetisnull(res, i, 1))
			continue;
		memset(&ni, 0, sizeof(ni));
		kmd_strlcpy(ni.nodeid, PQgetvalue(res, i, 1),
		    sizeof(ni.nodeid));
		kmd_strlcpy(ni.code, PQgetvalue(res, i, 2), sizeof(ni.code));
		kmd_strlcpy(ni.desc, status_desc(ni.code), sizeof(ni.desc));
		kmd_strlcpy(ni.host, PQgetvalue(res, i, 3), sizeof(ni.host));
		kmd_strlcpy(ni.pubaddr, PQgetvalue(res, i, 4),
		    sizeof(ni.pubaddr));
		ni.port = atoi(PQgetvalue(res, i, 5));
		ni.this_node = strcmp(PQgetvalue(res, i, 6), "t") == 0;
		kchan_send(ch, IMSG_NODE_INFO, rn->r.reqid, -1, &ni,
		    sizeof(ni));
	}
	kchan_send(ch, IMSG_CTL_END, rn->r.reqid, -1, NULL, 0);
	free(rn);
}

static int
replmon_nodes(struct kchan *ch, struct kmsg *m, void *arg)
{
	struct worker	*w = arg;
	struct replmon	*rm = w->ctx;
	struct rm_nodes	*rn;
	char		 skip[16], limit[16];
	const char	*params[3] = { skip, limit, NULL };

	(void)ch;
	if ((rn = calloc(1, sizeof(*rn))) == NULL)
		fatal("%s", __func__);
	memcpy(&rn->q, m->data, sizeof(rn->q));
	if (!TERMINATED(rn->q.id) ||
	    rn->q.skip < 0 || rn->q.limit < 0 || rn->q.limit > 1000) {
		free(rn);
		return -1;
	}
	rn->r.rm = rm;
	rn->r.reqid = m->hdr.reqid;
	snprintf(skip, sizeof(skip), "%d", rn->q.skip);
	snprintf(limit, sizeof(limit), "%d", rn->q.limit);
	params[2] = rn->q.id;
	return pq_query(rm->db, SQL_NODES, 3, params, rm_nodes_done, rn);
}

static int
replmon_init(struct worker *w)
{
	struct replmon	*rm;
	char		 ci[512];

	if ((rm = calloc(1, sizeof(*rm))) == NULL)
		return -1;
	rm->w = w;
	w->ctx = rm;
	snprintf(ci, sizeof(ci), "host=%s dbname=%s user=kmd_replmon"
	    " application_name=kmd-replmon", w->conf.pgsock, SCHEMA_DB);
	rm->db = pq_new(w->base, ci, NULL, NULL);
	return 0;
}

static void
replmon_fini(struct worker *w)
{
	struct replmon	*rm = w->ctx;

	pq_free(rm->db);
	free(rm);
}

static const struct kmsg_handler replmon_handlers[] = {
	{ IMSG_CONF_VERBOSE, sizeof(int32_t), FROM(PROC_PARENT),
	    worker_conf_verbose },
	{ IMSG_CLUSTER_INFO, 0, FROM(PROC_PARENT), replmon_cluster_info },
	{ IMSG_NODES, sizeof(struct nodes_query), FROM(PROC_PARENT),
	    replmon_nodes },
};

const struct worker_def replmon_worker = {
	PROC_REPLMON, replmon_handlers,
	sizeof(replmon_handlers) / sizeof(replmon_handlers[0]), replmon_init,
	replmon_fini
};
