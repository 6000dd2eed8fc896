/*
 * rot-keys in the hsm worker: list the root-of-trust keys this node has,
 * rewrap the KEK under another one, delete one.
 */
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "hsm.h"
#include "log.h"
#include "p11.h"
#include "util.h"

/* rot-keys list: the keys this node could keep its KEK under. */
int
hsm_rot_list(struct kchan *ch, struct kmsg *m, void *arg)
{
	struct hsm		*h = arg;
	struct hsm_rot_keys	*rk;
	char			 labels[KMD_ROTKEYS_MAX][64];
	int			 i, n = 0;

	if ((rk = calloc(1, sizeof(*rk))) == NULL)
		fatal("%s", __func__);
	for (i = 0; i < h->nrot; i++) {
		soft_name(i, rk->keys[rk->n].id, sizeof(rk->keys[0].id));
		if (soft_key(h, rk->keys[rk->n].id, NULL) == NULL)
			continue;
		kmd_strlcpy(rk->keys[rk->n].kind, "software",
		    sizeof(rk->keys[0].kind));
		rk->n++;
	}
	if (h->p11 != NULL)
		n = p11_labels(h->p11, labels, KMD_ROTKEYS_MAX - rk->n);
	for (i = 0; i < n; i++) {
		kmd_strlcpy(rk->keys[rk->n].id, labels[i],
		    sizeof(rk->keys[0].id));
		kmd_strlcpy(rk->keys[rk->n].kind, "hsm",
		    sizeof(rk->keys[0].kind));
		rk->n++;
	}
	kchan_send(ch, IMSG_HSM_ROT_KEYS, m->hdr.reqid, -1, rk, sizeof(*rk));
	free(rk);
	return 0;
}

/*
 * rot-keys rotate: open the KEK under whichever key holds it, wrap it
 * under `to`: "software" or "software-N", a token key's label (made if
 * missing), or "" for a new key: in the token with an HSM, otherwise a
 * new software key, which the parent appends to the key file first
 * (ROT_GROW, then ROT_GROWN back here).  The KEK itself does not change.
 */
static int
rewrap(struct hsm *h, struct kchan *ch, uint32_t reqid,
    const struct hsm_rewrap *req)
{
	struct hsm_rewrap	 out;
	const uint8_t		*soft;
	uint8_t			*kek;
	char			 a[128];
	int			 r;

	memset(&out, 0, sizeof(out));
	kmd_strlcpy(out.node_id, req->node_id, sizeof(out.node_id));
	if (req->to[0] == '\0' && !h->hsm)
		return kchan_send(ch, IMSG_ROT_GROW, reqid, -1, req,
		    sizeof(*req));
	if (req->to[0] == '\0')
		snprintf(out.to, sizeof(out.to), "kmd-rot-%lld",
		    (long long)time(NULL));
	else
		kmd_strlcpy(out.to, req->to, sizeof(out.to));
	soft = soft_key(h, out.to, NULL);
	if (strncmp(out.to, "software", 8) == 0 ? soft == NULL :
	    h->p11 == NULL)
		return hsm_fail(ch, reqid, "%s",
		    strncmp(out.to, "software", 8) == 0 ? "this node has no"
		    " such software root-of-trust key (rot-keys list)" :
		    h->hsm ? h->err : "this node has no HSM (hsm in kmd.conf);"
		    " its keys are software ones (rot-keys list)");
	kcache_wipe(h, "the KEK is wrapped under another root-of-trust key");
	if ((kek = sodium_malloc(SEAL_KEYLEN)) == NULL)
		fatal("%s", __func__);
	hsm_ad(a, sizeof(a), "kek", req->node_id);
	if (kek_open(h, req->node_id, req->kek_wrapped, kek) == -1) {
		sodium_free(kek);
		return hsm_fail(ch, reqid, "the KEK opens"
		    " under none of this node's root-of-trust keys");
	}
	if (soft != NULL)
		r = seal_hex(soft, a, kek, SEAL_KEYLEN, out.kek_wrapped,
		    sizeof(out.kek_wrapped));
	else
		r = p11_seal(h->p11, out.to, a, kek, SEAL_KEYLEN,
		    out.kek_wrapped, sizeof(out.kek_wrapped), h->err,
		    sizeof(h->err));
	sodium_free(kek);
	if (r == -1)
		return hsm_fail(ch, reqid, "%s", h->err);
	log_info("the KEK of node %s is now wrapped under root-of-trust key"
	    " '%s'", out.node_id, out.to);
	return kchan_send(ch, IMSG_HSM_REWRAPPED, reqid, -1, &out,
	    sizeof(out));
}

int
hsm_rewrap(struct kchan *ch, struct kmsg *m, void *arg)
{
	const struct hsm_rewrap	*req = (const void *)m->data;

	return rewrap(arg, ch, m->hdr.reqid, req);
}

/* The parent appended a software key: wrap the KEK under it. */
int
hsm_rot_grown(struct kchan *ch, struct kmsg *m, void *arg)
{
	struct hsm		*h = arg;
	struct hsm_rewrap	 req;

	memcpy(&req, m->data, sizeof(req));
	kcache_wipe(h, "the root-of-trust keys changed");
	if (rot_load(h, m) == -1)
		return -1;
	if (h->nrot < 2)
		return hsm_fail(ch, m->hdr.reqid, "no new"
		    " software key");
	soft_name(h->nrot - 1, req.to, sizeof(req.to));
	return rewrap(h, ch, m->hdr.reqid, &req);
}

/*
 * rot-keys delete: a token key is destroyed here; a software key's slot
 * is zeroed by the parent, which then passes the file again and tells
 * the joiner.  The joiner has checked that the KEK is not under it.
 */
int
hsm_rot_delete(struct kchan *ch, struct kmsg *m, void *arg)
{
	struct hsm		*h = arg;
	const struct rotkeys_req *rq = (const void *)m->data;
	struct rot_slot		 rs;
	char			 err[256];
	int			 n;

	memset(&rs, 0, sizeof(rs));
	kmd_strlcpy(rs.id, rq->id, sizeof(rs.id));
	kcache_wipe(h, "a root-of-trust key is deleted");
	if (soft_key(h, rq->id, &rs.index) != NULL)
		return kchan_send(ch, IMSG_ROT_ZERO, m->hdr.reqid, -1, &rs,
		    sizeof(rs));
	if (strncmp(rq->id, "software", 8) == 0 || h->p11 == NULL)
		return hsm_fail(ch, m->hdr.reqid, "this node"
		    " has no key '%s' (rot-keys list)", rq->id);
	if ((n = p11_destroy(h->p11, rq->id, err, sizeof(err))) == -1)
		return hsm_fail(ch, m->hdr.reqid, "%s", err);
	if (n == 0)
		return hsm_fail(ch, m->hdr.reqid, "the token"
		    " holds no key '%s' (rot-keys list)", rq->id);
	log_info("destroyed the root-of-trust key '%s' in the token", rq->id);
	return kchan_send(ch, IMSG_HSM_ROT_DELETED, m->hdr.reqid, -1, rq,
	    sizeof(*rq));
}
