/*
 * The status vocabulary of nodes, as the vendor reference shows it:
 * {"code": ..., "description": ...}.
 */
#ifndef KMD_STATUS_H
#define KMD_STATUS_H

const char	*status_desc(const char *);
int		 peer_down(long long, long long, int, const char *, int);

#endif
