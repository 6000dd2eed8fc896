/*
 * kmd.conf: one statement per line, '#' starts a comment, strings may be
 * quoted ("...", with \" and \\) or bare words, numbers are decimal.
 *
 *	socket "/run/kmd/kmd.sock"
 *	socket group "kmadmin"
 *	user "_kmd"
 *	datadir "/var/lib/kmd"
 *	host "127.0.0.1"
 *	api listen "127.0.0.1" port 8443
 *	api token lifetime 3600
 *	dbuser "postgres"
 *	pgbin "/usr/lib/postgresql/15/bin"
 *	replmon interval 1000		milliseconds between ticks
 *	replmon down-after 2500		milliseconds without a peer's heartbeat
 *	alarm retained-wal 1024		megabytes of WAL kept for one peer
 *	alarm clock-skew 2000		milliseconds
 *	alarm cert-expiry 30		days before this node's certificate ends
 *	pending-node lifetime 3600	seconds a node's credentials (nodes
 *					create) wait for its join
 *	join stall-after 60		seconds a join may make no progress
 *	hsm module "/usr/lib/softhsm/libsofthsm2.so"	PKCS#11 root of trust
 *	hsm token "kmd"			the token's label
 *	hsm pin-file "/etc/kmd/hsm.pin"	root-only, the user PIN
 *	hsm key "kmd-rot"		the RoT key's label in the token
 *
 * Only the parent parses it; workers get their slice over kmsg.
 */
#ifndef KMD_CONFIG_H
#define KMD_CONFIG_H

#include <stdint.h>
#include <stdio.h>

#include "proto.h"

#define CONF_FILE_MAX	(64 * 1024)
#define CONF_HOST_MAX	254
#define CONF_SOCK_MAX	108		/* sun_path */
#define KMD_CONF_DEFAULT "/etc/kmd.conf"

struct kmd_conf {
	char		 socket[CONF_SOCK_MAX];
	char		 sockgroup[KMD_USER_MAX];	/* "" : root only */
	char		 user[KMD_USER_MAX];
	char		 datadir[KMD_PATH_MAX];
	char		 host[CONF_HOST_MAX];
	char		 api_addr[CONF_HOST_MAX];
	uint16_t	 api_port;
	int		 token_lifetime;	/* seconds */
	int		 api_max_conn;		/* open API connections */
	int		 api_read_timeout;	/* s to send a request */
	int		 api_login_rate;	/* logins checked a second */
	char		 dbuser[KMD_USER_MAX];
	char		 pgbin[KMD_PATH_MAX];
	int		 rm_interval;		/* ms */
	int		 rm_down_after;		/* ms */
	int		 alarm_wal_mb;
	int		 alarm_skew_ms;
	int		 alarm_cert_days;
	int		 alarm_disk_pct;	/* free space below: alarm */
	int		 wal_max_mb;		/* 0: a quarter of the disk */
	int		 pending_lifetime;	/* s */
	int		 join_stall;		/* s without progress */
	int		 backup_keep;		/* backups kept on the node */
	char		 hsm_module[KMD_PATH_MAX];	/* "": software RoT */
	char		 hsm_token[64];
	char		 hsm_pinfile[KMD_PATH_MAX];
	char		 hsm_key[64];
};

void	conf_defaults(struct kmd_conf *);
int	conf_parse_buf(const char *, const char *, size_t, struct kmd_conf *,
	    char *, size_t);
int	conf_load(const char *, struct kmd_conf *, char *, size_t);
void	conf_print(FILE *, const struct kmd_conf *);

#endif
