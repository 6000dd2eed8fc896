#include <sys/prctl.h>
#include <sys/types.h>

#include <errno.h>
#include <event2/event.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "log.h"
#include "sandbox.h"
#include "util.h"
#include "worker.h"

#if defined(__SANITIZE_ADDRESS__)
/*
 * LeakSanitizer scans /proc/self/task at exit, which a chrooted worker
 * cannot see; it would abort instead of reporting.  Skip the scan there
 * only: the workers that are not chrooted, and the unit suites under
 * valgrind, still check for leaks.
 */
static int	worker_chrooted;
int	__lsan_is_turned_off(void);

int
__lsan_is_turned_off(void)
{
	return worker_chrooted;
}
#endif

/* Read exactly len bytes, blocking: nothing past them is consumed. */
static void
worker_read_exact(void *buf, size_t len)
{
	size_t	 off = 0;
	ssize_t	 n;

	while (off < len) {
		n = read(KMD_PARENT_FD, (char *)buf + off, len - off);
		if (n == -1 && errno == EINTR)
			continue;
		if (n == -1)
			fatal("%s: read from parent", __func__);
		if (n == 0)
			fatalx("%s: parent closed the channel", __func__);
		off += n;
	}
}

/*
 * Block until the parent's first frame, the config slice, has arrived.
 * It is read to its exact length: requests the parent queued behind it
 * stay in the socket for the event loop.
 */
static void
worker_recv_conf(struct conf_worker *cw)
{
	struct kmsg_hdr	 h;

	worker_read_exact(&h, sizeof(h));
	if (h.type != IMSG_CONF_WORKER || h.flags != 0 ||
	    h.len != KMSG_HDR_SIZE + sizeof(*cw))
		fatalx("%s: expected CONF_WORKER, got %s (%u bytes)",
		    __func__, imsg_type_name(h.type), h.len);
	worker_read_exact(cw, sizeof(*cw));
	if (!TERMINATED(cw->chrootdir) ||
	    !TERMINATED(cw->pgsock))
		fatalx("%s: path not terminated", __func__);
}

static void
worker_parent_closed(struct kchan *ch, const char *why, void *arg)
{
	(void)arg;
	/* The parent is trusted: anything malformed from it is fatal. */
	if (why != NULL)
		fatalx("channel to parent: %s", why);
	log_debug("%s: parent went away, exiting", __func__);
	event_base_loopexit(ch->base, NULL);
}

static void
worker_sig(evutil_socket_t sig, short ev, void *arg)
{
	struct worker	*w = arg;

	(void)ev;
	log_debug("%s: signal %d, exiting", __func__, (int)sig);
	event_base_loopexit(w->base, NULL);
}

/* This process's worker: SIGHUP's settings go into its conf. */
static struct worker	*worker_self;

/*
 * After SIGHUP: the log's level, and the settings read where they are
 * used (a monitor tick's interval is taken at its next tick).
 */
int
worker_conf_reload(struct kchan *ch, struct kmsg *m, void *arg)
{
	struct conf_reload	 cr;
	struct conf_worker	*cw;

	(void)ch;
	(void)arg;
	memcpy(&cr, m->data, sizeof(cr));
	log_setverbose(cr.verbose);
	if (worker_self == NULL)
		return 0;
	cw = &worker_self->conf;
	cw->verbose = cr.verbose;
	cw->rm_interval = cr.rm_interval;
	cw->rm_down_after = cr.rm_down_after;
	cw->alarm_wal_mb = cr.alarm_wal_mb;
	cw->alarm_skew_ms = cr.alarm_skew_ms;
	cw->alarm_cert_days = cr.alarm_cert_days;
	cw->alarm_disk_pct = cr.alarm_disk_pct;
	cw->wal_max_mb = cr.wal_max_mb;
	cw->pending_lifetime = cr.pending_lifetime;
	cw->join_stall = cr.join_stall;
	cw->backup_keep = cr.backup_keep;
	return 0;
}

/*
 * The channel to the parent on fd, with the role's handler table, then
 * the role's init.  From here on the handlers (and closed) get the
 * role's own context, w->ctx, as their argument.  Also the fuzzers' way
 * in (regress/fuzz/).  -1: the channel or the init failed.
 */
int
worker_start(struct worker *w, const struct worker_def *def, int fd,
    kchan_closed_cb closed)
{
	if ((w->parent = kchan_new(w->base, fd, PROC_PARENT, def->handlers,
	    def->nhandlers, closed, w)) == NULL ||
	    (def->init != NULL && def->init(w) == -1))
		return -1;
	w->parent->ctx = w->ctx;
	worker_self = w;
	return 0;
}

int
worker_run(const struct worker_def *def, int foreground, int verbose)
{
	struct worker	 w;
	struct event	*evterm, *evint;
	char		 title[16], err[256];

	memset(&w, 0, sizeof(w));
	w.role = def->role;
	log_init(foreground, verbose, proc_name(def->role));
	snprintf(title, sizeof(title), "kmd: %s", proc_name(def->role));
	prctl(PR_SET_NAME, title, 0, 0, 0);
	signal(SIGPIPE, SIG_IGN);
	signal(SIGHUP, SIG_IGN);

	worker_recv_conf(&w.conf);
	log_setverbose(w.conf.verbose);
	if (sandbox_enter(&w.conf, err, sizeof(err)) == -1)
		fatalx("cannot drop privileges: %s", err);
	if (def->prefilter != NULL && def->prefilter() == -1)
		fatal("%s: before the seccomp filter", __func__);
	if (sandbox_filter(def->role, err, sizeof(err)) == -1)
		fatalx("cannot install the seccomp filter: %s", err);
#if defined(__SANITIZE_ADDRESS__)
	worker_chrooted = w.conf.chroot;
#endif
	if (set_nonblock(KMD_PARENT_FD) == -1)
		fatal("%s: set_nonblock", __func__);

	if ((w.base = event_base_new()) == NULL)
		fatalx("%s: event_base_new", __func__);
	evterm = evsignal_new(w.base, SIGTERM, worker_sig, &w);
	evint = evsignal_new(w.base, SIGINT, worker_sig, &w);
	if (evterm == NULL || evint == NULL ||
	    event_add(evterm, NULL) || event_add(evint, NULL))
		fatalx("%s: cannot set up the event loop", __func__);
	if (worker_start(&w, def, KMD_PARENT_FD, worker_parent_closed) == -1)
		fatalx("%s: %s: the channel to the parent or the init failed",
		    __func__, proc_name(def->role));
	log_debug("running as uid %u, pid %d", w.conf.uid, (int)getpid());

	event_base_dispatch(w.base);

	if (def->fini != NULL)
		def->fini(&w);
	kchan_free(w.parent);
	event_free(evterm);
	event_free(evint);
	event_base_free(w.base);
	return 0;
}

/* A timer that calls cb every ms milliseconds; fatal when it cannot. */
struct event *
worker_every(struct worker *w, int ms, event_callback_fn cb, void *arg)
{
	struct timeval	 tv = { ms / 1000, (ms % 1000) * 1000 };
	struct event	*ev;

	if ((ev = event_new(w->base, -1, EV_PERSIST, cb, arg)) == NULL ||
	    event_add(ev, &tv) == -1)
		fatal("%s: timer", __func__);
	return ev;
}
