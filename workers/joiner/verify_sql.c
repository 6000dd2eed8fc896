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
} vtables[VERIFY_TABLES] = {
	{ "keys", "public.kmd_keys", "key_id::text", "key_id, name, version,"
	    " algorithm, encode(material_sealed, 'hex'), extract(epoch FROM"
	    " created), size, kcv" },
	{ "users", "public.kmd_users", "name", "name, hash, extract(epoch"
	    " FROM created), role" },
	{ "nodes", "public.kmd_nodes", "node_id::text", "node_id, host, port,"
	    " public_address, url, state, extract(epoch FROM joined_at),"
	    " version, shared_hsm, cert, rot, extract(epoch FROM removed_at),"
	    " drain, extract(epoch FROM expires), sponsor, join_error" },
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

