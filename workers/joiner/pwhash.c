#include <errno.h>
#include <fcntl.h>
#include <event2/event.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "log.h"
#include "pwhash.h"
#include "util.h"

/*
 * A hash's cost.  The fuzzers' build (make fuzz) hashes at libsodium's
 * least: one of their inputs may carry dozens of logins, each 64 MB and
 * a tenth of a second at the real cost.
 */
#ifdef FUZZING_BUILD_MODE_UNSAFE_FOR_PRODUCTION
#define PW_OPS		crypto_pwhash_OPSLIMIT_MIN
#define PW_MEM		crypto_pwhash_MEMLIMIT_MIN
#else
#define PW_OPS		crypto_pwhash_OPSLIMIT_INTERACTIVE
#define PW_MEM		crypto_pwhash_MEMLIMIT_INTERACTIVE
#endif

struct pwjob {
	char		*password;		/* sodium_malloc'd */
	char		 hash[crypto_pwhash_STRBYTES];	/* given, or made */
	int		 check;			/* verify, else make */
	int		 result;
	pwjob_cb	 cb;
	void		*arg;
};

static struct {
	pthread_t	 thread;
	pthread_mutex_t	 mu;
	pthread_cond_t	 cv;
	struct pwjob	*q[PWHASH_QUEUE];
	size_t		 head, n;
	int		 pipe[2];		/* thread -> loop: done jobs */
	int		 started;
	int		 held;			/* pwhash_hold() */
	struct event	*ev;
} pw = { .mu = PTHREAD_MUTEX_INITIALIZER, .cv = PTHREAD_COND_INITIALIZER,
    .pipe = { -1, -1 } };

static void
run(struct pwjob *j)
{
	if (j->check)
		j->result = crypto_pwhash_str_verify(j->hash, j->password,
		    strlen(j->password)) == 0;
	else
		j->result = crypto_pwhash_str(j->hash, j->password,
		    strlen(j->password), PW_OPS, PW_MEM) == 0 ? 0 : -1;
}

static void
done(struct pwjob *j)
{
	j->cb(j->result, j->hash, j->arg);
	sodium_memzero(j->hash, sizeof(j->hash));
	sodium_free(j->password);
	free(j);
}

static void *
loop(void *arg)
{
	struct pwjob	*j;

	(void)arg;
	for (;;) {
		pthread_mutex_lock(&pw.mu);
		while (pw.n == 0 || pw.held)
			pthread_cond_wait(&pw.cv, &pw.mu);
		j = pw.q[pw.head];
		pw.head = (pw.head + 1) % PWHASH_QUEUE;
		pw.n--;
		pthread_mutex_unlock(&pw.mu);
		run(j);
		while (write(pw.pipe[1], &j, sizeof(j)) == -1 && errno == EINTR)
			;
	}
	return NULL;
}

/*
 * Hold the thread (on 1) before it takes another job, or let it go on
 * (0): the unit test fills the queue with nothing drained meanwhile.
 */
void
pwhash_hold(int on)
{
	pthread_mutex_lock(&pw.mu);
	pw.held = on;
	pthread_cond_broadcast(&pw.cv);
	pthread_mutex_unlock(&pw.mu);
}

/* Before the seccomp filter: the thread and its pipe. */
int
pwhash_start(void)
{
	if (pipe2(pw.pipe, O_CLOEXEC) == -1)
		return -1;
	if (pthread_create(&pw.thread, NULL, loop, NULL) != 0) {
		close(pw.pipe[0]);
		close(pw.pipe[1]);
		pw.pipe[0] = pw.pipe[1] = -1;
		return -1;
	}
	pw.started = 1;
	return 0;
}

static void
finished(evutil_socket_t fd, short ev, void *arg)
{
	struct pwjob	*j;
	ssize_t		 n;

	(void)ev;
	(void)arg;
	while ((n = read(fd, &j, sizeof(j))) == (ssize_t)sizeof(j))
		done(j);
}

/* In the event loop, once it exists: where finished jobs come back. */
int
pwhash_attach(struct worker *w)
{
	if (!pw.started)
		return 0;
	if (set_nonblock(pw.pipe[0]) == -1 || (pw.ev = event_new(w->base,
	    pw.pipe[0], EV_READ | EV_PERSIST, finished, NULL)) == NULL ||
	    event_add(pw.ev, NULL) == -1)
		return -1;
	return 0;
}

static int
submit(struct pwjob *j)
{
	if (!pw.started) {
		run(j);
		done(j);
		return 0;
	}
	pthread_mutex_lock(&pw.mu);
	if (pw.n == PWHASH_QUEUE) {
		pthread_mutex_unlock(&pw.mu);
		sodium_free(j->password);
		free(j);
		return -1;
	}
	pw.q[(pw.head + pw.n) % PWHASH_QUEUE] = j;
	pw.n++;
	pthread_cond_signal(&pw.cv);
	pthread_mutex_unlock(&pw.mu);
	return 0;
}

static struct pwjob *
job(const char *password, pwjob_cb cb, void *arg)
{
	struct pwjob	*j;
	size_t		 n = strlen(password) + 1;

	if ((j = calloc(1, sizeof(*j))) == NULL ||
	    (j->password = sodium_malloc(n)) == NULL)
		fatal("%s", __func__);
	memcpy(j->password, password, n);
	j->cb = cb;
	j->arg = arg;
	return j;
}

/*
 * A hash to check a login against when its user does not exist, so that
 * the check costs the same: made once, at this module's cost.
 */
const char *
pwhash_dummy(void)
{
	static char	 dummy[crypto_pwhash_STRBYTES];

	if (dummy[0] == '\0' && crypto_pwhash_str(dummy, "x", 1, PW_OPS,
	    PW_MEM) != 0)
		fatalx("%s: crypto_pwhash_str", __func__);
	return dummy;
}

/* Check password against hash; -1: the queue is full, cb not called. */
int
pwhash_verify(const char *hash, const char *password, pwjob_cb cb,
    void *arg)
{
	struct pwjob	*j = job(password, cb, arg);

	kmd_strlcpy(j->hash, hash, sizeof(j->hash));
	j->check = 1;
	return submit(j);
}

/* A new hash of password; -1: the queue is full, cb not called. */
int
pwhash_make(const char *password, pwjob_cb cb, void *arg)
{
	return submit(job(password, cb, arg));
}
