/* The root-of-trust key in a PKCS#11 token; see p11.c. */
#ifndef KMD_P11_H
#define KMD_P11_H

#include <stddef.h>
#include <stdint.h>

struct p11;

struct p11	*p11_open(const char *, const char *, const char *,
		    const char *, int, char *, size_t);
void		 p11_close(struct p11 *);
int		 p11_seal(struct p11 *, const char *, const char *,
		    const void *, size_t, char *, size_t, char *, size_t);
int		 p11_destroy(struct p11 *, const char *, char *, size_t);
int		 p11_labels(struct p11 *, char [][64], int);
const char	*p11_label(const struct p11 *);
int		 p11_sealed(const char *);
int		 p11_unseal(struct p11 *, const char *, const char *,
		    uint8_t *, size_t, size_t *, char *, size_t);

#endif
