#include <arpa/inet.h>

#include <sodium.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include <openssl/bio.h>
#include <openssl/bn.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/x509v3.h>

#include "cert.h"

#define CA_DAYS		3650
#define NODE_DAYS	825

EVP_PKEY *
ca_keygen(void)
{
	return EVP_EC_gen("P-256");
}

static int
add_ext(X509 *issuer, X509 *x, int nid, const char *value)
{
	X509V3_CTX	 ctx;
	X509_EXTENSION	*e;
	int		 r;

	X509V3_set_ctx(&ctx, issuer, x, NULL, NULL, 0);
	if ((e = X509V3_EXT_conf_nid(NULL, &ctx, nid, value)) == NULL)
		return -1;
	r = X509_add_ext(x, e, -1) == 1 ? 0 : -1;
	X509_EXTENSION_free(e);
	return r;
}

/* A certificate with a random serial, CN cn, valid from 5 min ago. */
static X509 *
cert_new(EVP_PKEY *pub, const char *cn, long days)
{
	X509		*x;
	BIGNUM		*bn = BN_new();
	X509_NAME	*name;

	if ((x = X509_new()) == NULL || bn == NULL ||
	    X509_set_version(x, 2) != 1 ||
	    BN_rand(bn, 127, BN_RAND_TOP_ANY, BN_RAND_BOTTOM_ANY) != 1 ||
	    BN_to_ASN1_INTEGER(bn, X509_get_serialNumber(x)) == NULL ||
	    X509_gmtime_adj(X509_getm_notBefore(x), -300) == NULL ||
	    X509_gmtime_adj(X509_getm_notAfter(x), days * 86400L) == NULL ||
	    X509_set_pubkey(x, pub) != 1 ||
	    (name = X509_get_subject_name(x)) == NULL ||
	    X509_NAME_add_entry_by_txt(name, "O", MBSTRING_ASC,
	    (const unsigned char *)"kmd", -1, -1, 0) != 1 ||
	    X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC,
	    (const unsigned char *)cn, -1, -1, 0) != 1) {
		X509_free(x);
		x = NULL;
	}
	BN_free(bn);
	return x;
}

/* The cluster's self-signed root. */
X509 *
ca_make_root(EVP_PKEY *key, const char *cluster_id)
{
	X509	*x;
	char	 cn[96];

	snprintf(cn, sizeof(cn), "kmd cluster CA %s", cluster_id);
	if ((x = cert_new(key, cn, CA_DAYS)) == NULL)
		return NULL;
	if (X509_set_issuer_name(x, X509_get_subject_name(x)) != 1 ||
	    add_ext(x, x, NID_basic_constraints, "critical,CA:TRUE") == -1 ||
	    add_ext(x, x, NID_key_usage, "critical,keyCertSign,cRLSign") ==
	    -1 || add_ext(x, x, NID_subject_key_identifier, "hash") == -1 ||
	    X509_sign(x, key, EVP_sha256()) == 0) {
		X509_free(x);
		return NULL;
	}
	return x;
}

/* "IP:host" for an address, "DNS:host" for a name. */
static int
san_value(const char *host, char *buf, size_t len)
{
	unsigned char	 addr[16];

	if (inet_pton(AF_INET, host, addr) == 1 ||
	    inet_pton(AF_INET6, host, addr) == 1)
		return snprintf(buf, len, "IP:%s", host) >= (int)len ? -1 : 0;
	return snprintf(buf, len, "DNS:%s", host) >= (int)len ? -1 : 0;
}

/* A node's certificate: CN node id, SAN its host, server and client. */
X509 *
ca_issue(EVP_PKEY *cakey, X509 *cacert, EVP_PKEY *pub, const char *node_id,
    const char *host)
{
	X509		*x;
	char		 san[300];

	if (san_value(host, san, sizeof(san)) == -1)
		return NULL;
	if ((x = cert_new(pub, node_id, NODE_DAYS)) == NULL)
		return NULL;
	if (X509_set_issuer_name(x, X509_get_subject_name(cacert)) != 1 ||
	    add_ext(cacert, x, NID_basic_constraints, "critical,CA:FALSE") ==
	    -1 || add_ext(cacert, x, NID_key_usage,
	    "critical,digitalSignature,keyAgreement") == -1 ||
	    add_ext(cacert, x, NID_ext_key_usage, "serverAuth,clientAuth") ==
	    -1 || add_ext(cacert, x, NID_subject_alt_name, san) == -1 ||
	    add_ext(cacert, x, NID_authority_key_identifier, "keyid") == -1 ||
	    X509_sign(x, cakey, EVP_sha256()) == 0) {
		X509_free(x);
		return NULL;
	}
	return x;
}

/*
 * The API's interface certificate: self-signed, CN and SAN the listen
 * address, for TLS servers only.  Node-local; an admin may replace it.
 */
X509 *
cert_self_signed(EVP_PKEY *key, const char *host)
{
	X509		*x;
	char		 san[300];

	if (san_value(host, san, sizeof(san)) == -1)
		return NULL;
	if ((x = cert_new(key, host, NODE_DAYS)) == NULL)
		return NULL;
	if (X509_set_issuer_name(x, X509_get_subject_name(x)) != 1 ||
	    add_ext(x, x, NID_basic_constraints, "critical,CA:FALSE") == -1 ||
	    add_ext(x, x, NID_ext_key_usage, "serverAuth") == -1 ||
	    add_ext(x, x, NID_subject_alt_name, san) == -1 ||
	    X509_sign(x, key, EVP_sha256()) == 0) {
		X509_free(x);
		return NULL;
	}
	return x;
}

static int
bio_out(BIO *b, char *buf, size_t len)
{
	char	*p;
	long	 n = BIO_get_mem_data(b, &p);
	int	 r = -1;

	if (n > 0 && (size_t)n < len) {
		memcpy(buf, p, n);
		buf[n] = '\0';
		r = 0;
	}
	BIO_free(b);	/* a memory BIO is cleared when freed */
	return r;
}

int
pem_key(EVP_PKEY *key, char *buf, size_t len)
{
	BIO	*b = BIO_new(BIO_s_secmem());

	if (b == NULL || PEM_write_bio_PrivateKey(b, key, NULL, NULL, 0, NULL,
	    NULL) != 1) {
		BIO_free(b);
		return -1;
	}
	return bio_out(b, buf, len);
}

int
pem_cert(X509 *x, char *buf, size_t len)
{
	BIO	*b = BIO_new(BIO_s_mem());

	if (b == NULL || PEM_write_bio_X509(b, x) != 1) {
		BIO_free(b);
		return -1;
	}
	return bio_out(b, buf, len);
}

EVP_PKEY *
pem_read_key(const char *pem)
{
	BIO		*b = BIO_new_mem_buf(pem, -1);
	EVP_PKEY	*k = NULL;

	if (b != NULL)
		k = PEM_read_bio_PrivateKey(b, NULL, NULL, NULL);
	BIO_free(b);
	return k;
}

X509 *
pem_read_cert(const char *pem)
{
	BIO	*b = BIO_new_mem_buf(pem, -1);
	X509	*x = NULL;

	if (b != NULL)
		x = PEM_read_bio_X509(b, NULL, NULL, NULL);
	BIO_free(b);
	return x;
}

/*
 * XChaCha20-Poly1305 under key, with ad (the object's id) bound in;
 * out is hex of nonce|ciphertext|tag.
 */
int
seal_hex(const uint8_t *key, const char *ad, const void *pt, size_t ptlen,
    char *hex, size_t hexlen)
{
	uint8_t		 buf[KMD_SEAL_BUF];
	size_t		 n = crypto_aead_xchacha20poly1305_ietf_NPUBBYTES;
	unsigned long long clen;

	if (n + ptlen + crypto_aead_xchacha20poly1305_ietf_ABYTES >
	    sizeof(buf) || hexlen < 2 * (n + ptlen +
	    crypto_aead_xchacha20poly1305_ietf_ABYTES) + 1)
		return -1;
	randombytes_buf(buf, n);
	crypto_aead_xchacha20poly1305_ietf_encrypt(buf + n, &clen, pt, ptlen,
	    (const uint8_t *)ad, strlen(ad), NULL, buf, key);
	sodium_bin2hex(hex, hexlen, buf, n + clen);
	sodium_memzero(buf, sizeof(buf));
	return 0;
}

int
unseal_hex(const uint8_t *key, const char *ad, const char *hex, uint8_t *pt,
    size_t ptmax, size_t *ptlen)
{
	uint8_t		 buf[KMD_SEAL_BUF];
	size_t		 len, n = crypto_aead_xchacha20poly1305_ietf_NPUBBYTES;
	unsigned long long plen;
	int		 r = -1;

	if (sodium_hex2bin(buf, sizeof(buf), hex, strlen(hex), NULL, &len,
	    NULL) != 0 || len < n + crypto_aead_xchacha20poly1305_ietf_ABYTES ||
	    len - n - crypto_aead_xchacha20poly1305_ietf_ABYTES > ptmax)
		return -1;
	if (crypto_aead_xchacha20poly1305_ietf_decrypt(pt, &plen, NULL,
	    buf + n, len - n, (const uint8_t *)ad, strlen(ad), buf, key) == 0) {
		*ptlen = plen;
		r = 0;
	}
	sodium_memzero(buf, sizeof(buf));
	return r;
}

/*
 * Join requests.  A CSR from `cluster csr` names the joining node (CN, a
 * UUID it chose) and carries, in a private extension, the X25519 public
 * key the member seals the cluster KEK to (mkek_blob): so the blob can be
 * opened only by the node that holds the CSR's private keys.
 */
#define KMD_OID_BOXPK	"1.3.6.1.4.1.57264.42.1"

static int
nid_boxpk(void)
{
	int	 nid;

	if ((nid = OBJ_txt2nid(KMD_OID_BOXPK)) == NID_undef)
		nid = OBJ_create(KMD_OID_BOXPK, "kmdJoinSealKey",
		    "kmd join sealing key");
	return nid;
}

X509_REQ *
csr_make(EVP_PKEY *key, const char *node_id, const char *host,
    const uint8_t boxpk[CSR_BOXPK_LEN])
{
	X509_REQ		*r;
	X509_NAME		*name;
	X509_EXTENSION		*e = NULL;
	ASN1_OCTET_STRING	*os = NULL;
	STACK_OF(X509_EXTENSION) *exts = sk_X509_EXTENSION_new_null();
	char			 san[300];
	int			 ok = 0;

	if ((r = X509_REQ_new()) == NULL || exts == NULL ||
	    san_value(host, san, sizeof(san)) == -1 ||
	    X509_REQ_set_version(r, 0) != 1 ||
	    X509_REQ_set_pubkey(r, key) != 1 ||
	    (name = X509_REQ_get_subject_name(r)) == NULL ||
	    X509_NAME_add_entry_by_txt(name, "O", MBSTRING_ASC,
	    (const unsigned char *)"kmd", -1, -1, 0) != 1 ||
	    X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC,
	    (const unsigned char *)node_id, -1, -1, 0) != 1)
		goto done;
	if ((e = X509V3_EXT_conf_nid(NULL, NULL, NID_subject_alt_name,
	    san)) == NULL || sk_X509_EXTENSION_push(exts, e) == 0)
		goto done;
	e = NULL;
	if ((os = ASN1_OCTET_STRING_new()) == NULL ||
	    ASN1_OCTET_STRING_set(os, boxpk, CSR_BOXPK_LEN) != 1 ||
	    (e = X509_EXTENSION_create_by_NID(NULL, nid_boxpk(), 0, os)) ==
	    NULL || sk_X509_EXTENSION_push(exts, e) == 0)
		goto done;
	e = NULL;
	if (X509_REQ_add_extensions(r, exts) != 1 ||
	    X509_REQ_sign(r, key, EVP_sha256()) == 0)
		goto done;
	ok = 1;
done:
	X509_EXTENSION_free(e);
	ASN1_OCTET_STRING_free(os);
	sk_X509_EXTENSION_pop_free(exts, X509_EXTENSION_free);
	if (!ok) {
		X509_REQ_free(r);
		r = NULL;
	}
	return r;
}

int
pem_csr(X509_REQ *r, char *buf, size_t len)
{
	BIO	*b = BIO_new(BIO_s_mem());

	if (b == NULL || PEM_write_bio_X509_REQ(b, r) != 1) {
		BIO_free(b);
		return -1;
	}
	return bio_out(b, buf, len);	/* frees b */
}

static int
is_uuid(const char *s)
{
	static const char	 form[] = "xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx";
	size_t			 i;

	for (i = 0; form[i] != '\0'; i++)
		if (form[i] == '-' ? s[i] != '-' :
		    strchr("0123456789abcdef", s[i]) == NULL || s[i] == '\0')
			return 0;
	return s[i] == '\0';
}

/*
 * Read and check a join CSR: PEM, its own signature, a P-256 key, CN a
 * lower-case UUID, the sealing key present.  On error, err says which.
 */
X509_REQ *
csr_parse(const char *pem, char *node_id, size_t idlen,
    uint8_t boxpk[CSR_BOXPK_LEN], char *err, size_t errlen)
{
	X509_REQ		*r = NULL;
	BIO			*b;
	EVP_PKEY		*pub;
	X509_NAME		*name;
	X509_EXTENSION		*e;
	ASN1_OCTET_STRING	*os;
	STACK_OF(X509_EXTENSION) *exts = NULL;
	char			 cn[128], curve[32];
	int			 i, idx;

	if ((b = BIO_new_mem_buf(pem, -1)) != NULL)
		r = PEM_read_bio_X509_REQ(b, NULL, NULL, NULL);
	BIO_free(b);
	if (r == NULL) {
		snprintf(err, errlen, "not a PEM certificate request");
		goto bad;
	}
	if ((pub = X509_REQ_get0_pubkey(r)) == NULL ||
	    X509_REQ_verify(r, pub) != 1) {
		snprintf(err, errlen, "the certificate request's signature"
		    " does not verify");
		goto bad;
	}
	if (EVP_PKEY_get_group_name(pub, curve, sizeof(curve), NULL) != 1 ||
	    strcmp(curve, "prime256v1") != 0) {
		snprintf(err, errlen, "the certificate request's key is not"
		    " an EC P-256 key (make it with kmctl cluster csr)");
		goto bad;
	}
	name = X509_REQ_get_subject_name(r);
	if (X509_NAME_get_text_by_NID(name, NID_commonName, cn, sizeof(cn)) <=
	    0 || !is_uuid(cn) || strlen(cn) >= idlen) {
		snprintf(err, errlen, "the certificate request's CN is not a"
		    " node id (make it with kmctl cluster csr)");
		goto bad;
	}
	exts = X509_REQ_get_extensions(r);
	idx = -1;
	for (i = 0; exts != NULL && i < sk_X509_EXTENSION_num(exts); i++) {
		e = sk_X509_EXTENSION_value(exts, i);
		if (OBJ_obj2nid(X509_EXTENSION_get_object(e)) == nid_boxpk())
			idx = i;
	}
	if (idx == -1 || (os = X509_EXTENSION_get_data(
	    sk_X509_EXTENSION_value(exts, idx))) == NULL ||
	    ASN1_STRING_length(os) != CSR_BOXPK_LEN) {
		snprintf(err, errlen, "the certificate request carries no join"
		    " sealing key (make it with kmctl cluster csr)");
		goto bad;
	}
	memcpy(boxpk, ASN1_STRING_get0_data(os), CSR_BOXPK_LEN);
	snprintf(node_id, idlen, "%s", cn);
	sk_X509_EXTENSION_pop_free(exts, X509_EXTENSION_free);
	return r;
bad:
	sk_X509_EXTENSION_pop_free(exts, X509_EXTENSION_free);
	X509_REQ_free(r);
	return NULL;
}

/*
 * Days from now until a PEM certificate's notAfter (negative once it has
 * passed), and that date as YYYY-MM-DD.  -1 when the PEM is no certificate.
 */
int
cert_days_left(const char *pem, int *days, char *date, size_t datelen)
{
	BIO		*b = BIO_new_mem_buf(pem, -1);
	X509		*x = b ? PEM_read_bio_X509(b, NULL, NULL, NULL) : NULL;
	struct tm	 tm;
	int		 d, s, r = -1;

	if (x != NULL && ASN1_TIME_diff(&d, &s, NULL,
	    X509_get0_notAfter(x)) == 1 &&
	    ASN1_TIME_to_tm(X509_get0_notAfter(x), &tm) == 1) {
		*days = d;
		strftime(date, datelen, "%Y-%m-%d", &tm);
		r = 0;
	}
	ERR_clear_error();
	X509_free(x);
	BIO_free(b);
	return r;
}
