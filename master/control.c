/*
 * The control socket: kmctl's way in.  Mode 0600 root (0660 with a
 * configured group), peer credentials checked on every accept.  A
 * client's frames go through the relay's table (relay.c), which answers
 * or routes them.
 */
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/un.h>

#include <errno.h>
#include <event2/event.h>
#include <grp.h>
#include <pwd.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "kmd.h"
#include "log.h"
#include "util.h"

static struct ctl_client *
control_client(struct parent *p, uint32_t id)
{
	struct ctl_client	*cl;

	TAILQ_FOREACH(cl, &p->clients, entry)
		if (cl->id == id)
			return cl;
	return NULL;
}

static void
control_drop_client(struct parent *p, struct ctl_client *cl)
{
	relay_client_gone(p, cl->id);
	TAILQ_REMOVE(&p->clients, cl, entry);
	p->nclients--;
	kchan_free(cl->ch);
	free(cl);
}

static void
control_client_closed(struct kchan *ch, const char *why, void *arg)
{
	struct parent		*p = arg;
	struct ctl_client	*cl = control_client(p, ch->id);

	if (why != NULL) {
		/* Tell the client why before hanging up, best effort. */
		log_warnx("control client (uid %u): %s", cl ? cl->uid : 0, why);
		if (kbuf_compose(&ch->kb, IMSG_CTL_ERROR, 0, getpid(), -1, why,
		    strlen(why) + 1) == 0)
			kbuf_flush(&ch->kb);
	}
	if (cl != NULL)
		control_drop_client(p, cl);
}

/* Root, or the configured group (primary or supplementary). */
static int
control_allowed(struct parent *p, const struct ucred *cr)
{
	struct passwd	*pw;
	struct group	*gr;
	char		**mem;

	if (cr->uid == 0)
		return 1;
	if (p->conf.sockgroup[0] == '\0')
		return 0;
	if (cr->gid == p->sockgid)
		return 1;
	if ((pw = getpwuid(cr->uid)) == NULL ||
	    (gr = getgrgid(p->sockgid)) == NULL)
		return 0;
	for (mem = gr->gr_mem; *mem != NULL; mem++)
		if (strcmp(*mem, pw->pw_name) == 0)
			return 1;
	return 0;
}

/* Tell a refused peer why, best effort, and hang up. */
static void
control_refuse(int fd, const char *msg)
{
	struct kbuf	 kb;

	log_warnx("control: %s", msg);
	if (kbuf_init(&kb, fd) == 0) {
		if (kbuf_compose(&kb, IMSG_CTL_ERROR, 0, getpid(), -1, msg,
		    strlen(msg) + 1) == 0)
			kbuf_flush(&kb);
		kbuf_clear(&kb);
	}
	close(fd);
}

/*
 * An accepted connection whose peer may use the socket becomes a client:
 * its frames go through ctl_handlers.  Also the way in for the parent's
 * dispatcher fuzzer (regress/fuzz/fuzz_dispatch_parent.c).
 */
struct ctl_client *
control_adopt(struct parent *p, int fd, uid_t uid)
{
	struct ctl_client	*cl;

	if ((cl = calloc(1, sizeof(*cl))) == NULL)
		return NULL;
	if ((cl->ch = kchan_new(p->base, fd, PROC_CTL, relay_ctl_handlers,
	    relay_ctl_nhandlers,
	    control_client_closed, p)) == NULL) {
		free(cl);
		return NULL;
	}
	cl->id = cl->ch->id = ++p->next_client;
	cl->uid = uid;
	TAILQ_INSERT_TAIL(&p->clients, cl, entry);
	p->nclients++;
	return cl;
}

static void
control_accept(evutil_socket_t lfd, short ev, void *arg)
{
	struct parent		*p = arg;
	struct ucred		 cr;
	socklen_t		 len = sizeof(cr);
	char			 msg[KMD_ERR_MAX];
	int			 fd;

	(void)ev;
	if ((fd = accept4(lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC)) ==
	    -1) {
		if (errno != EAGAIN && errno != EINTR)
			log_warn("%s: accept", __func__);
		return;
	}
	if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cr, &len) == -1) {
		log_warn("%s: SO_PEERCRED", __func__);
		close(fd);
		return;
	}
	if (!control_allowed(p, &cr)) {
		snprintf(msg, sizeof(msg), "permission denied: uid %u may not"
		    " use the control socket", (unsigned)cr.uid);
		control_refuse(fd, msg);
		return;
	}
	if (p->nclients >= CTL_CLIENTS_MAX) {
		control_refuse(fd, "too many control clients; try again");
		return;
	}
	if (control_adopt(p, fd, cr.uid) == NULL) {
		log_warn("%s: new client", __func__);
		close(fd);
	}
}

/* A socket someone answers on belongs to a running kmd: keep off it. */
static int
control_in_use(const struct sockaddr_un *sun)
{
	int	 fd, r;

	if ((fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0)) == -1)
		return 0;
	r = connect(fd, (const struct sockaddr *)sun, sizeof(*sun)) == 0;
	close(fd);
	return r;
}

/*
 * Bind and listen before kmd detaches, so that a busy socket or a bad
 * path is an error its caller sees in the exit status.
 */
int
control_listen(struct parent *p)
{
	struct sockaddr_un	 sun;
	mode_t			 old;
	char			 dir[sizeof(sun.sun_path)], *slash;
	int			 fd;

	memset(&sun, 0, sizeof(sun));
	sun.sun_family = AF_UNIX;
	kmd_strlcpy(sun.sun_path, p->conf.socket, sizeof(sun.sun_path));
	kmd_strlcpy(dir, p->conf.socket, sizeof(dir));
	if ((slash = strrchr(dir, '/')) != NULL && slash != dir) {
		*slash = '\0';
		/* Made here: 0755 whatever the umask (kmd.service's 077). */
		if (mkdir(dir, 0755) == 0 ? chmod(dir, 0755) == -1 :
		    errno != EEXIST) {
			log_warn("%s: mkdir %s", __func__, dir);
			return -1;
		}
	}
	if (control_in_use(&sun)) {
		log_warnx("%s: another kmd is running on %s", __func__,
		    sun.sun_path);
		return -1;
	}
	if (unlink(sun.sun_path) == -1 && errno != ENOENT) {
		log_warn("%s: unlink %s", __func__, sun.sun_path);
		return -1;
	}
	if ((fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC,
	    0)) == -1) {
		log_warn("%s: socket", __func__);
		return -1;
	}
	old = umask(0177);
	if (bind(fd, (struct sockaddr *)&sun, sizeof(sun)) == -1) {
		log_warn("%s: bind %s", __func__, sun.sun_path);
		umask(old);
		close(fd);
		return -1;
	}
	umask(old);
	if (p->conf.sockgroup[0] != '\0' && (chown(sun.sun_path, 0,
	    p->sockgid) == -1 || chmod(sun.sun_path, 0660) == -1))
		log_warn("%s: group access to %s", __func__, sun.sun_path);
	if (listen(fd, 16) == -1) {
		log_warn("%s: listen", __func__);
		close(fd);
		return -1;
	}
	p->ctl_fd = fd;
	return 0;
}

/* Accept clients on the socket control_listen() bound. */
int
control_start(struct parent *p)
{
	p->ctl_ev = event_new(p->base, p->ctl_fd, EV_READ | EV_PERSIST,
	    control_accept, p);
	if (p->ctl_ev == NULL || event_add(p->ctl_ev, NULL) == -1)
		return -1;
	return 0;
}

/* Stop listening, drop every client, remove the socket. */
void
control_close(struct parent *p)
{
	struct ctl_client	*cl;

	while ((cl = TAILQ_FIRST(&p->clients)) != NULL)
		control_drop_client(p, cl);
	if (p->ctl_ev != NULL) {
		event_free(p->ctl_ev);
		p->ctl_ev = NULL;
	}
	if (p->ctl_fd != -1) {
		close(p->ctl_fd);
		p->ctl_fd = -1;
		unlink(p->conf.socket);
	}
}
