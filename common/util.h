#ifndef KMD_UTIL_H
#define KMD_UTIL_H

#include <stddef.h>
#include <stdint.h>

size_t	 kmd_strlcpy(char *, const char *, size_t);
int	 kmd_is_uuid(const char *);
int	 kmd_strfield(char *, size_t, const void *, size_t);
int	 set_nonblock(int);
int	 dup_cloexec(int);
int	 kmd_nodump(void);
void	 regs_wipe(void);
int64_t	 mono_now(void);
int64_t	 mono_ms(void);


/* The number of elements of an array. */
#define nitems(a)	(sizeof(a) / sizeof((a)[0]))

/* A fixed char array from a peer holds a NUL: safe to use as a string. */
#define TERMINATED(f)	(memchr((f), '\0', sizeof(f)) != NULL)

/* glibc's <sys/queue.h> lacks the _SAFE iterators. */
#ifndef TAILQ_FOREACH_SAFE
#define TAILQ_FOREACH_SAFE(var, head, field, tvar)			\
	for ((var) = TAILQ_FIRST(head);					\
	    (var) != NULL && ((tvar) = TAILQ_NEXT(var, field), 1);	\
	    (var) = (tvar))
#endif

#endif
