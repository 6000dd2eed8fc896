/*
 * A cluster join on the joining node: the state of one join, its stages
 * and the one table that says, for each stage, what it shows, what runs
 * it and where a failure or a timeout leads (join_stage.c).  The driver
 * (join_run.c) moves from row to row; the stage files (join_preflight.c,
 * join_create.c, join_sync.c, join_catchup.c, join_complete.c,
 * join_kill.c) only report how their stage ended, through join_done(),
 * join_fail() and join_timeout() (join_util.c).
 */
#ifndef KMD_JOIN_H
#define KMD_JOIN_H

#include "joiner.h"

#define POLL_MS		100
/*
 * A member that refuses this node's certificate is asked again for this
 * many polls: nodes create recorded the node on one member, and every
 * other one accepts it once the row has replicated and its reconciler
 * has run (every 2 s).
 */
#define PREFLIGHT_POLLS	30
/*
 * Polls the lease is asked for again while a member is out of reach or
 * refuses this node's certificate (its list of peers lags the pending
 * row by a few seconds), or sees another epoch: 5 s.  A member that
 * holds another change's lease refuses at once.
 */
#define LEASE_POLLS	50
#define DOWN_MAX	15		/* seconds a subscription may be down */
#define WIPE_POLLS	300		/* polls, old workers stopping: 30 s */

/*
 * The initial copy goes faster into kmd_keys without its indexes, as a
 * restore does: the second index is dropped in the wipe; the primary key
 * too, just before the catch-up subscription, when the member holds at
 * least KEYS_BARE_MIN bytes (a large copy spends much of its time in the
 * key's index, inserted in random order).  Both are built again in one
 * transaction that takes kmd_keys' lock (see sync_polled), and after a
 * kill or an interrupted join, so a node never stays without them.
 * The copy fires no notification per row either: SQL_KEYS_NOTIFY_OFF
 * goes with the drop, and the indexes' build turns it on again.
 * SQL_KEYS_INDEXES_ADD may run twice at once (a kill while the build
 * waits): the lock makes the second find them there.
 */
#define KEYS_BARE_MIN	(128LL * 1024 * 1024)
#define SQL_KEYS_INDEX_DROP \
	"DROP INDEX IF EXISTS kmd_keys_name_version"
/* ... and the keys' notifications (schema step 16), a row at a time */
#define SQL_KEYS_NOTIFY_OFF \
	"ALTER TABLE kmd_keys DISABLE TRIGGER kmd_keys_notify, DISABLE" \
	" TRIGGER kmd_keys_notify_new"
#define SQL_KEYS_PKEY_DROP \
	"ALTER TABLE kmd_keys DROP CONSTRAINT IF EXISTS kmd_keys_pkey"
#define SQL_KEYS_INDEXES_ADD \
	"DO $$BEGIN LOCK TABLE kmd_keys IN ACCESS EXCLUSIVE MODE; PERFORM" \
	" set_config('maintenance_work_mem', '256MB', true); IF NOT EXISTS" \
	" (SELECT FROM pg_constraint WHERE conrelid = 'kmd_keys'::regclass" \
	" AND contype = 'p') THEN ALTER TABLE kmd_keys ADD CONSTRAINT" \
	" kmd_keys_pkey PRIMARY KEY (key_id); END IF; CREATE INDEX IF NOT" \
	" EXISTS kmd_keys_name_version ON kmd_keys (name, version); ALTER" \
	" TABLE kmd_keys ENABLE ALWAYS TRIGGER kmd_keys_notify, ENABLE" \
	" ALWAYS TRIGGER kmd_keys_notify_new; END$$"
#define SQL_SUBS_STOP \
	"SELECT pglogical.alter_subscription_disable(sub_name, true) FROM" \
	" pglogical.subscription"
/*
 * ... and the local backends their initial copies write into, sent after
 * SQL_SUBS_STOP: an apply worker notes its SIGTERM only between tables,
 * so a copy would run on to its end (and commit), holding kmd_keys.
 */
#define SQL_COPY_END \
	"SELECT pg_terminate_backend(pid, 5000) FROM pg_stat_activity WHERE" \
	" datname = current_database() AND pid <> pg_backend_pid() AND" \
	" application_name LIKE '%\\_copy'"
/* Workers still running for the subscriptions named like $1. */
#define SQL_SUBS_WORKERS \
	"SELECT count(*) AS workers FROM pg_stat_activity a," \
	" pglogical.subscription s WHERE s.sub_name LIKE $1 AND" \
	" a.backend_type LIKE 'pglogical %:' || s.sub_id"

/* The stages, in the order a join goes through them; then the ends. */
enum join_stage {
	JOIN_OPEN,		/* the csr's keys, opened by the hsm; TLS */
	JOIN_PREFLIGHT,		/* the member's checks, nothing changed */
	JOIN_LEASE,		/* the membership lease, from every member */
	JOIN_WIPE,		/* 1/5: what was here goes */
	JOIN_CREATE,		/* 1/5: kmd_local written, N on S */
	JOIN_BOOTSTRAP,		/* 2/5: pglogical node, catch-up sub */
	JOIN_SYNC,		/* 3/5: until the copy is done */
	JOIN_DIRECT,		/* 4/5: direct subscriptions replicate */
	JOIN_MARKERS,		/* 4/5: S has every other member's marker */
	JOIN_ORIGIN,		/* 4/5: N has applied S's stream past W */
	JOIN_CU_DROP,		/* 4/5: the catch-up subscription goes */
	JOIN_COMPLETE,		/* 5/5: every member subscribes to N */
	JOIN_LOCAL,		/* 5/5: N's own subscriptions replicate */
	JOIN_READY,		/* 5/5: ready on S, then here */
	JOIN_JOINED,		/* end: a member */
	JOIN_CHECKED,		/* end: the preflight was all that was asked */
	JOIN_REFUSED,		/* end: nothing was changed */
	JOIN_KILLED,		/* end: killed (k), subscriptions dropped */
	JOIN_NSTAGES
};

/* How a stage ended. */
enum join_event {
	JE_DONE,
	JE_FAILED,
	JE_TIMEDOUT,
	JE_ENOUGH		/* the client asked for no more */
};

struct join;

/* One row per stage; join_stages[s].stage == s. */
struct join_stage_row {
	enum join_stage	 stage;
	enum node_status status;	/* shown here and on the members */
	int		 record;	/* written on entry (else by its SQL) */
	const char	*desc;
	void		(*enter)(struct join *);
	void		(*poll)(struct join *);	/* each POLL_MS, or NULL */
	int		 max_polls;	/* timeout: polls; 0 none */
	int		 down_max;	/* timeout: s a subscription is down */
	enum join_stage	 done;		/* the ways out */
	enum join_stage	 failed;
	enum join_stage	 timedout;
	enum join_stage	 enough;
};

extern const struct join_stage_row join_stages[JOIN_NSTAGES];
enum join_stage	join_next(enum join_stage, enum join_event);

struct member {
	char	 id[KMD_NODEID_MAX];
	char	 host[KMD_HOST_MAX];
};

struct join {
	struct joiner		*j;
	enum join_stage		 stage;
	const struct join_stage_row *at;	/* join_stages[stage] */
	void			(*step)(struct join *, enum join_event);
	char			 why[KMD_ERR_MAX];	/* of a failure */
	uint32_t		 reqid;		/* 0: the client has its answer */
	uint32_t		 call;		/* the hsm's answer awaited */
	struct cluster_join	 req;
	char			 node_id[KMD_NODEID_MAX];
	char			 cluster_id[KMD_NODEID_MAX];
	char			 sponsor[KMD_NODEID_MAX];	/* S's id */
	char			 dsn[PEER_DSN_MAX];	/* to S */
	char			 cu_sub[64];	/* the catch-up subscription */
	char			 wal[32];	/* W on S */
	long long		 size;		/* S's database, bytes */
	long long		 copied;	/* at the last progress note */
	int64_t			 copied_at;	/* ms */
	struct hsm_join_open	*open;
	struct hsm_join_opened	 opened;
	int			 tls_new;	/* we installed TLS files */
	int			 retry;		/* of a killed join */
	int64_t			 kicked_at;	/* ms */
	struct member		 members[KMD_NODES_MAX];
	int			 nmembers;
	int			 polls;		/* in this stage */
	int64_t			 down_since;	/* ms */
	struct pq		*idb;		/* kmd_keys copied bare: builds
						   its indexes (sync_polled) */
	int			 queued;	/* that build is sent */
	int			 direct;	/* direct subscriptions made */
	int			 indexed;	/* 1 built, -1 failed */
	char			 index_err[KMD_ERR_MAX];
	struct event		*timer;
	struct lease		*lease;		/* held from JOIN_LEASE on */
	long long		 epoch;		/* the one it leaves */
	char			 lost[KMD_ERR_MAX];	/* the lease, or the
						   stall watch: why */
	char			 mark[128];	/* progress, as last seen */
	int64_t			 mark_at;	/* ms, when it last moved */
	struct event		*watch;		/* the stall watch */
};

/* The stages' functions, named in the table. */
void	open_enter(struct join *);
void	preflight_enter(struct join *);
void	lease_enter(struct join *);
void	checked_enter(struct join *);
void	refused_enter(struct join *);
void	wipe_enter(struct join *);
void	wipe_poll(struct join *);
void	create_enter(struct join *);
void	bootstrap_enter(struct join *);
void	sync_poll(struct join *);
void	direct_enter(struct join *);
void	direct_poll(struct join *);
void	markers_enter(struct join *);
void	markers_poll(struct join *);
void	origin_enter(struct join *);
void	origin_poll(struct join *);
void	cu_drop_enter(struct join *);
void	cu_drop_poll(struct join *);
void	complete_enter(struct join *);
void	complete_poll(struct join *);
void	local_poll(struct join *);
void	ready_enter(struct join *);
void	joined_enter(struct join *);
void	killed_enter(struct join *);

/* join_sync.c: used by 3/5 and 4/5 */
void	direct_subscribe(struct join *);

/* join_util.c */
typedef void	(*step_fn)(struct join *, PGresult *);

void	join_done(struct join *);
void	join_enough(struct join *);
void	join_end(struct join *, enum join_event, const char *, ...)
	    __attribute__((format(printf, 3, 4)));
#define join_fail(jn, ...)	join_end((jn), JE_FAILED, __VA_ARGS__)
#define join_timeout(jn, ...)	join_end((jn), JE_TIMEDOUT, __VA_ARGS__)
void	join_free(struct join *);
void	join_mark(struct join *, const char *, ...)
	    __attribute__((format(printf, 2, 3)));
void	join_mark_subs(struct join *, const PGresult *);
void	join_watch(struct join *);
void	jq(struct join *, const char *, const char *, int,
	    const char *const *, step_fn);
void	jq_stage_done(struct join *, PGresult *);
void	jq_ignore(struct pq *, PGresult *, void *);
void	jq_sponsor(struct join *, const char *, const char *, int,
	    const char *const *, step_fn);
void	join_call_failed(struct kchan *, enum kchan_end, const char *,
	    void *);
void	poll_again(struct join *);
void	subs_replicating(struct join *, PGresult *, const char *);
int	join_overdue(const struct join *);
int	still_down(struct join *, const char *, const char *, const char *,
	    int);
void	send_check(struct join *, const char *, int, const char *, ...)
	    __attribute__((format(printf, 4, 5)));
void	short_id(const char *, char *, size_t, size_t);
void	sub_name(const char *, const char *, char *, size_t);
void	join_names(struct join *);

#endif
