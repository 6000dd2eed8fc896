/*
 * libFuzzer target: the hsm worker's dispatcher.  The input is a byte
 * stream from "the parent" into a real kchan whose table is the hsm
 * worker's own (hsm_worker.handlers, workers/hsm/hsm.c), so every frame
 * reaches the real handler after kchan's type, sender and size checks,
 * and each handler's own checks (terminated strings, key sizes, blobs
 * that must open) decide the rest.  The first byte picks the setup: bit
 * 0 set, the software root of trust is passed first as the parent does
 * at start (fixed keys, hsmfix.c); otherwise the worker has none, or
 * only what the input passes itself (frames flagged with an fd get the
 * key file).  Bit 1 set, the input goes to the joiner's link instead
 * (the keys' calls: a key made, encrypt, decrypt, the cache's eviction),
 * whose table is the hsm's other one.  No HSM: a configured one fails to
 * open and every request must be refused with its reason.
 *
 * Properties: no crash, leak or sanitizer report; every answer a
 * well-formed frame; the channel ends (a malformed frame closes it, the
 * worker would exit).  KMD_FUZZ_SEEDS=<dir> writes the seed corpus: the
 * real chain of requests (hsmfix_chain), with the fixed randomness every
 * sealed value in it opens again.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "harness.h"
#include "hsmfix.h"
#include "log.h"
#include "util.h"

int	LLVMFuzzerInitialize(int *, char ***);
int	LLVMFuzzerTestOneInput(const uint8_t *, size_t);

static int	 rot;

#define ONE(name, setup, type, req)	do {				\
	fz_seed_begin(&s, (setup));					\
	fz_seed_frame(&s, (type), 0, 7, &(req), sizeof(req));		\
	fz_seed_write(&s, (name));					\
} while (0)

static void
seeds(void)
{
	struct hsmfix		 h;
	struct hsm_chain	*c;
	struct hsm_conf		 hc;
	struct rotkeys_req	 rq;
	struct hsm_rewrap	 rw;
	struct hsm_node_sign	 ns;
	struct fz_seed		 s;
	int32_t			 v = 2;
	struct conf_reload	 cr = { .verbose = 2 };

	if ((c = malloc(sizeof(*c))) == NULL)
		abort();
	fz_begin();
	hsmfix_open(&h, rot);
	hsmfix_chain(&h, c);
	hsmfix_close(&h);
	fz_end();

	ONE("verbose", 1, IMSG_CONF_VERBOSE, cr);
	ONE("create", 1, IMSG_HSM_CLUSTER_CREATE, c->create);
	ONE("create-norot", 0, IMSG_HSM_CLUSTER_CREATE, c->create);
	ONE("csr-make", 1, IMSG_HSM_CSR_MAKE, c->csrmake);
	ONE("node-sign", 1, IMSG_HSM_NODE_SIGN, c->sign);
	ns = c->sign;
	ns.shared_hsm = 1;
	ONE("node-sign-shared", 1, IMSG_HSM_NODE_SIGN, ns);
	ONE("join-open", 1, IMSG_HSM_JOIN_OPEN, c->join);
	ONE("tls-install", 1, IMSG_HSM_TLS_INSTALL, c->tls);
	ONE("key-make", 3, IMSG_HSM_KEY_MAKE, c->keymake);
	ONE("encrypt", 3, IMSG_HSM_KEY_CRYPT, c->enc);
	ONE("decrypt", 3, IMSG_HSM_KEY_CRYPT, c->dec);
	ONE("rewrap", 1, IMSG_HSM_REWRAP, c->rewrap);
	rw = c->rewrap;
	rw.to[0] = '\0';
	ONE("rewrap-new", 1, IMSG_HSM_REWRAP, rw);
	kmd_strlcpy(rw.to, "kmd-rot-1", sizeof(rw.to));
	ONE("rewrap-token", 1, IMSG_HSM_REWRAP, rw);
	memset(&rq, 0, sizeof(rq));
	rq.rotate = ROTKEYS_DELETE;
	kmd_strlcpy(rq.id, "software-1", sizeof(rq.id));
	ONE("rot-delete", 1, IMSG_HSM_ROT_DELETE, rq);

	fz_seed_begin(&s, 0);
	fz_seed_frame(&s, IMSG_HSM_ROT_FD, KMSG_F_FD, 0, NULL, 0);
	fz_seed_frame(&s, IMSG_HSM_ROT_LIST, 0, 8, NULL, 0);
	fz_seed_frame(&s, IMSG_HSM_ROT_GROWN, KMSG_F_FD, 9, &c->rewrap,
	    sizeof(c->rewrap));
	fz_seed_write(&s, "rot-fd-list-grown");

	memset(&hc, 0, sizeof(hc));
	kmd_strlcpy(hc.module, "/nonexistent/libpkcs11.so", sizeof(hc.module));
	kmd_strlcpy(hc.token, "kmd", sizeof(hc.token));
	kmd_strlcpy(hc.key, "kmd-rot", sizeof(hc.key));
	kmd_strlcpy(hc.pin, "1234", sizeof(hc.pin));
	fz_seed_begin(&s, 1);
	fz_seed_frame(&s, IMSG_HSM_CONF, 0, 0, &hc, sizeof(hc));
	fz_seed_frame(&s, IMSG_HSM_ROT_LIST, 0, 8, NULL, 0);
	fz_seed_frame(&s, IMSG_HSM_JOIN_OPEN, 0, 9, &c->join,
	    sizeof(c->join));
	fz_seed_write(&s, "hsm-unavailable");

	fz_seed_begin(&s, 1);
	fz_seed_frame(&s, IMSG_HSM_ROT_LIST, 0, 8, &v, sizeof(v));
	fz_seed_write(&s, "bad-size");
	/* on the link: a relayed call, which only the parent may send */
	ONE("link-relayed", 3, IMSG_HSM_CLUSTER_CREATE, c->create);
	free(c);
}

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	fz_rng_fixed();
	rot = hsmfix_rot();
	if (fz_seeding()) {
		seeds();
		exit(0);
	}
	return 0;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct hsmfix	 h;

	if (size < 1)
		return 0;
	log_setverbose(0);
	fz_begin();
	hsmfix_open(&h, data[0] & 1 ? rot : -1);
	fz_give_fd(h.w.parent, rot);
	fz_give_fd(h.w.parent, rot);
	fz_run(data[0] & 2 ? h.link : h.ours, data + 1, size - 1, NULL, NULL);
	hsmfix_close(&h);
	fz_end();
	return 0;
}
