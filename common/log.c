#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>
#include <time.h>
#include <unistd.h>

#include "log.h"

/* 1: log now (*held: how many were held back); 0: hold this one. */
int
log_rate(struct lograte *lr, int64_t now_ms, int64_t every_ms,
    unsigned *held)
{
	if (now_ms < lr->next) {
		lr->held++;
		return 0;
	}
	*held = lr->held;
	lr->held = 0;
	lr->next = now_ms + every_ms;
	return 1;
}

static struct {
	int	 foreground;
	int	 verbose;
	char	 name[32];
} logctx = { 1, 0, "kmd" };

void
log_init(int foreground, int verbose, const char *procname)
{
	logctx.foreground = foreground;
	logctx.verbose = verbose;
	log_procname(procname);
	if (!foreground)
		openlog("kmd", LOG_PID | LOG_NDELAY, LOG_DAEMON);
	tzset();
}

void
log_procname(const char *procname)
{
	snprintf(logctx.name, sizeof(logctx.name), "%s", procname);
}

void
log_setverbose(int v)
{
	logctx.verbose = v;
}

int
log_getverbose(void)
{
	return logctx.verbose;
}

static void
vlog(int pri, const char *fmt, va_list ap, int with_errno)
{
	char	 msg[1024];
	int	 saved = errno;

	vsnprintf(msg, sizeof(msg), fmt, ap);
	if (logctx.foreground) {
		if (with_errno)
			fprintf(stderr, "kmd[%s]: %s: %s\n", logctx.name, msg,
			    strerror(saved));
		else
			fprintf(stderr, "kmd[%s]: %s\n", logctx.name, msg);
		fflush(stderr);
	} else if (with_errno)
		syslog(pri, "%s: %s: %s", logctx.name, msg, strerror(saved));
	else
		syslog(pri, "%s: %s", logctx.name, msg);
	errno = saved;
}

#define LOGFN(fn, pri, err, cond)			\
void							\
fn(const char *fmt, ...)				\
{							\
	va_list	 ap;					\
							\
	if (!(cond))					\
		return;					\
	va_start(ap, fmt);				\
	vlog(pri, fmt, ap, err);			\
	va_end(ap);					\
}

LOGFN(log_warn, LOG_ERR, 1, 1)
LOGFN(log_warnx, LOG_ERR, 0, 1)
LOGFN(log_info, LOG_INFO, 0, 1)
LOGFN(log_debug, LOG_DEBUG, 0, logctx.verbose > 0)

void
fatal(const char *fmt, ...)
{
	va_list	 ap;

	va_start(ap, fmt);
	vlog(LOG_CRIT, fmt, ap, errno != 0);
	va_end(ap);
	exit(1);
}

void
fatalx(const char *fmt, ...)
{
	va_list	 ap;

	va_start(ap, fmt);
	vlog(LOG_CRIT, fmt, ap, 0);
	va_end(ap);
	exit(1);
}
