/*
 * kmctl: kmd's admin tool.  Locally it speaks kmsg over kmd's control
 * socket; with a URL it speaks HTTPS to kmd's REST API (remote.c).  Each
 * action maps to one typed request, which both transports carry, and the
 * JSON printed is the same either way.
 * Exit status: 0 on success, 1 on any error (one line on stderr).
 */
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/un.h>
#include <sys/wait.h>

#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <openssl/evp.h>

#include "kmctl.h"
#include "kmsg.h"
#include "nodestatus.h"
#include "output.h"
#include "parser.h"
#include "proto.h"
#include "reply.h"
#include "util.h"

#define KMCTL_SOCKET	"/run/kmd/kmd.sock"


/* One row per command, from the operation catalogue (common/ops.h). */
#define CTL_ACTION(act, type, print, role, cls, method, path, build, rest, \
    prompt)	{ act, type, build, print, method, path, rest, prompt },
static const struct ctl_action actions[] = {
	OPS(CTL_ACTION)
};

/* The catalogue's row of the command parsed; NULL: none (a group). */
static const struct ctl_action *
action_of(const struct parse_result *res)
{
	size_t	 i;

	for (i = 0; i < sizeof(actions) / sizeof(actions[0]); i++)
		if (actions[i].action == res->action &&
		    res->action != A_NONE)
			return &actions[i];
	return NULL;
}

/*
 * services reset destroys the node's backup keys: say so of each made
 * here and never exported (its only copy), before the question; and the
 * node's own writes that a peer has not received and never will (its
 * slot here for that peer lost: the node shows the peer lost), which
 * `cluster nodes delete --force' on a member names.  Asked in a child,
 * whose errors are its own: a reset must go on when the database that
 * would answer is what is broken.
 */
static void
reset_warn(const char *path)
{
	static struct reply	 r;
	struct bkey_req		 rq;
	struct nodes_query	 nq;
	const char		*me = "ID";
	size_t			 i;
	pid_t			 pid;
	int			 st;

	fflush(stderr);
	if ((pid = fork()) == -1)
		return;
	if (pid != 0) {
		waitpid(pid, &st, 0);
		return;
	}
	memset(&rq, 0, sizeof(rq));
	rq.op = BKEY_LIST;
	/* its warnings to kmctl's stderr, its own errors nowhere */
	if (dup2(STDERR_FILENO, STDOUT_FILENO) == -1 ||
	    freopen("/dev/null", "w", stderr) == NULL)
		_exit(1);
	ctl_call(path, IMSG_CTL_BACKUP_KEYS, &rq, sizeof(rq), &r);
	for (i = 0; i < r.nbkeys; i++)
		if (strcmp(r.bkeys[i].origin, "made") == 0 &&
		    r.bkeys[i].exported[0] == '\0')
			printf("kmctl: WARNING: backup key %s was never"
			    " exported: the reset destroys its only copy, and"
			    " the backups made with it can never be restored"
			    " (backup-keys export first)\n", r.bkeys[i].id);
	memset(&nq, 0, sizeof(nq));
	nq.limit = 256;		/* as nodes list asks */
	ctl_call(path, IMSG_CTL_NODES, &nq, sizeof(nq), &r);
	for (i = 0; i < r.nnodes; i++)
		if (r.nodes[i].this_node)
			me = r.nodes[i].nodeid;
	for (i = 0; i < r.nnodes; i++)
		if (!r.nodes[i].this_node && strcmp(r.nodes[i].code,
		    NS_C_LOST) == 0)
			printf("kmctl: WARNING: node %s (%s) cannot receive"
			    " this node's writes any more (its replication"
			    " slot here was lost): what was written here since"
			    " exists here only and the reset wipes it; on a"
			    " member, cluster nodes delete --id=%s --force"
			    " names it first\n", r.nodes[i].nodeid,
			    r.nodes[i].host, me);
	fflush(stdout);
	_exit(0);
}

/* Build the typed request, ask the catalogue's question, send it. */
static int
run(const struct parse_result *res, const struct ctl_action *a,
    struct remote *rem, const char *path)
{
	static union ctl_request req;
	size_t		 reqlen = 0;
	int		 ret;

	if (rem->url[0] != '\0' && a->rest_path == NULL)
		die("%s works on the local socket only: run it on the node,"
		    " without --url", res->path);
	if (a->build != NULL && a->build(res, &req, &reqlen) == -1)
		die("%s: bad arguments", res->path);
	if (a->action == A_SERVICES_RESET && rem->url[0] == '\0')
		reset_warn(path);
	/* A join asks between its preflight and the join itself. */
	if (a->prompt != NULL && a->action != A_CLUSTER_JOIN)
		confirm(res, a->prompt);
	if (rem->url[0] != '\0')
		ret = a->action == A_CLUSTER_JOIN ?
		    remote_join(rem, res, a, &req.cj) :
		    remote_run(rem, a, &req);
	else if (a->action == A_CLUSTER_JOIN)
		ret = ctl_join(path, res, a, &req.cj);
	else
		ret = ctl_run(path, a, &req, reqlen);
	explicit_bzero(&req, sizeof(req));
	return ret;
}

/*
 * A password given on the command line: kept in kmctl's own memory and
 * wiped from argv, so that ps shows it no longer (it was visible while
 * kmctl started: kmctl.8 says what to use instead).
 */
static void
hide_arg(const char **val, char *buf, size_t len)
{
	if (*val == NULL || **val == '\0')
		return;
	if (kmd_strlcpy(buf, *val, len) >= len)
		die("the password on the command line is too long");
	explicit_bzero((char *)*val, strlen(*val));
	*val = buf;
}

int
main(int argc, char *argv[])
{
	static char		 pw[1024], newpw[1024];
	struct parse_result	 res;
	struct remote		 rem;
	const struct ctl_action	*a;
	const char		*path;
	char			 err[1024];
	int			 ret;

	if (kmd_nodump() == -1)
		die("no core dumps: %s", strerror(errno));
	if (argc < 2) {
		memset(&res, 0, sizeof(res));
		parse_usage(stderr, &res);
		return 1;
	}
	if (parse(argc, argv, &res, err, sizeof(err)) == -1)
		die("%s", err);
	hide_arg(&res.global[G_PASSWORD], pw, sizeof(pw));
	hide_arg(&res.flag[F_NEWNODEPASS], newpw, sizeof(newpw));
	if (res.help) {
		parse_usage(stdout, &res);
		return 0;
	}
	if (res.global[G_OUTPUT] != NULL) {
		if (strcmp(res.global[G_OUTPUT], "table") == 0)
			output_table(1);
		else if (strcmp(res.global[G_OUTPUT], "json") != 0)
			die("-o: json or table, not '%s'",
			    res.global[G_OUTPUT]);
	}
	if (res.action == A_COMPLETION) {
		parse_completion_bash(stdout);
		return fflush(stdout) == EOF ? 1 : 0;
	}
	if ((a = action_of(&res)) == NULL)
		die("%s: not implemented yet", res.path);
	if (remote_settings(&res, &rem) == -1)
		die("%s", rem.err);
	ctl_timeout = rem.timeout;
	if ((path = res.socket) == NULL && (path = getenv("KMCTL_SOCKET")) ==
	    NULL)
		path = KMCTL_SOCKET;
	/* backup-keys export --file: its answer is the file */
	if (res.flag[F_OUT] != NULL)
		out_open("out", res.flag[F_OUT]);
	else if (res.action == A_BKEYS_EXPORT) {
		res.flag[F_OUT] = res.flag[F_FILE];
		out_open("file", res.flag[F_OUT]);
	}
	if (a->action == A_CLUSTER_FULLJOIN)
		ret = ctl_fulljoin(path, &res, &rem, a);
	else
		ret = run(&res, a, &rem, path);
	explicit_bzero(&rem, sizeof(rem));
	if (ret == -1)
		die("cannot write the output: %s", strerror(errno));
	if (res.flag[F_OUT] != NULL)
		out_close(res.path);
	return 0;
}
