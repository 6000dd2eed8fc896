/*
 * The hsm worker for the fuzzers (hsmfix.c): its real handler table on a
 * harness channel, a software root of trust with fixed keys, and the
 * real chain of requests a cluster's life sends it, made once in a
 * fuzzer's setup for its seeds and fixtures.
 */
#ifndef KMD_FUZZ_HSMFIX_H
#define KMD_FUZZ_HSMFIX_H

#include "proto.h"
#include "worker.h"

#define FZ_CLUSTER	"33333333-3333-4333-8333-333333333333"
#define FZ_NODE_A	"11111111-1111-4111-8111-111111111111"	/* member */
#define FZ_NODE_B	"22222222-2222-4222-8222-222222222222"	/* joins */
#define FZ_KEY		"44444444-4444-4444-8444-444444444444"
#define FZ_HOST		"node1.test"

struct hsmfix {
	struct worker		 w;
	int			 ours;		/* the parent's end */
	int			 link;		/* the joiner's end of the link */
};

/* What the real handlers answered, in the order a cluster needs them. */
struct hsm_chain {
	struct hsm_create	 create;
	struct hsm_created	 made;
	struct hsm_csr_make	 csrmake;
	struct hsm_csr_made	 csr;
	struct hsm_node_sign	 sign;
	struct hsm_node_signed	 node;
	struct hsm_join_open	 join;
	struct hsm_tls_install	 tls;
	struct hsm_key_make	 keymake;
	struct hsm_key_made	 key;
	struct hsm_key_crypt	 enc;
	struct key_crypt	 ct;
	struct hsm_key_crypt	 dec;
	struct hsm_rewrap	 rewrap;
};

int	hsmfix_rot(void);
void	hsmfix_open(struct hsmfix *, int);
void	hsmfix_close(struct hsmfix *);
void	hsmfix_chain(struct hsmfix *, struct hsm_chain *);
void	hsmfix_get(struct hsmfix *, uint16_t, const void *, size_t, uint16_t,
	    void *, size_t);

#endif
