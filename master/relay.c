/*
 * The parent's relay: a client's request (kmctl on the control socket,
 * or the api worker) goes to the worker that serves it under a request id
 * the parent assigns, and the worker's reply frames go back to that
 * client until its END or ERROR.  Between workers it carries the joiner's
 * relayed calls of the hsm worker (HSM_RELAY_CALLS; the keys' calls go
 * over the two workers' own link), and it answers the requests that are the
 * parent's own (status, services reset) and what the workers ask of it
 * (TLS files, the root-of-trust file, pg_ident).  Every table here is
 * made from the operation catalogue (common/ops.h).
 */
#include <sys/stat.h>
#include <sys/types.h>

#include <event2/event.h>
#include <fcntl.h>
#include <sodium.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "kmd.h"
#include "log.h"
#include "nodestatus.h"
#include "status.h"
#include "util.h"

static const struct route {
	uint16_t	 ctl_type;
	enum proc_id	 worker;
	uint16_t	 worker_type;
} routes[] = {
#define R_ROUTE(w, n, len, from, fn)	{ IMSG_CTL_##n, w, IMSG_##n },
	REQUESTS(R_ROUTE)
};

/* Client 0 is the api worker, whose requests are routed like kmctl's. */
#define API_CLIENT	0

/* Where replies to a client go: its socket, or the api worker. */
static struct kchan *
reply_chan(struct parent *p, uint32_t id)
{
	struct ctl_client	*cl;
	struct child		*api;

	if (id == API_CLIENT)
		return (api = proc_child(p, PROC_API)) != NULL ? api->ch : NULL;
	TAILQ_FOREACH(cl, &p->clients, entry)
		if (cl->id == id)
			return cl->ch;
	return NULL;
}

/* A client hung up: what it waits for is dropped, late replies too. */
void
relay_client_gone(struct parent *p, uint32_t id)
{
	struct pending	*pe, *tmp;

	TAILQ_FOREACH_SAFE(pe, &p->pending, entry, tmp)
		if (pe->client == id) {
			TAILQ_REMOVE(&p->pending, pe, entry);
			free(pe);
		}
}

/* A worker went away: its pending requests get an error. */
void
relay_worker_gone(struct parent *p, enum proc_id worker)
{
	struct pending		*pe, *tmp;
	struct kchan		*to;

	TAILQ_FOREACH_SAFE(pe, &p->pending, entry, tmp) {
		if (pe->client == API_CLIENT && worker == PROC_API) {
			TAILQ_REMOVE(&p->pending, pe, entry);
			free(pe);
			continue;
		}
		if (pe->worker != worker)
			continue;
		if ((to = reply_chan(p, pe->client)) != NULL)
			kchan_senderr(to, pe->client_reqid, "the %s process"
			    " restarted before answering; try again",
			    proc_name(worker));
		TAILQ_REMOVE(&p->pending, pe, entry);
		free(pe);
	}
}

/* status: the parent and each process of the table, as it stands. */
int
ctl_status(struct kchan *ch, struct kmsg *m, void *arg)
{
	struct parent	*p = arg;
	struct ctl_proc	 cp;
	int64_t		 now = mono_now();
	size_t		 i;

	memset(&cp, 0, sizeof(cp));
	kmd_strlcpy(cp.role, proc_name(PROC_PARENT), sizeof(cp.role));
	kmd_strlcpy(cp.user, "root", sizeof(cp.user));
	cp.pid = getpid();
	cp.uptime = now - p->started;
	kchan_send(ch, IMSG_CTL_PROC, m->hdr.reqid, -1, &cp, sizeof(cp));
	for (i = 0; i < proc_table_len; i++) {
		const struct child *c = &p->children[proc_table[i].id];

		memset(&cp, 0, sizeof(cp));
		kmd_strlcpy(cp.role, proc_name(c->def->id), sizeof(cp.role));
		kmd_strlcpy(cp.user, c->def->worker != NULL ? c->user :
		    p->conf.dbuser, sizeof(cp.user));
		cp.pid = c->pid;
		cp.restarts = c->restarts;
		cp.uptime = c->pid > 0 ? now - c->started : 0;
		kchan_send(ch, IMSG_CTL_PROC, m->hdr.reqid, -1, &cp,
		    sizeof(cp));
	}
	return kchan_send(ch, IMSG_CTL_END, m->hdr.reqid, -1, NULL, 0);
}

/*
 * services reset: the answer goes out first (the client learns the node
 * is being reset and may poll cluster info); the reset itself runs from
 * the event loop a moment later, once the answer is on its way.
 */
static void
reset_cb(evutil_socket_t fd, short ev, void *arg)
{
	struct parent	*p = arg;

	(void)fd;
	(void)ev;
	p->reset(p);
}

int
ctl_reset(struct kchan *ch, struct kmsg *m, void *arg)
{
	struct parent		*p = arg;
	struct cluster_info	 ci;
	struct timeval		 tv = { 0, 300 * 1000 };

	if (p->resetting)
		return kchan_senderr(ch, m->hdr.reqid, "services reset: a"
		    " reset is under way already");
	p->resetting = 1;
	memset(&ci, 0, sizeof(ci));
	kmd_strlcpy(ci.code, ns_code(NS_NONE), sizeof(ci.code));
	kmd_strlcpy(ci.desc, ns_desc(NS_NONE), sizeof(ci.desc));
	ci.nodecount = -1;
	kmd_strlcpy(ci.progress, "resetting: the node restarts with no data;"
	    " cluster info answers again in a few seconds",
	    sizeof(ci.progress));
	log_warnx("services reset: requested; this node's data, keys and"
	    " cluster configuration are being wiped");
	kchan_send(ch, IMSG_CLUSTER_INFO_REPLY, m->hdr.reqid, -1, &ci,
	    sizeof(ci));
	kchan_send(ch, IMSG_CTL_END, m->hdr.reqid, -1, NULL, 0);
	event_base_once(p->base, -1, EV_TIMEOUT, reset_cb, p, &tv);
	return 0;
}

/*
 * hsm says whether the HSM works: kept, and told to replmon (alarms),
 * now and at each of its starts (proc.c).  Checked before it is kept:
 * a malformed one would reach every later replmon, which would refuse
 * it and exit, start after start.
 */
static int
worker_hsm_status(struct kchan *ch, struct kmsg *m, void *arg)
{
	struct child		*c = arg, *rm;
	struct hsm_status	 hs;

	(void)ch;
	memcpy(&hs, m->data, sizeof(hs));
	c->p->hsm_status = hs;
	if ((rm = proc_child(c->p, PROC_REPLMON)) != NULL && rm->ch != NULL)
		kchan_send(rm->ch, IMSG_HSM_STATUS, 0, -1, &c->p->hsm_status,
		    sizeof(c->p->hsm_status));
	return 0;
}

/* A user changed or is gone: the api, and auth.c, end its tokens. */
static int
worker_user_changed(struct kchan *ch, struct kmsg *m, void *arg)
{
	struct child	*c = arg, *api;

	(void)ch;
	auth_user_ended(c->p, ((const struct user_changed *)m->data)->name);
	if ((api = proc_child(c->p, PROC_API)) != NULL && api->ch != NULL)
		kchan_send(api->ch, IMSG_USER_CHANGED, 0, -1, m->data,
		    sizeof(struct user_changed));
	return 0;
}

/* Tell the joiner that a hsm request failed. */
static void
joiner_error(struct parent *p, uint32_t reqid, const char *msg)
{
	struct child	*j = proc_child(p, PROC_JOINER);

	if (j != NULL && j->ch != NULL)
		kchan_send(j->ch, IMSG_HSM_ERROR, reqid, -1, msg,
		    strlen(msg) + 1);
}

/* rot-keys rotate to a new software key: append it, pass the file again. */
static int
worker_rot_grow(struct kchan *ch, struct kmsg *m, void *arg)
{
	struct child	*c = arg;
	char		 err[KMD_ERR_MAX - 32], msg[KMD_ERR_MAX];

	if (rot_grow(c->p, err, sizeof(err)) == -1) {
		snprintf(msg, sizeof(msg), "rot-keys rotate: %s", err);
		joiner_error(c->p, m->hdr.reqid, msg);
		return 0;
	}
	return kchan_send(ch, IMSG_HSM_ROT_GROWN, m->hdr.reqid,
	    dup_cloexec(c->p->rot_fd), m->data, m->datalen) == -1 ? -1 : 0;
}

/* rot-keys delete of a software key: zero its slot, tell both workers. */
static int
worker_rot_zero(struct kchan *ch, struct kmsg *m, void *arg)
{
	struct child		*c = arg, *j;
	const struct rot_slot	*rs = (const void *)m->data;
	struct rotkeys_req	 rq;
	char			 err[KMD_ERR_MAX - 32], msg[KMD_ERR_MAX];

	if (rot_zero(c->p, rs->index, err, sizeof(err)) == -1) {
		snprintf(msg, sizeof(msg), "rot-keys delete: %s", err);
		joiner_error(c->p, m->hdr.reqid, msg);
		return 0;
	}
	if (kchan_send(ch, IMSG_HSM_ROT_FD, 0, dup_cloexec(c->p->rot_fd), NULL, 0) ==
	    -1)
		return -1;
	memset(&rq, 0, sizeof(rq));
	rq.rotate = ROTKEYS_DELETE;
	kmd_strlcpy(rq.id, rs->id, sizeof(rq.id));
	if ((j = proc_child(c->p, PROC_JOINER)) != NULL && j->ch != NULL)
		kchan_send(j->ch, IMSG_HSM_ROT_DELETED, m->hdr.reqid, -1, &rq,
		    sizeof(rq));
	return 0;
}

/*
 * The joiner's list of the nodes whose certificates PostgreSQL accepts,
 * for pg_ident.conf: answered once PostgreSQL was told (a call).
 */
static int
worker_peers_allow(struct kchan *ch, struct kmsg *m, void *arg)
{
	struct child		*c = arg;
	struct peers_allowed	 pa;
	int			 ok;

	if (pg_peers_allow(c->p, (const struct peers_allow *)m->data, &ok) ==
	    -1)
		return -1;
	memset(&pa, 0, sizeof(pa));
	pa.ok = ok;
	pa.n = ((const struct peers_allow *)m->data)->n;
	return kchan_send(ch, IMSG_PEERS_ALLOWED, m->hdr.reqid, -1, &pa,
	    sizeof(pa)) == -1 ? -1 : 0;
}

/*
 * The fd a frame brought, taken to go on with it when it may (the
 * channel closes one left with the frame); -1 otherwise.  One that came
 * where none may is said in the log: a client or a worker tried.
 */
static int
take_fd(struct kmsg *m, int may, enum proc_id from)
{
	int	 fd = m->fd;

	if (fd != -1 && !may)
		log_warnx("%s from %s came with a file descriptor, which it"
		    " may not pass on: closed", imsg_type_name(m->hdr.type),
		    proc_name(from));
	if (!may || fd == -1)
		return -1;
	m->fd = -1;
	return fd;
}

/*
 * A file the api passes with a backups upload: only the memory file it
 * wrote the body into, sealed (no one can write, grow or shrink it
 * any more) and no larger than a REST upload may be.  Whatever else a
 * compromised api holds does not reach the joiner.
 */
static int
api_file_ok(int fd)
{
	struct stat	 st;
	int		 seals;

	if (fd == -1 || (seals = fcntl(fd, F_GET_SEALS)) == -1 ||
	    fstat(fd, &st) == -1)
		return 0;
	return S_ISREG(st.st_mode) && st.st_size <= BACKUP_UPLOAD_MAX &&
	    (seals & (F_SEAL_WRITE | F_SEAL_GROW | F_SEAL_SHRINK)) ==
	    (F_SEAL_WRITE | F_SEAL_GROW | F_SEAL_SHRINK);
}

/* Forward a request to the worker that owns it. */
static int
ctl_forward(struct kchan *ch, struct kmsg *m, void *arg)
{
	struct parent		*p = arg;
	const struct route	*r = NULL;
	struct child		*c;
	struct pending		*pe;
	size_t			 i;

	for (i = 0; i < sizeof(routes) / sizeof(routes[0]); i++)
		if (routes[i].ctl_type == m->hdr.type)
			r = &routes[i];
	if (r == NULL)
		return -1;
	c = proc_child(p, r->worker);
	if (c == NULL || c->ch == NULL)
		return kchan_senderr(ch, m->hdr.reqid, "the %s process is"
		    " restarting; try again in a few seconds",
		    proc_name(r->worker));
	if ((pe = calloc(1, sizeof(*pe))) == NULL)
		return kchan_senderr(ch, m->hdr.reqid, "out of memory");
	pe->reqid = ++p->next_reqid;
	pe->worker = r->worker;
	pe->client = ch->id;
	pe->client_reqid = m->hdr.reqid;
	TAILQ_INSERT_TAIL(&p->pending, pe, entry);
	/*
	 * backups upload passes its file (SCM_RIGHTS): kmctl's own, or the
	 * api's sealed memory file of a REST upload; the joiner takes a
	 * regular file only, and only for an upload
	 */
	if (kchan_send(c->ch, r->worker_type, pe->reqid, take_fd(m,
	    m->hdr.type == IMSG_CTL_BACKUPS && (ch->peer == PROC_CTL ||
	    (ch->peer == PROC_API && api_file_ok(m->fd))), ch->peer),
	    m->data, m->datalen) == -1) {
		log_warn("%s: to %s", __func__, proc_name(r->worker));
		TAILQ_REMOVE(&p->pending, pe, entry);
		free(pe);
		return kchan_senderr(ch, m->hdr.reqid, "cannot reach the %s"
		    " process; try again", proc_name(r->worker));
	}
	return 0;
}

/* Relay a worker's reply frame to the client waiting for it. */
static int
worker_reply(struct kchan *ch, struct kmsg *m, void *arg)
{
	struct child		*c = arg;
	struct parent		*p = c->p;
	struct kchan		*to;
	struct pending		*pe;
	int			 last;

	if (m->hdr.type == IMSG_CTL_ERROR && (m->datalen == 0 ||
	    m->datalen > KMD_ERR_MAX || m->data[m->datalen - 1] != '\0'))
		return -1;
	TAILQ_FOREACH(pe, &p->pending, entry)
		if (pe->reqid == m->hdr.reqid && pe->worker == ch->peer)
			break;
	if (pe == NULL) {
		log_debug("%s: late %s from %s dropped", __func__,
		    imsg_type_name(m->hdr.type), proc_name(ch->peer));
		return 0;
	}
	last = reply_last(m->hdr.type);
	/* ... and a download gets the backup's file (kmctl, or the api) */
	if ((to = reply_chan(p, pe->client)) != NULL)
		kchan_send(to, m->hdr.type, pe->client_reqid, take_fd(m,
		    m->hdr.type == IMSG_BACKUP_INFO && (to->peer == PROC_CTL ||
		    to->peer == PROC_API), ch->peer),
		    m->data, m->datalen);
	if (last) {
		TAILQ_REMOVE(&p->pending, pe, entry);
		free(pe);
	}
	return 0;
}

/* Between workers, through the parent: joiner <-> hsm. */
static int
worker_relay(struct kchan *ch, struct kmsg *m, void *arg)
{
	struct child	*c = arg, *to;
	enum proc_id	 dst = ch->peer == PROC_JOINER ? PROC_HSM : PROC_JOINER;

	if (m->hdr.type == IMSG_HSM_ERROR && (m->datalen == 0 ||
	    m->datalen > KMD_ERR_MAX || m->data[m->datalen - 1] != '\0'))
		return -1;
	if ((to = proc_child(c->p, dst)) == NULL || to->ch == NULL) {
		log_warnx("%s: %s is not running; %s dropped", __func__,
		    proc_name(dst), imsg_type_name(m->hdr.type));
		return 0;
	}
	return kchan_send(to->ch, m->hdr.type, m->hdr.reqid, -1, m->data,
	    m->datalen) == -1 ? -1 : 0;
}

/* hsm hands over PostgreSQL's TLS files; the joiner hears the outcome. */
static int
worker_tls_write(struct kchan *ch, struct kmsg *m, void *arg)
{
	struct child		*c = arg, *joiner;
	struct tls_result	 tr;

	(void)ch;
	memset(&tr, 0, sizeof(tr));
	tr.ok = pg_tls_write(c->p, (const struct tls_files *)m->data, tr.err,
	    sizeof(tr.err)) == 0;
	sodium_memzero((void *)m->data, m->datalen);
	if ((joiner = proc_child(c->p, PROC_JOINER)) != NULL &&
	    joiner->ch != NULL)
		kchan_send(joiner->ch, IMSG_TLS_INSTALLED, m->hdr.reqid, -1,
		    &tr, sizeof(tr));
	return 0;
}

/* The joiner's refused join: PostgreSQL goes back to serving no TLS. */
static int
worker_tls_remove(struct kchan *ch, struct kmsg *m, void *arg)
{
	struct child	*c = arg;

	(void)ch;
	(void)m;
	pg_tls_remove(c->p);
	return 0;
}

static int	api_request(struct kchan *, struct kmsg *, void *);

/* kmctl's requests on a control connection (arg: the parent). */
#define H_LOCAL(n, len, from, fn)	{ IMSG_CTL_##n, len, from, fn },
#define H_FORWARD(w, n, len, from, fn)	{ IMSG_CTL_##n, len, from, ctl_forward },
const struct kmsg_handler relay_ctl_handlers[] = {
	LOCAL(H_LOCAL)
	REQUESTS(H_FORWARD)
};
const size_t relay_ctl_nhandlers = nitems(relay_ctl_handlers);

#define H_API_LOCAL(n, len, from, fn) \
	{ IMSG_CTL_##n, len, (from) & FROM_API, api_request },
#define H_API(w, n, len, from, fn) \
	{ IMSG_CTL_##n, len, (from) & FROM_API, api_request },
#define H_REPLY(n, len, from)		{ IMSG_##n, len, from, worker_reply },
#define H_HSM(q, ql, a, al, fn) \
	{ IMSG_##q, ql, FROM(PROC_JOINER), worker_relay }, \
	{ IMSG_##a, al, FROM(PROC_HSM), worker_relay },

/* The workers' frames to the parent (arg: the child). */
const struct kmsg_handler parent_worker_handlers[] = {
	LOCAL(H_API_LOCAL)
	REQUESTS(H_API)
	REPLIES(H_REPLY)
	HSM_RELAY_CALLS(H_HSM)
	{ IMSG_HSM_TLS_INSTALL, sizeof(struct hsm_tls_install),
	    FROM(PROC_JOINER), worker_relay },
	{ IMSG_HSM_ERROR, KMSG_VARLEN, FROM(PROC_HSM), worker_relay },
	{ IMSG_TLS_WRITE, sizeof(struct tls_files), FROM(PROC_HSM),
	    worker_tls_write },
	{ IMSG_TLS_REMOVE, 0, FROM(PROC_JOINER), worker_tls_remove },
	{ IMSG_PEERS_ALLOW, sizeof(struct peers_allow), FROM(PROC_JOINER),
	    worker_peers_allow },
	{ IMSG_HSM_STATUS, sizeof(struct hsm_status), FROM(PROC_HSM),
	    worker_hsm_status },
	{ IMSG_ROT_GROW, sizeof(struct hsm_rewrap), FROM(PROC_HSM),
	    worker_rot_grow },
	{ IMSG_ROT_ZERO, sizeof(struct rot_slot), FROM(PROC_HSM),
	    worker_rot_zero },
	{ IMSG_USER_CHANGED, sizeof(struct user_changed), FROM(PROC_JOINER),
	    worker_user_changed },
	{ IMSG_TOKEN_KEY, sizeof(struct token_key), FROM(PROC_JOINER),
	    auth_token_key },
	{ IMSG_API_AUTH, sizeof(struct api_auth), FROM(PROC_API),
	    auth_api_token },
};
const size_t parent_worker_nhandlers = nitems(parent_worker_handlers);

/* The api worker's requests: the same handlers, on its channel. */
static int
api_request(struct kchan *ch, struct kmsg *m, void *arg)
{
	struct child	*c = arg;
	const struct kmsg_handler *h;
	char		 why[160];
	size_t		 i;

	if (!auth_api_allows(c->p, m, why, sizeof(why))) {
		log_warnx("api: %s refused: %s", imsg_type_name(m->hdr.type),
		    why);
		if (m->hdr.type == IMSG_CTL_AUTH_CHECK ||
		    m->hdr.type == IMSG_CTL_USER_SET)
			sodium_memzero((void *)m->data, m->datalen);
		return kchan_senderr(ch, m->hdr.reqid, "forbidden: %s", why);
	}
	for (i = 0; i < nitems(relay_ctl_handlers); i++) {
		h = &relay_ctl_handlers[i];
		if (h->type == m->hdr.type)
			return h->fn(ch, m, c->p);
	}
	return -1;
}

