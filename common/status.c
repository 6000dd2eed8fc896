#include <string.h>

#include "nodestatus.h"
#include "status.h"

/* The description of a status code; "unknown" for codes we do not know. */
const char *
status_desc(const char *code)
{
	return ns_desc(ns_parse(code));
}

/*
 * Whether a ready peer is down, as the monitor decides it.  hb_age: ms
 * since its last heartbeat arrived (-1: never); known: ms this monitor has
 * known it ready (silence before that proves nothing); connected: its
 * apply worker is connected here; sub: the state of this node's
 * subscription to it.  Down when silent for down_after, or, known ready
 * that long, when connected neither way.
 */
int
peer_down(long long hb_age, long long known, int connected, const char *sub,
    int down_after)
{
	long long	 silent = hb_age < 0 || hb_age > known ? known : hb_age;

	return silent > down_after || (known > down_after && !connected &&
	    strcmp(sub, "replicating") != 0);
}

/*
 * The decision over time: a ready peer that peer_down() finds down is
 * down; once down, it is up again only after down_after without a gap, so
 * a connection that comes back only to drop again (pglogical retrying)
 * makes no second transition.  now is in ms.
 */
int
peer_watch(struct peer_watch *w, int ready, int raw_down, long long now,
    int down_after)
{
	int	 down = ready && raw_down;

	if (down || !ready)
		w->up_since = 0;
	else if (w->down) {
		if (w->up_since == 0)
			w->up_since = now;
		down = now - w->up_since < down_after;
	}
	w->down = down;
	return down;
}
