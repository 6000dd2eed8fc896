#ifndef KMD_JOINER_H
#define KMD_JOINER_H

#include "pq.h"
#include "worker.h"

struct joiner {
	struct worker	*w;
	struct pq	*admin;		/* dbname=postgres, until db exists */
	struct pq	*db;
	int		 ready;		/* schema is current */
	int		 migrating;	/* version being applied */
};

#endif
