/*
 * hsm: the HSM/root-of-trust agent, the only process that sees key
 * material: the root of trust (software keys, slots of a root-only file
 * the parent opens and passes as an fd, or an AES key in a PKCS#11 token,
 * p11.c), the cluster KEK, the cluster CA and node keys, and the served
 * keys' material.  It keeps no state between requests: what it makes
 * leaves sealed (the CA, node and served keys under the KEK, the KEK
 * under the RoT) and comes back sealed when needed.  With "hsm" in
 * kmd.conf everything the RoT seals is sealed inside the token; the
 * software keys still open what they sealed before.
 */
#include <errno.h>
#include <sodium.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <openssl/evp.h>
#include <openssl/x509v3.h>

#include "cert.h"
#include "log.h"
#include "p11.h"
#include "util.h"
#include "worker.h"

struct hsm {
	uint8_t		*rot;		/* sodium_malloc'd, nrot key slots */
	int		 nrot;
	int		 hsm;		/* an HSM is configured */
	struct p11	*p11;		/* and open; NULL: see err */
	char		 err[KMD_ERR_MAX];
};

/* Secrets live in one guarded allocation, wiped when freed. */
struct secrets {
	uint8_t		 kek[SEAL_KEYLEN];
	char		 ca_key[KMD_SEALED_MAX];
	char		 node_key[KMD_SEALED_MAX];
};

static int	hsm_fail(struct kchan *, uint32_t, const char *, ...)
		    __attribute__((format(printf, 3, 4)));

static int
hsm_fail(struct kchan *ch, uint32_t reqid, const char *fmt, ...)
{
	char	 msg[KMD_ERR_MAX];
	va_list	 ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	log_warnx("%s", msg);
	return kchan_send(ch, IMSG_HSM_ERROR, reqid, -1, msg, strlen(msg) + 1);
}

/* Read the software keys from the file the parent passed: -1 if none. */
static int
rot_load(struct hsm *h, struct kmsg *m)
{
	ssize_t	 n;

	if (m->fd == -1)
		return -1;
	if (h->rot == NULL && (h->rot = sodium_malloc(ROT_SOFT_MAX *
	    SEAL_KEYLEN)) == NULL)
		fatal("%s: sodium_malloc", __func__);
	n = pread(m->fd, h->rot, ROT_SOFT_MAX * SEAL_KEYLEN, 0);
	kmsg_closefd(m);
	if (n < SEAL_KEYLEN || n % SEAL_KEYLEN != 0) {
		log_warnx("the root-of-trust key file is unreadable or short");
		sodium_free(h->rot);
		h->rot = NULL;
		h->nrot = 0;
		return 0;
	}
	h->nrot = (int)(n / SEAL_KEYLEN);
	return 0;
}

static int
hsm_rot_fd(struct kchan *ch, struct kmsg *m, void *arg)
{
	struct worker	*w = arg;

	(void)ch;
	return rot_load(w->ctx, m);
}

/* Software key `id` ("software", "software-N"), or NULL; its slot in *i. */
static const uint8_t *
soft_key(const struct hsm *h, const char *id, int *i)
{
	static const uint8_t	 zero[SEAL_KEYLEN];
	char			*end;
	long			 n = 0;

	if (strncmp(id, "software", 8) != 0 || h->rot == NULL)
		return NULL;
	if (id[8] != '\0') {
		if (id[8] != '-' || id[9] < '1' || id[9] > '9')
			return NULL;
		n = strtol(id + 9, &end, 10);
		if (*end != '\0')
			return NULL;
	}
	if (n >= h->nrot || sodium_memcmp(h->rot + n * SEAL_KEYLEN, zero,
	    SEAL_KEYLEN) == 0)
		return NULL;
	if (i != NULL)
		*i = (int)n;
	return h->rot + n * SEAL_KEYLEN;
}

static void
soft_name(int i, char *buf, size_t len)
{
	if (i == 0)
		snprintf(buf, len, "software");
	else
		snprintf(buf, len, "software-%d", i);
}

/*
 * The node's HSM configuration, from the parent (the PIN read from its
 * root-only file): the token is opened now, and again on the next start
 * of this worker when it failed.
 */
static int
hsm_conf(struct kchan *ch, struct kmsg *m, void *arg)
{
	struct worker		*w = arg;
	struct hsm		*h = w->ctx;
	struct hsm_conf		*hc = (struct hsm_conf *)m->data;
	char			 why[300];
	struct hsm_status	 hs;

	(void)ch;
	if (!TERMINATED(hc->module) || !TERMINATED(hc->token) ||
	    !TERMINATED(hc->key) || !TERMINATED(hc->pin)) {
		sodium_memzero(hc, sizeof(*hc));
		return -1;
	}
	h->hsm = 1;
	p11_close(h->p11);
	if ((h->p11 = p11_open(hc->module, hc->token, hc->pin, hc->key, why,
	    sizeof(why))) == NULL) {
		snprintf(h->err, sizeof(h->err), "the HSM is unavailable: %s;"
		    " check hsm module, token and pin-file in kmd.conf, then"
		    " restart kmd", why);
		log_warnx("%s", h->err);
	} else
		log_info("root of trust: key '%s' in HSM token '%s'", hc->key,
		    hc->token);
	memset(&hs, 0, sizeof(hs));
	hs.ok = h->p11 != NULL;
	if (!hs.ok)
		kmd_strlcpy(hs.msg, h->err, sizeof(hs.msg));
	kchan_send(w->parent, IMSG_HSM_STATUS, 0, -1, &hs, sizeof(hs));
	sodium_memzero(hc, sizeof(*hc));
	return 0;
}

/* Why the root of trust cannot be used now, or NULL. */
static const char *
rot_missing(struct hsm *h)
{
	if (h->hsm)
		return h->p11 != NULL ? NULL : h->err;
	return h->rot != NULL ? NULL : "no root-of-trust key";
}

/* Seal under the root of trust: the HSM's key when one is configured. */
static int
rot_seal(struct hsm *h, const char *ad, const void *pt, size_t ptlen,
    char *out, size_t outlen)
{
	if (h->p11 != NULL)
		return p11_seal(h->p11, NULL, ad, pt, ptlen, out, outlen,
		    h->err, sizeof(h->err));
	return seal_hex(h->rot, ad, pt, ptlen, out, outlen);	/* "software" */
}

/*
 * Open what either root of trust sealed: the HSM's blobs start with
 * "p11:"; a software one could by chance (a random nonce), so the
 * software key is tried as well when the HSM fails.
 */
static int
rot_unseal(struct hsm *h, const char *ad, const char *in, uint8_t *pt,
    size_t ptmax, size_t *ptlen)
{
	const uint8_t	*k;
	char		 id[32];
	int		 i;

	if (h->p11 != NULL && p11_sealed(in) && p11_unseal(h->p11, ad, in,
	    pt, ptmax, ptlen, h->err, sizeof(h->err)) == 0)
		return 0;
	for (i = 0; i < h->nrot; i++) {
		soft_name(i, id, sizeof(id));
		if ((k = soft_key(h, id, NULL)) != NULL && unseal_hex(k, ad,
		    in, pt, ptmax, ptlen) == 0)
			return 0;
	}
	return -1;
}

static void	ad(char *, size_t, const char *, const char *);
static int	kek_open(struct hsm *, const char *, const char *, uint8_t *);

/* rot-keys list: the keys this node could keep its KEK under. */
static int
hsm_rot_list(struct kchan *ch, struct kmsg *m, void *arg)
{
	struct worker		*w = arg;
	struct hsm		*h = w->ctx;
	struct hsm_rot_keys	*rk;
	char			 labels[KMD_ROTKEYS_MAX][64];
	int			 i, n = 0;

	if ((rk = calloc(1, sizeof(*rk))) == NULL)
		fatal("%s", __func__);
	for (i = 0; i < h->nrot; i++) {
		soft_name(i, rk->keys[rk->n].id, sizeof(rk->keys[0].id));
		if (soft_key(h, rk->keys[rk->n].id, NULL) == NULL)
			continue;
		kmd_strlcpy(rk->keys[rk->n].kind, "software",
		    sizeof(rk->keys[0].kind));
		rk->n++;
	}
	if (h->p11 != NULL)
		n = p11_labels(h->p11, labels, KMD_ROTKEYS_MAX - rk->n);
	for (i = 0; i < n; i++) {
		kmd_strlcpy(rk->keys[rk->n].id, labels[i],
		    sizeof(rk->keys[0].id));
		kmd_strlcpy(rk->keys[rk->n].kind, "hsm",
		    sizeof(rk->keys[0].kind));
		rk->n++;
	}
	kchan_send(ch, IMSG_HSM_ROT_KEYS, m->hdr.reqid, -1, rk, sizeof(*rk));
	free(rk);
	return 0;
}

/*
 * rot-keys rotate: open the KEK under whichever key holds it, wrap it
 * under `to`: "software" or "software-N", a token key's label (made if
 * missing), or "" for a new key: in the token with an HSM, otherwise a
 * new software key, which the parent appends to the key file first
 * (ROT_GROW, then ROT_GROWN back here).  The KEK itself does not change.
 */
static int
rewrap(struct hsm *h, struct kchan *ch, uint32_t reqid,
    const struct hsm_rewrap *req)
{
	struct hsm_rewrap	 out;
	const uint8_t		*soft;
	uint8_t			*kek;
	char			 a[128];
	int			 r;

	memset(&out, 0, sizeof(out));
	kmd_strlcpy(out.node_id, req->node_id, sizeof(out.node_id));
	if (req->to[0] == '\0' && !h->hsm)
		return kchan_send(ch, IMSG_ROT_GROW, reqid, -1, req,
		    sizeof(*req));
	if (req->to[0] == '\0')
		snprintf(out.to, sizeof(out.to), "kmd-rot-%lld",
		    (long long)time(NULL));
	else
		kmd_strlcpy(out.to, req->to, sizeof(out.to));
	soft = soft_key(h, out.to, NULL);
	if (strncmp(out.to, "software", 8) == 0 ? soft == NULL :
	    h->p11 == NULL)
		return hsm_fail(ch, reqid, "rot-keys rotate: %s",
		    strncmp(out.to, "software", 8) == 0 ? "this node has no"
		    " such software root-of-trust key (rot-keys list)" :
		    h->hsm ? h->err : "this node has no HSM (hsm in kmd.conf);"
		    " its keys are software ones (rot-keys list)");
	if ((kek = sodium_malloc(SEAL_KEYLEN)) == NULL)
		fatal("%s", __func__);
	ad(a, sizeof(a), "kek", req->node_id);
	if (kek_open(h, req->node_id, req->kek_wrapped, kek) == -1) {
		sodium_free(kek);
		return hsm_fail(ch, reqid, "rot-keys rotate: the KEK opens"
		    " under none of this node's root-of-trust keys");
	}
	if (soft != NULL)
		r = seal_hex(soft, a, kek, SEAL_KEYLEN, out.kek_wrapped,
		    sizeof(out.kek_wrapped));
	else
		r = p11_seal(h->p11, out.to, a, kek, SEAL_KEYLEN,
		    out.kek_wrapped, sizeof(out.kek_wrapped), h->err,
		    sizeof(h->err));
	sodium_free(kek);
	if (r == -1)
		return hsm_fail(ch, reqid, "rot-keys rotate: %s", h->err);
	log_info("the KEK of node %s is now wrapped under root-of-trust key"
	    " '%s'", out.node_id, out.to);
	return kchan_send(ch, IMSG_HSM_REWRAPPED, reqid, -1, &out,
	    sizeof(out));
}

static int
hsm_rewrap(struct kchan *ch, struct kmsg *m, void *arg)
{
	struct worker		*w = arg;
	const struct hsm_rewrap	*req = (const void *)m->data;

	if (!TERMINATED(req->node_id) || !TERMINATED(req->to) ||
	    !TERMINATED(req->kek_wrapped))
		return -1;
	return rewrap(w->ctx, ch, m->hdr.reqid, req);
}

/* The parent appended a software key: wrap the KEK under it. */
static int
hsm_rot_grown(struct kchan *ch, struct kmsg *m, void *arg)
{
	struct worker		*w = arg;
	struct hsm		*h = w->ctx;
	struct hsm_rewrap	 req;

	memcpy(&req, m->data, sizeof(req));
	if (!TERMINATED(req.node_id) || !TERMINATED(req.kek_wrapped) ||
	    rot_load(h, m) == -1)
		return -1;
	if (h->nrot < 2)
		return hsm_fail(ch, m->hdr.reqid, "rot-keys rotate: no new"
		    " software key");
	soft_name(h->nrot - 1, req.to, sizeof(req.to));
	return rewrap(h, ch, m->hdr.reqid, &req);
}

/*
 * rot-keys delete: a token key is destroyed here; a software key's slot
 * is zeroed by the parent, which then passes the file again and tells
 * the joiner.  The joiner has checked that the KEK is not under it.
 */
static int
hsm_rot_delete(struct kchan *ch, struct kmsg *m, void *arg)
{
	struct worker		*w = arg;
	struct hsm		*h = w->ctx;
	const struct rotkeys_req *rq = (const void *)m->data;
	struct rot_slot		 rs;
	char			 err[256];
	int			 n;

	if (!TERMINATED(rq->id))
		return -1;
	memset(&rs, 0, sizeof(rs));
	kmd_strlcpy(rs.id, rq->id, sizeof(rs.id));
	if (soft_key(h, rq->id, &rs.index) != NULL)
		return kchan_send(ch, IMSG_ROT_ZERO, m->hdr.reqid, -1, &rs,
		    sizeof(rs));
	if (strncmp(rq->id, "software", 8) == 0 || h->p11 == NULL)
		return hsm_fail(ch, m->hdr.reqid, "rot-keys delete: this node"
		    " has no key '%s' (rot-keys list)", rq->id);
	if ((n = p11_destroy(h->p11, rq->id, err, sizeof(err))) == -1)
		return hsm_fail(ch, m->hdr.reqid, "rot-keys delete: %s", err);
	if (n == 0)
		return hsm_fail(ch, m->hdr.reqid, "rot-keys delete: the token"
		    " holds no key '%s' (rot-keys list)", rq->id);
	log_info("destroyed the root-of-trust key '%s' in the token", rq->id);
	return kchan_send(ch, IMSG_HSM_ROT_DELETED, m->hdr.reqid, -1, rq,
	    sizeof(*rq));
}

static void
ad(char *buf, size_t len, const char *what, const char *id)
{
	snprintf(buf, len, "kmd:%s:%s", what, id);
}

/* The cluster KEK, as node_id keeps it wrapped, into kek (SEAL_KEYLEN). */
static int
kek_open(struct hsm *h, const char *node_id, const char *wrapped,
    uint8_t *kek)
{
	char	 a[128];
	size_t	 n;

	ad(a, sizeof(a), "kek", node_id);
	return rot_unseal(h, a, wrapped, kek, SEAL_KEYLEN, &n) == -1 ||
	    n != SEAL_KEYLEN ? -1 : 0;
}

/* Make the CA and this node's key and certificate, all sealed. */
static int
hsm_create(struct kchan *ch, struct kmsg *m, void *arg)
{
	struct worker		*w = arg;
	struct hsm		*h = w->ctx;
	struct hsm_create	 req;
	struct hsm_created	*out = NULL;
	struct secrets		*s = NULL;
	EVP_PKEY		*cakey = NULL, *nodekey = NULL;
	X509			*cacert = NULL, *nodecert = NULL;
	char			 a[128];
	int			 ok = 0;

	memcpy(&req, m->data, sizeof(req));
	if (!TERMINATED(req.cluster_id) ||
	    !TERMINATED(req.node_id) ||
	    !TERMINATED(req.host))
		return -1;
	if (rot_missing(h) != NULL)
		return hsm_fail(ch, m->hdr.reqid, "%s", rot_missing(h));
	if ((out = calloc(1, sizeof(*out))) == NULL ||
	    (s = sodium_malloc(sizeof(*s))) == NULL)
		fatal("%s", __func__);
	randombytes_buf(s->kek, sizeof(s->kek));
	if ((cakey = ca_keygen()) == NULL || (nodekey = ca_keygen()) == NULL ||
	    (cacert = ca_make_root(cakey, req.cluster_id)) == NULL ||
	    (nodecert = ca_issue(cakey, cacert, nodekey, req.node_id,
	    req.host)) == NULL || pem_cert(cacert, out->ca_cert,
	    sizeof(out->ca_cert)) == -1 || pem_cert(nodecert, out->node_cert,
	    sizeof(out->node_cert)) == -1 ||
	    pem_key(cakey, s->ca_key, sizeof(s->ca_key)) == -1 ||
	    pem_key(nodekey, s->node_key, sizeof(s->node_key)) == -1)
		goto done;
	ad(a, sizeof(a), "ca-key", req.cluster_id);
	if (seal_hex(s->kek, a, s->ca_key, strlen(s->ca_key),
	    out->ca_key_sealed, sizeof(out->ca_key_sealed)) == -1)
		goto done;
	ad(a, sizeof(a), "node-key", req.node_id);
	if (seal_hex(s->kek, a, s->node_key, strlen(s->node_key),
	    out->node_key_sealed, sizeof(out->node_key_sealed)) == -1)
		goto done;
	ad(a, sizeof(a), "kek", req.node_id);
	if (rot_seal(h, a, s->kek, sizeof(s->kek), out->kek_wrapped,
	    sizeof(out->kek_wrapped)) == -1)
		goto done;
	ok = 1;
	log_info("created the cluster CA and the certificate of node %s",
	    req.node_id);
	kchan_send(ch, IMSG_HSM_CLUSTER_CREATED, m->hdr.reqid, -1, out,
	    sizeof(*out));
done:
	if (!ok)
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
static int
hsm_tls_install(struct kchan *ch, struct kmsg *m, void *arg)
{
	struct worker		*w = arg;
	struct hsm		*h = w->ctx;
	struct hsm_tls_install	 req;
	struct tls_files	*tf;
	uint8_t			*kek;
	size_t			 n;
	char			 a[128];
	int			 r = -1;

	memcpy(&req, m->data, sizeof(req));
	if (!TERMINATED(req.node_id) ||
	    !TERMINATED(req.kek_wrapped) ||
	    !TERMINATED(req.node_key_sealed) || !TERMINATED(req.node_cert) || !TERMINATED(req.ca_cert))
		return -1;
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
	ad(a, sizeof(a), "node-key", req.node_id);
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
 * cluster csr: the joining node's key and a sealing key pair, sealed
 * under this node's root of trust until the join, and the CSR.
 */
static int
hsm_csr_make(struct kchan *ch, struct kmsg *m, void *arg)
{
	struct worker		*w = arg;
	struct hsm		*h = w->ctx;
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
	if (!TERMINATED(req.node_id) ||
	    !TERMINATED(req.host))
		return -1;
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
	ad(a, sizeof(a), "join-node-key", req.node_id);
	if (rot_seal(h, a, s->node_key, strlen(s->node_key),
	    out->node_key_sealed, sizeof(out->node_key_sealed)) == -1)
		goto done;
	ad(a, sizeof(a), "join-box-key", req.node_id);
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

/*
 * nodes create: check the CSR, sign it with the cluster CA, and seal the
 * KEK to the CSR's sealing key.  The blob is "kmd1:" + base64 of
 * crypto_box_seal(cluster id | KEK): only the holder of the CSR's
 * sealing secret opens it, and it names the cluster it belongs to.
 */
static int
hsm_node_sign(struct kchan *ch, struct kmsg *m, void *arg)
{
	struct worker		*w = arg;
	struct hsm		*h = w->ctx;
	const struct hsm_node_sign *req = (const void *)m->data;
	struct hsm_node_signed	*out;
	uint8_t			*kek, pk[CSR_BOXPK_LEN];
	uint8_t			 plain[KMD_NODEID_MAX + SEAL_KEYLEN];
	uint8_t			 boxed[sizeof(plain) + crypto_box_SEALBYTES];
	char			*cakey_pem, a[128], err[256];
	EVP_PKEY		*cakey = NULL;
	X509			*ca = NULL, *x = NULL;
	X509_REQ		*csr = NULL;
	size_t			 n;

	if (!TERMINATED(req->csr) ||
	    !TERMINATED(req->host) ||
	    !TERMINATED(req->cluster_id) ||
	    !TERMINATED(req->my_node_id) ||
	    !TERMINATED(req->kek_wrapped) ||
	    !TERMINATED(req->ca_key_sealed) || !TERMINATED(req->ca_cert))
		return -1;
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
	ad(a, sizeof(a), "ca-key", req->cluster_id);
	if (unseal_hex(kek, a, req->ca_key_sealed, (uint8_t *)cakey_pem,
	    KMD_SEALED_MAX - 1, &n) == -1) {
		hsm_fail(ch, m->hdr.reqid, "the cluster CA key does not unseal"
		    " under the cluster KEK");
		goto done;
	}
	cakey_pem[n] = '\0';
	if ((cakey = pem_read_key(cakey_pem)) == NULL ||
	    (ca = pem_read_cert(req->ca_cert)) == NULL ||
	    (x = ca_issue(cakey, ca, X509_REQ_get0_pubkey(csr), out->node_id,
	    req->host)) == NULL || pem_cert(x, out->cert, sizeof(out->cert)) ==
	    -1) {
		hsm_fail(ch, m->hdr.reqid, "cannot sign the certificate"
		    " (OpenSSL)");
		goto done;
	}
	memset(plain, 0, sizeof(plain));
	memcpy(plain, req->cluster_id, strlen(req->cluster_id));
	memcpy(plain + KMD_NODEID_MAX, kek, SEAL_KEYLEN);
	if (req->shared_hsm) {
		/* the joining node sees the same token: wrap it there */
		ad(a, sizeof(a), "mkek", out->node_id);
		memcpy(out->mkek_blob, "kmd2:", 5);
		if (p11_seal(h->p11, NULL, a, plain, sizeof(plain),
		    out->mkek_blob +
		    5, sizeof(out->mkek_blob) - 5, err, sizeof(err)) == -1) {
			hsm_fail(ch, m->hdr.reqid, "%s", err);
			goto done;
		}
	} else {
		crypto_box_seal(boxed, plain, sizeof(plain), pk);
		memcpy(out->mkek_blob, "kmd1:", 5);
		sodium_bin2base64(out->mkek_blob + 5, sizeof(out->mkek_blob) -
		    5, boxed, sizeof(boxed), sodium_base64_VARIANT_ORIGINAL);
	}
	log_info("signed the certificate of node %s", out->node_id);
	kchan_send(ch, IMSG_HSM_NODE_SIGNED, m->hdr.reqid, -1, out,
	    sizeof(*out));
done:
	sodium_memzero(plain, sizeof(plain));
	EVP_PKEY_free(cakey);
	X509_free(ca);
	X509_free(x);
	X509_REQ_free(csr);
	sodium_free(kek);
	sodium_free(cakey_pem);
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

/*
 * cluster join: open the mkek_blob with the CSR's sealing secret, check
 * the certificate, and re-seal for this node as cluster new would: the
 * node key under the KEK, the KEK under this node's root of trust.
 */
static int
hsm_join_open(struct kchan *ch, struct kmsg *m, void *arg)
{
	struct worker		*w = arg;
	struct hsm		*h = w->ctx;
	const struct hsm_join_open *req = (const void *)m->data;
	struct hsm_join_opened	*out;
	uint8_t			*sk, pk[crypto_box_PUBLICKEYBYTES], csrpk[32];
	uint8_t			*plain, boxed[KMD_BLOB_MAX];
	char			*nodekey, a[128], err[256], id[KMD_NODEID_MAX];
	X509_REQ		*csr = NULL;
	X509			*cert = NULL, *ca = NULL;
	size_t			 n, blen;
	const size_t		 plen = KMD_NODEID_MAX + SEAL_KEYLEN;

	if (!TERMINATED(req->node_id) ||
	    !TERMINATED(req->csr) ||
	    !TERMINATED(req->cert) ||
	    !TERMINATED(req->cachain) ||
	    !TERMINATED(req->mkek_blob) ||
	    !TERMINATED(req->box_sk_sealed) || !TERMINATED(req->node_key_sealed))
		return -1;
	if (rot_missing(h) != NULL)
		return hsm_fail(ch, m->hdr.reqid, "%s", rot_missing(h));
	if ((out = calloc(1, sizeof(*out))) == NULL ||
	    (sk = sodium_malloc(crypto_box_SECRETKEYBYTES)) == NULL ||
	    (plain = sodium_malloc(plen)) == NULL ||
	    (nodekey = sodium_malloc(KMD_SEALED_MAX)) == NULL)
		fatal("%s", __func__);
	if ((csr = csr_parse(req->csr, id, sizeof(id), csrpk, err,
	    sizeof(err))) == NULL || strcmp(id, req->node_id) != 0) {
		hsm_fail(ch, m->hdr.reqid, "this node's certificate request is"
		    " unusable; run cluster csr again");
		goto done;
	}
	ad(a, sizeof(a), "join-box-key", req->node_id);
	if (rot_unseal(h, a, req->box_sk_sealed, sk,
	    crypto_box_SECRETKEYBYTES, &n) == -1 ||
	    n != crypto_box_SECRETKEYBYTES) {
		hsm_fail(ch, m->hdr.reqid, "the join keys do not unseal under"
		    " this node's root-of-trust key; run cluster csr again");
		goto done;
	}
	crypto_scalarmult_base(pk, sk);
	if (strncmp(req->mkek_blob, "kmd2:", 5) == 0) {
		/* --shared-hsm-partition: wrapped under the shared token key */
		ad(a, sizeof(a), "mkek", req->node_id);
		if (h->p11 == NULL || p11_unseal(h->p11, a, req->mkek_blob + 5,
		    plain, plen, &n, err, sizeof(err)) == -1 || n != plen ||
		    memchr(plain, '\0', KMD_NODEID_MAX) == NULL) {
			hsm_fail(ch, m->hdr.reqid, "--mkek-blob was wrapped in"
			    " the member's HSM (--shared-hsm-partition) and does"
			    " not open in this node's: %s", h->p11 == NULL ?
			    "this node has no HSM" : "not the same token and"
			    " key (hsm token and hsm key in kmd.conf)");
			goto done;
		}
	} else if (strncmp(req->mkek_blob, "kmd1:", 5) != 0 ||
	    sodium_base642bin(boxed, sizeof(boxed), req->mkek_blob + 5,
	    strlen(req->mkek_blob + 5), NULL, &blen, NULL,
	    sodium_base64_VARIANT_ORIGINAL) != 0 ||
	    blen != plen + crypto_box_SEALBYTES ||
	    crypto_box_seal_open(plain, boxed, blen, pk, sk) != 0 ||
	    memchr(plain, '\0', KMD_NODEID_MAX) == NULL) {
		hsm_fail(ch, m->hdr.reqid, "--mkek-blob does not open with this"
		    " node's join key: it was made for another certificate"
		    " request (run nodes create with this node's latest CSR)");
		goto done;
	}
	kmd_strlcpy(out->cluster_id, (const char *)plain,
	    sizeof(out->cluster_id));
	cert = pem_read_cert(req->cert);
	ca = pem_read_cert(req->cachain);
	if (join_cert_ok(req, csr, cert, ca, out->cluster_id, err,
	    sizeof(err)) == -1) {
		hsm_fail(ch, m->hdr.reqid, "%s", err);
		goto done;
	}
	ad(a, sizeof(a), "join-node-key", req->node_id);
	if (rot_unseal(h, a, req->node_key_sealed, (uint8_t *)nodekey,
	    KMD_SEALED_MAX - 1, &n) == -1) {
		hsm_fail(ch, m->hdr.reqid, "the node key does not unseal; run"
		    " cluster csr again");
		goto done;
	}
	nodekey[n] = '\0';
	ad(a, sizeof(a), "node-key", req->node_id);
	if (seal_hex(plain + KMD_NODEID_MAX, a, nodekey, n,
	    out->node_key_sealed, sizeof(out->node_key_sealed)) == -1) {
		hsm_fail(ch, m->hdr.reqid, "cannot seal the node key");
		goto done;
	}
	ad(a, sizeof(a), "kek", req->node_id);
	if (rot_seal(h, a, plain + KMD_NODEID_MAX, SEAL_KEYLEN,
	    out->kek_wrapped, sizeof(out->kek_wrapped)) == -1) {
		hsm_fail(ch, m->hdr.reqid, "cannot wrap the KEK");
		goto done;
	}
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

/*
 * Keys the appliance serves.  Material is made here, leaves sealed under
 * the KEK with the version's id as associated data, and is opened here
 * only to encrypt or decrypt.  A ciphertext is version (4 bytes, big
 * endian) | IV (12) | AES-GCM ciphertext | tag (16), with the version's
 * id as AAD, so it names the version that opens it and opens under no
 * other key.
 */
#define GCM_IV		12
#define GCM_TAG		16
#define CT_HEAD		(4 + GCM_IV)

/* The material of a served key, opened into m (32 bytes); its length. */
static int
material_open(struct hsm *h, const char *node_id, const char *wrapped,
    const char *key_id, const char *sealed, uint8_t *m, size_t *len)
{
	uint8_t	*kek;
	char	 a[128];
	int	 r = -1;

	if ((kek = sodium_malloc(SEAL_KEYLEN)) == NULL)
		fatal("%s", __func__);
	ad(a, sizeof(a), "key", key_id);
	if (kek_open(h, node_id, wrapped, kek) == 0 && unseal_hex(kek, a,
	    sealed, m, 32, len) == 0 && (*len == 16 || *len == 24 ||
	    *len == 32))
		r = 0;
	sodium_free(kek);
	return r;
}

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

static int
hsm_key_make(struct kchan *ch, struct kmsg *m, void *arg)
{
	struct worker		*w = arg;
	struct hsm		*h = w->ctx;
	const struct hsm_key_make *req = (const void *)m->data;
	struct hsm_key_made	 out;
	uint8_t			*kek, *mat;
	char			 a[128];
	size_t			 len = (size_t)req->size / 8;
	int			 r;

	if (!TERMINATED(req->node_id) || !TERMINATED(req->kek_wrapped) ||
	    !TERMINATED(req->key_id) || (req->size != 128 &&
	    req->size != 192 && req->size != 256))
		return -1;
	if (rot_missing(h) != NULL)
		return hsm_fail(ch, m->hdr.reqid, "%s", rot_missing(h));
	if ((kek = sodium_malloc(SEAL_KEYLEN)) == NULL ||
	    (mat = sodium_malloc(32)) == NULL)
		fatal("%s", __func__);
	memset(&out, 0, sizeof(out));
	kmd_strlcpy(out.key_id, req->key_id, sizeof(out.key_id));
	randombytes_buf(mat, len);
	kcv(mat, len, out.kcv, sizeof(out.kcv));
	ad(a, sizeof(a), "key", req->key_id);
	if ((r = kek_open(h, req->node_id, req->kek_wrapped, kek)) == -1)
		hsm_fail(ch, m->hdr.reqid, "the KEK does not unwrap under this"
		    " node's root-of-trust key");
	else if ((r = seal_hex(kek, a, mat, len, out.sealed,
	    sizeof(out.sealed))) == -1 || out.kcv[0] == '\0')
		hsm_fail(ch, m->hdr.reqid, "cannot seal the new key");
	else
		kchan_send(ch, IMSG_HSM_KEY_MADE, m->hdr.reqid, -1, &out,
		    sizeof(out));
	sodium_free(kek);
	sodium_free(mat);
	return 0;
}

/* Encrypt or decrypt a caller's data with a served key's material. */
static int
hsm_key_crypt(struct kchan *ch, struct kmsg *m, void *arg)
{
	struct worker		*w = arg;
	struct hsm		*h = w->ctx;
	const struct hsm_key_crypt *req = (const void *)m->data;
	struct key_crypt	*out;
	uint8_t			*mat, *in, *pt;
	const size_t		 max = CT_HEAD + KMD_CRYPT_MAX + GCM_TAG;
	size_t			 klen, inlen;
	int			 n;

	if (!TERMINATED(req->node_id) || !TERMINATED(req->kek_wrapped) ||
	    !TERMINATED(req->key_id) || !TERMINATED(req->sealed) ||
	    !TERMINATED(req->data))
		return -1;
	if (rot_missing(h) != NULL)
		return hsm_fail(ch, m->hdr.reqid, "%s", rot_missing(h));
	if ((mat = sodium_malloc(32)) == NULL ||
	    (in = sodium_malloc(max)) == NULL ||
	    (pt = sodium_malloc(max)) == NULL ||
	    (out = sodium_malloc(sizeof(*out))) == NULL)
		fatal("%s", __func__);
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
	if (material_open(h, req->node_id, req->kek_wrapped, req->key_id,
	    req->sealed, mat, &klen) == -1) {
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
	sodium_free(mat);
	sodium_free(in);
	sodium_free(pt);
	sodium_free(out);
	return 0;
}

static int
hsm_init(struct worker *w)
{
	struct hsm	*h;

	if ((h = calloc(1, sizeof(*h))) == NULL)
		return -1;
	w->ctx = h;
	return 0;
}

static void
hsm_fini(struct worker *w)
{
	struct hsm	*h = w->ctx;

	sodium_free(h->rot);
	p11_close(h->p11);
	free(h);
}

#define HSM_ROW(q, ql, a, al, fn)	{ IMSG_##q, ql, FROM(PROC_PARENT), fn },
static const struct kmsg_handler hsm_handlers[] = {
	{ IMSG_CONF_VERBOSE, sizeof(int32_t), FROM(PROC_PARENT),
	    worker_conf_verbose },
	{ IMSG_HSM_ROT_FD, 0, FROM(PROC_PARENT), hsm_rot_fd },
	{ IMSG_HSM_CONF, sizeof(struct hsm_conf), FROM(PROC_PARENT), hsm_conf },
	HSM_CALLS(HSM_ROW)
	{ IMSG_HSM_ROT_GROWN, sizeof(struct hsm_rewrap), FROM(PROC_PARENT),
	    hsm_rot_grown },
	{ IMSG_HSM_TLS_INSTALL, sizeof(struct hsm_tls_install),
	    FROM(PROC_PARENT), hsm_tls_install },
};

const struct worker_def hsm_worker = {
	PROC_HSM, hsm_handlers,
	sizeof(hsm_handlers) / sizeof(hsm_handlers[0]), hsm_init, hsm_fini
};
