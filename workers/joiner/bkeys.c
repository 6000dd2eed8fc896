/*
 * backup-keys: this node's keys for its backups (node-local, never
 * replicated).  The hsm worker makes, exports and imports them; this
 * file keeps their rows (kmd_backup_keys: each sealed under the root of
 * trust) and answers.  The first key made is the node's default; a
 * backup made without --backup-key uses it (made then if there is none).
 */
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "backup.h"
#include "joiner.h"
#include "log.h"
#include "util.h"

#define SQL_BKEY_COLS \
	"key_id, description, origin, " SQL_ISO("created") " AS created," \
	" coalesce(" SQL_ISO("exported") ", '') AS exported, is_default," \
	" encode(key_sealed, 'hex') AS sealed"

/* A row of kmd_backup_keys as its answer frame. */
static void
bkey_row(const PGresult *res, int i, struct bkey_info *bi)
{
	memset(bi, 0, sizeof(*bi));
	kmd_strlcpy(bi->id, pq_get(res, i, "key_id"), sizeof(bi->id));
	kmd_strlcpy(bi->description, pq_get(res, i, "description"),
	    sizeof(bi->description));
	kmd_strlcpy(bi->origin, pq_get(res, i, "origin"), sizeof(bi->origin));
	kmd_strlcpy(bi->created, pq_get(res, i, "created"),
	    sizeof(bi->created));
	kmd_strlcpy(bi->exported, pq_get(res, i, "exported"),
	    sizeof(bi->exported));
	bi->is_default = strcmp(pq_get(res, i, "is_default"), "t") == 0;
}

/* Every row of the answer, then the end: the operation is over. */
static void
bkeys_listed(struct pq *db, PGresult *res, void *arg)
{
	struct joiner		*j = arg;
	struct bkey_info	 bi;
	int			 i;

	(void)db;
	if (op_result(j, res) == -1)
		return;
	if (j->op->count && PQntuples(res) == 0) {
		op_fail(j, "no backup key %s on this node (backup-keys list)",
		    j->op->me);
		return;
	}
	for (i = 0; i < PQntuples(res); i++) {
		bkey_row(res, i, &bi);
		kchan_send(j->w->parent, IMSG_BKEY_INFO, j->op->reqid, -1, &bi,
		    sizeof(bi));
	}
	kchan_send(j->w->parent, IMSG_CTL_END, j->op->reqid, -1, NULL, 0);
	op_end(j);
}

/* Answer with the one key, j->op->me. */
static void
bkey_answer(struct joiner *j)
{
	const char	*p[1] = { j->op->me };

	j->op->count = 1;
	pq_query(j->db, "SELECT " SQL_BKEY_COLS " FROM kmd_backup_keys WHERE"
	    " key_id = $1::uuid", 1, p, bkeys_listed, j);
}

static void
bkey_stored(struct pq *db, PGresult *res, void *arg)
{
	struct joiner	*j = arg;

	(void)db;
	if (op_result(j, res) == -1)
		return;
	if (PQntuples(res) == 0) {
		op_fail(j, "backup key %s is on this node already", j->op->me);
		return;
	}
	log_info("%s: backup key %s", j->op->what, j->op->me);
	bkey_answer(j);
}

/*
 * A key the hsm made or imported: its row; the default if the node has
 * none.
 */
static void
bkey_store(struct joiner *j, const struct kmsg *m)
{
	const struct hsm_bk	*bk = (const void *)m->data;
	const char		*p[4];
	struct bkey_req		*rq = j->op->reply;

	kmd_strlcpy(j->op->me, bk->id, sizeof(j->op->me));
	p[0] = bk->id;
	p[1] = rq->description;
	p[2] = rq->op == BKEY_IMPORT ? "imported" : "made";
	p[3] = bk->sealed;
	pq_query(j->db, "INSERT INTO kmd_backup_keys (key_id, description,"
	    " origin, key_sealed, is_default) SELECT $1::uuid, $2, $3,"
	    " decode($4, 'hex'), NOT EXISTS (SELECT FROM kmd_backup_keys WHERE"
	    " is_default) ON CONFLICT (key_id) DO NOTHING RETURNING key_id", 4,
	    p, bkey_stored, j);
}

/* Exported: the mark on the row, then the file is the answer. */
static void
bkey_marked(struct pq *db, PGresult *res, void *arg)
{
	struct joiner		*j = arg;
	struct bkey_info	*bi = (void *)((char *)j->op->reply +
				    sizeof(struct bkey_req));
	char			 file[KMD_BKFILE_MAX];

	(void)db;
	if (op_result(j, res) == -1)
		return;
	if (PQntuples(res) == 1) {
		kmd_strlcpy(file, bi->file, sizeof(file));
		bkey_row(res, 0, bi);
		kmd_strlcpy(bi->file, file, sizeof(bi->file));
		sodium_memzero(file, sizeof(file));
	}
	kchan_send(j->w->parent, IMSG_BKEY_INFO, j->op->reqid, -1, bi,
	    sizeof(*bi));
	kchan_send(j->w->parent, IMSG_CTL_END, j->op->reqid, -1, NULL, 0);
	op_end(j);
}

static void
bkey_exported(struct joiner *j, const struct kmsg *m)
{
	const struct hsm_bk	*bk = (const void *)m->data;
	struct bkey_info	*bi = (void *)((char *)j->op->reply +
				    sizeof(struct bkey_req));
	const char		*p[1] = { j->op->me };

	kmd_strlcpy(bi->id, bk->id, sizeof(bi->id));
	kmd_strlcpy(bi->file, bk->file, sizeof(bi->file));
	log_info("backup-keys export: backup key %s exported", bk->id);
	pq_query(j->db, "UPDATE kmd_backup_keys SET exported = now() WHERE"
	    " key_id = $1::uuid RETURNING " SQL_BKEY_COLS, 1, p, bkey_marked,
	    j);
}

static void	bkey_deleted(struct pq *, PGresult *, void *);

/* The key's row, for export or delete. */
static void
bkey_found(struct pq *db, PGresult *res, void *arg)
{
	struct joiner	*j = arg;
	struct bkey_req	*rq = j->op->reply;
	struct hsm_bk	 bk;
	const char	*p[1] = { j->op->me };

	(void)db;
	if (op_result(j, res) == -1)
		return;
	if (PQntuples(res) != 1) {
		op_fail(j, "no backup key %s on this node (backup-keys list)",
		    j->op->me);
		return;
	}
	if (rq->op == BKEY_DELETE) {
		if (!rq->force && pq_get(res, 0, "exported")[0] == '\0' &&
		    strcmp(pq_get(res, 0, "origin"), "made") == 0) {
			op_fail(j, "backup key %s was never exported: this node"
			    " holds its only copy, and backups made with it"
			    " could never be restored elsewhere; export it"
			    " first (backup-keys export), or add --force",
			    j->op->me);
			return;
		}
		pq_query(j->db, "DELETE FROM kmd_backup_keys WHERE key_id ="
		    " $1::uuid", 1, p, bkey_deleted, j);
		return;
	}
	memset(&bk, 0, sizeof(bk));
	kmd_strlcpy(bk.id, j->op->me, sizeof(bk.id));
	kmd_strlcpy(bk.sealed, pq_get(res, 0, "sealed"), sizeof(bk.sealed));
	kmd_strlcpy(bk.passphrase, rq->passphrase, sizeof(bk.passphrase));
	op_call(j, IMSG_HSM_BK_EXPORT, &bk, sizeof(bk), bkey_exported);
	sodium_memzero(&bk, sizeof(bk));
}

static void
bkey_deleted(struct pq *db, PGresult *res, void *arg)
{
	struct joiner	*j = arg;

	(void)db;
	if (op_result(j, res) == -1)
		return;
	log_info("backup-keys delete: backup key %s deleted", j->op->me);
	kchan_send(j->w->parent, IMSG_CTL_END, j->op->reqid, -1, NULL, 0);
	op_end(j);
}

/* The passphrase's rules, before the hsm spends argon2id on it. */
static int
pass_ok(struct joiner *j, const struct bkey_req *rq)
{
	if (strlen(rq->passphrase) >= KMD_BKFILE_MIN_PASS)
		return 1;
	op_fail(j, "the passphrase needs at least %d characters",
	    KMD_BKFILE_MIN_PASS);
	return 0;
}

static void
bkey_release(struct jop *op)
{
	if (op->reply != NULL)
		sodium_memzero(op->reply, sizeof(struct bkey_req) +
		    sizeof(struct bkey_info));
}

/* backup-keys create, list, get, delete, export, import. */
int
joiner_bkeys(struct kchan *ch, struct kmsg *m, void *arg)
{
	static const char *const what[BKEY_OPS] = {
		"backup-keys create", "backup-keys list", "backup-keys get",
		"backup-keys delete", "backup-keys export",
		"backup-keys import"
	};
	struct joiner		*j = arg;
	struct bkey_req		*rq = (void *)m->data;
	struct hsm_bk		 bk;
	const char		*p[1];

	if (rq->op < 0 || rq->op >= BKEY_OPS)
		return -1;
	if (op_start(j, ch, m->hdr.reqid, what[rq->op]) == NULL) {
		sodium_memzero(rq, sizeof(*rq));
		return 0;
	}
	if ((j->op->reply = calloc(1, sizeof(*rq) +
	    sizeof(struct bkey_info))) == NULL)
		fatal("%s", __func__);
	memcpy(j->op->reply, rq, sizeof(*rq));
	sodium_memzero(rq, sizeof(*rq));
	rq = j->op->reply;
	j->op->release = bkey_release;
	kmd_strlcpy(j->op->me, rq->id, sizeof(j->op->me));
	if (rq->op != BKEY_LIST && rq->op != BKEY_CREATE &&
	    rq->op != BKEY_IMPORT && !kmd_is_uuid(rq->id)) {
		op_fail(j, "which backup key: give --id, a UUID (backup-keys"
		    " list)");
		return 0;
	}
	memset(&bk, 0, sizeof(bk));
	p[0] = j->op->me;
	switch (rq->op) {
	case BKEY_CREATE:
		random_uuid(bk.id, sizeof(bk.id));
		op_call(j, IMSG_HSM_BK_MAKE, &bk, sizeof(bk), bkey_store);
		break;
	case BKEY_IMPORT:
		if (!pass_ok(j, rq))
			break;
		kmd_strlcpy(bk.file, rq->file, sizeof(bk.file));
		kmd_strlcpy(bk.passphrase, rq->passphrase,
		    sizeof(bk.passphrase));
		op_call(j, IMSG_HSM_BK_IMPORT, &bk, sizeof(bk), bkey_store);
		break;
	case BKEY_LIST:
		pq_query(j->db, "SELECT " SQL_BKEY_COLS " FROM kmd_backup_keys"
		    " ORDER BY created, key_id", 0, NULL, bkeys_listed, j);
		break;
	case BKEY_GET:
		bkey_answer(j);
		break;
	case BKEY_EXPORT:
		if (!pass_ok(j, rq))
			break;
		/* FALLTHROUGH */
	case BKEY_DELETE:
		pq_query(j->db, "SELECT " SQL_BKEY_COLS " FROM kmd_backup_keys"
		    " WHERE key_id = $1::uuid", 1, p, bkey_found, j);
		break;
	}
	sodium_memzero(&bk, sizeof(bk));
	return 0;
}
