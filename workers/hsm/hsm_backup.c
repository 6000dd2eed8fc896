/*
 * Backup keys and the keys of a backup file, in the hsm worker.
 *
 * A backup key is 32 random bytes, made here and kept sealed under the
 * root of trust (its row in kmd_backup_keys).  Exported, it is sealed
 * under a key derived from a passphrase (argon2id, whose limits the file
 * carries, then XChaCha20-Poly1305), with its id as associated data: a
 * small JSON text any node imports.
 *
 * A backup carries the cluster KEK sealed under the backup key and the
 * key versions' material as the database stores it, sealed under the
 * KEK: so the material never leaves here in clear, a backup costs one
 * seal whatever its size, and a restore one open (rather than every key
 * sealed again, both ways).  The file itself is encrypted under a file
 * key made here for each backup and kept in the file sealed under the
 * backup key; the joiner streams the rows under it (secretstream).
 * A restore adopts the backup's KEK: wrapped under this node's root of
 * trust, with this node's CA and node keys sealed again under it.
 */
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <yajl_tree.h>

#include "hsm.h"
#include "json.h"
#include "log.h"
#include "util.h"

#define BK_LEN		32
#define EXPORT_VERSION	1
#define OPS_MAX		10			/* argon2id limits accepted */
#define MEM_MAX		(1024UL * 1024 * 1024)

/* A backup key's 32 bytes, out of their seal under the root of trust. */
static int
bk_open(struct hsm *h, const char *id, const char *sealed, uint8_t *k)
{
	char	 a[128];
	size_t	 n = 0;

	hsm_ad(a, sizeof(a), "backup-key", id);
	return rot_unseal(h, a, sealed, k, BK_LEN, &n) == -1 || n != BK_LEN ?
	    -1 : 0;
}

static int
bk_seal(struct hsm *h, const char *id, const uint8_t *k, char *out,
    size_t len)
{
	char	 a[128];

	hsm_ad(a, sizeof(a), "backup-key", id);
	return rot_seal(h, a, k, BK_LEN, out, len);
}

/* backup-keys create: a new key, sealed under the root of trust. */
int
hsm_bk_make(struct kchan *ch, struct kmsg *m, void *arg)
{
	struct hsm		*h = arg;
	const struct hsm_bk	*req = (const void *)m->data;
	struct hsm_bk		 out;
	uint8_t			*k;
	int			 r;

	if (rot_missing(h) != NULL)
		return hsm_fail(ch, m->hdr.reqid, "%s", rot_missing(h));
	if ((k = sodium_malloc(BK_LEN)) == NULL)
		fatal("%s", __func__);
	randombytes_buf(k, BK_LEN);
	memset(&out, 0, sizeof(out));
	kmd_strlcpy(out.id, req->id, sizeof(out.id));
	r = bk_seal(h, req->id, k, out.sealed, sizeof(out.sealed));
	sodium_free(k);
	if (r == -1)
		return hsm_fail(ch, m->hdr.reqid, "cannot seal the backup key"
		    " under the root of trust");
	return kchan_send(ch, IMSG_HSM_BK_MADE, m->hdr.reqid, -1, &out,
	    sizeof(out));
}

/* An export's parts: the key, the passphrase's key (guarded), the rest. */
struct bkx {
	uint8_t		 k[BK_LEN];
	uint8_t		 pk[crypto_aead_xchacha20poly1305_ietf_KEYBYTES];
	uint8_t		 salt[crypto_pwhash_SALTBYTES];
	uint8_t		 nonce[crypto_aead_xchacha20poly1305_ietf_NPUBBYTES];
	uint8_t		 ct[BK_LEN + crypto_aead_xchacha20poly1305_ietf_ABYTES];
	struct hsm_bk	 out;
};

static struct bkx *
bkx_new(void)
{
	struct bkx	*x;

	if ((x = sodium_malloc(sizeof(*x))) == NULL)
		fatal("%s", __func__);
	memset(x, 0, sizeof(*x));
	return x;
}

/* The key that seals an exported backup key, from its passphrase. */
static int
pass_key(uint8_t *key, const char *pass, const uint8_t *salt,
    unsigned long long ops, size_t mem)
{
	return crypto_pwhash(key, crypto_aead_xchacha20poly1305_ietf_KEYBYTES,
	    pass, strlen(pass), salt, ops, mem, crypto_pwhash_ALG_ARGON2ID13);
}

static void
export_ad(char *buf, size_t len, const char *id)
{
	snprintf(buf, len, "kmd:backup-key-export:%d:%s", EXPORT_VERSION, id);
}

static void
b64(char *out, size_t len, const uint8_t *in, size_t n)
{
	sodium_bin2base64(out, len, in, n, sodium_base64_VARIANT_ORIGINAL);
}

/* backup-keys export: the key under a passphrase, as a JSON text. */
int
hsm_bk_export(struct kchan *ch, struct kmsg *m, void *arg)
{
	struct hsm		*h = arg;
	struct hsm_bk		*req = (void *)m->data;
	struct bkx		*x = bkx_new();
	char			 a[128], s64[64], n64[64], c64[128];
	unsigned long long	 ops = crypto_pwhash_OPSLIMIT_MODERATE;
	size_t			 mem = crypto_pwhash_MEMLIMIT_MODERATE;
	int			 r = -1;

	randombytes_buf(x->salt, sizeof(x->salt));
	randombytes_buf(x->nonce, sizeof(x->nonce));
	export_ad(a, sizeof(a), req->id);
	if (bk_open(h, req->id, req->sealed, x->k) == -1)
		hsm_fail(ch, m->hdr.reqid, "backup key %s does not open under"
		    " this node's root of trust", req->id);
	else if (pass_key(x->pk, req->passphrase, x->salt, ops, mem) != 0)
		hsm_fail(ch, m->hdr.reqid, "out of memory deriving the key"
		    " from the passphrase (argon2id)");
	else {
		crypto_aead_xchacha20poly1305_ietf_encrypt(x->ct, NULL, x->k,
		    BK_LEN, (const uint8_t *)a, strlen(a), NULL, x->nonce,
		    x->pk);
		b64(s64, sizeof(s64), x->salt, sizeof(x->salt));
		b64(n64, sizeof(n64), x->nonce, sizeof(x->nonce));
		b64(c64, sizeof(c64), x->ct, sizeof(x->ct));
		kmd_strlcpy(x->out.id, req->id, sizeof(x->out.id));
		snprintf(x->out.file, sizeof(x->out.file), "{\"kmdBackupKey\":"
		    " %d, \"id\": \"%s\", \"kdf\": \"argon2id\", \"opslimit\":"
		    " %llu, \"memlimit\": %zu, \"salt\": \"%s\", \"nonce\":"
		    " \"%s\", \"sealed\": \"%s\"}\n", EXPORT_VERSION, req->id,
		    ops, mem, s64, n64, c64);
		r = kchan_send(ch, IMSG_HSM_BK_EXPORTED, m->hdr.reqid, -1,
		    &x->out, sizeof(x->out));
	}
	sodium_memzero(req->passphrase, sizeof(req->passphrase));
	sodium_free(x);
	return r == -1 ? 0 : r;
}

/* A member of an exported key's JSON: a string, decoded from base64. */
static int
member_b64(yajl_val root, const char *name, uint8_t *out, size_t len)
{
	const char	*path[] = { name, NULL };
	yajl_val	 v = yajl_tree_get(root, path, yajl_t_string);
	size_t		 n = 0;

	return v == NULL || sodium_base642bin(out, len, json_string(v),
	    strlen(json_string(v)), NULL, &n, NULL,
	    sodium_base64_VARIANT_ORIGINAL) != 0 || n != len ? -1 : 0;
}

static long long
member_int(yajl_val root, const char *name)
{
	const char	*path[] = { name, NULL };
	yajl_val	 v = yajl_tree_get(root, path, yajl_t_number);

	return v != NULL && YAJL_IS_INTEGER(v) ? YAJL_GET_INTEGER(v) : -1;
}

/*
 * An exported key's fields, checked: the format, an id of UUID form,
 * argon2id limits within what this node will spend.  NULL: the reason.
 */
static const char *
export_parse(const char *file, char *id, size_t idlen, uint8_t *salt,
    uint8_t *nonce, uint8_t *ct, long long *ops, long long *mem)
{
	const char	*pid[] = { "id", NULL }, *pkdf[] = { "kdf", NULL };
	yajl_val	 root, v;
	const char	*why = NULL;

	if ((root = yajl_tree_parse(file, NULL, 0)) == NULL ||
	    !YAJL_IS_OBJECT(root))
		why = "it is not JSON";
	else if (member_int(root, "kmdBackupKey") != EXPORT_VERSION)
		why = "it is not an exported kmd backup key (kmdBackupKey 1)";
	else if ((v = yajl_tree_get(root, pid, yajl_t_string)) == NULL ||
	    !kmd_is_uuid(json_string(v)))
		why = "its id is not a UUID";
	else if ((v = yajl_tree_get(root, pkdf, yajl_t_string)) == NULL ||
	    strcmp(json_string(v), "argon2id") != 0)
		why = "its kdf is not argon2id";
	else if ((*ops = member_int(root, "opslimit")) <
	    (long long)crypto_pwhash_OPSLIMIT_MIN || *ops > OPS_MAX ||
	    (*mem = member_int(root, "memlimit")) <
	    (long long)crypto_pwhash_MEMLIMIT_MIN || *mem > (long long)MEM_MAX)
		why = "its argon2id limits are out of range";
	else if (member_b64(root, "salt", salt, crypto_pwhash_SALTBYTES) ==
	    -1 || member_b64(root, "nonce", nonce,
	    crypto_aead_xchacha20poly1305_ietf_NPUBBYTES) == -1 ||
	    member_b64(root, "sealed", ct, BK_LEN +
	    crypto_aead_xchacha20poly1305_ietf_ABYTES) == -1)
		why = "its salt, nonce or sealed key is not base64 of the"
		    " right length";
	else
		kmd_strlcpy(id, json_string(yajl_tree_get(root, pid, yajl_t_string)),
		    idlen);
	yajl_tree_free(root);
	return why;
}

/* backup-keys import: the key out of its file, sealed under the RoT. */
int
hsm_bk_import(struct kchan *ch, struct kmsg *m, void *arg)
{
	struct hsm		*h = arg;
	struct hsm_bk		*req = (void *)m->data;
	struct bkx		*x = bkx_new();
	char			 a[128];
	const char		*why;
	long long		 ops = 0, mem = 0;
	int			 r = -1;

	if (rot_missing(h) != NULL)
		hsm_fail(ch, m->hdr.reqid, "%s", rot_missing(h));
	else if ((why = export_parse(req->file, x->out.id, sizeof(x->out.id),
	    x->salt, x->nonce, x->ct, &ops, &mem)) != NULL)
		hsm_fail(ch, m->hdr.reqid, "the file is not a backup key"
		    " export: %s", why);
	else if (pass_key(x->pk, req->passphrase, x->salt,
	    (unsigned long long)ops, (size_t)mem) != 0)
		hsm_fail(ch, m->hdr.reqid, "out of memory deriving the key"
		    " from the passphrase (argon2id)");
	else if (export_ad(a, sizeof(a), x->out.id),
	    crypto_aead_xchacha20poly1305_ietf_decrypt(x->k, NULL, NULL, x->ct,
	    sizeof(x->ct), (const uint8_t *)a, strlen(a), x->nonce, x->pk) != 0)
		hsm_fail(ch, m->hdr.reqid, "wrong passphrase, or the file was"
		    " altered: backup key %s was not imported", x->out.id);
	else if (bk_seal(h, x->out.id, x->k, x->out.sealed,
	    sizeof(x->out.sealed)) == -1)
		hsm_fail(ch, m->hdr.reqid, "cannot seal the backup key under"
		    " the root of trust");
	else
		r = kchan_send(ch, IMSG_HSM_BK_IMPORTED, m->hdr.reqid, -1,
		    &x->out, sizeof(x->out));
	sodium_memzero(req->passphrase, sizeof(req->passphrase));
	sodium_free(x);
	return r == -1 ? 0 : r;
}

/* What a backup's keys are sealed with: the backup key and the KEKs. */
struct bkeys {
	uint8_t		 bk[BK_LEN];
	uint8_t		 kek[SEAL_KEYLEN];	/* this node's */
	uint8_t		 bkek[SEAL_KEYLEN];	/* the backup's */
	uint8_t		 pem[KMD_SEALED_MAX];
};

/* backups create: the KEK and a new file key under the backup key. */
int
hsm_backup_seal(struct kchan *ch, struct kmsg *m, void *arg)
{
	struct hsm		*h = arg;
	const struct hsm_backup	*req = (const void *)m->data;
	struct hsm_backup	*out;
	struct bkeys		*s;
	char			 a[128];
	const char		*why = NULL;

	if ((s = sodium_malloc(sizeof(*s))) == NULL ||
	    (out = sodium_malloc(sizeof(*out))) == NULL)
		fatal("%s", __func__);
	memset(out, 0, sizeof(*out));
	kmd_strlcpy(out->backup_id, req->backup_id, sizeof(out->backup_id));
	randombytes_buf(out->filekey, sizeof(out->filekey));
	if (rot_missing(h) != NULL)
		why = rot_missing(h);
	else if (bk_open(h, req->bk_id, req->bk_sealed, s->bk) == -1)
		why = "the backup key does not open under this node's root of"
		    " trust";
	else if (kek_open(h, req->node_id, req->kek_wrapped, s->kek) == -1)
		why = "the KEK does not unwrap under this node's root of trust";
	else {
		hsm_ad(a, sizeof(a), "backup-kek", req->backup_id);
		if (seal_hex(s->bk, a, s->kek, SEAL_KEYLEN, out->kek_sealed,
		    sizeof(out->kek_sealed)) == -1)
			why = "cannot seal the KEK under the backup key";
		hsm_ad(a, sizeof(a), "backup-file", req->backup_id);
		if (why == NULL && seal_hex(s->bk, a, out->filekey,
		    sizeof(out->filekey), out->filekey_sealed,
		    sizeof(out->filekey_sealed)) == -1)
			why = "cannot seal the file key under the backup key";
	}
	if (why != NULL)
		hsm_fail(ch, m->hdr.reqid, "%s", why);
	else
		kchan_send(ch, IMSG_HSM_BACKUP_SEALED, m->hdr.reqid, -1, out,
		    sizeof(*out));
	sodium_free(s);
	sodium_free(out);
	return 0;
}

/* Something this node's KEK seals, sealed again under the backup's. */
static int
reseal(struct bkeys *s, const char *what, const char *id, const char *in,
    char *out, size_t outlen)
{
	char	 a[128];
	size_t	 n = 0;

	hsm_ad(a, sizeof(a), what, id);
	return unseal_hex(s->kek, a, in, s->pem, sizeof(s->pem), &n) == -1 ||
	    seal_hex(s->bkek, a, s->pem, n, out, outlen) == -1 ? -1 : 0;
}

/* The file key and the KEK out of the backup's seals (restore). */
static const char *
backup_keys_open(struct hsm *h, const struct hsm_backup *req,
    struct bkeys *s, struct hsm_backup *out)
{
	char	 a[128];
	size_t	 n = 0;

	if (rot_missing(h) != NULL)
		return rot_missing(h);
	if (bk_open(h, req->bk_id, req->bk_sealed, s->bk) == -1)
		return "the backup key does not open under this node's root of"
		    " trust";
	hsm_ad(a, sizeof(a), "backup-file", req->backup_id);
	if (unseal_hex(s->bk, a, req->filekey_sealed, out->filekey,
	    sizeof(out->filekey), &n) == -1 || n != sizeof(out->filekey))
		return "the backup does not open under this backup key: it was"
		    " made with another one, or its header was altered";
	hsm_ad(a, sizeof(a), "backup-kek", req->backup_id);
	if (unseal_hex(s->bk, a, req->kek_sealed, s->bkek, SEAL_KEYLEN, &n) ==
	    -1 || n != SEAL_KEYLEN)
		return "the backup's KEK does not open under this backup key:"
		    " its header was altered";
	if (req->node_id[0] == '\0')		/* in no cluster: no KEK */
		return NULL;
	if (kek_open(h, req->node_id, req->kek_wrapped, s->kek) == -1)
		return "this node's KEK does not unwrap under its root of trust";
	return NULL;
}

/*
 * backups restore: the file key, and this node made ready for the
 * backup's KEK (its KEK under the RoT, its CA and node keys under it);
 * on a node in no cluster, the KEK alone, wrapped for its cluster new.
 */
int
hsm_backup_open(struct kchan *ch, struct kmsg *m, void *arg)
{
	struct hsm		*h = arg;
	const struct hsm_backup	*req = (const void *)m->data;
	struct hsm_backup	*out;
	struct bkeys		*s;
	char			 a[128];
	const char		*why;

	if ((s = sodium_malloc(sizeof(*s))) == NULL ||
	    (out = sodium_malloc(sizeof(*out))) == NULL)
		fatal("%s", __func__);
	memset(out, 0, sizeof(*out));
	kmd_strlcpy(out->backup_id, req->backup_id, sizeof(out->backup_id));
	/* the node the answer is for: in a cluster, or in none ("") */
	kmd_strlcpy(out->node_id, req->node_id, sizeof(out->node_id));
	kmd_strlcpy(out->cluster_id, req->cluster_id, sizeof(out->cluster_id));
	if ((why = backup_keys_open(h, req, s, out)) == NULL &&
	    req->node_id[0] == '\0') {
		hsm_ad(a, sizeof(a), "kek", RESTORED_KEK);
		if (rot_seal(h, a, s->bkek, SEAL_KEYLEN, out->kek_wrapped,
		    sizeof(out->kek_wrapped)) == -1)
			why = "cannot wrap the backup's KEK under this node's"
			    " root of trust";
	} else if (why == NULL) {
		hsm_ad(a, sizeof(a), "kek", req->node_id);
		if (reseal(s, "ca-key", req->cluster_id, req->ca_key_sealed,
		    out->ca_key_sealed, sizeof(out->ca_key_sealed)) == -1 ||
		    reseal(s, "node-key", req->node_id, req->node_key_sealed,
		    out->node_key_sealed, sizeof(out->node_key_sealed)) == -1)
			why = "this node's CA or node key does not open under"
			    " its KEK";
		else if (rot_seal(h, a, s->bkek, SEAL_KEYLEN, out->kek_wrapped,
		    sizeof(out->kek_wrapped)) == -1)
			why = "cannot wrap the backup's KEK under this node's"
			    " root of trust";
	}
	if (why != NULL)
		hsm_fail(ch, m->hdr.reqid, "%s", why);
	else
		kchan_send(ch, IMSG_HSM_BACKUP_OPENED, m->hdr.reqid, -1, out,
		    sizeof(*out));
	sodium_free(s);
	sodium_free(out);
	return 0;
}
