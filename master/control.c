/*
 * The control socket: kmctl's way in.  Mode 0600 root (0660 with a
 * configured group), peer credentials checked on every accept.  Requests
 * the parent can answer itself (status) are answered here; the others are
 * routed to the worker that owns them under a request id the parent
 * assigns, and the worker's reply frames are relayed back to the client
 * until its END or ERROR.
 */
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/un.h>

#include <errno.h>
#include <event2/event.h>
#include <grp.h>
#include <pwd.h>
#include <sodium.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "kmd.h"
#include "log.h"
#include "status.h"
#include "util.h"

/*
 * The one list of client requests: the message, its payload size, who
 * may send it (kmctl on the socket, the api worker, or both), the worker
 * that serves it and under which message.  It makes the routing table
 * and both handler tables below.
 */
#define CA	(FROM(PROC_CTL) | FROM(PROC_API))
#define REQUESTS(R) \
	R(IMSG_CTL_CLUSTER_INFO, 0, CA, PROC_REPLMON, IMSG_CLUSTER_INFO) \
	R(IMSG_CTL_CLUSTER_NEW, sizeof(struct cluster_new), CA, PROC_JOINER, \
	    IMSG_CLUSTER_NEW) \
	R(IMSG_CTL_NODES, sizeof(struct nodes_query), CA, PROC_REPLMON, \
	    IMSG_NODES) \
	R(IMSG_CTL_CLUSTER_CSR, sizeof(struct cluster_csr), CA, PROC_JOINER, \
	    IMSG_CLUSTER_CSR) \
	R(IMSG_CTL_NODES_CREATE, sizeof(struct nodes_create), CA, \
	    PROC_JOINER, IMSG_NODES_CREATE) \
	R(IMSG_CTL_CLUSTER_JOIN, sizeof(struct cluster_join), CA, \
	    PROC_JOINER, IMSG_CLUSTER_JOIN) \
	R(IMSG_CTL_USER_SET, sizeof(struct user_set), FROM(PROC_CTL), \
	    PROC_JOINER, IMSG_USER_SET) \
	R(IMSG_AUTH_CHECK, sizeof(struct user_set), FROM(PROC_API), \
	    PROC_JOINER, IMSG_AUTH_CHECK) \
	R(IMSG_CTL_SUMMARY, 0, CA, PROC_REPLMON, IMSG_SUMMARY) \
	R(IMSG_CTL_ALARMS, sizeof(struct alarms_query), CA, PROC_REPLMON, \
	    IMSG_ALARMS) \
	R(IMSG_CTL_NODES_DELETE, sizeof(struct nodes_delete), CA, \
	    PROC_JOINER, IMSG_NODES_DELETE) \
	R(IMSG_CTL_CLUSTER_DELETE, 0, CA, PROC_JOINER, IMSG_CLUSTER_DELETE) \
	R(IMSG_CTL_ROTKEYS, sizeof(struct rotkeys_req), CA, PROC_JOINER, \
	    IMSG_ROTKEYS) \
	R(IMSG_CTL_KEYS, sizeof(struct keys_req), CA, PROC_JOINER, IMSG_KEYS)

static const struct route {
	uint16_t	 ctl_type;
	enum proc_id	 worker;
	uint16_t	 worker_type;
} routes[] = {
#define R_ROUTE(t, len, from, w, wt)	{ t, w, wt },
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
	return (cl = control_client(p, id)) != NULL ? cl->ch : NULL;
}

struct ctl_client *
control_client(struct parent *p, uint32_t id)
{
	struct ctl_client	*cl;

	TAILQ_FOREACH(cl, &p->clients, entry)
		if (cl->id == id)
			return cl;
	return NULL;
}

static void
control_drop_client(struct parent *p, struct ctl_client *cl)
{
	struct pending	*pe, *tmp;

	TAILQ_FOREACH_SAFE(pe, &p->pending, entry, tmp)
		if (pe->client == cl->id) {
			TAILQ_REMOVE(&p->pending, pe, entry);
			free(pe);
		}
	TAILQ_REMOVE(&p->clients, cl, entry);
	p->nclients--;
	kchan_free(cl->ch);
	free(cl);
}

static void
control_client_closed(struct kchan *ch, const char *why, void *arg)
{
	struct parent		*p = arg;
	struct ctl_client	*cl = control_client(p, ch->id);

	if (why != NULL) {
		/* Tell the client why before hanging up, best effort. */
		log_warnx("control client (uid %u): %s", cl ? cl->uid : 0, why);
		if (kbuf_compose(&ch->kb, IMSG_CTL_ERROR, 0, getpid(), -1, why,
		    strlen(why) + 1) == 0)
			kbuf_flush(&ch->kb);
	}
	if (cl != NULL)
		control_drop_client(p, cl);
}

/* A worker went away: its pending requests get an error. */
void
control_worker_gone(struct parent *p, enum proc_id worker)
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

static int
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
		kmd_strlcpy(cp.user, c->def->worker != NULL ? p->conf.user :
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
	(void)fd;
	(void)ev;
	parent_reset(arg);
}

static int
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
	kmd_strlcpy(ci.code, "none", sizeof(ci.code));
	kmd_strlcpy(ci.desc, status_desc("none"), sizeof(ci.desc));
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
	if (!TERMINATED(hs.msg))
		return -1;
	c->p->hsm_status = hs;
	if ((rm = proc_child(c->p, PROC_REPLMON)) != NULL && rm->ch != NULL)
		kchan_send(rm->ch, IMSG_HSM_STATUS, 0, -1, &c->p->hsm_status,
		    sizeof(c->p->hsm_status));
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
	    dup(c->p->rot_fd), m->data, m->datalen) == -1 ? -1 : 0;
}

/* rot-keys delete of a software key: zero its slot, tell both workers. */
static int
worker_rot_zero(struct kchan *ch, struct kmsg *m, void *arg)
{
	struct child		*c = arg, *j;
	const struct rot_slot	*rs = (const void *)m->data;
	struct rotkeys_req	 rq;
	char			 err[KMD_ERR_MAX - 32], msg[KMD_ERR_MAX];

	if (!TERMINATED(rs->id))
		return -1;
	if (rot_zero(c->p, rs->index, err, sizeof(err)) == -1) {
		snprintf(msg, sizeof(msg), "rot-keys delete: %s", err);
		joiner_error(c->p, m->hdr.reqid, msg);
		return 0;
	}
	if (kchan_send(ch, IMSG_HSM_ROT_FD, 0, dup(c->p->rot_fd), NULL, 0) ==
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

/* The joiner's list of removed nodes, for pg_ident.conf. */
static int
worker_peers_deny(struct kchan *ch, struct kmsg *m, void *arg)
{
	struct child	*c = arg;

	(void)ch;
	return pg_peers_deny(c->p, (const struct peers_deny *)m->data);
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
	if (kchan_send(c->ch, r->worker_type, pe->reqid, -1, m->data,
	    m->datalen) == -1) {
		log_warn("%s: to %s", __func__, proc_name(r->worker));
		TAILQ_REMOVE(&p->pending, pe, entry);
		free(pe);
		return kchan_senderr(ch, m->hdr.reqid, "cannot reach the %s"
		    " process; try again", proc_name(r->worker));
	}
	return 0;
}

#define R_HANDLER(t, len, from, w, wt)	{ t, len, from, REQ_FN },

/* kmctl's requests on a control connection (arg: the parent). */
#define REQ_FN	ctl_forward
static const struct kmsg_handler ctl_handlers[] = {
	{ IMSG_CTL_STATUS, 0, FROM(PROC_CTL), ctl_status },
	{ IMSG_CTL_RESET, 0, FROM(PROC_CTL), ctl_reset },
	REQUESTS(R_HANDLER)
};
#undef REQ_FN

/* The api worker's requests: the same handlers, on its channel. */
static int
api_request(struct kchan *ch, struct kmsg *m, void *arg)
{
	struct child	*c = arg;

	if (m->hdr.type == IMSG_CTL_STATUS)
		return ctl_status(ch, m, c->p);
	if (m->hdr.type == IMSG_CTL_RESET)
		return ctl_reset(ch, m, c->p);
	return ctl_forward(ch, m, c->p);
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
	last = m->hdr.type == IMSG_CTL_END || m->hdr.type == IMSG_CTL_ERROR ||
	    m->hdr.type == IMSG_AUTH_RESULT;
	if ((to = reply_chan(p, pe->client)) != NULL)
		kchan_send(to, m->hdr.type, pe->client_reqid, -1, m->data,
		    m->datalen);
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

#define WORKERS	(FROM(PROC_REPLMON) | FROM(PROC_JOINER) | FROM(PROC_HSM) | \
		    FROM(PROC_API))
const struct kmsg_handler parent_worker_handlers[] = {
	{ IMSG_CLUSTER_INFO_REPLY, sizeof(struct cluster_info),
	    FROM(PROC_REPLMON) | FROM(PROC_JOINER), worker_reply },
	{ IMSG_NODES_PAGE, sizeof(struct nodes_page), FROM(PROC_REPLMON),
	    worker_reply },
	{ IMSG_NODE_INFO, sizeof(struct node_info), FROM(PROC_REPLMON),
	    worker_reply },
	{ IMSG_SUMMARY_ROW, sizeof(struct summary_row), FROM(PROC_REPLMON),
	    worker_reply },
	{ IMSG_ALARMS_PAGE, sizeof(struct nodes_page), FROM(PROC_REPLMON),
	    worker_reply },
	{ IMSG_ALARM_INFO, sizeof(struct alarm_info), FROM(PROC_REPLMON),
	    worker_reply },
	{ IMSG_HSM_CLUSTER_CREATE, sizeof(struct hsm_create),
	    FROM(PROC_JOINER), worker_relay },
	{ IMSG_HSM_TLS_INSTALL, sizeof(struct hsm_tls_install),
	    FROM(PROC_JOINER), worker_relay },
	{ IMSG_HSM_CLUSTER_CREATED, sizeof(struct hsm_created),
	    FROM(PROC_HSM), worker_relay },
	{ IMSG_HSM_ERROR, KMSG_VARLEN, FROM(PROC_HSM), worker_relay },
	{ IMSG_TLS_WRITE, sizeof(struct tls_files), FROM(PROC_HSM),
	    worker_tls_write },
	{ IMSG_TLS_REMOVE, 0, FROM(PROC_JOINER), worker_tls_remove },
	{ IMSG_AUTH_RESULT, sizeof(struct auth_result), FROM(PROC_JOINER),
	    worker_reply },
	{ IMSG_CTL_STATUS, 0, FROM(PROC_API), api_request },
	{ IMSG_CTL_RESET, 0, FROM(PROC_API), api_request },
	{ IMSG_PEERS_DENY, sizeof(struct peers_deny), FROM(PROC_JOINER),
	    worker_peers_deny },
	{ IMSG_HSM_STATUS, sizeof(struct hsm_status), FROM(PROC_HSM),
	    worker_hsm_status },
	{ IMSG_ROTKEY_INFO, sizeof(struct rotkey_info), FROM(PROC_JOINER),
	    worker_reply },
	{ IMSG_HSM_ROT_LIST, 0, FROM(PROC_JOINER), worker_relay },
	{ IMSG_HSM_REWRAP, sizeof(struct hsm_rewrap), FROM(PROC_JOINER),
	    worker_relay },
	{ IMSG_HSM_ROT_KEYS, sizeof(struct hsm_rot_keys), FROM(PROC_HSM),
	    worker_relay },
	{ IMSG_HSM_REWRAPPED, sizeof(struct hsm_rewrap), FROM(PROC_HSM),
	    worker_relay },
	{ IMSG_HSM_ROT_DELETE, sizeof(struct rotkeys_req), FROM(PROC_JOINER),
	    worker_relay },
	{ IMSG_HSM_ROT_DELETED, sizeof(struct rotkeys_req), FROM(PROC_HSM),
	    worker_relay },
	{ IMSG_ROT_GROW, sizeof(struct hsm_rewrap), FROM(PROC_HSM),
	    worker_rot_grow },
	{ IMSG_ROT_ZERO, sizeof(struct rot_slot), FROM(PROC_HSM),
	    worker_rot_zero },
	{ IMSG_KEYS_PAGE, sizeof(struct nodes_page), FROM(PROC_JOINER),
	    worker_reply },
	{ IMSG_KEY_INFO, sizeof(struct key_info), FROM(PROC_JOINER),
	    worker_reply },
	{ IMSG_KEY_CRYPT, sizeof(struct key_crypt), FROM(PROC_JOINER),
	    worker_reply },
	{ IMSG_HSM_KEY_MAKE, sizeof(struct hsm_key_make), FROM(PROC_JOINER),
	    worker_relay },
	{ IMSG_HSM_KEY_CRYPT, sizeof(struct hsm_key_crypt), FROM(PROC_JOINER),
	    worker_relay },
	{ IMSG_HSM_KEY_MADE, sizeof(struct hsm_key_made), FROM(PROC_HSM),
	    worker_relay },
	{ IMSG_HSM_KEY_DONE, sizeof(struct key_crypt), FROM(PROC_HSM),
	    worker_relay },
#define REQ_FN	api_request
	REQUESTS(R_HANDLER)
#undef REQ_FN
	{ IMSG_CSR_REPLY, sizeof(struct csr_reply), FROM(PROC_JOINER),
	    worker_reply },
	{ IMSG_NODE_CREDENTIALS, sizeof(struct node_credentials),
	    FROM(PROC_JOINER), worker_reply },
	{ IMSG_HSM_CSR_MAKE, sizeof(struct hsm_csr_make), FROM(PROC_JOINER),
	    worker_relay },
	{ IMSG_HSM_CSR_MADE, sizeof(struct hsm_csr_made), FROM(PROC_HSM),
	    worker_relay },
	{ IMSG_HSM_NODE_SIGN, sizeof(struct hsm_node_sign), FROM(PROC_JOINER),
	    worker_relay },
	{ IMSG_HSM_JOIN_OPEN, sizeof(struct hsm_join_open), FROM(PROC_JOINER),
	    worker_relay },
	{ IMSG_HSM_JOIN_OPENED, sizeof(struct hsm_join_opened),
	    FROM(PROC_HSM), worker_relay },
	{ IMSG_JOIN_CHECK, sizeof(struct join_check), FROM(PROC_JOINER),
	    worker_reply },
	{ IMSG_HSM_NODE_SIGNED, sizeof(struct hsm_node_signed),
	    FROM(PROC_HSM), worker_relay },
	{ IMSG_CTL_END, 0, WORKERS, worker_reply },
	{ IMSG_CTL_ERROR, KMSG_VARLEN, WORKERS, worker_reply },
};
const size_t parent_worker_nhandlers =
    sizeof(parent_worker_handlers) / sizeof(parent_worker_handlers[0]);

/* Root, or the configured group (primary or supplementary). */
static int
control_allowed(struct parent *p, const struct ucred *cr)
{
	struct passwd	*pw;
	struct group	*gr;
	char		**mem;

	if (cr->uid == 0)
		return 1;
	if (p->conf.sockgroup[0] == '\0')
		return 0;
	if (cr->gid == p->sockgid)
		return 1;
	if ((pw = getpwuid(cr->uid)) == NULL ||
	    (gr = getgrgid(p->sockgid)) == NULL)
		return 0;
	for (mem = gr->gr_mem; *mem != NULL; mem++)
		if (strcmp(*mem, pw->pw_name) == 0)
			return 1;
	return 0;
}

/* Tell a refused peer why, best effort, and hang up. */
static void
control_refuse(int fd, const char *msg)
{
	struct kbuf	 kb;

	log_warnx("control: %s", msg);
	if (kbuf_init(&kb, fd) == 0) {
		if (kbuf_compose(&kb, IMSG_CTL_ERROR, 0, getpid(), -1, msg,
		    strlen(msg) + 1) == 0)
			kbuf_flush(&kb);
		kbuf_clear(&kb);
	}
	close(fd);
}

/*
 * An accepted connection whose peer may use the socket becomes a client:
 * its frames go through ctl_handlers.  Also the way in for the parent's
 * dispatcher fuzzer (regress/fuzz/fuzz_dispatch_parent.c).
 */
struct ctl_client *
control_adopt(struct parent *p, int fd, uid_t uid)
{
	struct ctl_client	*cl;

	if ((cl = calloc(1, sizeof(*cl))) == NULL)
		return NULL;
	if ((cl->ch = kchan_new(p->base, fd, PROC_CTL, ctl_handlers,
	    sizeof(ctl_handlers) / sizeof(ctl_handlers[0]),
	    control_client_closed, p)) == NULL) {
		free(cl);
		return NULL;
	}
	cl->id = cl->ch->id = ++p->next_client;
	cl->uid = uid;
	TAILQ_INSERT_TAIL(&p->clients, cl, entry);
	p->nclients++;
	return cl;
}

static void
control_accept(evutil_socket_t lfd, short ev, void *arg)
{
	struct parent		*p = arg;
	struct ucred		 cr;
	socklen_t		 len = sizeof(cr);
	char			 msg[KMD_ERR_MAX];
	int			 fd;

	(void)ev;
	if ((fd = accept4(lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC)) ==
	    -1) {
		if (errno != EAGAIN && errno != EINTR)
			log_warn("%s: accept", __func__);
		return;
	}
	if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cr, &len) == -1) {
		log_warn("%s: SO_PEERCRED", __func__);
		close(fd);
		return;
	}
	if (!control_allowed(p, &cr)) {
		snprintf(msg, sizeof(msg), "permission denied: uid %u may not"
		    " use the control socket", (unsigned)cr.uid);
		control_refuse(fd, msg);
		return;
	}
	if (p->nclients >= CTL_CLIENTS_MAX) {
		control_refuse(fd, "too many control clients; try again");
		return;
	}
	if (control_adopt(p, fd, cr.uid) == NULL) {
		log_warn("%s: new client", __func__);
		close(fd);
	}
}

/* A socket someone answers on belongs to a running kmd: keep off it. */
static int
control_in_use(const struct sockaddr_un *sun)
{
	int	 fd, r;

	if ((fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0)) == -1)
		return 0;
	r = connect(fd, (const struct sockaddr *)sun, sizeof(*sun)) == 0;
	close(fd);
	return r;
}

/*
 * Bind and listen before kmd detaches, so that a busy socket or a bad
 * path is an error its caller sees in the exit status.
 */
int
control_listen(struct parent *p)
{
	struct sockaddr_un	 sun;
	mode_t			 old;
	char			 dir[sizeof(sun.sun_path)], *slash;
	int			 fd;

	memset(&sun, 0, sizeof(sun));
	sun.sun_family = AF_UNIX;
	kmd_strlcpy(sun.sun_path, p->conf.socket, sizeof(sun.sun_path));
	kmd_strlcpy(dir, p->conf.socket, sizeof(dir));
	if ((slash = strrchr(dir, '/')) != NULL && slash != dir) {
		*slash = '\0';
		if (mkdir(dir, 0755) == -1 && errno != EEXIST) {
			log_warn("%s: mkdir %s", __func__, dir);
			return -1;
		}
	}
	if (control_in_use(&sun)) {
		log_warnx("%s: another kmd is running on %s", __func__,
		    sun.sun_path);
		return -1;
	}
	if (unlink(sun.sun_path) == -1 && errno != ENOENT) {
		log_warn("%s: unlink %s", __func__, sun.sun_path);
		return -1;
	}
	if ((fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC,
	    0)) == -1) {
		log_warn("%s: socket", __func__);
		return -1;
	}
	old = umask(0177);
	if (bind(fd, (struct sockaddr *)&sun, sizeof(sun)) == -1) {
		log_warn("%s: bind %s", __func__, sun.sun_path);
		umask(old);
		close(fd);
		return -1;
	}
	umask(old);
	if (p->conf.sockgroup[0] != '\0' && (chown(sun.sun_path, 0,
	    p->sockgid) == -1 || chmod(sun.sun_path, 0660) == -1))
		log_warn("%s: group access to %s", __func__, sun.sun_path);
	if (listen(fd, 16) == -1) {
		log_warn("%s: listen", __func__);
		close(fd);
		return -1;
	}
	p->ctl_fd = fd;
	return 0;
}

/* Accept clients on the socket control_listen() bound. */
int
control_start(struct parent *p)
{
	p->ctl_ev = event_new(p->base, p->ctl_fd, EV_READ | EV_PERSIST,
	    control_accept, p);
	if (p->ctl_ev == NULL || event_add(p->ctl_ev, NULL) == -1)
		return -1;
	return 0;
}

/* Stop listening, drop every client, remove the socket. */
void
control_close(struct parent *p)
{
	struct ctl_client	*cl;

	while ((cl = TAILQ_FIRST(&p->clients)) != NULL)
		control_drop_client(p, cl);
	if (p->ctl_ev != NULL) {
		event_free(p->ctl_ev);
		p->ctl_ev = NULL;
	}
	if (p->ctl_fd != -1) {
		close(p->ctl_fd);
		p->ctl_fd = -1;
		unlink(p->conf.socket);
	}
}
