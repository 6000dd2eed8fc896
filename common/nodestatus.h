/*
 * The states of a node, one enum: kmd_nodes.state and
 * kmd_local.join_state hold the codes, the vendor reference shows them as
 * {"code": ..., "description": ...}.  The NS_C_* literals are the codes
 * for SQL text and for the table in nodestatus.c, spelled only here.
 */
#ifndef KMD_NODESTATUS_H
#define KMD_NODESTATUS_H

enum node_status {
	NS_NONE,		/* not clustered */
	NS_READY,
	NS_CREATING,		/* joining 1/5 */
	NS_BOOTSTRAPPING,	/* joining 2/5 */
	NS_SYNCING,		/* joining 3/5: initial sync */
	NS_CATCHING_UP,		/* joining 4/5 */
	NS_COMPLETING,		/* joining 5/5 */
	NS_KILLED,		/* a join that failed */
	NS_DOWN,
	NS_REMOVING,
	NS_REMOVED,
	NS_MIXED,		/* the databases disagree */
	NS_UNKNOWN,
	NS_PENDING,		/* credentials issued, no join yet */
	NS_LOST,		/* its slot here was let go: it must join again */
	NS_COUNT
};

#define NS_C_NONE		"none"
#define NS_C_READY		"r"
#define NS_C_CREATING		"creating"
#define NS_C_BOOTSTRAPPING	"b"
#define NS_C_SYNCING		"i"
#define NS_C_CATCHING_UP	"c"
#define NS_C_COMPLETING		"o"
#define NS_C_KILLED		"k"
#define NS_C_DOWN		"d"
#define NS_C_REMOVING		"m"
#define NS_C_REMOVED		"v"
#define NS_C_MIXED		"x"
#define NS_C_UNKNOWN		"u"
#define NS_C_PENDING		"p"
#define NS_C_LOST		"l"

/* The states of a node that is joining, as an SQL list. */
#define NS_SQL_JOINING \
	"('" NS_C_CREATING "', '" NS_C_BOOTSTRAPPING "', '" NS_C_SYNCING \
	"', '" NS_C_CATCHING_UP "', '" NS_C_COMPLETING "')"

const char		*ns_code(enum node_status);
enum node_status	 ns_parse(const char *);
const char		*ns_desc(enum node_status);
const char		*ns_node_desc(enum node_status, int);
int			 ns_joining(enum node_status);

#endif
