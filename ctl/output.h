#ifndef KMCTL_OUTPUT_H
#define KMCTL_OUTPUT_H

#include <yajl_tree.h>

#include "reply.h"

enum print_what { P_NONE, P_INFO, P_STATUS, P_NODES, P_NODE, P_CSR, P_CRED,
	P_SUMMARY, P_ALARMS, P_ROTKEYS, P_KEYS, P_KEY, P_CRYPT };

int	print_reply(const struct reply *, enum print_what);
int	print_json(yajl_val);
void	print_check(const struct join_check *);

#endif
