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

extern const struct migration	 schema_migrations[];
extern const size_t		 schema_nmigrations;

extern const char schema_start_sql[];
int	schema_latest(void);
int	schema_pending(int, const struct migration **);
int	schema_step_sql(const struct migration *, char *, size_t);

#endif
