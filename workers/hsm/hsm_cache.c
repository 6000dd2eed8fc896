/*
 * What the hsm keeps open between requests, in one guarded allocation
 * (sodium_malloc: locked in memory, guard pages around it, wiped when
 * freed): the cluster KEK; the material of the served keys' versions
 * last used, a bounded cache (KC_SETS sets of KC_WAYS, the least lately
 * used of a set replaced); and the buffers a request works in, so that
 * an encrypt or decrypt allocates no memory for secrets of its own.
 * One allocation, not one per entry: each sodium_malloc brings its guard
 * pages and counts against RLIMIT_MEMLOCK.
 *
 * An entry answers only for the very blob it was opened from (the
 * BLAKE2b digest of the node's wrapped KEK, of a version's sealed
 * material, with the id it is sealed to): a new wrapping of the KEK, or
 * other sealed material under a known id, is opened again.  All of it
 * is wiped when the root of trust changes (a key added, rotated to or
 * deleted, the token opened again), when a served key is deleted or
 * rotated (kcache_forget), and at exit.
 */
#include <sodium.h>
#include <string.h>

#include "hsm.h"
#include "log.h"
#include "util.h"

#define KC_SETS		256
#define KC_WAYS		4
#define KC_DIGEST	16

struct kc_ent {
	uint8_t		 digest[KC_DIGEST];	/* of key id and sealed */
	uint8_t		 mat[32];
	uint8_t		 len;			/* 0: empty */
	uint64_t	 used;
};

struct kcache {
	uint8_t			 kek[SEAL_KEYLEN];
	uint8_t			 kek_digest[KC_DIGEST];
	int			 have_kek;
	uint64_t		 tick;
	struct kc_ent		 ent[KC_SETS][KC_WAYS];
	struct kc_scratch	 scratch;
};

void
kcache_init(struct hsm *h)
{
	if ((h->kc = sodium_malloc(sizeof(*h->kc))) == NULL)
		fatal("%s", __func__);
	memset(h->kc, 0, sizeof(*h->kc));
}

void
kcache_free(struct hsm *h)
{
	if (h->kc != NULL)
		sodium_free(h->kc);	/* wipes it */
	h->kc = NULL;
}

/* Everything opened forgotten; why, for the log. */
void
kcache_wipe(struct hsm *h, const char *why)
{
	if (h->kc == NULL)
		return;
	if (h->kc->have_kek)
		log_debug("key cache wiped: %s", why);
	sodium_memzero(h->kc->kek, sizeof(h->kc->kek));
	sodium_memzero(h->kc->ent, sizeof(h->kc->ent));
	h->kc->have_kek = 0;
}

struct kc_scratch *
kcache_scratch(struct hsm *h)
{
	return &h->kc->scratch;
}

static void
digest2(uint8_t *out, const char *a, const char *b)
{
	crypto_generichash_state	 st;

	crypto_generichash_init(&st, NULL, 0, KC_DIGEST);
	crypto_generichash_update(&st, (const uint8_t *)a, strlen(a) + 1);
	crypto_generichash_update(&st, (const uint8_t *)b, strlen(b) + 1);
	crypto_generichash_final(&st, out, KC_DIGEST);
}

/* The KEK node_id keeps wrapped, opened once; NULL if it does not open. */
const uint8_t *
kcache_kek(struct hsm *h, const char *node_id, const char *wrapped)
{
	struct kcache	*kc = h->kc;
	uint8_t		 d[KC_DIGEST];

	digest2(d, node_id, wrapped);
	if (kc->have_kek && sodium_memcmp(d, kc->kek_digest, KC_DIGEST) == 0)
		return kc->kek;
	kcache_wipe(h, "another wrapping of the KEK");
	if (kek_open(h, node_id, wrapped, kc->kek) == -1) {
		sodium_memzero(kc->kek, sizeof(kc->kek));
		return NULL;
	}
	memcpy(kc->kek_digest, d, KC_DIGEST);
	kc->have_kek = 1;
	return kc->kek;
}

static struct kc_ent *
kc_set(struct kcache *kc, const uint8_t *d)
{
	return kc->ent[d[0] % KC_SETS];
}

/*
 * The material of version key_id (sealed under the KEK that node_id
 * keeps wrapped), from the cache or opened into it: *len bytes at *mat,
 * valid until the next call.  -1: it does not open.
 */
int
kcache_material(struct hsm *h, const char *node_id, const char *wrapped,
    const char *key_id, const char *sealed, const uint8_t **mat,
    size_t *len)
{
	struct kcache	*kc = h->kc;
	struct kc_ent	*set, *e;
	const uint8_t	*kek;
	uint8_t		 d[KC_DIGEST];
	char		 a[128];
	size_t		 n;
	int		 i;

	if ((kek = kcache_kek(h, node_id, wrapped)) == NULL)
		return -1;
	digest2(d, key_id, sealed);
	set = kc_set(kc, d);
	kc->tick++;
	for (i = 0, e = &set[0]; i < KC_WAYS; i++) {
		if (set[i].len != 0 &&
		    sodium_memcmp(set[i].digest, d, KC_DIGEST) == 0) {
			set[i].used = kc->tick;
			*mat = set[i].mat;
			*len = set[i].len;
			return 0;
		}
		if (set[i].used < e->used)
			e = &set[i];
	}
	hsm_ad(a, sizeof(a), "key", key_id);
	if (unseal_hex(kek, a, sealed, e->mat, sizeof(e->mat), &n) == -1 ||
	    (n != 16 && n != 24 && n != 32)) {
		sodium_memzero(e, sizeof(*e));
		return -1;
	}
	memcpy(e->digest, d, KC_DIGEST);
	e->len = (uint8_t)n;
	e->used = kc->tick;
	*mat = e->mat;
	*len = n;
	return 0;
}

/* A served key's versions gone or superseded: none of its material kept. */
void
kcache_forget(struct hsm *h)
{
	if (h->kc != NULL)
		sodium_memzero(h->kc->ent, sizeof(h->kc->ent));
}
