/*
 * Users of the HTTPS API: argon2id hashes (libsodium's crypto_pwhash_str)
 * and a role in the replicated kmd_users table, so a joining node adopts
 * the cluster's credentials.  Users are managed only over the control
 * socket (kmctl users ...); the api worker asks here to check a login,
 * and a login that passes gets a token signed here (common/token.c),
 * whose key the parent learns at each start of the joiner.
 */
#include <ctype.h>
#include <event2/event.h>
#include <sodium.h>
#include <stdlib.h>
#include <string.h>

#include "joiner.h"
#include "log.h"
#include "pwhash.h"
#include "token.h"
#include "util.h"

struct ureq {
	struct joiner	*j;
	uint32_t	 reqid;
	int32_t		 op;		/* enum user_op */
	int32_t		 lifetime;	/* a login's token, s */
	char		 name[KMD_NAME_MAX];
	char		 role[KMD_ROLE_MAX];
	char		*password;	/* sodium_malloc'd: the login's */
};

/* What each users command is called in its errors. */
static const char *const user_cmd[USER_OPS] = {
	[USER_SETPW] = "users set-password", [USER_CREATE] = "users create",
	[USER_SETROLE] = "users set-role", [USER_DELETE] = "users delete",
	[USER_LIST] = "users list", [USER_GET] = "users get"
};

/*
 * Tokens end with their user's password or role.  Every USERS_WATCH_MS
 * the joiner reads each user's mark (a digest of its stored hash and
 * role, new with every change wherever in the cluster it was made, and brought
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
#define SQL_USER_MARK	"md5(hash || ':' || role)"
/*
 * The read gives up on a lock it would wait for (a restore's, a
 * migration's): it runs on the main connection, whose other work must
 * not queue behind it; the next tick reads again.
 */
#define SQL_USER_MARKS \
	"SET LOCAL lock_timeout = '200ms'; SELECT name, " SQL_USER_MARK \
	" FROM kmd_users ORDER BY name LIMIT 1024"

struct umark {
	char		 name[KMD_NAME_MAX];
	char		 mark[33];
};

struct users_watch {
	struct event	*ev;
	int		 busy;
	int		 known;		/* marks read at least once */
	uint64_t	 gen;		/* changes made here */
	uint64_t	 sent_gen;	/* gen when the read in flight was sent */
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
	/*
	 * A change made here while the read was out was told already, and
	 * its mark learnt: this read may be from before it, and would tell
	 * it again, later, ending the tokens of a login that followed it.
	 */
	if (!pq_ok(res) || j->join != NULL || uw->sent_gen != uw->gen)
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
		    i < n ? "has a new password or role" : "is gone");
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
	if (pq_query(j->db, SQL_USER_MARKS, 0, NULL, users_marked, j) == 0) {
		j->uw->busy = 1;
		j->uw->sent_gen = j->uw->gen;
	}
}

/* A change made here, told at once: learn its mark (NULL: gone). */
static void
users_watch_learn(struct joiner *j, const char *name, const char *mark)
{
	struct users_watch	*uw = j->uw;
	size_t			 i;

	if (uw == NULL)
		return;
	uw->gen++;
	for (i = 0; i < uw->n; i++)
		if (strcmp(uw->m[i].name, name) == 0)
			break;
	if (mark == NULL) {
		if (i < uw->n)
			memmove(&uw->m[i], &uw->m[i + 1],
			    (uw->n - i - 1) * sizeof(uw->m[0]));
		uw->n -= i < uw->n;
		return;
	}
	if (i == uw->n) {
		if (uw->n == USERS_MAX)
			return;
		uw->n++;
	}
	kmd_strlcpy(uw->m[i].name, name, sizeof(uw->m[i].name));
	kmd_strlcpy(uw->m[i].mark, mark, sizeof(uw->m[i].mark));
}

/* Watch the users, and make the key this start's tokens are signed with. */
void
users_watch_start(struct joiner *j)
{
	struct token_key	 tk;

	if ((j->uw = calloc(1, sizeof(*j->uw))) == NULL)
		fatal("%s", __func__);
	j->uw->ev = worker_every(j->w, USERS_WATCH_MS, users_watch, j);
	crypto_sign_keypair(tk.pk, j->token_sk);
	kchan_send(j->w->parent, IMSG_TOKEN_KEY, 0, -1, &tk, sizeof(tk));
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

#define SQL_USER_COLS \
	"name, role, " SQL_ISO("created")

static const char *const user_sql[USER_OPS] = {
	[USER_SETPW] = "INSERT INTO kmd_users (name, hash) VALUES ($1, $2)"
	    " ON CONFLICT (name) DO UPDATE SET hash = EXCLUDED.hash"
	    " RETURNING name, " SQL_USER_MARK,
	[USER_CREATE] = "INSERT INTO kmd_users (name, hash, role) VALUES ($1,"
	    " $2, $3) ON CONFLICT (name) DO NOTHING RETURNING " SQL_USER_COLS
	    ", " SQL_USER_MARK,
	[USER_SETROLE] = "UPDATE kmd_users SET role = $3 WHERE name = $1 AND"
	    " $2 = '' RETURNING " SQL_USER_COLS ", " SQL_USER_MARK,
	[USER_DELETE] = "DELETE FROM kmd_users WHERE name = $1 AND $2 = '' AND"
	    " $3 = '' RETURNING name",
	[USER_LIST] = "SELECT " SQL_USER_COLS " FROM kmd_users WHERE $1 = ''"
	    " AND $2 = '' AND $3 = '' ORDER BY name LIMIT 1024",
	[USER_GET] = "SELECT " SQL_USER_COLS " FROM kmd_users WHERE name = $1"
	    " AND $2 = '' AND $3 = ''",
};

static void
user_done(struct pq *db, PGresult *res, void *arg)
{
	struct ureq		*r = arg;
	struct kchan		*ch = r->j->w->parent;
	struct user_info	 ui;
	int			 i;

	if (!pq_ok(res)) {
		kchan_senderr(ch, r->reqid, "%s: %s", user_cmd[r->op],
		    res ? PQresultErrorMessage(res) : pq_error(db));
		free(r);
		return;
	}
	if (PQntuples(res) == 0 && r->op == USER_CREATE)
		kchan_senderr(ch, r->reqid, "users create: user %s exists"
		    " already; change it with users set-password or users"
		    " set-role", r->name);
	else if (PQntuples(res) == 0 && r->op != USER_LIST)
		kchan_senderr(ch, r->reqid, "%s: no user %s", user_cmd[r->op],
		    r->name);
	else {
		if (r->op != USER_GET && r->op != USER_LIST) {
			log_info("%s: user %s", user_cmd[r->op], r->name);
			user_changed(r->j, r->name);
			users_watch_learn(r->j, r->name, r->op == USER_DELETE ?
			    NULL : PQgetvalue(res, 0, PQnfields(res) - 1));
		}
		for (i = 0; PQnfields(res) >= 3 && i < PQntuples(res); i++) {
			memset(&ui, 0, sizeof(ui));
			kmd_strlcpy(ui.name, PQgetvalue(res, i, 0),
			    sizeof(ui.name));
			kmd_strlcpy(ui.role, PQgetvalue(res, i, 1),
			    sizeof(ui.role));
			kmd_strlcpy(ui.created, PQgetvalue(res, i, 2),
			    sizeof(ui.created));
			kchan_send(ch, IMSG_USER_INFO, r->reqid, -1, &ui,
			    sizeof(ui));
		}
		kchan_send(ch, IMSG_CTL_END, r->reqid, -1, NULL, 0);
	}
	free(r);
}

static void	user_run(struct ureq *, const char *);

static void
user_hashed(int result, const char *hash, void *arg)
{
	struct ureq	*r = arg;

	if (result == -1) {
		kchan_senderr(r->j->w->parent, r->reqid, "%s: out of memory"
		    " hashing the password", user_cmd[r->op]);
		free(r);
		return;
	}
	user_run(r, hash);
}

/* The command's statement, with the new hash when it sets a password. */
static void
user_run(struct ureq *r, const char *hash)
{
	const char	*params[3];

	params[0] = r->op == USER_LIST ? "" : r->name;
	params[1] = hash;
	params[2] = r->op == USER_CREATE || r->op == USER_SETROLE ? r->role :
	    "";
	pq_query(r->j->db, user_sql[r->op], r->op == USER_SETPW ? 2 : 3,
	    params, user_done, r);
}

/* users ...: each change of a user ends its tokens (user_changed()). */
int
joiner_user_set(struct kchan *ch, struct kmsg *m, void *arg)
{
	struct joiner	*j = arg;
	struct user_set	*u;
	struct ureq	*r;
	const char	*cmd;
	int		 op;

	if ((u = take(m)) == NULL || !TERMINATED(u->role) || u->op < 0 ||
	    u->op >= USER_OPS) {
		if (u != NULL)
			sodium_free(u);
		return -1;
	}
	op = u->op;
	cmd = user_cmd[op];
	if (op != USER_LIST && !valid_name(u->name)) {
		sodium_free(u);
		return kchan_senderr(ch, m->hdr.reqid, "%s: a user name is of"
		    " a-z, 0-9, '_', '.' and '-'", cmd);
	}
	if ((op == USER_CREATE || op == USER_SETROLE) &&
	    role_parse(u->role) == -1) {
		sodium_free(u);
		return kchan_senderr(ch, m->hdr.reqid, "%s: --role is admin,"
		    " keys or viewer", cmd);
	}
	if ((op == USER_SETPW || op == USER_CREATE) &&
	    strlen(u->password) < 8) {
		sodium_free(u);
		return kchan_senderr(ch, m->hdr.reqid, "%s: a password of at"
		    " least 8 characters is needed", cmd);
	}
	if (!j->ready) {
		sodium_free(u);
		return kchan_senderr(ch, m->hdr.reqid, "%s: the node database"
		    " is not ready yet; try again in a few seconds", cmd);
	}
	if ((r = calloc(1, sizeof(*r))) == NULL)
		fatal("%s", __func__);
	r->j = j;
	r->reqid = m->hdr.reqid;
	r->op = op;
	kmd_strlcpy(r->name, u->name, sizeof(r->name));
	kmd_strlcpy(r->role, u->role, sizeof(r->role));
	if (op != USER_SETPW && op != USER_CREATE)
		user_run(r, "");
	else if (pwhash_make(u->password, user_hashed, r) == -1) {
		free(r);
		kchan_senderr(ch, m->hdr.reqid, "%s: kmd is busy checking"
		    " passwords; try again in a few seconds", cmd);
	}
	sodium_free(u);
	return 0;
}

/* A login's answer: on success, its role and a token signed here. */
static void
auth_verified(int ok, const char *hash, void *arg)
{
	struct ureq		*r = arg;
	struct auth_result	 ar;
	struct token_claims	 tc;

	(void)hash;
	memset(&ar, 0, sizeof(ar));
	memset(&tc, 0, sizeof(tc));
	ar.ok = ok && r->role[0] != '\0';
	if (ar.ok) {
		kmd_strlcpy(tc.user, r->name, sizeof(tc.user));
		tc.role = role_parse(r->role);
		tc.issued = mono_ms();
		tc.expires = tc.issued + (int64_t)r->lifetime * 1000;
		kmd_strlcpy(ar.role, r->role, sizeof(ar.role));
		if (r->lifetime <= 0 || token_sign(&tc, r->j->token_sk,
		    ar.token, sizeof(ar.token)) == -1) {
			log_warnx("login of %s: no token could be made",
			    r->name);
			memset(&ar, 0, sizeof(ar));
		}
	}
	kchan_send(r->j->w->parent, IMSG_AUTH_RESULT, r->reqid, -1, &ar,
	    sizeof(ar));
	sodium_memzero(&ar, sizeof(ar));
	free(r);
}

/*
 * The user's hash and role, then the check on the hashing thread: the
 * same work whether or not the user exists (a fixed hash stands in).
 */
static void
auth_read(struct pq *db, PGresult *res, void *arg)
{
	struct ureq		*r = arg;
	const char		*hash = NULL;
	char			*password = r->password;

	(void)db;
	if (pq_ok(res) && PQntuples(res) == 1 && PQnfields(res) == 2) {
		hash = PQgetvalue(res, 0, 0);
		kmd_strlcpy(r->role, PQgetvalue(res, 0, 1), sizeof(r->role));
	}
	r->password = NULL;
	if (pwhash_verify(hash != NULL ? hash : pwhash_dummy(), password,
	    auth_verified, r) == -1) {
		kchan_senderr(r->j->w->parent, r->reqid, "too many logins"
		    " being checked; try again in a second");
		free(r);
	}
	sodium_free(password);
}

int
joiner_auth_check(struct kchan *ch, struct kmsg *m, void *arg)
{
	struct joiner	*j = arg;
	struct user_set	*u;
	struct ureq	*r;
	const char	*params[1];
	struct auth_result ar;

	memset(&ar, 0, sizeof(ar));
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
	r->lifetime = u->lifetime;
	kmd_strlcpy(r->name, u->name, sizeof(r->name));
	params[0] = u->name;
	pq_query(j->db, "SELECT hash, role FROM kmd_users WHERE name = $1", 1,
	    params, auth_read, r);
	sodium_free(u);
	return 0;
}
