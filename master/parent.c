/*
 * The parent's event loop: signals, the control socket, supervision.
 * SIGTERM/SIGINT stop everything and remove the socket; SIGHUP re-reads
 * the config and keeps the old one if the new one does not parse; SIGCHLD
 * reaps and restarts workers.
 */
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/un.h>

#include <errno.h>
#include <ftw.h>
#include <event2/event.h>
#include <grp.h>
#include <pwd.h>
#include <signal.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "kmd.h"
#include "log.h"
#include "util.h"

static void
log_lines(const char *prefix, const char *text)
{
	char	 buf[2048], *line, *save = NULL;

	kmd_strlcpy(buf, text, sizeof(buf));
	for (line = strtok_r(buf, "\n", &save); line != NULL;
	    line = strtok_r(NULL, "\n", &save))
		log_warnx("%s%s", prefix, line);
}

static void
parent_reload(struct parent *p)
{
	struct kmd_conf		 nc;
	struct conf_reload	 cr;
	char			 err[2048];
	size_t			 i;

	if (conf_load(p->conffile, &nc, err, sizeof(err)) == -1) {
		log_lines("reload failed, keeping the running config: ", err);
		return;
	}
	if (strcmp(nc.socket, p->conf.socket) != 0 ||
	    strcmp(nc.sockgroup, p->conf.sockgroup) != 0 ||
	    strcmp(nc.user, p->conf.user) != 0 ||
	    strcmp(nc.datadir, p->conf.datadir) != 0) {
		log_warnx("reload: socket, user and datadir changes take"
		    " effect when kmd restarts; keeping the running values");
		kmd_strlcpy(nc.socket, p->conf.socket, sizeof(nc.socket));
		kmd_strlcpy(nc.sockgroup, p->conf.sockgroup,
		    sizeof(nc.sockgroup));
		kmd_strlcpy(nc.user, p->conf.user, sizeof(nc.user));
		kmd_strlcpy(nc.datadir, p->conf.datadir, sizeof(nc.datadir));
	}
	if (strcmp(nc.dbuser, p->conf.dbuser) != 0 ||
	    strcmp(nc.pgbin, p->conf.pgbin) != 0 ||
	    strcmp(nc.host, p->conf.host) != 0 ||
	    strcmp(nc.api_addr, p->conf.api_addr) != 0 ||
	    nc.api_port != p->conf.api_port)
		log_warnx("reload: dbuser, pgbin, host and api listen changes"
		    " take effect when kmd restarts");
	if (strcmp(nc.hsm_module, p->conf.hsm_module) != 0 ||
	    strcmp(nc.hsm_token, p->conf.hsm_token) != 0 ||
	    strcmp(nc.hsm_pinfile, p->conf.hsm_pinfile) != 0 ||
	    strcmp(nc.hsm_key, p->conf.hsm_key) != 0) {
		log_warnx("reload: hsm changes take effect when kmd restarts;"
		    " keeping the running values");
		kmd_strlcpy(nc.hsm_module, p->conf.hsm_module,
		    sizeof(nc.hsm_module));
		kmd_strlcpy(nc.hsm_token, p->conf.hsm_token,
		    sizeof(nc.hsm_token));
		kmd_strlcpy(nc.hsm_pinfile, p->conf.hsm_pinfile,
		    sizeof(nc.hsm_pinfile));
		kmd_strlcpy(nc.hsm_key, p->conf.hsm_key, sizeof(nc.hsm_key));
	}
	/* The listening socket stays bound where it is. */
	kmd_strlcpy(nc.api_addr, p->conf.api_addr, sizeof(nc.api_addr));
	nc.api_port = p->conf.api_port;
	kmd_strlcpy(nc.dbuser, p->conf.dbuser, sizeof(nc.dbuser));
	kmd_strlcpy(nc.pgbin, p->conf.pgbin, sizeof(nc.pgbin));
	kmd_strlcpy(nc.host, p->conf.host, sizeof(nc.host));
	p->conf = nc;
	memset(&cr, 0, sizeof(cr));
	cr.verbose = p->verbose;
	cr.rm_interval = nc.rm_interval;
	cr.rm_down_after = nc.rm_down_after;
	cr.alarm_wal_mb = nc.alarm_wal_mb;
	cr.alarm_skew_ms = nc.alarm_skew_ms;
	cr.alarm_cert_days = nc.alarm_cert_days;
	cr.alarm_disk_pct = nc.alarm_disk_pct;
	cr.wal_max_mb = pg_wal_max_mb(p);
	cr.pending_lifetime = nc.pending_lifetime;
	cr.join_stall = nc.join_stall;
	cr.backup_keep = nc.backup_keep;
	for (i = 0; i < PROC_MAX; i++)
		if (p->children[i].ch != NULL)
			kchan_send(p->children[i].ch, IMSG_CONF_VERBOSE, 0, -1,
			    &cr, sizeof(cr));
	pg_reload(p);			/* max_slot_wal_keep_size */
	(void)api_load_cert(p);		/* a bad pair keeps the old one */
	if (p->apiconf != NULL) {
		api_conf_limits(p, p->apiconf);
		if (p->children[PROC_API].ch != NULL)
			api_send_conf(p, p->children[PROC_API].ch);
	}
	log_info("configuration reloaded from %s", p->conffile);
}

/*
 * systemd's Type=notify: a state line ("READY=1", "STOPPING=1") as one
 * datagram to $NOTIFY_SOCKET (a path, or '@' for an abstract name), with
 * the pid that systemd should watch.  Without the variable, nothing.
 */
static void
parent_notify(const char *state)
{
	const char		*path = getenv("NOTIFY_SOCKET");
	struct sockaddr_un	 sun;
	char			 msg[64];
	size_t			 len;
	int			 fd, n;

	if (path == NULL || (path[0] != '/' && path[0] != '@') ||
	    (len = strlen(path)) >= sizeof(sun.sun_path))
		return;
	memset(&sun, 0, sizeof(sun));
	sun.sun_family = AF_UNIX;
	memcpy(sun.sun_path, path, len);
	if (path[0] == '@')
		sun.sun_path[0] = '\0';
	n = snprintf(msg, sizeof(msg), "%s\nMAINPID=%ld", state,
	    (long)getpid());
	if ((fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0)) == -1)
		return;
	if (sendto(fd, msg, n, MSG_NOSIGNAL, (struct sockaddr *)&sun,
	    offsetof(struct sockaddr_un, sun_path) + len) == -1)
		log_warn("%s: %s", __func__, path);
	close(fd);
}

static void
parent_sig(evutil_socket_t sig, short ev, void *arg)
{
	struct parent	*p = arg;

	(void)ev;
	switch (sig) {
	case SIGTERM:
	case SIGINT:
		log_info("signal %d: stopping", (int)sig);
		parent_notify("STOPPING=1");
		event_base_loopexit(p->base, NULL);
		break;
	case SIGHUP:
		parent_reload(p);
		break;
	case SIGCHLD:
		proc_reap(p);
		break;
	}
}

/*
 * Each worker's user (proc_table: kmd.conf's user and a suffix) must
 * exist, must not be root, and must have a uid and group of its own.
 */
static int
parent_user(struct parent *p)
{
	struct passwd	*pw;
	struct group	*gr;
	struct child	*c, *o;
	size_t		 i, j;

	for (i = 0; i < proc_table_len; i++) {
		c = &p->children[proc_table[i].id];
		if (proc_table[i].usersuffix == NULL)
			continue;
		if ((size_t)snprintf(c->user, sizeof(c->user), "%s%s",
		    p->conf.user, proc_table[i].usersuffix) >=
		    sizeof(c->user)) {
			log_warnx("user '%s' is too long for '%s%s'",
			    p->conf.user, p->conf.user,
			    proc_table[i].usersuffix);
			return -1;
		}
		if ((pw = getpwnam(c->user)) == NULL) {
			log_warnx("%s's user '%s' does not exist; create it"
			    " with: useradd --system --no-create-home"
			    " --home-dir /nonexistent --shell"
			    " /usr/sbin/nologin %s (etc/kmd-users makes"
			    " them all)", proc_name(proc_table[i].id),
			    c->user, c->user);
			return -1;
		}
		if (pw->pw_uid == 0 || pw->pw_gid == 0) {
			log_warnx("%s's user '%s' must not be root",
			    proc_name(proc_table[i].id), c->user);
			return -1;
		}
		c->uid = pw->pw_uid;
		c->gid = pw->pw_gid;
		for (j = 0; j < i; j++) {
			o = &p->children[proc_table[j].id];
			if (proc_table[j].usersuffix != NULL &&
			    (o->uid == c->uid || o->gid == c->gid)) {
				log_warnx("users '%s' and '%s' share a uid or"
				    " a group: each worker needs its own",
				    o->user, c->user);
				return -1;
			}
		}
	}
	if (p->conf.sockgroup[0] != '\0') {
		if ((gr = getgrnam(p->conf.sockgroup)) == NULL) {
			log_warnx("socket group '%s' does not exist",
			    p->conf.sockgroup);
			return -1;
		}
		p->sockgid = gr->gr_gid;
	}
	return 0;
}

/*
 * <datadir>, the empty, root-owned chroot of the confined workers, and
 * the joiner's backups directory.
 */
static int
parent_dirs(struct parent *p)
{
	const struct child	*j = &p->children[PROC_JOINER];
	char			 empty[KMD_PATH_MAX + 16];

	/*
	 * The data directory: PostgreSQL's user must pass through it to its
	 * own, whatever the umask (kmd.service's is 077); no one need list
	 * it.
	 */
	snprintf(empty, sizeof(empty), "%s/empty", p->conf.datadir);
	if ((mkdir(p->conf.datadir, 0711) == -1 && errno != EEXIST) ||
	    chmod(p->conf.datadir, 0711) == -1 ||
	    (mkdir(empty, 0755) == -1 && errno != EEXIST)) {
		log_warn("%s: cannot create %s", __func__, empty);
		return -1;
	}
	if (chown(empty, 0, 0) == -1 || chmod(empty, 0755) == -1) {
		log_warn("%s: %s", __func__, empty);
		return -1;
	}
	/* backups: the joiner's alone, which writes and reads them */
	snprintf(empty, sizeof(empty), "%s/backups", p->conf.datadir);
	if ((mkdir(empty, 0700) == -1 && errno != EEXIST) ||
	    chown(empty, j->uid, j->gid) == -1 || chmod(empty, 0700) == -1) {
		log_warn("%s: %s", __func__, empty);
		return -1;
	}
	return 0;
}

/* What is below the top: the top is in the data directory, root's. */
static int
rm_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st;
	if (ftw->level > 0 && (flag == FTW_DP ? rmdir(path) :
	    unlink(path)) == -1 && errno != ENOENT) {
		log_warn("services reset: %s", path);
		return -1;
	}
	return 0;
}

/*
 * Remove <datadir>/leaf and all below it; it may not exist.  pg is the
 * database user's, who could swap a directory for a link while it is
 * walked: what is below it goes as that user (pg.c, as_db()).
 */
static int
rm_tree(struct parent *p, const char *leaf)
{
	char	 path[PATH_MAX];
	int	 r, db = strcmp(leaf, "pg") == 0;

	snprintf(path, sizeof(path), "%s/%s", p->conf.datadir, leaf);
	if (access(path, F_OK) == -1)
		return 0;
	if (db && as_db(p) == -1)
		return -1;
	r = nftw(path, rm_one, 16, FTW_DEPTH | FTW_PHYS);
	if (db)
		as_root();
	if (r == 0 && remove(path) == -1 && errno != ENOENT) {
		log_warn("services reset: %s", path);
		r = -1;
	}
	return r;
}

/*
 * services reset: every worker and PostgreSQL stop, the node's data goes
 * (the database, the software root-of-trust key, the API certificate),
 * then the node starts afresh as on its first start: a new database, a
 * new key and certificate, no cluster.  kmd.conf and the control and API
 * sockets stay.
 */
void
parent_reset(struct parent *p)
{
	size_t	 i;

	for (i = 0; i < PROC_MAX; i++)
		if (i != PROC_POSTGRES && p->children[i].def != NULL)
			relay_worker_gone(p, i);
	proc_stop_all(p);
	if (p->rot_fd != -1)
		close(p->rot_fd);
	p->rot_fd = -1;
	if (rm_tree(p, "pg") == -1 || rm_tree(p, "api") == -1 ||
	    rm_tree(p, "rot.key") == -1)
		fatalx("services reset: the data could not all be removed;"
		    " see the messages above, then remove %s/pg and start kmd",
		    p->conf.datadir);
	log_warnx("services reset: this node's data, keys and cluster"
	    " configuration are gone");
	if (pg_prepare(p) == -1 || (p->rot_fd = rot_open(p)) == -1 ||
	    api_load_cert(p) == -1)
		fatalx("services reset: the fresh node could not be set up;"
		    " see the messages above");
	proc_start_all(p);
	p->resetting = 0;
	log_info("services reset: done; the node starts afresh");
}

int
parent_main(struct parent *p)
{
	static const int sigs[] = { SIGTERM, SIGINT, SIGHUP, SIGCHLD };
	struct event	*sigev[4];
	size_t		 i;

	p->ctl_fd = -1;
	p->rot_fd = -1;
	p->api_fd = -1;
	TAILQ_INIT(&p->clients);
	TAILQ_INIT(&p->pending);
	auth_init(p);
	p->worker_handlers = parent_worker_handlers;
	p->nworker_handlers = parent_worker_nhandlers;
	p->worker_gone = relay_worker_gone;
	p->reset = parent_reset;
	/* The socket first: a second kmd must not touch the first's db. */
	if (parent_user(p) == -1 || parent_dirs(p) == -1 ||
	    control_listen(p) == -1 || pg_prepare(p) == -1 ||
	    (p->rot_fd = rot_open(p)) == -1 || api_load_cert(p) == -1 ||
	    api_listen(p) == -1)
		return 1;
	if (!p->foreground && daemon(0, 0) == -1) {
		log_warn("daemon");
		return 1;
	}
	log_init(p->foreground, p->verbose, "parent");
	signal(SIGPIPE, SIG_IGN);
	p->started = mono_now();
	if ((p->base = event_base_new()) == NULL)
		fatalx("event_base_new");
	for (i = 0; i < 4; i++)
		if ((sigev[i] = evsignal_new(p->base, sigs[i], parent_sig,
		    p)) == NULL || event_add(sigev[i], NULL) == -1)
			fatalx("%s: signal events", __func__);
	if (control_start(p) == -1)
		fatalx("%s: control socket events", __func__);
	proc_start_all(p);
	pglog_start(p);
	log_info("kmd %s started, control socket %s", KMD_VERSION,
	    p->conf.socket);
	parent_notify("READY=1");

	event_base_dispatch(p->base);

	control_close(p);
	pglog_stop(p);
	proc_stop_all(p);
	for (i = 0; i < 4; i++)
		event_free(sigev[i]);
	event_base_free(p->base);
	log_info("stopped");
	return p->exit_code;
}
