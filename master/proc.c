/*
 * The process table, fork+exec of workers, and their supervision: a worker
 * that dies is logged and restarted after a backoff that starts at 1 s and
 * doubles to 30 s (reset once a worker has lived 30 s).
 */
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/wait.h>

#include <errno.h>
#include <event2/event.h>
#include <fcntl.h>
#include <signal.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "kmd.h"
#include "log.h"
#include "util.h"
#include "worker.h"

/*
 * Each worker runs as its own OS user, so that none can reach another's
 * files or database role: the joiner as kmd.conf's "user" (pg_ident maps
 * it to the database's owner), the others as that name with a suffix
 * (replmon's maps to kmd_replmon; hsm's alone reads the HSM token files;
 * api's maps to nothing).
 */
const struct proc_def proc_table[] = {
	/* replmon's chroot holds only PostgreSQL's socket directory. */
	{ PROC_POSTGRES, NULL,			NULL,		NULL },
	{ PROC_REPLMON,	&replmon_worker,	"run",		"_replmon" },
	{ PROC_JOINER,	&joiner_worker,		NULL,		"" },
	{ PROC_HSM,	&hsm_worker,		NULL,		"_hsm" },
	{ PROC_API,	&api_worker,		"empty",	"_api" },
};
const size_t proc_table_len = sizeof(proc_table) / sizeof(proc_table[0]);

static void	proc_spawn(struct child *);

const struct proc_def *
proc_lookup(const char *role)
{
	size_t	 i;

	for (i = 0; i < proc_table_len; i++)
		if (strcmp(proc_name(proc_table[i].id), role) == 0)
			return &proc_table[i];
	return NULL;
}

struct child *
proc_child(struct parent *p, enum proc_id id)
{
	struct child	*c = &p->children[id];

	return c->def != NULL ? c : NULL;
}

static void
proc_channel_closed(struct kchan *ch, const char *why, void *arg)
{
	struct child	*c = arg;

	(void)ch;
	if (why != NULL) {
		/* A worker that sends garbage is not trusted to go on. */
		log_warnx("%s: %s: %s; killing it", __func__,
		    proc_name(c->def->id), why);
		if (c->pid > 0)
			kill(c->pid, SIGKILL);
	}
	kchan_free(c->ch);
	c->ch = NULL;
	c->p->worker_gone(c->p, c->def->id);
}

static void
proc_restart_cb(evutil_socket_t fd, short ev, void *arg)
{
	(void)fd;
	(void)ev;
	proc_spawn(arg);
}

static void
proc_schedule_restart(struct child *c)
{
	struct timeval	 tv = { c->backoff, 0 };

	log_warnx("restarting %s in %d s", proc_name(c->def->id), c->backoff);
	evtimer_add(c->restart_ev, &tv);
	c->backoff = c->backoff * 2 > BACKOFF_MAX ? BACKOFF_MAX :
	    c->backoff * 2;
}

/*
 * What a worker inherits of the parent's environment: nothing, but the
 * names below.  A PKCS#11 module reads its configuration from the
 * environment (SoftHSM2: SOFTHSM2_CONF), so the hsm worker gets that; a
 * sanitizer build's runtime reads its options the same way.
 */
static const char *const env_hsm[] = { "SOFTHSM2_CONF", NULL };
#ifdef __SANITIZE_ADDRESS__
static const char *const env_all[] = { "ASAN_OPTIONS", "UBSAN_OPTIONS",
	"LSAN_OPTIONS", NULL };
#else
static const char *const env_all[] = { NULL };
#endif
#define ENV_MAX	8

static void
proc_env_pick(const char *const *names, char **env, size_t *n)
{
	const char	*v;
	char		*e;
	size_t		 i, len;

	for (i = 0; names[i] != NULL && *n < ENV_MAX; i++) {
		if ((v = getenv(names[i])) == NULL)
			continue;
		len = strlen(names[i]) + strlen(v) + 2;
		if ((e = malloc(len)) == NULL)
			fatal("%s", __func__);
		snprintf(e, len, "%s=%s", names[i], v);
		env[(*n)++] = e;
	}
}

/*
 * In the child, after fork: the channel on KMD_PARENT_FD and stdin,
 * stdout and stderr, nothing else.  Every other descriptor the parent
 * holds is closed, close-on-exec or not: one still queued on a channel
 * (the root-of-trust key on its way to hsm) is no worker's but its own.
 */
static void
proc_child_fds(int fd)
{
	if (fd != KMD_PARENT_FD && dup2(fd, KMD_PARENT_FD) == -1)
		_exit(127);
	if (fcntl(KMD_PARENT_FD, F_SETFD, 0) == -1 ||
	    close_range(KMD_PARENT_FD + 1, ~0U, 0) == -1)
		_exit(127);
}

/*
 * Fork and exec "kmd -P role" with the channel on KMD_PARENT_FD, the
 * descriptors of proc_child_fds() and the environment of env_*.
 */
static pid_t
proc_exec(struct child *c, int fd)
{
	struct parent	*p = c->p;
	char		 title[32], *argv[16], *env[ENV_MAX + 1];
	size_t		 nenv = 0, i;
	int		 argc = 0, v;
	pid_t		 pid;

	snprintf(title, sizeof(title), "kmd: %s", proc_name(c->def->id));
	argv[argc++] = title;
	argv[argc++] = "-P";
	argv[argc++] = (char *)proc_name(c->def->id);
	if (p->foreground)
		argv[argc++] = "-d";
	for (v = 0; v < p->verbose && v < 3; v++)
		argv[argc++] = "-v";
	argv[argc] = NULL;
	proc_env_pick(env_all, env, &nenv);
	if (c->def->id == PROC_HSM)
		proc_env_pick(env_hsm, env, &nenv);
	env[nenv] = NULL;

	if ((pid = fork()) == 0) {
		proc_child_fds(fd);
		execve(p->self, argv, env);
		_exit(127);
	}
	for (i = 0; i < nenv; i++)
		free(env[i]);
	return pid;
}

/*
 * The HSM root of trust for the hsm worker: the PIN comes from a file
 * that must be root's and readable by no one else; it is wiped here once
 * sent.  Without a readable PIN the worker still gets the rest and says
 * why the token cannot be used.
 */
static void
hsm_send_conf(struct parent *p, struct kchan *ch)
{
	struct hsm_conf	*hc;
	struct stat	 st;
	ssize_t		 n = -1;
	int		 fd;

	if (p->conf.hsm_module[0] == '\0')
		return;
	if ((hc = sodium_malloc(sizeof(*hc))) == NULL)
		fatal("%s", __func__);
	memset(hc, 0, sizeof(*hc));
	kmd_strlcpy(hc->module, p->conf.hsm_module, sizeof(hc->module));
	kmd_strlcpy(hc->token, p->conf.hsm_token, sizeof(hc->token));
	kmd_strlcpy(hc->key, p->conf.hsm_key, sizeof(hc->key));
	if ((fd = open(p->conf.hsm_pinfile, O_RDONLY | O_CLOEXEC |
	    O_NOFOLLOW)) == -1)
		log_warn("hsm pin-file %s", p->conf.hsm_pinfile);
	else if (fstat(fd, &st) == -1 || !S_ISREG(st.st_mode) ||
	    st.st_uid != 0 || (st.st_mode & 077) != 0)
		log_warnx("hsm pin-file %s must be a regular file of root's,"
		    " mode 0600 or 0400", p->conf.hsm_pinfile);
	else if ((n = read(fd, hc->pin, sizeof(hc->pin) - 1)) <= 0)
		log_warnx("hsm pin-file %s is empty or unreadable",
		    p->conf.hsm_pinfile);
	if (fd != -1)
		close(fd);
	if (n > 0)
		hc->pin[strcspn(hc->pin, "\r\n")] = '\0';
	else
		memset(hc->pin, 0, sizeof(hc->pin));
	if (kchan_send(ch, IMSG_HSM_CONF, 0, -1, hc, sizeof(*hc)) == -1)
		fatal("%s: send the HSM configuration", __func__);
	sodium_free(hc);
}

/*
 * The joiner's link to the hsm (HSM_LINK_CALLS in common/proto.h): each
 * time either starts, both get an end of a fresh socketpair, and the one
 * still running lets its old link go.  A call on the old link fails as a
 * relayed one did when its worker went.
 */
static void
proc_hsm_link(struct parent *p)
{
	struct child	*j = proc_child(p, PROC_JOINER);
	struct child	*h = proc_child(p, PROC_HSM);
	int		 sv[2];

	if (j == NULL || h == NULL || j->ch == NULL || h->ch == NULL)
		return;
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) == -1) {
		log_warn("%s: socketpair", __func__);
		return;
	}
	if (kchan_send(h->ch, IMSG_HSM_LINK, 0, sv[0], NULL, 0) == -1) {
		close(sv[1]);
		log_warn("%s: the hsm's end", __func__);
	} else if (kchan_send(j->ch, IMSG_HSM_LINK, 0, sv[1], NULL, 0) == -1)
		log_warn("%s: the joiner's end", __func__);
}

static void
proc_spawn(struct child *c)
{
	struct parent		*p = c->p;
	struct conf_worker	 cw;
	int			 sv[2];

	if (c->def->worker == NULL) {
		if ((c->pid = pg_spawn(p)) == -1) {
			log_warn("%s: fork", __func__);
			c->pid = 0;
			proc_schedule_restart(c);
			return;
		}
		c->started = mono_now();
		log_info("started postgres, pid %d", (int)c->pid);
		return;
	}
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) == -1) {
		log_warn("%s: socketpair", __func__);
		proc_schedule_restart(c);
		return;
	}
	if ((c->pid = proc_exec(c, sv[1])) == -1) {
		log_warn("%s: fork", __func__);
		c->pid = 0;
		close(sv[0]);
		close(sv[1]);
		proc_schedule_restart(c);
		return;
	}
	close(sv[1]);
	c->started = mono_now();
	if (set_nonblock(sv[0]) == -1 || (c->ch = kchan_new(p->base, sv[0],
	    c->def->id, p->worker_handlers, p->nworker_handlers,
	    proc_channel_closed, c)) == NULL)
		fatal("%s: channel to %s", __func__, proc_name(c->def->id));

	memset(&cw, 0, sizeof(cw));
	cw.uid = c->uid;
	cw.gid = c->gid;
	cw.verbose = p->verbose;
	cw.chroot = c->def->chroot != NULL;
	if ((size_t)snprintf(cw.chrootdir, sizeof(cw.chrootdir), "%s/%s",
	    p->conf.datadir, cw.chroot ? c->def->chroot : "") >=
	    sizeof(cw.chrootdir) || (size_t)snprintf(cw.pgsock,
	    sizeof(cw.pgsock), "%s/run", p->conf.datadir) >= sizeof(cw.pgsock))
		fatalx("%s: datadir path too long", __func__);
	if (cw.chroot && strcmp(c->def->chroot, "run") == 0)
		kmd_strlcpy(cw.pgsock, "/", sizeof(cw.pgsock));
	kmd_strlcpy(cw.host, p->conf.host, sizeof(cw.host));
	cw.rm_interval = p->conf.rm_interval;
	cw.rm_down_after = p->conf.rm_down_after;
	cw.alarm_wal_mb = p->conf.alarm_wal_mb;
	cw.alarm_skew_ms = p->conf.alarm_skew_ms;
	cw.alarm_cert_days = p->conf.alarm_cert_days;
	cw.alarm_disk_pct = p->conf.alarm_disk_pct;
	cw.wal_max_mb = pg_wal_max_mb(p);
	cw.pending_lifetime = p->conf.pending_lifetime;
	cw.join_stall = p->conf.join_stall;
	cw.backup_keep = p->conf.backup_keep;
	if ((size_t)snprintf(cw.backups, sizeof(cw.backups), "%s/backups",
	    p->conf.datadir) >= sizeof(cw.backups))
		fatalx("%s: datadir path too long", __func__);
	cw.hsm = p->conf.hsm_module[0] != '\0';
	kmd_strlcpy(cw.hsm_key, p->conf.hsm_key, sizeof(cw.hsm_key));
	if (kchan_send(c->ch, IMSG_CONF_WORKER, 0, -1, &cw, sizeof(cw)) == -1)
		fatal("%s: send config to %s", __func__, proc_name(c->def->id));
	if (c->def->id == PROC_HSM && kchan_send(c->ch, IMSG_HSM_ROT_FD, 0,
	    dup_cloexec(p->rot_fd), NULL, 0) == -1)
		fatal("%s: pass the root-of-trust key to hsm", __func__);
	if (c->def->id == PROC_HSM)
		hsm_send_conf(p, c->ch);
	if (c->def->id == PROC_REPLMON && p->hsm_status.msg[0] != '\0')
		kchan_send(c->ch, IMSG_HSM_STATUS, 0, -1, &p->hsm_status,
		    sizeof(p->hsm_status));
	if (c->def->id == PROC_API)
		api_send_conf(p, c->ch);
	if (c->def->id == PROC_JOINER || c->def->id == PROC_HSM)
		proc_hsm_link(p);
	log_info("started %s, pid %d", proc_name(c->def->id), (int)c->pid);
}

void
proc_start_all(struct parent *p)
{
	size_t	 i;

	for (i = 0; i < proc_table_len; i++) {
		struct child *c = &p->children[proc_table[i].id];

		c->def = &proc_table[i];
		c->p = p;
		c->backoff = BACKOFF_MIN;
		if ((c->restart_ev = evtimer_new(p->base, proc_restart_cb,
		    c)) == NULL)
			fatalx("%s: evtimer_new", __func__);
		proc_spawn(c);
	}
}

static struct child *
proc_by_pid(struct parent *p, pid_t pid)
{
	size_t	 i;

	for (i = 0; i < PROC_MAX; i++)
		if (p->children[i].def != NULL && p->children[i].pid == pid)
			return &p->children[i];
	return NULL;
}

static void
proc_log_exit(struct child *c, int status)
{
	if (WIFSIGNALED(status) && WTERMSIG(status) == SIGSYS)
		log_warnx("%s (pid %d) was killed by its seccomp filter: it"
		    " made a system call outside its allowlist (SIGSYS)",
		    proc_name(c->def->id), (int)c->pid);
	else if (WIFSIGNALED(status))
		log_warnx("%s (pid %d) was killed by signal %d",
		    proc_name(c->def->id), (int)c->pid, WTERMSIG(status));
	else
		log_warnx("%s (pid %d) exited with status %d",
		    proc_name(c->def->id), (int)c->pid, WEXITSTATUS(status));
}

/* SIGCHLD: reap, log and schedule restarts. */
void
proc_reap(struct parent *p)
{
	struct child	*c;
	pid_t		 pid;
	int		 status;

	while ((pid = waitpid(-1, &status, WNOHANG)) > 0) {
		if ((c = proc_by_pid(p, pid)) == NULL)
			continue;
		proc_log_exit(c, status);
		if (WIFEXITED(status) &&
		    WEXITSTATUS(status) == KMD_EXIT_REFUSED) {
			log_warnx("kmd stops: %s cannot run on this node as it"
			    " is (its reason is logged above)",
			    proc_name(c->def->id));
			p->exit_code = KMD_EXIT_REFUSED;
			c->pid = 0;
			event_base_loopexit(p->base, NULL);
			return;
		}
		if (c->ch != NULL) {
			kchan_free(c->ch);
			c->ch = NULL;
			p->worker_gone(p, c->def->id);
		}
		c->pid = 0;
		c->restarts++;
		if (mono_now() - c->started >= BACKOFF_RESET)
			c->backoff = BACKOFF_MIN;
		proc_schedule_restart(c);
	}
}

static int
proc_any_running(struct parent *p, int pg)
{
	size_t	 i;

	for (i = 0; i < PROC_MAX; i++)
		if (p->children[i].pid > 0 &&
		    (i == PROC_POSTGRES) == (pg != 0))
			return 1;
	return 0;
}

/* Signal one group (the workers, or postgres), wait, then insist. */
static void
proc_stop_group(struct parent *p, int pg, int sig, int lastsig, int waitms)
{
	struct timespec	 ts = { 0, 50 * 1000 * 1000 };
	size_t		 i;
	int		 waited, status;
	pid_t		 pid;

	for (waited = 0; proc_any_running(p, pg); waited += 50) {
		if (waited == 0 || waited == waitms) {
			for (i = 0; i < PROC_MAX; i++)
				if (p->children[i].pid > 0 &&
				    (i == PROC_POSTGRES) == (pg != 0))
					kill(p->children[i].pid,
					    waited ? lastsig : sig);
		}
		while ((pid = waitpid(-1, &status, WNOHANG)) > 0) {
			struct child *c = proc_by_pid(p, pid);
			if (c != NULL)
				c->pid = 0;
		}
		if (proc_any_running(p, pg))
			nanosleep(&ts, NULL);
	}
}

/*
 * Stop the workers (SIGTERM, SIGKILL after 5 s), then postgres with a
 * fast shutdown (SIGINT, SIGQUIT after 30 s).
 */
void
proc_stop_all(struct parent *p)
{
	size_t	 i;

	proc_stop_group(p, 0, SIGTERM, SIGKILL, STOP_WAIT_MS);
	if (proc_any_running(p, 1)) {
		proc_stop_group(p, 1, SIGINT, SIGQUIT, PG_STOP_WAIT_MS);
		log_info("postgres stopped");
	}
	for (i = 0; i < PROC_MAX; i++) {
		struct child *c = &p->children[i];

		if (c->def == NULL)
			continue;
		kchan_free(c->ch);
		c->ch = NULL;
		event_free(c->restart_ev);
		c->restart_ev = NULL;
	}
}
