/*
 * A token is base64url (no padding) of: the signature (64 bytes), then
 * the signed claims: a format byte (1), the role (1 byte), issued and
 * expires (8 bytes each, big-endian), a nonce (16 bytes) and the user
 * name (the rest).
 */
#include <sodium.h>
#include <string.h>

#include "ops.h"
#include "token.h"

#define TOKEN_FORMAT	1
#define HEAD		(1 + 1 + 8 + 8 + 16)
#define RAW_MAX		(crypto_sign_BYTES + HEAD + KMD_NAME_MAX)

static void
put64(unsigned char *p, int64_t v)
{
	int	 i;

	for (i = 7; i >= 0; i--, v = (int64_t)((uint64_t)v >> 8))
		p[i] = (unsigned char)(v & 0xff);
}

static int64_t
get64(const unsigned char *p)
{
	uint64_t	 v = 0;
	int		 i;

	for (i = 0; i < 8; i++)
		v = v << 8 | p[i];
	return (int64_t)v;
}

/* The token of c, signed with sk, into out; -1 if it does not fit. */
int
token_sign(const struct token_claims *c, const unsigned char *sk, char *out,
    size_t len)
{
	unsigned char	 raw[RAW_MAX], *m = raw + crypto_sign_BYTES;
	size_t		 n = strnlen(c->user, sizeof(c->user));

	if (n == 0 || n >= sizeof(c->user) || c->role <= ROLE_NONE ||
	    c->role > ROLE_ADMIN ||
	    sodium_base64_ENCODED_LEN(crypto_sign_BYTES + HEAD + n,
	    sodium_base64_VARIANT_URLSAFE_NO_PADDING) > len)
		return -1;
	m[0] = TOKEN_FORMAT;
	m[1] = (unsigned char)c->role;
	put64(m + 2, c->issued);
	put64(m + 10, c->expires);
	randombytes_buf(m + 18, 16);
	memcpy(m + HEAD, c->user, n);
	crypto_sign_detached(raw, NULL, m, HEAD + n, sk);
	sodium_bin2base64(out, len, raw, crypto_sign_BYTES + HEAD + n,
	    sodium_base64_VARIANT_URLSAFE_NO_PADDING);
	sodium_memzero(raw, sizeof(raw));
	return 0;
}

/*
 * The claims of tok if it is well formed and its signature verifies
 * under pk; -1 otherwise.  Expiry is the caller's to check.
 */
int
token_open(const char *tok, const unsigned char *pk, struct token_claims *c)
{
	unsigned char	 raw[RAW_MAX], *m = raw + crypto_sign_BYTES;
	size_t		 n, tlen = strnlen(tok, KMD_TOKEN_MAX);
	size_t		 i;

	memset(c, 0, sizeof(*c));
	if (tlen == KMD_TOKEN_MAX || sodium_base642bin(raw, sizeof(raw), tok,
	    tlen, NULL, &n, NULL, sodium_base64_VARIANT_URLSAFE_NO_PADDING) !=
	    0 || n <= crypto_sign_BYTES + HEAD ||
	    n - crypto_sign_BYTES - HEAD >= sizeof(c->user) ||
	    crypto_sign_verify_detached(raw, m, n - crypto_sign_BYTES, pk) != 0
	    || m[0] != TOKEN_FORMAT || m[1] <= ROLE_NONE || m[1] > ROLE_ADMIN)
		return -1;
	n -= crypto_sign_BYTES + HEAD;
	for (i = 0; i < n; i++)
		if (m[HEAD + i] == '\0')
			return -1;
	c->role = m[1];
	c->issued = get64(m + 2);
	c->expires = get64(m + 10);
	memcpy(c->user, m + HEAD, n);
	return 0;
}
