/*
 * The REST form of backups and backup keys, for an admin's token:
 *   GET|POST backup-keys, GET|DELETE backup-keys/{id} (?force=true),
 *   POST backup-keys/{id}/export {"passphrase"} (the answer is the
 *   exported key's JSON), POST backup-keys/import {"file", "passphrase",
 *   "description"};
 *   GET|POST backups {"backupKey", "description"}, GET|DELETE
 *   backups/{id}, POST backups/{id}/restore;
 *   GET backups/{id}/file: the file itself (application/octet-stream),
 *   which the joiner opens and passes here with the backup's row;
 *   POST backups/upload: a file as the body, up to BACKUP_UPLOAD_MAX
 *   (conns.c says on which connections), written into an anonymous
 *   memory file, sealed, that goes to the joiner as kmctl's own file
 *   would over the control socket: the parent takes only such a file
 *   from here, and the joiner checks it the same way.
 * No other body here is larger than BODY_MAX.
 */
#include <sys/mman.h>

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/http.h>
#include <sodium.h>

#include "api.h"
#include "body.h"
#include "util.h"

/* The {id} of PREFIX/{id}[/TAIL]; -1 when the path is no such one. */
static int
path_id(const char *path, const char *prefix, const char *tail, char *id,
    size_t len)
{
	const char	*s = path + strlen(prefix);
	size_t		 n;

	if (strncmp(path, prefix, strlen(prefix)) != 0 || *s++ != '/')
		return -1;
	n = strcspn(s, "/");
	if (n == 0 || n >= len || strcmp(s + n, tail) != 0)
		return -1;
	memcpy(id, s, n);
	id[n] = '\0';
	return 0;
}

/* The body into a typed request; 0, or -1 with the client answered. */
static int
read_typed(struct evhttp_request *req, int (*parse)(const char *, size_t,
    void *, char *, size_t), void *rq, const struct timespec *t0,
    const char *user)
{
	char	 body[BODY_MAX], err[256];
	size_t	 len;
	int	 r;

	if (read_body(req, body, &len) == -1) {
		respond_error(req, 413, "the request body is too large", t0,
		    user);
		return -1;
	}
	r = parse(body, len, rq, err, sizeof(err));
	sodium_memzero(body, sizeof(body));
	if (r == -1)
		respond_error(req, 400, err, t0, user);
	return r;
}

static int
parse_bkey(const char *b, size_t l, void *rq, char *e, size_t el)
{
	return body_bkey(b, l, rq, e, el);
}

static int
parse_backup(const char *b, size_t l, void *rq, char *e, size_t el)
{
	return body_backup(b, l, rq, e, el);
}

void
do_bkeys(struct api *a, struct evhttp_request *req, const char *user,
    const struct timespec *t0)
{
	static struct bkey_req	 rq;
	const char		*path = evhttp_uri_get_path(
				    evhttp_request_get_evhttp_uri(req));
	enum evhttp_cmd_type	 cmd = evhttp_request_get_command(req);
	const char		*root = API "/backup-keys";
	enum areq_kind		 kind = R_BKEY;
	int			 force = 0;
	char			 err[128];

	memset(&rq, 0, sizeof(rq));
	if (strcmp(path, root) == 0)
		rq.op = cmd == EVHTTP_REQ_POST ? BKEY_CREATE : BKEY_LIST;
	else if (strcmp(path, API "/backup-keys/import") == 0)
		rq.op = BKEY_IMPORT;
	else if (path_id(path, root, "/export", rq.id, sizeof(rq.id)) == 0)
		rq.op = BKEY_EXPORT;
	else if (path_id(path, root, "", rq.id, sizeof(rq.id)) == 0)
		rq.op = cmd == EVHTTP_REQ_DELETE ? BKEY_DELETE : BKEY_GET;
	else {
		respond_error(req, 404, "no such resource", t0, user);
		return;
	}
	if (rq.op == BKEY_DELETE && query_int(req, "force", 0, 1, &force, err,
	    sizeof(err)) == -1) {
		respond_error(req, 400, "force: 0 or 1", t0, user);
		return;
	}
	rq.force = force;
	if (cmd == EVHTTP_REQ_POST && read_typed(req, parse_bkey, &rq, t0,
	    user) == -1)
		return;
	if (rq.op == BKEY_LIST)
		kind = R_BKEYS;
	else if (rq.op == BKEY_EXPORT)
		kind = R_BKEYFILE;
	else if (rq.op == BKEY_DELETE)
		kind = R_USERDONE;
	api_send(a, req, kind, user, IMSG_CTL_BACKUP_KEYS, &rq, sizeof(rq));
	sodium_memzero(&rq, sizeof(rq));
}

/*
 * POST backups/upload: the body into a memory file (drained as it is
 * written, so it is not held twice), which goes with the request.
 */
static void
upload(struct api *a, struct evhttp_request *req, struct backup_req *rq,
    const char *user, const struct timespec *t0)
{
	struct evbuffer	*in = evhttp_request_get_input_buffer(req);
	int		 fd, n = 0;

	if (evbuffer_get_length(in) == 0) {
		respond_error(req, 400, "the body must be the backup file", t0,
		    user);
		return;
	}
	if ((fd = memfd_create("kmd-upload", MFD_CLOEXEC |
	    MFD_ALLOW_SEALING)) == -1) {
		respond_error(req, 503, "cannot hold the file; try again", t0,
		    user);
		return;
	}
	while (evbuffer_get_length(in) > 0 &&
	    (n = evbuffer_write(in, fd)) > 0)
		;
	/* sealed: the parent takes no file the api could still change */
	if (n <= 0 || lseek(fd, 0, SEEK_SET) == -1 || fcntl(fd, F_ADD_SEALS,
	    F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_WRITE | F_SEAL_SEAL) == -1) {
		log_warnx("backups upload: cannot hold the file: %s",
		    strerror(errno));
		close(fd);
		respond_error(req, 503, "cannot hold the file; try again", t0,
		    user);
		return;
	}
	rq->op = BACKUP_UPLOAD;
	api_send_fd(a, req, R_BACKUP, user, IMSG_CTL_BACKUPS, fd, rq,
	    sizeof(*rq));
}

void
do_backups(struct api *a, struct evhttp_request *req, const char *user,
    const struct timespec *t0)
{
	struct backup_req	 rq;
	const char		*path = evhttp_uri_get_path(
				    evhttp_request_get_evhttp_uri(req));
	enum evhttp_cmd_type	 cmd = evhttp_request_get_command(req);
	const char		*root = API "/backups";
	enum areq_kind		 kind = R_BACKUP;

	memset(&rq, 0, sizeof(rq));
	if (strcmp(path, root) == 0)
		rq.op = cmd == EVHTTP_REQ_POST ? BACKUP_CREATE : BACKUP_LIST;
	else if (strcmp(path, API "/backups/upload") == 0 &&
	    cmd == EVHTTP_REQ_POST) {
		upload(a, req, &rq, user, t0);
		return;
	} else if (path_id(path, root, "/file", rq.id, sizeof(rq.id)) == 0) {
		rq.op = BACKUP_DOWNLOAD;
		kind = R_DOWNLOAD;
	} else if (path_id(path, root, "/restore", rq.id, sizeof(rq.id)) == 0)
		rq.op = BACKUP_RESTORE;
	else if (path_id(path, root, "", rq.id, sizeof(rq.id)) == 0)
		rq.op = cmd == EVHTTP_REQ_DELETE ? BACKUP_DELETE : BACKUP_GET;
	else {
		respond_error(req, 404, "no such resource", t0, user);
		return;
	}
	if (rq.op == BACKUP_CREATE && read_typed(req, parse_backup, &rq, t0,
	    user) == -1)
		return;
	if (rq.op == BACKUP_LIST)
		kind = R_BACKUPS;
	else if (rq.op == BACKUP_DELETE)
		kind = R_USERDONE;
	api_send(a, req, kind, user, IMSG_CTL_BACKUPS, &rq, sizeof(rq));
}
