/*
 * Which peers this node's PostgreSQL accepts.  A certificate of the
 * cluster CA is not enough: the node id in its CN must be allowed, that
 * is recorded in kmd_nodes and not removed, and if pending, not expired
 * (SQL_PEERS_ALLOWED).  The joiner sends the list to the parent, which
 * writes pg_ident.conf from it, reloads PostgreSQL and answers
 * (PEERS_ALLOWED).  The reconciler (remove.c) sends it whenever it
 * changes; a join sends it before the members subscribe to the new node
 * (join_complete.c), whose kmd_nodes the initial sync has just filled.
 */
#include <stdlib.h>
#include <string.h>

#include "joiner.h"
#include "log.h"
#include "util.h"

/*
 * Send ids (SQL_PEERS_ALLOWED's answer) to the parent: the call's id, 0
 * when it cannot go.  Its answer goes to ex's reply(), which hands it to
 * peers_allowed(); a failure to ex's fail(), which calls peers_forget().
 */
uint32_t
peers_allow(struct joiner *j, const char *ids, const struct kchan_exchange *ex,
    void *arg)
{
	struct peers_allow	*pa;
	char			*list, *id, *save = NULL;
	uint32_t		 call;

	if ((pa = calloc(1, sizeof(*pa))) == NULL ||
	    (list = strdup(ids)) == NULL)
		fatal("%s", __func__);
	for (id = strtok_r(list, " ", &save); id != NULL;
	    id = strtok_r(NULL, " ", &save)) {
		if (pa->n == KMD_ALLOW_MAX) {
			log_warnx("%s: more than %d nodes to accept; the"
			    " others are refused", __func__, KMD_ALLOW_MAX);
			break;
		}
		kmd_strlcpy(pa->ids[pa->n++], id, KMD_NODEID_MAX);
	}
	free(list);
	call = kchan_call(j->w->parent, IMSG_PEERS_ALLOW, -1, pa, sizeof(*pa),
	    ex, arg);
	free(pa);
	free(j->peers);
	j->peers = NULL;
	if (call != 0 && (j->peers = strdup(ids)) == NULL)
		fatal("%s", __func__);
	return call;
}

/* The parent's answer: 1 when PostgreSQL was told. */
int
peers_allowed(struct joiner *j, const struct kmsg *m)
{
	const struct peers_allowed *pa = (const void *)m->data;

	if (pa->ok) {
		log_info("PostgreSQL accepts the certificates of %d node(s): %s",
		    pa->n, j->peers != NULL && j->peers[0] != '\0' ?
		    j->peers : "none");
		return 1;
	}
	peers_forget(j);
	return 0;
}

/* The parent may not have the list last sent: send it again. */
void
peers_forget(struct joiner *j)
{
	free(j->peers);
	j->peers = NULL;
}

/* Whether ids is the list last sent (and not failed). */
int
peers_sent(const struct joiner *j, const char *ids)
{
	return j->peers != NULL && strcmp(j->peers, ids) == 0;
}

void
peers_free(struct joiner *j)
{
	peers_forget(j);
}
