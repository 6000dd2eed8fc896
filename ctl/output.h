#ifndef KMCTL_OUTPUT_H
#define KMCTL_OUTPUT_H

#include <stddef.h>

#include "proto.h"

int	print_cluster_info(const struct cluster_info *);
int	print_status(const struct ctl_proc *, size_t);
int	print_nodes(const struct nodes_page *, const struct node_info *,
	    size_t);
int	print_node(const struct node_info *);

#endif
