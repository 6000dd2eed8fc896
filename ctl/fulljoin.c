/*
 * cluster fulljoin, run against a member (its socket, or --url): the
 * joining node's CSR over its API, nodes create on the member, the join
 * on the joining node; then, with --newnodeconfig, the cluster's
 * credentials written to that file.
 */
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "kmctl.h"
#include "output.h"
#include "proto.h"
#include "reply.h"
#include "util.h"

/*
 * Put user and password into a config file, keeping its other lines;
 * written to a temporary file, mode 600, then renamed over it.
 */
static int
remote_config_write(const char *path, const char *user, const char *pw)
{
	FILE	*in, *out;
	char	 tmp[1100], line[2048], *k;
	int	 fd;

	if (snprintf(tmp, sizeof(tmp), "%s.XXXXXX", path) >= (int)sizeof(tmp) ||
	    (fd = mkstemp(tmp)) == -1)
		return -1;
	if ((out = fdopen(fd, "w")) == NULL) {
		close(fd);
		unlink(tmp);
		return -1;
	}
	if ((in = fopen(path, "re")) != NULL) {
		while (fgets(line, sizeof(line), in) != NULL) {
			k = line + strspn(line, " \t");
			if ((strncmp(k, "user", 4) == 0 && strchr(" \t=",
			    k[4]) != NULL) || (strncmp(k, "password", 8) == 0 &&
			    strchr(" \t=", k[8]) != NULL))
				continue;
			fputs(line, out);
		}
		fclose(in);
	}
	fprintf(out, "user = %s\npassword = %s\n", user, pw);
	explicit_bzero(line, sizeof(line));
	if (fclose(out) != 0 || rename(tmp, path) == -1) {
		unlink(tmp);
		return -1;
	}
	return 0;
}

/* A string member of a parsed reply, or die naming it. */
static const char *
json_member(yajl_val v, const char *key, const char *what)
{
	const char	*path[] = { key, NULL };
	yajl_val	 s = yajl_tree_get(v, path, yajl_t_string);

	if (s == NULL)
		die("%s: the reply has no %s", what, key);
	return YAJL_GET_STRING(s);
}

/* The joining node's API: --newnodeconfig, or the three flags. */
static void
newnode_settings(const struct parse_result *res, const struct remote *rem,
    struct remote *nn)
{
	const char	*url = res->flag[F_NEWNODEURL];

	if (res->flag[F_NEWNODECONFIG] != NULL) {
		if (url != NULL || res->flag[F_NEWNODEUSER] != NULL ||
		    res->flag[F_NEWNODEPASS] != NULL)
			die("%s: give --newnodeconfig or --newnodeurl,"
			    " --newnodeuser and --newnodepass, not both",
			    res->path);
		if (remote_config_file(res->flag[F_NEWNODECONFIG], nn) == -1)
			die("--newnodeconfig: %s", nn->err);
	} else {
		if (url == NULL || res->flag[F_NEWNODEUSER] == NULL ||
		    res->flag[F_NEWNODEPASS] == NULL)
			die("%s: give --newnodeconfig, or --newnodeurl,"
			    " --newnodeuser and --newnodepass", res->path);
		memset(nn, 0, sizeof(*nn));
		nn->timeout = rem->timeout;
		field(nn->url, sizeof(nn->url), url, "newnodeurl");
		field(nn->user, sizeof(nn->user), res->flag[F_NEWNODEUSER],
		    "newnodeuser");
		field(nn->password, sizeof(nn->password),
		    res->flag[F_NEWNODEPASS], "newnodepass");
	}
	/*
	 * The member's CA file serves the joining node too, unless its own
	 * settings name one.  Never the member's nosslverify: the joining
	 * node is checked unless its own settings say otherwise.
	 */
	if (nn->cacert[0] == '\0' && !nn->nosslverify)
		memcpy(nn->cacert, rem->cacert, sizeof(nn->cacert));
}

/* The joining node's CSR, over its API, into the nodes create request. */
static void
fulljoin_csr(struct rsession *ns, const struct parse_result *res,
    struct nodes_create *nc)
{
	static struct rest_req	 rr;
	const char		*kv[2];
	yajl_val		 v;

	fprintf(stderr, "Attempting to get the CSR from the joining"
	    " node...\n");
	memset(&rr, 0, sizeof(rr));
	kv[0] = "host";
	kv[1] = res->flag[F_NEWNODEHOST];
	if (rest_body(&rr, kv, 1) == -1)
		die("--newnodehost is too long");
	v = rsession_call(ns, "POST", "cluster/csr", &rr);
	field(nc->csr, sizeof(nc->csr), json_member(v, "csr", "cluster csr"),
	    "csr");
	yajl_tree_free(v);
	fprintf(stderr, "Finished getting the CSR from the joining node...\n");
	field(nc->host, sizeof(nc->host), res->flag[F_NEWNODEHOST],
	    "newnodehost");
	nc->shared_hsm = res->flag[F_SHAREDHSM] != NULL;
}

/* nodes create on the member: over its API, or its socket. */
static void
fulljoin_create(const char *path, struct remote *rem,
    const struct nodes_create *nc, struct cluster_join *cj)
{
	static struct reply	 r;
	static struct rest_req	 rr;
	struct rsession		*ms;
	yajl_val		 v;

	fprintf(stderr, "Attempting to get the Certificate and CA Chain from"
	    " the member node...\n");
	if (rem->url[0] != '\0') {
		ms = rsession_open(rem);
		memset(&rr, 0, sizeof(rr));
		if (rest_create(nc, &rr) == -1)
			die("the request is too large");
		v = rsession_call(ms, "POST", "nodes", &rr);
		field(cj->cert, sizeof(cj->cert), json_member(v, "cert",
		    "nodes create"), "cert");
		field(cj->cachain, sizeof(cj->cachain), json_member(v,
		    "cachain", "nodes create"), "cachain");
		field(cj->mkek_blob, sizeof(cj->mkek_blob), json_member(v,
		    "mkek_blob", "nodes create"), "mkek_blob");
		yajl_tree_free(v);
		rsession_close(ms);
	} else {
		ctl_call(path, IMSG_CTL_NODES_CREATE, nc, sizeof(*nc), &r);
		if (r.cred == NULL)
			die("incomplete reply from kmd");
		memcpy(cj->cert, r.cred->cert, sizeof(cj->cert));
		memcpy(cj->cachain, r.cred->cachain, sizeof(cj->cachain));
		memcpy(cj->mkek_blob, r.cred->mkek_blob,
		    sizeof(cj->mkek_blob));
		reply_clear(&r);
	}
	fprintf(stderr, "Finished getting the Certificate and CA Chain from"
	    " the member node...\n");
}

/* --newnodeconfig: write the cluster's credentials there, if asked to. */
static void
fulljoin_config(const struct parse_result *res, const struct remote *rem)
{
	const char	*cfg = res->flag[F_NEWNODECONFIG];
	char		 line[16];

	if (cfg == NULL)
		return;
	if (res->flag[F_YES] == NULL && !isatty(STDIN_FILENO)) {
		fprintf(stderr, "kmctl: %s keeps the joining node's old"
		    " credentials (no terminal to ask, no -y)\n", cfg);
		return;
	}
	if (res->flag[F_YES] == NULL) {
		fprintf(stderr, "When a node joins a cluster, the node adopts"
		    " the credentials of the cluster. Would you like to write"
		    " the new cluster credentials to the provided"
		    " configuration file? [y/N] ");
		if (fgets(line, sizeof(line), stdin) == NULL ||
		    (strcmp(line, "y\n") != 0 && strcmp(line, "yes\n") != 0))
			return;
	}
	if (rem->url[0] == '\0') {
		fprintf(stderr, "kmctl: the member was reached over its control"
		    " socket, so the cluster's API credentials are not known"
		    " here: put the cluster's user and password in %s\n", cfg);
		return;
	}
	if (remote_config_write(cfg, rem->user, rem->password) == -1)
		die("cannot write %s: %s", cfg, strerror(errno));
	fprintf(stderr, "Wrote the cluster's credentials to %s\n", cfg);
}

/*
 * cluster fulljoin, run against a member (its socket, or --url): the
 * joining node's CSR over its API, nodes create here, the join there.
 */
int
ctl_fulljoin(const char *path, const struct parse_result *res,
    struct remote *rem, const struct ctl_action *a)
{
	static struct rest_req	 rr;
	static struct nodes_create nc;
	static struct cluster_join cj;
	struct remote		 nn;
	struct rsession		*ns;
	yajl_val		 v;
	int			 ret;

	newnode_settings(res, rem, &nn);
	confirm(res, a->prompt);
	ns = rsession_open(&nn);
	fulljoin_csr(ns, res, &nc);
	fulljoin_create(path, rem, &nc, &cj);
	fprintf(stderr, "Attempting to join the new node to the member's"
	    " cluster...\n");
	field(cj.member, sizeof(cj.member), res->flag[F_MEMBER], "member");
	field(cj.host, sizeof(cj.host), res->flag[F_NEWNODEHOST],
	    "newnodehost");
	memset(&rr, 0, sizeof(rr));
	if (rest_join(&cj, &rr) == -1)
		die("the request is too large");
	v = rsession_call(ns, "POST", "cluster/join", &rr);
	explicit_bzero(&cj, sizeof(cj));
	explicit_bzero(&rr, sizeof(rr));
	explicit_bzero(&nc, sizeof(nc));
	ret = print_json(v);
	yajl_tree_free(v);
	rsession_close(ns);
	explicit_bzero(&nn, sizeof(nn));
	fulljoin_config(res, rem);
	return ret;
}
