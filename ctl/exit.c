/*
 * How kmctl ends: an error on one line and exit 1 (die), exit 2 for a
 * node that does not serve (kmctl health), exit 3 for nodes that differ
 * (kmctl cluster verify); and --out's file, removed
 * when kmctl fails before it is whole.  Below every other file of ctl/.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "kmctl.h"

/*
 * --out (or export's --file): the answer's file, removed when kmctl fails
 * before it is whole.
 */
static const char	*out_path, *out_flag = "out";
static int		 out_whole;

void
die(const char *fmt, ...)
{
	va_list	 ap;

	if (out_path != NULL && !out_whole)
		unlink(out_path);
	fputs("kmctl: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	exit(1);
}

/*
 * --out=FILE: what kmctl prints goes to FILE, a new file of mode 0600
 * (credentials are in it), made before the request so that a request
 * that goes through always has its answer kept.
 */
void
out_open(const char *flag, const char *path)
{
	int	 fd;

	if ((fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC,
	    0600)) == -1)
		die("--%s: cannot make %s: %s%s", flag, path, strerror(errno),
		    errno == EEXIST ? " (remove it, or give another name)" :
		    "");
	out_path = path;
	out_flag = flag;
	if (dup2(fd, STDOUT_FILENO) == -1)
		die("--%s: %s", flag, strerror(errno));
	close(fd);
}

void
out_close(const char *what)
{
	if (fflush(stdout) == EOF || fsync(STDOUT_FILENO) == -1)
		die("--%s: cannot write %s: %s", out_flag, out_path,
		    strerror(errno));
	out_whole = 1;
	if (isatty(STDERR_FILENO))	/* for the hand, not for scripts */
		fprintf(stderr, "kmctl: %s: the answer is in %s\n", what,
		    out_path);
}

/*
 * The node answered, and its answer is not the good one (its JSON is
 * out): kmctl health of a node that does not serve, kmctl cluster verify
 * of nodes that differ.
 */
void
exit_answered(int code)
{
	if (fflush(stdout) == EOF)
		die("cannot write the output: %s", strerror(errno));
	exit(code);
}
