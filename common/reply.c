/*
 * Reading replies: each data frame is checked for its exact size and for
 * terminated strings before it is kept.  An unexpected or malformed frame
 * makes reply_frame() fail; the caller reports it and drops the reply.
 */
#include <stdlib.h>
#include <string.h>

#include "reply.h"
#include "util.h"

static int
node_ok(const struct node_info *n)
{
	return TERMINATED(n->nodeid) && TERMINATED(n->code) &&
	    TERMINATED(n->desc) && TERMINATED(n->host) &&
	    TERMINATED(n->pubaddr) && TERMINATED(n->expires);
}

/* Room for one more element of a growing array, at most max of them. */
static void *
grow(void **arr, size_t n, size_t *cap, size_t max, size_t size)
{
	void	*a;
	size_t	 c;

	if (n == max)
		return NULL;
	if (n == *cap) {
		c = *cap ? 2 * *cap : 8;
		if ((a = reallocarray(*arr, c, size)) == NULL)
			return NULL;
		*arr = a;
		*cap = c;
	}
	return (char *)*arr + n * size;
}

static int
add_node(struct reply *r, const struct kmsg *m)
{
	struct node_info	*n;

	if (!r->havepage || (n = grow((void **)&r->nodes, r->nnodes,
	    &r->nodescap, REPLY_NODES_MAX, sizeof(*n))) == NULL)
		return -1;
	memcpy(n, m->data, sizeof(*n));
	if (!node_ok(n))
		return -1;
	r->nnodes++;
	return 0;
}

static int
add_row(struct reply *r, const struct kmsg *m)
{
	struct summary_row	*s;

	if ((s = grow((void **)&r->rows, r->nrows, &r->rowscap,
	    REPLY_ROWS_MAX, sizeof(*s))) == NULL)
		return -1;
	memcpy(s, m->data, sizeof(*s));
	if (!TERMINATED(s->reporter) || !TERMINATED(s->node) ||
	    !TERMINATED(s->updated) || !TERMINATED(s->view))
		return -1;
	r->nrows++;
	return 0;
}

static int
add_alarm(struct reply *r, const struct kmsg *m)
{
	struct alarm_info	*a;

	if (!r->havepage || (a = grow((void **)&r->alarms, r->nalarms,
	    &r->alarmscap, REPLY_ALARMS_MAX, sizeof(*a))) == NULL)
		return -1;
	memcpy(a, m->data, sizeof(*a));
	if (!TERMINATED(a->kind) || !TERMINATED(a->subject) ||
	    !TERMINATED(a->message) || !TERMINATED(a->raised) ||
	    !TERMINATED(a->cleared))
		return -1;
	r->nalarms++;
	return 0;
}

static int
add_key(struct reply *r, const struct kmsg *m)
{
	struct key_info	*k;

	if ((k = grow((void **)&r->keys, r->nkeys, &r->keyscap,
	    REPLY_KEYS_MAX, sizeof(*k))) == NULL)
		return -1;
	memcpy(k, m->data, sizeof(*k));
	if (!TERMINATED(k->id) || !TERMINATED(k->name) ||
	    !TERMINATED(k->algorithm) || !TERMINATED(k->kcv) ||
	    !TERMINATED(k->created) || !TERMINATED(k->updated))
		return -1;
	r->nkeys++;
	return 0;
}

static int
set_info(struct reply *r, const struct kmsg *m)
{
	if (r->haveinfo)
		return -1;
	memcpy(&r->info, m->data, sizeof(r->info));
	if (!TERMINATED(r->info.nodeid) || !TERMINATED(r->info.code) ||
	    !TERMINATED(r->info.desc) || !TERMINATED(r->info.error) ||
	    !TERMINATED(r->info.progress))
		return -1;
	r->haveinfo = 1;
	return 0;
}

static int
add_rotkey(struct reply *r, const struct kmsg *m)
{
	if (r->nrotkeys == KMD_ROTKEYS_MAX)
		return -1;
	memcpy(&r->rotkeys[r->nrotkeys], m->data, sizeof(struct rotkey_info));
	if (!TERMINATED(r->rotkeys[r->nrotkeys].id) ||
	    !TERMINATED(r->rotkeys[r->nrotkeys].kind))
		return -1;
	r->nrotkeys++;
	return 0;
}

static int
set_crypt(struct reply *r, const struct kmsg *m)
{
	if (r->crypt != NULL ||
	    (r->crypt = malloc(sizeof(*r->crypt))) == NULL)
		return -1;
	memcpy(r->crypt, m->data, sizeof(*r->crypt));
	return TERMINATED(r->crypt->id) &&
	    TERMINATED(r->crypt->name) &&
	    TERMINATED(r->crypt->data) ? 0 : -1;
}

/* The page of a list (keys, alarms, nodes), before its elements. */
static int
set_page(struct reply *r, const struct kmsg *m)
{
	if (r->havepage)
		return -1;
	memcpy(&r->page, m->data, sizeof(r->page));
	r->havepage = 1;
	return 0;
}

static int
add_proc(struct reply *r, const struct kmsg *m)
{
	struct ctl_proc	*cp;

	if (r->nprocs == REPLY_PROCS_MAX)
		return -1;
	cp = &r->procs[r->nprocs];
	memcpy(cp, m->data, sizeof(*cp));
	if (!TERMINATED(cp->role) || !TERMINATED(cp->user))
		return -1;
	r->nprocs++;
	return 0;
}

static int
set_csr(struct reply *r, const struct kmsg *m)
{
	if (r->csr != NULL ||
	    (r->csr = malloc(sizeof(*r->csr))) == NULL)
		return -1;
	memcpy(r->csr, m->data, sizeof(*r->csr));
	return TERMINATED(r->csr->csr) ? 0 : -1;
}

static int
set_cred(struct reply *r, const struct kmsg *m)
{
	if (r->cred != NULL ||
	    (r->cred = malloc(sizeof(*r->cred))) == NULL)
		return -1;
	memcpy(r->cred, m->data, sizeof(*r->cred));
	return TERMINATED(r->cred->cert) &&
	    TERMINATED(r->cred->cachain) &&
	    TERMINATED(r->cred->mkek_blob) ? 0 : -1;
}

static int
add_check(struct reply *r, const struct kmsg *m)
{
	if (r->nchecks == REPLY_CHECKS_MAX)
		return -1;
	memcpy(&r->checks[r->nchecks], m->data, sizeof(struct join_check));
	if (!TERMINATED(r->checks[r->nchecks].item) ||
	    !TERMINATED(r->checks[r->nchecks].detail))
		return -1;
	r->nchecks++;
	return 0;
}

static int
set_version(struct reply *r, const struct kmsg *m)
{
	if (r->haveversion)
		return -1;
	memcpy(&r->version, m->data, sizeof(r->version));
	r->haveversion = 1;
	return TERMINATED(r->version.kmd_version) ? 0 : -1;
}

static int
set_auth(struct reply *r, const struct kmsg *m)
{
	if (r->haveauth)
		return -1;
	memcpy(&r->auth, m->data, sizeof(r->auth));
	r->haveauth = 1;
	return 0;
}

/*
 * Each data frame a reply may hold: its exact size, and the function
 * that checks and keeps it.
 */
static const struct {
	uint16_t	 type;
	size_t		 size;
	int		(*keep)(struct reply *, const struct kmsg *);
} frames[] = {
	{ IMSG_CLUSTER_INFO_REPLY, sizeof(struct cluster_info), set_info },
	{ IMSG_SUMMARY_ROW, sizeof(struct summary_row), add_row },
	{ IMSG_ALARM_INFO, sizeof(struct alarm_info), add_alarm },
	{ IMSG_ROTKEY_INFO, sizeof(struct rotkey_info), add_rotkey },
	{ IMSG_KEY_INFO, sizeof(struct key_info), add_key },
	{ IMSG_KEY_CRYPT, sizeof(struct key_crypt), set_crypt },
	{ IMSG_KEYS_PAGE, sizeof(struct nodes_page), set_page },
	{ IMSG_ALARMS_PAGE, sizeof(struct nodes_page), set_page },
	{ IMSG_NODES_PAGE, sizeof(struct nodes_page), set_page },
	{ IMSG_NODE_INFO, sizeof(struct node_info), add_node },
	{ IMSG_CTL_PROC, sizeof(struct ctl_proc), add_proc },
	{ IMSG_CSR_REPLY, sizeof(struct csr_reply), set_csr },
	{ IMSG_NODE_CREDENTIALS, sizeof(struct node_credentials), set_cred },
	{ IMSG_JOIN_CHECK, sizeof(struct join_check), add_check },
	{ IMSG_AUTH_RESULT, sizeof(struct auth_result), set_auth },
	{ IMSG_VERSION_INFO, sizeof(struct version_info), set_version },
};

int
reply_frame(struct reply *r, const struct kmsg *m)
{
	size_t	 i;

	for (i = 0; i < sizeof(frames) / sizeof(frames[0]); i++)
		if (frames[i].type == m->hdr.type)
			return m->datalen == frames[i].size ?
			    frames[i].keep(r, m) : -1;
	return -1;
}

/* An ERROR frame's message, when it is well formed. */
int
reply_error(const struct kmsg *m, const char **msg)
{
	if (m->hdr.type != IMSG_CTL_ERROR || m->datalen == 0 ||
	    m->datalen > KMD_ERR_MAX || m->data[m->datalen - 1] != '\0')
		return -1;
	*msg = (const char *)m->data;
	return 0;
}

void
reply_clear(struct reply *r)
{
	free(r->nodes);
	free(r->rows);
	free(r->alarms);
	free(r->keys);
	if (r->crypt != NULL)
		explicit_bzero(r->crypt, sizeof(*r->crypt));
	free(r->crypt);
	free(r->csr);
	if (r->cred != NULL)
		explicit_bzero(r->cred, sizeof(*r->cred));
	free(r->cred);
	memset(r, 0, sizeof(*r));
}

/* Whether the reply has the frames its shape needs (kmd's fault if not). */
int
reply_complete(const struct reply *r, enum print_what what)
{
	switch (what) {
	case P_INFO:
		return r->haveinfo;
	case P_NODES:
	case P_ALARMS:
	case P_KEYS:
		return r->havepage;
	case P_NODE:
		return r->nnodes == 1;
	case P_CSR:
		return r->csr != NULL;
	case P_KEY:
		return r->nkeys == 1;
	case P_CRYPT:
		return r->crypt != NULL;
	case P_CRED:
		return r->cred != NULL;
	case P_VERSION:
		return r->haveversion;
	default:
		return 1;
	}
}
