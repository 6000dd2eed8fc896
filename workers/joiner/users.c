/*
 * Users of the HTTPS API: argon2id hashes (libsodium's crypto_pwhash_str)
 * in the replicated kmd_users table, so a joining node adopts the
 * cluster's credentials.  Passwords are set only over the control socket
 * (kmctl users set-password); the api worker asks here to check a login.
 */
#include <ctype.h>
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
};

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
	else
		kchan_send(r->j->w->parent, IMSG_CTL_END, r->reqid, -1, NULL, 0);
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
