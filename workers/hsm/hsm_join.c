/*
 * The joining node in the hsm worker: cluster csr makes its key and a
 * sealing key pair, kept sealed under its root of trust; cluster join
 * opens the KEK that nodes create sealed to it and re-seals what it got
 * for this node.
 */
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>
#include <openssl/x509v3.h>

#include "hsm.h"
#include "log.h"
#include "p11.h"
#include "util.h"

/*
 * cluster csr: the joining node's key and a sealing key pair, sealed
 * under this node's root of trust until the join, and the CSR.
 */
int
hsm_csr_make(struct kchan *ch, struct kmsg *m, void *arg)
{
	struct hsm		*h = arg;
	struct hsm_csr_make	 req;
	struct hsm_csr_made	*out;
	struct secrets		*s;
	uint8_t			 pk[crypto_box_PUBLICKEYBYTES];
	uint8_t			*sk;
	EVP_PKEY		*key = NULL;
	X509_REQ		*csr = NULL;
	char			 a[128];
	int			 ok = 0;

	memcpy(&req, m->data, sizeof(req));
	if (rot_missing(h) != NULL)
		return hsm_fail(ch, m->hdr.reqid, "%s", rot_missing(h));
	if ((out = calloc(1, sizeof(*out))) == NULL ||
	    (s = sodium_malloc(sizeof(*s))) == NULL ||
	    (sk = sodium_malloc(crypto_box_SECRETKEYBYTES)) == NULL)
		fatal("%s", __func__);
	crypto_box_keypair(pk, sk);
	if ((key = ca_keygen()) == NULL ||
	    (csr = csr_make(key, req.node_id, req.host, pk)) == NULL ||
	    pem_csr(csr, out->csr, sizeof(out->csr)) == -1 ||
	    pem_key(key, s->node_key, sizeof(s->node_key)) == -1)
		goto done;
	hsm_ad(a, sizeof(a), "join-node-key", req.node_id);
	if (rot_seal(h, a, s->node_key, strlen(s->node_key),
	    out->node_key_sealed, sizeof(out->node_key_sealed)) == -1)
		goto done;
	hsm_ad(a, sizeof(a), "join-box-key", req.node_id);
	if (rot_seal(h, a, sk, crypto_box_SECRETKEYBYTES,
	    out->box_sk_sealed, sizeof(out->box_sk_sealed)) == -1)
		goto done;
	ok = 1;
	kchan_send(ch, IMSG_HSM_CSR_MADE, m->hdr.reqid, -1, out, sizeof(*out));
done:
	if (!ok)
		hsm_fail(ch, m->hdr.reqid, "cannot make the certificate"
		    " request (OpenSSL)");
	EVP_PKEY_free(key);
	X509_REQ_free(csr);
	sodium_free(sk);
	sodium_free(s);
	free(out);
	return 0;
}

/* The certificate from nodes create: for our CSR, signed by the chain. */
static int
join_cert_ok(const struct hsm_join_open *req, X509_REQ *csr, X509 *cert,
    X509 *ca, const char *cluster_id, char *err, size_t errlen)
{
	X509_STORE	*st = X509_STORE_new();
	X509_STORE_CTX	*ctx = X509_STORE_CTX_new();
	char		 cn[128], want[128];
	int		 ok = 0;

	if (cert == NULL)
		snprintf(err, errlen, "--cert is not a PEM certificate");
	else if (ca == NULL)
		snprintf(err, errlen, "--cachain is not a PEM certificate");
	else if (X509_NAME_get_text_by_NID(X509_get_subject_name(cert),
	    NID_commonName, cn, sizeof(cn)) <= 0 ||
	    strcmp(cn, req->node_id) != 0)
		snprintf(err, errlen, "--cert is not for this node's"
		    " certificate request (node %s): run cluster csr and nodes"
		    " create again", req->node_id);
	else if (EVP_PKEY_eq(X509_get0_pubkey(cert),
	    X509_REQ_get0_pubkey(csr)) != 1)
		snprintf(err, errlen, "--cert does not certify this node's"
		    " key: it was made for an older cluster csr");
	else if (st == NULL || ctx == NULL || X509_STORE_add_cert(st, ca) !=
	    1 || X509_STORE_CTX_init(ctx, st, cert, NULL) != 1 ||
	    X509_verify_cert(ctx) != 1)
		snprintf(err, errlen, "--cert does not verify under --cachain"
		    " (%s)", X509_verify_cert_error_string(ctx ?
		    X509_STORE_CTX_get_error(ctx) : 0));
	else if (snprintf(want, sizeof(want), "kmd cluster CA %s",
	    cluster_id), X509_NAME_get_text_by_NID(X509_get_subject_name(ca),
	    NID_commonName, cn, sizeof(cn)) <= 0 || strcmp(cn, want) != 0)
		snprintf(err, errlen, "--mkek-blob is for another cluster than"
		    " --cachain");
	else
		ok = 1;
	X509_STORE_CTX_free(ctx);
	X509_STORE_free(st);
	return ok ? 0 : -1;
}

/* What an mkek_blob holds: the cluster id (terminated), then the KEK. */
#define MKEK_PLAIN	(KMD_NODEID_MAX + SEAL_KEYLEN)

/*
 * Open the mkek_blob into plain (MKEK_PLAIN bytes): "kmd1:" is sealed to
 * the CSR's sealing key, whose secret is sk; "kmd2:" is wrapped in the
 * token this node shares with the member (--shared-hsm-partition).
 */
static int
mkek_blob_open(struct hsm *h, struct kchan *ch, uint32_t reqid,
    const struct hsm_join_open *req, const uint8_t *sk, uint8_t *plain)
{
	uint8_t		 pk[crypto_box_PUBLICKEYBYTES], boxed[KMD_BLOB_MAX];
	char		 a[128], err[256];
	size_t		 n, blen;
	const size_t	 plen = MKEK_PLAIN;

	crypto_scalarmult_base(pk, sk);
	if (strncmp(req->mkek_blob, "kmd2:", 5) == 0) {
		/* --shared-hsm-partition: wrapped under the shared token key */
		hsm_ad(a, sizeof(a), "mkek", req->node_id);
		if (h->p11 == NULL || p11_unseal(h->p11, a, req->mkek_blob + 5,
		    plain, plen, &n, err, sizeof(err)) == -1 || n != plen ||
		    memchr(plain, '\0', KMD_NODEID_MAX) == NULL) {
			hsm_fail(ch, reqid, "--mkek-blob was wrapped in"
			    " the member's HSM (--shared-hsm-partition) and does"
			    " not open in this node's: %s", h->p11 == NULL ?
			    "this node has no HSM" : "not the same token and"
			    " key (hsm token and hsm key in kmd.conf)");
			return -1;
		}
	} else if (strncmp(req->mkek_blob, "kmd1:", 5) != 0 ||
	    sodium_base642bin(boxed, sizeof(boxed), req->mkek_blob + 5,
	    strlen(req->mkek_blob + 5), NULL, &blen, NULL,
	    sodium_base64_VARIANT_ORIGINAL) != 0 ||
	    blen != plen + crypto_box_SEALBYTES ||
	    crypto_box_seal_open(plain, boxed, blen, pk, sk) != 0 ||
	    memchr(plain, '\0', KMD_NODEID_MAX) == NULL) {
		hsm_fail(ch, reqid, "--mkek-blob does not open with this"
		    " node's join key: it was made for another certificate"
		    " request (run nodes create with this node's latest CSR)");
		return -1;
	}
	return 0;
}

/*
 * Re-seal for this node what cluster csr sealed under its root of trust
 * and the blob brought: the node key (opened into nodekey,
 * KMD_SEALED_MAX bytes) under the KEK, the KEK under the root of trust.
 */
static int
join_reseal(struct hsm *h, struct kchan *ch, uint32_t reqid,
    const struct hsm_join_open *req, const uint8_t *plain, char *nodekey,
    struct hsm_join_opened *out)
{
	char	 a[128];
	size_t	 n;

	hsm_ad(a, sizeof(a), "join-node-key", req->node_id);
	if (rot_unseal(h, a, req->node_key_sealed, (uint8_t *)nodekey,
	    KMD_SEALED_MAX - 1, &n) == -1) {
		hsm_fail(ch, reqid, "the node key does not unseal; run"
		    " cluster csr again");
		return -1;
	}
	nodekey[n] = '\0';
	hsm_ad(a, sizeof(a), "node-key", req->node_id);
	if (seal_hex(plain + KMD_NODEID_MAX, a, nodekey, n,
	    out->node_key_sealed, sizeof(out->node_key_sealed)) == -1) {
		hsm_fail(ch, reqid, "cannot seal the node key");
		return -1;
	}
	hsm_ad(a, sizeof(a), "kek", req->node_id);
	if (rot_seal(h, a, plain + KMD_NODEID_MAX, SEAL_KEYLEN,
	    out->kek_wrapped, sizeof(out->kek_wrapped)) == -1) {
		hsm_fail(ch, reqid, "cannot wrap the KEK");
		return -1;
	}
	return 0;
}

/*
 * cluster join: open the mkek_blob with the CSR's sealing secret, check
 * the certificate, and re-seal for this node as cluster new would: the
 * node key under the KEK, the KEK under this node's root of trust.
 */
int
hsm_join_open(struct kchan *ch, struct kmsg *m, void *arg)
{
	struct hsm		*h = arg;
	const struct hsm_join_open *req = (const void *)m->data;
	struct hsm_join_opened	*out;
	uint8_t			*sk, *plain, csrpk[32];
	char			*nodekey, a[128], err[256], id[KMD_NODEID_MAX];
	X509_REQ		*csr = NULL;
	X509			*cert = NULL, *ca = NULL;
	size_t			 n;

	if (rot_missing(h) != NULL)
		return hsm_fail(ch, m->hdr.reqid, "%s", rot_missing(h));
	if ((out = calloc(1, sizeof(*out))) == NULL ||
	    (sk = sodium_malloc(crypto_box_SECRETKEYBYTES)) == NULL ||
	    (plain = sodium_malloc(MKEK_PLAIN)) == NULL ||
	    (nodekey = sodium_malloc(KMD_SEALED_MAX)) == NULL)
		fatal("%s", __func__);
	if ((csr = csr_parse(req->csr, id, sizeof(id), csrpk, err,
	    sizeof(err))) == NULL || strcmp(id, req->node_id) != 0) {
		hsm_fail(ch, m->hdr.reqid, "this node's certificate request is"
		    " unusable; run cluster csr again");
		goto done;
	}
	hsm_ad(a, sizeof(a), "join-box-key", req->node_id);
	if (rot_unseal(h, a, req->box_sk_sealed, sk,
	    crypto_box_SECRETKEYBYTES, &n) == -1 ||
	    n != crypto_box_SECRETKEYBYTES) {
		hsm_fail(ch, m->hdr.reqid, "the join keys do not unseal under"
		    " this node's root-of-trust key; run cluster csr again");
		goto done;
	}
	if (mkek_blob_open(h, ch, m->hdr.reqid, req, sk, plain) == -1)
		goto done;
	kmd_strlcpy(out->cluster_id, (const char *)plain,
	    sizeof(out->cluster_id));
	cert = pem_read_cert(req->cert);
	ca = pem_read_cert(req->cachain);
	if (join_cert_ok(req, csr, cert, ca, out->cluster_id, err,
	    sizeof(err)) == -1) {
		hsm_fail(ch, m->hdr.reqid, "%s", err);
		goto done;
	}
	if (join_reseal(h, ch, m->hdr.reqid, req, plain, nodekey, out) == -1)
		goto done;
	kchan_send(ch, IMSG_HSM_JOIN_OPENED, m->hdr.reqid, -1, out,
	    sizeof(*out));
done:
	X509_REQ_free(csr);
	X509_free(cert);
	X509_free(ca);
	sodium_free(sk);
	sodium_free(plain);
	sodium_free(nodekey);
	free(out);
	return 0;
}
