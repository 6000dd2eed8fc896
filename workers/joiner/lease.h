/*
 * The membership lease: one membership change at a time, cluster-wide
 * (the protocol and why it holds are at the top of lease.c).
 */
#ifndef KMD_LEASE_H
#define KMD_LEASE_H

#include <stdint.h>

#include "joiner.h"

#define LEASE_TTL_S	15		/* a grant lasts, on the member */
#define LEASE_RENEW_MS	3000		/* the holder renews this often */
#define LEASE_MARGIN_MS	2000		/* the holder stops this much early */

/* The voters, in the order every holder asks them: ready members. */
#define SQL_VOTERS \
	"SELECT node_id::text AS id, host, kmd_epoch() AS epoch, (SELECT" \
	" node_id::text FROM kmd_local) AS me FROM kmd_nodes WHERE state =" \
	" '" NS_C_READY "' ORDER BY joined_at, node_id"

/* Who must grant: a majority, every voter, or the tie rule (lease.c). */
enum lease_need {
	LEASE_MAJORITY,
	LEASE_ALL,
	LEASE_MAJORITY_OR_TIE
};

struct lease;
typedef void	(*lease_cb)(struct lease *, const char *, void *);

struct lease	*lease_new(struct joiner *, const char *, const char *,
		    const char *, enum lease_need, lease_cb, lease_cb, void *);
int		 lease_voters(struct lease *, PGresult *, char *, size_t);
void		 lease_take(struct lease *);
void		 lease_progress(struct lease *, const char *);
const char	*lease_token(const struct lease *);
int		 lease_busy(const struct lease *);
long long	 lease_epoch(const struct lease *);
void		 lease_end(struct lease *, long long);
int		 lease_quorum(int, const int *, enum lease_need);
void		 op_lease(struct joiner *, const char *, const char *,
		    enum lease_need, void (*)(struct joiner *));

#endif
