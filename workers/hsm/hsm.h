/*
 * The hsm worker's context and what its files share; see README.
 * hsm.c is the entry point and calls the job files (hsm_cluster.c,
 * hsm_join.c, hsm_keys.c, hsm_rotkeys.c); those call hsm_rot.c, the root
 * of trust, and p11.c, the token, and never each other.
 */
#ifndef KMD_HSM_H
#define KMD_HSM_H

#include <stddef.h>
#include <stdint.h>

#include "cert.h"
#include "worker.h"

struct hsm {
	uint8_t		*rot;		/* sodium_malloc'd, nrot key slots */
	int		 nrot;
	int		 hsm;		/* an HSM is configured */
	struct p11	*p11;		/* and open; NULL: see err */
	char		 err[KMD_ERR_MAX];
	struct hsm_conf	*conf;		/* sodium_malloc'd: to open again */
	int		 reopen_ok;	/* the token worked with it */
	int64_t		 reopen_at;	/* ms: the last try */
	struct kcache	*kc;		/* hsm_cache.c */
	struct worker	*w;
	struct event	*retry;		/* the token not found at start */
	struct kchan	*link;		/* the joiner's keys calls */
};

/* Secrets live in one guarded allocation, wiped when freed. */
struct secrets {
	uint8_t		 kek[SEAL_KEYLEN];
	char		 ca_key[KMD_SEALED_MAX];
	char		 node_key[KMD_SEALED_MAX];
};

/* hsm_rot.c: the root of trust, the KEK under it, the error reply */
int		 hsm_fail(struct kchan *, uint32_t, const char *, ...)
		    __attribute__((format(printf, 3, 4)));
int		 rot_load(struct hsm *, struct kmsg *);
const uint8_t	*soft_key(const struct hsm *, const char *, int *);
void		 soft_name(int, char *, size_t);
const char	*rot_missing(struct hsm *);
int		 rot_reopen(struct hsm *);
#define HSM_REOPEN_MS	5000
int		 rot_seal(struct hsm *, const char *, const void *, size_t,
		    char *, size_t);
int		 rot_unseal(struct hsm *, const char *, const char *,
		    uint8_t *, size_t, size_t *);
void		 hsm_ad(char *, size_t, const char *, const char *);
int		 kek_open(struct hsm *, const char *, const char *,
		    uint8_t *);
int		 restored_kek_open(struct hsm *, const char *, uint8_t *);
#define RESTORED_KEK	"restored"	/* the id in its associated data */

/* hsm_cache.c: the KEK and served keys' material kept open; scratch */
#define GCM_IV		12
#define GCM_TAG		16
#define CT_HEAD		(4 + GCM_IV)
#define CT_MAX		(CT_HEAD + KMD_CRYPT_MAX + GCM_TAG)
struct kc_scratch {
	uint8_t			 in[CT_MAX];
	uint8_t			 pt[CT_MAX];
	struct key_crypt	 out;
};
void		 kcache_init(struct hsm *);
void		 kcache_free(struct hsm *);
void		 kcache_wipe(struct hsm *, const char *);
void		 kcache_forget(struct hsm *);
struct kc_scratch *kcache_scratch(struct hsm *);
const uint8_t	*kcache_kek(struct hsm *, const char *, const char *);
int		 kcache_material(struct hsm *, const char *, const char *,
		    const char *, const char *, const uint8_t **, size_t *);

/* hsm_rotkeys.c: rot-keys list, rotate, delete */
int	hsm_rot_list(struct kchan *, struct kmsg *, void *);
int	hsm_rewrap(struct kchan *, struct kmsg *, void *);
int	hsm_rot_grown(struct kchan *, struct kmsg *, void *);
int	hsm_rot_delete(struct kchan *, struct kmsg *, void *);

/* hsm_cluster.c: cluster new's CA, this node's TLS files, nodes create */
int	hsm_create(struct kchan *, struct kmsg *, void *);
int	hsm_tls_install(struct kchan *, struct kmsg *, void *);
int	hsm_node_sign(struct kchan *, struct kmsg *, void *);

/* hsm_join.c: the joining node's cluster csr and cluster join */
int	hsm_csr_make(struct kchan *, struct kmsg *, void *);
int	hsm_join_open(struct kchan *, struct kmsg *, void *);

/* hsm_keys.c: the served keys' material, encrypt and decrypt */
int	hsm_key_make(struct kchan *, struct kmsg *, void *);
int	hsm_key_crypt(struct kchan *, struct kmsg *, void *);
int	hsm_probe(struct kchan *, struct kmsg *, void *);
int	hsm_key_forget(struct kchan *, struct kmsg *, void *);

/* hsm_backup.c: backup keys, and the keys of a backup file */
int	hsm_bk_make(struct kchan *, struct kmsg *, void *);
int	hsm_bk_export(struct kchan *, struct kmsg *, void *);
int	hsm_bk_import(struct kchan *, struct kmsg *, void *);
int	hsm_backup_seal(struct kchan *, struct kmsg *, void *);
int	hsm_backup_open(struct kchan *, struct kmsg *, void *);

#endif
