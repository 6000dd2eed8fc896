/*
 * backups restore and upload.
 *
 * A restore replaces the cluster's replicated data on a node that is its
 * cluster's only node: its keys (every version) and users become the
 * backup's, and its KEK becomes the backup's, since the material in the
 * backup is sealed under that one (the hsm seals this node's CA and node
 * keys again under it).  Other nodes then join it as usual.  Nothing
 * changes unless the whole file opened: one transaction, on a
 * connection of its own, deletes the keys and users and takes the rows
 * in as the stream is read and checked (format 2: each table's one COPY
 * FROM STDIN (binary) fed message by message; format 1: each message's
 * JSON rows in one INSERT), and commits only after its FINAL
 * message, with the counts matching, once a temporary function has
 * adopted the KEK.  Every statement after the first names a temporary
 * object (the rows' type, the function): a connection lost and made
 * again runs none of them outside that transaction; and the commit is
 * checked by reading the KEK back.
 */
#include <sys/stat.h>

#include <errno.h>
#include <stdarg.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <yajl_tree.h>

#include "backup.h"
#include "join.h"
#include "json.h"
#include "joiner.h"
#include "log.h"
#include "util.h"

struct rrun {
	struct joiner		*j;
	struct bhead		 h;
	struct bstream		 bs;
	struct pq		*c;
	struct hsm_backup	*hb;		/* sodium_malloc'd */
	char			 cols[2][1024];	/* the backup's columns */
	int64_t			 rows[2];
	int			 table;		/* the batch in flight's */
	int64_t			 said;
	/* format 2: the COPY under way, fed one message at a time */
	int			 copied[2];	/* a table's COPY was begun */
	uint8_t			*feed;		/* a message to give it */
	size_t			 feedlen, feedoff;
	uint8_t			*next;		/* the one after its end */
	size_t			 nextlen;
	int64_t			 fed;		/* rows given, for progress */
	char			 ferr[KMD_ERR_MAX - 128]; /* the file failed */
};

static const char *const tables[2] = { "kmd_users", "kmd_keys" };

static void
rrun_release(struct jop *op)
{
	struct rrun	*r = op->reply;

	if (r == NULL)
		return;
	bfile_close(&r->bs);
	if (r->c != NULL)
		pq_free_later(r->j->w->base, r->c);
	free(r->feed);
	free(r->next);
	if (r->hb != NULL)
		sodium_free(r->hb);
	sodium_memzero(r, sizeof(*r));
}

/*
 * The restore's transaction, begun: the rows' types (temporary, gone
 * with the session), the function that adopts the KEK, the old rows
 * gone under a lock that keeps every other writer out until the end,
 * and the keys' indexes, built again once every row is in (as a join
 * does: faster than kept up row by row, and a duplicate fails there).
 */
#define SQL_RESTORE_PREP \
	"BEGIN;" \
	" CREATE TEMP TABLE r_kmd_users (LIKE kmd_users) ON COMMIT DROP;" \
	" CREATE TEMP TABLE r_kmd_keys (LIKE kmd_keys) ON COMMIT DROP;" \
	" CREATE FUNCTION pg_temp.kmd_restore(p_kek text, p_ca text," \
	" p_node text, p_backup uuid) RETURNS bigint LANGUAGE plpgsql AS $$" \
	" BEGIN IF EXISTS (SELECT FROM kmd_local) THEN" \
	" UPDATE kmd_local SET kek_wrapped = decode(p_kek, 'hex')," \
	" node_key_sealed = decode(p_node, 'hex'), rot_key = NULL;" \
	" UPDATE kmd_cluster SET ca_key_sealed = decode(p_ca, 'hex');" \
	" ELSE INSERT INTO kmd_restored_kek (kek_wrapped, backup_id) VALUES" \
	" (decode(p_kek, 'hex'), p_backup) ON CONFLICT (one) DO UPDATE SET" \
	" kek_wrapped = EXCLUDED.kek_wrapped, backup_id =" \
	" EXCLUDED.backup_id, restored = now(); END IF;" \
	" RETURN (SELECT count(*) FROM kmd_keys); END $$;" \
	" LOCK TABLE kmd_keys, kmd_users IN ACCESS EXCLUSIVE MODE; " \
	SQL_KEYS_NOTIFY_OFF "; DELETE FROM kmd_keys; DELETE FROM kmd_users; " \
	SQL_KEYS_INDEX_DROP "; " SQL_KEYS_PKEY_DROP

static void	next_message(struct rrun *);

static void	restore_fail(struct rrun *, const char *, ...)
		    __attribute__((format(printf, 2, 3)));

static void
restore_fail(struct rrun *r, const char *fmt, ...)
{
	char	 msg[KMD_ERR_MAX - 64];
	va_list	 ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	op_fail(r->j, "backup %s: %s; nothing was changed", r->h.info.id, msg);
}

static int
alive(struct rrun *r)
{
	return r->j->op != NULL && r->j->op->reply == r;
}

/* Committed, and the KEK read back is the one adopted: done. */
static void
applied(struct pq *db, PGresult *res, void *arg)
{
	struct rrun	*r = arg;
	struct joiner	*j = r->j;

	(void)db;
	if (!alive(r))
		return;
	if (!pq_ok(res) || PQntuples(res) != 1 ||
	    strcmp(PQgetvalue(res, 0, 0), "t") != 0) {
		restore_fail(r, "it did not commit (%s)", pq_ok(res) ?
		    "the connection to the database was lost" :
		    pq_why(r->c, res));
		return;
	}
	log_warnx("backups restore: backup %s restored: %lld users, %lld key"
	    " versions; %s", r->h.info.id, (long long)r->rows[0],
	    (long long)r->rows[1], r->hb->node_id[0] != '\0' ? "this node's"
	    " KEK is now the backup's" : "this node is in no cluster: its"
	    " cluster new takes the backup's KEK");
	users_watch_soon(j);
	backup_answer(j, r->h.info.id);
}

/* The KEK adopted, in the transaction; a failure leaves it undone. */
static void
adopted(struct pq *db, PGresult *res, void *arg)
{
	struct rrun	*r = arg;

	(void)db;
	if (alive(r) && !pq_ok(res))
		restore_fail(r, "%s", pq_why(r->c, res));
}

/* The FINAL message: its counts, the header's and the rows' agree. */
static void
last_message(struct rrun *r, const char *m)
{
	const char	*pu[] = { "rows", "kmd_users", NULL };
	const char	*pk[] = { "rows", "kmd_keys", NULL };
	const char	*p[4];
	yajl_val	 root, u, k;
	int		 ok;

	root = yajl_tree_parse(m, NULL, 0);
	u = yajl_tree_get(root, pu, yajl_t_number);
	k = yajl_tree_get(root, pk, yajl_t_number);
	ok = u != NULL && k != NULL && YAJL_IS_INTEGER(u) &&
	    YAJL_IS_INTEGER(k) && YAJL_GET_INTEGER(u) == r->rows[0] &&
	    YAJL_GET_INTEGER(k) == r->rows[1] && r->rows[0] ==
	    r->h.info.users && r->rows[1] == r->h.info.keys;
	yajl_tree_free(root);
	if (!ok) {
		restore_fail(r, "%s", "its row counts do not match what it"
		    " holds");
		return;
	}
	p[0] = r->hb->kek_wrapped;
	p[1] = r->hb->ca_key_sealed;
	p[2] = r->hb->node_key_sealed;
	p[3] = r->h.info.id;
	pq_query(r->c, SQL_KEYS_INDEXES_ADD, 0, NULL, adopted, r);
	pq_query(r->c, "SELECT pg_temp.kmd_restore($1, $2, $3, $4::uuid)", 4,
	    p, adopted, r);
	pq_query(r->c, "COMMIT", 0, NULL, jq_ignore, NULL);
	pq_query(r->c, "SELECT coalesce((SELECT encode(kek_wrapped, 'hex') FROM"
	    " kmd_local), (SELECT encode(kek_wrapped, 'hex') FROM"
	    " kmd_restored_kek)) = $1", 1, p, applied, r);
}

/* At most once a second: how many rows are in. */
static void
progress(struct rrun *r, int64_t rows)
{
	struct backup_progress	 bp;

	if (mono_ms() - r->said < 1000)
		return;
	r->said = mono_ms();
	memset(&bp, 0, sizeof(bp));
	kmd_strlcpy(bp.what, "restore", sizeof(bp.what));
	bp.rows = rows;
	bp.total = r->h.info.users + r->h.info.keys;
	kchan_send(r->j->w->parent, IMSG_BACKUP_PROGRESS, r->j->op->reqid, -1,
	    &bp, sizeof(bp));
}

static void
loaded(struct pq *db, PGresult *res, void *arg)
{
	struct rrun		*r = arg;

	(void)db;
	if (!alive(r))
		return;
	if (!pq_ok(res)) {
		restore_fail(r, "its rows do not load: %s", pq_why(r->c, res));
		return;
	}
	/* the server parsed the batch: the rows it took are counted */
	r->rows[r->table] += strtoll(PQcmdTuples(res), NULL, 10);
	progress(r, r->rows[0] + r->rows[1]);
	next_message(r);
}

/*
 * A batch's table (0 or 1) and where its rows begin, from its "table\n";
 * -1 when it names none the manifest has.
 */
static int
batch_table(const struct rrun *r, const uint8_t *m, size_t len,
    size_t *off)
{
	const uint8_t	*nl = memchr(m, '\n', len);
	int		 t;

	if (nl == NULL)
		return -1;
	for (t = 0; t < 2; t++)
		if ((size_t)(nl - m) == strlen(tables[t]) &&
		    memcmp(m, tables[t], strlen(tables[t])) == 0 &&
		    r->cols[t][0] != '\0') {
			*off = (size_t)(nl - m) + 1;
			return t;
		}
	return -1;
}

/* Format 1: a batch is "table\n" then a JSON array of its rows. */
static void
batch(struct rrun *r, char *m, size_t len)
{
	char		 sql[4096];
	const char	*p[1];
	size_t		 off;
	int		 t;

	if ((t = batch_table(r, (uint8_t *)m, len, &off)) == -1) {
		restore_fail(r, "a batch is of an unknown table (%.64s)", m);
		return;
	}
	r->table = t;
	snprintf(sql, sizeof(sql), "INSERT INTO %s (%s) SELECT %s FROM"
	    " json_populate_recordset(NULL::pg_temp.r_%s, $1::json)",
	    tables[t], r->cols[t], r->cols[t], tables[t]);
	p[0] = m + off;
	pq_query(r->c, sql, 1, p, loaded, r);
}

static void	dispatch(struct rrun *, uint8_t *, size_t);

/*
 * The COPY under way wants data: the message in hand, else the next one
 * of the file if it is of the same table; any other (the next table's,
 * the FINAL one) ends the COPY and waits for its result.  A file that
 * fails here aborts the COPY, and copy_done says why.
 */
static void
copy_feed(struct pq *db, void *arg)
{
	struct rrun	*r = arg;
	size_t		 off;
	int		 n;

	if (r->feed == NULL) {
		if ((n = bfile_pull(&r->bs, &r->feed, &r->feedlen, r->ferr,
		    sizeof(r->ferr))) != 1) {
			if (n == 0)
				kmd_strlcpy(r->ferr, "it ended without its last"
				    " message", sizeof(r->ferr));
			pq_copy_end(db, "the backup file failed");
			return;
		}
		if (r->bs.final || batch_table(r, r->feed, r->feedlen, &off) !=
		    r->table) {
			r->next = r->feed;
			r->nextlen = r->feedlen;
			r->feed = NULL;
			pq_copy_end(db, NULL);
			return;
		}
		r->feedoff = off;
	}
	r->fed += bfile_copy_rows(r->feed + r->feedoff, r->feedlen - r->feedoff);
	(void)pq_copy_put(db, r->feed + r->feedoff, r->feedlen - r->feedoff);
	free(r->feed);
	r->feed = NULL;
	progress(r, r->fed);
}

/* A table's COPY ended: its count, then the message that ended it. */
static void
copy_done(struct pq *db, PGresult *res, void *arg)
{
	struct rrun	*r = arg;
	uint8_t		*m = r->next;

	(void)db;
	r->next = NULL;
	if (r->ferr[0] != '\0')
		restore_fail(r, "%s", r->ferr);
	else if (!pq_ok(res))
		restore_fail(r, "its rows do not load: %s", pq_why(r->c, res));
	else {
		r->rows[r->table] = strtoll(PQcmdTuples(res), NULL, 10);
		dispatch(r, m, r->nextlen);
		return;
	}
	free(m);
}

/* Format 2: a table's first batch begins its COPY. */
static void
copy_batch(struct rrun *r, uint8_t *m, size_t len)
{
	char	 sql[1200];
	size_t	 off;
	int	 t;

	if ((t = batch_table(r, m, len, &off)) == -1 || r->copied[t]) {
		free(m);
		restore_fail(r, "%s", t == -1 ? "a batch is of an unknown"
		    " table" : "a table's batches are not together");
		return;
	}
	r->table = t;
	r->copied[t] = 1;
	r->feed = m;
	r->feedlen = len;
	r->feedoff = off;
	snprintf(sql, sizeof(sql), "COPY %s (%s) FROM STDIN (FORMAT binary)",
	    tables[t], r->cols[t]);
	pq_copy(r->c, sql, NULL, copy_feed, copy_done, r);
}

/*
 * The manifest: each table's columns as the backup has them, each one
 * this kmd knows (a backup from an older schema has fewer; the rest
 * take their defaults), quoted for the INSERT or the COPY, in the
 * backup's order (a binary COPY's fields come in it).  Its row format
 * must be the one the file's first line says (the manifest is sealed,
 * that line is not).
 */
static int
manifest(struct rrun *r, const char *m, const char *known)
{
	const char	*path[] = { "tables", NULL, NULL };
	const char	*rp[] = { "rows", NULL };
	yajl_val	 root, cols, kn, kc, c, rows;
	size_t		 i, k;
	int		 t, ok = 1;

	root = yajl_tree_parse(m, NULL, 0);
	kn = yajl_tree_parse(known, NULL, 0);
	rows = yajl_tree_get(root, rp, yajl_t_any);
	if (r->bs.format == 2)
		ok = rows != NULL && YAJL_IS_STRING(rows) &&
		    strcmp(json_string(rows), BACKUP_ROWS_V2) == 0;
	else
		ok = rows == NULL;
	for (t = 0; t < 2 && ok; t++) {
		path[1] = tables[t];
		cols = yajl_tree_get(root, path, yajl_t_array);
		kc = yajl_tree_get(kn, path + 1, yajl_t_array);
		if ((ok = cols != NULL && kc != NULL) == 0)
			break;
		for (i = 0; i < YAJL_GET_ARRAY(cols)->len && ok; i++) {
			c = YAJL_GET_ARRAY(cols)->values[i];
			for (k = 0; YAJL_IS_STRING(c) &&
			    k < YAJL_GET_ARRAY(kc)->len; k++)
				if (strcmp(json_string(c), json_string(
				    YAJL_GET_ARRAY(kc)->values[k])) == 0)
					break;
			ok = YAJL_IS_STRING(c) && k < YAJL_GET_ARRAY(kc)->len &&
			    strlen(r->cols[t]) + strlen(json_string(c)) +
			    4 < sizeof(r->cols[t]);
			if (ok)
				snprintf(r->cols[t] + strlen(r->cols[t]),
				    sizeof(r->cols[t]) - strlen(r->cols[t]),
				    "%s\"%s\"", i ? ", " : "",
				    json_string(c));
		}
	}
	yajl_tree_free(root);
	yajl_tree_free(kn);
	return ok ? 0 : -1;
}

/* A message read (m is the caller's, then this one's to free). */
static void
dispatch(struct rrun *r, uint8_t *m, size_t len)
{
	if (!r->bs.final && r->bs.format == 2) {
		copy_batch(r, m, len);
		return;
	}
	/* text: one NUL past its end, for the parsers */
	if ((m = realloc(m, len + 1)) == NULL)
		fatal("%s", __func__);
	m[len] = '\0';
	if (r->bs.final)
		last_message(r, (char *)m);
	else
		batch(r, (char *)m, len);
	free(m);
}

static void
next_message(struct rrun *r)
{
	char		 err[KMD_ERR_MAX - 128];
	uint8_t		*m = NULL;
	size_t		 len = 0;
	int		 n;

	if ((n = bfile_pull(&r->bs, &m, &len, err, sizeof(err))) == -1) {
		restore_fail(r, "%s", err);
		return;
	}
	if (n == 0) {
		restore_fail(r, "%s", "it ended without its last message");
		return;
	}
	dispatch(r, m, len);
}

/* The columns kmd knows now; then the manifest, then the batches. */
static void
known_read(struct pq *db, PGresult *res, void *arg)
{
	struct rrun	*r = arg;
	char		 err[KMD_ERR_MAX - 128];
	uint8_t		*m = NULL;
	size_t		 len = 0;

	(void)db;
	if (!alive(r))
		return;
	if (!pq_ok(res) || PQntuples(res) != 1) {
		restore_fail(r, "%s", pq_why(r->c, res));
		return;
	}
	if (bfile_pull_start(&r->bs, r->hb->filekey, err, sizeof(err)) == -1 ||
	    bfile_pull(&r->bs, &m, &len, err, sizeof(err)) != 1) {
		free(m);
		restore_fail(r, "%s", err);
		return;
	}
	sodium_memzero(r->hb->filekey, sizeof(r->hb->filekey));
	if ((m = realloc(m, len + 1)) == NULL)
		fatal("%s", __func__);
	m[len] = '\0';
	if (r->bs.final || manifest(r, (char *)m, PQgetvalue(res, 0, 0)) ==
	    -1) {
		free(m);
		restore_fail(r, "%s", "its manifest names columns this kmd does"
		    " not know, or a row format other than its first line's");
		return;
	}
	free(m);
	next_message(r);
}

/* The hsm opened the file key and made the backup's KEK this node's. */
static void
restore_opened(struct joiner *j, const struct kmsg *m)
{
	struct rrun	*r = j->op->reply;

	memcpy(r->hb, m->data, sizeof(*r->hb));
	sodium_memzero((void *)m->data, m->datalen);
	r->c = joiner_conn(j, "kmd-restore", NULL, NULL);
	pq_query(r->c, SQL_RESTORE_PREP, 0, NULL, jq_ignore, NULL);
	pq_query(r->c, "SELECT json_build_object('kmd_users', (SELECT"
	    " json_agg(column_name::text) FROM information_schema.columns WHERE"
	    " table_schema = 'public' AND table_name = 'kmd_users'),"
	    " 'kmd_keys', (SELECT json_agg(column_name::text) FROM"
	    " information_schema.columns WHERE table_schema = 'public' AND"
	    " table_name = 'kmd_keys'))::text", 0, NULL, known_read, r);
}

/* What the restore needs of this node, and whether it may. */
static void
restore_read(struct pq *db, PGresult *res, void *arg)
{
	struct rrun	*r = arg;
	struct joiner	*j = r->j;
	struct hsm_backup *hb = r->hb;
	char		 path[KMD_PATH_MAX + 64], err[KMD_ERR_MAX - 128];

	(void)db;
	if (op_result(j, res) == -1)
		return;
	if (PQntuples(res) != 1) {
		op_fail(j, "no backup %s on this node (backups list; a backup"
		    " made elsewhere comes with backups upload)", j->op->me);
		return;
	}
	if (atoi(pq_get(res, 0, "others")) > 0) {
		op_fail(j, "this node is one of %d nodes of a cluster, and a"
		    " restore would replace the data of all of them: restore"
		    " on a node that is its cluster's only node (a new one, or"
		    " this one once the others are removed), then join the"
		    " others to it", atoi(pq_get(res, 0, "others")) + 1);
		return;
	}
	if (pq_null(res, 0, "bk_sealed")) {
		op_fail(j, "backup %s was made with backup key %s, which is not"
		    " on this node: import it first (backup-keys import"
		    " --file)", j->op->me, pq_get(res, 0, "backup_key"));
		return;
	}
	backup_path(j, j->op->me, "", path, sizeof(path));
	if ((r->bs.fd = open(path, O_RDONLY | O_CLOEXEC)) == -1) {
		op_fail(j, "cannot open %s: %s", path, strerror(errno));
		return;
	}
	if (bfile_read_head(&r->bs, &r->h, err, sizeof(err)) == -1 ||
	    strcmp(r->h.info.id, j->op->me) != 0) {
		op_fail(j, "backup %s: its file is not the backup it should be:"
		    " %s; nothing was changed", j->op->me, err);
		return;
	}
	if (r->h.info.schema > j->schema) {
		op_fail(j, "backup %s was made by a newer kmd (%s, schema %d);"
		    " this node is at schema %d: upgrade kmd first; nothing was"
		    " changed", j->op->me, r->h.info.kmd_version,
		    r->h.info.schema, j->schema);
		return;
	}
	kmd_strlcpy(hb->backup_id, r->h.info.id, sizeof(hb->backup_id));
	kmd_strlcpy(hb->bk_id, r->h.info.backup_key, sizeof(hb->bk_id));
	kmd_strlcpy(hb->bk_sealed, pq_get(res, 0, "bk_sealed"),
	    sizeof(hb->bk_sealed));
	/* in no cluster: "", and the KEK waits for cluster new */
	kmd_strlcpy(hb->node_id, pq_get(res, 0, "node_id"),
	    sizeof(hb->node_id));
	kmd_strlcpy(hb->cluster_id, pq_get(res, 0, "cluster_id"),
	    sizeof(hb->cluster_id));
	kmd_strlcpy(hb->kek_wrapped, pq_get(res, 0, "kek"),
	    sizeof(hb->kek_wrapped));
	kmd_strlcpy(hb->ca_key_sealed, pq_get(res, 0, "ca_key"),
	    sizeof(hb->ca_key_sealed));
	kmd_strlcpy(hb->node_key_sealed, pq_get(res, 0, "node_key"),
	    sizeof(hb->node_key_sealed));
	kmd_strlcpy(hb->kek_sealed, r->h.kek_sealed, sizeof(hb->kek_sealed));
	kmd_strlcpy(hb->filekey_sealed, r->h.filekey_sealed,
	    sizeof(hb->filekey_sealed));
	log_warnx("backups restore: restoring backup %s (%lld users, %lld key"
	    " versions, made %s)", r->h.info.id, (long long)r->h.info.users,
	    (long long)r->h.info.keys, r->h.info.created);
	op_call(j, IMSG_HSM_BACKUP_OPEN, hb, sizeof(*hb), restore_opened);
}

void
backup_restore(struct joiner *j, const char *id)
{
	struct rrun	*r;
	const char	*p[1] = { id };

	if ((r = calloc(1, sizeof(*r))) == NULL ||
	    (r->hb = sodium_malloc(sizeof(*r->hb))) == NULL)
		fatal("%s", __func__);
	memset(r->hb, 0, sizeof(*r->hb));
	r->j = j;
	r->bs.fd = -1;
	r->said = mono_ms();
	j->op->reply = r;
	j->op->release = rrun_release;
	pq_query(j->db, "SELECT b.backup_key, encode(k.key_sealed, 'hex') AS"
	    " bk_sealed, l.node_id, l.cluster_id, encode(l.kek_wrapped, 'hex')"
	    " AS kek, encode(l.node_key_sealed, 'hex') AS node_key,"
	    " encode(c.ca_key_sealed, 'hex') AS ca_key, (SELECT count(*) FROM"
	    " kmd_nodes n WHERE n.node_id <> l.node_id AND n.state <> '"
	    NS_C_REMOVED "') AS others FROM kmd_backups b LEFT JOIN"
	    " kmd_backup_keys k ON k.key_id = b.backup_key LEFT JOIN kmd_local"
	    " l ON true LEFT JOIN kmd_cluster c ON true WHERE b.backup_id::text"
	    " = $1", 1, p, restore_read, r);
}

/* ---- upload ---------------------------------------------------------- */

static void
uploaded(struct pq *db, PGresult *res, void *arg)
{
	struct joiner	*j = arg;
	char		 path[KMD_PATH_MAX + 64];

	(void)db;
	if (!pq_ok(res) || PQntuples(res) != 1) {
		backup_path(j, j->op->me, "", path, sizeof(path));
		if (pq_ok(res))
			unlink(path);
		op_fail(j, "backup %s is on this node already (backups list)",
		    j->op->me);
		return;
	}
	log_info("backups upload: backup %s added", j->op->me);
	backup_answer(j, j->op->me);
}

/* Copy the client's file in as <id>.kmdb.part, then name it. */
static int
copy_in(int from, const char *part, const char *path, int64_t *size,
    char *err, size_t errlen)
{
	char	 buf[65536];
	ssize_t	 n;
	int	 to, r = 0;

	*size = 0;
	if (lseek(from, 0, SEEK_SET) == -1 || (to = open(part, O_WRONLY |
	    O_CREAT | O_EXCL | O_CLOEXEC, 0600)) == -1) {
		snprintf(err, errlen, "cannot create %s: %s", part,
		    strerror(errno));
		return -1;
	}
	while (r == 0 && (n = read(from, buf, sizeof(buf))) != 0) {
		if (n == -1 && errno == EINTR)
			continue;
		if (n == -1 || write(to, buf, (size_t)n) != n)
			r = -1;
		*size += n > 0 ? n : 0;
	}
	if (r == -1 || fsync(to) == -1 || close(to) == -1 ||
	    link(part, path) == -1) {
		snprintf(err, errlen, "cannot copy the file in: %s",
		    errno == EEXIST ? "that backup is on this node already" :
		    strerror(errno));
		r = -1;
	}
	unlink(part);
	return r;
}

/* backups upload: a file the client opened, passed with the request. */
void
backup_upload(struct joiner *j, int fd)
{
	struct bstream	 bs;
	struct bhead	 h;
	struct stat	 st;
	char		 err[KMD_ERR_MAX - 64], part[KMD_PATH_MAX + 64];
	char		 path[KMD_PATH_MAX + 64];
	int64_t		 size;

	memset(&bs, 0, sizeof(bs));
	bs.fd = fd;
	if (fd == -1 || fstat(fd, &st) == -1 || !S_ISREG(st.st_mode)) {
		bfile_close(&bs);
		op_fail(j, "backups upload takes a regular file, opened by"
		    " kmctl on this node (--file)");
		return;
	}
	if (bfile_read_head(&bs, &h, err, sizeof(err)) == -1) {
		bfile_close(&bs);
		op_fail(j, "the file is not a backup kmd can take: %s", err);
		return;
	}
	kmd_strlcpy(j->op->me, h.info.id, sizeof(j->op->me));
	backup_path(j, h.info.id, "", path, sizeof(path));
	backup_path(j, h.info.id, ".part", part, sizeof(part));
	if (copy_in(fd, part, path, &size, err, sizeof(err)) == -1) {
		bfile_close(&bs);
		op_fail(j, "%s", err);
		return;
	}
	bfile_close(&bs);
	backup_insert(j, &h, size, "uploaded", uploaded, j);
}
