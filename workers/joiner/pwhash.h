/*
 * Password hashing off the joiner's event loop: one thread, started
 * before the seccomp filter (which then covers it too), takes argon2id
 * jobs from a bounded queue and hands each back to the loop through a
 * pipe.  So a guessing run delays other logins, never the rest of the
 * joiner's work (encrypt, joins); past the queue a login is refused at
 * once.  Without the thread (the fuzzers) a job runs in place.
 */
#ifndef KMD_PWHASH_H
#define KMD_PWHASH_H

#include <sodium.h>

#include "worker.h"

#define PWHASH_QUEUE	16	/* jobs waiting at most */

struct pwjob;
/* done: verified (1/0) for a check; 0/-1 for a hash, then in hash */
typedef void	(*pwjob_cb)(int, const char *, void *);

int	pwhash_start(void);
int	pwhash_attach(struct worker *);
int	pwhash_verify(const char *, const char *, pwjob_cb, void *);
int	pwhash_make(const char *, pwjob_cb, void *);
const char *pwhash_dummy(void);
void	pwhash_hold(int);

#endif
