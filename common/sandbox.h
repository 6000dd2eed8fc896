#ifndef KMD_SANDBOX_H
#define KMD_SANDBOX_H

#include <stddef.h>

#include "proto.h"

int	sandbox_enter(const struct conf_worker *, char *, size_t);
int	sandbox_filter(int, char *, size_t);

#endif
