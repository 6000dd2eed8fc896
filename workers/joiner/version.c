/*
 * kmctl version: this node's kmd and the schema its database is at, read
 * from the database itself (kmd_schema), so that a binary newer than its
 * database shows both.  While the database is not reachable the schema
 * is -1 (shown as null).
 */
#include <stdlib.h>
#include <string.h>

#include "joiner.h"
#include "log.h"
#include "util.h"

struct vreq {
	struct joiner	*j;
	uint32_t	 reqid;
};

static void
version_send(struct joiner *j, uint32_t reqid, int schema)
{
	struct version_info	 vi;

	memset(&vi, 0, sizeof(vi));
	kmd_strlcpy(vi.kmd_version, KMD_VERSION, sizeof(vi.kmd_version));
	vi.schema_version = schema;
	kchan_send(j->w->parent, IMSG_VERSION_INFO, reqid, -1, &vi,
	    sizeof(vi));
	kchan_send(j->w->parent, IMSG_CTL_END, reqid, -1, NULL, 0);
}

static void
version_read(struct pq *db, PGresult *res, void *arg)
{
	struct vreq	*vr = arg;
	int		 schema = -1;

	(void)db;
	if (res != NULL && PQresultStatus(res) == PGRES_TUPLES_OK &&
	    PQntuples(res) == 1 && !PQgetisnull(res, 0, 0))
		schema = atoi(PQgetvalue(res, 0, 0));
	version_send(vr->j, vr->reqid, schema);
	free(vr);
}

int
joiner_version_info(struct kchan *ch, struct kmsg *m, void *arg)
{
	struct joiner	*j = arg;
	struct vreq	*vr;

	(void)ch;
	if (!j->ready) {
		version_send(j, m->hdr.reqid, -1);
		return 0;
	}
	if ((vr = calloc(1, sizeof(*vr))) == NULL)
		fatal("%s", __func__);
	vr->j = j;
	vr->reqid = m->hdr.reqid;
	pq_query(j->db, "SELECT max(version) AS version FROM kmd_schema", 0,
	    NULL, version_read, vr);
	return 0;
}
