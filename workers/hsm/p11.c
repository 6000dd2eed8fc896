/*
 * The root-of-trust key in a PKCS#11 token (SoftHSM2 here): an AES-256
 * key that never leaves the token (sensitive, not extractable), found by
 * its label or made on first use.  Sealing is AES-GCM inside the token
 * with a fresh 96-bit IV and the object's name as associated data; a
 * sealed blob is hex("p11:" | iv | ciphertext | tag), hex like the
 * software root of trust's, so the database stores either the same way.
 */
#include <dlfcn.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <p11-kit/pkcs11.h>

#include "log.h"
#include "p11.h"

#define IV_LEN		12
#define TAG_LEN		16
#define P11_BUF		4096

#define KEYS_MAX	32

struct p11 {
	void			*lib;
	CK_FUNCTION_LIST_PTR	 f;
	CK_SESSION_HANDLE	 s;
	char			 label[64];
	CK_OBJECT_HANDLE	 keys[KEYS_MAX];	/* by CKA_ID */
	int			 nkeys;
	int			 initialized;
	int			 session;
};

static const struct {
	CK_RV		 rv;
	const char	*name;
} rvs[] = {
	{ CKR_PIN_INCORRECT, "CKR_PIN_INCORRECT: wrong PIN" },
	{ CKR_PIN_LOCKED, "CKR_PIN_LOCKED: the PIN is locked" },
	{ CKR_TOKEN_NOT_PRESENT, "CKR_TOKEN_NOT_PRESENT: no token" },
	{ CKR_DEVICE_REMOVED, "CKR_DEVICE_REMOVED: the token is gone" },
	{ CKR_DEVICE_ERROR, "CKR_DEVICE_ERROR" },
	{ CKR_MECHANISM_INVALID, "CKR_MECHANISM_INVALID: no AES-GCM" },
	{ CKR_ENCRYPTED_DATA_INVALID, "CKR_ENCRYPTED_DATA_INVALID" },
	{ CKR_SESSION_HANDLE_INVALID, "CKR_SESSION_HANDLE_INVALID" },
	{ CKR_USER_NOT_LOGGED_IN, "CKR_USER_NOT_LOGGED_IN" },
	{ CKR_GENERAL_ERROR, "CKR_GENERAL_ERROR" },
};

static const char *
rv_name(CK_RV rv)
{
	static char	 buf[32];
	size_t		 i;

	for (i = 0; i < sizeof(rvs) / sizeof(rvs[0]); i++)
		if (rvs[i].rv == rv)
			return rvs[i].name;
	snprintf(buf, sizeof(buf), "CKR 0x%lx", (unsigned long)rv);
	return buf;
}

/* The slot whose token has this label (padded with blanks). */
static int
find_slot(struct p11 *p, const char *label, CK_SLOT_ID *slot, char *err,
    size_t errlen)
{
	CK_SLOT_ID	 slots[64];
	CK_ULONG	 n = 64, i;
	CK_TOKEN_INFO	 ti;
	char		 want[33];
	CK_RV		 rv;

	snprintf(want, sizeof(want), "%-32s", label);
	if ((rv = p->f->C_GetSlotList(CK_TRUE, slots, &n)) != CKR_OK) {
		snprintf(err, errlen, "C_GetSlotList: %s", rv_name(rv));
		return -1;
	}
	for (i = 0; i < n; i++)
		if (p->f->C_GetTokenInfo(slots[i], &ti) == CKR_OK &&
		    memcmp(ti.label, want, 32) == 0) {
			*slot = slots[i];
			return 0;
		}
	snprintf(err, errlen, "no token labelled '%s' (of %lu present)",
	    label, (unsigned long)n);
	return -1;
}

/*
 * The AES keys with our label, ordered by CKA_ID.  Two nodes that share a
 * token and start at once may each make the key; then both seal with the
 * first by CKA_ID, and unsealing tries each.
 */
static int
find_keys(struct p11 *p, const char *label, char *err, size_t errlen)
{
	CK_OBJECT_CLASS	 cls = CKO_SECRET_KEY;
	CK_ATTRIBUTE	 find[] = {
		{ CKA_CLASS, &cls, sizeof(cls) },
		{ CKA_LABEL, (void *)label, label ? strlen(label) : 0 },
	};
	CK_OBJECT_HANDLE found[KEYS_MAX], tmp;
	uint8_t		 ids[KEYS_MAX][32], t[32];
	CK_ULONG	 n = 0, i, j;
	CK_RV		 rv;

	if ((rv = p->f->C_FindObjectsInit(p->s, find, label ? 2 : 1)) !=
	    CKR_OK ||
	    (rv = p->f->C_FindObjects(p->s, found, KEYS_MAX, &n)) != CKR_OK ||
	    (rv = p->f->C_FindObjectsFinal(p->s)) != CKR_OK) {
		snprintf(err, errlen, "finding key '%s': %s", label ? label :
		    "*", rv_name(rv));
		return -1;
	}
	for (i = 0; i < n; i++) {
		CK_ATTRIBUTE id = { CKA_ID, ids[i], sizeof(ids[i]) };

		memset(ids[i], 0, sizeof(ids[i]));
		p->f->C_GetAttributeValue(p->s, found[i], &id, 1);
	}
	for (i = 1; i < n; i++)
		for (j = i; j > 0 && memcmp(ids[j - 1], ids[j], 32) > 0; j--) {
			memcpy(t, ids[j], 32);
			memcpy(ids[j], ids[j - 1], 32);
			memcpy(ids[j - 1], t, 32);
			tmp = found[j];
			found[j] = found[j - 1];
			found[j - 1] = tmp;
		}
	memcpy(p->keys, found, n * sizeof(found[0]));
	p->nkeys = (int)n;
	return 0;
}

/* Our key, made in the token (sensitive, not extractable) if missing. */
static int
make_key(struct p11 *p, const char *label, char *err, size_t errlen)
{
	CK_OBJECT_CLASS	 cls = CKO_SECRET_KEY;
	CK_KEY_TYPE	 kt = CKK_AES;
	CK_ULONG	 len = 32;
	CK_BBOOL	 yes = CK_TRUE, no = CK_FALSE;
	uint8_t		 id[16];
	CK_ATTRIBUTE	 make[] = {
		{ CKA_CLASS, &cls, sizeof(cls) },
		{ CKA_KEY_TYPE, &kt, sizeof(kt) },
		{ CKA_LABEL, (void *)label, strlen(label) },
		{ CKA_ID, id, sizeof(id) },
		{ CKA_VALUE_LEN, &len, sizeof(len) },
		{ CKA_TOKEN, &yes, sizeof(yes) },
		{ CKA_PRIVATE, &yes, sizeof(yes) },
		{ CKA_SENSITIVE, &yes, sizeof(yes) },
		{ CKA_EXTRACTABLE, &no, sizeof(no) },
		{ CKA_ENCRYPT, &yes, sizeof(yes) },
		{ CKA_DECRYPT, &yes, sizeof(yes) },
	};
	CK_MECHANISM	 gen = { CKM_AES_KEY_GEN, NULL, 0 };
	CK_OBJECT_HANDLE key;
	CK_RV		 rv;

	if (find_keys(p, label, err, errlen) == -1)
		return -1;
	if (p->nkeys > 0)
		return 0;
	randombytes_buf(id, sizeof(id));
	if ((rv = p->f->C_GenerateKey(p->s, &gen, make,
	    sizeof(make) / sizeof(make[0]), &key)) != CKR_OK) {
		snprintf(err, errlen, "making key '%s': %s", label,
		    rv_name(rv));
		return -1;
	}
	log_info("made the root-of-trust key '%s' in the token", label);
	return find_keys(p, label, err, errlen);
}

struct p11 *
p11_open(const char *module, const char *token, const char *pin,
    const char *keylabel, int create, char *err, size_t errlen)
{
	CK_RV			(*get)(CK_FUNCTION_LIST_PTR_PTR);
	struct p11		*p;
	CK_SLOT_ID		 slot;
	CK_RV			 rv;

	if ((p = calloc(1, sizeof(*p))) == NULL) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	snprintf(p->label, sizeof(p->label), "%s", keylabel);
	if ((p->lib = dlopen(module, RTLD_NOW | RTLD_LOCAL)) == NULL) {
		snprintf(err, errlen, "cannot load the PKCS#11 module %s: %s",
		    module, dlerror());
		goto fail;
	}
	*(void **)&get = dlsym(p->lib, "C_GetFunctionList");
	if (get == NULL || get(&p->f) != CKR_OK) {
		snprintf(err, errlen, "%s is no PKCS#11 module", module);
		goto fail;
	}
	if ((rv = p->f->C_Initialize(NULL)) != CKR_OK &&
	    rv != CKR_CRYPTOKI_ALREADY_INITIALIZED) {
		snprintf(err, errlen, "C_Initialize: %s", rv_name(rv));
		goto fail;
	}
	p->initialized = 1;
	if (find_slot(p, token, &slot, err, errlen) == -1)
		goto fail;
	if ((rv = p->f->C_OpenSession(slot, CKF_SERIAL_SESSION | CKF_RW_SESSION,
	    NULL, NULL, &p->s)) != CKR_OK) {
		snprintf(err, errlen, "C_OpenSession: %s", rv_name(rv));
		goto fail;
	}
	p->session = 1;
	if ((rv = p->f->C_Login(p->s, CKU_USER, (CK_UTF8CHAR_PTR)pin,
	    strlen(pin))) != CKR_OK && rv != CKR_USER_ALREADY_LOGGED_IN) {
		snprintf(err, errlen, "logging in to token '%s': %s", token,
		    rv_name(rv));
		goto fail;
	}
	if (create ? make_key(p, p->label, err, errlen) == -1 :
	    find_keys(p, p->label, err, errlen) == -1)
		goto fail;
	if (!create && p->nkeys == 0) {
		snprintf(err, errlen, "the token '%s' has no key '%s' any more",
		    token, p->label);
		goto fail;
	}
	return p;
fail:
	p11_close(p);
	return NULL;
}

void
p11_close(struct p11 *p)
{
	if (p == NULL)
		return;
	if (p->session)
		p->f->C_CloseSession(p->s);
	if (p->initialized)
		p->f->C_Finalize(NULL);
	if (p->lib != NULL)
		dlclose(p->lib);
	free(p);
}

static void
gcm(CK_GCM_PARAMS *g, CK_MECHANISM *m, uint8_t *iv, const char *ad)
{
	memset(g, 0, sizeof(*g));
	g->pIv = iv;
	g->ulIvLen = IV_LEN;
	g->ulIvBits = IV_LEN * 8;
	g->pAAD = (CK_BYTE_PTR)ad;
	g->ulAADLen = strlen(ad);
	g->ulTagBits = TAG_LEN * 8;
	m->mechanism = CKM_AES_GCM;
	m->pParameter = g;
	m->ulParameterLen = sizeof(*g);
}

int
p11_seal(struct p11 *p, const char *label, const char *ad, const void *pt,
    size_t ptlen, char *out, size_t outlen, char *err, size_t errlen)
{
	uint8_t		 buf[P11_BUF];
	CK_GCM_PARAMS	 g;
	CK_MECHANISM	 m;
	CK_ULONG	 clen;
	CK_RV		 rv;

	clen = sizeof(buf) - 4 - IV_LEN;
	if (4 + IV_LEN + ptlen + TAG_LEN > sizeof(buf) ||
	    outlen < 2 * (4 + IV_LEN + ptlen + TAG_LEN) + 1) {
		snprintf(err, errlen, "too much to seal");
		return -1;
	}
	memcpy(buf, "p11:", 4);
	randombytes_buf(buf + 4, IV_LEN);
	gcm(&g, &m, buf + 4, ad);
	if (make_key(p, label ? label : p->label, err, errlen) == -1)
		return -1;
	if ((rv = p->f->C_EncryptInit(p->s, &m, p->keys[0])) != CKR_OK ||
	    (rv = p->f->C_Encrypt(p->s, (CK_BYTE_PTR)pt, ptlen,
	    buf + 4 + IV_LEN, &clen)) != CKR_OK) {
		snprintf(err, errlen, "the HSM could not seal: %s",
		    rv_name(rv));
		return -1;
	}
	sodium_bin2hex(out, outlen, buf, 4 + IV_LEN + clen);
	sodium_memzero(buf, sizeof(buf));
	return 0;
}

/* Does the blob start as the HSM's do (hex of "p11:")? */
int
p11_sealed(const char *in)
{
	return strncmp(in, "7031313a", 8) == 0;
}

int
p11_unseal(struct p11 *p, const char *ad, const char *in, uint8_t *pt,
    size_t ptmax, size_t *ptlen, char *err, size_t errlen)
{
	uint8_t		 buf[P11_BUF], plain[P11_BUF];
	CK_GCM_PARAMS	 g;
	CK_MECHANISM	 m;
	CK_ULONG	 plen = sizeof(plain);
	size_t		 len;
	CK_RV		 rv;
	int		 i, r = -1;

	if (!p11_sealed(in) || sodium_hex2bin(buf, sizeof(buf), in,
	    strlen(in), NULL, &len, NULL) != 0 ||
	    len < 4 + IV_LEN + TAG_LEN) {
		snprintf(err, errlen, "not a blob sealed by the HSM");
		return -1;
	}
	gcm(&g, &m, buf + 4, ad);
	rv = CKR_KEY_HANDLE_INVALID;
	if (find_keys(p, NULL, err, errlen) == 0)
		for (i = 0; i < p->nkeys; i++) {
			plen = sizeof(plain);
			if ((rv = p->f->C_DecryptInit(p->s, &m, p->keys[i])) ==
			    CKR_OK && (rv = p->f->C_Decrypt(p->s, buf + 4 +
			    IV_LEN, len - 4 - IV_LEN, plain, &plen)) == CKR_OK)
				break;
		}
	if (rv != CKR_OK)
		snprintf(err, errlen, "the HSM could not open it: %s",
		    rv_name(rv));
	else if (plen > ptmax)
		snprintf(err, errlen, "the opened blob is too large");
	else {
		memcpy(pt, plain, plen);
		*ptlen = plen;
		r = 0;
	}
	sodium_memzero(plain, sizeof(plain));
	return r;
}

/* Destroy every secret key labelled `label`: how many, or -1. */
int
p11_destroy(struct p11 *p, const char *label, char *err, size_t errlen)
{
	CK_RV	 rv;
	int	 i, n;

	if (find_keys(p, label, err, errlen) == -1)
		return -1;
	n = p->nkeys;
	for (i = 0; i < n; i++)
		if ((rv = p->f->C_DestroyObject(p->s, p->keys[i])) != CKR_OK) {
			snprintf(err, errlen, "destroying key '%s': %s", label,
			    rv_name(rv));
			return -1;
		}
	p->nkeys = 0;
	return n;
}

/* The labels of the token's secret keys, each once; how many. */
int
p11_labels(struct p11 *p, char labels[][64], int max)
{
	char	 err[128], l[64];
	int	 i, k, n = 0;

	if (find_keys(p, NULL, err, sizeof(err)) == -1)
		return 0;
	for (i = 0; i < p->nkeys && n < max; i++) {
		CK_ATTRIBUTE a = { CKA_LABEL, l, sizeof(l) - 1 };

		memset(l, 0, sizeof(l));
		if (p->f->C_GetAttributeValue(p->s, p->keys[i], &a, 1) !=
		    CKR_OK || a.ulValueLen == 0 ||
		    a.ulValueLen >= sizeof(l))
			continue;
		l[a.ulValueLen] = '\0';
		for (k = 0; k < n && strcmp(labels[k], l) != 0; k++)
			;
		if (k == n)
			memcpy(labels[n++], l, sizeof(l));
	}
	return n;
}

const char *
p11_label(const struct p11 *p)
{
	return p->label;
}
