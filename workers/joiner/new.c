/*
 * cluster new: this node becomes a cluster of one.
 *
 *   1. refuse if the node is clustered; two fresh UUIDs from PostgreSQL
 *   2. hsm: the CA, this node's key and certificate, the KEK (all sealed;
 *      the KEK a restore left, when a backup was restored before)
 *   3. one transaction: pglogical node, replication set, cluster, node and
 *      local rows -- nothing is recorded unless all of it is
 *   4. hsm -> parent: PostgreSQL's TLS files; postgres reloads
 *   5. the reply, in the reference's shape
 *
 * A failure before 3 changes nothing; TLS (4) is installed again at every
 * start of a clustered node, so a failure there heals.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "joiner.h"
#include "log.h"
#include "nodestatus.h"
#include "schema.h"
#include "status.h"
#include "util.h"


static void	new_created(struct joiner *, const struct kmsg *);
static void	new_tls_installed(struct kchan *, struct kmsg *, void *);

static const struct kchan_exchange new_tls_ex = {
	IMSG_TLS_INSTALLED, 0, new_tls_installed, op_hsm_failed
};

/* Step 1's answer: is this node clustered?  Two new ids. */
static void
new_checked(struct pq *db, PGresult *res, void *arg)
{
	struct joiner		*j = arg;
	struct hsm_create	 hc;

	(void)db;
	if (op_unclustered(j, res, "nothing was changed.  To start over, ") ==
	    -1)
		return;
	kmd_strlcpy(j->op->cluster_id, PQgetvalue(res, 0, 1),
	    sizeof(j->op->cluster_id));
	kmd_strlcpy(j->op->node_id, PQgetvalue(res, 0, 2),
	    sizeof(j->op->node_id));
	memset(&hc, 0, sizeof(hc));
	/* a restore left the backup's KEK: the cluster's, not a new one */
	kmd_strlcpy(hc.restored_kek, PQgetvalue(res, 0, 3),
	    sizeof(hc.restored_kek));
	memcpy(hc.cluster_id, j->op->cluster_id, sizeof(hc.cluster_id));
	memcpy(hc.node_id, j->op->node_id, sizeof(hc.node_id));
	kmd_strlcpy(hc.host, j->op->cn.host, sizeof(hc.host));
	op_call(j, IMSG_HSM_CLUSTER_CREATE, &hc, sizeof(hc), new_created);
}

int
joiner_cluster_new(struct kchan *ch, struct kmsg *m, void *arg)
{
	struct joiner		*j = arg;
	struct cluster_new	 cn;

	memcpy(&cn, m->data, sizeof(cn));
	if (own_host(j, ch, m->hdr.reqid, "cluster new", cn.host, cn.pubaddr,
	    sizeof(cn.pubaddr)) == -1 ||
	    op_start(j, ch, m->hdr.reqid, "cluster new") == NULL)
		return 0;
	j->op->cn = cn;
	return pq_query(j->db, "SELECT (SELECT node_id FROM kmd_local),"
	    " gen_random_uuid(), gen_random_uuid(), coalesce((SELECT"
	    " encode(kek_wrapped, 'hex') FROM kmd_restored_kek), '')", 0, NULL,
	    new_checked, j);
}

/*
 * hsm -> parent: PostgreSQL's TLS files.  The outcome (TLS_INSTALLED,
 * from the parent, or the hsm's refusal) goes to ex with arg.  Returns
 * the call's id, 0 when the request could not go.
 */
uint32_t
joiner_tls_install(struct joiner *j, const char *node_id, const char *kek,
    const char *nodekey, const char *cert, const char *ca,
    const struct kchan_exchange *ex, void *arg)
{
	struct hsm_tls_install	 ti;
	uint32_t		 id;

	memset(&ti, 0, sizeof(ti));
	kmd_strlcpy(ti.node_id, node_id, sizeof(ti.node_id));
	kmd_strlcpy(ti.kek_wrapped, kek, sizeof(ti.kek_wrapped));
	kmd_strlcpy(ti.node_key_sealed, nodekey, sizeof(ti.node_key_sealed));
	kmd_strlcpy(ti.node_cert, cert, sizeof(ti.node_cert));
	kmd_strlcpy(ti.ca_cert, ca, sizeof(ti.ca_cert));
	id = kchan_call(j->w->parent, IMSG_HSM_TLS_INSTALL, -1, &ti,
	    sizeof(ti), ex, arg);
	explicit_bzero(&ti, sizeof(ti));
	return id;
}

/* Step 3's end: COMMIT, or ROLLBACK after an error. */
static void
new_committed(struct pq *db, PGresult *res, void *arg)
{
	struct joiner	*j = arg;
	struct jop	*op = j->op;

	(void)db;
	if (op == NULL)
		return;
	if (op->failed) {
		op_end(j);
		return;
	}
	if (!pq_ok(res) || strcmp(PQcmdStatus(res), "COMMIT") != 0) {
		op_fail(j, "%s; nothing was changed", pq_msg(j, res));
		return;
	}
	log_info("cluster %s created with node %s", op->cluster_id,
	    op->node_id);
	if ((op->call = joiner_tls_install(j, op->node_id,
	    op->made.kek_wrapped, op->made.node_key_sealed, op->made.node_cert,
	    op->made.ca_cert, &new_tls_ex, j)) == 0)
		op_fail(j, "the cluster was created but the hsm worker could"
		    " not be asked for PostgreSQL's TLS files; restart kmd,"
		    " which installs them again");
}

/* Any statement of the transaction: the first error is the answer. */
static void
new_stmt(struct pq *db, PGresult *res, void *arg)
{
	struct joiner	*j = arg;

	(void)db;
	if (j->op == NULL || j->op->failed || pq_ok(res))
		return;
	/* The queued statements fail in turn; COMMIT rolls back. */
	op_error(j, 0, "%s; nothing was changed", pq_msg(j, res));
}

static void
new_record(struct joiner *j)
{
	struct jop	*op = j->op;
	char		 name[64], dsn[KMD_PATH_MAX + 64], port[8];
	const char	*p_node[2] = { name, dsn };
	const char	*p_cluster[4] = { op->cluster_id, op->made.ca_cert,
			    op->made.ca_key_sealed, KMD_VERSION };
	const char	*p_nodes[8] = { op->node_id, op->cn.host, port,
			    op->cn.pubaddr, op->cn.url, KMD_VERSION,
			    op->made.node_cert, j->w->conf.hsm ? "hsm" :
			    "software" };
	const char	*p_local[5] = { op->node_id, op->cluster_id,
			    op->made.kek_wrapped, op->made.node_key_sealed,
			    op->made.node_cert };

	snprintf(name, sizeof(name), "kmd_%.8s%.4s%.4s%.4s%.12s", op->node_id,
	    op->node_id + 9, op->node_id + 14, op->node_id + 19,
	    op->node_id + 24);
	local_dsn(j, dsn, sizeof(dsn));
	snprintf(port, sizeof(port), "%d", 5432);
	pq_query(j->db, "BEGIN", 0, NULL, new_stmt, j);
	pq_query(j->db, "SELECT pglogical.create_node(node_name := $1,"
	    " dsn := $2)", 2, p_node, new_stmt, j);
	pq_query(j->db, SQL_SETS, 0, NULL, new_stmt, j);
	pq_query(j->db, "INSERT INTO kmd_cluster (cluster_id, ca_cert,"
	    " ca_key_sealed, schema_version, kmd_version) VALUES ($1, $2,"
	    " decode($3, 'hex'), (SELECT version FROM kmd_schema), $4)", 4,
	    p_cluster, new_stmt, j);
	pq_query(j->db, "INSERT INTO kmd_nodes (node_id, host, port,"
	    " public_address, url, state, version, cert, rot) VALUES ($1, $2,"
	    " $3::int, $4, $5, 'r', $6, $7, $8)", 8, p_nodes, new_stmt, j);
	pq_query(j->db, "INSERT INTO kmd_local (node_id, cluster_id,"
	    " kek_wrapped, node_key_sealed, node_cert) VALUES ($1, $2,"
	    " decode($3, 'hex'), decode($4, 'hex'), $5)", 5, p_local,
	    new_stmt, j);
	pq_query(j->db, "DELETE FROM kmd_restored_kek", 0, NULL, new_stmt, j);
	pq_query(j->db, "COMMIT", 0, NULL, new_committed, j);
}

/* Step 2's answer: record the cluster. */
static void
new_created(struct joiner *j, const struct kmsg *m)
{
	memcpy(&j->op->made, m->data, sizeof(j->op->made));
	new_record(j);
}

/* Step 4's answer: the reply, or why TLS is not served yet. */
static void
new_tls_installed(struct kchan *ch, struct kmsg *m, void *arg)
{
	struct joiner		*j = arg;
	struct tls_result	 tr;

	(void)ch;
	j->op->call = 0;
	memcpy(&tr, m->data, sizeof(tr));
	if (!tr.ok) {
		op_fail(j, "the cluster was created but PostgreSQL's TLS files"
		    " could not be written (%s); fix that and restart kmd,"
		    " which installs them again", tr.err);
		return;
	}
	op_info_done(j, j->op->node_id, NS_C_READY, 1);
}

/* At start, no caller: the outcome is only logged. */
static void
reinstall_done(struct kchan *ch, struct kmsg *m, void *arg)
{
	const struct tls_result	*tr = (const void *)m->data;

	(void)ch;
	(void)arg;
	if (!tr->ok)
		log_warnx("TLS install failed: %s", tr->err);
}

static void
reinstall_failed(struct kchan *ch, enum kchan_end end, const char *why,
    void *arg)
{
	(void)ch;
	(void)arg;
	if (end != KCHAN_CLOSED)
		log_warnx("hsm: %s", why);
}

static const struct kchan_exchange reinstall_ex = {
	IMSG_TLS_INSTALLED, 0, reinstall_done, reinstall_failed
};

static void
reinstall_read(struct pq *db, PGresult *res, void *arg)
{
	struct joiner	*j = arg;

	if (!pq_ok(res)) {
		log_warnx("cannot read this node's TLS material: %s",
		    res ? PQresultErrorMessage(res) : pq_error(db));
		return;
	}
	if (PQntuples(res) != 1)
		return;		/* not clustered */
	joiner_tls_install(j, PQgetvalue(res, 0, 0), PQgetvalue(res, 0, 1),
	    PQgetvalue(res, 0, 2), PQgetvalue(res, 0, 3),
	    PQgetvalue(res, 0, 4), &reinstall_ex, NULL);
}

/* At start: a clustered node serves TLS with its own certificate. */
void
joiner_tls_reinstall(struct joiner *j)
{
	pq_query(j->db, "SELECT l.node_id, encode(l.kek_wrapped, 'hex'),"
	    " encode(l.node_key_sealed, 'hex'), l.node_cert, c.ca_cert"
	    " FROM kmd_local l JOIN kmd_cluster c USING (cluster_id)", 0, NULL,
	    reinstall_read, j);
}
