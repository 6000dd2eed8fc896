/*
 * kmctl: kmd's admin tool.  Locally it speaks kmsg over kmd's control
 * socket; each action maps to one request message and a reply reader.
 * Exit status: 0 on success, 1 on any error (one line on stderr).
 */
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/un.h>

#include <ctype.h>
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

#define NODES_MAX	64

struct reply {
	struct cluster_info	 info;
	struct ctl_proc		 procs[PROCS_MAX];
	size_t			 nprocs;
	struct nodes_page	 page;
	int			 havepage;
	struct node_info	 nodes[NODES_MAX];
	size_t			 nnodes;
};

typedef int	(*build_fn)(const struct parse_result *, void *, size_t *);
typedef int	(*frame_fn)(struct reply *, const struct kmsg *);
typedef int	(*done_fn)(struct reply *);

static int	build_new(const struct parse_result *, void *, size_t *);
static int	build_nodes(const struct parse_result *, void *, size_t *);
static int	on_proc(struct reply *, const struct kmsg *);
static int	on_info(struct reply *, const struct kmsg *);
static int	on_nodes(struct reply *, const struct kmsg *);
static int	done_status(struct reply *);
static int	done_info(struct reply *);
static int	done_nodes_list(struct reply *);
static int	done_nodes_get(struct reply *);

/*
 * One row per action kmctl can send: its request (and the builder of its
 * payload), the reader of each reply frame, the printer at END.  The
 * actions not listed are not built yet.
 */
static const struct ctl_action {
	enum action	 action;
	uint16_t	 type;
	build_fn	 build;
	frame_fn	 on_frame;
	done_fn		 done;
} actions[] = {
	{ A_STATUS, IMSG_CTL_STATUS, NULL, on_proc, done_status },
	{ A_CLUSTER_INFO, IMSG_CTL_CLUSTER_INFO, NULL, on_info, done_info },
	{ A_CLUSTER_NEW, IMSG_CTL_CLUSTER_NEW, build_new, on_info, done_info },
	{ A_NODES_LIST, IMSG_CTL_NODES, build_nodes, on_nodes,
	    done_nodes_list },
	{ A_NODES_GET, IMSG_CTL_NODES, build_nodes, on_nodes, done_nodes_get },
};

static void
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

static void	die(const char *, ...)
		    __attribute__((noreturn, format(printf, 1, 2)));

/* Copy a flag into a fixed field, or say which flag is too long. */
static void
field(char *dst, size_t len, const char *v, const char *flag)
{
	if (v != NULL && kmd_strlcpy(dst, v, len) >= len)
		die("--%s is longer than %zu bytes", flag, len - 1);
}

static int
build_new(const struct parse_result *res, void *buf, size_t *len)
{
	struct cluster_new	*cn = buf;

	memset(cn, 0, sizeof(*cn));
	field(cn->host, sizeof(cn->host), res->flag[F_HOST], "host");
	field(cn->url, sizeof(cn->url), res->flag[F_URL], "url");
	field(cn->pubaddr, sizeof(cn->pubaddr), res->flag[F_PUBADDR],
	    "public-address");
	*len = sizeof(*cn);
	return 0;
}

/* A node id: a UUID, with or without its dashes; kept with them. */
static void
node_id(char *dst, size_t len, const char *v)
{
	char	 hex[33];
	size_t	 i, n = 0;

	for (i = 0; v[i] != '\0' && n < 33; i++) {
		if (v[i] == '-' && (i == 8 || i == 13 || i == 18 || i == 23))
			continue;
		if (!isxdigit((unsigned char)v[i]))
			break;
		hex[n++] = tolower((unsigned char)v[i]);
	}
	if (v[i] != '\0' || n != 32)
		die("--id: '%s' is not a node id (a UUID, as cluster nodes"
		    " list shows them)", v);
	snprintf(dst, len, "%.8s-%.4s-%.4s-%.4s-%.12s", hex, hex + 8,
	    hex + 12, hex + 16, hex + 20);
}

static int
build_nodes(const struct parse_result *res, void *buf, size_t *len)
{
	struct nodes_query	*q = buf;

	memset(q, 0, sizeof(*q));
	q->skip = res->flag[F_SKIP] ? atoi(res->flag[F_SKIP]) : 0;
	q->limit = res->flag[F_LIMIT] ? atoi(res->flag[F_LIMIT]) : 256;
	if (q->limit > 1000)
		die("--limit is at most 1000");
	if (res->flag[F_ID] != NULL)
		node_id(q->id, sizeof(q->id), res->flag[F_ID]);
	*len = sizeof(*q);
	return 0;
}

static int
fields_ok(const struct node_info *n)
{
	return memchr(n->nodeid, '\0', sizeof(n->nodeid)) != NULL &&
	    memchr(n->code, '\0', sizeof(n->code)) != NULL &&
	    memchr(n->desc, '\0', sizeof(n->desc)) != NULL &&
	    memchr(n->host, '\0', sizeof(n->host)) != NULL &&
	    memchr(n->pubaddr, '\0', sizeof(n->pubaddr)) != NULL;
}

static int
on_nodes(struct reply *r, const struct kmsg *m)
{
	if (m->hdr.type == IMSG_NODES_PAGE && m->datalen == sizeof(r->page) &&
	    !r->havepage) {
		memcpy(&r->page, m->data, sizeof(r->page));
		r->havepage = 1;
		return 0;
	}
	if (m->hdr.type != IMSG_NODE_INFO || m->datalen !=
	    sizeof(struct node_info) || r->nnodes == NODES_MAX)
		return -1;
	memcpy(&r->nodes[r->nnodes], m->data, sizeof(struct node_info));
	return fields_ok(&r->nodes[r->nnodes++]) ? 0 : -1;
}

static int
done_nodes_list(struct reply *r)
{
	return print_nodes(&r->page, r->nodes, r->nnodes);
}

static int
done_nodes_get(struct reply *r)
{
	if (r->nnodes != 1)
		return -1;
	return print_node(&r->nodes[0]);
}

static int
on_proc(struct reply *r, const struct kmsg *m)
{
	struct ctl_proc	*cp;

	if (m->hdr.type != IMSG_CTL_PROC || m->datalen != sizeof(*cp) ||
	    r->nprocs == PROCS_MAX)
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
	if (m->hdr.type != IMSG_CLUSTER_INFO_REPLY ||
	    m->datalen != sizeof(r->info))
		return -1;
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
ctl_run(int fd, const struct ctl_action *a, const struct parse_result *res,
    const char *path)
{
	static struct reply r;
	union {
		struct cluster_new	 cn;
		struct nodes_query	 nq;
	}		 req;
	size_t		 reqlen = 0;
	struct kbuf	 kb;
	struct kmsg	 m;
	ssize_t		 n;
	int		 got, senderr = 0;

	memset(&r, 0, sizeof(r));
	if (a->build != NULL && a->build(res, &req, &reqlen) == -1)
		die("%s: bad arguments", res->path);
	if (kbuf_init(&kb, fd) == -1 ||
	    kbuf_compose(&kb, a->type, 0, getpid(), -1, &req, reqlen) == -1)
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
			if (a->on_frame(&r, &m) == -1)
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
	if (ctl_run(fd, a, &res, path) == -1)
		die("cannot write the output: %s", strerror(errno));
	close(fd);
	return 0;
}
