#include <sys/prctl.h>
#include <sys/resource.h>

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <time.h>

#include "util.h"

/* Copy with truncation; returns strlen(src) so callers can detect it. */
size_t
kmd_strlcpy(char *dst, const char *src, size_t dstsize)
{
	size_t	 len = strlen(src);

	if (dstsize > 0) {
		size_t n = len < dstsize - 1 ? len : dstsize - 1;
		memcpy(dst, src, n);
		dst[n] = '\0';
	}
	return len;
}

/*
 * Take a fixed-width string field out of a received message: it must be
 * NUL-terminated inside its width.  Returns -1 (EBADMSG) otherwise.
 */
int
kmd_strfield(char *dst, size_t dstsize, const void *field, size_t width)
{
	const char	*p = field;

	if (memchr(p, '\0', width) == NULL || strlen(p) >= dstsize) {
		errno = EBADMSG;
		return -1;
	}
	memcpy(dst, p, strlen(p) + 1);
	return 0;
}

int
set_nonblock(int fd)
{
	int	 fl = fcntl(fd, F_GETFL);

	if (fl == -1)
		return -1;
	return fcntl(fd, F_SETFL, fl | O_NONBLOCK);
}

/*
 * No core file and no ptrace by other users: a kmd process holds PINs,
 * passwords and keys in memory.  RLIMIT_CORE 0 goes on to every child.
 */
int
kmd_nodump(void)
{
	struct rlimit	 rl = { 0, 0 };

	return setrlimit(RLIMIT_CORE, &rl) == -1 ||
	    prctl(PR_SET_DUMPABLE, 0, 0, 0, 0) == -1 ? -1 : 0;
}

/* dup(2), but close-on-exec like every other descriptor kmd opens. */
int
dup_cloexec(int fd)
{
	return fcntl(fd, F_DUPFD_CLOEXEC, 0);
}

/* Seconds on the monotonic clock. */
/* Monotonic milliseconds. */
int64_t
mono_ms(void)
{
	struct timespec	 ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int64_t
mono_now(void)
{
	struct timespec	 ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec;
}

/* A UUID's text form: 8-4-4-4-12 hex digits, either case. */
int
kmd_is_uuid(const char *s)
{
	int	 i;

	for (i = 0; i < 36; i++)
		if (i == 8 || i == 13 || i == 18 || i == 23 ? s[i] != '-' :
		    !isxdigit((unsigned char)s[i]))
			return 0;
	return s[36] == '\0';
}
