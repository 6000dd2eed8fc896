/*
 * kmctl: kmd's admin tool.  Locally it speaks kmsg over kmd's control
 * socket; each action maps to one request message and a reply reader.
 * Exit status: 0 on success, 1 on any error (one line on stderr).
 */
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/un.h>

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "kmsg.h"
#include "output.h"
#include "parser.h"
#include "proto.h"
#include "util.h"

#define KMCTL_SOCKET	"/run/kmd/kmd.sock"
#define KMCTL_TIMEOUT	60		/* seconds without a frame */
#define PROCS_MAX	16

struct reply {
	struct cluster_info	 info;
	struct ctl_proc		 procs[PROCS_MAX];
	size_t			 nprocs;
};

static int	on_proc(struct reply *, const struct kmsg *);
static int	on_info(struct reply *, const struct kmsg *);
static int	done_status(struct reply *);
static int	done_info(struct reply *);

/* One row per action kmctl can send; the others are not built yet. */
static const struct ctl_action {
	enum action	 action;
	uint16_t	 type;
	uint16_t	 reply_type;
	size_t		 reply_len;
	int		(*on_frame)(struct reply *, const struct kmsg *);
	int		(*done)(struct reply *);
} actions[] = {
	{ A_STATUS, IMSG_CTL_STATUS, IMSG_CTL_PROC, sizeof(struct ctl_proc),
	    on_proc, done_status },
	{ A_CLUSTER_INFO, IMSG_CTL_CLUSTER_INFO, IMSG_CLUSTER_INFO_REPLY,
	    sizeof(struct cluster_info), on_info, done_info },
};

static void __attribute__((noreturn, format(printf, 1, 2)))
die(const char *fmt, ...)
{
	va_list	 ap;

	fputs("kmctl: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	exit(1);
}

static int
on_proc(struct reply *r, const struct kmsg *m)
{
	struct ctl_proc	*cp;

	if (r->nprocs == PROCS_MAX)
		return -1;
	cp = &r->procs[r->nprocs];
	memcpy(cp, m->data, sizeof(*cp));
	if (memchr(cp->role, '\0', sizeof(cp->role)) == NULL ||
	    memchr(cp->user, '\0', sizeof(cp->user)) == NULL)
		return -1;
	r->nprocs++;
	return 0;
}

static int
on_info(struct reply *r, const struct kmsg *m)
{
	memcpy(&r->info, m->data, sizeof(r->info));
	if (memchr(r->info.nodeid, '\0', sizeof(r->info.nodeid)) == NULL ||
	    memchr(r->info.code, '\0', sizeof(r->info.code)) == NULL ||
	    memchr(r->info.desc, '\0', sizeof(r->info.desc)) == NULL)
		return -1;
	return 0;
}

static int
done_status(struct reply *r)
{
	return print_status(r->procs, r->nprocs);
}

static int
done_info(struct reply *r)
{
	return print_cluster_info(&r->info);
}

static int
ctl_connect(const char *path)
{
	struct sockaddr_un	 sun;
	struct timeval		 tv = { KMCTL_TIMEOUT, 0 };
	int			 fd;

	memset(&sun, 0, sizeof(sun));
	sun.sun_family = AF_UNIX;
	if (kmd_strlcpy(sun.sun_path, path, sizeof(sun.sun_path)) >=
	    sizeof(sun.sun_path))
		die("socket path too long: %s", path);
	if ((fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0)) == -1)
		die("socket: %s", strerror(errno));
	if (connect(fd, (struct sockaddr *)&sun, sizeof(sun)) == -1)
		die("cannot connect to kmd at %s: %s", path, strerror(errno));
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	return fd;
}

/* Read frames until END or ERROR; every frame is checked before use. */
static int
ctl_run(int fd, const struct ctl_action *a, const char *path)
{
	struct reply	 r;
	struct kbuf	 kb;
	struct kmsg	 m;
	ssize_t		 n;
	int		 got, senderr = 0;

	memset(&r, 0, sizeof(r));
	if (kbuf_init(&kb, fd) == -1 ||
	    kbuf_compose(&kb, a->type, 0, getpid(), -1, NULL, 0) == -1)
		die("%s: %s", __func__, strerror(errno));
	/* A refused client still reads kmd's reason, so go on reading. */
	if (kbuf_flush(&kb) != 1)
		senderr = errno;
	for (;;) {
		while ((got = kbuf_get(&kb, &m)) == 1) {
			kmsg_closefd(&m);
			if (m.hdr.type == IMSG_CTL_END && m.datalen == 0) {
				kbuf_clear(&kb);
				return a->done(&r);
			}
			if (m.hdr.type == IMSG_CTL_ERROR && m.datalen > 0 &&
			    m.datalen <= KMD_ERR_MAX &&
			    m.data[m.datalen - 1] == '\0')
				die("%s", (const char *)m.data);
			if (m.hdr.type != a->reply_type ||
			    m.datalen != a->reply_len || a->on_frame(&r, &m))
				die("unexpected reply from kmd (%s, %zu bytes)",
				    imsg_type_name(m.hdr.type), m.datalen);
		}
		if (got == -1)
			die("malformed reply from kmd: %s", strerror(errno));
		if ((n = kbuf_read(&kb)) == -1) {
			if (errno == EINTR)
				continue;
			if (errno == EAGAIN)
				die("kmd did not answer within %d s",
				    KMCTL_TIMEOUT);
			die("read from kmd: %s", strerror(errno));
		}
		if (n == 0 && senderr != 0)
			die("cannot send to kmd at %s: %s", path,
			    strerror(senderr));
		if (n == 0)
			die("kmd closed the connection before answering");
	}
}

int
main(int argc, char *argv[])
{
	struct parse_result	 res;
	const struct ctl_action	*a = NULL;
	const char		*path;
	char			 err[1024];
	size_t			 i;
	int			 fd;

	if (argc < 2) {
		memset(&res, 0, sizeof(res));
		parse_usage(stderr, &res);
		return 1;
	}
	if (parse(argc, argv, &res, err, sizeof(err)) == -1)
		die("%s", err);
	if (res.help) {
		parse_usage(stdout, &res);
		return 0;
	}
	for (i = 0; i < sizeof(actions) / sizeof(actions[0]); i++)
		if (actions[i].action == res.action)
			a = &actions[i];
	if (a == NULL)
		die("%s: not implemented yet", res.path);
	if ((path = res.socket) == NULL && (path = getenv("KMCTL_SOCKET")) ==
	    NULL)
		path = KMCTL_SOCKET;
	fd = ctl_connect(path);
	if (ctl_run(fd, a, path) == -1)
		die("cannot write the output: %s", strerror(errno));
	close(fd);
	return 0;
}
