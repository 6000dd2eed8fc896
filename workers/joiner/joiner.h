#ifndef KMD_JOINER_H
#define KMD_JOINER_H

#include <sys/queue.h>

#include "nodestatus.h"
#include "pq.h"
#include "schema.h"
#include "worker.h"

/*
 * Every node publishes the replicated tables in two sets: "default" for
 * the mesh, JOIN_SET for a joining node's catch-up subscription, which
 * pglogical would refuse on the same set as the direct one.
 */
#define JOIN_SET	"kmd_join"
#define SQL_SETS \
	"SELECT pglogical.replication_set_add_table('default', t::regclass," \
	" false) FROM unnest(" REPLICATED ") t; SELECT" \
	" pglogical.create_replication_set('" JOIN_SET "'); SELECT" \
	" pglogical.replication_set_add_table('" JOIN_SET "', t::regclass," \
	" false) FROM unnest(" REPLICATED ") t"

/* The one cluster operation under way (they are serialized). */
struct join;
struct subs_drop;
struct reconciler;
struct kreq;
struct lease;
struct health;
struct joiner;

struct joiner;
typedef void	(*op_answer_fn)(struct joiner *, const struct kmsg *);

struct jop {
	uint32_t		 reqid;		/* the client's request */
	uint32_t		 call;		/* the hsm's answer awaited */
	op_answer_fn		 answer;	/* ... goes there (op_call) */
	const char		*what;		/* "cluster new", for messages */
	struct cluster_new	 cn;
	struct cluster_csr	 csr;
	struct nodes_create	 nc;
	char			 cluster_id[KMD_NODEID_MAX];
	char			 node_id[KMD_NODEID_MAX];
	struct hsm_created	 made;
	void			*reply;		/* malloc'd, freed with op */
	int			 failed;	/* an error was sent */
	int			 force;		/* nodes delete --force */
	int			 discard;	/* ... --discard-unsent */
	int			 drain;		/* ... its last writes awaited */
	int			 pending;	/* ... of a pending node */
	int			 count;		/* nodes left; polls */
	int			 idle;		/* polls with no drain moving */
	char			 me[KMD_NODEID_MAX];	/* this node's id */
	struct lease		*lease;		/* a membership change's */
	long long		 epoch;		/* the epoch it leaves */
	void			(*release)(struct jop *);	/* at op_end */
	void			(*leased)(struct joiner *);	/* go on */
	void			(*then)(struct joiner *);	/* op_peers' */
	char			 lease_kind[KMD_HOST_MAX + 32];
	char			 lease_subject[KMD_NODEID_MAX];
	int			 lease_need;	/* enum lease_need */
	int			 lease_tries;	/* refused for its epoch */
	int			 lease_wait;	/* a retry is due */
	int64_t			 started;	/* ms: upgrade finish began */
	int64_t			 paused;	/* ms: ... paused the writes */
	int			 target;	/* ... the schema it commits */
};

struct joiner {
	struct worker	*w;
	struct pq	*admin;		/* dbname=postgres, until db exists */
	struct pq	*db;
	struct pq	*jdb;		/* a join's steps */
	struct kchan	*hsm;		/* the link: HSM_LINK_CALLS; NULL: none */
	int		 ready;		/* schema is current */
	int		 migrating;	/* version being applied */
	int		 schema;	/* the database's (kmd_schema) */
	int		 committed;	/* the cluster's; -1: not clustered */
	int		 others;	/* other nodes at start (migrate.c) */
	int		 window_local;	/* C + 1's local part, in a window */
	struct event	*retry;		/* a failed migration, again */
	struct health	*health;	/* a check under way (health.c) */
	struct health	*health_q;	/* ... whose query is still out */
	int64_t		 probe_at;	/* ms: the hsm's last probe */
	int		 probe_ok;
	char		 probe_msg[KMD_ERR_MAX];
	struct jop	*op;
	struct join	*join;		/* a cluster join, may outlive op */
	struct subs_drop *subs_drop;	/* a killed join's cleanup */
	struct reconciler *rec;		/* removals, see remove.c */
	struct users_watch *uw;		/* users.c */
	unsigned char	 token_sk[64];	/* signs API tokens (users.c) */
	struct pq	*kdb;		/* served keys, see keys.c */
	struct kb_list	*kbatch;	/* its batch in flight (keys_batch.c) */
	char		*peers;		/* the allowed peers last sent */
	TAILQ_HEAD(, kreq) kreqs;
};

#define KMD_NODES_MAX	20

#define PEER_DSN_MAX	(KMD_HOST_MAX + 256)

/*
 * The nodes that count toward KMD_NODES_MAX, as an SQL condition on a
 * kmd_nodes row: not removed, and a pending one only until its
 * credentials expire.
 */
#define SQL_NODE_COUNTS \
	"state NOT IN ('" NS_C_REMOVING "', '" NS_C_REMOVED "') AND (state" \
	" <> '" NS_C_PENDING "' OR expires > now())"

/*
 * Above this many nodes, nodes create and a join's preflight pass on
 * the reference's advice; they refuse nothing for it.
 */
#define SIZE_ADVISED	6
#define SIZE_ADVICE	"the recommended cluster size is 4-6 nodes for" \
	" optimal performance and stability: every node is connected to every" \
	" other, so network issues cause synchronization problems, and each" \
	" node is upgraded on its own"

/*
 * The nodes whose certificates this node's PostgreSQL accepts (peers.c):
 * those recorded and not removed, a pending one until its credentials
 * expire, and this node (it reaches itself through dblink too); their
 * ids, by a space.
 */
#define SQL_PEERS_ALLOWED \
	"SELECT coalesce(string_agg(a.id, ' ' ORDER BY a.id), '') FROM" \
	" (SELECT node_id::text AS id FROM kmd_nodes WHERE state <> '" \
	NS_C_REMOVED "' AND (state <> '" NS_C_PENDING "' OR expires >" \
	" now()) UNION SELECT node_id::text FROM kmd_local) a"

/* What to do about a node that is in a cluster already. */
#define HOW_TO_LEAVE	"remove it first (cluster nodes delete on another" \
	" node, then cluster delete) or reset it (services reset)"

/* joiner.c */
int	joiner_hsm_error(struct kchan *, struct kmsg *, void *);
int	joiner_hsm_answer(struct kchan *, struct kmsg *, void *);

/* op.c */
void	op_error(struct joiner *, int, const char *, ...)
	    __attribute__((format(printf, 3, 4)));
#define op_fail(j, ...)	op_error((j), 1, __VA_ARGS__)
void	op_end(struct joiner *);
int	op_call(struct joiner *, uint16_t, const void *, size_t,
	    op_answer_fn);
void	op_hsm_failed(struct kchan *, enum kchan_end, const char *, void *);
const char *pq_msg(struct joiner *, PGresult *);
void	op_info_done(struct joiner *, const char *, const char *, int);
int	op_result(struct joiner *, PGresult *);
int	op_unclustered(struct joiner *, PGresult *, const char *);
void	local_dsn(struct joiner *, char *, size_t);
struct jop *op_start(struct joiner *, struct kchan *, uint32_t,
	    const char *);
int	op_busy(struct joiner *, struct kchan *, uint32_t, const char *);
int	own_host(struct joiner *, struct kchan *, uint32_t, const char *,
	    const char *, char *, size_t);
void	sub_restart(struct pq *, const char *, const char *, int);
/* unsent.c */
void	unsent_check(struct joiner *, const char *, void (*)(struct joiner *));
struct pq *joiner_conn(struct joiner *, const char *,
	    void (*)(struct pq *, void *), void *);
void	peer_dsn(const char *, char *, size_t);
void	random_uuid(char *, size_t);
int	valid_host(const char *);

/* join.c */
int	joiner_cluster_csr(struct kchan *, struct kmsg *, void *);
int	joiner_nodes_create(struct kchan *, struct kmsg *, void *);

/* join_run.c */
int	joiner_cluster_join(struct kchan *, struct kmsg *, void *);
void	join_abandon(struct joiner *);
void	join_interrupted(struct joiner *);

/* join_preflight.c */

/* join_kill.c */
void	subs_drop_free(struct joiner *);

/* new.c */
uint32_t joiner_tls_install(struct joiner *, const char *, const char *,
	    const char *, const char *, const char *,
	    const struct kchan_exchange *, void *);
int	joiner_cluster_new(struct kchan *, struct kmsg *, void *);
void	joiner_tls_reinstall(struct joiner *);
void	migrate_start(struct joiner *);

/* health.c */
int	joiner_health(struct kchan *, struct kmsg *, void *);
void	health_stop(struct joiner *);

/* backup.c, bkeys.c */
int	joiner_backups(struct kchan *, struct kmsg *, void *);

/* verify.c */
int	joiner_verify(struct kchan *, struct kmsg *, void *);
int	joiner_bkeys(struct kchan *, struct kmsg *, void *);

/* keys.c */
int	joiner_keys(struct kchan *, struct kmsg *, void *);
void	keys_free(struct joiner *);

/* keys_batch.c: new key versions written in batches of one commit */
struct kb_list;
typedef void	(*kbatch_cb)(void *, PGresult *, int, const char *);
int	kbatch_add(struct joiner *, const char *const [6], kbatch_cb, void *);
void	kbatch_free(struct joiner *);

/* keycache.c: what an encrypt or decrypt looks up, kept in memory */
#define ALTS_MAX	4		/* rows of one version, decrypt tries */
struct key_alt {
	char		 key_id[KMD_NODEID_MAX];
	char		 sealed[KMD_MATERIAL_MAX];
};
struct key_lookup {
	struct key_info	 info;
	char		 node_id[KMD_NODEID_MAX];
	char		 kek[KMD_WRAPPED_MAX];
	struct key_alt	 alts[ALTS_MAX];
	int		 nalts;
};
void	 keycache_connected(struct pq *, void *);
uint64_t keycache_gen(void);
int	 keycache_get(const char *, int, struct key_lookup *);
void	 keycache_put(const char *, int, uint64_t, const struct key_lookup *);
void	 keycache_drop(const char *);
int	 keycache_local(char *, size_t, char *, size_t);
void	 keycache_local_put(uint64_t, const char *, const char *);
void	 keycache_free(void);

/* peers.c; a call's exchange waits PEERS_TIMEOUT s */
#define PEERS_TIMEOUT	10
uint32_t peers_allow(struct joiner *, const char *,
	    const struct kchan_exchange *, void *);
int	peers_allowed(struct joiner *, const struct kmsg *);
int	peers_answered(struct joiner *, const struct kmsg *, const char *);
void	peers_unanswered(struct joiner *, const char *, const char *);
void	peers_forget(struct joiner *);
int	peers_sent(const struct joiner *, const char *);
void	peers_free(struct joiner *);
void	op_peers(struct joiner *, void (*)(struct joiner *));

/* remove.c */
int	joiner_nodes_delete(struct kchan *, struct kmsg *, void *);
int	joiner_cluster_delete(struct kchan *, struct kmsg *, void *);
void	reconcile_start(struct joiner *);
void	users_watch_start(struct joiner *);
void	users_watch_free(struct joiner *);
void	users_watch_soon(struct joiner *);
void	reconcile_soon(struct joiner *);
void	reconcile_free(struct joiner *);

/* rotkeys.c */
int	joiner_rotkeys(struct kchan *, struct kmsg *, void *);

/* version.c */
int	joiner_version_info(struct kchan *, struct kmsg *, void *);
int	joiner_upgrade_status(struct kchan *, struct kmsg *, void *);
int	joiner_upgrade_finish(struct kchan *, struct kmsg *, void *);
void	upgrade_status(struct joiner *, uint32_t, const char *);

/* users.c */
int	joiner_user_set(struct kchan *, struct kmsg *, void *);
int	joiner_auth_check(struct kchan *, struct kmsg *, void *);

/*
 * SQL built from one clause per member: up to 19 of them, each with a
 * DSN, so it grows as needed.
 */
struct sbuf {
	char	*s;
	size_t	 len, cap;
};
void	sbuf_add(struct sbuf *, const char *, ...)
	    __attribute__((format(printf, 2, 3)));

#endif
