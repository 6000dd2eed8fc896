/*
 * rot-keys: which root-of-trust keys this node could keep the cluster's
 * KEK under, which one it does (kmd_local.rot_key), and rotation to
 * another.  The hsm worker does the wrapping; this node's row changes,
 * no other node's.
 */
#include <stdlib.h>
#include <string.h>

#include "joiner.h"
#include "log.h"
#include "util.h"

/* The key the KEK is under: recorded, or what the node was made with. */
static const char *
in_use(struct joiner *j)
{
	if (j->op->reply != NULL && ((char *)j->op->reply)[0] != '\0')
		return j->op->reply;
	return j->w->conf.hsm ? j->w->conf.hsm_key : "software";
}

/* The hsm's list: this node's answer, each key marked in use or not. */
int
joiner_rot_keys(struct kchan *ch, struct kmsg *m, void *arg)
{
	struct worker			*w = arg;
	struct joiner			*j = w->ctx;
	const struct hsm_rot_keys	*rk = (const void *)m->data;
	struct rotkey_info		 ri;
	int				 i;

	(void)ch;
	if (rk->n < 0 || rk->n > KMD_ROTKEYS_MAX)
		return -1;
	if (j->op == NULL || j->op->reqid != m->hdr.reqid)
		return 0;
	for (i = 0; i < rk->n; i++) {
		ri = rk->keys[i];
		if (!TERMINATED(ri.id) || !TERMINATED(ri.kind))
			return -1;
		ri.in_use = j->op->count && strcmp(ri.id, in_use(j)) == 0;
		kchan_send(j->w->parent, IMSG_ROTKEY_INFO, j->op->reqid, -1,
		    &ri, sizeof(ri));
	}
	kchan_send(j->w->parent, IMSG_CTL_END, j->op->reqid, -1, NULL, 0);
	free(j->op->reply);
	free(j->op);
	j->op = NULL;
	return 0;
}

static void
rotated(struct pq *db, PGresult *res, void *arg)
{
	struct joiner	*j = arg;

	(void)db;
	if (op_result(j, res) == -1)
		return;
	log_info("rot-keys rotate: the KEK is now under '%s'",
	    (char *)j->op->reply);
	kchan_send(j->w->parent, IMSG_HSM_ROT_LIST, j->op->reqid, -1, NULL, 0);
}

int
joiner_rewrapped(struct kchan *ch, struct kmsg *m, void *arg)
{
	struct worker			*w = arg;
	struct joiner			*j = w->ctx;
	const struct hsm_rewrap		*rw = (const void *)m->data;
	const char			*p[3];

	(void)ch;
	if (!TERMINATED(rw->node_id) || !TERMINATED(rw->to) ||
	    !TERMINATED(rw->kek_wrapped))
		return -1;
	if (j->op == NULL || j->op->reqid != m->hdr.reqid)
		return 0;
	free(j->op->reply);
	if ((j->op->reply = strdup(rw->to)) == NULL)
		fatal("%s", __func__);
	p[0] = rw->kek_wrapped;
	p[1] = rw->to;
	p[2] = rw->node_id;
	return pq_query(j->db, "UPDATE kmd_local SET kek_wrapped ="
	    " decode($1, 'hex'), rot_key = $2 WHERE node_id = $3::uuid", 3, p,
	    rotated, j);
}

static void
rot_read(struct pq *db, PGresult *res, void *arg)
{
	struct joiner		*j = arg;
	struct hsm_rewrap	 rw;

	(void)db;
	if (op_result(j, res) == -1)
		return;
	j->op->count = PQntuples(res) == 1;	/* in a cluster: a KEK */
	if (j->op->count && (j->op->reply = strdup(PQgetvalue(res, 0,
	    2))) == NULL)
		fatal("%s", __func__);
	if (!j->op->force) {
		kchan_send(j->w->parent, IMSG_HSM_ROT_LIST, j->op->reqid, -1,
		    NULL, 0);
		return;
	}
	if (!j->op->count) {
		op_fail(j, "this node is in no cluster: there is no KEK to"
		    " wrap yet");
		return;
	}
	memset(&rw, 0, sizeof(rw));
	kmd_strlcpy(rw.node_id, PQgetvalue(res, 0, 0), sizeof(rw.node_id));
	kmd_strlcpy(rw.to, j->op->me, sizeof(rw.to));
	kmd_strlcpy(rw.kek_wrapped, PQgetvalue(res, 0, 1),
	    sizeof(rw.kek_wrapped));
	kchan_send(j->w->parent, IMSG_HSM_REWRAP, j->op->reqid, -1, &rw,
	    sizeof(rw));
}

/* rot-keys list and rotate (force: rotate, me: the key to rotate to). */
int
joiner_rotkeys(struct kchan *ch, struct kmsg *m, void *arg)
{
	struct worker			*w = arg;
	struct joiner			*j = w->ctx;
	const struct rotkeys_req	*rq = (const void *)m->data;

	if (!TERMINATED(rq->id))
		return -1;
	if (op_start(j, ch, m->hdr.reqid, rq->rotate ? "rot-keys rotate" :
	    "rot-keys list") == NULL)
		return 0;
	j->op->force = rq->rotate != 0;
	kmd_strlcpy(j->op->me, rq->id, sizeof(j->op->me));
	return pq_query(j->db, "SELECT node_id, encode(kek_wrapped, 'hex'),"
	    " coalesce(rot_key, '') FROM kmd_local", 0, NULL, rot_read, j);
}
