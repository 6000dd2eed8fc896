/*
 * The catalogue of this node's backups (kmd_backups) and their files'
 * names: what backups list, get and delete answer, the end of create
 * and upload, and the pruning to "backup keep".
 */
#include <dirent.h>
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

/* A backup's path in the node's directory: <dir>/<id><suffix>. */
void
backup_path(struct joiner *j, const char *id, const char *suffix,
    char *buf, size_t len)
{
	snprintf(buf, len, "%s/%s%s%s", j->w->conf.backups, id, BACKUP_SUFFIX,
	    suffix);
}

static void
backup_row(const PGresult *res, int i, struct backup_info *bi)
{
	memset(bi, 0, sizeof(*bi));
	kmd_strlcpy(bi->id, pq_get(res, i, "backup_id"), sizeof(bi->id));
	kmd_strlcpy(bi->description, pq_get(res, i, "description"),
	    sizeof(bi->description));
	kmd_strlcpy(bi->backup_key, pq_get(res, i, "backup_key"),
	    sizeof(bi->backup_key));
	kmd_strlcpy(bi->origin, pq_get(res, i, "origin"), sizeof(bi->origin));
	kmd_strlcpy(bi->node, pq_get(res, i, "made_on"), sizeof(bi->node));
	kmd_strlcpy(bi->kmd_version, pq_get(res, i, "kmd_version"),
	    sizeof(bi->kmd_version));
	kmd_strlcpy(bi->created, pq_get(res, i, "created"),
	    sizeof(bi->created));
	bi->schema = atoi(pq_get(res, i, "schema_version"));
	bi->size = strtoll(pq_get(res, i, "size"), NULL, 10);
	bi->keys = strtoll(pq_get(res, i, "keys"), NULL, 10);
	bi->users = strtoll(pq_get(res, i, "users"), NULL, 10);
}

/* Backups beyond "backup keep", the oldest first: their files go. */
static void
pruned(struct pq *db, PGresult *res, void *arg)
{
	struct joiner	*j = arg;
	char		 path[KMD_PATH_MAX + 64];
	int		 i;

	(void)db;
	if (!pq_ok(res))
		return;
	for (i = 0; i < PQntuples(res); i++) {
		backup_path(j, PQgetvalue(res, i, 0), "", path, sizeof(path));
		if (unlink(path) == -1 && errno != ENOENT)
			log_warn("backups: %s", path);
		log_info("backups: backup %s deleted (backup keep %d)",
		    PQgetvalue(res, i, 0), j->w->conf.backup_keep);
	}
}

void
backup_prune(struct joiner *j)
{
	char		 keep[16];
	const char	*p[1] = { keep };

	snprintf(keep, sizeof(keep), "%d", j->w->conf.backup_keep);
	pq_query(j->db, "DELETE FROM kmd_backups WHERE backup_id IN (SELECT"
	    " backup_id FROM kmd_backups ORDER BY created DESC, backup_id"
	    " OFFSET $1::int) RETURNING backup_id", 1, p, pruned, j);
}

/* Every row of the answer, then the end (a download: the file too). */
void
backups_listed(struct pq *db, PGresult *res, void *arg)
{
	struct joiner		*j = arg;
	struct backup_info	 bi;
	char			 path[KMD_PATH_MAX + 64];
	int			 i, fd = -1;

	(void)db;
	if (op_result(j, res) == -1)
		return;
	if (j->op->count && PQntuples(res) == 0) {
		op_fail(j, "no backup %s on this node (backups list)",
		    j->op->me);
		return;
	}
	for (i = 0; i < PQntuples(res); i++) {
		backup_row(res, i, &bi);
		if (j->op->force == BACKUP_DOWNLOAD) {
			backup_path(j, bi.id, "", path, sizeof(path));
			if ((fd = open(path, O_RDONLY | O_CLOEXEC)) == -1) {
				op_fail(j, "cannot open %s: %s", path,
				    strerror(errno));
				return;
			}
		}
		kchan_send(j->w->parent, IMSG_BACKUP_INFO, j->op->reqid, fd,
		    &bi, sizeof(bi));
	}
	kchan_send(j->w->parent, IMSG_CTL_END, j->op->reqid, -1, NULL, 0);
	if (j->op->force == BACKUP_DELETE)
		log_info("backups delete: backup %s deleted", j->op->me);
	op_end(j);
}

void
backup_answer(struct joiner *j, const char *id)
{
	const char	*p[1] = { id };

	j->op->count = 1;
	pq_query(j->db, "SELECT " SQL_BACKUP_COLS " FROM kmd_backups WHERE"
	    " backup_id::text = $1", 1, p, backups_listed, j);
}


/*
 * At start: a backup file the catalogue lacks (kept through a services
 * reset, or put in the directory by hand) is listed again, as found; a
 * .part left by a backup that was cut off goes.
 */
void
backup_rescan(struct joiner *j)
{
	DIR		*d;
	struct dirent	*e;
	struct bstream	 bs;
	struct bhead	 h;
	char		 path[KMD_PATH_MAX + 300], err[KMD_ERR_MAX];
	size_t		 l;
	off_t		 size;

	if ((d = opendir(j->w->conf.backups)) == NULL) {
		log_warn("backups: %s", j->w->conf.backups);
		return;
	}
	while ((e = readdir(d)) != NULL) {
		snprintf(path, sizeof(path), "%s/%s", j->w->conf.backups,
		    e->d_name);
		l = strlen(e->d_name);
		if (l > 5 && strcmp(e->d_name + l - 5, ".part") == 0) {
			log_info("backups: %s, left by a backup cut off,"
			    " deleted", path);
			unlink(path);
			continue;
		}
		memset(&bs, 0, sizeof(bs));
		if (l <= strlen(BACKUP_SUFFIX) || strcmp(e->d_name + l -
		    strlen(BACKUP_SUFFIX), BACKUP_SUFFIX) != 0 ||
		    (bs.fd = open(path, O_RDONLY | O_CLOEXEC)) == -1)
			continue;
		if (bfile_read_head(&bs, &h, err, sizeof(err)) == -1 ||
		    strncmp(e->d_name, h.info.id, l - strlen(BACKUP_SUFFIX)) !=
		    0) {
			log_warnx("backups: %s is not a backup kmd can list",
			    path);
			bfile_close(&bs);
			continue;
		}
		size = lseek(bs.fd, 0, SEEK_END);
		bfile_close(&bs);
		backup_insert(j, &h, size, "found", NULL, NULL);
	}
	closedir(d);
}

/*
 * A backup's row, from its header and the file's size; cb hears the id,
 * or no row when it was there already.
 */
void
backup_insert(struct joiner *j, const struct bhead *h, int64_t size,
    const char *origin, pq_cb cb, void *arg)
{
	const struct backup_info	*i = &h->info;
	char				 n[4][24];
	const char			*p[11];

	snprintf(n[0], sizeof(n[0]), "%d", i->schema);
	snprintf(n[1], sizeof(n[1]), "%lld", (long long)size);
	snprintf(n[2], sizeof(n[2]), "%lld", (long long)i->keys);
	snprintf(n[3], sizeof(n[3]), "%lld", (long long)i->users);
	p[0] = i->id;
	p[1] = i->description;
	p[2] = i->backup_key;
	p[3] = kmd_is_uuid(i->node) ? i->node : NULL;
	p[4] = i->kmd_version;
	p[5] = n[0];
	p[6] = n[1];
	p[7] = n[2];
	p[8] = i->created;
	p[9] = n[3];
	p[10] = origin;
	pq_query(j->db, "INSERT INTO kmd_backups (backup_id, description,"
	    " backup_key, made_on, kmd_version, schema_version, size, keys,"
	    " created, users, origin) VALUES ($1::uuid, $2, $3::uuid,"
	    " $4::uuid, left($5, 31), $6::int, $7::bigint, $8::bigint,"
	    " $9::timestamptz, $10::bigint, $11) ON CONFLICT DO NOTHING"
	    " RETURNING backup_id", 11, p, cb != NULL ? cb : jq_ignore, arg);
}
