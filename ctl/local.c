/*
 * kmctl over kmd's control socket: one typed request, its reply frames
 * read and checked until END (printed) or ERROR (kmd's message, exit 1).
 */
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/un.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "kmctl.h"
#include "kmsg.h"
#include "nodestatus.h"
#include "output.h"
#include "proto.h"
#include "reply.h"
#include "util.h"

/* Preflight lines of a join are printed as they come, once. */
static int	show_checks = 1;

int		ctl_timeout = KMCTL_TIMEOUT;	/* --timeout, seconds */

static int
ctl_connect(const char *path)
{
	struct sockaddr_un	 sun;
	struct timeval		 tv = { ctl_timeout, 0 };
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

/* Print what the reply holds; a reply that lacks it is kmd's fault. */
static int
ctl_done(const struct ctl_action *a, struct reply *r)
{
	if (a->print == P_INFO && r->nchecks > 0 && !r->haveinfo)
		return 0;		/* a preflight: its lines are out */
	if (!reply_complete(r, a->print))
		die("incomplete reply from kmd");
	if (a->action == A_BACKUPS_DOWNLOAD)
		backup_save();
	if (print_reply(r, a->print) == -1)
		return -1;
	if (a->print == P_HEALTH && r->health.state != HEALTH_READY)
		exit_answered(KMCTL_EXIT_NOT_SERVING);
	if (a->print == P_VERIFY && !r->verify[0].ok)
		exit_answered(KMCTL_EXIT_DIFFERENT);
	return 0;
}

void
ctl_call(const char *path, uint16_t type, const void *req, size_t reqlen,
    struct reply *r)
{
	struct kbuf	 kb;
	struct kmsg	 m;
	const char	*msg;
	ssize_t		 n;
	int		 fd, got, senderr = 0;

	fd = ctl_connect(path);
	memset(r, 0, sizeof(*r));
	if (kbuf_init(&kb, fd) == -1 ||
	    kbuf_compose(&kb, type, 0, getpid(), ctl_fd_in, req, reqlen) ==
	    -1)
		die("%s: %s", __func__, strerror(errno));
	/* A refused client still reads kmd's reason, so go on reading. */
	ctl_fd_in = -1;		/* the channel closes it once sent */
	if (kbuf_flush(&kb) != 1)
		senderr = errno;
	for (;;) {
		while ((got = kbuf_get(&kb, &m)) == 1) {
			if (m.fd != -1 && ctl_fd_out == -1 &&
			    m.hdr.type == IMSG_BACKUP_INFO) {
				ctl_fd_out = m.fd;
				m.fd = -1;
			}
			kmsg_closefd(&m);
			if (m.hdr.type == IMSG_CTL_END && m.datalen == 0) {
				kbuf_clear(&kb);
				close(fd);
				return;
			}
			if (reply_error(&m, &msg) == 0)
				die("%s", msg);
			if (reply_frame(r, &m) == -1)
				die("unexpected reply from kmd (%s, %zu bytes)",
				    imsg_type_name(m.hdr.type), m.datalen);
			if (reply_last(m.hdr.type)) {
				kbuf_clear(&kb);
				close(fd);
				return;
			}
			if (m.hdr.type == IMSG_BACKUP_PROGRESS)
				fprintf(stderr, "%s: %lld of %lld rows\n",
				    r->progress.what,
				    (long long)r->progress.rows,
				    (long long)r->progress.total);
			if (m.hdr.type == IMSG_JOIN_CHECK && show_checks)
				print_check(type == IMSG_CTL_NODES_CREATE ?
				    "nodes create" : "preflight",
				    &r->checks[r->nchecks - 1]);
		}
		if (got == -1)
			die("malformed reply from kmd: %s", strerror(errno));
		if ((n = kbuf_read(&kb)) == -1) {
			if (errno == EINTR)
				continue;
			if (errno == EAGAIN)
				die("kmd did not answer within %d s",
				    ctl_timeout);
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
ctl_run(const char *path, const struct ctl_action *a, const void *req,
    size_t reqlen)
{
	static struct reply r;
	int		 ret;

	ctl_call(path, a->type, req, reqlen, &r);
	ret = ctl_done(a, &r);
	reply_clear(&r);
	return ret;
}

/*
 * cluster join: the preflight (its lines on stderr), the question, the
 * join; with --block, the stages as they pass, until ready or killed.
 */
int
ctl_join(const char *path, const struct parse_result *res,
    const struct ctl_action *a, struct cluster_join *cj)
{
	static struct reply r;
	char		 last[KMD_STATUS_CODE_MAX] = "", lastp[128] = "";
	int		 ret;

	ctl_call(path, a->type, cj, sizeof(*cj), &r);
	reply_clear(&r);
	confirm(res, a->prompt);
	cj->preflight_only = 0;
	show_checks = 0;	/* the same checks again, already shown */
	ctl_call(path, a->type, cj, sizeof(*cj), &r);
	explicit_bzero(cj, sizeof(*cj));
	if (!r.haveinfo)
		die("incomplete reply from kmd");
	if (res->flag[F_BLOCK] == NULL) {
		ret = print_reply(&r, P_INFO);
		reply_clear(&r);
		return ret;
	}
	for (;;) {
		if (strcmp(r.info.code, last) != 0 ||
		    strcmp(r.info.progress, lastp) != 0) {
			fprintf(stderr, "join: %s%s%s\n", r.info.desc,
			    r.info.progress[0] ? ": " : "", r.info.progress);
			kmd_strlcpy(last, r.info.code, sizeof(last));
			kmd_strlcpy(lastp, r.info.progress, sizeof(lastp));
		}
		if (ns_parse(r.info.code) == NS_READY)
			break;
		if (ns_parse(r.info.code) == NS_KILLED ||
		    ns_parse(r.info.code) == NS_UNKNOWN) {
			print_reply(&r, P_INFO);
			die("cluster join failed: %s", r.info.error[0] ?
			    r.info.error : r.info.desc);
		}
		reply_clear(&r);
		usleep(200000);
		ctl_call(path, IMSG_CTL_CLUSTER_INFO, NULL, 0, &r);
	}
	ret = print_reply(&r, P_INFO);
	reply_clear(&r);
	return ret;
}
