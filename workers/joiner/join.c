/*
 * The first two of the three join steps.
 *
 * cluster csr, on the joining node:
 *   1. refuse if the node is clustered; a fresh node id
 *   2. hsm: the node's key and an X25519 sealing key pair, both sealed
 *      under this node's root of trust, and a CSR (CN the node id, the
 *      sealing public key in a private extension)
 *   3. the sealed keys wait in the node-local kmd_join_pending (a newer
 *      csr replaces an older one); the reply is the CSR
 *
 * cluster nodes create, on a member:
 *   1. refuse unless this node is clustered and ready, the cluster has
 *      fewer than KMD_NODES_MAX nodes (pending ones that have not expired
 *      count) and none is joining
 *   2. hsm: check the CSR, sign it with the cluster CA (unsealed with the
 *      KEK, unwrapped with this node's root of trust), and seal the KEK
 *      to the CSR's sealing key: the mkek_blob
 *   3. the node is recorded, pending (state p), in the replicated
 *      kmd_nodes with its certificate, until `pending-node lifetime'
 *      from now: every node's PostgreSQL accepts its certificate from
 *      then on (peers.c), and the join registers it over that row.  A
 *      node id recorded already, in any state, is refused: every issued
 *      certificate is a recorded node, and one that was revoked stays so.
 *      If the row cannot be written, the credentials are not given out.
 *   4. the reply: {cert, cachain, mkek_blob}; above SIZE_ADVISED nodes,
 *      the reference's advice first (a check line kmctl prints)
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "joiner.h"
#include "lease.h"
#include "log.h"
#include "nodestatus.h"
#include "schema.h"
#include "util.h"

static void	csr_made(struct joiner *, const struct kmsg *);
static void	node_signed(struct joiner *, const struct kmsg *);
static void	create_check(struct joiner *);
static int	create_record(struct joiner *, const struct hsm_node_signed *,
		    pq_cb);
static void	create_recorded(struct pq *, PGresult *, void *);
static void	create_reply(struct joiner *);
static void	create_accepted(struct joiner *);

static void
csr_checked(struct pq *db, PGresult *res, void *arg)
{
	struct joiner		*j = arg;
	struct hsm_csr_make	 hm;

	(void)db;
	if (op_unclustered(j, res, "a certificate request is made on the"
	    " node that joins.  To join this node elsewhere, ") == -1)
		return;
	memset(&hm, 0, sizeof(hm));
	kmd_strlcpy(hm.node_id, PQgetvalue(res, 0, 1), sizeof(hm.node_id));
	kmd_strlcpy(j->op->node_id, hm.node_id, sizeof(j->op->node_id));
	kmd_strlcpy(hm.host, j->op->csr.host, sizeof(hm.host));
	op_call(j, IMSG_HSM_CSR_MAKE, &hm, sizeof(hm), csr_made);
}

int
joiner_cluster_csr(struct kchan *ch, struct kmsg *m, void *arg)
{
	struct joiner		*j = arg;
	struct cluster_csr	 cc;

	memcpy(&cc, m->data, sizeof(cc));
	if (own_host(j, ch, m->hdr.reqid, "cluster csr", cc.host, cc.pubaddr,
	    sizeof(cc.pubaddr)) == -1 ||
	    op_start(j, ch, m->hdr.reqid, "cluster csr") == NULL)
		return 0;
	j->op->csr = cc;
	return pq_query(j->db, "SELECT (SELECT node_id FROM kmd_local),"
	    " gen_random_uuid()", 0, NULL, csr_checked, j);
}

static void
csr_stored(struct pq *db, PGresult *res, void *arg)
{
	struct joiner	*j = arg;

	(void)db;
	if (j->op == NULL)
		return;
	if (!pq_ok(res)) {
		op_fail(j, "cannot keep the join keys: %s", pq_msg(j, res));
		return;
	}
	log_info("made a certificate request for joining as node %s",
	    j->op->node_id);
	kchan_send(j->w->parent, IMSG_CSR_REPLY, j->op->reqid, -1,
	    j->op->reply, sizeof(struct csr_reply));
	kchan_send(j->w->parent, IMSG_CTL_END, j->op->reqid, -1, NULL, 0);
	op_end(j);
}

/* The csr's answer from the hsm: keep the sealed keys. */
static void
csr_made(struct joiner *j, const struct kmsg *m)
{
	const struct hsm_csr_made	*hm = (const void *)m->data;
	struct csr_reply		*cr;
	const char			*p[6];

	if ((cr = calloc(1, sizeof(*cr))) == NULL)
		fatal("%s", __func__);
	kmd_strlcpy(cr->csr, hm->csr, sizeof(cr->csr));
	j->op->reply = cr;
	p[0] = j->op->node_id;
	p[1] = j->op->csr.host;
	p[2] = j->op->csr.pubaddr;
	p[3] = hm->csr;
	p[4] = hm->node_key_sealed;
	p[5] = hm->box_sk_sealed;
	pq_query(j->db, "INSERT INTO kmd_join_pending (node_id, host,"
	    " public_address, csr, node_key_sealed, box_sk_sealed) VALUES"
	    " ($1, $2, $3, $4, decode($5, 'hex'), decode($6, 'hex'))"
	    " ON CONFLICT (one) DO UPDATE SET node_id = EXCLUDED.node_id,"
	    " host = EXCLUDED.host, public_address = EXCLUDED.public_address,"
	    " csr = EXCLUDED.csr, node_key_sealed = EXCLUDED.node_key_sealed,"
	    " box_sk_sealed = EXCLUDED.box_sk_sealed, created = now()", 6, p,
	    csr_stored, j);
}

/* The member's state and secrets, or why it cannot sign. */
static void
create_checked(struct pq *db, PGresult *res, void *arg)
{
	struct joiner		*j = arg;
	struct hsm_node_sign	*ns;
	int			 nodes, joining;

	(void)db;
	if (j->op == NULL)
		return;
	if (!pq_ok(res)) {
		op_fail(j, "%s", pq_msg(j, res));
		return;
	}
	if (PQntuples(res) != 1) {
		op_fail(j, "this node is not in a cluster: run nodes create on"
		    " a member of the cluster the new node joins");
		return;
	}
	nodes = atoi(PQgetvalue(res, 0, 5));
	j->op->count = nodes;
	joining = atoi(PQgetvalue(res, 0, 6));
	if (ns_parse(PQgetvalue(res, 0, 7)) != NS_READY) {
		op_fail(j, "this node is not ready (%s); run nodes create on a"
		    " ready member", PQgetvalue(res, 0, 7));
		return;
	}
	if (joining > 0) {
		op_fail(j, "a node is joining the cluster; one join at a time:"
		    " wait until it is ready (cluster nodes list)");
		return;
	}
	if (nodes >= KMD_NODES_MAX) {
		op_fail(j, "the cluster has %d nodes, the most it may have;"
		    " remove one first (cluster nodes delete)", nodes);
		return;
	}
	if ((ns = calloc(1, sizeof(*ns))) == NULL)
		fatal("%s", __func__);
	kmd_strlcpy(ns->csr, j->op->nc.csr, sizeof(ns->csr));
	kmd_strlcpy(ns->host, j->op->nc.host, sizeof(ns->host));
	kmd_strlcpy(ns->cluster_id, PQgetvalue(res, 0, 0),
	    sizeof(ns->cluster_id));
	kmd_strlcpy(ns->my_node_id, PQgetvalue(res, 0, 1),
	    sizeof(ns->my_node_id));
	kmd_strlcpy(ns->kek_wrapped, PQgetvalue(res, 0, 2),
	    sizeof(ns->kek_wrapped));
	kmd_strlcpy(ns->ca_key_sealed, PQgetvalue(res, 0, 3),
	    sizeof(ns->ca_key_sealed));
	kmd_strlcpy(ns->ca_cert, PQgetvalue(res, 0, 4), sizeof(ns->ca_cert));
	ns->shared_hsm = j->op->nc.shared_hsm != 0;
	j->op->reply = strdup(PQgetvalue(res, 0, 4));	/* the CA chain */
	if (j->op->reply == NULL)
		fatal("%s", __func__);
	op_call(j, IMSG_HSM_NODE_SIGN, ns, sizeof(*ns), node_signed);
	explicit_bzero(ns, sizeof(*ns));
	free(ns);
}

int
joiner_nodes_create(struct kchan *ch, struct kmsg *m, void *arg)
{
	struct joiner		*j = arg;
	const struct nodes_create *nc = (const void *)m->data;
	char			 kind[KMD_HOST_MAX + 32];

	if (op_start(j, ch, m->hdr.reqid, "cluster nodes create") == NULL)
		return 0;
	memcpy(&j->op->nc, nc, sizeof(*nc));
	snprintf(kind, sizeof(kind), "nodes create for %s", nc->host);
	op_lease(j, kind, NULL, LEASE_MAJORITY, create_check);
	return 0;
}

/* Under the lease: this member's state and the cluster's size. */
static void
create_check(struct joiner *j)
{
	pq_query(j->db, "SELECT l.cluster_id, l.node_id,"
	    " encode(l.kek_wrapped, 'hex'), encode(c.ca_key_sealed, 'hex'),"
	    " c.ca_cert, (SELECT count(*) FROM kmd_nodes WHERE "
	    SQL_NODE_COUNTS "), (SELECT count(*) FROM kmd_nodes WHERE state IN"
	    " " NS_SQL_JOINING "), n.state FROM kmd_local l"
	    " JOIN kmd_cluster c USING (cluster_id) JOIN kmd_nodes n ON"
	    " n.node_id = l.node_id", 0, NULL, create_checked, j);
}

/* The hsm signed: the credentials wait while the node is recorded. */
static void
node_signed(struct joiner *j, const struct kmsg *m)
{
	const struct hsm_node_signed	*ns = (const void *)m->data;
	struct node_credentials		*nc;

	if ((nc = calloc(1, sizeof(*nc))) == NULL)
		fatal("%s", __func__);
	kmd_strlcpy(nc->cert, ns->cert, sizeof(nc->cert));
	kmd_strlcpy(nc->cachain, j->op->reply, sizeof(nc->cachain));
	kmd_strlcpy(nc->mkek_blob, ns->mkek_blob, sizeof(nc->mkek_blob));
	free(j->op->reply);
	j->op->reply = nc;
	kmd_strlcpy(j->op->node_id, ns->node_id, sizeof(j->op->node_id));
	if (j->op->lease == NULL) {
		op_fail(j, "this node holds no membership lease; no"
		    " credentials were issued");
		return;
	}
	if (create_record(j, ns, create_recorded) == -1)
		op_fail(j, "cannot record node %s; no credentials were issued",
		    ns->node_id);
}

/*
 * The new node, pending, in one statement under the lease ($8, its
 * token; the epoch moves on to $9): its id, host and public address, its
 * certificate, and when its credentials expire.  Answers the state of a
 * row that was there already (nothing written then), and the expiry of
 * the row written.
 */
#define SQL_CREATE_RECORD \
	"WITH c AS (SELECT kmd_lease_commit($8::uuid, $9::bigint) AS e)," \
	" prior AS (SELECT state FROM kmd_nodes WHERE node_id = $1::uuid)," \
	" ins AS (INSERT INTO kmd_nodes (node_id, host, public_address," \
	" state, version, shared_hsm, cert, expires) SELECT $1::uuid, $2, $3," \
	" '" NS_C_PENDING "', $4, $5::boolean, $6, now() + $7::int *" \
	" interval '1 second' FROM c WHERE c.e IS NOT NULL ON CONFLICT" \
	" (node_id) DO NOTHING RETURNING expires) SELECT (SELECT state FROM" \
	" prior), (SELECT " SQL_ISO("expires") " FROM ins)"

static int
create_record(struct joiner *j, const struct hsm_node_signed *ns, pq_cb cb)
{
	const struct nodes_create *nc = &j->op->nc;
	char		 life[16], e[24];
	const char	*p[9];

	snprintf(life, sizeof(life), "%d", j->w->conf.pending_lifetime);
	p[0] = ns->node_id;
	p[1] = nc->host;
	p[2] = nc->pubaddr[0] != '\0' ? nc->pubaddr : nc->host;
	p[3] = KMD_VERSION;
	p[4] = nc->shared_hsm ? "true" : "false";
	p[5] = ns->cert;
	p[6] = life;
	p[7] = j->op->lease->token;
	snprintf(e, sizeof(e), "%lld", j->op->epoch + 1);
	p[8] = e;
	return pq_query(j->db, SQL_CREATE_RECORD, 9, p, cb, j);
}

/* Above SIZE_ADVISED nodes: the reference's advice, logged and told. */
static void
create_advice(struct joiner *j, int nodes)
{
	struct join_check	 jc;

	if (nodes <= SIZE_ADVISED)
		return;
	log_warnx("cluster nodes create: the cluster will have %d nodes; "
	    SIZE_ADVICE, nodes);
	memset(&jc, 0, sizeof(jc));
	kmd_strlcpy(jc.item, "size", sizeof(jc.item));
	jc.ok = 1;
	snprintf(jc.detail, sizeof(jc.detail), "WARNING: %d nodes; "
	    SIZE_ADVICE, nodes);
	kchan_send(j->w->parent, IMSG_JOIN_CHECK, j->op->reqid, -1, &jc,
	    sizeof(jc));
}

/* Recorded: the credentials go out; a node id seen before, they do not. */
static void
create_recorded(struct pq *db, PGresult *res, void *arg)
{
	struct joiner	*j = arg;

	(void)db;
	if (op_result(j, res) == -1)
		return;
	j->op->epoch++;		/* committed under the lease */
	if (PQntuples(res) != 1 || PQgetisnull(res, 0, 1)) {
		op_fail(j, "node %s was issued credentials already (%s): run"
		    " cluster csr again on the joining node, then nodes create"
		    " with its new request", j->op->node_id, PQgetisnull(res,
		    0, 0) ? "unknown" : ns_desc(ns_parse(PQgetvalue(res, 0,
		    0))));
		return;
	}
	log_info("signed the certificate of joining node %s (%s): pending"
	    " until %s", j->op->node_id, j->op->nc.host,
	    PQgetvalue(res, 0, 1));
	op_peers(j, create_accepted);	/* this member accepts it now */
}

/* This node accepts the new node's certificate: the lease goes back. */
static void
create_accepted(struct joiner *j)
{
	op_lease_end(j, create_reply);
}

/* The lease given back: the credentials go out. */
static void
create_reply(struct joiner *j)
{
	struct node_credentials	*nc = j->op->reply;

	create_advice(j, j->op->count + 1);
	kchan_send(j->w->parent, IMSG_NODE_CREDENTIALS, j->op->reqid, -1, nc,
	    sizeof(*nc));
	kchan_send(j->w->parent, IMSG_CTL_END, j->op->reqid, -1, NULL, 0);
	explicit_bzero(nc, sizeof(*nc));
	op_end(j);
}
