/*
 * X.509 with OpenSSL: the cluster CA and node certificates (made only by
 * the hsm worker), the node-local self-signed API certificate (made by the
 * parent); sealing with libsodium.
 */
#ifndef KMD_CERT_H
#define KMD_CERT_H

#include <stddef.h>
#include <stdint.h>

#include <openssl/evp.h>
#include <openssl/x509.h>

#define SEAL_KEYLEN	32
#define KMD_SEAL_BUF	1024		/* nonce + a PEM key + tag */

EVP_PKEY	*ca_keygen(void);
X509		*ca_make_root(EVP_PKEY *, const char *);
X509		*ca_issue(EVP_PKEY *, X509 *, EVP_PKEY *, const char *,
		    const char *);
int		 pem_key(EVP_PKEY *, char *, size_t);
int		 pem_cert(X509 *, char *, size_t);
EVP_PKEY	*pem_read_key(const char *);
X509		*pem_read_cert(const char *);
X509		*cert_self_signed(EVP_PKEY *, const char *);

#define CSR_BOXPK_LEN	32		/* crypto_box_PUBLICKEYBYTES */
X509_REQ	*csr_make(EVP_PKEY *, const char *, const char *,
		    const uint8_t [CSR_BOXPK_LEN]);
int		 pem_csr(X509_REQ *, char *, size_t);
int		 cert_days_left(const char *, int *, char *, size_t);
X509_REQ	*csr_parse(const char *, char *, size_t,
		    uint8_t [CSR_BOXPK_LEN], char *, size_t);

int	seal_hex(const uint8_t *, const char *, const void *, size_t, char *,
	    size_t);
int	unseal_hex(const uint8_t *, const char *, const char *, uint8_t *,
	    size_t, size_t *);

#endif
