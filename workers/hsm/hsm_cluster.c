/*
 * The cluster's CA in the hsm worker: cluster new makes the CA, the KEK
 * and this node's key and certificate, all sealed; the node's TLS files
 * are unsealed for the parent to write; nodes create signs a joining
 * node's CSR and seals the KEK to it.
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

/* Make the CA and this node's key and certificate, all sealed. */
int
hsm_create(struct kchan *ch, struct kmsg *m, void *arg)
{
	struct hsm		*h = arg;
	struct hsm_create	 req;
	struct hsm_created	*out = NULL;
	struct secrets		*s = NULL;
	EVP_PKEY		*cakey = NULL, *nodekey = NULL;
	X509			*cacert = NULL, *nodecert = NULL;
	char			 a[128];
	int			 ok = 0;

	memcpy(&req, m->data, sizeof(req));
	if (rot_missing(h) != NULL)
		return hsm_fail(ch, m->hdr.reqid, "%s", rot_missing(h));
	if ((out = calloc(1, sizeof(*out))) == NULL ||
	    (s = sodium_malloc(sizeof(*s))) == NULL)
		fatal("%s", __func__);
	if (req.restored_kek[0] == '\0')
		randombytes_buf(s->kek, sizeof(s->kek));
	else if (restored_kek_open(h, req.restored_kek, s->kek) == -1) {
		ok = -1;
		goto done;
	}
	if ((cakey = ca_keygen()) == NULL || (nodekey = ca_keygen()) == NULL ||
	    (cacert = ca_make_root(cakey, req.cluster_id)) == NULL ||
	    (nodecert = ca_issue(cakey, cacert, nodekey, req.node_id,
	    req.host)) == NULL || pem_cert(cacert, out->ca_cert,
	    sizeof(out->ca_cert)) == -1 || pem_cert(nodecert, out->node_cert,
	    sizeof(out->node_cert)) == -1 ||
	    pem_key(cakey, s->ca_key, sizeof(s->ca_key)) == -1 ||
	    pem_key(nodekey, s->node_key, sizeof(s->node_key)) == -1)
		goto done;
	hsm_ad(a, sizeof(a), "ca-key", req.cluster_id);
	if (seal_hex(s->kek, a, s->ca_key, strlen(s->ca_key),
	    out->ca_key_sealed, sizeof(out->ca_key_sealed)) == -1)
		goto done;
	hsm_ad(a, sizeof(a), "node-key", req.node_id);
	if (seal_hex(s->kek, a, s->node_key, strlen(s->node_key),
	    out->node_key_sealed, sizeof(out->node_key_sealed)) == -1)
		goto done;
	hsm_ad(a, sizeof(a), "kek", req.node_id);
	if (rot_seal(h, a, s->kek, sizeof(s->kek), out->kek_wrapped,
	    sizeof(out->kek_wrapped)) == -1)
		goto done;
	ok = 1;
	log_info("created the cluster CA and the certificate of node %s",
	    req.node_id);
	kchan_send(ch, IMSG_HSM_CLUSTER_CREATED, m->hdr.reqid, -1, out,
	    sizeof(*out));
done:
	if (ok == -1)
		hsm_fail(ch, m->hdr.reqid, "the KEK a backup's restore left on"
		    " this node does not open under its root of trust; restore"
		    " the backup again");
	else if (!ok)
		hsm_fail(ch, m->hdr.reqid, "cannot create the cluster CA and"
		    " certificates (OpenSSL)");
	EVP_PKEY_free(cakey);
	EVP_PKEY_free(nodekey);
	X509_free(cacert);
	X509_free(nodecert);
	sodium_free(s);
	free(out);
	return 0;
}

/* Unseal this node's TLS key and hand the files to the parent to write. */
int
hsm_tls_install(struct kchan *ch, struct kmsg *m, void *arg)
{
	struct hsm		*h = arg;
	struct hsm_tls_install	 req;
	struct tls_files	*tf;
	uint8_t			*kek;
	size_t			 n;
	char			 a[128];
	int			 r = -1;

	memcpy(&req, m->data, sizeof(req));
	if (rot_missing(h) != NULL)
		return hsm_fail(ch, m->hdr.reqid, "%s", rot_missing(h));
	if ((kek = sodium_malloc(SEAL_KEYLEN)) == NULL ||
	    (tf = sodium_malloc(sizeof(*tf))) == NULL)
		fatal("%s", __func__);
	memset(tf, 0, sizeof(*tf));
	if (kek_open(h, req.node_id, req.kek_wrapped, kek) == -1) {
		hsm_fail(ch, m->hdr.reqid, "the KEK does not unwrap under this"
		    " node's root-of-trust key");
		goto done;
	}
	hsm_ad(a, sizeof(a), "node-key", req.node_id);
	if (unseal_hex(kek, a, req.node_key_sealed, (uint8_t *)tf->key,
	    sizeof(tf->key) - 1, &n) == -1) {
		hsm_fail(ch, m->hdr.reqid, "the node key does not unseal under"
		    " the cluster KEK");
		goto done;
	}
	tf->key[n] = '\0';
	memcpy(tf->cert, req.node_cert, sizeof(tf->cert));
	memcpy(tf->ca, req.ca_cert, sizeof(tf->ca));
	r = kchan_send(ch, IMSG_TLS_WRITE, m->hdr.reqid, -1, tf, sizeof(*tf));
done:
	sodium_free(kek);
	sodium_free(tf);
	(void)r;
	return 0;
}

/*
 * The joining node's certificate into out->cert, signed by the cluster
 * CA, whose key (sealed under the KEK) is opened into cakey_pem only for
 * this.
 */
static int
node_cert_issue(struct kchan *ch, uint32_t reqid,
    const struct hsm_node_sign *req, const uint8_t *kek, X509_REQ *csr,
    char *cakey_pem, struct hsm_node_signed *out)
{
	EVP_PKEY	*cakey = NULL;
	X509		*ca = NULL, *x = NULL;
	char		 a[128];
	size_t		 n;
	int		 r = -1;

	hsm_ad(a, sizeof(a), "ca-key", req->cluster_id);
	if (unseal_hex(kek, a, req->ca_key_sealed, (uint8_t *)cakey_pem,
	    KMD_SEALED_MAX - 1, &n) == -1) {
		hsm_fail(ch, reqid, "the cluster CA key does not unseal"
		    " under the cluster KEK");
		return -1;
	}
	cakey_pem[n] = '\0';
	if ((cakey = pem_read_key(cakey_pem)) == NULL ||
	    (ca = pem_read_cert(req->ca_cert)) == NULL ||
	    (x = ca_issue(cakey, ca, X509_REQ_get0_pubkey(csr), out->node_id,
	    req->host)) == NULL || pem_cert(x, out->cert, sizeof(out->cert)) ==
	    -1)
		hsm_fail(ch, reqid, "cannot sign the certificate"
		    " (OpenSSL)");
	else
		r = 0;
	EVP_PKEY_free(cakey);
	X509_free(ca);
	X509_free(x);
	return r;
}

/*
 * out->mkek_blob: the cluster id and the KEK, sealed to the CSR's
 * sealing key pk ("kmd1:"), or with --shared-hsm-partition wrapped in
 * the token the joining node sees as well ("kmd2:").
 */
static int
mkek_blob_seal(struct hsm *h, struct kchan *ch, uint32_t reqid,
    const struct hsm_node_sign *req, const uint8_t *kek, const uint8_t *pk,
    struct hsm_node_signed *out)
{
	uint8_t	 plain[KMD_NODEID_MAX + SEAL_KEYLEN];
	uint8_t	 boxed[sizeof(plain) + crypto_box_SEALBYTES];
	char	 a[128], err[256];
	int	 r = 0;

	memset(plain, 0, sizeof(plain));
	memcpy(plain, req->cluster_id, strlen(req->cluster_id));
	memcpy(plain + KMD_NODEID_MAX, kek, SEAL_KEYLEN);
	if (req->shared_hsm) {
		/* the joining node sees the same token: wrap it there */
		hsm_ad(a, sizeof(a), "mkek", out->node_id);
		memcpy(out->mkek_blob, "kmd2:", 5);
		if (p11_seal(h->p11, NULL, a, plain, sizeof(plain),
		    out->mkek_blob +
		    5, sizeof(out->mkek_blob) - 5, err, sizeof(err)) == -1) {
			hsm_fail(ch, reqid, "%s", err);
			r = -1;
		}
	} else {
		crypto_box_seal(boxed, plain, sizeof(plain), pk);
		memcpy(out->mkek_blob, "kmd1:", 5);
		sodium_bin2base64(out->mkek_blob + 5, sizeof(out->mkek_blob) -
		    5, boxed, sizeof(boxed), sodium_base64_VARIANT_ORIGINAL);
	}
	sodium_memzero(plain, sizeof(plain));
	return r;
}

/*
 * nodes create: check the CSR, sign it with the cluster CA, and seal the
 * KEK to the CSR's sealing key.  The blob is "kmd1:" + base64 of
 * crypto_box_seal(cluster id | KEK): only the holder of the CSR's
 * sealing secret opens it, and it names the cluster it belongs to.
 */
int
hsm_node_sign(struct kchan *ch, struct kmsg *m, void *arg)
{
	struct hsm		*h = arg;
	const struct hsm_node_sign *req = (const void *)m->data;
	struct hsm_node_signed	*out;
	uint8_t			*kek, pk[CSR_BOXPK_LEN];
	char			*cakey_pem, err[256];
	X509_REQ		*csr = NULL;

	if (rot_missing(h) != NULL)
		return hsm_fail(ch, m->hdr.reqid, "%s", rot_missing(h));
	if ((out = calloc(1, sizeof(*out))) == NULL ||
	    (kek = sodium_malloc(SEAL_KEYLEN)) == NULL ||
	    (cakey_pem = sodium_malloc(KMD_SEALED_MAX)) == NULL)
		fatal("%s", __func__);
	if ((csr = csr_parse(req->csr, out->node_id, sizeof(out->node_id), pk,
	    err, sizeof(err))) == NULL) {
		hsm_fail(ch, m->hdr.reqid, "--csr: %s", err);
		goto done;
	}
	if (req->shared_hsm && h->p11 == NULL) {
		hsm_fail(ch, m->hdr.reqid, "--shared-hsm-partition: this node"
		    " keeps its root of trust in no HSM; leave the flag out to"
		    " seal the cluster's secrets to the joining node");
		goto done;
	}
	if (kek_open(h, req->my_node_id, req->kek_wrapped, kek) == -1) {
		hsm_fail(ch, m->hdr.reqid, "the KEK does not unwrap under this"
		    " node's root-of-trust key");
		goto done;
	}
	if (node_cert_issue(ch, m->hdr.reqid, req, kek, csr, cakey_pem,
	    out) == -1 || mkek_blob_seal(h, ch, m->hdr.reqid, req, kek, pk,
	    out) == -1)
		goto done;
	log_info("signed the certificate of node %s", out->node_id);
	kchan_send(ch, IMSG_HSM_NODE_SIGNED, m->hdr.reqid, -1, out,
	    sizeof(*out));
done:
	X509_REQ_free(csr);
	sodium_free(kek);
	sodium_free(cakey_pem);
	free(out);
	return 0;
}
