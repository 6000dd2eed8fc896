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
#include "proto.h"

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
	const char	*prompt;	/* asked before it runs; NULL: none */
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

void	read_password(const char *, char *, size_t);

/* args.c: each command's typed request and its REST form */
void	die(const char *, ...) __attribute__((noreturn, format(printf, 1, 2)));
void	exit_answered(int) __attribute__((noreturn));
void	out_open(const char *, const char *);
void	out_close(const char *);
#define KMCTL_EXIT_NOT_SERVING	2	/* kmctl health */
#define KMCTL_EXIT_DIFFERENT	3	/* kmctl cluster verify */
void	confirm(const struct parse_result *, const char *);
void	field(char *, size_t, const char *, const char *);
int	build_new(const struct parse_result *, void *, size_t *);
int	build_csr(const struct parse_result *, void *, size_t *);
int	build_create(const struct parse_result *, void *, size_t *);
int	build_join(const struct parse_result *, void *, size_t *);
int	build_nodes(const struct parse_result *, void *, size_t *);
int	build_alarms(const struct parse_result *, void *, size_t *);
int	build_delete(const struct parse_result *, void *, size_t *);
int	build_rotkeys(const struct parse_result *, void *, size_t *);
int	build_keys(const struct parse_result *, void *, size_t *);
int	build_user(const struct parse_result *, void *, size_t *);
int	build_bkeys(const struct parse_result *, void *, size_t *);
int	build_backups(const struct parse_result *, void *, size_t *);
void	backup_save(void);
int	backup_save_open(void);
void	backup_save_close(int, int, const char *);
void	backup_save_discard(int);
extern int	 ctl_timeout;	/* seconds kmd may take to answer */
extern int	 ctl_fd_in;	/* sent with the request; -1: none */
extern int	 ctl_fd_out;	/* came with the reply; -1: none */
int	rest_new(const void *, struct rest_req *);
int	rest_csr(const void *, struct rest_req *);
int	rest_create(const void *, struct rest_req *);
int	rest_join(const void *, struct rest_req *);
int	rest_nodes(const void *, struct rest_req *);
int	rest_alarms(const void *, struct rest_req *);
int	rest_delete(const void *, struct rest_req *);
int	rest_rotate(const void *, struct rest_req *);
int	rest_keys(const void *, struct rest_req *);
int	rest_user(const void *, struct rest_req *);
int	rest_health(const void *, struct rest_req *);
int	rest_bkeys(const void *, struct rest_req *);
int	rest_backups(const void *, struct rest_req *);

/* Every command's typed request, as its builder fills it. */
union ctl_request {
	struct cluster_new	 cn;
	struct nodes_query	 nq;
	struct user_set		 us;
	struct cluster_csr	 cc;
	struct nodes_create	 nc;
	struct cluster_join	 cj;
	struct nodes_delete	 nd;
	struct alarms_query	 aq;
	struct rotkeys_req	 rq;
	struct keys_req		 kq;
	struct bkey_req		 bk;
	struct backup_req	 br;
};

/* local.c: over the control socket */
struct reply;
void	ctl_call(const char *, uint16_t, const void *, size_t,
	    struct reply *);
int	ctl_run(const char *, const struct ctl_action *, const void *,
	    size_t);
int	ctl_join(const char *, const struct parse_result *,
	    const struct ctl_action *, struct cluster_join *);

/* fulljoin.c */
int	ctl_fulljoin(const char *, const struct parse_result *,
	    struct remote *, const struct ctl_action *);

/* remote.c */
int	remote_settings(const struct parse_result *, struct remote *);
int	remote_run(struct remote *, const struct ctl_action *, const void *);
int	remote_join(struct remote *, const struct parse_result *,
	    const struct ctl_action *, struct cluster_join *);
struct rsession;
struct rsession	*rsession_open(struct remote *);
yajl_val	 rsession_call(struct rsession *, const char *, const char *,
		    const struct rest_req *);
void		 rsession_close(struct rsession *);
int		 remote_config_file(const char *, struct remote *);
int	rest_body(struct rest_req *, const char **, size_t);
int	rest_body_flag(struct rest_req *, const char **, size_t,
	    const char *, int);
int	rest_body_num(struct rest_req *, const char **, size_t,
	    const char *, long long);

#endif
