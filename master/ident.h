/*
 * pg_ident.conf as kmd writes it: who may log in to this node's
 * PostgreSQL as whom.  Pure text, no I/O, so that it is unit-tested.
 */
#ifndef KMD_IDENT_H
#define KMD_IDENT_H

#include <stddef.h>

int	valid_node_id(const char *);
int	ident_text(const char *, const char *, const char *, const char *,
	    char *, size_t);

#endif
