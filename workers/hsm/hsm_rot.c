/*
 * The root of trust every job of the hsm worker seals under: the
 * software key slots from the parent's key file, or the token's key
 * (p11.c) when kmd.conf names an HSM; the cluster KEK as a node keeps it
 * wrapped under that root; the associated data that binds a sealed
 * object to its name; and the error reply every job sends.
 */
#include <sodium.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "hsm.h"
#include "log.h"
#include "p11.h"
#include "util.h"

/* Log why a request failed and send that as its error reply. */
int
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
int
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

/* Software key `id` ("software", "software-N"), or NULL; its slot in *i. */
const uint8_t *
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

/* The id of software key slot i: "software", "software-i". */
void
soft_name(int i, char *buf, size_t len)
{
	if (i == 0)
		snprintf(buf, len, "software");
	else
		snprintf(buf, len, "software-%d", i);
}

/*
 * Open the token again after it failed an operation (unplugged, its
 * service restarted, its files gone for a while), with the key it had:
 * none is made now, for a new key would open nothing sealed before.
 * Only once the token has worked with this configuration (a wrong PIN is
 * not tried again and again: a real token locks it), and at most every
 * HSM_REOPEN_MS.  0: open again.
 */
int
rot_reopen(struct hsm *h)
{
	char	 why[KMD_ERR_MAX - 64];

	if (!h->hsm || h->conf == NULL || !h->reopen_ok ||
	    (h->reopen_at != 0 && mono_ms() - h->reopen_at < HSM_REOPEN_MS))
		return -1;
	h->reopen_at = mono_ms();
	p11_close(h->p11);
	if ((h->p11 = p11_open(h->conf->module, h->conf->token, h->conf->pin,
	    h->conf->key, 0, why, sizeof(why))) == NULL) {
		snprintf(h->err, sizeof(h->err), "the HSM is unavailable: %s",
		    why);
		log_warnx("%s; trying again in %d s", h->err,
		    HSM_REOPEN_MS / 1000);
		return -1;
	}
	log_info("root of trust: HSM token '%s' opened again",
	    h->conf->token);
	return 0;
}

/* Why the root of trust cannot be used now, or NULL. */
const char *
rot_missing(struct hsm *h)
{
	if (h->hsm)
		return h->p11 != NULL ? NULL : h->err;
	return h->rot != NULL ? NULL : "no root-of-trust key";
}

/* Seal under the root of trust: the HSM's key when one is configured. */
int
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
int
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

/* The associated data of a sealed object: what it is and whose. */
void
hsm_ad(char *buf, size_t len, const char *what, const char *id)
{
	snprintf(buf, len, "kmd:%s:%s", what, id);
}

/*
 * A backup's KEK that a restore on a node in no cluster left wrapped for
 * the node's cluster new (kmd_restored_kek), into kek (SEAL_KEYLEN).
 */
int
restored_kek_open(struct hsm *h, const char *wrapped, uint8_t *kek)
{
	return kek_open(h, RESTORED_KEK, wrapped, kek);
}

/* The cluster KEK, as node_id keeps it wrapped, into kek (SEAL_KEYLEN). */
int
kek_open(struct hsm *h, const char *node_id, const char *wrapped,
    uint8_t *kek)
{
	char	 a[128];
	size_t	 n;

	hsm_ad(a, sizeof(a), "kek", node_id);
	return rot_unseal(h, a, wrapped, kek, SEAL_KEYLEN, &n) == -1 ||
	    n != SEAL_KEYLEN ? -1 : 0;
}
