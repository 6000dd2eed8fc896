/*
 * cluster verify (verify.c): the SQL it runs, and what reads a row.
 */
#ifndef KMD_VERIFY_H
#define KMD_VERIFY_H

struct sbuf;

#define VERIFY_TABLES		3

/* The ready nodes compared, and this node's state. */
#define SQL_VERIFY_NODES \
	"SELECT n.node_id, n.host, n.node_id = l.node_id AS self, me.state" \
	" AS my_state FROM kmd_local l JOIN kmd_nodes me ON me.node_id =" \
	" l.node_id JOIN kmd_nodes n ON n.state = '" NS_C_READY "' ORDER BY" \
	" n.joined_at, n.node_id LIMIT 20"

#define SQL_VERIFY_TEMP \
	"SET statement_timeout = '45s'; CREATE TEMP TABLE kv_b (node text," \
	" tbl text, b text, n bigint, s text); CREATE TEMP TABLE kv_r (node" \
	" text, tbl text, k text, h text); CREATE TEMP TABLE kv_d (round int," \
	" tbl text, k text)"

/* The parts that differ between the compared nodes ($1), $2 of them. */
#define SQL_VERIFY_PARTS \
	"SELECT tbl || ':' || b FROM pg_temp.kv_b WHERE node = ANY($1::text[])" \
	" GROUP BY tbl, b HAVING count(*) < $2 OR count(DISTINCT n || '/' ||" \
	" s) > 1 ORDER BY 1"

/* This round's ($3) differing rows. */
#define SQL_VERIFY_ROWS \
	"INSERT INTO pg_temp.kv_d SELECT $3, tbl, k FROM pg_temp.kv_r WHERE" \
	" node = ANY($1::text[]) GROUP BY tbl, k HAVING count(*) < $2 OR" \
	" count(DISTINCT h) > 1"

/* Each table on each node ($1), from the last round. */
#define SQL_VERIFY_TABLES \
	"SELECT t.tbl, nd.node, coalesce(sum(b.n), 0) AS n, md5(coalesce(" \
	"string_agg(b.b || ':' || b.n || ':' || b.s, ',' ORDER BY b.b), ''))" \
	" AS d FROM unnest(ARRAY['keys', 'users', 'nodes']) WITH ORDINALITY" \
	" t(tbl, o) CROSS JOIN unnest($1::text[]) WITH ORDINALITY nd(node, p)" \
	" LEFT JOIN pg_temp.kv_b b ON b.tbl = t.tbl AND b.node = nd.node" \
	" GROUP BY t.tbl, t.o, nd.node, nd.p ORDER BY t.o, nd.p"

/* Rows that differed in every round ($2), and those in flight. */
#define SQL_VERIFY_COUNTS \
	"SELECT count(*) FILTER (WHERE c = $1), count(*) FILTER (WHERE c <" \
	" $1) FROM (SELECT count(DISTINCT round) AS c FROM pg_temp.kv_d" \
	" GROUP BY tbl, k) d"

#define SQL_VERIFY_DIFFS \
	"SELECT d.tbl, d.k, nd.node, r.h FROM (SELECT tbl, k FROM" \
	" pg_temp.kv_d GROUP BY tbl, k HAVING count(DISTINCT round) = $2" \
	" ORDER BY tbl, k LIMIT 100) d CROSS JOIN unnest($1::text[]) WITH" \
	" ORDINALITY nd(node, p) LEFT JOIN pg_temp.kv_r r ON r.tbl = d.tbl" \
	" AND r.k = d.k AND r.node = nd.node ORDER BY d.tbl, d.k, nd.p"

void	verify_digest_sql(struct sbuf *);
int	verify_valid_part(const char *);
void	verify_unsent_sql(struct sbuf *, struct sbuf *);

#endif
