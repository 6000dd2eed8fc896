/*
 * What kmctl's parts share: the action table's row, the REST form of a
 * typed request, and the remote settings (flags, environment, config file).
 */
#ifndef KMCTL_KMCTL_H
#define KMCTL_KMCTL_H

#include <stddef.h>
#include <stdint.h>

#include "output.h"
#include "parser.h"

#define KMCTL_TIMEOUT	60		/* seconds, locally and remotely */

struct rest_req {
	char		 path[512];	/* under /api/v1/ */
	char		 body[16384];
	size_t		 bodylen;
};

typedef int	(*build_fn)(const struct parse_result *, void *, size_t *);
typedef int	(*rest_fn)(const void *, struct rest_req *);

struct ctl_action {
	enum action	 action;
	uint16_t	 type;		/* the request message */
	build_fn	 build;		/* its payload; NULL: none */
	enum print_what	 print;
	const char	*method;	/* remote: NULL, local only */
	const char	*rest_path;
	rest_fn		 rest;		/* NULL: rest_path as it is */
};

struct remote {
	char		 url[512];	/* "": use the local socket */
	char		 user[64];
	char		 password[256];
	char		 cacert[1024];
	int		 nosslverify;
	int		 timeout;
	char		 err[1024];
};

void	die(const char *, ...) __attribute__((noreturn, format(printf, 1, 2)));
void	read_password(const char *, char *, size_t);

/* remote.c */
int	remote_settings(const struct parse_result *, struct remote *);
int	remote_run(struct remote *, const struct ctl_action *, const void *);
int	remote_join(struct remote *, const struct parse_result *,
	    const struct ctl_action *, struct cluster_join *);
void	confirm(const struct parse_result *, const char *);
struct rsession;
struct rsession	*rsession_open(struct remote *);
yajl_val	 rsession_call(struct rsession *, const char *, const char *,
		    const struct rest_req *);
void		 rsession_close(struct rsession *);
int		 remote_config_file(const char *, struct remote *);
int		 remote_config_write(const char *, const char *, const char *);
const char	*json_member(yajl_val, const char *, const char *);
int	rest_body(struct rest_req *, const char **, size_t);
int	rest_body_flag(struct rest_req *, const char **, size_t,
	    const char *, int);
int	rest_body_num(struct rest_req *, const char **, size_t,
	    const char *, long long);

#endif
