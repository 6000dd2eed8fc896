/*
 * PostgreSQL's own words for a replication that fails here, for the
 * summary's clusterErrors.  pglogical 2.4.2 keeps no error in its status
 * view; the server's log has it.  A failing apply worker logs
 * "ERROR:  <text>" under its pid and exits, and the postmaster then logs
 *   background worker "pglogical apply <db>:<sub_id>" (PID <pid>) exited
 *   with exit code 1
 * The parent reads what postgres appends to its log (opened as the
 * database user, like every file under <datadir>/pg; each line begins
 * "<time> UTC [<pid>] ", pg.c), keeps the last ERROR of each pid, and at
 * such an exit tells replmon which subscription failed, when and why.
 * The postmaster's own lines carry no user@database; a message's line
 * breaks reach the log as a newline and a tab: no client's text can pass
 * for that line.
 */
#include <sys/stat.h>

#include <errno.h>
#include <event2/event.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "kmd.h"
#include "log.h"
#include "util.h"

#define PGLOG_EVERY_MS	1000
#define PGLOG_READ_MAX	(1024 * 1024)	/* a wake's share; the rest next */
#define PGLOG_BEHIND_MAX (16 * 1024 * 1024)	/* further behind: skip */
#define PGLOG_LINE_MAX	2048		/* a longer line is cut there */
#define PGLOG_PIDS	32		/* pids whose last ERROR is kept */

struct pglog_err {
	long		 pid;
	char		 when[32];
	char		 msg[KMD_ERR_MAX];
};

struct pglog {
	struct parent	*p;
	struct event	*ev;
	int		 fd;
	size_t		 n;		/* bytes of the line so far */
	char		 line[PGLOG_LINE_MAX];
	struct pglog_err err[PGLOG_PIDS];
	size_t		 next;		/* the slot taken next */
};

/*
 * "2026-12-07 11:01:43.626 UTC [7476] " -> when, pid, rest; when in ISO
 * 8601 to the microsecond, as every other time kmd shows
 * ("2026-12-07T11:01:43.626000Z").
 */
static const char *
pglog_prefix(const char *l, char *when, size_t whenlen, long *pid)
{
	const char	*b;
	char		*e;

	if (strlen(l) < 24 || l[4] != '-' || l[10] != ' ' || l[19] != '.' ||
	    (b = strstr(l + 23, " [")) == NULL || b - l > 30)
		return NULL;
	*pid = strtol(b + 2, &e, 10);
	if (e == b + 2 || *pid <= 0 || e[0] != ']' || e[1] != ' ')
		return NULL;
	snprintf(when, whenlen, "%.10sT%.12s000Z", l, l + 11);
	return e + 2;
}

static struct pglog_err *
pglog_err_of(struct pglog *g, long pid, int make)
{
	size_t	 i;

	for (i = 0; i < PGLOG_PIDS; i++)
		if (g->err[i].pid == pid)
			return &g->err[i];
	if (!make)
		return NULL;
	i = g->next++ % PGLOG_PIDS;
	g->err[i].pid = pid;
	return &g->err[i];
}

static void
pglog_line(struct pglog *g, const char *l)
{
	struct apply_error	 ae;
	struct pglog_err	*e;
	struct child		*rm;
	const char		*rest, *msg;
	char			 when[32];
	unsigned int		 db, sub;
	long			 pid, wpid;
	int			 code, used = 0;
	size_t			 i;

	if ((rest = pglog_prefix(l, when, sizeof(when), &pid)) == NULL)
		return;
	if ((msg = strstr(rest, "ERROR:  ")) != NULL ||
	    (msg = strstr(rest, "FATAL:  ")) != NULL) {
		/* "ERROR:  text" as "ERROR: text" */
		e = pglog_err_of(g, pid, 1);
		kmd_strlcpy(e->when, when, sizeof(e->when));
		snprintf(e->msg, sizeof(e->msg), "%.6s %s", msg, msg + 8);
		return;
	}
	if (sscanf(rest, "LOG:  background worker \"pglogical apply %u:%u\""
	    " (PID %ld) exited with exit code %d%n", &db, &sub, &wpid, &code,
	    &used) != 4 || used == 0 || code == 0 ||
	    (e = pglog_err_of(g, wpid, 0)) == NULL)
		return;
	memset(&ae, 0, sizeof(ae));
	ae.subid = sub;
	kmd_strlcpy(ae.when, e->when, sizeof(ae.when));
	kmd_strlcpy(ae.msg, e->msg, sizeof(ae.msg));
	for (i = 0; ae.msg[i] != '\0'; i++)
		if ((unsigned char)ae.msg[i] < 0x20)
			ae.msg[i] = ' ';
	e->pid = 0;
	if ((rm = proc_child(g->p, PROC_REPLMON)) != NULL && rm->ch != NULL)
		kchan_send(rm->ch, IMSG_APPLY_ERROR, 0, -1, &ae, sizeof(ae));
}

/* Open the log as the database user, from its end; -1 until it exists. */
static void
pglog_open(struct pglog *g)
{
	char	 path[PATH_MAX];

	snprintf(path, sizeof(path), "%s/pg/postgres.log",
	    g->p->conf.datadir);
	if (as_db(g->p) == -1)
		return;
	g->fd = open(path, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
	as_root();
	if (g->fd != -1 && lseek(g->fd, 0, SEEK_END) == -1) {
		close(g->fd);
		g->fd = -1;
	}
	g->n = 0;
}

static void
pglog_read(evutil_socket_t fd, short ev, void *arg)
{
	struct pglog	*g = arg;
	struct stat	 st;
	char		 buf[65536];
	size_t		 total = 0, i;
	ssize_t		 r;
	off_t		 at = 0;

	(void)fd;
	(void)ev;
	/*
	 * A log removed (services reset) or cut short: start again.  One
	 * that grows faster than it is read (a flood of another kind of
	 * line): its end, so that what is told stays current.
	 */
	if (g->fd != -1 && (fstat(g->fd, &st) == -1 || st.st_nlink == 0 ||
	    st.st_size < (at = lseek(g->fd, 0, SEEK_CUR)))) {
		close(g->fd);
		g->fd = -1;
	} else if (g->fd != -1 && st.st_size - at > PGLOG_BEHIND_MAX) {
		log_warnx("PostgreSQL's log grows faster than it is read for"
		    " replication errors; %lld bytes of it skipped",
		    (long long)(st.st_size - at));
		lseek(g->fd, 0, SEEK_END);
		g->n = 0;
	}
	if (g->fd == -1)
		pglog_open(g);
	while (g->fd != -1 && total < PGLOG_READ_MAX &&
	    (r = read(g->fd, buf, sizeof(buf))) > 0) {
		total += (size_t)r;
		for (i = 0; i < (size_t)r; i++) {
			if (buf[i] != '\n') {
				if (g->n < sizeof(g->line) - 1)
					g->line[g->n++] = buf[i];
				continue;
			}
			g->line[g->n] = '\0';
			pglog_line(g, g->line);
			g->n = 0;
		}
	}
	/* what the server logged is not the parent's to keep */
	explicit_bzero(buf, total < sizeof(buf) ? total : sizeof(buf));
}

void
pglog_start(struct parent *p)
{
	struct pglog	*g;
	struct timeval	 tv = { 0, PGLOG_EVERY_MS * 1000 };

	if ((g = calloc(1, sizeof(*g))) == NULL)
		fatal("%s", __func__);
	g->p = p;
	g->fd = -1;
	if ((g->ev = event_new(p->base, -1, EV_PERSIST, pglog_read, g)) ==
	    NULL || event_add(g->ev, &tv) == -1)
		fatalx("%s: event", __func__);
	p->pglog = g;
}

void
pglog_stop(struct parent *p)
{
	struct pglog	*g = p->pglog;

	if (g == NULL)
		return;
	event_free(g->ev);
	if (g->fd != -1)
		close(g->fd);
	free(g);
	p->pglog = NULL;
}
