/*
 * backups: this node's backup files (node-local) and the catalogue of
 * them (kmd_backups).
 *
 * backups create takes a consistent snapshot of the cluster's replicated
 * data, keys with every version and users (not membership, not
 * node-local settings), while the cluster takes writes: one REPEATABLE
 * READ transaction on a connection of its own, each table read with
 * COPY (binary) and streamed into the file as its rows come, about
 * BACKUP_MSG_TARGET a message (bfile.c).  The
 * key material goes in as the database stores it, sealed under the KEK;
 * the hsm worker seals the KEK and the file key under the backup key
 * (hsm_backup.c says why).  The file is written as <id>.kmdb.part and
 * renamed once complete and synced: a failure leaves nothing behind.
 * Then the oldest backups beyond "backup keep" (kmd.conf) go.
 *
 * download hands the client the open file (SCM_RIGHTS over the control
 * socket); upload takes one the same way, checks its header, and copies
 * it in.  A file's contents are checked end to end only by restore,
 * which has the backup key (restore.c).
 */
#include <sys/stat.h>

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "backup.h"
#include "join.h"
#include "joiner.h"
#include "log.h"
#include "util.h"

#define PROGRESS_MS	1000

struct brun {
	struct joiner		*j;
	struct backup_req	 rq;
	struct bhead		 h;
	struct bstream		 bs;
	struct pq		*c;		/* the snapshot's connection */
	uint8_t			 filekey[BACKUP_FILEKEY];
	char			 bk_sealed[KMD_WRAPPED_MAX];
	char			 kek_wrapped[KMD_WRAPPED_MAX];
	char			 part[KMD_PATH_MAX + 64];
	char			 path[KMD_PATH_MAX + 64];
	int			 table;		/* 0: users, 1: keys, 2: done */
	int64_t			 rows[2];	/* what each COPY said */
	int64_t			 seen;		/* rows so far, for progress */
	int64_t			 said;		/* ms: the last progress */
	char			*batch;		/* one message, being built */
	size_t			 len, cap;
};

static const char *const tables[2] = { "kmd_users", "kmd_keys" };

/* At op_end: a backup that did not finish leaves no file, no secret. */
static void
brun_release(struct jop *op)
{
	struct brun	*b = op->reply;

	if (b == NULL)
		return;
	if (b->bs.fd != -1 && b->part[0] != '\0')
		unlink(b->part);
	bfile_close(&b->bs);
	if (b->c != NULL)
		pq_free_later(b->j->w->base, b->c);
	free(b->batch);
	sodium_memzero(b, sizeof(*b));
}

static int
batch_add(struct brun *b, const char *s, size_t n)
{
	char	*t;
	size_t	 cap = b->cap ? b->cap : 65536;

	while (b->len + n + 1 > cap)
		cap *= 2;
	if (cap != b->cap) {
		if (cap > BACKUP_MSG_MAX + 65536 ||
		    (t = realloc(b->batch, cap)) == NULL)
			return -1;
		b->batch = t;
		b->cap = cap;
	}
	memcpy(b->batch + b->len, s, n);
	b->len += n;
	b->batch[b->len] = '\0';
	return 0;
}

static void	copy_table(struct brun *);

static int
push(struct brun *b, int final)
{
	char	 err[KMD_ERR_MAX - 64];

	if (bfile_push(&b->bs, b->batch, b->len, final, err, sizeof(err)) ==
	    -1) {
		op_fail(b->j, "%s; nothing was kept", err);
		return -1;
	}
	b->len = 0;
	return 0;
}

static void
progress(struct brun *b, const char *what)
{
	struct backup_progress	 bp;

	if (mono_ms() - b->said < PROGRESS_MS)
		return;
	b->said = mono_ms();
	memset(&bp, 0, sizeof(bp));
	kmd_strlcpy(bp.what, what, sizeof(bp.what));
	bp.rows = b->seen;
	bp.total = b->h.info.keys + b->h.info.users;
	kchan_send(b->j->w->parent, IMSG_BACKUP_PROGRESS, b->j->op->reqid, -1,
	    &bp, sizeof(bp));
}

static void	backup_recorded(struct pq *, PGresult *, void *);

/* Every row is in: the last message, the file synced and named. */
static void
backup_finish(struct brun *b)
{
	char		 n[2][24];

	b->len = 0;
	if (batch_add(b, "{\"rows\": {", 10) == -1)
		goto fail;
	snprintf(n[0], sizeof(n[0]), "%lld", (long long)b->rows[0]);
	snprintf(n[1], sizeof(n[1]), "%lld", (long long)b->rows[1]);
	if (batch_add(b, "\"kmd_users\": ", 13) == -1 ||
	    batch_add(b, n[0], strlen(n[0])) == -1 ||
	    batch_add(b, ", \"kmd_keys\": ", 14) == -1 ||
	    batch_add(b, n[1], strlen(n[1])) == -1 ||
	    batch_add(b, "}}", 2) == -1)
		goto fail;
	if (b->rows[0] != b->h.info.users || b->rows[1] != b->h.info.keys) {
		op_fail(b->j, "the snapshot's rows changed as they were read"
		    " (%s users, %s key versions); nothing was kept", n[0],
		    n[1]);
		return;
	}
	if (push(b, 1) == -1)
		return;
	if (fsync(b->bs.fd) == -1 || rename(b->part, b->path) == -1) {
		op_fail(b->j, "cannot keep the backup file %s: %s", b->path,
		    strerror(errno));
		return;
	}
	b->part[0] = '\0';
	pq_query(b->c, "COMMIT", 0, NULL, jq_ignore, NULL);
	b->h.info.size = b->bs.size;
	backup_insert(b->j, &b->h, b->bs.size, "made", backup_recorded, b);
	return;
fail:
	op_fail(b->j, "out of memory; nothing was kept");
}

/*
 * A row of the table being copied (the first with COPY's signature
 * before it, the last COPY's trailer): into the message being built,
 * which goes into the file once it is BACKUP_MSG_TARGET long.
 */
static void
copied_row(struct pq *db, const char *row, size_t len, void *arg)
{
	struct brun	*b = arg;
	const char	*t = tables[b->table];

	(void)db;
	if ((b->len == 0 && (batch_add(b, t, strlen(t)) == -1 ||
	    batch_add(b, "\n", 1) == -1)) || batch_add(b, row, len) == -1) {
		op_fail(b->j, "out of memory; nothing was kept");
		return;
	}
	if (len != 2 || memcmp(row, "\377\377", 2) != 0)
		b->seen++;
	if (b->len >= BACKUP_MSG_TARGET && push(b, 0) == 0)
		progress(b, "backup");
}

/* A table copied: its last message out, then the next table. */
static void
copied(struct pq *db, PGresult *res, void *arg)
{
	struct brun	*b = arg;

	(void)db;
	if (!pq_ok(res)) {
		op_fail(b->j, "reading the snapshot: %s; nothing was kept",
		    pq_why(b->c, res));
		return;
	}
	b->rows[b->table] = strtoll(PQcmdTuples(res), NULL, 10);
	if (b->len > 0 && push(b, 0) == -1)
		return;
	if (++b->table == 2)
		backup_finish(b);
	else
		copy_table(b);
}

static void
copy_table(struct brun *b)
{
	char	 sql[128];

	snprintf(sql, sizeof(sql), "COPY %s TO STDOUT (FORMAT binary)",
	    tables[b->table]);
	b->len = 0;
	pq_copy(b->c, sql, copied_row, NULL, copied, b);
}

/*
 * The snapshot's counts, schema and columns: the header and the
 * manifest, then the rows.
 */
static void
snapshot_read(struct pq *db, PGresult *res, void *arg)
{
	struct brun	*b = arg;
	char		 err[KMD_ERR_MAX - 64];
	const char	*cols;

	(void)db;
	if (b->j->op == NULL || b->j->op->reply != b)
		return;
	if (!pq_ok(res) || PQntuples(res) != 1) {
		op_fail(b->j, "reading the snapshot: %s; nothing was kept",
		    pq_why(b->c, res));
		return;
	}
	b->h.info.schema = atoi(pq_get(res, 0, "schema"));
	b->h.info.users = strtoll(pq_get(res, 0, "users"), NULL, 10);
	b->h.info.keys = strtoll(pq_get(res, 0, "keys"), NULL, 10);
	kmd_strlcpy(b->h.info.created, pq_get(res, 0, "at"),
	    sizeof(b->h.info.created));
	cols = pq_get(res, 0, "cols");
	backup_path(b->j, b->h.info.id, "", b->path, sizeof(b->path));
	backup_path(b->j, b->h.info.id, ".part", b->part, sizeof(b->part));
	if ((b->bs.fd = open(b->part, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC,
	    0600)) == -1) {
		op_fail(b->j, "cannot create %s: %s", b->part, strerror(errno));
		return;
	}
	if (bfile_write_head(&b->bs, &b->h, b->filekey, err, sizeof(err)) ==
	    -1) {
		op_fail(b->j, "%s; nothing was kept", err);
		return;
	}
	sodium_memzero(b->filekey, sizeof(b->filekey));
	if (batch_add(b, cols, strlen(cols)) == -1 || push(b, 0) == -1)
		return;
	log_info("backups create: backup %s: %lld users, %lld key versions",
	    b->h.info.id, (long long)b->h.info.users,
	    (long long)b->h.info.keys);
	copy_table(b);
}

/* The hsm sealed the KEK and the file key: the snapshot begins. */
static void
backup_sealed(struct joiner *j, const struct kmsg *m)
{
	const struct hsm_backup	*hb = (const void *)m->data;
	struct brun		*b = j->op->reply;

	kmd_strlcpy(b->h.kek_sealed, hb->kek_sealed, sizeof(b->h.kek_sealed));
	kmd_strlcpy(b->h.filekey_sealed, hb->filekey_sealed,
	    sizeof(b->h.filekey_sealed));
	memcpy(b->filekey, hb->filekey, sizeof(b->filekey));
	sodium_memzero((void *)hb->filekey, sizeof(hb->filekey));
	pq_query(b->c, "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY", 0,
	    NULL, jq_ignore, NULL);
	pq_query(b->c, "SELECT (SELECT version FROM kmd_schema) AS schema,"
	    " (SELECT count(*) FROM kmd_users) AS users, (SELECT count(*)"
	    " FROM kmd_keys) AS keys, " SQL_ISO("now()") " AS at,"
	    " json_build_object('rows', '" BACKUP_ROWS_V2 "', 'tables', (SELECT json_object_agg(table_name,"
	    " c) FROM (SELECT table_name, json_agg(column_name::text ORDER BY"
	    " ordinal_position) AS c FROM information_schema.columns WHERE"
	    " table_schema = 'public' AND table_name IN ('kmd_users',"
	    " 'kmd_keys') GROUP BY table_name) t))::text AS cols", 0, NULL,
	    snapshot_read, b);
}

static void
backup_seal(struct brun *b)
{
	struct hsm_backup	*hb;

	if ((hb = calloc(1, sizeof(*hb))) == NULL)
		fatal("%s", __func__);
	kmd_strlcpy(hb->backup_id, b->h.info.id, sizeof(hb->backup_id));
	kmd_strlcpy(hb->bk_id, b->h.info.backup_key, sizeof(hb->bk_id));
	kmd_strlcpy(hb->bk_sealed, b->bk_sealed, sizeof(hb->bk_sealed));
	kmd_strlcpy(hb->node_id, b->h.info.node, sizeof(hb->node_id));
	kmd_strlcpy(hb->kek_wrapped, b->kek_wrapped, sizeof(hb->kek_wrapped));
	op_call(b->j, IMSG_HSM_BACKUP_SEAL, hb, sizeof(*hb), backup_sealed);
	free(hb);
}

static void	backup_key_read(struct pq *, PGresult *, void *);

/* The node had no backup key: its default one, made now. */
static void
default_made(struct joiner *j, const struct kmsg *m)
{
	const struct hsm_bk	*bk = (const void *)m->data;
	struct brun		*b = j->op->reply;
	const char		*p[2] = { bk->id, bk->sealed };

	log_info("backups create: made backup key %s, this node's default;"
	    " export it (backup-keys export) to restore anywhere else",
	    bk->id);
	pq_query(b->c, "INSERT INTO kmd_backup_keys (key_id, origin,"
	    " key_sealed, is_default, description) VALUES ($1::uuid, 'made',"
	    " decode($2, 'hex'), true, 'the default, made by the first"
	    " backup')", 2, p, jq_ignore, NULL);
	kmd_strlcpy(b->rq.backup_key, bk->id, sizeof(b->rq.backup_key));
	p[0] = bk->id;
	pq_query(b->c, "SELECT l.node_id, encode(l.kek_wrapped, 'hex') AS"
	    " kek, k.key_id, encode(k.key_sealed, 'hex') AS sealed FROM"
	    " kmd_local l LEFT JOIN kmd_backup_keys k ON k.key_id::text = $1",
	    1, p, backup_key_read, b);
}

/* This node's KEK and the backup key: then the hsm seals. */
static void
backup_key_read(struct pq *db, PGresult *res, void *arg)
{
	struct brun	*b = arg;
	struct joiner	*j = b->j;
	struct hsm_bk	 bk;

	(void)db;
	if (op_result(j, res) == -1)
		return;
	if (PQntuples(res) == 0) {
		op_fail(j, "this node is in no cluster: it holds no keys to"
		    " back up");
		return;
	}
	if (pq_null(res, 0, "key_id") && b->rq.backup_key[0] != '\0') {
		op_fail(j, "no backup key %s on this node (backup-keys list)",
		    b->rq.backup_key);
		return;
	}
	if (pq_null(res, 0, "key_id")) {
		memset(&bk, 0, sizeof(bk));
		random_uuid(bk.id, sizeof(bk.id));
		op_call(j, IMSG_HSM_BK_MAKE, &bk, sizeof(bk), default_made);
		return;
	}
	kmd_strlcpy(b->h.info.node, pq_get(res, 0, "node_id"),
	    sizeof(b->h.info.node));
	kmd_strlcpy(b->kek_wrapped, pq_get(res, 0, "kek"),
	    sizeof(b->kek_wrapped));
	kmd_strlcpy(b->h.info.backup_key, pq_get(res, 0, "key_id"),
	    sizeof(b->h.info.backup_key));
	kmd_strlcpy(b->bk_sealed, pq_get(res, 0, "sealed"),
	    sizeof(b->bk_sealed));
	backup_seal(b);
}

static void
backup_create(struct joiner *j, const struct backup_req *rq)
{
	struct brun	*b;
	const char	*p[1];

	if ((b = calloc(1, sizeof(*b))) == NULL)
		fatal("%s", __func__);
	b->j = j;
	b->rq = *rq;
	b->bs.fd = -1;
	b->said = mono_ms();
	random_uuid(b->h.info.id, sizeof(b->h.info.id));
	kmd_strlcpy(b->h.info.description, rq->description,
	    sizeof(b->h.info.description));
	kmd_strlcpy(b->h.info.kmd_version, KMD_VERSION,
	    sizeof(b->h.info.kmd_version));
	kmd_strlcpy(b->h.info.origin, "made", sizeof(b->h.info.origin));
	j->op->reply = b;
	j->op->release = brun_release;
	/*
	 * Every read and write of the backup on a connection of its own,
	 * from the first: the joiner's main one may wait behind a lock (its
	 * users' watch behind one on kmd_users) for as long as it is held.
	 */
	b->c = joiner_conn(j, "kmd-backup", NULL, NULL);
	p[0] = b->rq.backup_key;
	pq_query(b->c, "SELECT l.node_id, encode(l.kek_wrapped, 'hex') AS"
	    " kek, k.key_id, encode(k.key_sealed, 'hex') AS sealed FROM"
	    " kmd_local l LEFT JOIN kmd_backup_keys k ON CASE WHEN $1 = ''"
	    " THEN k.is_default ELSE k.key_id::text = $1 END", 1, p,
	    backup_key_read, b);
}

static void
backup_recorded(struct pq *db, PGresult *res, void *arg)
{
	struct brun	*b = arg;
	struct joiner	*j = b->j;

	(void)db;
	if (op_result(j, res) == -1)
		return;
	log_info("backups create: backup %s complete: %lld bytes",
	    b->h.info.id, (long long)b->bs.size);
	backup_prune(j);
	kmd_strlcpy(j->op->me, b->h.info.id, sizeof(j->op->me));
	backup_answer(j, j->op->me);
}

/* The row goes with the file: the answer is the row as it was. */
static void
backup_deleted(struct pq *db, PGresult *res, void *arg)
{
	struct joiner	*j = arg;
	char		 path[KMD_PATH_MAX + 64];

	if (op_result(j, res) != -1 && PQntuples(res) == 1) {
		backup_path(j, j->op->me, "", path, sizeof(path));
		if (unlink(path) == -1 && errno != ENOENT)
			log_warn("backups delete: %s", path);
	}
	j->op->force = BACKUP_DELETE;
	backups_listed(db, res, arg);
}

/* backups create, list, get, delete, download, upload, restore. */
int
joiner_backups(struct kchan *ch, struct kmsg *m, void *arg)
{
	static const char *const what[BACKUP_OPS] = {
		"backups create", "backups list", "backups get",
		"backups delete", "backups download", "backups upload",
		"backups restore"
	};
	struct joiner		*j = arg;
	const struct backup_req	*rq = (const void *)m->data;
	const char		*p[1] = { rq->id };
	int			 fd = m->fd;

	if (rq->op < 0 || rq->op >= BACKUP_OPS)
		return -1;
	m->fd = -1;
	if (op_start(j, ch, m->hdr.reqid, what[rq->op]) == NULL) {
		if (fd != -1)
			close(fd);
		return 0;
	}
	j->op->force = rq->op;
	kmd_strlcpy(j->op->me, rq->id, sizeof(j->op->me));
	if (rq->op == BACKUP_UPLOAD) {
		backup_upload(j, fd);
		return 0;
	}
	if (fd != -1)
		close(fd);
	if (rq->op != BACKUP_LIST && rq->op != BACKUP_CREATE &&
	    !kmd_is_uuid(rq->id)) {
		op_fail(j, "which backup: give --id, a UUID (backups list)");
		return 0;
	}
	switch (rq->op) {
	case BACKUP_CREATE:
		backup_create(j, rq);
		break;
	case BACKUP_LIST:
		pq_query(j->db, "SELECT " SQL_BACKUP_COLS " FROM kmd_backups"
		    " ORDER BY created, backup_id", 0, NULL, backups_listed, j);
		break;
	case BACKUP_DELETE:
		j->op->count = 1;
		pq_query(j->db, "DELETE FROM kmd_backups WHERE backup_id::text"
		    " = $1 RETURNING " SQL_BACKUP_COLS, 1, p, backup_deleted,
		    j);
		break;
	case BACKUP_RESTORE:
		backup_restore(j, rq->id);
		break;
	default:
		backup_answer(j, rq->id);
		break;
	}
	return 0;
}
