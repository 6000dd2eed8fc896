/*
 * The membership lease: one membership change at a time, cluster-wide
 * (the protocol and why it holds are at the top of lease.c).
 */
#ifndef KMD_LEASE_H
#define KMD_LEASE_H

#include <stdint.h>

#include <event2/event.h>

#include "joiner.h"

#define LEASE_TTL_S	15		/* a grant lasts, on the member */
#define LEASE_RENEW_MS	3000		/* the holder renews this often */
#define LEASE_MARGIN_MS	2000		/* the holder stops this much early */
#define LEASE_RETRIES	25	/* an operation refused for its epoch */
#define LEASE_RETRY_MS	200	/* asks again after this */
#define LEASE_CONTENDED	3	/* takes again after a tie, at most */
#define LEASE_BACKOFF_MS	500	/* ... after a random wait up to this */

/*
 * The voters, in the order every holder asks them: ready members; the
 * epoch of the changes this node's data holds (the replicated one: a
 * node told of a change by its lease's release, whose data has not
 * come yet, asks at the older epoch and is refused until it has).
 * The same function answers a joining node (PEER_VOTERS).
 */
#define SQL_VOTERS	"SELECT * FROM kmd_voters()"

/* Who must grant: a majority, every voter, or the tie rule (lease.c). */
enum lease_need {
	LEASE_MAJORITY,
	LEASE_ALL,
	LEASE_MAJORITY_OR_TIE
};

struct lease;
typedef void	(*lease_cb)(struct lease *, const char *, void *);

struct lease_voter {
	char	 id[KMD_NODEID_MAX];
	char	 dsn[PEER_DSN_MAX];
};

/* One membership change's lease, as its holder keeps it. */
struct lease {
	struct joiner		*j;
	struct pq		*db;	/* its own: a round may wait on peers */
	char			 token[KMD_NODEID_MAX];
	char			 holder[KMD_NODEID_MAX];
	char			 kind[KMD_HOST_MAX + 32];
	char			 subject[KMD_NODEID_MAX];
	char			 progress[128];
	long long		 epoch;
	enum lease_need		 need;
	struct lease_voter	 voters[KMD_NODES_MAX];
	int			 nvoters;
	int			 self;	/* the holder's index, or -1 */
	int			 held;
	int			 renewing;	/* a round under way */
	int			 dead;		/* ended, to be freed */
	int			 busy;	/* refused: another change holds it */
	int			 epoch_off;	/* refused: another epoch */
	int			 contended;	/* ties backed off from */
	int			 retake;	/* the timer takes again */
	char			 why[KMD_ERR_MAX];	/* the last round short */
	int64_t			 sent;		/* ms, that round's start */
	int64_t			 until;		/* ms, ours to use until */
	struct event		*timer;
	lease_cb		 taken, lost;
	void			(*given_back)(void *);
	void			*arg;
};

struct lease	*lease_new(struct joiner *, const char *, const char *,
		    const char *, enum lease_need, lease_cb, lease_cb, void *);
int		 lease_voters(struct lease *, PGresult *, char *, size_t);
void		 lease_take(struct lease *);
void		 lease_end(struct lease *, long long);
void		 lease_release(struct lease *, long long, void (*)(void *),
		    void *);
void		 op_lease_end(struct joiner *, void (*)(struct joiner *));
int		 lease_quorum(int, const int *, enum lease_need, int);
void		 op_lease(struct joiner *, const char *, const char *,
		    enum lease_need, void (*)(struct joiner *));

#endif
