/*
 * cluster verify: what it reads of a row, and the checks on what nodes
 * answer (verify.c has the protocol).
 */
#include <ctype.h>
#include <string.h>

#include "joiner.h"
#include "verify.h"

/*
 * The tables, each column as the digest reads it: timestamps as epoch
 * seconds and bytea as hex, so that neither TimeZone nor bytea_output
 * of a node's sessions changes a row's digest.  The columns are those
 * of the committed schema, which every node has (in an upgrade window
 * too); a step that adds a column to one of these tables adds it here
 * for a committed schema that has it.
 */
static const struct vtable {
	const char	*name;
	const char	*rel;
	const char	*key;
	const char	*cols;
	const char	*keycol;	/* the key's column, and its type */
	const char	*keytype;
	const char	*label;		/* a row, for people; NULL: no user data */
} vtables[VERIFY_TABLES] = {
	{ "keys", "public.kmd_keys", "key_id::text", "key_id, name, version,"
	    " algorithm, encode(material_sealed, 'hex'), extract(epoch FROM"
	    " created), size, kcv", "key_id", "uuid",
	    "'key ' || name || ' version ' || version" },
	{ "users", "public.kmd_users", "name", "name, hash, extract(epoch"
	    " FROM created), role", "name", "text", "'user ' || name" },
	{ "nodes", "public.kmd_nodes", "node_id::text", "node_id, host, port,"
	    " public_address, url, state, extract(epoch FROM joined_at),"
	    " version, shared_hsm, cert, rot, extract(epoch FROM removed_at),"
	    " drain, extract(epoch FROM expires), sponsor, join_error",
	    "node_id", "uuid", NULL },
};

/*
 * A part's name as a node answered it, checked before it goes into the
 * SQL sent to every node: a table's name, ':', two hex digits.
 */
int
verify_valid_part(const char *s)
{
	const char	*c = strchr(s, ':');
	int		 i;

	if (c == NULL || strlen(c) != 3 || !isxdigit((unsigned char)c[1]) ||
	    !isxdigit((unsigned char)c[2]))
		return 0;
	for (i = 0; i < VERIFY_TABLES; i++)
		if (strlen(vtables[i].name) == (size_t)(c - s) &&
		    strncmp(vtables[i].name, s, c - s) == 0)
			return 1;
	return 0;
}

/* Every row's (table, key, digest), as one SQL statement. */
void
verify_digest_sql(struct sbuf *b)
{
	int	 i;

	for (i = 0; i < VERIFY_TABLES; i++)
		sbuf_add(b, "%sSELECT '%s'::text AS tbl, %s AS k, md5(row(%s)"
		    "::text) AS h FROM %s", i ? " UNION ALL " : "",
		    vtables[i].name, vtables[i].key, vtables[i].cols,
		    vtables[i].rel);
}


/*
 * A peer's writes this node lacks (cluster nodes delete of a node whose
 * slot here was lost).  `remote' is run on the peer through dblink, the
 * epoch of the peer's last write this node applied appended to it, and
 * a closing parenthesis: the peer's rows of user data whose last write
 * was made on the peer itself (commit origin 0, track_commit_timestamp
 * is on) and committed after that, as (tbl, k, label, h, ts).  `local'
 * keeps those for which this node holds neither the same row nor a
 * later write of it (which last-update-wins would keep anyway).  Rows
 * the peer wrote before are not compared: they reached this node, and
 * one missing here was deleted here since.  A delete made on the peer
 * leaves no row to name.
 */
void
verify_unsent_sql(struct sbuf *remote, struct sbuf *local)
{
	int	 i, n = 0;

	sbuf_add(remote, "SELECT tbl, k, label, h, ts FROM (");
	sbuf_add(local, " WHERE NOT CASE r.tbl");
	for (i = 0; i < VERIFY_TABLES; i++) {
		if (vtables[i].label == NULL)
			continue;
		sbuf_add(remote, "%sSELECT '%s'::text AS tbl, %s AS k, %s AS"
		    " label, md5(row(%s)::text) AS h, c.\"timestamp\" AS ts,"
		    " c.roident AS o FROM %s x, pg_xact_commit_timestamp_origin("
		    "x.xmin) c", n++ ? " UNION ALL " : "", vtables[i].name,
		    vtables[i].key, vtables[i].label, vtables[i].cols,
		    vtables[i].rel);
		sbuf_add(local, " WHEN '%s' THEN EXISTS (SELECT FROM %s x"
		    " WHERE x.%s = r.k::%s AND (md5(row(%s)::text) = r.h OR"
		    " pg_xact_commit_timestamp(x.xmin) > r.ts))",
		    vtables[i].name, vtables[i].rel, vtables[i].keycol,
		    vtables[i].keytype, vtables[i].cols);
	}
	sbuf_add(remote, ") r WHERE r.o = 0 AND r.ts > to_timestamp(");
	sbuf_add(local, " ELSE true END");
}
