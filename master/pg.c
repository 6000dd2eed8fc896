/*
 * The node's PostgreSQL, supervised by the parent: initdb on first start
 * (as the database user), the settings kmd owns written on every start,
 * postgres started directly (no shell, no pg_ctl) with its log in
 * <datadir>/pg/postgres.log, restarted by proc.c like a worker, stopped
 * with a fast shutdown.  The parent writes files and sends signals; it
 * speaks no SQL.
 */
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/types.h>
#include <sys/wait.h>

#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <pwd.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <sodium.h>

#include "ident.h"
#include "kmd.h"
#include "log.h"
#include "util.h"

#define PG_PORT		5432
#define ALLOWED_MAX	(KMD_ALLOW_MAX * (KMD_NODEID_MAX + 1) + 1)

static void
pg_path(const struct parent *p, char *buf, size_t len, const char *leaf)
{
	snprintf(buf, len, "%s/pg%s%s", p->conf.datadir, leaf[0] ? "/" : "",
	    leaf);
}

/*
 * <datadir>/pg belongs to the database user, and whoever runs code as
 * that user can put a symbolic link anywhere below it.  The parent, root,
 * therefore makes, reads, renames and removes files there as that user
 * (its effective ids, and no group of root's): a link then leads nowhere
 * the database user could not reach itself, and what it makes is that
 * user's without a chown.  as_root() undoes as_db(); it cannot fail for
 * a process whose real and saved user id is 0.
 */
static gid_t	root_groups[64];
static int	root_ngroups = -1;

void
as_root(void)
{
	if (seteuid(0) == -1 || setegid(0) == -1 ||
	    setgroups(root_ngroups, root_groups) == -1)
		fatal("%s", __func__);
}

int
as_db(const struct parent *p)
{
	int	 saved;

	if (root_ngroups == -1 && (root_ngroups = getgroups(64,
	    root_groups)) == -1)
		fatal("%s: getgroups", __func__);
	if (setgroups(1, &p->dbgid) == 0 && setegid(p->dbgid) == 0 &&
	    seteuid(p->dbuid) == 0)
		return 0;
	saved = errno;
	as_root();
	errno = saved;
	log_warn("%s: cannot act as the database user", __func__);
	return -1;
}

/*
 * Write a file of the database user's, atomically: a link planted where
 * the temporary goes is removed, not followed (O_EXCL), and the rename
 * replaces whatever has the final name.
 */
static int
pg_write(const struct parent *p, const char *leaf, const char *text)
{
	char	 path[PATH_MAX], tmp[PATH_MAX + 8];
	size_t	 len = strlen(text);
	int	 fd = -1, r = 0;

	pg_path(p, path, sizeof(path), leaf);
	snprintf(tmp, sizeof(tmp), "%s.tmp", path);
	if (as_db(p) == -1)
		return -1;
	if ((unlink(tmp) == -1 && errno != ENOENT) ||
	    (fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW |
	    O_CLOEXEC, 0600)) == -1 || write(fd, text, len) != (ssize_t)len ||
	    fsync(fd) == -1 || close(fd) == -1 || rename(tmp, path) == -1) {
		log_warn("%s: %s", __func__, path);
		if (fd != -1)
			close(fd);
		unlink(tmp);
		r = -1;
	}
	as_root();
	return r;
}

/* Remove a file of the database user's (a link itself, not its target). */
static int
pg_unlink(const struct parent *p, const char *leaf)
{
	char	 path[PATH_MAX];
	int	 r;

	pg_path(p, path, sizeof(path), leaf);
	if (as_db(p) == -1)
		return -1;
	if ((r = unlink(path)) == -1 && errno != ENOENT)
		log_warn("%s: %s", __func__, path);
	as_root();
	return r == -1 && errno != ENOENT ? -1 : 0;
}

static int
pg_tls_ready(const struct parent *p)
{
	char	 path[PATH_MAX];

	pg_path(p, path, sizeof(path), "data/kmd-tls/server.crt");
	return access(path, R_OK) == 0;
}

/* Append s to the string in buf (len bytes), as far as it fits. */
static void
cat(char *buf, size_t len, const char *s)
{
	size_t	 n = strlen(buf);

	if (n < len)
		kmd_strlcpy(buf + n, s, len - n);
}

/* The file the joiner's list of allowed peers is kept in, read whole. */
static char *
pg_allowed(const struct parent *p)
{
	char	 path[PATH_MAX], *text;
	size_t	 n;
	FILE	*f;

	if ((text = calloc(1, ALLOWED_MAX)) == NULL)
		return NULL;
	pg_path(p, path, sizeof(path), "allowed-peers");
	if (as_db(p) == -1) {
		free(text);
		return NULL;
	}
	f = fopen(path, "re");
	as_root();
	if (f == NULL)
		return text;
	n = fread(text, 1, ALLOWED_MAX - 1, f);
	text[n] = '\0';
	fclose(f);
	return text;
}

/*
 * The joiner's list of the peers this node's PostgreSQL accepts: kept,
 * pg_ident.conf written from it, and PostgreSQL reloaded.  Its postmaster
 * reloads the files before it accepts another connection.  -1: the list
 * is malformed; otherwise 0, *ok telling whether PostgreSQL was told.
 */
int
pg_peers_allow(struct parent *p, const struct peers_allow *pa, int *ok)
{
	struct child	*c = &p->children[PROC_POSTGRES];
	char		*text;
	int		 i, r;

	*ok = 0;
	if (pa->n < 0 || pa->n > KMD_ALLOW_MAX)
		return -1;
	for (i = 0; i < pa->n; i++)
		if (!TERMINATED(pa->ids[i]) || !valid_node_id(pa->ids[i]))
			return -1;
	if ((text = calloc(1, ALLOWED_MAX)) == NULL)
		return 0;
	for (i = 0; i < pa->n; i++) {
		cat(text, ALLOWED_MAX, pa->ids[i]);
		cat(text, ALLOWED_MAX, "\n");
	}
	r = pg_write(p, "allowed-peers", text) == -1 || pg_write_conf(p) == -1;
	free(text);
	if (r) {
		log_warnx("cannot write the allowed nodes' ids for PostgreSQL");
		return 0;
	}
	/* the deny list an older kmd kept: the allow list replaces it */
	(void)pg_unlink(p, "denied-peers");
	if (c != NULL && c->pid > 0)
		kill(c->pid, SIGHUP);
	log_info("PostgreSQL accepts the certificates of %d node(s);"
	    " reloaded", pa->n);
	*ok = 1;
	return 0;
}

/*
 * The most WAL a replication slot may hold (max_slot_wal_keep_size), MB:
 * kmd.conf's wal max-retained, or a quarter of the data directory's
 * filesystem, at least 1 GB: past it PostgreSQL lets the slot go rather
 * than fill the disk (the node it served must join again).
 */
int
pg_wal_max_mb(const struct parent *p)
{
	struct statvfs	 sv;
	long long	 mb;

	if (p->conf.wal_max_mb > 0)
		return p->conf.wal_max_mb;
	if (statvfs(p->conf.datadir, &sv) == -1)
		return 1024;
	mb = (long long)sv.f_blocks * (long long)sv.f_frsize / 4 /
	    (1024 * 1024);
	return mb < 1024 ? 1024 : mb > 1048576 ? 1048576 : (int)mb;
}

/* After SIGHUP: postgresql.conf written again, PostgreSQL reloaded. */
void
pg_reload(struct parent *p)
{
	struct child	*c = &p->children[PROC_POSTGRES];

	if (pg_write_conf(p) == -1) {
		log_warnx("cannot write postgresql.conf again");
		return;
	}
	if (c->pid > 0)
		kill(c->pid, SIGHUP);
}

/*
 * postgresql.conf, pg_hba.conf, pg_ident.conf: kmd owns them.  JIT is
 * off: kmd's queries are small, but the planner prices pglogical's
 * set-returning functions at a thousand rows each, which put the
 * monitor's every-second query over jit_above_cost and spent a second
 * of CPU compiling it each time.
 */
int
pg_write_conf(const struct parent *p)
{
	char	 conf[4096], tls[1024] = "ssl = off\n", hba[1024];
	char	 ident[KMD_ALLOW_MAX * 64 + 512], *allowed;
	int	 ssl = pg_tls_ready(p), r;

	if (ssl)
		snprintf(tls, sizeof(tls),
		    "ssl = on\n"
		    "ssl_min_protocol_version = 'TLSv1.2'\n"
		    "ssl_cert_file = 'kmd-tls/server.crt'\n"
		    "ssl_key_file = 'kmd-tls/server.key'\n"
		    "ssl_ca_file = 'kmd-tls/ca.crt'\n");
	snprintf(conf, sizeof(conf),
	    "# Written by kmd on every start; local changes go in local.conf.\n"
	    "listen_addresses = '%s'\n"
	    "port = %d\n"
	    "unix_socket_directories = '%s/run'\n"
	    "unix_socket_permissions = 0777\n"
	    "max_connections = 64\n"
	    "shared_buffers = 128MB\n"
	    "dynamic_shared_memory_type = posix\n"
	    "wal_level = logical\n"
	    "max_worker_processes = 48\n"
	    "max_replication_slots = 48\n"
	    "max_wal_senders = 48\n"
	    "max_wal_size = 1GB\n"
	    "wal_compression = lz4\n"
	    "min_wal_size = 32MB\n"
	    "shared_preload_libraries = 'pglogical'\n"
	    "track_commit_timestamp = on\n"
	    "pglogical.conflict_resolution = 'last_update_wins'\n"
	    "wal_sender_timeout = 5s\n"
	    "wal_receiver_timeout = 5s\n"
	    "tcp_keepalives_idle = 2\n"
	    "tcp_keepalives_interval = 1\n"
	    "tcp_keepalives_count = 2\n"
	    "tcp_user_timeout = 5000\n"
	    "password_encryption = 'scram-sha-256'\n"
	    "logging_collector = off\n"
	    "log_line_prefix = '%%m [%%p] %%q%%u@%%d '\n"
	    "log_timezone = 'UTC'\n"
	    "lc_messages = 'C'\n"
	    "timezone = 'UTC'\n"
	    "jit = off\n"
	    "max_slot_wal_keep_size = %dMB\n"
	    "%s"
	    "include_if_exists = 'local.conf'\n",
	    p->conf.host, PG_PORT, p->conf.datadir, pg_wal_max_mb(p), tls);
	snprintf(hba, sizeof(hba),
	    "# Written by kmd on every start.\n"
	    "local all kmd,kmd_replmon peer map=kmd\n"
	    "%s",
	    ssl ? "hostssl kmd kmd_repl all cert map=peers\n" : "");
	if ((allowed = pg_allowed(p)) == NULL)
		return -1;
	r = ident_text(p->children[PROC_JOINER].user,
	    p->children[PROC_REPLMON].user, p->conf.dbuser, allowed, ident,
	    sizeof(ident));
	free(allowed);
	if (r == -1) {
		log_warnx("%s: pg_ident.conf does not fit", __func__);
		return -1;
	}
	return pg_write(p, "data/postgresql.conf", conf) == -1 ||
	    pg_write(p, "data/pg_hba.conf", hba) == -1 ||
	    pg_write(p, "data/pg_ident.conf", ident) == -1 ? -1 : 0;
}

/*
 * In a child: become the database user, stdout/stderr to the log, no
 * other descriptor of the parent's, an empty environment (libpq and the
 * server read PG* variables; only pg_env's are theirs).
 */
static void
pg_child_setup(const struct parent *p)
{
	char	 log[PATH_MAX];
	int	 fd;

	if (close_range(STDERR_FILENO + 1, ~0U, 0) == -1 || clearenv() != 0)
		_exit(126);

	if (setgroups(1, &p->dbgid) == -1 || setresgid(p->dbgid, p->dbgid,
	    p->dbgid) == -1 || setresuid(p->dbuid, p->dbuid, p->dbuid) == -1)
		_exit(126);
	/* opened as the database user; a link put in its place goes */
	pg_path(p, log, sizeof(log), "postgres.log");
	if ((fd = open(log, O_WRONLY | O_CREAT | O_APPEND | O_NOFOLLOW,
	    0600)) == -1 && errno == ELOOP && unlink(log) == 0)
		fd = open(log, O_WRONLY | O_CREAT | O_APPEND | O_NOFOLLOW,
		    0600);
	if (fd == -1)
		_exit(126);
	dup2(fd, STDOUT_FILENO);
	dup2(fd, STDERR_FILENO);
	if (fd > STDERR_FILENO)
		close(fd);
	signal(SIGPIPE, SIG_DFL);
}

static int
pg_initdb(const struct parent *p)
{
	char	 data[PATH_MAX], bin[PATH_MAX];
	pid_t	 pid;
	int	 status;

	pg_path(p, data, sizeof(data), "data");
	snprintf(bin, sizeof(bin), "%s/initdb", p->conf.pgbin);
	log_info("initializing the database in %s", data);
	if ((pid = fork()) == -1) {
		log_warn("%s: fork", __func__);
		return -1;
	}
	if (pid == 0) {
		pg_child_setup(p);
		execl(bin, bin, "-D", data, "-U", "kmd", "-E", "UTF8",
		    "--locale=C.UTF-8", "--auth-local=peer",
		    "--auth-host=reject", "--no-instructions", (char *)NULL);
		_exit(127);
	}
	while (waitpid(pid, &status, 0) == -1 && errno == EINTR)
		;
	if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
		log_warnx("initdb failed (status %d); see %s/pg/postgres.log",
		    WIFEXITED(status) ? WEXITSTATUS(status) : -1,
		    p->conf.datadir);
		return -1;
	}
	return 0;
}

/*
 * A postmaster left running by a parent that was killed: ask it for a
 * fast shutdown and wait, so the new one starts on a clean data dir.
 */
static void
pg_stop_stale(const struct parent *p)
{
	struct timespec	 ts = { 0, 100 * 1000 * 1000 };
	char		 path[PATH_MAX], comm[64] = "";
	struct stat	 st;
	FILE		*f;
	long		 pid = 0;
	int		 i;

	pg_path(p, path, sizeof(path), "data/postmaster.pid");
	if (as_db(p) == -1)
		return;
	f = fopen(path, "re");
	as_root();
	if (f == NULL)
		return;
	if (fscanf(f, "%ld", &pid) != 1)
		pid = 0;
	fclose(f);
	/* the file is the database user's to write: its process alone */
	snprintf(path, sizeof(path), "/proc/%ld", pid);
	if (pid <= 1 || stat(path, &st) == -1 || st.st_uid != p->dbuid)
		return;
	snprintf(path, sizeof(path), "/proc/%ld/comm", pid);
	if ((f = fopen(path, "re")) == NULL)
		return;
	if (fgets(comm, sizeof(comm), f) == NULL)
		comm[0] = '\0';
	fclose(f);
	if (strncmp(comm, "postgres", 8) != 0)
		return;
	log_warnx("stopping postgres pid %ld left by an earlier kmd", pid);
	kill(pid, SIGINT);
	for (i = 0; i < PG_STOP_WAIT_MS / 100 && kill(pid, 0) == 0; i++)
		nanosleep(&ts, NULL);
	if (kill(pid, 0) == 0)
		kill(pid, SIGQUIT);
}

/*
 * A directory of the database user's: "" (pg itself) and "run" sit in the
 * data directory, root's, and are made by root and given away; below pg,
 * one is made as that user, and a link in its place is replaced.
 */
static int
pg_mkdir(const struct parent *p, const char *leaf, mode_t mode)
{
	char	 path[PATH_MAX];
	int	 fd = -1, below = leaf[0] != '\0' && strcmp(leaf, "run") != 0;

	if (!below && strcmp(leaf, "run") == 0)
		snprintf(path, sizeof(path), "%s/run", p->conf.datadir);
	else
		pg_path(p, path, sizeof(path), leaf);
	if (below && as_db(p) == -1)
		return -1;
	if (mkdir(path, mode) == -1 && errno != EEXIST)
		goto fail;
	if ((fd = open(path, O_RDONLY | O_DIRECTORY | O_NOFOLLOW |
	    O_CLOEXEC)) == -1 && below && (errno == ELOOP || errno ==
	    ENOTDIR) && unlink(path) == 0 && mkdir(path, mode) == 0)
		fd = open(path, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (fd == -1 || (!below && fchown(fd, p->dbuid, p->dbgid) == -1) ||
	    fchmod(fd, mode) == -1)
		goto fail;
	close(fd);
	if (below)
		as_root();
	return 0;
fail:
	log_warn("%s: %s", __func__, path);
	if (fd != -1)
		close(fd);
	if (below)
		as_root();
	return -1;
}

/* Before the event loop: directories, initdb once, config, stale pm. */
int
pg_prepare(struct parent *p)
{
	char		 path[PATH_MAX];
	struct passwd	*pw;

	if ((pw = getpwnam(p->conf.dbuser)) == NULL || pw->pw_uid == 0) {
		log_warnx("the database user '%s' %s (install postgresql-15:"
		    " sh etc/install-deps)", p->conf.dbuser, pw == NULL ?
		    "does not exist" : "must not be root");
		return -1;
	}
	p->dbuid = pw->pw_uid;
	p->dbgid = pw->pw_gid;
	snprintf(path, sizeof(path), "%s/postgres", p->conf.pgbin);
	if (access(path, X_OK) == -1) {
		log_warn("%s (set pgbin in kmd.conf, or install postgresql-15)",
		    path);
		return -1;
	}
	if (pg_mkdir(p, "", 0700) == -1 || pg_mkdir(p, "run", 0755) == -1)
		return -1;
	pg_path(p, path, sizeof(path), "data/PG_VERSION");
	if (access(path, F_OK) == -1 && pg_initdb(p) == -1)
		return -1;
	if (pg_mkdir(p, "data/kmd-tls", 0700) == -1)
		return -1;
	pg_stop_stale(p);
	return pg_write_conf(p);
}

static void
pg_env(const char *data, const char *name, const char *leaf)
{
	char	 path[PATH_MAX + 32];

	if (snprintf(path, sizeof(path), "%s/%s", data, leaf) <
	    (int)sizeof(path))
		setenv(name, path, 1);
}

/* Fork and exec postgres; called by proc.c like a worker spawn. */
pid_t
pg_spawn(struct parent *p)
{
	char	 data[PATH_MAX], bin[PATH_MAX];
	pid_t	 pid, parent = getpid();

	pg_path(p, data, sizeof(data), "data");
	snprintf(bin, sizeof(bin), "%s/postgres", p->conf.pgbin);
	if ((pid = fork()) != 0)
		return pid;
	pg_child_setup(p);
	/* A killed parent takes postgres down with a fast shutdown. */
	prctl(PR_SET_PDEATHSIG, SIGINT, 0, 0, 0);
	if (getppid() != parent)
		_exit(0);
	/*
	 * Connections PostgreSQL makes to peers (pglogical's workers, dblink
	 * from the joiner's queries) present this node's certificate and
	 * check the peer's against the cluster CA: libpq reads these.
	 */
	pg_env(data, "PGSSLCERT", "kmd-tls/server.crt");
	pg_env(data, "PGSSLKEY", "kmd-tls/server.key");
	pg_env(data, "PGSSLROOTCERT", "kmd-tls/ca.crt");
	execl(bin, bin, "-D", data, (char *)NULL);
	_exit(127);
}

/*
 * Install PostgreSQL's TLS files (from the hsm worker) and reload it so
 * it serves TLS and accepts peers' certificates.  The key is wiped from
 * the message buffer by the caller.
 */
int
pg_tls_write(struct parent *p, const struct tls_files *tf, char *err,
    size_t errlen)
{
	struct child	*c = &p->children[PROC_POSTGRES];

	if (!TERMINATED(tf->key) ||
	    !TERMINATED(tf->cert) ||
	    !TERMINATED(tf->ca) ||
	    strncmp(tf->cert, "-----BEGIN CERTIFICATE-----", 27) != 0 ||
	    strncmp(tf->ca, "-----BEGIN CERTIFICATE-----", 27) != 0 ||
	    strstr(tf->key, "PRIVATE KEY-----") == NULL) {
		snprintf(err, errlen, "malformed TLS files");
		return -1;
	}
	if (pg_write(p, "data/kmd-tls/server.key", tf->key) == -1 ||
	    pg_write(p, "data/kmd-tls/server.crt", tf->cert) == -1 ||
	    pg_write(p, "data/kmd-tls/ca.crt", tf->ca) == -1 ||
	    pg_write_conf(p) == -1) {
		snprintf(err, errlen, "cannot write PostgreSQL's TLS files: %s",
		    strerror(errno));
		return -1;
	}
	if (c != NULL && c->pid > 0)
		kill(c->pid, SIGHUP);
	log_info("installed this node's TLS certificate; postgres reloaded");
	return 0;
}

/* Take the TLS files away again (a join refused before it changed data). */
void
pg_tls_remove(struct parent *p)
{
	struct child	*c = &p->children[PROC_POSTGRES];
	const char	*leaf[] = { "data/kmd-tls/server.key",
			    "data/kmd-tls/server.crt", "data/kmd-tls/ca.crt" };
	size_t		 i;

	for (i = 0; i < sizeof(leaf) / sizeof(leaf[0]); i++)
		(void)pg_unlink(p, leaf[i]);
	if (pg_write_conf(p) == -1)
		log_warn("%s: cannot rewrite PostgreSQL's configuration",
		    __func__);
	if (c != NULL && c->pid > 0)
		kill(c->pid, SIGHUP);
	log_info("removed the TLS certificate of a refused join; postgres"
	    " reloaded");
}

/*
 * The software root-of-trust key: 32 random bytes in a root-only file,
 * made once.  The parent never reads it; it passes the open file to the
 * hsm worker.
 */
int
rot_open(const struct parent *p)
{
	char		 path[PATH_MAX];
	unsigned char	 key[32];
	int		 fd;

	snprintf(path, sizeof(path), "%s/rot.key", p->conf.datadir);
	if ((fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW)) != -1)
		return fd;
	if (errno != ENOENT ||
	    (fd = open(path, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0600)) ==
	    -1) {
		log_warn("%s: %s", __func__, path);
		return -1;
	}
	randombytes_buf(key, sizeof(key));
	if (write(fd, key, sizeof(key)) != sizeof(key) || fsync(fd) == -1) {
		log_warn("%s: %s", __func__, path);
		close(fd);
		unlink(path);
		fd = -1;
	} else
		log_info("created the software root-of-trust key %s", path);
	sodium_memzero(key, sizeof(key));
	return fd;
}

/*
 * rot-keys: a new software key appended to the file (-1: the file is
 * full, or cannot be written; err says why), or slot `index` zeroed.
 * The parent writes random bytes or zeros; it still never reads a key.
 */
static int
rot_write(const struct parent *p, int index, char *err, size_t errlen)
{
	char		 path[PATH_MAX];
	unsigned char	 key[32];
	struct stat	 st;
	off_t		 off;
	int		 fd, r = -1;

	snprintf(path, sizeof(path), "%s/rot.key", p->conf.datadir);
	if ((fd = open(path, O_WRONLY | O_CLOEXEC | O_NOFOLLOW)) == -1 ||
	    fstat(fd, &st) == -1) {
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		goto done;
	}
	off = index == -1 ? st.st_size : (off_t)index * 32;
	if (index == -1 && st.st_size >= ROT_SOFT_MAX * 32) {
		snprintf(err, errlen, "this node has %d software keys, the"
		    " most it keeps", ROT_SOFT_MAX);
		goto done;
	}
	if (index == -1)
		randombytes_buf(key, sizeof(key));
	else
		memset(key, 0, sizeof(key));
	if (pwrite(fd, key, sizeof(key), off) != sizeof(key) ||
	    fsync(fd) == -1)
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
	else
		r = 0;
done:
	sodium_memzero(key, sizeof(key));
	if (fd != -1)
		close(fd);
	return r;
}

int
rot_grow(const struct parent *p, char *err, size_t errlen)
{
	if (rot_write(p, -1, err, errlen) == -1)
		return -1;
	log_info("appended a software root-of-trust key to %s/rot.key",
	    p->conf.datadir);
	return 0;
}

int
rot_zero(const struct parent *p, int index, char *err, size_t errlen)
{
	if (index < 1 || index >= ROT_SOFT_MAX) {
		snprintf(err, errlen, "no such software key");
		return -1;
	}
	if (rot_write(p, index, err, errlen) == -1)
		return -1;
	log_info("zeroed software root-of-trust key %d in %s/rot.key", index,
	    p->conf.datadir);
	return 0;
}
