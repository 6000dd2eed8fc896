/*
 * kmctl's questions on the terminal: the confirmation of a change, and a
 * password read without echo.
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <termios.h>
#include <unistd.h>

#include "kmctl.h"
#include "util.h"

/* "Are you sure" on the terminal; -y answers it; no terminal, no yes. */
void
confirm(const struct parse_result *res, const char *question)
{
	char	 line[16];

	if (res->flag[F_YES] != NULL)
		return;
	if (!isatty(STDIN_FILENO))
		die("%s: give -y to confirm (there is no terminal to ask)",
		    res->path);
	fprintf(stderr, "%s [y/N] ", question);
	if (fgets(line, sizeof(line), stdin) == NULL ||
	    (strcmp(line, "y\n") != 0 && strcmp(line, "yes\n") != 0))
		die("%s: not confirmed; nothing was changed", res->path);
}

static volatile sig_atomic_t	 pw_signo;

static void
pw_catch(int signo)
{
	pw_signo = signo;
}

/* What may come while the terminal does not echo: each ends the read. */
static const int pw_signals[] = { SIGINT, SIGTERM, SIGHUP, SIGQUIT,
	SIGTSTP, SIGTTIN, SIGTTOU };

/*
 * A line from the terminal without echo.  A signal during it (Ctrl-C,
 * Ctrl-Z, a hang-up) restores the terminal first, then takes its usual
 * course, sent again; after a stop and a resume the question is asked
 * again.  As readpassphrase(3) does, without a library for one function.
 * -1: the line did not fit in len.
 */
static int
read_tty_line(const char *prompt, char *buf, size_t len)
{
	struct sigaction	 sa, old[sizeof(pw_signals) / sizeof(int)];
	struct termios		 t, saved;
	size_t			 i, n;
	int			 toolong;
	char			 c;

	for (;;) {
		pw_signo = 0;
		memset(&sa, 0, sizeof(sa));
		sigemptyset(&sa.sa_mask);
		sa.sa_handler = pw_catch;	/* no SA_RESTART: read() ends */
		/* one ignored (kmctl run in the background) stays so */
		for (i = 0; i < nitems(pw_signals); i++)
			if (sigaction(pw_signals[i], NULL, &old[i]) == 0 &&
			    old[i].sa_handler != SIG_IGN)
				sigaction(pw_signals[i], &sa, NULL);
		if (tcgetattr(STDIN_FILENO, &saved) == -1)
			die("cannot read the terminal: %s", strerror(errno));
		t = saved;
		t.c_lflag &= ~(ECHO | ECHONL);
		t.c_lflag |= ICANON;
		tcsetattr(STDIN_FILENO, TCSAFLUSH, &t);
		fputs(prompt, stderr);
		n = 0;
		toolong = 0;
		while (pw_signo == 0 && read(STDIN_FILENO, &c, 1) == 1 &&
		    c != '\n') {
			if (n + 1 < len)
				buf[n++] = c;
			else
				toolong = 1;
		}
		buf[n] = '\0';
		tcsetattr(STDIN_FILENO, TCSAFLUSH, &saved);
		fputc('\n', stderr);
		for (i = 0; i < nitems(pw_signals); i++)
			sigaction(pw_signals[i], &old[i], NULL);
		if (pw_signo == 0)
			return toolong ? -1 : 0;
		explicit_bzero(buf, len);
		kill(getpid(), pw_signo);	/* its own action, now */
		if (pw_signo != SIGTSTP && pw_signo != SIGTTIN &&
		    pw_signo != SIGTTOU)
			die("interrupted; nothing was changed");
	}
}

/* Read a secret: from the terminal without echo, else one stdin line. */
void
read_password(const char *prompt, char *buf, size_t len)
{
	size_t		 n;

	if (isatty(STDIN_FILENO)) {
		if (read_tty_line(prompt, buf, len) == -1) {
			explicit_bzero(buf, len);
			die("the password is longer than %zu bytes", len - 2);
		}
	} else {
		if (fgets(buf, len, stdin) == NULL)
			buf[0] = '\0';
		n = strcspn(buf, "\n");
		if (buf[n] != '\n' && !feof(stdin) && strlen(buf) == len - 1)
			die("the password is longer than %zu bytes", len - 2);
		buf[n] = '\0';
	}
	if (buf[0] == '\0')
		die("no password given");
}
