#ifndef KMCTL_OUTPUT_H
#define KMCTL_OUTPUT_H

#include <stddef.h>

#include "proto.h"

int	print_cluster_info(const struct cluster_info *);
int	print_status(const struct ctl_proc *, size_t);

#endif
