/*
 * API bearer tokens: claims signed with Ed25519 by the process that
 * checks passwords (the joiner), so that the api worker hands them out
 * and the parent, which holds the public key, checks each request's
 * signature and role: a compromised api worker cannot mint one.
 */
#ifndef KMD_TOKEN_H
#define KMD_TOKEN_H

#include <stddef.h>
#include <stdint.h>

#include "proto.h"

struct token_claims {
	char		 user[KMD_NAME_MAX];
	int32_t		 role;		/* enum op_role */
	int64_t		 issued;	/* ms, CLOCK_MONOTONIC */
	int64_t		 expires;	/* ms, CLOCK_MONOTONIC */
};

int	token_sign(const struct token_claims *, const unsigned char *, char *,
	    size_t);
int	token_open(const char *, const unsigned char *, struct token_claims *);

#endif
