/*
 * pq: libpq on the libevent loop, never blocking.  One connection, one
 * query in flight, the rest queued; the connection is made again (1 s
 * doubling to 4 s) whenever it fails or drops.  A query's callback gets
 * its PGresult (freed after the callback returns), or NULL when the
 * connection failed before an answer.
 *
 * COPY: pq_copy's row callback gets each row of a COPY ... TO STDOUT
 * as it comes; for COPY ... FROM STDIN its feed is called whenever
 * libpq has sent what it was given, and answers with pq_copy_put()
 * (some data) or pq_copy_end() (all of it, or a reason to abort).
 * Either way the query's callback gets the final result ("COPY n", or
 * the error).
 *
 * pq_prepared: as pq_query, for one statement sent again and again; it is
 * prepared once a connection (parsed and planned once) and then executed
 * by name.
 */
#ifndef KMD_PQ_H
#define KMD_PQ_H

#include <libpq-fe.h>

struct event_base;
struct pq;

typedef void	(*pq_cb)(struct pq *, PGresult *, void *);
typedef void	(*pq_notify_cb)(struct pq *, const char *, const char *,
		    void *);
typedef void	(*pq_row_cb)(struct pq *, const char *, size_t, void *);
typedef void	(*pq_feed_cb)(struct pq *, void *);

struct pq	*pq_new(struct event_base *, const char *,
		    void (*)(struct pq *, void *), void *);
void		 pq_free(struct pq *);
void		 pq_free_later(struct event_base *, struct pq *);
int		 pq_query(struct pq *, const char *, int, const char *const *,
		    pq_cb, void *);
int		 pq_prepared(struct pq *, const char *, int,
		    const char *const *, pq_cb, void *);
int		 pq_copy(struct pq *, const char *, pq_row_cb, pq_feed_cb,
		    pq_cb, void *);
int		 pq_copy_put(struct pq *, const void *, size_t);
void		 pq_copy_end(struct pq *, const char *);
int		 pq_connected(const struct pq *);
void		 pq_on_notify(struct pq *, pq_notify_cb, void *);
void		 pq_cancel(struct pq *);
const char	*pq_error(const struct pq *);
const char	*pq_why(const struct pq *, const PGresult *);
int		 pq_ok(const PGresult *);
const char	*pq_get(const PGresult *, int, const char *);
int		 pq_null(const PGresult *, int, const char *);

#endif
