/*
 * Who sent a request through the api worker, checked here again: the
 * api worker faces the network, so the parent trusts none of its word.
 * Ahead of each request that needs a role, the api sends the caller's
 * token under the same id (IMSG_API_AUTH).  The token is the joiner's,
 * signed with a key made at each joiner start (IMSG_TOKEN_KEY): the
 * api cannot mint one.  It must verify, not have expired, be no longer
 * lived than api token-lifetime, and be younger than the last change of
 * its user (IMSG_USER_CHANGED: a new password or role, or gone); its
 * role must be at least the one the catalogue gives the request
 * (op_request_role()).  So a compromised api acts only with tokens its
 * callers send it, within their roles.
 *
 * A token's signature is verified once: its claims are kept under the
 * BLAKE2b digest of the whole token (VERIFIED_MAX, direct-mapped, until
 * the joiner's key changes), and every other check is made again at each
 * request.  A token that differs in one byte has another digest.
 */
#include <sodium.h>
#include <stdlib.h>
#include <string.h>

#include "kmd.h"
#include "log.h"
#include "token.h"
#include "util.h"

#define AUTHS_MAX	128	/* tokens sent whose request has not come */
#define ENDS_MAX	256	/* users changed since the joiner's start */
#define CLOCK_SLACK	1000	/* ms */
#define VERIFIED_MAX	64	/* tokens whose signature was verified */

struct auth {
	unsigned char	 pk[crypto_sign_PUBLICKEYBYTES];
	int		 have_pk;
	struct {
		uint32_t	 reqid;
		int		 role;		/* -1: the token was refused */
		char		 why[160];
	}		 a[AUTHS_MAX];
	size_t		 next;
	struct {
		char		 name[KMD_NAME_MAX];
		int64_t		 at;		/* ms */
	}		 ends[ENDS_MAX];
	size_t		 nends;
	int64_t		 floor;		/* ms: tokens older end too */
	struct {
		uint8_t			 digest[crypto_generichash_BYTES];
		struct token_claims	 tc;
		int			 set;
	}		 verified[VERIFIED_MAX];
};

void
auth_init(struct parent *p)
{
	if ((p->auth = calloc(1, sizeof(*p->auth))) == NULL)
		fatal("%s", __func__);
}

/* The joiner (re)started: its tokens verify under this key alone. */
int
auth_token_key(struct kchan *ch, struct kmsg *m, void *arg)
{
	struct child		*c = arg;
	struct auth		*au = c->p->auth;
	const struct token_key	*tk = (const void *)m->data;

	(void)ch;
	memcpy(au->pk, tk->pk, sizeof(au->pk));
	au->have_pk = 1;
	memset(au->a, 0, sizeof(au->a));
	memset(au->verified, 0, sizeof(au->verified));
	au->nends = 0;
	au->floor = 0;
	return 0;
}

/* A user changed: its tokens from before now end. */
void
auth_user_ended(struct parent *p, const char *name)
{
	struct auth	*au = p->auth;
	size_t		 i;

	for (i = 0; i < au->nends; i++)
		if (strcmp(au->ends[i].name, name) == 0)
			break;
	if (i == ENDS_MAX) {
		/* Full: every token older than now ends. */
		au->floor = mono_ms();
		au->nends = 0;
		return;
	}
	if (i == au->nends)
		au->nends++;
	kmd_strlcpy(au->ends[i].name, name, sizeof(au->ends[i].name));
	au->ends[i].at = mono_ms();
}

/* The claims of a token this node issued, its signature verified once. */
static int
token_claims_of(struct auth *au, const char *tok, struct token_claims *tc)
{
	uint8_t	 d[crypto_generichash_BYTES];
	size_t	 k;

	if (!au->have_pk)
		return -1;
	crypto_generichash(d, sizeof(d), (const uint8_t *)tok,
	    strnlen(tok, KMD_TOKEN_MAX), NULL, 0);
	k = d[0] % VERIFIED_MAX;
	if (au->verified[k].set &&
	    sodium_memcmp(au->verified[k].digest, d, sizeof(d)) == 0) {
		memcpy(tc, &au->verified[k].tc, sizeof(*tc));
		return 0;
	}
	if (token_open(tok, au->pk, tc) == -1)
		return -1;
	memcpy(au->verified[k].digest, d, sizeof(d));
	memcpy(&au->verified[k].tc, tc, sizeof(*tc));
	au->verified[k].set = 1;
	return 0;
}

static int
token_check(struct parent *p, const char *tok, char *why, size_t len)
{
	struct auth		*au = p->auth;
	struct token_claims	 tc;
	int64_t			 now = mono_ms();
	size_t			 i;

	if (token_claims_of(au, tok, &tc) == -1) {
		snprintf(why, len, "the token is not one this node issued");
		return -1;
	}
	if (tc.expires <= now || tc.issued > now + CLOCK_SLACK ||
	    tc.expires - tc.issued > (int64_t)p->conf.token_lifetime * 1000 +
	    CLOCK_SLACK) {
		snprintf(why, len, "the token of %s has expired", tc.user);
		return -1;
	}
	for (i = 0; i < au->nends; i++)
		if (strcmp(au->ends[i].name, tc.user) == 0 &&
		    tc.issued <= au->ends[i].at)
			break;
	if (i < au->nends || tc.issued <= au->floor) {
		snprintf(why, len, "user %s changed after the token was"
		    " issued; log in again", tc.user);
		return -1;
	}
	return tc.role;
}

/* The token of the api's next request of this id. */
int
auth_api_token(struct kchan *ch, struct kmsg *m, void *arg)
{
	struct child		*c = arg;
	struct auth		*au = c->p->auth;
	const struct api_auth	*aa = (const void *)m->data;
	size_t			 k = au->next++ % AUTHS_MAX;

	(void)ch;
	au->a[k].reqid = m->hdr.reqid;
	au->a[k].role = token_check(c->p, aa->token, au->a[k].why,
	    sizeof(au->a[k].why));
	sodium_memzero((void *)m->data, m->datalen);
	return 0;
}

/*
 * Whether the api's request m may run: its role is none, or the token
 * sent ahead of it carries one at least as high.  Each token serves one
 * request.  why: the reason, when not.
 */
int
auth_api_allows(struct parent *p, const struct kmsg *m, char *why,
    size_t len)
{
	struct auth	*au = p->auth;
	enum op_role	 need = op_request_role(m->hdr.type, m->data,
			    m->datalen);
	size_t		 i;
	int		 role;

	if (need == ROLE_NONE)
		return 1;
	for (i = 0; i < AUTHS_MAX; i++)
		if (au->a[i].reqid == m->hdr.reqid && au->a[i].reqid != 0)
			break;
	if (i == AUTHS_MAX) {
		snprintf(why, len, "no token came with the request");
		return 0;
	}
	role = au->a[i].role;
	if (role < 0)
		kmd_strlcpy(why, au->a[i].why, len);
	else if (role < (int)need)
		snprintf(why, len, "the token's role %s is below %s",
		    role_name(role), role_name(need));
	au->a[i].reqid = 0;
	return role >= (int)need;
}
