/*
 * The node database's schema as an ordered list of migrations.  The
 * joiner applies, in one transaction each, every step above the version
 * recorded in kmd_schema; a database newer than this kmd is refused.
 */
#ifndef KMD_SCHEMA_H
#define KMD_SCHEMA_H

#include <stddef.h>

struct migration {
	int		 version;
	const char	*sql;
};

#define SCHEMA_DB	"kmd"

/* The tables in pglogical's replication set; the others stay local. */
#define REPLICATED \
	"ARRAY['kmd_cluster','kmd_nodes','kmd_node_health','kmd_users'," \
	"'kmd_keys','kmd_join_markers']"

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

/* A timestamp in SQL as kmd shows them: UTC, ISO 8601. */
#define SQL_ISO(x) \
	"to_char((" x ") AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.US\"Z\"')"

extern const char schema_v10[], schema_v11[], schema_v13[];	/* schema_member.c */
extern const struct migration	 schema_migrations[];
extern const size_t		 schema_nmigrations;

extern const char schema_start_sql[];
int	schema_latest(void);
int	schema_pending(int, const struct migration **);
int	schema_step_sql(const struct migration *, char *, size_t);

#endif
