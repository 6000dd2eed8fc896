/*
 * rot-keys: which root-of-trust keys this node could keep the cluster's
 * KEK under, which one it does (kmd_local.rot_key), rotation to another,
 * and deleting one the KEK is no longer under.  The hsm worker does the
 * wrapping; this node's row changes, no other node's.
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

static void	rot_listed(struct joiner *, const struct kmsg *);
static void	rot_rewrapped(struct joiner *, const struct kmsg *);
static void	rot_deleted(struct joiner *, const struct kmsg *);

/* Ask the hsm for its keys: the answer to every rot-keys operation. */
static void
rot_list(struct joiner *j)
{
	op_call(j, IMSG_HSM_ROT_LIST, NULL, 0, rot_listed);
}

/* The hsm's list: this node's answer, each key marked in use or not. */
static void
rot_listed(struct joiner *j, const struct kmsg *m)
{
	const struct hsm_rot_keys	*rk = (const void *)m->data;
	struct rotkey_info		 ri;
	int				 i;

	for (i = 0; i < rk->n; i++) {
		ri = rk->keys[i];
		ri.in_use = j->op->count && strcmp(ri.id, in_use(j)) == 0;
		kchan_send(j->w->parent, IMSG_ROTKEY_INFO, j->op->reqid, -1,
		    &ri, sizeof(ri));
	}
	kchan_send(j->w->parent, IMSG_CTL_END, j->op->reqid, -1, NULL, 0);
	op_end(j);
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
	rot_list(j);
}

/* The KEK under the new key: record it. */
static void
rot_rewrapped(struct joiner *j, const struct kmsg *m)
{
	const struct hsm_rewrap	*rw = (const void *)m->data;
	const char		*p[3];

	free(j->op->reply);
	if ((j->op->reply = strdup(rw->to)) == NULL)
		fatal("%s", __func__);
	p[0] = rw->kek_wrapped;
	p[1] = rw->to;
	p[2] = rw->node_id;
	pq_query(j->db, "UPDATE kmd_local SET kek_wrapped ="
	    " decode($1, 'hex'), rot_key = $2 WHERE node_id = $3::uuid", 3, p,
	    rotated, j);
}

/*
 * rot-keys delete: never the key the KEK is under, the node's first
 * software key (its fallback) or its configured token key (hsm key in
 * kmd.conf, made again at start).
 */
static void
rot_delete(struct joiner *j)
{
	struct rotkeys_req	 rq;
	const char		*id = j->op->me;

	if (id[0] == '\0')
		op_fail(j, "which key: give --id (rot-keys list)");
	else if (j->op->count && strcmp(id, in_use(j)) == 0)
		op_fail(j, "'%s' holds this node's KEK: rotate to another key"
		    " first (rot-keys rotate), then delete it", id);
	else if (strcmp(id, "software") == 0)
		op_fail(j, "'software' is this node's first software key, its"
		    " fallback; it goes only with services reset");
	else if (j->w->conf.hsm && strcmp(id, j->w->conf.hsm_key) == 0)
		op_fail(j, "'%s' is this node's configured key (hsm key in"
		    " kmd.conf), made again at each start", id);
	else {
		memset(&rq, 0, sizeof(rq));
		rq.rotate = ROTKEYS_DELETE;
		kmd_strlcpy(rq.id, id, sizeof(rq.id));
		op_call(j, IMSG_HSM_ROT_DELETE, &rq, sizeof(rq), rot_deleted);
	}
}

/* The key is gone: the answer is the list without it. */
static void
rot_deleted(struct joiner *j, const struct kmsg *m)
{
	const struct rotkeys_req	*rq = (const void *)m->data;

	log_info("rot-keys delete: root-of-trust key '%s' deleted", rq->id);
	rot_list(j);
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
	if (j->op->force == ROTKEYS_LIST) {
		rot_list(j);
		return;
	}
	if (j->op->force == ROTKEYS_DELETE) {
		rot_delete(j);
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
	op_call(j, IMSG_HSM_REWRAP, &rw, sizeof(rw), rot_rewrapped);
}

/* rot-keys list, rotate and delete (force: which, me: the key). */
int
joiner_rotkeys(struct kchan *ch, struct kmsg *m, void *arg)
{
	struct joiner			*j = arg;
	const struct rotkeys_req	*rq = (const void *)m->data;

	if (op_start(j, ch, m->hdr.reqid, rq->rotate == ROTKEYS_ROTATE ?
	    "rot-keys rotate" : rq->rotate == ROTKEYS_DELETE ?
	    "rot-keys delete" : "rot-keys list") == NULL)
		return 0;
	if (rq->rotate < ROTKEYS_LIST || rq->rotate > ROTKEYS_DELETE)
		return -1;
	j->op->force = rq->rotate;
	kmd_strlcpy(j->op->me, rq->id, sizeof(j->op->me));
	return pq_query(j->db, "SELECT node_id, encode(kek_wrapped, 'hex'),"
	    " coalesce(rot_key, '') FROM kmd_local", 0, NULL, rot_read, j);
}
