/*
 * pg_ident.conf.  kmd's workers log in over the local socket as the
 * worker user (peer authentication); the other nodes over mutual TLS,
 * with a certificate of the cluster CA whose CN is their node id (cert
 * authentication, map "peers").  A certificate is accepted only for a
 * node id the joiner allows: one exact line per id, so that a
 * certificate the CA signed for a node that was never recorded, was
 * removed, or whose pending credentials expired gets in nowhere.  With
 * no id allowed, no peer gets in.
 */
#include <stdio.h>
#include <string.h>

#include "ident.h"

/* A node id as the joiner sends it: a UUID, lower-case, with dashes. */
int
valid_node_id(const char *id)
{
	size_t	 i;

	for (i = 0; i < 36; i++)
		if (i == 8 || i == 13 || i == 18 || i == 23 ? id[i] != '-' :
		    id[i] == '\0' || strchr("0123456789abcdef", id[i]) == NULL)
			return 0;
	return id[36] == '\0';
}

/* Append s to the string in out (len bytes); -1 when it does not fit. */
static int
add(char *out, size_t len, const char *s)
{
	size_t	 n = strlen(out), m = strlen(s);

	if (n + m >= len)
		return -1;
	memcpy(out + n, s, m + 1);
	return 0;
}

/*
 * The file for the OS users of the joiner (joiner, mapped to the
 * database's owner kmd) and of replmon (replmon, to kmd_replmon alone),
 * the database's OS user dbuser (kmd too), and the allowed ids
 * (separated by white space; any that is not a node id is left out).
 * Returns how many peers it lets in, or -1 when out (len bytes) is too
 * small.
 */
int
ident_text(const char *joiner, const char *replmon, const char *dbuser,
    const char *ids, char *out, size_t len)
{
	char	 id[64], line[256];
	int	 n = 0, used;

	if (len == 0)
		return -1;
	out[0] = '\0';
	snprintf(line, sizeof(line), "kmd %s kmd\nkmd %s kmd_replmon\n"
	    "kmd %s kmd\n", joiner, replmon, dbuser);
	if (add(out, len, "# Written by kmd.\n") == -1 ||
	    add(out, len, line) == -1 ||
	    add(out, len, "# peers: the nodes of the cluster, each by its id"
	    " (its certificate's CN)\n") == -1)
		return -1;
	while (ids != NULL && sscanf(ids, " %63s%n", id, &used) == 1) {
		ids += used;
		if (!valid_node_id(id))
			continue;
		snprintf(line, sizeof(line), "peers %s kmd_repl\n", id);
		if (add(out, len, line) == -1)
			return -1;
		n++;
	}
	return n;
}
