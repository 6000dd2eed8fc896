#include <arpa/inet.h>

#include <sodium.h>
#include <stdio.h>
#include <string.h>

#include <openssl/bio.h>
#include <openssl/bn.h>
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

/* A node's certificate: CN node id, SAN its host, server and client. */
X509 *
ca_issue(EVP_PKEY *cakey, X509 *cacert, EVP_PKEY *pub, const char *node_id,
    const char *host)
{
	X509		*x;
	unsigned char	 addr[16];
	char		 san[300];

	if (inet_pton(AF_INET, host, addr) == 1 ||
	    inet_pton(AF_INET6, host, addr) == 1)
		snprintf(san, sizeof(san), "IP:%s", host);
	else
		snprintf(san, sizeof(san), "DNS:%s", host);
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
	unsigned char	 addr[16];
	char		 san[300];

	if (inet_pton(AF_INET, host, addr) == 1 ||
	    inet_pton(AF_INET6, host, addr) == 1)
		snprintf(san, sizeof(san), "IP:%s", host);
	else
		snprintf(san, sizeof(san), "DNS:%s", host);
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
