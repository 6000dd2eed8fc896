/*
 * kmctl cluster upgrade status: the cluster's committed schema, the kmd
 * each node runs (each writes its own into its kmd_nodes row at start,
 * migrate.c), and whether an upgrade window is open: the nodes run two
 * releases, or this node's kmd knows a step the cluster has not taken.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "joiner.h"
#include "log.h"
#include "nodestatus.h"
#include "schema.h"
#include "util.h"

#define SQL_UPGRADE \
	"SELECT n.node_id, coalesce(st.code, n.state) AS code, n.host," \
	" n.public_address, n.port, n.node_id = l.node_id AS this," \
	" n.version, n.state AS state, " SQL_NODE_SCHEMA " AS schema," \
	" c.schema_version AS committed FROM kmd_local l JOIN kmd_cluster c" \
	" USING (cluster_id) JOIN kmd_nodes n ON n.state NOT IN ('" \
	NS_C_REMOVED "', '" NS_C_PENDING "', '" NS_C_KILLED "') LEFT JOIN" \
	" kmd_node_status st ON st.node_id = n.node_id" \
	" ORDER BY n.joined_at, n.node_id LIMIT 64"

struct ureq {
	struct joiner	*j;
	uint32_t	 reqid;
	char		 done[KMD_ERR_MAX];	/* finish's account, or "" */
};

/* What an operator does next, from the releases the ready nodes run. */
static void
upgrade_next(PGresult *res, struct upgrade_info *u)
{
	const char	*other = NULL;
	char		 hosts[256] = "";
	int		 i, n = PQntuples(res);

	for (i = 0; i < n; i++) {
		if (strcmp(pq_get(res, i, "state"), NS_C_READY) != 0 ||
		    strcmp(pq_get(res, i, "version"), KMD_VERSION) == 0)
			continue;
		other = pq_get(res, i, "version");
		if (strlen(hosts) + strlen(pq_get(res, i, "host")) + 3 <
		    sizeof(hosts))
			snprintf(hosts + strlen(hosts), sizeof(hosts) -
			    strlen(hosts), "%s%s", hosts[0] ? ", " : "",
			    pq_get(res, i, "host"));
	}
	u->window = other != NULL || u->knows > u->committed;
	if (u->knows > u->committed && other == NULL)
		snprintf(u->next, sizeof(u->next), "every node runs kmd %s,"
		    " which knows schema %d: finish the upgrade (kmctl cluster"
		    " upgrade finish)", KMD_VERSION, u->knows);
	else if (u->knows > u->committed)
		snprintf(u->next, sizeof(u->next), "upgrade window to schema"
		    " %d: %s still run kmd %s; restart each on kmd %s, one at"
		    " a time, then kmctl cluster upgrade finish", u->knows,
		    hosts, other, KMD_VERSION);
	else if (other != NULL)
		snprintf(u->next, sizeof(u->next), "upgrade window: %s run"
		    " kmd %s, this node kmd %s (schema %d): restart every node"
		    " on the newer one, then kmctl cluster upgrade finish; or"
		    " those on the older one to close it", hosts, other,
		    KMD_VERSION, u->committed);
	else
		snprintf(u->next, sizeof(u->next), "no upgrade under way:"
		    " every node runs kmd %s at schema %d", KMD_VERSION,
		    u->committed);
}

static void
upgrade_read(struct pq *db, PGresult *res, void *arg)
{
	struct ureq		*ur = arg;
	struct kchan		*ch = ur->j->w->parent;
	struct upgrade_info	 u;
	struct node_info	 ni;
	int			 i;

	(void)db;
	if (!pq_ok(res)) {
		kchan_senderr(ch, ur->reqid, "cluster upgrade status: %s",
		    res ? PQresultErrorMessage(res) : pq_error(db));
		free(ur);
		return;
	}
	memset(&u, 0, sizeof(u));
	kmd_strlcpy(u.kmd_version, KMD_VERSION, sizeof(u.kmd_version));
	u.knows = schema_latest();
	u.committed = PQntuples(res) > 0 ? atoi(pq_get(res, 0, "committed")) :
	    -1;
	if (u.committed == -1)
		snprintf(u.next, sizeof(u.next), "this node is not clustered:"
		    " it takes every schema step its kmd knows at start");
	else
		upgrade_next(res, &u);
	if (ur->done[0] != '\0')
		kmd_strlcpy(u.next, ur->done, sizeof(u.next));
	kchan_send(ch, IMSG_UPGRADE_INFO, ur->reqid, -1, &u, sizeof(u));
	for (i = 0; i < PQntuples(res); i++) {
		memset(&ni, 0, sizeof(ni));
		kmd_strlcpy(ni.nodeid, pq_get(res, i, "node_id"),
		    sizeof(ni.nodeid));
		kmd_strlcpy(ni.code, pq_get(res, i, "code"), sizeof(ni.code));
		kmd_strlcpy(ni.desc, ns_node_desc(ns_parse(ni.code), 0),
		    sizeof(ni.desc));
		kmd_strlcpy(ni.host, pq_get(res, i, "host"), sizeof(ni.host));
		kmd_strlcpy(ni.pubaddr, pq_get(res, i, "public_address"),
		    sizeof(ni.pubaddr));
		ni.port = atoi(pq_get(res, i, "port"));
		ni.this_node = strcmp(pq_get(res, i, "this"), "t") == 0;
		kmd_strlcpy(ni.kmd_version, pq_get(res, i, "version"),
		    sizeof(ni.kmd_version));
		ni.schema = atoi(pq_get(res, i, "schema"));
		kchan_send(ch, IMSG_NODE_INFO, ur->reqid, -1, &ni, sizeof(ni));
	}
	kchan_send(ch, IMSG_CTL_END, ur->reqid, -1, NULL, 0);
	free(ur);
}

/* The status, as the answer to request reqid; done: what finish did. */
void
upgrade_status(struct joiner *j, uint32_t reqid, const char *done)
{
	struct ureq	*ur;

	if ((ur = calloc(1, sizeof(*ur))) == NULL)
		fatal("%s", __func__);
	ur->j = j;
	ur->reqid = reqid;
	if (done != NULL)
		kmd_strlcpy(ur->done, done, sizeof(ur->done));
	pq_query(j->db, SQL_UPGRADE, 0, NULL, upgrade_read, ur);
}

int
joiner_upgrade_status(struct kchan *ch, struct kmsg *m, void *arg)
{
	struct joiner	*j = arg;

	if (!j->ready)
		return kchan_senderr(ch, m->hdr.reqid, "cluster upgrade"
		    " status: the node database is not ready yet; try again in"
		    " a few seconds");
	upgrade_status(j, m->hdr.reqid, NULL);
	return 0;
}
