/*
 * cluster join, the third step, on the joining node N: the driver.
 *
 * The join is a walk through the rows of join_stages[] (join_stage.c).
 * Nothing changes until the checks pass: the certificate request's keys
 * and mkek_blob are opened by the hsm and TLS is installed (JOIN_OPEN,
 * join_preflight.c), then the member M answers the preflight over mutual
 * TLS (JOIN_PREFLIGHT).  A failure there refuses the join.  Then five
 * stages, each shown on N (kmd_local.join_state) and on every member
 * (kmd_nodes.state, written on the sponsor S = M and replicated):
 *
 *   creating (1/5)      N's replicated tables wiped, kmd_local written,
 *                       N registered on S (join_create.c)
 *   bootstrapping (2/5) N's pglogical node; a catch-up subscription to S
 *                       copying S's data and forwarding every origin
 *   initial sync (3/5)  until that copy is done (join_sync.c)
 *   catching up (4/5)   direct subscriptions from every member (made
 *                       already when a large copy's indexes are built,
 *                       see direct_subscribe()); then the proof that
 *                       nothing falls between the two paths (below);
 *                       then the catch-up subscription goes
 *                       (join_catchup.c)
 *   completing (5/5)    every member subscribes to N; ready everywhere
 *                       (join_complete.c)
 *
 * Why no write is lost.  A write committed on member X reaches N either
 * through X's direct slot (everything X commits after that slot's start
 * L_X) or through S's catch-up stream, which carries what S has applied,
 * from every origin (forward_origins all).  So N waits until S has
 * applied everything X committed before L_X: it commits a marker on X
 * after the direct slot exists, waits for the marker on S, reads S's WAL
 * position W then, and waits until the catch-up subscription's
 * replication origin on N has passed W (a second marker, committed on S
 * after W, makes sure S's stream moves past W).  S's own writes before
 * its direct slot are in the copy or the catch-up stream by the same
 * argument.  Writes that arrive twice in the overlap resolve as the same
 * row, by commit timestamp (pglogical.conflict_resolution =
 * last_update_wins).
 *
 * A failure after the wipe ends in `killed` (k), with the reason in
 * cluster info; the subscriptions made so far are dropped so that no
 * slot keeps WAL on a member (join_kill.c).
 *
 * Here: the entry point, the step from one stage to the next (the stage
 * recorded here and on S where its row says so), and the ends that come
 * from outside the join: kmd stopping, and a join found under way when
 * the joiner starts.
 */
#include <event2/event.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "join.h"
#include "lease.h"
#include "log.h"
#include "util.h"

static void	join_step(struct join *, enum join_event);
static void	stage_enter(struct join *, enum join_stage);

int
joiner_cluster_join(struct kchan *ch, struct kmsg *m, void *arg)
{
	struct joiner		*j = arg;
	const struct cluster_join *cj = (const void *)m->data;
	struct join		*jn;

	if (!valid_host(cj->member) || strcmp(cj->member, cj->host) == 0)
		return kchan_senderr(ch, m->hdr.reqid, "cluster join:"
		    " --member=%s is not another node's address", cj->member);
	if ((jn = calloc(1, sizeof(*jn))) == NULL)
		fatal("%s", __func__);
	jn->j = j;
	jn->reqid = m->hdr.reqid;
	jn->step = join_step;
	memcpy(&jn->req, cj, sizeof(*cj));
	if (op_busy(j, ch, jn->reqid, "cluster join") == -1 ||
	    own_host(j, ch, jn->reqid, "cluster join", jn->req.host,
	    jn->req.pubaddr, sizeof(jn->req.pubaddr)) == -1) {
		free(jn);
		return 0;
	}
	peer_dsn(jn->req.member, jn->dsn, sizeof(jn->dsn));
	j->join = jn;
	join_watch(jn);
	stage_enter(jn, JOIN_OPEN);
	return 0;
}

/* A stage ended by ev: on to the stage the table names. */
static void
join_step(struct join *jn, enum join_event ev)
{
	stage_enter(jn, join_next(jn->stage, ev));
}

static void	stage_local_set(struct join *, PGresult *);
static void	stage_remote_set(struct join *, PGresult *);

/*
 * Each stage counts its own polls and the time a subscription has been
 * down.  A stage whose row says record is written here and on S first.
 */
static void
stage_enter(struct join *jn, enum join_stage s)
{
	const char	*p[1];

	jn->stage = s;
	jn->at = &join_stages[s];
	jn->polls = 0;
	jn->down_since = 0;
	join_mark(jn, "%s", jn->at->desc);
	if (!jn->at->record) {
		jn->at->enter(jn);
		return;
	}
	log_info("join of node %s: %s", jn->node_id, ns_desc(jn->at->status));
	p[0] = ns_code(jn->at->status);
	jq(jn, "recording the stage", "UPDATE kmd_local SET join_state = $1,"
	    " join_progress = NULL RETURNING join_state", 1, p,
	    stage_local_set);
}

static void
stage_local_set(struct join *jn, PGresult *res)
{
	const char	*p[2] = { jn->node_id, pq_get(res, 0, "join_state") };

	jq_sponsor(jn, peer_call_what(PEER_STAGE), "kmd_join_stage", 2, p,
	    stage_remote_set);
}

static void
stage_remote_set(struct join *jn, PGresult *res)
{
	(void)res;
	jn->at->enter(jn);
}

/* At exit: a join under way is lost with the process. */
void
join_abandon(struct joiner *j)
{
	log_warnx("cluster join of node %s abandoned: kmd is stopping",
	    j->join->node_id);
	join_free(j->join);
}

static void	interrupted_done(struct pq *, PGresult *, void *);

/*
 * At start: a join that was under way when the joiner went is over; say
 * so rather than show a stage nothing drives any more.
 */
void
join_interrupted(struct joiner *j)
{
	pq_query(j->jdb, "UPDATE kmd_local SET join_state = '" NS_C_KILLED
	    "', join_error = 'the join was interrupted: kmd or its joiner"
	    " restarted; run cluster join again', join_progress = NULL WHERE"
	    " join_state IN " NS_SQL_JOINING " RETURNING node_id", 0, NULL,
	    interrupted_done, NULL);
	/* Its copy would go on, holding a slot on the member: stop it. */
	pq_query(j->jdb, "SELECT pglogical.alter_subscription_disable(sub_name,"
	    " true) FROM pglogical.subscription, kmd_local WHERE join_state ="
	    " '" NS_C_KILLED "'", 0, NULL, jq_ignore, NULL);
	pq_query(j->jdb, SQL_COPY_END " AND EXISTS (SELECT FROM kmd_local WHERE"
	    " join_state = '" NS_C_KILLED "')", 0, NULL, jq_ignore, NULL);
	pq_query(j->jdb, SQL_KEYS_INDEXES_ADD, 0, NULL, jq_ignore, NULL);
}

static void
interrupted_done(struct pq *db, PGresult *res, void *arg)
{
	(void)arg;
	if (!pq_ok(res))
		log_warnx("cannot mark an interrupted join: %s", res ?
		    PQresultErrorMessage(res) : pq_error(db));
	else if (PQntuples(res) == 1)
		log_warnx("the join of node %s was interrupted (kmd or its"
		    " joiner restarted): it is killed; run cluster join again",
		    pq_get(res, 0, "node_id"));
}
