/*
 * Keys the appliance serves.  Material is made here, leaves sealed under
 * the KEK with the version's id as associated data, and is opened here
 * only to encrypt or decrypt.  A ciphertext is version (4 bytes, big
 * endian) | IV (12) | AES-GCM ciphertext | tag (16), with the version's
 * id as AAD, so it names the version that opens it and opens under no
 * other key.
 */
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>

#include "hsm.h"
#include "log.h"
#include "util.h"

static const EVP_CIPHER *
gcm_cipher(size_t keylen)
{
	return keylen == 16 ? EVP_aes_128_gcm() : keylen == 24 ?
	    EVP_aes_192_gcm() : EVP_aes_256_gcm();
}

/* AES-GCM one shot; dec: check the tag.  The output's length, or -1. */
static int
gcm_run(int dec, const uint8_t *key, size_t keylen, const uint8_t *iv,
    const char *aad, const uint8_t *in, int inlen, uint8_t *out,
    uint8_t *tag)
{
	EVP_CIPHER_CTX	*c = EVP_CIPHER_CTX_new();
	int		 n = 0, f = 0, ok;

	ok = c != NULL && EVP_CipherInit_ex(c, gcm_cipher(keylen), NULL, key,
	    iv, !dec) == 1 && EVP_CipherUpdate(c, NULL, &n,
	    (const uint8_t *)aad, strlen(aad)) == 1 && EVP_CipherUpdate(c,
	    out, &n, in, inlen) == 1 && (!dec || EVP_CIPHER_CTX_ctrl(c,
	    EVP_CTRL_GCM_SET_TAG, GCM_TAG, tag) == 1) &&
	    EVP_CipherFinal_ex(c, out + n, &f) == 1 && (dec ||
	    EVP_CIPHER_CTX_ctrl(c, EVP_CTRL_GCM_GET_TAG, GCM_TAG, tag) == 1);
	EVP_CIPHER_CTX_free(c);
	return ok ? n + f : -1;
}

/* The key check value: the first 3 bytes of AES(key, 0^16), in hex. */
static void
kcv(const uint8_t *key, size_t keylen, char *out, size_t outlen)
{
	EVP_CIPHER_CTX	*c = EVP_CIPHER_CTX_new();
	const EVP_CIPHER *e = keylen == 16 ? EVP_aes_128_ecb() : keylen ==
			    24 ? EVP_aes_192_ecb() : EVP_aes_256_ecb();
	uint8_t		 zero[16] = { 0 }, blk[32];
	int		 n = 0;

	out[0] = '\0';
	if (c != NULL && EVP_EncryptInit_ex(c, e, NULL, key, NULL) == 1 &&
	    EVP_CIPHER_CTX_set_padding(c, 0) == 1 &&
	    EVP_EncryptUpdate(c, blk, &n, zero, sizeof(zero)) == 1 && n == 16)
		snprintf(out, outlen, "%02X%02X%02X", blk[0], blk[1], blk[2]);
	EVP_CIPHER_CTX_free(c);
}

int
hsm_key_make(struct kchan *ch, struct kmsg *m, void *arg)
{
	struct hsm		*h = arg;
	const struct hsm_key_make *req = (const void *)m->data;
	struct hsm_key_made	 out;
	const uint8_t		*kek;
	uint8_t			*mat;
	char			 a[128];
	size_t			 len = (size_t)req->size / 8;

	if (req->size != 128 && req->size != 192 && req->size != 256)
		return -1;
	if (rot_missing(h) != NULL)
		return hsm_fail(ch, m->hdr.reqid, "%s", rot_missing(h));
	mat = kcache_scratch(h)->pt;
	memset(&out, 0, sizeof(out));
	kmd_strlcpy(out.key_id, req->key_id, sizeof(out.key_id));
	randombytes_buf(mat, len);
	kcv(mat, len, out.kcv, sizeof(out.kcv));
	hsm_ad(a, sizeof(a), "key", req->key_id);
	if ((kek = kcache_kek(h, req->node_id, req->kek_wrapped)) == NULL)
		hsm_fail(ch, m->hdr.reqid, "the KEK does not unwrap under this"
		    " node's root-of-trust key");
	else if (seal_hex(kek, a, mat, len, out.sealed,
	    sizeof(out.sealed)) == -1 || out.kcv[0] == '\0')
		hsm_fail(ch, m->hdr.reqid, "cannot seal the new key");
	else
		kchan_send(ch, IMSG_HSM_KEY_MADE, m->hdr.reqid, -1, &out,
		    sizeof(out));
	sodium_memzero(mat, 32);
	return 0;
}

/* Encrypt or decrypt a caller's data with a served key's material. */
int
hsm_key_crypt(struct kchan *ch, struct kmsg *m, void *arg)
{
	struct hsm		*h = arg;
	const struct hsm_key_crypt *req = (const void *)m->data;
	struct kc_scratch	*sc;
	struct key_crypt	*out;
	const uint8_t		*mat;
	uint8_t			*in, *pt;
	const size_t		 max = CT_MAX;
	size_t			 klen, inlen = 0;
	int			 n = 0;

	if (rot_missing(h) != NULL)
		return hsm_fail(ch, m->hdr.reqid, "%s", rot_missing(h));
	sc = kcache_scratch(h);
	in = sc->in;
	pt = sc->pt;
	out = &sc->out;
	memset(out, 0, sizeof(*out));
	out->decrypt = req->decrypt != 0;
	if (sodium_base642bin(in, max, req->data, strlen(req->data), NULL,
	    &inlen, NULL, sodium_base64_VARIANT_ORIGINAL) != 0 ||
	    (req->decrypt ? inlen < CT_HEAD + GCM_TAG : inlen >
	    KMD_CRYPT_MAX)) {
		hsm_fail(ch, m->hdr.reqid, req->decrypt ? "the ciphertext is"
		    " not one kmd made (base64 of version, IV, data and tag)" :
		    "the plaintext must be base64 of at most %d bytes",
		    KMD_CRYPT_MAX);
		goto done;
	}
	if (kcache_material(h, req->node_id, req->kek_wrapped, req->key_id,
	    req->sealed, &mat, &klen) == -1) {
		hsm_fail(ch, m->hdr.reqid, "the key's material does not open"
		    " under the cluster KEK");
		goto done;
	}
	if (req->decrypt) {
		n = gcm_run(1, mat, klen, in + 4, req->key_id, in + CT_HEAD,
		    (int)(inlen - CT_HEAD - GCM_TAG), pt, in + inlen -
		    GCM_TAG);
		if (n == -1) {
			hsm_fail(ch, m->hdr.reqid, "the ciphertext does not"
			    " decrypt under this key: another key made it, or"
			    " it was altered");
			goto done;
		}
	} else {
		pt[0] = (uint32_t)req->version >> 24;
		pt[1] = (uint32_t)req->version >> 16;
		pt[2] = (uint32_t)req->version >> 8;
		pt[3] = (uint32_t)req->version;
		randombytes_buf(pt + 4, GCM_IV);
		if ((n = gcm_run(0, mat, klen, pt + 4, req->key_id, in,
		    (int)inlen, pt + CT_HEAD, pt + CT_HEAD + inlen)) == -1) {
			hsm_fail(ch, m->hdr.reqid, "cannot encrypt (OpenSSL)");
			goto done;
		}
		n += CT_HEAD + GCM_TAG;
	}
	sodium_bin2base64(out->data, sizeof(out->data), pt, n,
	    sodium_base64_VARIANT_ORIGINAL);
	kchan_send(ch, IMSG_HSM_KEY_DONE, m->hdr.reqid, -1, out, sizeof(*out));
done:
	sodium_memzero(in, inlen);
	sodium_memzero(pt, inlen + CT_HEAD + GCM_TAG < max ? inlen + CT_HEAD +
	    GCM_TAG : max);
	sodium_memzero(out, sizeof(*out));
	return 0;
}

/* A served key was deleted or rotated: no material of a version kept. */
int
hsm_key_forget(struct kchan *ch, struct kmsg *m, void *arg)
{
	kcache_forget(arg);
	return kchan_send(ch, IMSG_HSM_KEY_FORGOTTEN, m->hdr.reqid, -1, NULL,
	    0);
}

/*
 * A health check's probe of the root of trust: a random value sealed and
 * opened again, the token's own operation when there is one, so that a
 * token gone or refusing shows in health at once and not only at the
 * next key operation.
 */
static int
probe_once(struct hsm *h, char *msg, size_t len)
{
	uint8_t			 v[16], back[16];
	char			 sealed[KMD_SEALED_MAX];
	const char		*why;
	size_t			 n = 0;

	randombytes_buf(v, sizeof(v));
	if ((why = rot_missing(h)) != NULL) {
		kmd_strlcpy(msg, why, len);
		return -1;
	}
	if (rot_seal(h, "kmd:probe:", v, sizeof(v), sealed,
	    sizeof(sealed)) == -1 || rot_unseal(h, "kmd:probe:", sealed, back,
	    sizeof(back), &n) == -1 || n != sizeof(v) ||
	    sodium_memcmp(v, back, sizeof(v)) != 0) {
		snprintf(msg, len, "the root of trust failed a probe (a value"
		    " sealed and opened again): %.400s", h->p11 != NULL ?
		    h->err : "the software key did not open it");
		return -1;
	}
	return 0;
}

/* A token that failed is opened again (rot_reopen), and probed again. */
int
hsm_probe(struct kchan *ch, struct kmsg *m, void *arg)
{
	struct hsm		*h = arg;
	struct hsm_status	 hs;

	memset(&hs, 0, sizeof(hs));
	hs.ok = probe_once(h, hs.msg, sizeof(hs.msg)) == 0;
	if (!hs.ok && rot_reopen(h) == 0) {
		kcache_wipe(h, "the HSM token is opened again");
		hs.ok = probe_once(h, hs.msg, sizeof(hs.msg)) == 0;
	}
	if (hs.ok)
		hs.msg[0] = '\0';
	return kchan_send(ch, IMSG_HSM_PROBED, m->hdr.reqid, -1, &hs,
	    sizeof(hs));
}
