#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <yajl_tree.h>

#include "body.h"

/* One string field of the request: where it goes and how long it may be. */
struct field {
	const char	*name;
	char		*dst;
	size_t		 len;
	int		 required;
	int		 seen;
	int32_t		*flag;		/* a boolean member, not a string, */
};					/* or a number when len is NUMBER */

#define NUMBER	1

/*
 * The body, copied into copy (len + 1 bytes, NUL-terminated for yajl),
 * parsed as a JSON object; NULL with err set when it is not one.
 */
static yajl_val
body_object(const char *body, size_t len, char *copy, char *err,
    size_t errlen)
{
	char		 perr[256];
	yajl_val	 root;

	memcpy(copy, body, len);
	copy[len] = '\0';
	if (memchr(body, '\0', len) != NULL)
		root = NULL, snprintf(perr, sizeof(perr), "NUL byte");
	else
		root = yajl_tree_parse(copy, perr, sizeof(perr));
	if (root == NULL) {
		perr[strcspn(perr, "\n")] = '\0';
		snprintf(err, errlen, "the request body is not JSON (%s)", perr);
		return NULL;
	}
	if (!YAJL_IS_OBJECT(root)) {
		snprintf(err, errlen, "the request body must be a JSON object");
		yajl_tree_free(root);
		return NULL;
	}
	return root;
}

/*
 * One member of the object into its field: a whole number, a boolean or
 * a string that fits, as the field says; -1 with err set otherwise.
 */
static int
body_member(struct field *f, size_t nf, const char *key, yajl_val v,
    char *err, size_t errlen)
{
	size_t	 i;

	for (i = 0; i < nf && strcmp(f[i].name, key) != 0; i++)
		;
	if (i == nf) {
		snprintf(err, errlen, "unknown field '%.64s'", key);
		return -1;
	}
	if (f[i].seen++) {
		snprintf(err, errlen, "field '%s' is given twice", key);
		return -1;
	}
	if (f[i].flag != NULL && f[i].len == NUMBER) {
		if (!YAJL_IS_INTEGER(v) || YAJL_GET_INTEGER(v) < 0 ||
		    YAJL_GET_INTEGER(v) > INT32_MAX) {
			snprintf(err, errlen, "field '%s' must be a whole"
			    " number", key);
			return -1;
		}
		*f[i].flag = (int32_t)YAJL_GET_INTEGER(v);
		return 0;
	}
	if (f[i].flag != NULL) {
		if (!YAJL_IS_TRUE(v) && !YAJL_IS_FALSE(v)) {
			snprintf(err, errlen, "field '%s' must be true"
			    " or false", key);
			return -1;
		}
		*f[i].flag = YAJL_IS_TRUE(v);
		return 0;
	}
	if (!YAJL_IS_STRING(v)) {
		snprintf(err, errlen, "field '%s' must be a string", key);
		return -1;
	}
	if (strlen(v->u.string) >= f[i].len) {
		snprintf(err, errlen, "field '%s' is longer than %zu"
		    " bytes", key, f[i].len - 1);
		return -1;
	}
	strcpy(f[i].dst, v->u.string);
	return 0;
}

/*
 * Parse an object whose members are all strings from `fields`; anything
 * else (not JSON, not an object, an unknown or mistyped member, a missing
 * required one, too long a value) is an error naming the member.
 */
static int
body_fields(const char *body, size_t len, struct field *f, size_t nf,
    char *err, size_t errlen)
{
	char		*copy;
	yajl_val	 root;
	size_t		 i, k;
	int		 r = -1;

	if (len > BODY_MAX) {
		snprintf(err, errlen, "the request body is larger than %d"
		    " bytes", BODY_MAX);
		return -1;
	}
	if ((copy = malloc(len + 1)) == NULL) {
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	if ((root = body_object(body, len, copy, err, errlen)) == NULL)
		goto done;
	for (k = 0; k < root->u.object.len; k++)
		if (body_member(f, nf, root->u.object.keys[k],
		    root->u.object.values[k], err, errlen) == -1)
			goto done;
	for (i = 0; i < nf; i++)
		if (f[i].required && f[i].flag == NULL && f[i].dst[0] == '\0') {
			snprintf(err, errlen, "field '%s' is required",
			    f[i].name);
			goto done;
		}
	r = 0;
done:
	yajl_tree_free(root);
	explicit_bzero(copy, len);
	free(copy);
	return r;
}

/* {"username": ..., "password": ...} */
int
body_login(const char *body, size_t len, struct user_set *u, char *err,
    size_t errlen)
{
	struct field	 f[] = {
		{ "username", u->name, sizeof(u->name), 1, 0, NULL },
		{ "password", u->password, sizeof(u->password), 1, 0, NULL },
	};

	memset(u, 0, sizeof(*u));
	return body_fields(body, len, f, 2, err, errlen);
}

/* {"host": ..., "url": ..., "publicAddress": ...} */
int
body_cluster_new(const char *body, size_t len, struct cluster_new *cn,
    char *err, size_t errlen)
{
	struct field	 f[] = {
		{ "host", cn->host, sizeof(cn->host), 1, 0, NULL },
		{ "url", cn->url, sizeof(cn->url), 1, 0, NULL },
		{ "publicAddress", cn->pubaddr, sizeof(cn->pubaddr), 0, 0,
		    NULL },
	};

	memset(cn, 0, sizeof(*cn));
	if (body_fields(body, len, f, 3, err, errlen) == -1)
		return -1;
	if (strncmp(cn->url, "https://", 8) != 0 || cn->url[8] == '\0') {
		snprintf(err, errlen, "field 'url' must be an https:// URL");
		return -1;
	}
	return 0;
}

/* {"host": ..., "publicAddress": ...} */
int
body_cluster_csr(const char *body, size_t len, struct cluster_csr *cc,
    char *err, size_t errlen)
{
	struct field	 f[] = {
		{ "host", cc->host, sizeof(cc->host), 1, 0, NULL },
		{ "publicAddress", cc->pubaddr, sizeof(cc->pubaddr), 0, 0,
		    NULL },
	};

	memset(cc, 0, sizeof(*cc));
	return body_fields(body, len, f, 2, err, errlen);
}

/* rot-keys rotate: {"id"}, or {} for a new HSM key */
int
body_rotate(const char *body, size_t len, struct rotkeys_req *rq, char *err,
    size_t errlen)
{
	struct field	 f[] = {
		{ "id", rq->id, sizeof(rq->id), 0, 0, NULL },
	};

	memset(rq, 0, sizeof(*rq));
	rq->rotate = ROTKEYS_ROTATE;
	return body_fields(body, len, f, 1, err, errlen);
}

/* {"csr", "newnodehost", "publicAddress", "sharedHsmPartition": bool} */
int
body_nodes_create(const char *body, size_t len, struct nodes_create *nc,
    char *err, size_t errlen)
{
	struct field	 f[] = {
		{ "csr", nc->csr, sizeof(nc->csr), 1, 0, NULL },
		{ "newnodehost", nc->host, sizeof(nc->host), 1, 0, NULL },
		{ "publicAddress", nc->pubaddr, sizeof(nc->pubaddr), 0, 0,
		    NULL },
		{ "sharedHsmPartition", NULL, 0, 0, 0, &nc->shared_hsm },
	};

	memset(nc, 0, sizeof(*nc));
	return body_fields(body, len, f, 4, err, errlen);
}

/* {"member", "host", "publicAddress", "cert", "cachain", "mkek_blob",
 *  "preflightOnly": bool} */
int
body_cluster_join(const char *body, size_t len, struct cluster_join *cj,
    char *err, size_t errlen)
{
	struct field	 f[] = {
		{ "member", cj->member, sizeof(cj->member), 1, 0, NULL },
		{ "host", cj->host, sizeof(cj->host), 1, 0, NULL },
		{ "publicAddress", cj->pubaddr, sizeof(cj->pubaddr), 0, 0,
		    NULL },
		{ "cert", cj->cert, sizeof(cj->cert), 1, 0, NULL },
		{ "cachain", cj->cachain, sizeof(cj->cachain), 1, 0, NULL },
		{ "mkek_blob", cj->mkek_blob, sizeof(cj->mkek_blob), 1, 0,
		    NULL },
		{ "preflightOnly", NULL, 0, 0, 0, &cj->preflight_only },
	};

	memset(cj, 0, sizeof(*cj));
	return body_fields(body, len, f, 7, err, errlen);
}

/* POST vault/keys2: {"name", "algorithm", "size": number} */
int
body_key_create(const char *body, size_t len, struct keys_req *rq, char *err,
    size_t errlen)
{
	struct field	 f[] = {
		{ "name", rq->name, sizeof(rq->name), 1, 0, NULL },
		{ "algorithm", rq->algorithm, sizeof(rq->algorithm), 0, 0,
		    NULL },
		{ "size", NULL, NUMBER, 0, 0, &rq->size },
	};

	memset(rq, 0, sizeof(*rq));
	rq->op = KEYS_CREATE;
	return body_fields(body, len, f, 3, err, errlen);
}

/* POST crypto/encrypt {"id", "plaintext"}, crypto/decrypt {"id",
 * "ciphertext"}: base64 */
int
body_crypt(const char *body, size_t len, int decrypt, struct keys_req *rq,
    char *err, size_t errlen)
{
	struct field	 f[] = {
		{ "id", rq->name, sizeof(rq->name), 1, 0, NULL },
		{ decrypt ? "ciphertext" : "plaintext", rq->data,
		    sizeof(rq->data), 1, 0, NULL },
	};

	memset(rq, 0, sizeof(*rq));
	rq->op = decrypt ? KEYS_DECRYPT : KEYS_ENCRYPT;
	return body_fields(body, len, f, 2, err, errlen);
}

/*
 * POST users {"name", "password", "role"} (role: admin when left out);
 * PUT users/{name}/password {"password"}; PUT users/{name}/role
 * {"role"}: only the members u->op takes, each required.
 */
int
body_user(const char *body, size_t len, struct user_set *u, char *err,
    size_t errlen)
{
	struct field	 f[] = {
		{ "name", u->name, sizeof(u->name), 1, 0, NULL },
		{ "password", u->password, sizeof(u->password), 1, 0, NULL },
		{ "role", u->role, sizeof(u->role), 0, 0, NULL },
	};

	if (u->op == USER_SETPW)
		return body_fields(body, len, f + 1, 1, err, errlen);
	if (u->op == USER_SETROLE) {
		f[2].required = 1;
		return body_fields(body, len, f + 2, 1, err, errlen);
	}
	return body_fields(body, len, f, 3, err, errlen);
}

/*
 * backup-keys: POST backup-keys {"description"}, POST backup-keys/import
 * {"file", "passphrase", "description"}, POST backup-keys/{id}/export
 * {"passphrase"}: the members rq->op takes.
 */
int
body_bkey(const char *body, size_t len, struct bkey_req *rq, char *err,
    size_t errlen)
{
	struct field	 f[] = {
		{ "passphrase", rq->passphrase, sizeof(rq->passphrase), 1, 0,
		    NULL },
		{ "file", rq->file, sizeof(rq->file), 1, 0, NULL },
		{ "description", rq->description, sizeof(rq->description), 0,
		    0, NULL },
	};

	if (rq->op == BKEY_EXPORT)
		return body_fields(body, len, f, 1, err, errlen);
	if (rq->op == BKEY_IMPORT)
		return body_fields(body, len, f, 3, err, errlen);
	return body_fields(body, len, f + 2, 1, err, errlen);
}

/* POST backups {"backupKey", "description"}, both optional */
int
body_backup(const char *body, size_t len, struct backup_req *rq, char *err,
    size_t errlen)
{
	struct field	 f[] = {
		{ "backupKey", rq->backup_key, sizeof(rq->backup_key), 0, 0,
		    NULL },
		{ "description", rq->description, sizeof(rq->description), 0,
		    0, NULL },
	};

	return body_fields(body, len, f, 2, err, errlen);
}
