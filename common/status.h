/*
 * The status vocabulary of nodes, as the vendor reference shows it:
 * {"code": ..., "description": ...}.
 */
#ifndef KMD_STATUS_H
#define KMD_STATUS_H

const char	*status_desc(const char *);
int		 peer_down(long long, long long, int, const char *, int);

/* What the monitor remembers of a peer between ticks. */
struct peer_watch {
	int		 down;		/* as decided last time */
	long long	 up_since;	/* ms: heard again since; 0 none */
};
int		 peer_watch(struct peer_watch *, int, int, long long, int);

#endif
