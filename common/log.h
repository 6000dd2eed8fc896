/*
 * Logging: syslog (LOG_DAEMON) by default, stderr in the foreground (-d).
 * Every line names the process ("kmd[parent]", "kmd[replmon]", ...).
 */
#ifndef KMD_LOG_H
#define KMD_LOG_H

#include <stdarg.h>
#include <stdint.h>

/*
 * A line that may repeat many times a second (a failing accept, a flood
 * of bad requests): logged at most once per period, with how many were
 * held back since.
 */
struct lograte {
	int64_t		 next;		/* monotonic ms */
	unsigned	 held;
};
int	log_rate(struct lograte *, int64_t now_ms, int64_t every_ms,
	    unsigned *held);

void	log_init(int foreground, int verbose, const char *procname);
void	log_setverbose(int);
int	log_getverbose(void);
void	log_procname(const char *);
void	log_warn(const char *, ...) __attribute__((format(printf, 1, 2)));
void	log_warnx(const char *, ...) __attribute__((format(printf, 1, 2)));
void	log_info(const char *, ...) __attribute__((format(printf, 1, 2)));
void	log_debug(const char *, ...) __attribute__((format(printf, 1, 2)));
void	fatal(const char *, ...)
	    __attribute__((format(printf, 1, 2), noreturn));
void	fatalx(const char *, ...)
	    __attribute__((format(printf, 1, 2), noreturn));

#endif
