/*
 * The served keys' lookups, answered from memory: encrypt and decrypt
 * need a version's sealed material and this node's wrapped KEK, which
 * change only when a key is made, rotated or deleted, or this node's
 * KEK or membership changes.
 *
 * Each such change notifies channel kmd_keys at its commit (the
 * triggers of schema steps 16 and 17), on every node: those made here and
 * those pglogical applies from another node alike (but for a key's
 * first version, and a version of a name no row here has, which no entry
 * can hold), so a delete or a rotate
 * reaches every node's cache as soon as its row does; after a delete or
 * a rotate ('-' before the name) or '*', the hsm worker forgets the
 * material it keeps open too (IMSG_HSM_KEY_FORGET).  The keys
 * connection LISTENs; a notification drops the entries of the key it
 * names ('*': all of them).  So that an answer read before a change and
 * arriving after its notification is not kept, an answer is kept only
 * if no notification came since its query was sent (kc_gen).  Nothing
 * is kept while LISTEN is not in force: after the connection is made
 * again (what was notified meanwhile is lost) the cache starts empty.
 *
 * KC_SLOTS entries, direct-mapped by a hash of what was asked: a
 * collision replaces the older one.  An entry lives KC_TTL_MS: a key's
 * first version notifies nothing (no entry can hold it), so of two first
 * versions of one name made on two nodes at once, the one a node kept
 * gives way to the one every node reads (the smallest id) when its
 * entry ends.  The entries hold nothing secret:
 * the material is sealed under the KEK, the KEK wrapped under the root
 * of trust, as in the database.
 */
#include <stdlib.h>
#include <string.h>

#include "joiner.h"
#include "log.h"
#include "util.h"

#define KC_SLOTS	1024
#define KC_TTL_MS	10000	/* an entry's life: see below */

struct kc_slot {
	char			 ask[KMD_KEYNAME_MAX + 16];	/* "" empty */
	int64_t			 at;	/* kept at, mono ms */
	struct key_lookup	 kl;
};

struct keycache {
	struct kc_slot		 slot[KC_SLOTS];
	char			 node_id[KMD_NODEID_MAX];	/* kmd_local: */
	char			 kek[KMD_WRAPPED_MAX];	/* "": not kept */
	uint64_t		 gen;		/* notifications seen */
	int			 listening;
};

static struct keycache	*kc;
static struct joiner	*kc_joiner;

static void
forgot(struct kchan *ch, struct kmsg *m, void *arg)
{
	(void)ch;
	(void)m;
	(void)arg;
}

static void
forget_failed(struct kchan *ch, enum kchan_end end, const char *why,
    void *arg)
{
	(void)ch;
	(void)end;
	(void)arg;
	log_warnx("keys: the hsm worker did not forget a key's material: %s",
	    why);
}

static const struct kchan_exchange forget_ex = {
	IMSG_HSM_KEY_FORGOTTEN, 10, forgot, forget_failed
};

static void
ask_of(char *buf, size_t len, const char *name, int version)
{
	snprintf(buf, len, "%s/%d", name, version);
}

static struct kc_slot *
slot_of(const char *ask)
{
	uint32_t	 h = 2166136261u;		/* FNV-1a */

	for (; *ask != '\0'; ask++)
		h = (h ^ (uint8_t)*ask) * 16777619u;
	return &kc->slot[h % KC_SLOTS];
}

/* The entries of key `name' ("*": every key) dropped. */
void
keycache_drop(const char *name)
{
	size_t	 i;

	if (kc == NULL)
		return;
	if (strcmp(name, "*") == 0)
		kc->kek[0] = '\0';
	for (i = 0; i < KC_SLOTS; i++)
		if (kc->slot[i].ask[0] != '\0' && (strcmp(name, "*") == 0 ||
		    strcmp(kc->slot[i].kl.info.name, name) == 0))
			memset(&kc->slot[i], 0, sizeof(kc->slot[i]));
}

static void
notified(struct pq *db, const char *chan, const char *payload, void *arg)
{
	(void)db;
	(void)arg;
	if (strcmp(chan, "kmd_keys") != 0)
		return;
	kc->gen++;
	/* (no link: the hsm is starting, its cache empty) */
	if ((*payload == '-' || *payload == '*') && kc_joiner->hsm != NULL)
		kchan_call(kc_joiner->hsm, IMSG_HSM_KEY_FORGET, -1, NULL, 0,
		    &forget_ex, NULL);
	keycache_drop(*payload == '-' ? payload + 1 : payload);
}

static void
listened(struct pq *db, PGresult *res, void *arg)
{
	(void)arg;
	if (pq_ok(res))
		kc->listening = 1;
	else
		log_warnx("keys: LISTEN kmd_keys: %s; key lookups read the"
		    " database each time", res != NULL ? pq_why(db, res) :
		    pq_error(db));
}

/* The keys connection is made (again): an empty cache, and LISTEN. */
void
keycache_connected(struct pq *db, void *arg)
{
	kc_joiner = arg;
	if (kc == NULL && (kc = calloc(1, sizeof(*kc))) == NULL)
		fatal("%s", __func__);
	kc->listening = 0;
	kc->gen++;
	keycache_drop("*");
	pq_on_notify(db, notified, NULL);
	pq_query(db, "LISTEN kmd_keys", 0, NULL, listened, NULL);
}

/* The generation a lookup's query is sent under. */
uint64_t
keycache_gen(void)
{
	return kc != NULL ? kc->gen : 0;
}

/* What was asked (name or id, version or -1): 0 and *kl when known. */
int
keycache_get(const char *name, int version, struct key_lookup *kl)
{
	struct kc_slot	*s;
	char		 ask[sizeof(s->ask)];

	if (kc == NULL || !kc->listening)
		return -1;
	ask_of(ask, sizeof(ask), name, version);
	s = slot_of(ask);
	if (strcmp(s->ask, ask) != 0 || mono_ms() - s->at > KC_TTL_MS)
		return -1;
	memcpy(kl, &s->kl, sizeof(*kl));
	return 0;
}

/* An answer read under generation gen, kept if nothing changed since. */
void
keycache_put(const char *name, int version, uint64_t gen,
    const struct key_lookup *kl)
{
	struct kc_slot	*s;
	char		 ask[sizeof(s->ask)];

	if (kc == NULL || !kc->listening || gen != kc->gen)
		return;
	ask_of(ask, sizeof(ask), name, version);
	s = slot_of(ask);
	kmd_strlcpy(s->ask, ask, sizeof(s->ask));
	s->at = mono_ms();
	memcpy(&s->kl, kl, sizeof(*kl));
}

/* This node's id and wrapped KEK, when kept: 0. */
int
keycache_local(char *node_id, size_t nlen, char *kek, size_t klen)
{
	if (kc == NULL || !kc->listening || kc->kek[0] == '\0')
		return -1;
	kmd_strlcpy(node_id, kc->node_id, nlen);
	kmd_strlcpy(kek, kc->kek, klen);
	return 0;
}

void
keycache_local_put(uint64_t gen, const char *node_id, const char *kek)
{
	if (kc == NULL || !kc->listening || gen != kc->gen)
		return;
	kmd_strlcpy(kc->node_id, node_id, sizeof(kc->node_id));
	kmd_strlcpy(kc->kek, kek, sizeof(kc->kek));
}

void
keycache_free(void)
{
	free(kc);
	kc = NULL;
}
