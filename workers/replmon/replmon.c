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
#include "nodestatus.h"
#include "pq.h"
#include "schema.h"
#include "status.h"
#include "util.h"
#include "worker.h"
#include "replmon.h"


/* What a query callback needs to answer the request it serves. */
struct rm_req {
	struct replmon	*rm;
	uint32_t	 reqid;
};

/*
 * A joining node shows its own view of the join (kmd_local.join_state);
 * otherwise a node's status is the cluster's (kmd_node_status: the
 * nodes' replicated views of it, "x" when they disagree).  The node
 * count leaves out the removed nodes and the pending ones (not joined).
 */
#define SQL_INFO \
	"SELECT l.node_id, coalesce(l.join_state, n.code, '" NS_C_UNKNOWN \
	"')," \
	" (SELECT count(*) FROM kmd_nodes WHERE state NOT IN ('" NS_C_REMOVED \
	"', '" NS_C_PENDING "'))," \
	" coalesce(l.join_error, ''), coalesce(l.join_progress, '')" \
	" FROM kmd_local l LEFT JOIN kmd_node_status n ON" \
	" n.node_id = l.node_id"

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
	struct replmon	*rm = arg;

	(void)ch;
	return pq_query(rm->db, SQL_INFO, 0, NULL, rm_info_done,
	    rm_req_new(rm, m));
}

/* One row with the total, and the page's nodes (none past the end). */
#define SQL_NODES \
	"SELECT t.total, n.node_id, n.state, n.host, n.public_address," \
	" n.port, n.this, n.expires, n.expired, n.version, n.schema" \
	" FROM (SELECT count(*) AS total FROM kmd_nodes WHERE state <> '" \
	NS_C_REMOVED "') t" \
	" LEFT JOIN LATERAL" \
	" (SELECT n.node_id, coalesce(st.code, n.state) AS state, host," \
	"  public_address, port," \
	"  n.node_id = (SELECT node_id FROM kmd_local) AS this," \
	"  CASE WHEN n.state = '" NS_C_PENDING "' THEN coalesce(" \
	SQL_ISO("n.expires") ", '') ELSE '' END AS expires," \
	"  n.state = '" NS_C_PENDING "' AND n.expires <= now() AS expired," \
	"  n.version," \
	" " SQL_NODE_SCHEMA " AS schema" \
	"  FROM kmd_nodes n LEFT JOIN kmd_node_status st USING (node_id)" \
	"  WHERE ($3 = '' AND n.state <> '" NS_C_REMOVED "') OR" \
	" n.node_id::text = $3" \
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
		kmd_strlcpy(ni.desc, ns_node_desc(ns_parse(ni.code),
		    strcmp(PQgetvalue(res, i, 8), "t") == 0), sizeof(ni.desc));
		kmd_strlcpy(ni.host, PQgetvalue(res, i, 3), sizeof(ni.host));
		kmd_strlcpy(ni.pubaddr, PQgetvalue(res, i, 4),
		    sizeof(ni.pubaddr));
		ni.port = atoi(PQgetvalue(res, i, 5));
		ni.this_node = strcmp(PQgetvalue(res, i, 6), "t") == 0;
		kmd_strlcpy(ni.expires, PQgetvalue(res, i, 7),
		    sizeof(ni.expires));
		kmd_strlcpy(ni.kmd_version, PQgetvalue(res, i, 9),
		    sizeof(ni.kmd_version));
		ni.schema = atoi(PQgetvalue(res, i, 10));
		kchan_send(ch, IMSG_NODE_INFO, rn->r.reqid, -1, &ni,
		    sizeof(ni));
	}
	kchan_send(ch, IMSG_CTL_END, rn->r.reqid, -1, NULL, 0);
	free(rn);
}

static int
replmon_nodes(struct kchan *ch, struct kmsg *m, void *arg)
{
	struct replmon	*rm = arg;
	struct rm_nodes	*rn;
	char		 skip[16], limit[16];
	const char	*params[3] = { skip, limit, NULL };

	(void)ch;
	if ((rn = calloc(1, sizeof(*rn))) == NULL)
		fatal("%s", __func__);
	memcpy(&rn->q, m->data, sizeof(rn->q));
	if (rn->q.skip < 0 || rn->q.limit < 0 || rn->q.limit > 1000) {
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

/* Every reporter's view of every node, grouped as json_summary wants. */
#define SQL_SUMMARY \
	"SELECT reporter::text, peer::text," \
	" " SQL_ISO("max(last_updated) OVER (PARTITION BY reporter)") "," \
	" view::text" \
	" FROM kmd_node_health ORDER BY reporter::text, peer::text LIMIT 1024"

static void
rm_summary_done(struct pq *db, PGresult *res, void *arg)
{
	struct rm_req		*r = arg;
	struct kchan		*ch = r->rm->w->parent;
	struct summary_row	*row;
	int			 i;

	(void)db;
	if (!pq_ok(res)) {
		rm_fail(r, res, "cluster summary");
		free(r);
		return;
	}
	if ((row = malloc(sizeof(*row))) == NULL)
		fatal("%s", __func__);
	for (i = 0; i < PQntuples(res); i++) {
		memset(row, 0, sizeof(*row));
		if (kmd_strlcpy(row->view, PQgetvalue(res, i, 3),
		    sizeof(row->view)) >= sizeof(row->view)) {
			log_warnx("cluster summary: the view of %s by %s is"
			    " over %zu bytes; left out", PQgetvalue(res, i, 1),
			    PQgetvalue(res, i, 0), sizeof(row->view));
			continue;
		}
		kmd_strlcpy(row->reporter, PQgetvalue(res, i, 0),
		    sizeof(row->reporter));
		kmd_strlcpy(row->node, PQgetvalue(res, i, 1),
		    sizeof(row->node));
		kmd_strlcpy(row->updated, PQgetvalue(res, i, 2),
		    sizeof(row->updated));
		kchan_send(ch, IMSG_SUMMARY_ROW, r->reqid, -1, row,
		    sizeof(*row));
	}
	free(row);
	kchan_send(ch, IMSG_CTL_END, r->reqid, -1, NULL, 0);
	free(r);
}

static int
replmon_summary(struct kchan *ch, struct kmsg *m, void *arg)
{
	struct replmon	*rm = arg;

	(void)ch;
	return pq_query(rm->db, SQL_SUMMARY, 0, NULL, rm_summary_done,
	    rm_req_new(rm, m));
}

/* The total, then the page's alarms, newest first. */
#define SQL_ALARMS \
	"SELECT t.total, a.alarm_id, a.kind, a.subject, a.message," \
	" " SQL_ISO("a.raised") ", coalesce(" SQL_ISO("a.cleared") ", '')" \
	" FROM (SELECT count(*) AS total FROM kmd_alarms WHERE $3::boolean" \
	" OR cleared IS NULL) t LEFT JOIN LATERAL (SELECT * FROM kmd_alarms" \
	" WHERE $3::boolean OR cleared IS NULL ORDER BY alarm_id DESC" \
	" OFFSET $1 LIMIT $2) a ON true"

struct rm_alarms {
	struct rm_req		 r;
	struct alarms_query	 q;
};

static void
rm_alarms_done(struct pq *db, PGresult *res, void *arg)
{
	struct rm_alarms	*ra = arg;
	struct kchan		*ch = ra->r.rm->w->parent;
	struct nodes_page	 pg;
	struct alarm_info	 ai;
	int			 i;

	(void)db;
	if (!pq_ok(res)) {
		rm_fail(&ra->r, res, "alarms list");
		free(ra);
		return;
	}
	memset(&pg, 0, sizeof(pg));
	pg.skip = ra->q.skip;
	pg.limit = ra->q.limit;
	pg.total = PQntuples(res) > 0 ? atoi(PQgetvalue(res, 0, 0)) : 0;
	kchan_send(ch, IMSG_ALARMS_PAGE, ra->r.reqid, -1, &pg, sizeof(pg));
	for (i = 0; i < PQntuples(res); i++) {
		if (PQgetisnull(res, i, 1))
			continue;
		memset(&ai, 0, sizeof(ai));
		ai.id = atoll(PQgetvalue(res, i, 1));
		kmd_strlcpy(ai.kind, PQgetvalue(res, i, 2), sizeof(ai.kind));
		kmd_strlcpy(ai.subject, PQgetvalue(res, i, 3),
		    sizeof(ai.subject));
		kmd_strlcpy(ai.message, PQgetvalue(res, i, 4),
		    sizeof(ai.message));
		kmd_strlcpy(ai.raised, PQgetvalue(res, i, 5),
		    sizeof(ai.raised));
		kmd_strlcpy(ai.cleared, PQgetvalue(res, i, 6),
		    sizeof(ai.cleared));
		kchan_send(ch, IMSG_ALARM_INFO, ra->r.reqid, -1, &ai,
		    sizeof(ai));
	}
	kchan_send(ch, IMSG_CTL_END, ra->r.reqid, -1, NULL, 0);
	free(ra);
}

static int
replmon_alarms(struct kchan *ch, struct kmsg *m, void *arg)
{
	struct replmon		*rm = arg;
	struct rm_alarms	*ra;
	char			 skip[16], limit[16];
	const char		*params[3] = { skip, limit, NULL };

	(void)ch;
	if ((ra = calloc(1, sizeof(*ra))) == NULL)
		fatal("%s", __func__);
	memcpy(&ra->q, m->data, sizeof(ra->q));
	if (ra->q.skip < 0 || ra->q.limit < 0 || ra->q.limit > 1000) {
		free(ra);
		return -1;
	}
	ra->r.rm = rm;
	ra->r.reqid = m->hdr.reqid;
	snprintf(skip, sizeof(skip), "%d", ra->q.skip);
	snprintf(limit, sizeof(limit), "%d", ra->q.limit);
	params[2] = ra->q.all ? "true" : "false";
	return pq_query(rm->db, SQL_ALARMS, 3, params, rm_alarms_done, ra);
}

/* From hsm, through the parent: an alarm while the HSM is unusable. */
static int
replmon_hsm_status(struct kchan *ch, struct kmsg *m, void *arg)
{
	struct replmon		*rm = arg;
	struct hsm_status	 hs;

	(void)ch;
	memcpy(&hs, m->data, sizeof(hs));
	kmd_strlcpy(rm->hsm_err, hs.ok ? "" : hs.msg, sizeof(rm->hsm_err));
	return 0;
}

static int
replmon_apply_error(struct kchan *ch, struct kmsg *m, void *arg)
{
	struct replmon		*rm = arg;
	struct apply_error	 ae;

	(void)ch;
	memcpy(&ae, m->data, sizeof(ae));
	monitor_apply_error(rm->mon, &ae);
	return 0;
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
	rm->mon = monitor_new(rm);
	rm->beat = beat_new(rm);
	return 0;
}

static void
replmon_fini(struct worker *w)
{
	struct replmon	*rm = w->ctx;

	beat_free(rm->beat);
	monitor_free(rm->mon);
	pq_free(rm->db);
	free(rm);
}

static const struct kmsg_handler replmon_handlers[] = {
	{ IMSG_CONF_VERBOSE, sizeof(struct conf_reload), FROM(PROC_PARENT),
	    worker_conf_reload },
	REQ_REPLMON(OP_WORKER_ROW)
	{ IMSG_HSM_STATUS, sizeof(struct hsm_status), FROM(PROC_PARENT),
	    replmon_hsm_status },
	{ IMSG_APPLY_ERROR, sizeof(struct apply_error), FROM(PROC_PARENT),
	    replmon_apply_error },
};

const struct worker_def replmon_worker = {
	PROC_REPLMON, replmon_handlers,
	sizeof(replmon_handlers) / sizeof(replmon_handlers[0]), replmon_init,
	replmon_fini, NULL
};
