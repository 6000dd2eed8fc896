#ifndef KMD_JOINER_H
#define KMD_JOINER_H

#include "pq.h"
#include "worker.h"

/* The one cluster operation under way (they are serialized). */
struct jop {
	uint32_t		 reqid;		/* the client's request */
	struct cluster_new	 cn;
	char			 cluster_id[KMD_NODEID_MAX];
	char			 node_id[KMD_NODEID_MAX];
	struct hsm_created	 made;
	int			 failed;	/* an error was sent */
};

struct joiner {
	struct worker	*w;
	struct pq	*admin;		/* dbname=postgres, until db exists */
	struct pq	*db;
	int		 ready;		/* schema is current */
	int		 migrating;	/* version being applied */
	struct jop	*op;
};

/* new.c */
int	joiner_cluster_new(struct kchan *, struct kmsg *, void *);
int	joiner_hsm_created(struct kchan *, struct kmsg *, void *);
int	joiner_hsm_error(struct kchan *, struct kmsg *, void *);
int	joiner_tls_installed(struct kchan *, struct kmsg *, void *);
void	joiner_tls_reinstall(struct joiner *);

/* users.c */
int	joiner_user_set(struct kchan *, struct kmsg *, void *);
int	joiner_auth_check(struct kchan *, struct kmsg *, void *);

#endif
