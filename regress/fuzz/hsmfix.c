/*
 * The hsm worker for the fuzzers; see hsmfix.h.
 */
#include <sys/mman.h>

#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cert.h"
#include "harness.h"
#include "hsm.h"
#include "hsmfix.h"
#include "util.h"

/*
 * The software root-of-trust key file, as the parent passes it: slots
 * "software" and "software-1" with fixed keys, a third zeroed (deleted).
 */
int
hsmfix_rot(void)
{
	uint8_t	 keys[3 * SEAL_KEYLEN];
	size_t	 i;
	int	 fd;

	for (i = 0; i < 2 * SEAL_KEYLEN; i++)
		keys[i] = (uint8_t)(i * 7 + 1);
	memset(keys + 2 * SEAL_KEYLEN, 0, SEAL_KEYLEN);
	if ((fd = memfd_create("rot.key", MFD_CLOEXEC)) == -1 ||
	    write(fd, keys, sizeof(keys)) != sizeof(keys))
		abort();
	return fd;
}

/*
 * A hsm worker as worker_run() makes it, on the harness's event base
 * (after fz_begin), and the key file passed as the parent does at start
 * unless rot is -1; then the joiner's link, its closing noted as the
 * parent's channel's is (fz_closed) rather than fatal.
 */
void
hsmfix_open(struct hsmfix *h, int rot)
{
	struct hsm	*hs;
	int		 fd, turns = 0;

	memset(h, 0, sizeof(*h));
	h->w.role = PROC_HSM;
	h->w.base = fz.base;
	h->ours = fz_pair(&fd);
	if (worker_start(&h->w, &hsm_worker, fd, fz_closed) == -1)
		abort();
	if (rot != -1)
		fz_frame(h->ours, IMSG_HSM_ROT_FD, 0, dup(rot), NULL, 0);
	h->link = fz_pair(&fd);
	fz_frame(h->ours, IMSG_HSM_LINK, 0, fd, NULL, 0);
	hs = h->w.ctx;
	while (hs->link == NULL && ++turns < 1000)
		fz_pump();
	if (hs->link == NULL)
		abort();
	hs->link->closed = fz_closed;
}

void
hsmfix_close(struct hsmfix *h)
{
	hsm_worker.fini(&h->w);
	kchan_free(h->w.parent);
}

/* The calls the joiner makes over its own link (proto.h's list). */
#define LINK_CASE(q, ql, a, al, fn)	case IMSG_##q:
static int
link_call(uint16_t req)
{
	switch (req) {
	HSM_LINK_CALLS(LINK_CASE)
		return 1;
	default:
		return 0;
	}
}

/* A request whose answer must be `type`, of exactly outlen bytes. */
void
hsmfix_get(struct hsmfix *h, uint16_t req, const void *data, size_t len,
    uint16_t type, void *out, size_t outlen)
{
	struct fz_reply	 r;

	if (fz_call(link_call(req) ? h->link : h->ours, req, data, len, &r) ==
	    -1 ||
	    r.type != type ||
	    r.len != outlen) {
		fprintf(stderr, "fuzz: %s: answered %s: %s\n",
		    imsg_type_name(req), r.data ? imsg_type_name(r.type) :
		    "nothing", r.type == IMSG_HSM_ERROR ? (char *)r.data : "");
		abort();
	}
	memcpy(out, r.data, outlen);
	free(r.data);
}

#define CPY(dst, src)	kmd_strlcpy((dst), (src), sizeof(dst))

/*
 * The real chain: cluster new on node A, a CSR on node B, nodes create
 * on A, the join on B, the TLS files, a served key made and used, the
 * KEK rewrapped under "software-1".
 */
void
hsmfix_chain(struct hsmfix *h, struct hsm_chain *c)
{
	struct hsm_join_opened	 jo;
	struct hsm_rewrap	 rw;
	struct tls_files	*tf;
	struct key_crypt	 pt;
	const char		 hello[] = "hello, kmd";

	memset(c, 0, sizeof(*c));
	CPY(c->create.cluster_id, FZ_CLUSTER);
	CPY(c->create.node_id, FZ_NODE_A);
	CPY(c->create.host, FZ_HOST);
	hsmfix_get(h, IMSG_HSM_CLUSTER_CREATE, &c->create, sizeof(c->create),
	    IMSG_HSM_CLUSTER_CREATED, &c->made, sizeof(c->made));

	CPY(c->csrmake.node_id, FZ_NODE_B);
	CPY(c->csrmake.host, "node2.test");
	hsmfix_get(h, IMSG_HSM_CSR_MAKE, &c->csrmake, sizeof(c->csrmake),
	    IMSG_HSM_CSR_MADE, &c->csr, sizeof(c->csr));

	CPY(c->sign.csr, c->csr.csr);
	CPY(c->sign.host, "node2.test");
	CPY(c->sign.cluster_id, FZ_CLUSTER);
	CPY(c->sign.my_node_id, FZ_NODE_A);
	CPY(c->sign.kek_wrapped, c->made.kek_wrapped);
	CPY(c->sign.ca_key_sealed, c->made.ca_key_sealed);
	CPY(c->sign.ca_cert, c->made.ca_cert);
	hsmfix_get(h, IMSG_HSM_NODE_SIGN, &c->sign, sizeof(c->sign),
	    IMSG_HSM_NODE_SIGNED, &c->node, sizeof(c->node));

	CPY(c->join.node_id, FZ_NODE_B);
	CPY(c->join.csr, c->csr.csr);
	CPY(c->join.cert, c->node.cert);
	CPY(c->join.cachain, c->made.ca_cert);
	CPY(c->join.mkek_blob, c->node.mkek_blob);
	CPY(c->join.box_sk_sealed, c->csr.box_sk_sealed);
	CPY(c->join.node_key_sealed, c->csr.node_key_sealed);
	hsmfix_get(h, IMSG_HSM_JOIN_OPEN, &c->join, sizeof(c->join),
	    IMSG_HSM_JOIN_OPENED, &jo, sizeof(jo));
	if (strcmp(jo.cluster_id, FZ_CLUSTER) != 0)
		abort();

	CPY(c->tls.node_id, FZ_NODE_A);
	CPY(c->tls.kek_wrapped, c->made.kek_wrapped);
	CPY(c->tls.node_key_sealed, c->made.node_key_sealed);
	CPY(c->tls.node_cert, c->made.node_cert);
	CPY(c->tls.ca_cert, c->made.ca_cert);
	if ((tf = malloc(sizeof(*tf))) == NULL)
		abort();
	hsmfix_get(h, IMSG_HSM_TLS_INSTALL, &c->tls, sizeof(c->tls),
	    IMSG_TLS_WRITE, tf, sizeof(*tf));
	free(tf);

	CPY(c->keymake.node_id, FZ_NODE_A);
	CPY(c->keymake.kek_wrapped, c->made.kek_wrapped);
	CPY(c->keymake.key_id, FZ_KEY);
	c->keymake.size = 256;
	hsmfix_get(h, IMSG_HSM_KEY_MAKE, &c->keymake, sizeof(c->keymake),
	    IMSG_HSM_KEY_MADE, &c->key, sizeof(c->key));

	c->enc.version = 1;
	CPY(c->enc.node_id, FZ_NODE_A);
	CPY(c->enc.kek_wrapped, c->made.kek_wrapped);
	CPY(c->enc.key_id, FZ_KEY);
	CPY(c->enc.sealed, c->key.sealed);
	sodium_bin2base64(c->enc.data, sizeof(c->enc.data),
	    (const uint8_t *)hello, strlen(hello),
	    sodium_base64_VARIANT_ORIGINAL);
	hsmfix_get(h, IMSG_HSM_KEY_CRYPT, &c->enc, sizeof(c->enc),
	    IMSG_HSM_KEY_DONE, &c->ct, sizeof(c->ct));
	c->dec = c->enc;
	c->dec.decrypt = 1;
	CPY(c->dec.data, c->ct.data);
	hsmfix_get(h, IMSG_HSM_KEY_CRYPT, &c->dec, sizeof(c->dec),
	    IMSG_HSM_KEY_DONE, &pt, sizeof(pt));
	if (strcmp(pt.data, c->enc.data) != 0)
		abort();

	CPY(c->rewrap.node_id, FZ_NODE_A);
	CPY(c->rewrap.to, "software-1");
	CPY(c->rewrap.kek_wrapped, c->made.kek_wrapped);
	hsmfix_get(h, IMSG_HSM_REWRAP, &c->rewrap, sizeof(c->rewrap),
	    IMSG_HSM_REWRAPPED, &rw, sizeof(rw));
}
