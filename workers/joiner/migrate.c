/*
 * The node database's schema at start (common/schema.h has the steps).
 *
 * A node that is not clustered, or is its cluster's only node, takes
 * every step this kmd knows, both parts; as the only node it also moves
 * the cluster's committed schema (kmd_cluster.schema_version) on.
 *
 * A node of a larger cluster keeps to the cluster's committed schema C,
 * which only cluster upgrade finish moves: the replicated tables must
 * change on every node at once, or a row written by a node that has a
 * new column fails to apply on one that has not.  So:
 *   - a kmd that knows C runs as it is;
 *   - a kmd that knows C + 1 runs too, in the upgrade window: it takes
 *     the local part of step C + 1 (again at each start, as every part is
 *     idempotent) and keeps replicating with the nodes that still run C;
 *   - a database behind C (the node was down while finish ran) takes the
 *     steps up to C whole, at once;
 *   - a kmd that knows more than C + 1, or less than the database holds,
 *     is refused: kmd stops (KMD_EXIT_REFUSED) and says what to run.
 * Then each node writes its own kmd version into its kmd_nodes row: the
 * members' versions are what a join is checked against.
 */
#include <event2/event.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "join.h"
#include "backup.h"
#include "joiner.h"
#include "log.h"
#include "schema.h"
#include "util.h"

#define MIGRATE_RETRY_S	5

#define SQL_VERSION \
	"CREATE TABLE IF NOT EXISTS kmd_schema (version int NOT NULL);" \
	"INSERT INTO kmd_schema SELECT 0" \
	" WHERE NOT EXISTS (SELECT FROM kmd_schema);" \
	"SELECT version FROM kmd_schema"

/* The committed schema (NULL: not clustered), and the other nodes. */
#define SQL_CLUSTER \
	"SELECT (SELECT c.schema_version FROM kmd_cluster c JOIN kmd_local" \
	" l USING (cluster_id)) AS committed, (SELECT count(*) FROM" \
	" kmd_nodes n, kmd_local l WHERE n.node_id <> l.node_id AND" \
	" n.state NOT IN ('" NS_C_REMOVING "', '" NS_C_REMOVED "', '" \
	NS_C_KILLED "', '" NS_C_PENDING "')) AS others"

/* This node's own row: the kmd it runs now. */
#define SQL_MY_VERSION \
	"UPDATE kmd_nodes SET version = $1 WHERE node_id = (SELECT node_id" \
	" FROM kmd_local) AND version IS DISTINCT FROM $1"

#define SQL_COMMIT_ALONE \
	"UPDATE kmd_cluster SET schema_version = $1, kmd_version = $2" \
	" WHERE cluster_id = (SELECT cluster_id FROM kmd_local) AND" \
	" schema_version < $1"

static void	migrate_read(struct pq *, PGresult *, void *);
static void	migrate_cluster(struct pq *, PGresult *, void *);
static void	migrate_next(struct joiner *);
static void	migrate_later(struct joiner *);
static void	migrate_noted(struct pq *, PGresult *, void *);

/* kmd cannot run on this database: say why and what to do, and stop. */
static void
migrate_refuse(const char *why)
{
	log_warnx("%s", why);
	log_warnx("kmd %s (schema %d) refuses to run on this node's"
	    " database", KMD_VERSION, schema_latest());
	_exit(KMD_EXIT_REFUSED);	/* not exit(): no leak report of a stop */
}

void
migrate_start(struct joiner *j)
{
	if (j->retry != NULL)
		evtimer_del(j->retry);
	pq_query(j->db, SQL_VERSION, 0, NULL, migrate_read, j);
}

static void
migrate_again(int fd, short ev, void *arg)
{
	(void)fd;
	(void)ev;
	migrate_start(arg);
}

/*
 * A step that failed (a lock not had in time, a connection lost) is
 * tried again from the start, reading the version afresh: each step is
 * one transaction, so nothing of it is left half-done.  A node not
 * ready refuses operations meanwhile, saying so.
 */
static void
migrate_later(struct joiner *j)
{
	struct timeval	tv = { MIGRATE_RETRY_S, 0 };

	/* A step is BEGIN ... COMMIT: one that failed left its block open. */
	pq_query(j->db, "ROLLBACK", 0, NULL, migrate_noted,
	    "ending the failed step");
	if (j->retry == NULL &&
	    (j->retry = evtimer_new(j->w->base, migrate_again, j)) == NULL)
		fatalx("%s: evtimer_new", __func__);
	evtimer_add(j->retry, &tv);
}

static void
migrate_read(struct pq *db, PGresult *res, void *arg)
{
	struct joiner	*j = arg;

	if (!pq_ok(res) || PQntuples(res) != 1) {
		log_warnx("cannot read the schema version: %s; trying again"
		    " in %d s", pq_why(db, res),
		    MIGRATE_RETRY_S);
		migrate_later(j);
		return;
	}
	j->schema = atoi(PQgetvalue(res, 0, 0));
	j->committed = -1;
	j->others = 0;
	if (j->schema == 0) {
		migrate_next(j);
		return;
	}
	pq_query(db, SQL_CLUSTER, 0, NULL, migrate_cluster, j);
}

static void
migrate_cluster(struct pq *db, PGresult *res, void *arg)
{
	struct joiner	*j = arg;
	char		 why[KMD_ERR_MAX];

	if (!pq_ok(res) || PQntuples(res) != 1) {
		log_warnx("cannot read the cluster's schema: %s; trying"
		    " again in %d s", pq_why(db, res), MIGRATE_RETRY_S);
		migrate_later(j);
		return;
	}
	j->committed = PQgetisnull(res, 0, 0) ? -1 :
	    atoi(PQgetvalue(res, 0, 0));
	j->others = atoi(PQgetvalue(res, 0, 1));
	if (schema_plan(j->schema, j->committed, j->others, why,
	    sizeof(why)) == SCHEMA_REFUSE)
		migrate_refuse(why);
	migrate_next(j);
}

static void	migrate_step_done(struct pq *, PGresult *, void *);
static void	migrate_ready(struct joiner *);

/* The next step to take, whole or its local part, or none. */
static void
migrate_next(struct joiner *j)
{
	const struct migration	*m;
	char			 sql[16384];
	int			 local_only, clustered;

	clustered = j->committed != -1 && j->others > 0;
	if (schema_pending(j->schema, &m) <= 0) {
		migrate_ready(j);
		return;
	}
	/* A node of a cluster at C: whole up to C, then C + 1's local part. */
	local_only = clustered && m->version > j->committed;
	if (local_only && j->window_local) {
		migrate_ready(j);
		return;
	}
	j->migrating = m->version;
	if (schema_step_sql(m, local_only, sql, sizeof(sql)) == -1)
		fatalx("%s: migration %d too long", __func__, m->version);
	j->window_local = local_only;
	pq_query(j->db, sql, 0, NULL, migrate_step_done, j);
}

static void
migrate_step_done(struct pq *db, PGresult *res, void *arg)
{
	struct joiner	*j = arg;

	(void)db;
	if (!pq_ok(res)) {
		log_warnx("schema migration to version %d failed: %s;"
		    " trying again in %d s", j->migrating, pq_why(j->db, res),
		    MIGRATE_RETRY_S);
		j->window_local = 0;
		migrate_later(j);
		return;
	}
	if (j->window_local) {
		log_info("upgrade window: this kmd knows schema %d, the"
		    " cluster is at %d; its node-local part is in place; once"
		    " every node runs a kmd of schema %d: kmctl cluster upgrade"
		    " finish", j->migrating, j->committed, j->migrating);
	} else {
		log_info("database schema migrated to version %d",
		    j->migrating);
		j->schema = j->migrating;
	}
	migrate_next(j);
}

static void
migrate_started(struct pq *db, PGresult *res, void *arg)
{
	(void)db;
	(void)arg;
	if (!pq_ok(res))
		log_warnx("revoking pglogical's functions from PUBLIC: %s",
		    res ? PQresultErrorMessage(res) : "no answer");
}

static void
migrate_noted(struct pq *db, PGresult *res, void *arg)
{
	(void)db;
	if (!pq_ok(res))
		log_warnx("%s: %s", (const char *)arg, res ?
		    PQresultErrorMessage(res) : "no answer");
}

static void
migrate_ready(struct joiner *j)
{
	char		 v[16];
	const char	*p[2] = { v, KMD_VERSION };

	if (j->ready)
		return;
	log_info("database schema is at version %d", j->schema);
	pq_query(j->db, schema_start_sql, 0, NULL, migrate_started, j);
	/* the only node: the cluster's schema is this node's */
	if (j->committed != -1 && j->others == 0 && j->schema > j->committed) {
		snprintf(v, sizeof(v), "%d", j->schema);
		pq_query(j->db, SQL_COMMIT_ALONE, 2, p, migrate_noted,
		    "recording the cluster's schema");
		j->committed = j->schema;
	}
	p[0] = KMD_VERSION;
	pq_query(j->db, SQL_MY_VERSION, 1, p, migrate_noted,
	    "recording this node's kmd version");
	joiner_tls_reinstall(j);
	join_interrupted(j);
	backup_rescan(j);
	j->ready = 1;
}
