#ifndef KMD_JSON_H
#define KMD_JSON_H

#include <yajl_gen.h>
#include <yajl_tree.h>

#include "proto.h"
#include "reply.h"

void	json_str(yajl_gen, const char *);
const char *json_string(yajl_val);
void	json_bkey(yajl_gen, const struct bkey_info *);
void	json_backup(yajl_gen, const struct backup_info *);
void	json_backup_list(yajl_gen, const struct reply *, int);
void	json_cluster_info(yajl_gen, const struct cluster_info *);
void	json_node(yajl_gen, const struct node_info *);
void	json_nodes(yajl_gen, const struct nodes_page *,
	    const struct node_info *, size_t);
void	json_procs(yajl_gen, const struct ctl_proc *, size_t);
void	json_version(yajl_gen, const struct version_info *, const char *);
void	json_health(yajl_gen, const struct health_info *);
const char *health_name(int);
void	json_reply(yajl_gen, const struct reply *, enum print_what,
	    const char *);
void	json_csr(yajl_gen, const struct csr_reply *);
void	json_credentials(yajl_gen, const struct node_credentials *);
void	json_check(yajl_gen, const struct join_check *);
void	json_error(yajl_gen, int, const char *, const char *);
void	json_value(yajl_gen, yajl_val, int);
void	json_summary(yajl_gen, const struct summary_row *, size_t);
void	json_rotkeys(yajl_gen, const struct rotkey_info *, size_t);
void	json_key(yajl_gen, const struct key_info *);
void	json_keys(yajl_gen, const struct nodes_page *,
	    const struct key_info *, size_t);
void	json_crypt(yajl_gen, const struct key_crypt *);
void	json_alarms(yajl_gen, const struct nodes_page *,
	    const struct alarm_info *, size_t);

#endif
