/*
 * The node database's schema as an ordered list of migrations, each one
 * version.  A step has a node-local part (functions, node-local tables)
 * and may have a cluster part: changes to the replicated tables, which
 * every node of a cluster must take at once (cluster upgrade finish).
 * On a node that is not clustered, or is its cluster's only node, the
 * joiner applies at start every step above the version recorded in
 * kmd_schema, both parts, one transaction each.  On a node of a larger
 * cluster it applies at start only the local part of the one step above
 * the cluster's committed schema (the upgrade window); every part is
 * idempotent, so it runs again at each start.  workers/joiner/migrate.c
 * holds the rules.
 */
#ifndef KMD_SCHEMA_H
#define KMD_SCHEMA_H

#include <stddef.h>

struct migration {
	int		 version;
	const char	*sql;		/* node-local part */
	const char	*cluster;	/* replicated tables' part, or NULL */
};

#define SCHEMA_DB	"kmd"

/* The tables in pglogical's replication set; the others stay local. */
#define REPLICATED \
	"ARRAY['kmd_cluster','kmd_nodes','kmd_node_health','kmd_users'," \
	"'kmd_keys','kmd_join_markers']"

/*
 * cluster upgrade finish: the kind its membership lease names, and the
 * advisory lock of its write pause (kmd_write_pause(), kmd_peer_pause()).
 */
#define FINISH_KIND	"upgrade finish"
#define KMD_PAUSE_LOCK	"7040356"

/*
 * How a node reaches a peer's PostgreSQL (host: %s).  A dead peer is
 * noticed from both ends: keepalives and a TCP user timeout here,
 * wal_sender_timeout and the server's keepalives there.
 */
#define PEER_DSN \
	"host=%s port=5432 dbname=kmd user=kmd_repl sslmode=verify-full" \
	" connect_timeout=3 keepalives=1 keepalives_idle=2" \
	" keepalives_interval=1 keepalives_count=2 tcp_user_timeout=5000"

/*
 * The name of the slot of a join's catch-up subscription, from the node
 * `me` (its sponsor) to the joining node `n` (SQL expressions of uuids):
 * pglogical's gen_slot_name of kmd_cu_<n's first 12 hex digits>.
 */
#define SQL_CU_SLOT(me, n) \
	"'pgl_' || kmd_short(current_database()) || '_' || kmd_short('kmd_'" \
	" || kmd_hex(" me ", 32)) || '_' || kmd_short('kmd_cu_' ||" \
	" kmd_hex(" n ", 12))"

/*
 * The schema of node kmd_nodes row `n' as nodes list and upgrade status
 * show it: this node reads its own; a ready or removing one is at the
 * cluster's committed schema (only upgrade finish moves it, everywhere);
 * 0, not known, for the others.  Needs schema.h's includer to have
 * nodestatus.h.
 */
#define SQL_NODE_SCHEMA \
	"CASE WHEN n.node_id = (SELECT node_id FROM kmd_local) THEN (SELECT" \
	" version FROM kmd_schema) WHEN n.state IN ('" NS_C_READY "', '" \
	NS_C_REMOVING "') THEN (SELECT schema_version FROM kmd_cluster)" \
	" ELSE 0 END"

/* A timestamp in SQL as kmd shows them: UTC, ISO 8601. */
#define SQL_ISO(x) \
	"to_char((" x ") AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.US\"Z\"')"

/* schema_member.c */
extern const char schema_v10[], schema_v11[], schema_v13[], schema_v14[];
extern const struct migration	 schema_migrations[];
extern const size_t		 schema_nmigrations;

extern const char schema_start_sql[];
int	schema_latest(void);
int	schema_pending(int, const struct migration **);
int	schema_step_sql(const struct migration *, int, char *, size_t);

/*
 * schema_plan(): every step whole (up to the committed schema, on a node
 * of a larger cluster); or that and the local part of the next (the
 * upgrade window); or kmd must not run here.
 */
#define SCHEMA_REFUSE	-1
#define SCHEMA_WHOLE	0
#define SCHEMA_WINDOW	1
int	schema_plan(int, int, int, char *, size_t);

#endif
