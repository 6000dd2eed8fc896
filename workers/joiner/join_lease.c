/*
 * JOIN_LEASE: the joining node takes the membership lease (lease.c) from
 * every ready member its member knows, over dblink with its new
 * certificate: so every member accepts that certificate, and no other
 * membership change runs, before anything here changes.  The lease is
 * renewed until the join ends; a join that loses it stops at its next
 * step (jq) and is killed.  Its steps on the member carry the lease's
 * token (kmd_join_register, kmd_join_stage, kmd_join_ready).
 */
#include <stdio.h>
#include <string.h>

#include "join.h"
#include "lease.h"
#include "log.h"
#include "util.h"

static void	voters_read(struct join *, PGresult *);
static void	join_leased(struct lease *, const char *, void *);
static void	join_lease_lost(struct lease *, const char *, void *);

/* The member's voters and epoch, as it sees them (PEER_VOTERS). */
void
lease_enter(struct join *jn)
{
	const char	*p[2] = { jn->dsn, SQL_VOTERS };

	lease_end(jn->lease, jn->epoch);	/* an earlier try's */
	jn->lease = NULL;

	jq(jn, peer_call_what(PEER_VOTERS), "SELECT * FROM dblink($1, $2) AS"
	    " t(id text, host text, epoch bigint, me text)", 2, p,
	    voters_read);
}

static void
voters_read(struct join *jn, PGresult *res)
{
	char	 why[KMD_ERR_MAX];

	jn->lease = lease_new(jn->j, "join", jn->node_id, jn->node_id,
	    LEASE_ALL, join_leased, join_lease_lost, jn);
	if (lease_voters(jn->lease, res, why, sizeof(why)) == -1) {
		join_fail(jn, "%s", why);
		return;
	}
	jn->epoch = jn->lease->epoch;
	kmd_strlcpy(jn->lease->progress, jn->mark,
	    sizeof(jn->lease->progress));
	if (jn->polls == 0)	/* once, not at each try */
		send_check(jn, "membership", 1, "asking the %d member(s) for"
		    " the membership lease", PQntuples(res));
	lease_take(jn->lease);
}

static void
join_leased(struct lease *l, const char *why, void *arg)
{
	struct join	*jn = arg;

	if (why != NULL && !l->busy && !join_overdue(jn)) {
		poll_again(jn);		/* lease_enter, a moment later */
		return;
	}
	if (why != NULL) {
		send_check(jn, "membership", 0, "%s", why);
		join_fail(jn, "%s", why);
		return;
	}
	send_check(jn, "membership", 1, "every member granted the lease: no"
	    " other membership change runs until this join ends");
	join_done(jn);
}

/* Noted; the join's next step ends it (jq_done). */
static void
join_lease_lost(struct lease *l, const char *why, void *arg)
{
	struct join	*jn = arg;

	(void)l;
	log_warnx("join of node %s: %s", jn->node_id, why);
	kmd_strlcpy(jn->lost, why, sizeof(jn->lost));
}
