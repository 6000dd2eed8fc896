/*
 * The monitor's alarms: raised while their condition holds, one syslog
 * message when one is raised and one when it clears, stored in the
 * node-local kmd_alarms by the tick's write, and shown in this node's
 * view of a peer as its clusterErrors, with PostgreSQL's words for a
 * failed apply of its changes.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <yajl_gen.h>

#include "json.h"
#include "log.h"
#include "monitor.h"
#include "replmon.h"
#include "util.h"

void
iso_now(char *buf, size_t len)
{
	struct timespec	 ts;
	struct tm	 tm;
	size_t		 n;

	clock_gettime(CLOCK_REALTIME, &ts);
	gmtime_r(&ts.tv_sec, &tm);
	n = strftime(buf, len, "%Y-%m-%dT%H:%M:%S", &tm);
	snprintf(buf + n, len - n, ".%06ldZ", ts.tv_nsec / 1000);
}

static struct alarm *
alarm_find(struct monitor *m, const char *kind, const char *subject)
{
	size_t	 i;

	for (i = 0; i < m->nalarms; i++)
		if (strcmp(m->alarms[i].kind, kind) == 0 &&
		    strcmp(m->alarms[i].subject, subject) == 0)
			return &m->alarms[i];
	return NULL;
}

/* The condition for an alarm holds: raise it unless it is up already. */
void
alarm_want(struct monitor *m, const char *kind, const char *subject,
    const char *fmt, ...)
{
	struct alarm	*a;
	va_list		 ap;

	if ((a = alarm_find(m, kind, subject)) != NULL) {
		if (a->state == AL_CLEARING) {
			a->state = AL_ACTIVE;	/* its row is still active */
			log_warnx("alarm raised again: %s", a->message);
		}
		a->live = 1;
		return;
	}
	if (m->nalarms == ALARMS_MAX)
		return;
	a = &m->alarms[m->nalarms++];
	memset(a, 0, sizeof(*a));
	kmd_strlcpy(a->kind, kind, sizeof(a->kind));
	kmd_strlcpy(a->subject, subject, sizeof(a->subject));
	va_start(ap, fmt);
	vsnprintf(a->message, sizeof(a->message), fmt, ap);
	va_end(ap);
	iso_now(a->raised, sizeof(a->raised));
	a->state = AL_NEW;
	a->live = 1;
	log_warnx("alarm: %s", a->message);
}

/* What one syslog line says when an alarm's condition has gone. */
static void
alarm_log_cleared(struct monitor *m, const struct alarm *a)
{
	const char	*host = "";
	size_t		 i;

	for (i = 0; i < m->npeers; i++)
		if (strcmp(m->peers[i].id, a->subject) == 0)
			host = m->peers[i].host;
	if (strcmp(a->kind, "node-down") == 0)
		log_info("alarm cleared: node %s (%s) is up again and has"
		    " caught up", a->subject, host);
	else if (strcmp(a->kind, "wal-retained") == 0)
		log_info("alarm cleared: the WAL kept for node %s (%s) is"
		    " back under the limit", a->subject, host);
	else if (strcmp(a->kind, "clock-skew") == 0)
		log_info("alarm cleared: the clock of node %s (%s) is back"
		    " within the limit", a->subject, host);
	else
		log_info("alarm cleared: %s", a->message);
}

/* Alarms whose condition did not hold this tick are cleared. */
void
alarms_settle(struct monitor *m)
{
	size_t	 i;

	for (i = 0; i < m->nalarms; i++) {
		struct alarm *a = &m->alarms[i];

		if (a->live || a->state == AL_CLEARING)
			continue;
		alarm_log_cleared(m, a);
		if (a->state == AL_NEW) {	/* never stored: forget it */
			m->alarms[i--] = m->alarms[--m->nalarms];
			continue;
		}
		a->state = AL_CLEARING;
	}
}

/* Does this alarm's condition hold this tick? */
int
alarm_up(struct monitor *m, const char *kind, const char *subject)
{
	struct alarm	*a = alarm_find(m, kind, subject);

	return a != NULL && a->live;
}

/* One of clusterErrors: {errorMessage, errorTime}, the array opened first. */
static void
gen_error(yajl_gen g, int *any, const char *msg, const char *when)
{
	if (!(*any)++)
		yajl_gen_array_open(g);
	yajl_gen_map_open(g);
	json_str(g, "errorMessage");
	json_str(g, msg);
	json_str(g, "errorTime");
	json_str(g, when);
	yajl_gen_map_close(g);
}

/*
 * A node's clusterErrors: extra, PostgreSQL's words for the failing
 * apply of its changes here (ae), the alarms up this tick; or null.
 */
void
gen_errors(yajl_gen g, const struct monitor *m, const char *subject,
    const char *extra, const struct apply_seen *ae)
{
	char	 now[ISO_MAX], msg[KMD_ERR_MAX + 128];
	size_t	 i;
	int	 any = 0;

	if (extra != NULL) {
		iso_now(now, sizeof(now));
		gen_error(g, &any, extra, now);
	}
	if (ae != NULL) {
		snprintf(msg, sizeof(msg), "applying the changes of node %s"
		    " here fails: %s", subject, ae->msg);
		gen_error(g, &any, msg, ae->when);
	}
	for (i = 0; i < m->nalarms; i++)
		if (m->alarms[i].live && strcmp(m->alarms[i].subject,
		    subject) == 0)
			gen_error(g, &any, m->alarms[i].message,
			    m->alarms[i].raised);
	if (any)
		yajl_gen_array_close(g);
	else
		yajl_gen_null(g);
}

/* The peer's summary: GOOD, or BAD and the first reason. */
void
peer_summary(struct monitor *m, const struct peer *p, int down,
    int blocked, int lost, char *summary, size_t len)
{
	const struct conf_worker *cw = &m->rm->w->conf;

	if (lost)
		kmd_strlcpy(summary, "BAD:its replication slot here was lost",
		    len);
	else if (down)
		kmd_strlcpy(summary, "BAD:node is inactive", len);
	else if (blocked)
		kmd_strlcpy(summary, "BAD:replication from the node is blocked",
		    len);
	else if (alarm_up(m, "wal-retained", p->id))
		snprintf(summary, len, "BAD:retained WAL above %d"
		    " MB", cw->alarm_wal_mb);
	else if (alarm_up(m, "clock-skew", p->id))
		snprintf(summary, len, "BAD:clock skew above %d ms",
		    cw->alarm_skew_ms);
	else
		kmd_strlcpy(summary, "GOOD", len);
}

/* The first of a peer's clusterErrors: its slot lost, or it blocked. */
void
peer_why(const struct peer *p, const char *sub, int blocked, int lost,
    char *why, size_t len)
{
	why[0] = '\0';
	if (lost)
		snprintf(why, len, "this node's replication slot for node %s"
		    " (%s) was lost: it held more WAL than wal max-retained,"
		    " and the node cannot catch up from here. Stop writing"
		    " through it, remove it (kmctl cluster nodes delete --id=%s"
		    " --force), run services reset on it and join it again",
		    p->id, p->host, p->id);
	else if (blocked)
		snprintf(why, len, "replication from node %s (%s) is"
		    " blocked: its subscription here is %s while the node is"
		    " connected; pglogical retries it", p->id, p->host, sub);
}

/* The alarms to store: raised ($2) or cleared ($3) since the last write. */
void
gen_alarms(yajl_gen g, const struct monitor *m, enum alarm_state st)
{
	size_t	 i;

	yajl_gen_array_open(g);
	for (i = 0; i < m->nalarms; i++) {
		const struct alarm *a = &m->alarms[i];

		if (a->state != st)
			continue;
		yajl_gen_map_open(g);
		json_str(g, "kind");
		json_str(g, a->kind);
		json_str(g, "subject");
		json_str(g, a->subject);
		if (st == AL_NEW) {
			json_str(g, "message");
			json_str(g, a->message);
			json_str(g, "raised");
			json_str(g, a->raised);
		}
		yajl_gen_map_close(g);
	}
	yajl_gen_array_close(g);
}

/*
 * PostgreSQL's words for a failed apply (master/pglog.c): kept by the
 * subscription's id, shown for a down or blocked peer while they are
 * younger than APPLY_SEEN_MS (pglogical retries a failed apply every
 * few seconds, and each failure is told again).
 */
#define APPLY_SEEN_MS	60000

void
monitor_apply_error(struct monitor *m, const struct apply_error *ae)
{
	struct apply_seen	*s = &m->applied[0];
	size_t			 i;

	for (i = 0; i < PEERS_MAX; i++) {
		if (m->applied[i].subid == ae->subid) {
			s = &m->applied[i];
			break;
		}
		if (m->applied[i].at < s->at)
			s = &m->applied[i];
	}
	s->subid = ae->subid;
	s->at = mono_ms();
	kmd_strlcpy(s->when, ae->when, sizeof(s->when));
	kmd_strlcpy(s->msg, ae->msg, sizeof(s->msg));
}

/* What is kept for a subscription (its id in decimal), if want. */
const struct apply_seen *
apply_seen_of(const struct monitor *m, int want, const char *id)
{
	unsigned long	 subid = strtoul(id, NULL, 10);
	size_t		 i;

	for (i = 0; want && i < PEERS_MAX; i++)
		if (m->applied[i].at != 0 && m->applied[i].subid == subid &&
		    mono_ms() - m->applied[i].at < APPLY_SEEN_MS)
			return &m->applied[i];
	return NULL;
}
