/*
 * The join's checks, which change nothing: the certificate request's
 * keys, opened by the hsm with the member's mkek_blob, and TLS installed
 * with the new certificate (JOIN_OPEN); then the member's answers over
 * mutual TLS (JOIN_PREFLIGHT).  Either refuses the join, or, asked for
 * the preflight only, ends it there.
 */
#include <sys/statvfs.h>

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "join.h"
#include "log.h"
#include "util.h"

#define SKEW_MAX	2.0		/* seconds */

static void	pending_read(struct pq *, PGresult *, void *);
static void	join_opened(struct kchan *, struct kmsg *, void *);
static void	join_tls_installed(struct kchan *, struct kmsg *, void *);

static const struct kchan_exchange join_open_ex = {
	IMSG_HSM_JOIN_OPENED, 0, join_opened, join_call_failed
};
static const struct kchan_exchange join_tls_ex = {
	IMSG_TLS_INSTALLED, 0, join_tls_installed, join_call_failed
};

/* The pending csr's keys; the node must not be in a cluster. */
void
open_enter(struct join *jn)
{
	pq_query(jn->j->jdb, "SELECT p.node_id::text AS node_id, p.csr,"
	    " encode(p.node_key_sealed, 'hex') AS node_key_sealed,"
	    " encode(p.box_sk_sealed, 'hex') AS box_sk_sealed, (SELECT"
	    " node_id FROM kmd_local) AS local_node, (SELECT join_state FROM"
	    " kmd_local) AS local_state FROM (SELECT 1) one LEFT JOIN"
	    " kmd_join_pending p ON true", 0, NULL, pending_read, jn);
}

static void
pending_read(struct pq *db, PGresult *res, void *arg)
{
	struct join	*jn = arg;

	(void)db;
	if (!pq_ok(res)) {
		join_fail(jn, "%s", res != NULL ? PQresultErrorMessage(res) :
		    pq_error(jn->j->jdb));
		return;
	}
	if (PQntuples(res) != 1 || (!pq_null(res, 0, "local_node") &&
	    (pq_null(res, 0, "local_state") || ns_parse(pq_get(res, 0,
	    "local_state")) != NS_KILLED))) {
		join_fail(jn, "this node is already in a cluster; "
		    HOW_TO_LEAVE);
		return;
	}
	if (pq_null(res, 0, "node_id")) {
		join_fail(jn, "this node has made no certificate request:"
		    " run cluster csr here, then cluster nodes create on a"
		    " member");
		return;
	}
	if ((jn->open = calloc(1, sizeof(*jn->open))) == NULL)
		fatal("%s", __func__);
	jn->retry = !pq_null(res, 0, "local_node");	/* killed before */
	kmd_strlcpy(jn->node_id, pq_get(res, 0, "node_id"),
	    sizeof(jn->node_id));
	join_names(jn);
	kmd_strlcpy(jn->open->node_id, jn->node_id,
	    sizeof(jn->open->node_id));
	kmd_strlcpy(jn->open->csr, pq_get(res, 0, "csr"),
	    sizeof(jn->open->csr));
	kmd_strlcpy(jn->open->node_key_sealed, pq_get(res, 0,
	    "node_key_sealed"), sizeof(jn->open->node_key_sealed));
	kmd_strlcpy(jn->open->box_sk_sealed, pq_get(res, 0, "box_sk_sealed"),
	    sizeof(jn->open->box_sk_sealed));
	kmd_strlcpy(jn->open->cert, jn->req.cert, sizeof(jn->open->cert));
	kmd_strlcpy(jn->open->cachain, jn->req.cachain,
	    sizeof(jn->open->cachain));
	kmd_strlcpy(jn->open->mkek_blob, jn->req.mkek_blob,
	    sizeof(jn->open->mkek_blob));
	if ((jn->call = kchan_call(jn->j->w->parent, IMSG_HSM_JOIN_OPEN, -1,
	    jn->open, sizeof(*jn->open), &join_open_ex, jn)) == 0)
		join_fail(jn, "cannot reach the hsm worker");
}

/* The credentials open here: install TLS with the new certificate. */
static void
join_opened(struct kchan *ch, struct kmsg *m, void *arg)
{
	struct join			*jn = arg;
	const struct hsm_join_opened	*o = (const void *)m->data;

	(void)ch;
	jn->call = 0;
	memcpy(&jn->opened, o, sizeof(*o));
	kmd_strlcpy(jn->cluster_id, o->cluster_id, sizeof(jn->cluster_id));
	if ((jn->call = joiner_tls_install(jn->j, jn->node_id, o->kek_wrapped,
	    o->node_key_sealed, jn->req.cert, jn->req.cachain, &join_tls_ex,
	    jn)) == 0)
		join_fail(jn, "cannot reach the hsm worker");
}

/* TLS is installed with the new certificate: on to the member. */
static void
join_tls_installed(struct kchan *ch, struct kmsg *m, void *arg)
{
	struct join		*jn = arg;
	const struct tls_result	*tr = (const void *)m->data;

	(void)ch;
	jn->call = 0;
	if (!tr->ok) {
		join_fail(jn, "%s", tr->err);
		return;
	}
	jn->tls_new = !jn->retry;
	join_done(jn);
}

static void	preflight_read(struct pq *, PGresult *, void *);
static int	preflight_unreached(struct join *, PGresult *, char *,
		    size_t);
static int	preflight_checks(struct join *, PGresult *, char *, size_t);
static void	preflight_hsm(struct join *, PGresult *);

/*
 * The member's answers (PEER_READ_MEMBER).  This node's own row may be
 * left joining by a killed attempt.
 */
void
preflight_enter(struct join *jn)
{
	const char	*p[1] = { jn->dsn };

	pq_query(jn->j->jdb, "SELECT t.*, extract(epoch FROM"
	    " clock_timestamp()) AS here_now, (SELECT version FROM"
	    " kmd_schema)::text AS here_schema FROM dblink($1,"
	    " 'SELECT * FROM kmd_peer_member()') AS t(cluster_id text, ver"
	    " text, schema text, now float8, nodes bigint, joining bigint,"
	    " member text, size bigint, state text, hsm bigint)", 1, p,
	    preflight_read, jn);
}

static void
preflight_read(struct pq *db, PGresult *res, void *arg)
{
	struct join	*jn = arg;
	char		 msg[KMD_ERR_MAX] = "";

	(void)db;
	if (!pq_ok(res) || PQntuples(res) != 1) {
		if (preflight_unreached(jn, res, msg, sizeof(msg)) &&
		    !join_overdue(jn)) {
			poll_again(jn);
			return;
		}
		send_check(jn, "member", 0, "%s", msg);
		join_fail(jn, "%s", msg);
		return;
	}
	send_check(jn, "member", 1, "%s:5432 answers over mutual TLS as node"
	    " %s", jn->req.member, pq_get(res, 0, "member"));
	kmd_strlcpy(jn->sponsor, pq_get(res, 0, "member"),
	    sizeof(jn->sponsor));
	if (!preflight_checks(jn, res, msg, sizeof(msg))) {
		join_fail(jn, "%s", msg);
		return;
	}
	preflight_hsm(jn, res);
	if (jn->req.preflight_only) {
		join_enough(jn);
		return;
	}
	jn->tls_new = 0;	/* past the preflight: the files stay */
	join_done(jn);
}

/*
 * Why the member did not answer; 1 when it refuses this node's
 * certificate: it has no node of its id recorded, or a removed one, or a
 * pending one whose credentials expired (pg_ident.conf, peers.c), or it
 * has not yet taken the row nodes create wrote on another member.
 */
static int
preflight_unreached(struct join *jn, PGresult *res, char *msg, size_t len)
{
	const char	*why = res != NULL ? PQresultErrorMessage(res) :
			    pq_error(jn->j->jdb);
	int		 refused;

	refused = strstr(why, "certificate authentication failed") != NULL;
	if (refused)
		snprintf(msg, len, "member %s:5432 refuses this node's"
		    " certificate: its credentials were revoked (cluster nodes"
		    " delete), expired, or never recorded; run cluster csr here"
		    " and cluster nodes create on a member again",
		    jn->req.member);
	else
		snprintf(msg, len, "member %s:5432 is not reachable with"
		    " mutual TLS (%s)", jn->req.member, why);
	msg[strcspn(msg, "\n")] = '\0';
	return refused;
}

/* Each check told to the client; msg: the first that failed. */
/*
 * One kmd version cluster-wide: the joining node runs the one every
 * ready member runs (each writes its own at start), and knows the
 * cluster's committed schema, no more: no join while an upgrade is open.
 */
static void
version_check(struct join *jn, const char *ver, const char *schema,
    const char *here, int *ok, char *msg, size_t len)
{
	char	 why[KMD_ERR_MAX];

	if (atoi(here) > atoi(schema))
		snprintf(why, sizeof(why), "this node's kmd %s knows schema %s, the"
		    " cluster is at %s (kmd %s): if it is being upgraded,"
		    " finish that first (kmctl cluster upgrade finish); else"
		    " run kmd %s here", KMD_VERSION, here, schema, ver, ver);
	else if (atoi(here) < atoi(schema))
		snprintf(why, sizeof(why), "the cluster is at schema %s (kmd"
		    " %s), newer than this node's kmd %s (schema %s): run kmd"
		    " %s here", schema, ver, KMD_VERSION, here, ver);
	else if (strchr(ver, ',') != NULL)
		snprintf(why, sizeof(why), "the members run kmd %s: an upgrade"
		    " is under way; finish it (the same kmd on every member,"
		    " then kmctl cluster upgrade finish) before a join", ver);
	else if (strcmp(ver, KMD_VERSION) != 0)
		snprintf(why, sizeof(why), "the members run kmd %s, this node"
		    " kmd %s: run kmd %s here", ver, KMD_VERSION, ver);
	else {
		send_check(jn, "version", 1, "kmd %s, schema %s, as every"
		    " member", KMD_VERSION, here);
		return;
	}
	send_check(jn, "version", 0, "%s", why);
	if (*ok) {
		*ok = 0;
		snprintf(msg, len, "%s", why);
	}
}

static int
preflight_checks(struct join *jn, PGresult *res, char *msg, size_t len)
{
	struct statvfs	 sv;
	double		 skew;
	long long	 need, avail;
	int		 ok = 1, nodes, joining;
	const char	*schema = pq_get(res, 0, "schema");
	const char	*here = pq_get(res, 0, "here_schema");

#define CHECK(cond, item, ...) do {					\
	send_check(jn, item, (cond) ? 1 : 0, __VA_ARGS__);		\
	if (!(cond) && ok) {						\
		ok = 0;							\
		snprintf(msg, len, __VA_ARGS__);			\
	}								\
} while (0)
	CHECK(strcmp(pq_get(res, 0, "cluster_id"), jn->cluster_id) == 0,
	    "cluster", "the member is in cluster %s; the credentials are"
	    " for %s", pq_get(res, 0, "cluster_id"), jn->cluster_id);
	version_check(jn, pq_get(res, 0, "ver"), schema, here, &ok, msg, len);
	skew = fabs(atof(pq_get(res, 0, "now")) - atof(pq_get(res, 0,
	    "here_now")));
	CHECK(skew < SKEW_MAX, "clock", "clock skew with the member %.3f s"
	    " (at most %.0f s; check NTP)", skew, SKEW_MAX);
	send_check(jn, "certificate", 1, "this node's certificate verifies"
	    " under the cluster CA");
	nodes = atoi(pq_get(res, 0, "nodes"));
	CHECK(nodes < KMD_NODES_MAX, "size", "the cluster has %d nodes, at"
	    " most %d", nodes, KMD_NODES_MAX);
	if (nodes + 1 > SIZE_ADVISED && nodes < KMD_NODES_MAX)
		send_check(jn, "size", 1, "WARNING: %d nodes with this one; "
		    SIZE_ADVICE, nodes + 1);
	/*
	 * Not a refusal: the membership lease (the next stage) refuses this
	 * join while another is under way, naming it and its node, which
	 * this count cannot; and a join that died leaves its row joining
	 * here until its lease lapses, which must not stop the next one.
	 */
	joining = atoi(pq_get(res, 0, "joining"));
	if (joining > 0)
		send_check(jn, "joins", 1, "WARNING: %d other node(s) joining"
		    " now; the membership lease lets one join at a time",
		    joining);
	CHECK(ns_parse(pq_get(res, 0, "state")) == NS_READY, "member state",
	    "the member is %s; join through a ready member",
	    ns_desc(ns_parse(pq_get(res, 0, "state"))));
	jn->size = atoll(pq_get(res, 0, "size"));
	need = 2 * jn->size + 64 * 1024 * 1024;
	avail = statvfs(jn->j->w->conf.pgsock, &sv) == 0 ?
	    (long long)sv.f_bavail * (long long)sv.f_frsize : -1;
	CHECK(avail < 0 || avail >= need, "disk", "%lld MB free here for a"
	    " %lld MB database (twice its size is needed)",
	    avail / 1048576, need / 1048576 / 2);
#undef CHECK
	return ok;
}

/* A warning, not a refusal: the cluster's KEK kept in HSMs but here. */
static void
preflight_hsm(struct join *jn, PGresult *res)
{
	int	 hsm_nodes = atoi(pq_get(res, 0, "hsm"));

	if (hsm_nodes <= 0 || jn->j->w->conf.hsm)
		return;
	send_check(jn, "root of trust", 1, "WARNING: %d node(s) keep the"
	    " cluster's KEK in an HSM and this node does not: it becomes the"
	    " weakest point in the key hierarchy", hsm_nodes);
	log_warnx("cluster join: %d node(s) of the cluster keep the KEK in an"
	    " HSM and this node does not: it becomes the weakest point in the"
	    " key hierarchy", hsm_nodes);
}

/* Only a look: what the preflight installed goes too. */
void
checked_enter(struct join *jn)
{
	if (jn->tls_new)
		kchan_send(jn->j->w->parent, IMSG_TLS_REMOVE, 0, -1, NULL, 0);
	if (jn->reqid != 0)
		kchan_send(jn->j->w->parent, IMSG_CTL_END, jn->reqid, -1, NULL,
		    0);
	jn->reqid = 0;
	join_free(jn);
}

/* Refused before anything changed: the client hears why. */
void
refused_enter(struct join *jn)
{
	log_warnx("cluster join: %s", jn->why);
	/* A node out of any cluster had no TLS before this join's. */
	if (jn->tls_new)
		kchan_send(jn->j->w->parent, IMSG_TLS_REMOVE, 0, -1, NULL, 0);
	if (jn->reqid != 0)
		kchan_senderr(jn->j->w->parent, jn->reqid, "cluster join: %s;"
		    " nothing was changed", jn->why);
	join_free(jn);
}
