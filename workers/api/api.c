/*
 * api: the HTTPS REST listener.  It runs unprivileged in an empty chroot,
 * holds no database credentials and no keys but its own interface key:
 * the parent passes it the listening socket and certificate
 * (IMSG_API_LISTEN), and every operation goes back to the parent as the
 * typed request kmctl would send, so both reach the same code.
 */
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "api.h"
#include <sodium.h>

#include "log.h"
#include "util.h"

static struct areq *
areq_find(struct api *a, uint32_t id)
{
	struct areq	*r;

	TAILQ_FOREACH(r, &a->pending, entry)
		if (r->id == id)
			return r;
	return NULL;
}

static void
areq_done(struct api *a, struct areq *r, int ok, const char *msg)
{
	TAILQ_REMOVE(&a->pending, r, entry);
	http_finish(a, r, ok, msg);
	if (r->fd != -1)
		close(r->fd);
	reply_clear(&r->r);
	free(r);
}

/*
 * The listening socket and certificate.  A malformed or unusable one is
 * refused like any bad frame from the parent: the dispatcher ends this
 * worker with the reason (worker.c).
 */
static int
api_listen_msg(struct kchan *ch, struct kmsg *m, void *arg)
{
	struct api	*a = arg;
	struct api_conf	*ac;
	int		 r = -1;

	(void)ch;
	if ((ac = sodium_malloc(sizeof(*ac))) == NULL)
		fatal("%s", __func__);
	memcpy(ac, m->data, sizeof(*ac));
	if (TERMINATED(ac->key) && TERMINATED(ac->cert) &&
	    ac->token_lifetime >= 10 && ac->token_lifetime <= 86400 &&
	    ac->max_conn >= 4 && ac->max_conn <= 65536 &&
	    ac->read_timeout >= 2 && ac->read_timeout <= 300 &&
	    ac->login_rate >= 1 && ac->login_rate <= 10000) {
		r = http_start(a, m->fd, ac);
		m->fd = -1;		/* http_start() took it */
		if (r == -1)
			log_warnx("cannot serve the API: no usable"
			    " certificate and key");
	}
	sodium_free(ac);
	return r;
}

/* A reply frame for one of our requests; the last (reply_last) ends it. */
static int
api_reply(struct kchan *ch, struct kmsg *m, void *arg)
{
	struct api	*a = arg;
	struct areq	*r;
	const char	*msg;

	(void)ch;
	if ((r = areq_find(a, m->hdr.reqid)) == NULL) {
		log_debug("%s: no request %u for %s", __func__, m->hdr.reqid,
		    imsg_type_name(m->hdr.type));
		return 0;
	}
	switch (m->hdr.type) {
	case IMSG_CTL_END:
		areq_done(a, r, 1, NULL);
		return 0;
	case IMSG_CTL_ERROR:
		if (reply_error(m, &msg) == -1)
			msg = "kmd sent a malformed error";
		areq_done(a, r, 0, msg);
		return 0;
	}
	/* backups download: the file comes with its backup's row */
	if (r->kind == R_DOWNLOAD && m->hdr.type == IMSG_BACKUP_INFO &&
	    m->fd != -1 && r->fd == -1) {
		r->fd = m->fd;
		m->fd = -1;
	}
	if (reply_frame(&r->r, m) == -1) {
		log_warnx("%s: unexpected %s for request %u", __func__,
		    imsg_type_name(m->hdr.type), r->id);
		areq_done(a, r, 0, "kmd sent an unexpected reply");
		return 0;
	}
	if (reply_last(m->hdr.type))
		areq_done(a, r, m->hdr.type != IMSG_AUTH_RESULT ||
		    r->r.auth.ok == 1, NULL);
	return 0;
}

static int
api_init(struct worker *w)
{
	struct api	*a;

	if ((a = calloc(1, sizeof(*a))) == NULL)
		return -1;
	a->w = w;
	TAILQ_INIT(&a->pending);
	w->ctx = a;
	return 0;
}

static void
api_fini(struct worker *w)
{
	struct api	*a = w->ctx;
	struct areq	*r;

	while ((r = TAILQ_FIRST(&a->pending)) != NULL)
		areq_done(a, r, 0, "kmd is shutting down; try again");
	http_free(a);
	sodium_memzero(a->tokens, sizeof(a->tokens));
	free(a);
}

/* A user's password changed or it is gone: its tokens end. */
static int
api_user_changed(struct kchan *ch, struct kmsg *m, void *arg)
{
	struct user_changed	 uc;
	int			 n;

	(void)ch;
	memcpy(&uc, m->data, sizeof(uc));
	if (!TERMINATED(uc.name))
		return -1;
	if ((n = token_end_user(arg, uc.name)) > 0)
		log_info("ended %d token(s) of user %s: its password changed"
		    " or it is gone", n, uc.name);
	return 0;
}

#define FP	FROM(PROC_PARENT)

/* Every reply frame is read by common/reply.c, which checks its size. */
#define API_REPLY_ROW(n, len, from)	{ IMSG_##n, KMSG_VARLEN, FP, api_reply },
static const struct kmsg_handler api_handlers[] = {
	{ IMSG_CONF_VERBOSE, sizeof(struct conf_reload), FP,
	    worker_conf_reload },
	{ IMSG_API_LISTEN, sizeof(struct api_conf), FP, api_listen_msg },
	{ IMSG_USER_CHANGED, sizeof(struct user_changed), FP,
	    api_user_changed },
	REPLIES(API_REPLY_ROW)
	{ IMSG_CTL_PROC, KMSG_VARLEN, FP, api_reply },
};

const struct worker_def api_worker = {
	PROC_API, api_handlers,
	sizeof(api_handlers) / sizeof(api_handlers[0]), api_init, api_fini,
	NULL
};
