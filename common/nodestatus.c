#include <string.h>

#include "nodestatus.h"

static const struct {
	const char	*code;
	const char	*desc;
} statuses[NS_COUNT] = {
	[NS_NONE] =		{ NS_C_NONE,	"not clustered" },
	[NS_READY] =		{ NS_C_READY,	"ready" },
	[NS_CREATING] =		{ NS_C_CREATING, "joining: creating (1/5)" },
	[NS_BOOTSTRAPPING] =	{ NS_C_BOOTSTRAPPING,
				    "joining: bootstrapping (2/5)" },
	[NS_SYNCING] =		{ NS_C_SYNCING, "joining: initial sync (3/5)" },
	[NS_CATCHING_UP] =	{ NS_C_CATCHING_UP,
				    "joining: catching up (4/5)" },
	[NS_COMPLETING] =	{ NS_C_COMPLETING,
				    "joining: completing (5/5)" },
	[NS_KILLED] =		{ NS_C_KILLED,	"killed" },
	[NS_DOWN] =		{ NS_C_DOWN,	"down" },
	[NS_REMOVING] =		{ NS_C_REMOVING, "removing" },
	[NS_REMOVED] =		{ NS_C_REMOVED,	"removed" },
	[NS_MIXED] =		{ NS_C_MIXED,
			    "nodes are in different states across databases" },
	[NS_UNKNOWN] =		{ NS_C_UNKNOWN,	"unknown" },
	[NS_PENDING] =		{ NS_C_PENDING,
			    "pending: credentials issued, not joined yet" },
	[NS_LOST] =		{ NS_C_LOST,
			    "lost: its replication slot was let go; it must join"
			    " again" },
};

/* The code stored and shown for a state; "u" for one out of range. */
const char *
ns_code(enum node_status s)
{
	if ((unsigned)s >= NS_COUNT)
		s = NS_UNKNOWN;
	return statuses[s].code;
}

/* The state of a code; NS_UNKNOWN for codes we do not know. */
enum node_status
ns_parse(const char *code)
{
	int	 i;

	if (code == NULL)
		return NS_UNKNOWN;
	for (i = 0; i < NS_COUNT; i++)
		if (strcmp(statuses[i].code, code) == 0)
			return (enum node_status)i;
	return NS_UNKNOWN;
}

/* Its description, as cluster info and the nodes list show it. */
const char *
ns_desc(enum node_status s)
{
	if ((unsigned)s >= NS_COUNT)
		s = NS_UNKNOWN;
	return statuses[s].desc;
}

/*
 * A node's description, as nodes list and the summary show it: a pending
 * node's credentials may have expired (kmd_nodes.expires passed).
 */
const char *
ns_node_desc(enum node_status s, int expired)
{
	if (s == NS_PENDING && expired)
		return "pending: credentials expired";
	return ns_desc(s);
}

/* One of the five stages of a join (NS_SQL_JOINING in SQL). */
int
ns_joining(enum node_status s)
{
	return s == NS_CREATING || s == NS_BOOTSTRAPPING || s == NS_SYNCING ||
	    s == NS_CATCHING_UP || s == NS_COMPLETING;
}
