/*
 * keys: the data the appliance serves, in the replicated kmd_keys table.
 * A key is a name and its versions 0, 1, ... (keys rotate adds one; rows
 * are never updated).  The hsm worker makes each version's material and
 * seals it under the cluster KEK with the version's id as associated
 * data; this node keeps only that.  Encrypt and decrypt send the sealed
 * material with the caller's data to the hsm worker and its answer back.
 *
 * Rows never conflict between nodes: each has a random id, and when two
 * nodes make the same name or version at the same moment both rows stay
 * (schema v8 says why).  Every node then reads the same one, the row with
 * the smallest id, and decrypt tries each row of the version the
 * ciphertext names, so what either node encrypted in the meantime still
 * opens.
 *
 * Requests run concurrently, each on its own struct kreq, over a
 * connection of their own so that a cluster operation does not hold
 * them up.
 */
#include <ctype.h>
#include <sodium.h>
#include <stdarg.h>
#include <strings.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "joiner.h"
#include "log.h"
#include "schema.h"
#include "util.h"

#define HSM_WAIT	10		/* seconds for the hsm's answer */

struct kreq {
	TAILQ_ENTRY(kreq)	 entry;
	struct joiner		*j;
	uint32_t		 reqid;		/* the client's request */
	uint32_t		 call;		/* the hsm's answer awaited */
	struct keys_req		 rq;
	struct key_info		 info;		/* the key, as answered */
	char			 key_id[KMD_NODEID_MAX];	/* version's */
	char			 node_id[KMD_NODEID_MAX];
	char			 kek[KMD_WRAPPED_MAX];
	struct key_alt		 alts[ALTS_MAX];	/* decrypt: the rows */
	int			 nalts, alt;
	int			 version;	/* asked: -1 the latest */
	uint64_t		 gen;		/* keycache_gen() when asked */
};

static const char *const opname[KEYS_OPS] = {
	"create", "list", "get", "delete", "rotate", "encrypt", "decrypt"
};

/*
 * The columns of a key's answer (key_info), then a lookup's extra ones.
 * Of two rows for one name and version, every node reads the one with
 * the smallest id.
 */
#define KEY_COLS \
	"k.name, k.version, k.algorithm, k.size, k.kcv, " \
	SQL_ISO("k.created") ", " SQL_ISO("(SELECT min(z.created) FROM" \
	" kmd_keys z WHERE z.name = k.name)") ", coalesce((SELECT z.key_id" \
	" FROM kmd_keys z WHERE z.name = k.name AND z.version = 0 ORDER BY" \
	" z.key_id LIMIT 1), k.key_id)"

/*
 * A version of a key ($2: a version, or NULL for the latest), named by its
 * name ($1) or by the id of any of its versions ($3), with what the hsm
 * needs to open it; the first row is the one read, the others (of the
 * same version) are for decrypt.
 */
#define SQL_LOOKUP \
	"SELECT " KEY_COLS ", k.key_id, encode(k.material_sealed, 'hex')," \
	" l.node_id, encode(l.kek_wrapped, 'hex') FROM kmd_keys k LEFT JOIN" \
	" kmd_local l ON true WHERE k.name = coalesce((SELECT y.name FROM" \
	" kmd_keys y WHERE y.key_id = $3::uuid), $1) AND k.version =" \
	" coalesce($2::int, (SELECT max(x.version) FROM kmd_keys x WHERE" \
	" x.name = k.name)) ORDER BY k.key_id LIMIT 4"

#define SQL_LIST \
	"WITH f AS (SELECT DISTINCT ON (name) * FROM kmd_keys ORDER BY name," \
	" version DESC, key_id), t AS (SELECT count(*) AS n FROM f) SELECT" \
	" t.n, k.* FROM t LEFT JOIN LATERAL (SELECT " KEY_COLS " FROM f k" \
	" ORDER BY k.name OFFSET $1 LIMIT $2) k ON true"

static int
valid_name(const char *s)
{
	const char	*p;

	if (!isalnum((unsigned char)*s) || strlen(s) >= KMD_KEYNAME_MAX ||
	    kmd_is_uuid(s))
		return 0;
	for (p = s; *p != '\0'; p++)
		if (!isalnum((unsigned char)*p) && strchr("._-", *p) == NULL)
			return 0;
	return 1;
}

static void
kr_free(struct kreq *kr)
{
	TAILQ_REMOVE(&kr->j->kreqs, kr, entry);
	if (kr->j->hsm != NULL)
		kchan_cancel(kr->j->hsm, kr->call);
	sodium_memzero(&kr->rq, sizeof(kr->rq));
	free(kr);
}

static void	crypt_send(struct kreq *);
static void	exists_fail(struct kreq *);
static void	kr_fail(struct kreq *, const char *, ...)
		    __attribute__((format(printf, 2, 3)));

static void
kr_fail(struct kreq *kr, const char *fmt, ...)
{
	char		 msg[KMD_ERR_MAX];
	va_list		 ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	msg[strcspn(msg, "\n")] = '\0';
	log_debug("keys %s: %s", opname[kr->rq.op], msg);
	kchan_senderr(kr->j->w->parent, kr->reqid, "keys %s: %s",
	    opname[kr->rq.op], msg);
	kr_free(kr);
}

/* The answer: the key, then END. */
static void
kr_info_done(struct kreq *kr)
{
	kchan_send(kr->j->w->parent, IMSG_KEY_INFO, kr->reqid, -1, &kr->info,
	    sizeof(kr->info));
	kchan_send(kr->j->w->parent, IMSG_CTL_END, kr->reqid, -1, NULL, 0);
	kr_free(kr);
}

static void	key_made(struct kchan *, struct kmsg *, void *);
static void	key_done(struct kchan *, struct kmsg *, void *);
static void	hsm_failed(struct kchan *, enum kchan_end, const char *,
		    void *);

static const struct kchan_exchange make_ex = {
	IMSG_HSM_KEY_MADE, HSM_WAIT, key_made, hsm_failed
};
static const struct kchan_exchange crypt_ex = {
	IMSG_HSM_KEY_DONE, HSM_WAIT, key_done, hsm_failed
};

/* Hand a request to the hsm worker; its answer or HSM_WAIT ends it. */
static void
to_hsm(struct kreq *kr, uint16_t type, const void *data, size_t len,
    const struct kchan_exchange *ex)
{
	if (kr->j->hsm == NULL || (kr->call = kchan_call(kr->j->hsm, type, -1,
	    data, len, ex, kr)) == 0)
		kr_fail(kr, "cannot reach the hsm worker; try again");
}

/* Columns 0-7 of a row (KEY_COLS from col) into a key_info. */
static void
info_from(struct key_info *ki, PGresult *res, int row, int col)
{
	memset(ki, 0, sizeof(*ki));
	kmd_strlcpy(ki->name, PQgetvalue(res, row, col), sizeof(ki->name));
	kmd_strlcpy(ki->id, PQgetvalue(res, row, col + 7), sizeof(ki->id));
	ki->version = atoi(PQgetvalue(res, row, col + 1));
	kmd_strlcpy(ki->algorithm, PQgetvalue(res, row, col + 2),
	    sizeof(ki->algorithm));
	ki->size = atoi(PQgetvalue(res, row, col + 3));
	kmd_strlcpy(ki->kcv, PQgetvalue(res, row, col + 4), sizeof(ki->kcv));
	kmd_strlcpy(ki->updated, PQgetvalue(res, row, col + 5),
	    sizeof(ki->updated));
	kmd_strlcpy(ki->created, PQgetvalue(res, row, col + 6),
	    sizeof(ki->created));
}

/* A query's answer for kr: 0 to go on, -1 when kr has failed. */
static int
kr_result(struct kreq *kr, struct pq *db, PGresult *res)
{
	if (pq_ok(res))
		return 0;
	kr_fail(kr, "the node database: %s", res != NULL ?
	    PQresultErrorMessage(res) : pq_error(db));
	return -1;
}

/* The version's row of its batch (keys_batch.c): -1, the batch failed. */
static void
inserted(void *arg, PGresult *res, int row, const char *why)
{
	struct kreq	*kr = arg;

	if (row == -1) {
		kr_fail(kr, "the node database: %s; nothing was made", why);
		return;
	}
	if (PQgetisnull(res, row, 1)) {
		if (kr->rq.op == KEYS_CREATE)
			exists_fail(kr);
		else
			kr_fail(kr, "key '%s' was rotated at the same time by"
			    " another request; try again", kr->info.name);
		return;
	}
	kmd_strlcpy(kr->info.updated, PQgetvalue(res, row, 1),
	    sizeof(kr->info.updated));
	if (kr->rq.op == KEYS_CREATE)
		kmd_strlcpy(kr->info.created, kr->info.updated,
		    sizeof(kr->info.created));
	log_info("keys %s: key '%s' version %d (kcv %s)", opname[kr->rq.op],
	    kr->info.name, kr->info.version, kr->info.kcv);
	kr_info_done(kr);
}

/* The hsm made a version's material: store it. */
static void
key_made(struct kchan *ch, struct kmsg *m, void *arg)
{
	struct kreq			*kr = arg;
	const struct hsm_key_made	*km = (const void *)m->data;
	char				 ver[16], size[16];
	const char			*p[6];

	(void)ch;
	kr->call = 0;
	if (strcmp(km->key_id, kr->key_id) != 0) {
		kr_fail(kr, "the hsm worker answered for another key; try"
		    " again");
		return;
	}
	kmd_strlcpy(kr->info.kcv, km->kcv, sizeof(kr->info.kcv));
	snprintf(ver, sizeof(ver), "%d", kr->info.version);
	snprintf(size, sizeof(size), "%d", kr->info.size);
	p[0] = kr->key_id;
	p[1] = kr->info.name;
	p[2] = ver;
	p[3] = size;
	p[4] = km->kcv;
	p[5] = km->sealed;
	if (kbatch_add(kr->j, p, inserted, kr) == -1)
		kr_fail(kr, "the hsm worker answered a malformed version");
}

/* The hsm encrypted or decrypted: the answer. */
static void
key_done(struct kchan *ch, struct kmsg *m, void *arg)
{
	struct kreq		*kr = arg;
	struct key_crypt	*kc = (struct key_crypt *)m->data;

	(void)ch;
	kr->call = 0;
	if (!kc->decrypt != (kr->rq.op != KEYS_DECRYPT)) {
		sodium_memzero(kc, sizeof(*kc));
		kr_fail(kr, "the hsm worker answered another request; try"
		    " again");
		return;
	}
	kmd_strlcpy(kc->id, kr->key_id, sizeof(kc->id));
	kmd_strlcpy(kc->name, kr->info.name, sizeof(kc->name));
	kc->version = kr->info.version;
	/* the answer alone: it ends the request (reply_last) */
	kchan_send(kr->j->w->parent, IMSG_KEY_CRYPT, kr->reqid, -1, kc,
	    sizeof(*kc));
	sodium_memzero(kc, sizeof(*kc));
	kr_free(kr);
}

/* The hsm refused, or did not answer in time. */
static void
hsm_failed(struct kchan *ch, enum kchan_end end, const char *why, void *arg)
{
	struct kreq	*kr = arg;

	(void)ch;
	kr->call = 0;
	if (end == KCHAN_TIMEOUT)
		kr_fail(kr, "the hsm worker did not answer within %d s; try"
		    " again", HSM_WAIT);
	else if (end == KCHAN_REFUSED && kr->rq.op == KEYS_DECRYPT &&
	    kr->alt + 1 < kr->nalts) {
		/* another node's row of this version: it may open */
		kr->alt++;
		crypt_send(kr);
	} else
		kr_fail(kr, "%s", why);
}

static void
deleted(struct pq *db, PGresult *res, void *arg)
{
	struct kreq	*kr = arg;

	if (kr_result(kr, db, res) == -1)
		return;
	if (atoi(PQcmdTuples(res)) == 0) {
		kr_fail(kr, "no key named '%s' (deleted at the same time?)",
		    kr->info.name);
		return;
	}
	log_info("keys delete: key '%s' and its %s version(s) deleted",
	    kr->info.name, PQcmdTuples(res));
	keycache_drop(kr->info.name);
	kr_info_done(kr);
}

static void
exists_fail(struct kreq *kr)
{
	kr_fail(kr, "a key named '%s' exists already (keys rotate adds a"
	    " version to it)", kr->info.name);
}

/* Have the hsm make the material of version kr->key_id. */
static void
version_make(struct kreq *kr)
{
	struct hsm_key_make	 mk;

	memset(&mk, 0, sizeof(mk));
	kmd_strlcpy(mk.node_id, kr->node_id, sizeof(mk.node_id));
	kmd_strlcpy(mk.kek_wrapped, kr->kek, sizeof(mk.kek_wrapped));
	kmd_strlcpy(mk.key_id, kr->key_id, sizeof(mk.key_id));
	mk.size = kr->info.size;
	to_hsm(kr, IMSG_HSM_KEY_MAKE, &mk, sizeof(mk), &make_ex);
}

/* Encrypt with, or decrypt with row kr->alt of, the version found. */
static void
crypt_send(struct kreq *kr)
{
	struct hsm_key_crypt	*kc;

	if ((kc = calloc(1, sizeof(*kc))) == NULL)
		fatal("%s", __func__);
	kc->decrypt = kr->rq.op == KEYS_DECRYPT;
	kc->version = kr->info.version;
	kmd_strlcpy(kr->key_id, kr->alts[kr->alt].key_id, sizeof(kr->key_id));
	kmd_strlcpy(kc->node_id, kr->node_id, sizeof(kc->node_id));
	kmd_strlcpy(kc->kek_wrapped, kr->kek, sizeof(kc->kek_wrapped));
	kmd_strlcpy(kc->key_id, kr->key_id, sizeof(kc->key_id));
	kmd_strlcpy(kc->sealed, kr->alts[kr->alt].sealed, sizeof(kc->sealed));
	memcpy(kc->data, kr->rq.data, sizeof(kc->data));
	to_hsm(kr, IMSG_HSM_KEY_CRYPT, kc, sizeof(*kc), &crypt_ex);
	sodium_memzero(kc, sizeof(*kc));
	free(kc);
}

/* The lookup of an encrypt or decrypt, kept in or taken from the cache. */
static void
lookup_keep(struct kreq *kr)
{
	struct key_lookup	 kl;

	memset(&kl, 0, sizeof(kl));
	memcpy(&kl.info, &kr->info, sizeof(kl.info));
	kmd_strlcpy(kl.node_id, kr->node_id, sizeof(kl.node_id));
	kmd_strlcpy(kl.kek, kr->kek, sizeof(kl.kek));
	memcpy(kl.alts, kr->alts, sizeof(kl.alts));
	kl.nalts = kr->nalts;
	keycache_put(kr->rq.name, kr->version, kr->gen, &kl);
}

static int
lookup_cached(struct kreq *kr)
{
	struct key_lookup	 kl;

	if (keycache_get(kr->rq.name, kr->version, &kl) == -1)
		return -1;
	memcpy(&kr->info, &kl.info, sizeof(kr->info));
	kmd_strlcpy(kr->node_id, kl.node_id, sizeof(kr->node_id));
	kmd_strlcpy(kr->kek, kl.kek, sizeof(kr->kek));
	memcpy(kr->alts, kl.alts, sizeof(kr->alts));
	kr->nalts = kl.nalts;
	crypt_send(kr);
	return 0;
}

/* The key looked up: go on with the operation. */
static void
found(struct pq *db, PGresult *res, void *arg)
{
	struct kreq		*kr = arg;
	const char		*p[1];
	int			 i;

	if (kr_result(kr, db, res) == -1)
		return;
	if (PQntuples(res) < 1) {
		if (kr->rq.op == KEYS_DECRYPT)
			kr_fail(kr, "no key '%s' with the version the"
			    " ciphertext names", kr->rq.name);
		else
			kr_fail(kr, "no key named '%s'", kr->rq.name);
		return;
	}
	info_from(&kr->info, res, 0, 0);
	if (PQgetisnull(res, 0, 10)) {
		kr_fail(kr, "this node is in no cluster, so it holds no KEK");
		return;
	}
	kmd_strlcpy(kr->node_id, PQgetvalue(res, 0, 10), sizeof(kr->node_id));
	kmd_strlcpy(kr->kek, PQgetvalue(res, 0, 11), sizeof(kr->kek));
	for (i = 0; i < PQntuples(res) && i < ALTS_MAX; i++) {
		kmd_strlcpy(kr->alts[i].key_id, PQgetvalue(res, i, 8),
		    sizeof(kr->alts[i].key_id));
		kmd_strlcpy(kr->alts[i].sealed, PQgetvalue(res, i, 9),
		    sizeof(kr->alts[i].sealed));
	}
	kr->nalts = kr->rq.op == KEYS_DECRYPT ? i : 1;
	switch (kr->rq.op) {
	case KEYS_GET:
		kr_info_done(kr);
		break;
	case KEYS_DELETE:
		p[0] = kr->info.name;
		pq_query(kr->j->kdb, "DELETE FROM kmd_keys WHERE name = $1", 1,
		    p, deleted, kr);
		break;
	case KEYS_ROTATE:
		kr->info.version++;
		random_uuid(kr->key_id, sizeof(kr->key_id));
		version_make(kr);
		break;
	case KEYS_ENCRYPT:
	case KEYS_DECRYPT:
		lookup_keep(kr);
		crypt_send(kr);
		break;
	}
}

static void
create_checked(struct pq *db, PGresult *res, void *arg)
{
	struct kreq		*kr = arg;

	if (kr_result(kr, db, res) == -1)
		return;
	if (PQntuples(res) != 1) {
		kr_fail(kr, "this node is in no cluster, so it holds no KEK:"
		    " create one (cluster new) or join one first");
		return;
	}
	kmd_strlcpy(kr->node_id, PQgetvalue(res, 0, 0), sizeof(kr->node_id));
	kmd_strlcpy(kr->kek, PQgetvalue(res, 0, 1), sizeof(kr->kek));
	keycache_local_put(kr->gen, kr->node_id, kr->kek);
	version_make(kr);
}

static void
listed(struct pq *db, PGresult *res, void *arg)
{
	struct kreq		*kr = arg;
	struct nodes_page	 pg;
	struct key_info		 ki;
	int			 i;

	if (kr_result(kr, db, res) == -1)
		return;
	memset(&pg, 0, sizeof(pg));
	pg.skip = kr->rq.skip;
	pg.limit = kr->rq.limit;
	pg.total = PQntuples(res) > 0 ? atoi(PQgetvalue(res, 0, 0)) : 0;
	kchan_send(kr->j->w->parent, IMSG_KEYS_PAGE, kr->reqid, -1, &pg,
	    sizeof(pg));
	for (i = 0; i < PQntuples(res); i++) {
		if (PQgetisnull(res, i, 1))
			continue;
		info_from(&ki, res, i, 1);
		kchan_send(kr->j->w->parent, IMSG_KEY_INFO, kr->reqid, -1, &ki,
		    sizeof(ki));
	}
	kchan_send(kr->j->w->parent, IMSG_CTL_END, kr->reqid, -1, NULL, 0);
	kr_free(kr);
}

/* The version a ciphertext names: its first 4 bytes; -1 if none. */
static int
ct_version(const char *b64)
{
	uint8_t	 head[6];
	size_t	 n;

	if (strlen(b64) < 8 || sodium_base642bin(head, sizeof(head), b64, 8,
	    NULL, &n, NULL, sodium_base64_VARIANT_ORIGINAL) != 0 || n != 6 ||
	    head[0] & 0x80)
		return -1;
	return head[0] << 24 | head[1] << 16 | head[2] << 8 | head[3];
}

/* Check what needs no database; -1: kr has failed. */
static int
kr_check(struct kreq *kr)
{
	struct keys_req	*rq = &kr->rq;

	switch (rq->op) {
	case KEYS_CREATE:
		if (!valid_name(rq->name)) {
			kr_fail(kr, "'%s' is not a key name: 1 to %d letters,"
			    " digits, '.', '_' and '-', a letter or digit first,"
			    " and not in the form of a key id", rq->name,
			    KMD_KEYNAME_MAX - 1);
			return -1;
		}
		if (rq->algorithm[0] != '\0' &&
		    strcasecmp(rq->algorithm, "aes") != 0) {
			kr_fail(kr, "algorithm '%s' is not served: keys are"
			    " AES (algorithm aes)", rq->algorithm);
			return -1;
		}
		if (rq->size == 0)
			rq->size = 256;
		if (rq->size != 128 && rq->size != 192 && rq->size != 256) {
			kr_fail(kr, "an AES key has 128, 192 or 256 bits, not"
			    " %d", rq->size);
			return -1;
		}
		return 0;
	case KEYS_LIST:
		if (rq->skip < 0 || rq->limit < 1 || rq->limit > 1000) {
			kr_fail(kr, "skip is at least 0 and limit from 1 to"
			    " 1000");
			return -1;
		}
		return 0;
	case KEYS_DECRYPT:
		if (ct_version(rq->data) == -1) {
			kr_fail(kr, "the ciphertext is not one kmd made"
			    " (base64 of version, IV, data and tag)");
			return -1;
		}
		/* FALLTHROUGH */
	default:
		if (rq->name[0] == '\0') {
			kr_fail(kr, "which key: give its name or id");
			return -1;
		}
		if ((rq->op == KEYS_ENCRYPT || rq->op == KEYS_DECRYPT) &&
		    rq->data[0] == '\0') {
			kr_fail(kr, "there is no data to %s", opname[rq->op]);
			return -1;
		}
		return 0;
	}
}

/* keys create | list | get | delete | rotate | encrypt | decrypt */
int
joiner_keys(struct kchan *ch, struct kmsg *m, void *arg)
{
	struct joiner		*j = arg;
	const struct keys_req	*rq = (const void *)m->data;
	struct kreq		*kr;
	char			 a[16], b[16];
	const char		*p[3];

	if (!TERMINATED(rq->name) || !TERMINATED(rq->algorithm) ||
	    !TERMINATED(rq->data) || rq->op < 0 || rq->op >= KEYS_OPS)
		return -1;
	if (!j->ready)
		return kchan_senderr(ch, m->hdr.reqid, "keys %s: the node"
		    " database is not ready yet; try again in a few seconds",
		    opname[rq->op]);
	/* Its keys are still coming (and the copy may hold the table). */
	if (j->join != NULL)
		return kchan_senderr(ch, m->hdr.reqid, "keys %s: this node is"
		    " joining a cluster and holds its keys only once ready"
		    " (cluster info shows the stage); ask a member meanwhile",
		    opname[rq->op]);
	if ((kr = calloc(1, sizeof(*kr))) == NULL)
		fatal("%s", __func__);
	kr->j = j;
	kr->reqid = m->hdr.reqid;
	memcpy(&kr->rq, rq, sizeof(kr->rq));
	sodium_memzero((void *)m->data, m->datalen);
	TAILQ_INSERT_TAIL(&j->kreqs, kr, entry);
	if (kr_check(kr) == -1)
		return 0;
	switch (kr->rq.op) {
	case KEYS_CREATE:
		kmd_strlcpy(kr->info.name, kr->rq.name, sizeof(kr->info.name));
		kmd_strlcpy(kr->info.algorithm, "aes",
		    sizeof(kr->info.algorithm));
		kr->info.size = kr->rq.size;
		random_uuid(kr->key_id, sizeof(kr->key_id));
		kmd_strlcpy(kr->info.id, kr->key_id, sizeof(kr->info.id));
		/* kmd_key_add() refuses a name that exists */
		if (keycache_local(kr->node_id, sizeof(kr->node_id), kr->kek,
		    sizeof(kr->kek)) == 0) {
			version_make(kr);
			return 0;
		}
		kr->gen = keycache_gen();
		return pq_query(j->kdb, "SELECT l.node_id, encode(l.kek_wrapped,"
		    " 'hex') FROM kmd_local l", 0, NULL, create_checked, kr);
	case KEYS_LIST:
		snprintf(a, sizeof(a), "%d", kr->rq.skip);
		snprintf(b, sizeof(b), "%d", kr->rq.limit);
		p[0] = a;
		p[1] = b;
		return pq_query(j->kdb, SQL_LIST, 2, p, listed, kr);
	default:
		p[0] = kr->rq.name;
		p[1] = NULL;
		kr->version = -1;
		if (kr->rq.op == KEYS_DECRYPT) {
			kr->version = ct_version(kr->rq.data);
			snprintf(a, sizeof(a), "%d", kr->version);
			p[1] = a;
		}
		if ((kr->rq.op == KEYS_ENCRYPT || kr->rq.op == KEYS_DECRYPT) &&
		    lookup_cached(kr) == 0)
			return 0;
		kr->gen = keycache_gen();
		p[2] = kmd_is_uuid(kr->rq.name) ? kr->rq.name : NULL;
		return pq_prepared(j->kdb, SQL_LOOKUP, 3, p, found, kr);
	}
}

/* The joiner stops: requests still waiting get no answer (the parent's
 * pending list answers for a gone worker). */
void
keys_free(struct joiner *j)
{
	struct kreq	*kr;

	while ((kr = TAILQ_FIRST(&j->kreqs)) != NULL)
		kr_free(kr);
}
