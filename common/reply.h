/*
 * The typed reply to one request, collected frame by frame until END or
 * ERROR.  kmctl and the api worker read replies with the same code, so a
 * frame is checked (size, NUL-terminated strings, order) in one place.
 */
#ifndef KMD_REPLY_H
#define KMD_REPLY_H

#include <stddef.h>

#include "kmsg.h"
#include "proto.h"

#define REPLY_PROCS_MAX	16
#define REPLY_NODES_MAX	1000
#define REPLY_CHECKS_MAX	16
#define REPLY_ROWS_MAX	1024	/* summary: 20 reporters x 20 nodes, and some */
#define REPLY_ALARMS_MAX	1000
#define REPLY_KEYS_MAX	1000
#define REPLY_USERS_MAX	1024
#define REPLY_BACKUPS_MAX	1024
#define REPLY_VERIFY_MAX	4096	/* 20 nodes: 3 tables, 100 rows each */
#define REPLY_TEXT_MAX	(512 * 1024)	/* metrics */

struct reply {
	struct cluster_info	 info;
	int			 haveinfo;
	struct ctl_proc		 procs[REPLY_PROCS_MAX];
	size_t			 nprocs;
	struct nodes_page	 page;
	int			 havepage;
	struct node_info	*nodes;
	size_t			 nnodes;
	size_t			 nodescap;
	struct auth_result	 auth;
	int			 haveauth;
	struct csr_reply	*csr;		/* malloc'd */
	struct join_check	 checks[REPLY_CHECKS_MAX];
	size_t			 nchecks;
	struct node_credentials	*cred;		/* malloc'd */
	struct summary_row	*rows;		/* malloc'd */
	size_t			 nrows;
	size_t			 rowscap;
	int			 havesummary;	/* END with no rows is one */
	struct rotkey_info	 rotkeys[KMD_ROTKEYS_MAX];
	size_t			 nrotkeys;
	struct alarm_info	*alarms;	/* malloc'd */
	size_t			 nalarms;
	size_t			 alarmscap;
	struct key_info		*keys;		/* malloc'd */
	size_t			 nkeys;
	size_t			 keyscap;
	struct key_crypt	*crypt;		/* malloc'd */
	struct version_info	 version;
	int			 haveversion;
	struct upgrade_info	 upgrade;
	int			 haveupgrade;
	struct health_info	 health;
	int			 havehealth;
	char			*text;		/* malloc'd: METRICS_TEXT */
	size_t			 textlen;
	struct bkey_info	*bkeys;		/* malloc'd */
	size_t			 nbkeys;
	size_t			 bkeyscap;
	struct backup_info	*backups;	/* malloc'd */
	size_t			 nbackups;
	size_t			 backupscap;
	struct backup_progress	 progress;	/* the latest */
	int			 haveprogress;
	struct verify_row	*verify;	/* malloc'd */
	size_t			 nverify;
	size_t			 verifycap;
	struct user_info	*users;		/* malloc'd */
	size_t			 nusers;
	size_t			 userscap;
};

/* What a reply holds when complete, and what is shown of it. */
enum print_what { P_NONE, P_INFO, P_STATUS, P_NODES, P_NODE, P_CSR, P_CRED,
	P_SUMMARY, P_ALARMS, P_ROTKEYS, P_KEYS, P_KEY, P_CRYPT, P_VERSION,
	P_USERS, P_USER, P_UPGRADE, P_HEALTH,
	P_METRICS, P_BKEY, P_BKEYS, P_BKEY_FILE, P_BACKUP, P_BACKUPS,
	P_VERIFY };

int	reply_frame(struct reply *, const struct kmsg *);
int	reply_complete(const struct reply *, enum print_what);
int	reply_error(const struct kmsg *, const char **);
void	reply_clear(struct reply *);

#endif
