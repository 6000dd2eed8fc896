/*
 * Join CSRs (common/cert.c): what cluster csr makes, nodes create reads
 * back; a tampered or foreign request is refused with a reason.
 */
#include <string.h>

#include <check.h>
#include <openssl/pem.h>
#include <openssl/x509v3.h>
#include <sodium.h>

#include "cert.h"

#define ID	"0f6c2c2e-8d43-4f57-9e0b-0a1b2c3d4e5f"

static char	pem[8192];

static void
make(const char *id, const char *host, uint8_t pk[CSR_BOXPK_LEN])
{
	EVP_PKEY	*key = ca_keygen();
	X509_REQ	*r;

	ck_assert_ptr_nonnull(key);
	ck_assert_ptr_nonnull(r = csr_make(key, id, host, pk));
	ck_assert_int_eq(pem_csr(r, pem, sizeof(pem)), 0);
	X509_REQ_free(r);
	EVP_PKEY_free(key);
}

START_TEST(t_roundtrip)
{
	uint8_t		 pk[CSR_BOXPK_LEN], got[CSR_BOXPK_LEN];
	char		 id[64], err[256];
	X509_REQ	*r;
	EVP_PKEY	*cakey = ca_keygen();
	X509		*ca, *x;
	X509_STORE	*st = X509_STORE_new();
	X509_STORE_CTX	*ctx = X509_STORE_CTX_new();

	randombytes_buf(pk, sizeof(pk));
	make(ID, "127.0.0.4", pk);
	ck_assert_ptr_nonnull(strstr(pem, "BEGIN CERTIFICATE REQUEST"));
	r = csr_parse(pem, id, sizeof(id), got, err, sizeof(err));
	ck_assert_msg(r != NULL, "%s", err);
	ck_assert_str_eq(id, ID);
	ck_assert_mem_eq(got, pk, sizeof(pk));
	/* The member signs it; the chain verifies. */
	ck_assert_ptr_nonnull(ca = ca_make_root(cakey, "c1"));
	ck_assert_ptr_nonnull(x = ca_issue(cakey, ca, X509_REQ_get0_pubkey(r),
	    id, "127.0.0.4"));
	X509_STORE_add_cert(st, ca);
	X509_STORE_CTX_init(ctx, st, x, NULL);
	ck_assert_int_eq(X509_verify_cert(ctx), 1);
	X509_STORE_CTX_free(ctx);
	X509_STORE_free(st);
	X509_free(x);
	X509_free(ca);
	EVP_PKEY_free(cakey);
	X509_REQ_free(r);
}
END_TEST

START_TEST(t_refused)
{
	uint8_t		 pk[CSR_BOXPK_LEN] = { 1 };
	char		 id[64], err[256], *p;

	ck_assert_ptr_null(csr_parse("hello", id, sizeof(id), pk, err,
	    sizeof(err)));
	ck_assert_str_eq(err, "not a PEM certificate request");

	make("node-1", "h", pk);
	ck_assert_ptr_null(csr_parse(pem, id, sizeof(id), pk, err,
	    sizeof(err)));
	ck_assert_ptr_nonnull(strstr(err, "CN is not a node id"));

	make(ID, "h", pk);
	/* Flip one base64 character in the middle: the signature breaks. */
	p = pem + strlen(pem) / 2;
	*p = *p == 'A' ? 'B' : 'A';
	ck_assert_ptr_null(csr_parse(pem, id, sizeof(id), pk, err,
	    sizeof(err)));
	ck_assert_msg(strstr(err, "signature") != NULL || strstr(err,
	    "not a PEM") != NULL || strstr(err, "sealing key") != NULL,
	    "%s", err);
}
END_TEST

/* A CSR made by plain OpenSSL (no sealing key) is not a join request. */
START_TEST(t_foreign)
{
	EVP_PKEY	*key = ca_keygen();
	X509_REQ	*r = X509_REQ_new();
	BIO		*b = BIO_new(BIO_s_mem());
	char		 id[64], err[256], *data;
	uint8_t		 pk[CSR_BOXPK_LEN];
	long		 n;

	X509_NAME_add_entry_by_txt(X509_REQ_get_subject_name(r), "CN",
	    MBSTRING_ASC, (const unsigned char *)ID, -1, -1, 0);
	X509_REQ_set_pubkey(r, key);
	ck_assert_int_ne(X509_REQ_sign(r, key, EVP_sha256()), 0);
	PEM_write_bio_X509_REQ(b, r);
	n = BIO_get_mem_data(b, &data);
	ck_assert_int_lt(n, (long)sizeof(pem));
	memcpy(pem, data, n);
	pem[n] = '\0';
	ck_assert_ptr_null(csr_parse(pem, id, sizeof(id), pk, err,
	    sizeof(err)));
	ck_assert_ptr_nonnull(strstr(err, "no join sealing key"));
	BIO_free(b);
	X509_REQ_free(r);
	EVP_PKEY_free(key);
}
END_TEST

Suite	*cert_suite(void);

Suite *
cert_suite(void)
{
	Suite	*s = suite_create("cert");
	TCase	*tc = tcase_create("csr");

	tcase_add_test(tc, t_roundtrip);
	tcase_add_test(tc, t_refused);
	tcase_add_test(tc, t_foreign);
	suite_add_tcase(s, tc);
	return s;
}
