/*
 * The dispatcher fuzzers' harness; see harness.h.
 */
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>

#include <dlfcn.h>
#include <errno.h>
#include <event2/event.h>
#include <ftw.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "harness.h"
#include "kmsg.h"
#include "log.h"
#include "util.h"
#include "worker.h"

#define PUMP_MAX	100000	/* loop turns before a channel must be done */

struct fz	 fz;

static struct kbuf	 replies[16];	/* one decoder per fd of ours */
static int		 eof[16];
static char		 tmpdir[64];
static int		 pg_listen = -1;
static struct event	*pg_ev;
static uint32_t		 want_reqid;	/* fz_call: the reply wanted */
static struct fz_reply	*want;

static int
rm_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st;
	(void)flag;
	(void)ftw;
	return remove(path);
}

static void
rm_tmpdir(void)
{
	if (tmpdir[0] != '\0')
		nftw(tmpdir, rm_one, 16, FTW_DEPTH | FTW_PHYS);
}

/*
 * The fuzz targets link with -Wl,--wrap=dlopen: an input may name any
 * PKCS#11 module (IMSG_HSM_CONF carries the path kmd.conf gives), and
 * loading whatever library it finds on the machine is not what is under
 * test.  Only SoftHSM2 loads; any other path fails as a missing file.
 */
void	*__real_dlopen(const char *, int);
void	*__wrap_dlopen(const char *, int);

void *
__wrap_dlopen(const char *path, int flags)
{
	if (path == NULL || strcmp(path, FZ_SOFTHSM) != 0)
		path = "/nonexistent/kmd-fuzz-module.so";
	return __real_dlopen(path, flags);
}

/* A directory of our own for the files handlers write: in memory if we can. */
const char *
fz_tmpdir(void)
{
	if (tmpdir[0] != '\0')
		return tmpdir;
	snprintf(tmpdir, sizeof(tmpdir), "%s/kmd-fuzz.XXXXXX",
	    access("/dev/shm", W_OK) == 0 ? "/dev/shm" : "/tmp");
	if (mkdtemp(tmpdir) == NULL) {
		perror("mkdtemp");
		abort();
	}
	atexit(rm_tmpdir);
	return tmpdir;
}

/*
 * A "PostgreSQL" that accepts connections and never answers: libpq waits
 * in its startup, the queries handlers queue wait behind it, and at the
 * end of the input (fz_run) it hangs up on all of them, so that each
 * query is answered with NULL (pq.c) as when the database goes down.
 * Its socket is <tmpdir>/.s.PGSQL.5432, "host=<tmpdir>" for libpq.
 */
static int	 pg_conns[64];
static size_t	 npg_conns;

static void
pg_accept(evutil_socket_t lfd, short ev, void *arg)
{
	int	 fd;

	(void)ev;
	(void)arg;
	while ((fd = accept4(lfd, NULL, NULL, SOCK_CLOEXEC)) != -1) {
		if (npg_conns < sizeof(pg_conns) / sizeof(pg_conns[0]))
			pg_conns[npg_conns++] = fd;
		else
			close(fd);
	}
}

static void
pg_hangup(void)
{
	if (pg_listen == -1)
		return;
	pg_accept(pg_listen, 0, NULL);
	while (npg_conns > 0)
		close(pg_conns[--npg_conns]);
}

const char *
fz_pgsock(void)
{
	struct sockaddr_un	 sun;

	if (pg_listen != -1)
		return fz_tmpdir();
	memset(&sun, 0, sizeof(sun));
	sun.sun_family = AF_UNIX;
	snprintf(sun.sun_path, sizeof(sun.sun_path), "%s/.s.PGSQL.5432",
	    fz_tmpdir());
	if ((pg_listen = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK |
	    SOCK_CLOEXEC, 0)) == -1 || bind(pg_listen,
	    (struct sockaddr *)&sun, sizeof(sun)) == -1 ||
	    listen(pg_listen, 64) == -1) {
		perror("fz_pgsock");
		abort();
	}
	return fz_tmpdir();
}

void
fz_begin(void)
{
	memset(&fz, 0, sizeof(fz));
	if ((fz.base = event_base_new()) == NULL)
		abort();
	if (pg_listen != -1 && ((pg_ev = event_new(fz.base, pg_listen,
	    EV_READ | EV_PERSIST, pg_accept, NULL)) == NULL ||
	    event_add(pg_ev, NULL) == -1))
		abort();
}

/* Close our ends; everything else on the base must be freed by now. */
void
fz_end(void)
{
	size_t	 i;

	for (i = 0; i < fz.nfds; i++) {
		close(fz.fds[i]);
		kbuf_clear(&replies[i]);
	}
	if (pg_ev != NULL) {
		event_free(pg_ev);
		pg_ev = NULL;
	}
	pg_hangup();
	event_base_free(fz.base);
	fz.base = NULL;
}

/* A channel's socketpair: *chfd for the kchan, the other end is ours. */
int
fz_pair(int *chfd)
{
	int	 sv[2];

	if (fz.nfds == sizeof(fz.fds) / sizeof(fz.fds[0]) ||
	    socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0,
	    sv) == -1 || kbuf_init(&replies[fz.nfds], sv[1]) == -1)
		abort();
	eof[fz.nfds] = 0;
	fz.fds[fz.nfds++] = sv[1];
	*chfd = sv[0];
	return sv[1];
}

/* An fd for the next frame that says it carries one (KMSG_F_FD). */
void
fz_give_fd(struct kchan *ch, int fd)
{
	int	 d;

	if (ch->kb.nfds < KMSG_MAXFDS && (d = dup(fd)) != -1)
		ch->kb.fds[ch->kb.nfds++] = d;
}

/* The closed callback of a channel under test: note it, free nothing. */
void
fz_closed(struct kchan *ch, const char *why, void *arg)
{
	(void)ch;
	(void)arg;
	fz.closed = 1;
	kmd_strlcpy(fz.why, why != NULL ? why : "", sizeof(fz.why));
}

static void
copy_reply(const struct kmsg *m)
{
	want->type = m->hdr.type;
	want->len = m->datalen;
	if ((want->data = malloc(m->datalen + 1)) == NULL)
		abort();
	memcpy(want->data, m->data, m->datalen);
	want->data[m->datalen] = '\0';
}

/* Read what the handlers answered: whole, well-formed frames only. */
static void
drain(void)
{
	struct kmsg	 m;
	size_t		 i;
	ssize_t		 n;
	int		 r;

	for (i = 0; i < fz.nfds; i++) {
		while (!eof[i]) {
			if ((n = kbuf_read(&replies[i])) == -1 &&
			    (errno == EAGAIN || errno == EINTR))
				break;
			if (n == -1) {
				fprintf(stderr, "fuzz: reply: %s\n",
				    strerror(errno));
				abort();
			}
			if (n == 0)
				eof[i] = 1;
			while ((r = kbuf_get(&replies[i], &m)) == 1) {
				fz.replies++;
				if (want != NULL && want->data == NULL &&
				    m.hdr.reqid == want_reqid)
					copy_reply(&m);
				kmsg_closefd(&m);
			}
			if (r == -1) {
				fprintf(stderr, "fuzz: malformed reply frame:"
				    " %s\n", strerror(errno));
				abort();
			}
		}
	}
}

void
fz_pump(void)
{
	if (event_base_loop(fz.base, EVLOOP_NONBLOCK) == -1)
		abort();
	drain();
}

/*
 * One well-formed frame from "the peer", ahead of the fuzzer's bytes;
 * fd (or -1) is passed with it and closed here.
 */
void
fz_frame(int ours, uint16_t type, uint32_t reqid, int fd, const void *data,
    size_t len)
{
	struct kbuf	 kb;

	if (kbuf_init(&kb, ours) == -1 || kbuf_compose(&kb, type, reqid, 0,
	    fd, data, len) == -1)
		abort();
	while (kbuf_flush(&kb) == 0)
		fz_pump();
	kbuf_clear(&kb);
}

static int
closed(void *arg)
{
	(void)arg;
	return fz.closed;
}

/*
 * Write the input into our end of a channel as the peer would, then end
 * the stream, and turn the loop until done(arg) says the channel has
 * finished (by default: its closed callback ran).  Then the database
 * hangs up, and the loop turns a few more times for the answers to the
 * queries that were waiting on it.
 */
void
fz_run(int ours, const uint8_t *data, size_t len, int (*done)(void *),
    void *arg)
{
	size_t	 off = 0, turns = 0;
	ssize_t	 n;

	if (done == NULL)
		done = closed;
	while (off < len && !done(arg)) {
		n = send(ours, data + off, len - off, MSG_NOSIGNAL);
		if (n == -1 && errno != EAGAIN && errno != EINTR)
			break;		/* the channel hung up early */
		if (n > 0)
			off += n;
		fz_pump();
	}
	shutdown(ours, SHUT_WR);
	while (!done(arg)) {
		if (++turns > PUMP_MAX) {
			fprintf(stderr, "fuzz: the channel never finished\n");
			abort();
		}
		fz_pump();
	}
	pg_hangup();
	for (turns = 0; turns < 8; turns++)
		fz_pump();
}

/*
 * A worker as worker_run() sets it up after its privilege drop, on the
 * harness's event base (after fz_begin): its config slice (the host
 * node1.test, PostgreSQL at fz_pgsock(), kmd.conf's default intervals),
 * the channel to "the parent" with the role's real handler table, then
 * the role's init.  Returns our end of the channel.
 */
int
fz_worker(struct worker *w, const struct worker_def *def)
{
	int	 fd, ours;

	memset(w, 0, sizeof(*w));
	w->role = def->role;
	w->base = fz.base;
	kmd_strlcpy(w->conf.pgsock, fz_pgsock(), sizeof(w->conf.pgsock));
	kmd_strlcpy(w->conf.host, "node1.test", sizeof(w->conf.host));
	w->conf.rm_interval = 1000;
	w->conf.rm_down_after = 5000;
	w->conf.alarm_wal_mb = 1024;
	w->conf.alarm_skew_ms = 500;
	w->conf.alarm_cert_days = 30;
	w->conf.pending_lifetime = 3600;
	ours = fz_pair(&fd);
	if (worker_start(w, def, fd, fz_closed) == -1)
		abort();
	return ours;
}

void
fz_worker_end(struct worker *w, const struct worker_def *def)
{
	if (def->fini != NULL)
		def->fini(w);
	kchan_free(w->parent);
}

/*
 * One input to a worker's real handler table: its first byte goes to
 * setup (the state the worker is put in), the rest is frames, into the
 * channel setup answers (our end of the parent's, or another the worker
 * was given, such as a link; its closing must end the run, fz_closed).
 */
int
fz_worker_input(const struct worker_def *def, const uint8_t *data,
    size_t size, int (*setup)(struct worker *, uint8_t, int))
{
	struct worker	 w;
	int		 ours, in;

	if (size < 1)
		return 0;
	log_setverbose(0);
	fz_begin();
	ours = fz_worker(&w, def);
	in = setup != NULL ? setup(&w, data[0], ours) : ours;
	fz_run(in, data + 1, size - 1, NULL, NULL);
	fz_worker_end(&w, def);
	fz_end();
	return 0;
}

/*
 * A request through a channel that stays open, and the first frame
 * answered under its request id (the caller frees r->data).  The setups
 * of the fuzzers build their fixtures with the real handlers this way.
 */
int
fz_call(int ours, uint16_t type, const void *data, size_t len,
    struct fz_reply *r)
{
	static uint32_t	 reqid = 1000;
	size_t		 turns = 0;

	memset(r, 0, sizeof(*r));
	want = r;
	want_reqid = ++reqid;
	fz_frame(ours, type, want_reqid, -1, data, len);
	while (r->data == NULL && !fz.closed && ++turns < PUMP_MAX)
		fz_pump();
	want = NULL;
	return r->data != NULL ? 0 : -1;
}

/*
 * libsodium's randomness from a fixed sequence (splitmix64): what the
 * fuzzers' setups seal comes out the same on every run, so a seed made
 * once (a mkek_blob, a sealed key) still opens.  Before sodium_init().
 */
static uint64_t	 rng_state = 0x6b6d642d66757a7aULL;

static uint64_t
rng_next(void)
{
	uint64_t	 z = (rng_state += 0x9e3779b97f4a7c15ULL);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	return z ^ (z >> 31);
}

static const char *
rng_name(void)
{
	return "kmd-fuzz-fixed";
}

static uint32_t
rng_random(void)
{
	return (uint32_t)rng_next();
}

static void
rng_buf(void *buf, size_t len)
{
	uint8_t		*p = buf;
	uint64_t	 v;
	size_t		 n;

	while (len > 0) {
		v = rng_next();
		n = len < sizeof(v) ? len : sizeof(v);
		memcpy(p, &v, n);
		p += n;
		len -= n;
	}
}

void
fz_rng_fixed(void)
{
	static struct randombytes_implementation impl = {
		rng_name, rng_random, NULL, NULL, rng_buf, NULL
	};

	if (randombytes_set_implementation(&impl) != 0 || sodium_init() == -1)
		abort();
}

/*
 * With KMD_FUZZ_SEEDS=<dir> in the environment a fuzzer's setup writes
 * its seed corpus there (regress/fuzz/corpus/<target>/) and exits.
 */
int
fz_seeding(void)
{
	return getenv("KMD_FUZZ_SEEDS") != NULL;
}

void
fz_seed_begin(struct fz_seed *s, uint8_t setup)
{
	s->len = 0;
	if ((s->p = malloc(1)) == NULL)
		abort();
	s->p[s->len++] = setup;
}

void
fz_seed_frame(struct fz_seed *s, uint16_t type, uint16_t flags,
    uint32_t reqid, const void *data, size_t len)
{
	struct kmsg_hdr	 h;

	memset(&h, 0, sizeof(h));
	h.type = type;
	h.flags = flags;
	h.len = KMSG_HDR_SIZE + len;
	h.reqid = reqid;
	if ((s->p = realloc(s->p, s->len + h.len)) == NULL)
		abort();
	memcpy(s->p + s->len, &h, sizeof(h));
	if (len > 0)
		memcpy(s->p + s->len + KMSG_HDR_SIZE, data, len);
	s->len += h.len;
}

void
fz_seed_write(struct fz_seed *s, const char *name)
{
	char	 path[1024];
	FILE	*f;

	snprintf(path, sizeof(path), "%s/%s", getenv("KMD_FUZZ_SEEDS"), name);
	if ((f = fopen(path, "we")) == NULL ||
	    fwrite(s->p, 1, s->len, f) != s->len || fclose(f) != 0) {
		perror(path);
		abort();
	}
	free(s->p);
	s->p = NULL;
}
