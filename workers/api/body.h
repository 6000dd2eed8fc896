/*
 * Request bodies of the REST API: size-capped JSON objects parsed with
 * yajl's tree parser into typed requests.  Pure, so the fuzzer feeds it.
 */
#ifndef KMD_API_BODY_H
#define KMD_API_BODY_H

#include <stddef.h>

#include "proto.h"

#define BODY_MAX	(16 * 1024)

int	body_login(const char *, size_t, struct user_set *, char *, size_t);
int	body_cluster_new(const char *, size_t, struct cluster_new *, char *,
	    size_t);

int	body_rotate(const char *, size_t, struct rotkeys_req *, char *,
	    size_t);
int	body_cluster_csr(const char *, size_t, struct cluster_csr *, char *,
	    size_t);
int	body_nodes_create(const char *, size_t, struct nodes_create *, char *,
	    size_t);

int	body_cluster_join(const char *, size_t, struct cluster_join *, char *,
	    size_t);

int	body_key_create(const char *, size_t, struct keys_req *, char *,
	    size_t);
int	body_user(const char *, size_t, struct user_set *, char *, size_t);
int	body_crypt(const char *, size_t, int, struct keys_req *, char *,
	    size_t);
int	body_bkey(const char *, size_t, struct bkey_req *, char *, size_t);
int	body_backup(const char *, size_t, struct backup_req *, char *,
	    size_t);

#endif
