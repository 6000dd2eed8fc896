/*
 * Users of the HTTPS API: argon2id hashes (libsodium's crypto_pwhash_str)
 * in the replicated kmd_users table, so a joining node adopts the
 * cluster's credentials.  Passwords are set only over the control socket
 * (kmctl users set-password); the api worker asks here to check a login.
 */
#include <ctype.h>
#include <event2/event.h>
#include <sodium.h>
#include <stdlib.h>
#include <string.h>

#include "joiner.h"
#include "log.h"
#include "util.h"

/*
 * A hash's cost.  The fuzzers' build (make fuzz) hashes at libsodium's
 * least: one of their inputs may carry dozens of logins, each 64 MB and
 * a tenth of a second at the real cost.
 */
#ifdef FUZZING_BUILD_MODE_UNSAFE_FOR_PRODUCTION
#define PW_OPS		crypto_pwhash_OPSLIMIT_MIN
#define PW_MEM		crypto_pwhash_MEMLIMIT_MIN
#else
#define PW_OPS		crypto_pwhash_OPSLIMIT_INTERACTIVE
#define PW_MEM		crypto_pwhash_MEMLIMIT_INTERACTIVE
#endif

struct ureq {
	struct joiner	*j;
	uint32_t	 reqid;
	char		*password;	/* sodium_malloc'd, for a check */
	char		 name[KMD_NAME_MAX];
};

/*
 * Tokens end with their user's password.  Every USERS_WATCH_MS the
 * joiner reads each user's mark (a digest of its stored hash, new with
 * every set-password wherever in the cluster it was made, and brought
 * here by replication) and tells the api worker, through the parent, of
 * each user whose mark changed or who is gone: the api ends their
 * tokens.  The first read only learns the marks; a set-password here
 * tells at once.  While this node joins a cluster, whose users replace
 * its own, nothing is told and the marks are learnt again afterwards:
 * the join's operator polls its progress with a token of the node's
 * users from before (kmd.8 says so).
 */
#define USERS_WATCH_MS	2000
#define USERS_MAX	1024
#define SQL_USER_MARKS \
	"SELECT name, md5(hash) FROM kmd_users ORDER BY name LIMIT 1024"

struct umark {
	char		 name[KMD_NAME_MAX];
	char		 mark[33];
};

struct users_watch {
	struct event	*ev;
	int		 busy;
	int		 known;		/* marks read at least once */
	size_t		 n;
	struct umark	 m[USERS_MAX];
};

static void
user_changed(struct joiner *j, const char *name)
{
	struct user_changed	 uc;

	memset(&uc, 0, sizeof(uc));
	kmd_strlcpy(uc.name, name, sizeof(uc.name));
	kchan_send(j->w->parent, IMSG_USER_CHANGED, 0, -1, &uc, sizeof(uc));
}

static void
users_marked(struct pq *db, PGresult *res, void *arg)
{
	struct joiner		*j = arg;
	struct users_watch	*uw = j->uw;
	struct umark		*now;
	size_t			 i, k, n;

	(void)db;
	uw->busy = 0;
	if (j->join != NULL)
		uw->known = 0;
	if (!pq_ok(res) || j->join != NULL)
		return;
	n = (size_t)PQntuples(res);
	if ((now = calloc(n + 1, sizeof(*now))) == NULL)
		fatal("%s", __func__);
	for (i = 0; i < n; i++) {
		kmd_strlcpy(now[i].name, PQgetvalue(res, i, 0),
		    sizeof(now[i].name));
		kmd_strlcpy(now[i].mark, PQgetvalue(res, i, 1),
		    sizeof(now[i].mark));
	}
	for (k = 0; uw->known && k < uw->n; k++) {
		for (i = 0; i < n; i++)
			if (strcmp(now[i].name, uw->m[k].name) == 0)
				break;
		if (i < n && strcmp(now[i].mark, uw->m[k].mark) == 0)
			continue;
		log_info("user %s %s: its API tokens end", uw->m[k].name,
		    i < n ? "has a new password" : "is gone");
		user_changed(j, uw->m[k].name);
	}
	memcpy(uw->m, now, n * sizeof(*now));
	uw->n = n;
	uw->known = 1;
	free(now);
}

static void
users_watch(evutil_socket_t fd, short ev, void *arg)
{
	struct joiner	*j = arg;

	(void)fd;
	(void)ev;
	if (j->join != NULL)
		j->uw->known = 0;
	if (!j->ready || j->uw->busy || j->join != NULL)
		return;
	if (pq_query(j->db, SQL_USER_MARKS, 0, NULL, users_marked, j) == 0)
		j->uw->busy = 1;
}

void
users_watch_start(struct joiner *j)
{
	if ((j->uw = calloc(1, sizeof(*j->uw))) == NULL)
		fatal("%s", __func__);
	j->uw->ev = worker_every(j->w, USERS_WATCH_MS, users_watch, j);
}

/*
 * A join ended: learn the users' marks now, before a password changed
 * after the join could be learnt as if it had been there all along.
 */
void
users_watch_soon(struct joiner *j)
{
	if (j->uw == NULL)
		return;
	j->uw->known = 0;
	event_active(j->uw->ev, EV_TIMEOUT, 0);
}

void
users_watch_free(struct joiner *j)
{
	if (j->uw == NULL)
		return;
	event_free(j->uw->ev);
	free(j->uw);
	j->uw = NULL;
}

static int
valid_name(const char *s)
{
	if (*s == '\0')
		return 0;
	for (; *s != '\0'; s++)
		if (!islower((unsigned char)*s) && !isdigit((unsigned char)*s) &&
		    strchr("_.-", *s) == NULL)
			return 0;
	return 1;
}

/* Copy a user_set out of a frame into guarded memory; NULL if malformed. */
static struct user_set *
take(const struct kmsg *m)
{
	struct user_set	*u;

	if ((u = sodium_malloc(sizeof(*u))) == NULL)
		fatal("%s", __func__);
	memcpy(u, m->data, sizeof(*u));
	sodium_memzero((void *)m->data, m->datalen);
	if (!TERMINATED(u->name) ||
	    !TERMINATED(u->password)) {
		sodium_free(u);
		return NULL;
	}
	return u;
}

static void
user_stored(struct pq *db, PGresult *res, void *arg)
{
	struct ureq	*r = arg;

	if (!pq_ok(res))
		kchan_senderr(r->j->w->parent, r->reqid, "users set-password:"
		    " %s", res ? PQresultErrorMessage(res) : pq_error(db));
	else {
		user_changed(r->j, r->name);
		kchan_send(r->j->w->parent, IMSG_CTL_END, r->reqid, -1, NULL, 0);
	}
	free(r);
}

int
joiner_user_set(struct kchan *ch, struct kmsg *m, void *arg)
{
	struct joiner	*j = arg;
	struct user_set	*u;
	struct ureq	*r;
	char		 hash[crypto_pwhash_STRBYTES];
	const char	*params[2];

	if ((u = take(m)) == NULL)
		return -1;
	if (!valid_name(u->name) || strlen(u->password) < 8) {
		sodium_free(u);
		return kchan_senderr(ch, m->hdr.reqid, "users set-password: a"
		    " name of a-z, 0-9, '_', '.', '-' and a password of at"
		    " least 8 characters are needed");
	}
	if (!j->ready) {
		sodium_free(u);
		return kchan_senderr(ch, m->hdr.reqid, "users set-password: the"
		    " node database is not ready yet; try again in a few"
		    " seconds");
	}
	if (crypto_pwhash_str(hash, u->password, strlen(u->password), PW_OPS,
	    PW_MEM) != 0) {
		sodium_free(u);
		return kchan_senderr(ch, m->hdr.reqid, "users set-password: out"
		    " of memory hashing the password");
	}
	if ((r = calloc(1, sizeof(*r))) == NULL)
		fatal("%s", __func__);
	r->j = j;
	r->reqid = m->hdr.reqid;
	kmd_strlcpy(r->name, u->name, sizeof(r->name));
	params[0] = u->name;
	params[1] = hash;
	log_info("setting the password of user %s", u->name);
	pq_query(j->db, "INSERT INTO kmd_users (name, hash) VALUES ($1, $2)"
	    " ON CONFLICT (name) DO UPDATE SET hash = EXCLUDED.hash", 2,
	    params, user_stored, r);
	sodium_free(u);
	return 0;
}

static void
auth_checked(struct pq *db, PGresult *res, void *arg)
{
	/* A fixed hash to verify against when the user does not exist. */
	static char		 dummy[crypto_pwhash_STRBYTES];
	struct ureq		*r = arg;
	struct auth_result	 ar;
	const char		*hash;

	(void)db;
	if (dummy[0] == '\0' && crypto_pwhash_str(dummy, "x", 1, PW_OPS,
	    PW_MEM) != 0)
		fatalx("%s: crypto_pwhash_str", __func__);
	hash = pq_ok(res) && PQntuples(res) == 1 ? PQgetvalue(res, 0, 0) :
	    NULL;
	memset(&ar, 0, sizeof(ar));
	/* Same work whether or not the user exists. */
	ar.ok = crypto_pwhash_str_verify(hash ? hash : dummy, r->password,
	    strlen(r->password)) == 0 && hash != NULL;
	kchan_send(r->j->w->parent, IMSG_AUTH_RESULT, r->reqid, -1, &ar,
	    sizeof(ar));
	sodium_free(r->password);
	free(r);
}

int
joiner_auth_check(struct kchan *ch, struct kmsg *m, void *arg)
{
	struct joiner	*j = arg;
	struct user_set	*u;
	struct ureq	*r;
	const char	*params[1];
	struct auth_result ar = { 0 };

	if ((u = take(m)) == NULL)
		return -1;
	if (!j->ready) {
		sodium_free(u);
		return kchan_send(ch, IMSG_AUTH_RESULT, m->hdr.reqid, -1, &ar,
		    sizeof(ar));
	}
	if ((r = calloc(1, sizeof(*r))) == NULL ||
	    (r->password = sodium_malloc(sizeof(u->password))) == NULL)
		fatal("%s", __func__);
	memcpy(r->password, u->password, sizeof(u->password));
	r->j = j;
	r->reqid = m->hdr.reqid;
	params[0] = u->name;
	pq_query(j->db, "SELECT hash FROM kmd_users WHERE name = $1", 1,
	    params, auth_checked, r);
	sodium_free(u);
	return 0;
}
