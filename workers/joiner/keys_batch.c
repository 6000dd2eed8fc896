/*
 * New key versions (keys create, keys rotate) written in batches that
 * share one commit.  While one batch is on its way, the versions that
 * come are queued; once it is answered they go, KB_MAX at most, as one
 * statement (kmd_key_add() over arrays: one transaction, one commit).
 * Each version's requester is answered from its row of the result, so
 * nothing is acknowledged before the commit that holds it.  A failed
 * statement fails each version of its batch, and none of them is kept.
 *
 * The values go in as array literals, each element in double quotes: a
 * UUID, a key name (letters, digits, '.', '_', '-'), a number or hex,
 * none of which holds a quote or a backslash; kbatch_add() refuses
 * anything else.
 */
#include <ctype.h>
#include <stdlib.h>
#include <string.h>

#include "joiner.h"
#include "log.h"
#include "schema.h"
#include "util.h"

#define KB_MAX		256	/* versions in one statement */
#define KB_FIELDS	6

#define SQL_BATCH \
	"SELECT t.i, " SQL_ISO("kmd_key_add(t.id, t.name, t.version, t.size," \
	" t.kcv, decode(t.mat, 'hex'))") " FROM unnest($1::uuid[]," \
	" $2::text[], $3::int[], $4::int[], $5::text[], $6::text[]) WITH" \
	" ORDINALITY AS t(id, name, version, size, kcv, mat, i) ORDER BY t.i"

struct kb_item {
	TAILQ_ENTRY(kb_item)	 entry;
	char			*v[KB_FIELDS];
	kbatch_cb		 done;
	void			*arg;
};
TAILQ_HEAD(kb_list, kb_item);

static struct kb_list	 queued = TAILQ_HEAD_INITIALIZER(queued);

static void	kb_flush(struct joiner *);

static void
kb_free(struct kb_item *it)
{
	int	 i;

	for (i = 0; i < KB_FIELDS; i++)
		free(it->v[i]);
	free(it);
}

/* Safe in an array literal's quoted element: no quote, no backslash. */
static int
plain(const char *s)
{
	if (*s == '\0')
		return 0;
	for (; *s != '\0'; s++)
		if (!isalnum((unsigned char)*s) && strchr(".-_", *s) == NULL)
			return 0;
	return 1;
}

static void
kb_done(struct pq *db, PGresult *res, void *arg)
{
	struct joiner	*j = arg;
	struct kb_list	*batch;
	struct kb_item	*it;
	int		 row = 0, ok = pq_ok(res);

	batch = j->kbatch;
	j->kbatch = NULL;
	if (!ok)
		log_warnx("keys: a batch of new versions failed: %s",
		    res != NULL ? pq_why(db, res) : pq_error(db));
	while ((it = TAILQ_FIRST(batch)) != NULL) {
		TAILQ_REMOVE(batch, it, entry);
		it->done(it->arg, ok ? res : NULL, ok && row < PQntuples(res) ?
		    row : -1, res != NULL ? pq_why(db, res) : pq_error(db));
		row++;
		kb_free(it);
	}
	free(batch);
	kb_flush(j);
}

/* The queued versions, KB_MAX at most, as one statement. */
static void
kb_flush(struct joiner *j)
{
	struct sbuf	 col[KB_FIELDS];
	struct kb_list	*batch;
	struct kb_item	*it;
	const char	*p[KB_FIELDS];
	int		 i, n = 0;

	if (j->kbatch != NULL || TAILQ_EMPTY(&queued))
		return;
	if ((batch = malloc(sizeof(*batch))) == NULL)
		fatal("%s", __func__);
	TAILQ_INIT(batch);
	memset(col, 0, sizeof(col));
	while (n < KB_MAX && (it = TAILQ_FIRST(&queued)) != NULL) {
		TAILQ_REMOVE(&queued, it, entry);
		TAILQ_INSERT_TAIL(batch, it, entry);
		for (i = 0; i < KB_FIELDS; i++)
			sbuf_add(&col[i], "%s\"%s\"", n ? "," : "{", it->v[i]);
		n++;
	}
	for (i = 0; i < KB_FIELDS; i++) {
		sbuf_add(&col[i], "}");
		p[i] = col[i].s;
	}
	j->kbatch = batch;
	pq_prepared(j->kdb, SQL_BATCH, KB_FIELDS, p, kb_done, j);
	for (i = 0; i < KB_FIELDS; i++)
		free(col[i].s);
}

/*
 * A version to write: id, name, version, size, kcv, sealed material (hex);
 * done gets the result and the version's row of it (-1: it failed, why).
 * -1: a value that cannot go in a batch (nothing was queued).
 */
int
kbatch_add(struct joiner *j, const char *const v[KB_FIELDS], kbatch_cb done,
    void *arg)
{
	struct kb_item	*it;
	int		 i;

	for (i = 0; i < KB_FIELDS; i++)
		if (!plain(v[i]))
			return -1;
	if ((it = calloc(1, sizeof(*it))) == NULL)
		fatal("%s", __func__);
	for (i = 0; i < KB_FIELDS; i++)
		if ((it->v[i] = strdup(v[i])) == NULL)
			fatal("%s", __func__);
	it->done = done;
	it->arg = arg;
	TAILQ_INSERT_TAIL(&queued, it, entry);
	kb_flush(j);
	return 0;
}

/* The joiner stops: the queued versions are answered by no one. */
void
kbatch_free(struct joiner *j)
{
	struct kb_item	*it;

	while ((it = TAILQ_FIRST(&queued)) != NULL) {
		TAILQ_REMOVE(&queued, it, entry);
		kb_free(it);
	}
	if (j->kbatch != NULL) {
		while ((it = TAILQ_FIRST(j->kbatch)) != NULL) {
			TAILQ_REMOVE(j->kbatch, it, entry);
			kb_free(it);
		}
		free(j->kbatch);
		j->kbatch = NULL;
	}
}
