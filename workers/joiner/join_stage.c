/*
 * The join's stages, one row each: the status shown (kmd_local.join_state
 * here, kmd_nodes.state on the members), what enters the stage, what it
 * polls, its timeouts, and its ways out.  Before the wipe a failure
 * refuses the join (nothing was changed); after it, it kills the join.
 * A timeout is a failure with a clock: the wipe waits WIPE_POLLS polls
 * for old workers; a stage that watches subscriptions gives up when one
 * has been down DOWN_MAX seconds.  join_next() is the only decision; the
 * driver (join_run.c) does what it says.
 */
#include "join.h"

#define ENDS(s) \
	.done = (s), .failed = (s), .timedout = (s), .enough = (s)
#define BEFORE(next) \
	.done = (next), .failed = JOIN_REFUSED, .timedout = JOIN_REFUSED, \
	.enough = JOIN_REFUSED
#define AFTER(next) \
	.done = (next), .failed = JOIN_KILLED, .timedout = JOIN_KILLED, \
	.enough = JOIN_KILLED

const struct join_stage_row join_stages[JOIN_NSTAGES] = {
	[JOIN_OPEN] = { JOIN_OPEN, NS_NONE, 0,
	    "reading the certificate request; the hsm opens the join's"
	    " secrets; TLS installed", open_enter, NULL, 0, 0,
	    BEFORE(JOIN_PREFLIGHT) },
	[JOIN_PREFLIGHT] = { JOIN_PREFLIGHT, NS_NONE, 0,
	    "asking the member over mutual TLS: cluster, version, clock,"
	    " size, joins, its state, disk", preflight_enter, preflight_enter,
	    PREFLIGHT_POLLS, 0,
	    .done = JOIN_LEASE, .failed = JOIN_REFUSED,
	    .timedout = JOIN_REFUSED, .enough = JOIN_CHECKED },
	[JOIN_LEASE] = { JOIN_LEASE, NS_NONE, 0,
	    "the membership lease from every member: one change at a time;"
	    " every member accepts this node's certificate", lease_enter,
	    lease_enter, LEASE_POLLS, 0, BEFORE(JOIN_WIPE) },
	[JOIN_WIPE] = { JOIN_WIPE, NS_CREATING, 0,
	    "stopping and dropping what an earlier join left, wiping the"
	    " replicated tables", wipe_enter, wipe_poll, WIPE_POLLS, 0,
	    AFTER(JOIN_CREATE) },
	[JOIN_CREATE] = { JOIN_CREATE, NS_CREATING, 0,
	    "writing kmd_local, registering on the member", create_enter,
	    NULL, 0, 0, AFTER(JOIN_BOOTSTRAP) },
	[JOIN_BOOTSTRAP] = { JOIN_BOOTSTRAP, NS_BOOTSTRAPPING, 1,
	    "the pglogical node, its sets, the catch-up subscription to"
	    " the member", bootstrap_enter, NULL, 0, 0, AFTER(JOIN_SYNC) },
	[JOIN_SYNC] = { JOIN_SYNC, NS_SYNCING, 1,
	    "until the catch-up subscription's copy is done and kmd_keys"
	    " indexed", sync_poll, sync_poll, 0, DOWN_MAX,
	    AFTER(JOIN_DIRECT) },
	[JOIN_DIRECT] = { JOIN_DIRECT, NS_CATCHING_UP, 1,
	    "direct subscriptions to every member, until they replicate",
	    direct_enter, direct_poll, 0, DOWN_MAX, AFTER(JOIN_MARKERS) },
	[JOIN_MARKERS] = { JOIN_MARKERS, NS_CATCHING_UP, 0,
	    "a marker on every other member, until the member has them",
	    markers_enter, markers_poll, 0, 0, AFTER(JOIN_ORIGIN) },
	[JOIN_ORIGIN] = { JOIN_ORIGIN, NS_CATCHING_UP, 0,
	    "the member's WAL position W, until this node has applied its"
	    " stream past W", origin_enter, origin_poll, 0, DOWN_MAX,
	    AFTER(JOIN_CU_DROP) },
	[JOIN_CU_DROP] = { JOIN_CU_DROP, NS_CATCHING_UP, 0,
	    "the catch-up subscription stopped, then dropped",
	    cu_drop_enter, cu_drop_poll, 0, 0, AFTER(JOIN_COMPLETE) },
	[JOIN_COMPLETE] = { JOIN_COMPLETE, NS_COMPLETING, 1,
	    "every member subscribes to this node, until they replicate",
	    complete_enter, complete_poll, 0, DOWN_MAX, AFTER(JOIN_LOCAL) },
	[JOIN_LOCAL] = { JOIN_LOCAL, NS_COMPLETING, 0,
	    "until this node's own subscriptions replicate", local_poll,
	    local_poll, 0, DOWN_MAX, AFTER(JOIN_READY) },
	[JOIN_READY] = { JOIN_READY, NS_COMPLETING, 0,
	    "ready on the member, then here", ready_enter, NULL, 0, 0,
	    AFTER(JOIN_JOINED) },
	[JOIN_JOINED] = { JOIN_JOINED, NS_READY, 0,
	    "joined", joined_enter, NULL, 0, 0, ENDS(JOIN_JOINED) },
	[JOIN_CHECKED] = { JOIN_CHECKED, NS_NONE, 0,
	    "preflight only: what it installed goes", checked_enter, NULL,
	    0, 0, ENDS(JOIN_CHECKED) },
	[JOIN_REFUSED] = { JOIN_REFUSED, NS_NONE, 0,
	    "refused: the client hears why, nothing was changed",
	    refused_enter, NULL, 0, 0, ENDS(JOIN_REFUSED) },
	[JOIN_KILLED] = { JOIN_KILLED, NS_KILLED, 0,
	    "killed: the reason recorded, the subscriptions dropped",
	    killed_enter, NULL, 0, 0, ENDS(JOIN_KILLED) },
};

/* The stage after cur when it ends by ev; an end stays where it is. */
enum join_stage
join_next(enum join_stage cur, enum join_event ev)
{
	const struct join_stage_row	*r;

	if ((unsigned)cur >= JOIN_NSTAGES)
		return JOIN_KILLED;
	r = &join_stages[cur];
	switch (ev) {
	case JE_DONE:
		return r->done;
	case JE_FAILED:
		return r->failed;
	case JE_TIMEDOUT:
		return r->timedout;
	case JE_ENOUGH:
		return r->enough;
	}
	return r->failed;
}
