/*
 * What the dispatcher fuzzers share (harness.c): a fresh event base per
 * input, the input written as a byte stream into a socketpair whose other
 * end is a real kchan (common/kchan.c) running a process's real handler
 * table, the loop pumped until the channel has read everything and seen
 * the end of the stream.  Whatever the handlers answer is drained and
 * must decode as well-formed frames.  Files the handlers write go to a
 * temporary directory, removed at exit.
 */
#ifndef KMD_FUZZ_HARNESS_H
#define KMD_FUZZ_HARNESS_H

#include <stddef.h>
#include <stdint.h>

#include "kchan.h"

#define FZ_SOFTHSM	"/usr/lib/softhsm/libsofthsm2.so"

struct event_base;

struct fz {
	struct event_base	*base;
	int			 fds[16];	/* our ends, drained */
	size_t			 nfds;
	uint32_t		 replies;	/* reply frames seen */
	int			 closed;	/* set by the closed callbacks */
	char			 why[256];	/* and why, "" at end of stream */
};

/* A copy of one reply frame (fz_call). */
struct fz_reply {
	uint16_t		 type;
	uint8_t			*data;		/* malloc'd */
	size_t			 len;
};

/* Seed corpus files: frames after a first byte that picks the setup. */
struct fz_seed {
	uint8_t			*p;
	size_t			 len;
};

extern struct fz	 fz;

struct worker;
struct worker_def;

const char *fz_tmpdir(void);
const char *fz_pgsock(void);
void	fz_begin(void);
void	fz_end(void);
int	fz_pair(int *);
void	fz_give_fd(struct kchan *, int);
void	fz_closed(struct kchan *, const char *, void *);
void	fz_run(int, const uint8_t *, size_t, int (*)(void *), void *);
void	fz_frame(int, uint16_t, uint32_t, int, const void *, size_t);
void	fz_pump(void);
int	fz_call(int, uint16_t, const void *, size_t, struct fz_reply *);
int	fz_worker(struct worker *, const struct worker_def *);
void	fz_worker_end(struct worker *, const struct worker_def *);
int	fz_worker_input(const struct worker_def *, const uint8_t *, size_t,
	    int (*)(struct worker *, uint8_t, int));

void	fz_rng_fixed(void);
int	fz_seeding(void);
void	fz_seed_begin(struct fz_seed *, uint8_t);
void	fz_seed_frame(struct fz_seed *, uint16_t, uint16_t, uint32_t,
	    const void *, size_t);
void	fz_seed_write(struct fz_seed *, const char *);

#endif
