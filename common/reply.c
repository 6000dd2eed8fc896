/*
 * Reading replies: each data frame is checked for its exact size and for
 * terminated strings (common/proto.c's list) before it is kept.  An unexpected or malformed frame
 * makes reply_frame() fail; the caller reports it and drops the reply.
 */
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "reply.h"
#include "util.h"

/*
 * Keep a frame's payload as the next element of a growing array, at most
 * max of them (the frame's size is the element's, checked exact).
 */
static int
append(void **arr, size_t *n, size_t *cap, size_t max, const struct kmsg *m)
{
	void	*a;
	size_t	 c;

	if (*n == max)
		return -1;
	if (*n == *cap) {
		c = *cap ? 2 * *cap : 8;
		if ((a = reallocarray(*arr, c, m->datalen)) == NULL)
			return -1;
		*arr = a;
		*cap = c;
	}
	memcpy((char *)*arr + *n * m->datalen, m->data, m->datalen);
	(*n)++;
	return 0;
}

/* Keep a frame's payload in place: once only (have says so). */
static int
keep_once(void *dst, int *have, const struct kmsg *m)
{
	if (*have)
		return -1;
	memcpy(dst, m->data, m->datalen);
	*have = 1;
	return 0;
}

/* Keep a frame's payload in an allocation of its own: once only. */
static int
keep_alloc(void **dst, const struct kmsg *m)
{
	if (*dst != NULL || (*dst = malloc(m->datalen)) == NULL)
		return -1;
	memcpy(*dst, m->data, m->datalen);
	return 0;
}

/* A list's elements come after its page. */
static int
add_node(struct reply *r, const struct kmsg *m)
{
	/* after a page's head, or an upgrade status's */
	if (!r->havepage && !r->haveupgrade)
		return -1;
	return append((void **)&r->nodes, &r->nnodes, &r->nodescap,
	    REPLY_NODES_MAX, m);
}

static int
add_row(struct reply *r, const struct kmsg *m)
{
	return append((void **)&r->rows, &r->nrows, &r->rowscap,
	    REPLY_ROWS_MAX, m);
}

static int
add_alarm(struct reply *r, const struct kmsg *m)
{
	if (!r->havepage)
		return -1;
	return append((void **)&r->alarms, &r->nalarms, &r->alarmscap,
	    REPLY_ALARMS_MAX, m);
}

static int
add_key(struct reply *r, const struct kmsg *m)
{
	return append((void **)&r->keys, &r->nkeys, &r->keyscap,
	    REPLY_KEYS_MAX, m);
}

static int
add_user(struct reply *r, const struct kmsg *m)
{
	return append((void **)&r->users, &r->nusers, &r->userscap,
	    REPLY_USERS_MAX, m);
}

static int
add_bkey(struct reply *r, const struct kmsg *m)
{
	return append((void **)&r->bkeys, &r->nbkeys, &r->bkeyscap,
	    REPLY_BACKUPS_MAX, m);
}

static int
add_backup(struct reply *r, const struct kmsg *m)
{
	return append((void **)&r->backups, &r->nbackups, &r->backupscap,
	    REPLY_BACKUPS_MAX, m);
}

/* cluster verify: its result first, then the rest of it, in range. */
static int
add_verify(struct reply *r, const struct kmsg *m)
{
	int32_t	 kind;

	memcpy(&kind, m->data + offsetof(struct verify_row, kind),
	    sizeof(kind));
	if (kind < VERIFY_RESULT || kind > VERIFY_DIFF ||
	    (r->nverify == 0) != (kind == VERIFY_RESULT))
		return -1;
	return append((void **)&r->verify, &r->nverify, &r->verifycap,
	    REPLY_VERIFY_MAX, m);
}

/* A long operation's progress: the latest is kept (kmctl shows each). */
static int
set_progress(struct reply *r, const struct kmsg *m)
{
	memcpy(&r->progress, m->data, sizeof(r->progress));
	r->haveprogress = 1;
	return 0;
}

static int
set_info(struct reply *r, const struct kmsg *m)
{
	return keep_once(&r->info, &r->haveinfo, m);
}

static int
add_rotkey(struct reply *r, const struct kmsg *m)
{
	if (r->nrotkeys == KMD_ROTKEYS_MAX)
		return -1;
	memcpy(&r->rotkeys[r->nrotkeys++], m->data, m->datalen);
	return 0;
}

static int
set_crypt(struct reply *r, const struct kmsg *m)
{
	return keep_alloc((void **)&r->crypt, m);
}

/* The page of a list (keys, alarms, nodes), before its elements. */
static int
set_page(struct reply *r, const struct kmsg *m)
{
	return keep_once(&r->page, &r->havepage, m);
}

static int
add_proc(struct reply *r, const struct kmsg *m)
{
	if (r->nprocs == REPLY_PROCS_MAX)
		return -1;
	memcpy(&r->procs[r->nprocs++], m->data, m->datalen);
	return 0;
}

static int
set_csr(struct reply *r, const struct kmsg *m)
{
	return keep_alloc((void **)&r->csr, m);
}

static int
set_cred(struct reply *r, const struct kmsg *m)
{
	return keep_alloc((void **)&r->cred, m);
}

/* Past REPLY_CHECKS_MAX the last one kept is the latest (shown as it comes). */
static int
add_check(struct reply *r, const struct kmsg *m)
{
	if (r->nchecks == REPLY_CHECKS_MAX)
		r->nchecks--;
	memcpy(&r->checks[r->nchecks++], m->data, m->datalen);
	return 0;
}

static int
set_version(struct reply *r, const struct kmsg *m)
{
	return keep_once(&r->version, &r->haveversion, m);
}

static int
set_upgrade(struct reply *r, const struct kmsg *m)
{
	return keep_once(&r->upgrade, &r->haveupgrade, m);
}

static int
set_health(struct reply *r, const struct kmsg *m)
{
	return keep_once(&r->health, &r->havehealth, m);
}

static int
set_auth(struct reply *r, const struct kmsg *m)
{
	return keep_once(&r->auth, &r->haveauth, m);
}

/*
 * Each data frame a reply may hold: its exact size, and the function
 * that keeps it.  Its strings are checked first, by the one list of
 * every payload's strings (payload_terminated(), common/proto.c).
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
	{ IMSG_USER_INFO, sizeof(struct user_info), add_user },
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
	{ IMSG_UPGRADE_INFO, sizeof(struct upgrade_info), set_upgrade },
	{ IMSG_HEALTH_INFO, sizeof(struct health_info), set_health },
	{ IMSG_BKEY_INFO, sizeof(struct bkey_info), add_bkey },
	{ IMSG_BACKUP_INFO, sizeof(struct backup_info), add_backup },
	{ IMSG_BACKUP_PROGRESS, sizeof(struct backup_progress),
	    set_progress },
	{ IMSG_VERIFY_ROW, sizeof(struct verify_row), add_verify },
};

/* Metrics text, one string per frame, REPLY_TEXT_MAX in all. */
static int
add_text(struct reply *r, const struct kmsg *m)
{
	size_t	 n = m->datalen - 1;
	char	*t;

	if (m->datalen == 0 || m->data[m->datalen - 1] != '\0' ||
	    memchr(m->data, '\0', n) != NULL ||
	    r->textlen + n >= REPLY_TEXT_MAX ||
	    (t = realloc(r->text, r->textlen + n + 1)) == NULL)
		return -1;
	memcpy(t + r->textlen, m->data, n + 1);
	r->text = t;
	r->textlen += n;
	return 0;
}

int
reply_frame(struct reply *r, const struct kmsg *m)
{
	size_t	 i;

	if (m->hdr.type == IMSG_METRICS_TEXT)
		return add_text(r, m);
	for (i = 0; i < sizeof(frames) / sizeof(frames[0]); i++)
		if (frames[i].type == m->hdr.type)
			return m->datalen == frames[i].size &&
			    payload_terminated(m->hdr.type, m->data,
			    m->datalen) ? frames[i].keep(r, m) : -1;
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
	free(r->users);
	free(r->text);
	if (r->bkeys != NULL)
		explicit_bzero(r->bkeys, r->nbkeys * sizeof(*r->bkeys));
	free(r->bkeys);
	free(r->backups);
	free(r->verify);
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
	case P_USER:
		return r->nusers == 1;
	case P_BKEY:
	case P_BKEY_FILE:
		return r->nbkeys == 1;
	case P_BACKUP:
		return r->nbackups == 1;
	case P_CRYPT:
		return r->crypt != NULL;
	case P_CRED:
		return r->cred != NULL;
	case P_VERSION:
		return r->haveversion;
	case P_UPGRADE:
		return r->haveupgrade;
	case P_METRICS:
		return r->text != NULL;
	case P_VERIFY:
		return r->nverify > 0;
	case P_HEALTH:
		return r->havehealth && r->health.state >= 0 &&
		    r->health.state < HEALTH_STATES;
	default:
		return 1;
	}
}
