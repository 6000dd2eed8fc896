#ifndef KMCTL_OUTPUT_H
#define KMCTL_OUTPUT_H

#include <yajl_tree.h>

#include "reply.h"

void	output_table(int);
int	print_reply(const struct reply *, enum print_what);
int	print_json(yajl_val);
int	print_version(yajl_val);
void	print_check(const char *, const struct join_check *);

#endif
