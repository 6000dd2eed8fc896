/*
 * kmctl backups and backup-keys: their typed requests, and the files
 * they move.  On the node, a backup file goes between kmctl and kmd as
 * an open file over the control socket (SCM_RIGHTS): upload passes the
 * file kmctl opened, download gets the one kmd opened and copies it to
 * --file.  With --url it is the body of POST backups/upload (at most
 * BACKUP_UPLOAD_MAX) or of GET backups/{id}/file (remote.c).
 */
#include <sys/stat.h>

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "kmctl.h"
#include "parser.h"
#include "proto.h"
#include "util.h"

static const char	*save_to;	/* download: --file */
int			 ctl_fd_in = -1;
int			 ctl_fd_out = -1;

static void
id_flag(char *dst, size_t len, const char *v)
{
	field(dst, len, v, "id");
	if (dst[0] != '\0' && !kmd_is_uuid(dst))
		die("--id: '%s' is not an id (a UUID; see the list)", dst);
}

/* A passphrase from the terminal (twice when it is new) or stdin. */
static void
passphrase(char *buf, size_t len, int twice)
{
	char	 again[KMD_PASSPHRASE_MAX];

	read_password("Passphrase: ", buf, len);
	if (twice && isatty(STDIN_FILENO)) {
		read_password("Again: ", again, sizeof(again));
		if (strcmp(again, buf) != 0)
			die("the passphrases do not match; nothing changed");
		explicit_bzero(again, sizeof(again));
	}
	if (strlen(buf) < KMD_BKFILE_MIN_PASS)
		die("the passphrase must have at least %d characters",
		    KMD_BKFILE_MIN_PASS);
}

/* An exported key's file, whole, into buf. */
static void
read_small(const char *path, char *buf, size_t len)
{
	FILE	*f;
	size_t	 n;

	if ((f = fopen(path, "re")) == NULL)
		die("--file: cannot open %s: %s", path, strerror(errno));
	n = fread(buf, 1, len, f);
	if (ferror(f) || n == len)
		die("--file: %s is not an exported backup key (longer than %zu"
		    " bytes, or unreadable)", path, len - 1);
	buf[n] = '\0';
	fclose(f);
	if (strlen(buf) != n)
		die("--file: %s is not an exported backup key (binary)", path);
}

int
build_bkeys(const struct parse_result *res, void *buf, size_t *len)
{
	struct bkey_req	*rq = buf;

	memset(rq, 0, sizeof(*rq));
	rq->op = res->action == A_BKEYS_CREATE ? BKEY_CREATE :
	    res->action == A_BKEYS_LIST ? BKEY_LIST :
	    res->action == A_BKEYS_GET ? BKEY_GET :
	    res->action == A_BKEYS_DELETE ? BKEY_DELETE :
	    res->action == A_BKEYS_EXPORT ? BKEY_EXPORT : BKEY_IMPORT;
	id_flag(rq->id, sizeof(rq->id), res->flag[F_ID]);
	field(rq->description, sizeof(rq->description),
	    res->flag[F_DESCRIPTION], "description");
	rq->force = res->flag[F_FORCE] != NULL;
	if (rq->op == BKEY_IMPORT) {
		read_small(res->flag[F_FILE], rq->file, sizeof(rq->file));
		passphrase(rq->passphrase, sizeof(rq->passphrase), 0);
	}
	if (rq->op == BKEY_EXPORT)
		passphrase(rq->passphrase, sizeof(rq->passphrase), 1);
	*len = sizeof(*rq);
	return 0;
}

int
build_backups(const struct parse_result *res, void *buf, size_t *len)
{
	struct backup_req	*rq = buf;
	struct stat		 st;
	const char		*f = res->flag[F_FILE];
	int			 fd;

	memset(rq, 0, sizeof(*rq));
	rq->op = res->action == A_BACKUPS_CREATE ? BACKUP_CREATE :
	    res->action == A_BACKUPS_LIST ? BACKUP_LIST :
	    res->action == A_BACKUPS_GET ? BACKUP_GET :
	    res->action == A_BACKUPS_DELETE ? BACKUP_DELETE :
	    res->action == A_BACKUPS_DOWNLOAD ? BACKUP_DOWNLOAD :
	    res->action == A_BACKUPS_UPLOAD ? BACKUP_UPLOAD : BACKUP_RESTORE;
	id_flag(rq->id, sizeof(rq->id), res->flag[F_ID]);
	id_flag(rq->backup_key, sizeof(rq->backup_key),
	    res->flag[F_BACKUPKEY]);
	field(rq->description, sizeof(rq->description),
	    res->flag[F_DESCRIPTION], "description");
	if (rq->op == BACKUP_UPLOAD) {
		if ((fd = open(f, O_RDONLY | O_CLOEXEC)) == -1 ||
		    fstat(fd, &st) == -1)
			die("--file: cannot open %s: %s", f, strerror(errno));
		if (!S_ISREG(st.st_mode))
			die("--file: %s is not a regular file", f);
		ctl_fd_in = fd;
	}
	if (rq->op == BACKUP_DOWNLOAD) {
		if (access(f, F_OK) == 0 || errno != ENOENT)
			die("--file: %s exists (remove it, or give another"
			    " name)", f);
		save_to = f;
	}
	*len = sizeof(*rq);
	return 0;
}

/* download: --file made (new, 0600); its fd. */
int
backup_save_open(void)
{
	int	 to;

	if ((to = open(save_to, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC,
	    0600)) == -1)
		die("--file: cannot make %s: %s", save_to, strerror(errno));
	return to;
}

/* ... removed: a download is whole or absent */
void
backup_save_discard(int to)
{
	close(to);
	unlink(save_to);
}

/* ... kept once synced, or removed and the reason said (bad). */
void
backup_save_close(int to, int bad, const char *why)
{
	int	 e = errno;

	if (!bad) {
		if (fsync(to) == 0 && close(to) == 0)
			return;
		e = errno;
	}
	backup_save_discard(to);
	die("--file: %s not kept: %s", save_to, why != NULL ? why :
	    strerror(e));
}

/* download: the file kmd passed, copied to --file. */
void
backup_save(void)
{
	char	 buf[65536];
	ssize_t	 n;
	int	 to, bad = 0;

	if (save_to == NULL)
		return;
	if (ctl_fd_out == -1)
		die("kmd sent no file");
	to = backup_save_open();
	while (!bad && (n = read(ctl_fd_out, buf, sizeof(buf))) != 0) {
		if (n == -1 && errno == EINTR)
			continue;
		bad = n == -1 || write(to, buf, (size_t)n) != n;
	}
	backup_save_close(to, bad, NULL);
	close(ctl_fd_out);
	ctl_fd_out = -1;
}

/* The REST path of a row whose path has an {id}: PREFIX/ID[SUFFIX]. */
static int
rest_path(struct rest_req *rr, const char *prefix, const char *id,
    const char *suffix)
{
	int	 n;

	n = snprintf(rr->path, sizeof(rr->path), "%s/%s%s", prefix, id,
	    suffix);
	return n < 0 || (size_t)n >= sizeof(rr->path) ? -1 : 0;
}

/*
 * backup-keys over REST: backup-keys[/ID[/export]|/import], the body
 * with what the op takes (the exported file as a string).
 */
int
rest_bkeys(const void *req, struct rest_req *rr)
{
	const struct bkey_req	*rq = req;
	const char		*kv[6];

	switch (rq->op) {
	case BKEY_GET:
		return rest_path(rr, "backup-keys", rq->id, "");
	case BKEY_DELETE:
		return rest_path(rr, "backup-keys", rq->id, rq->force ?
		    "?force=1" : "");
	case BKEY_EXPORT:
		kv[0] = "passphrase";
		kv[1] = rq->passphrase;
		return rest_path(rr, "backup-keys", rq->id, "/export") == -1 ?
		    -1 : rest_body(rr, kv, 1);
	case BKEY_IMPORT:
		kv[0] = "file";
		kv[1] = rq->file;
		kv[2] = "passphrase";
		kv[3] = rq->passphrase;
		kv[4] = "description";
		kv[5] = rq->description[0] ? rq->description : NULL;
		return rest_body(rr, kv, 3);
	case BKEY_CREATE:
		kv[0] = "description";
		kv[1] = rq->description[0] ? rq->description : NULL;
		return rest_body(rr, kv, 1);
	default:
		return 0;
	}
}

/* backups over REST: backups[/ID[/restore]], create's body */
int
rest_backups(const void *req, struct rest_req *rr)
{
	const struct backup_req	*rq = req;
	const char		*kv[4];

	switch (rq->op) {
	case BACKUP_GET:
	case BACKUP_DELETE:
		return rest_path(rr, "backups", rq->id, "");
	case BACKUP_RESTORE:
		return rest_path(rr, "backups", rq->id, "/restore");
	case BACKUP_DOWNLOAD:
		return rest_path(rr, "backups", rq->id, "/file");
	case BACKUP_CREATE:
		kv[0] = "backupKey";
		kv[1] = rq->backup_key[0] ? rq->backup_key : NULL;
		kv[2] = "description";
		kv[3] = rq->description[0] ? rq->description : NULL;
		return rest_body(rr, kv, 2);
	default:
		return 0;
	}
}
