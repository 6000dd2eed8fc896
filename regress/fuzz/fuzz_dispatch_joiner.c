/*
 * libFuzzer target: the joiner worker's dispatcher.  The input is a
 * byte stream from "the parent" into a real kchan whose table is the
 * worker's own (joiner_worker.handlers, workers/joiner/joiner.c): client
 * requests (cluster new, csr, nodes create, join, nodes delete, cluster
 * delete, users, rot-keys, keys) and the hsm worker's answers to the
 * joiner's own requests: through the table's checks to kchan_reply(),
 * which hands them to the call waiting under their id (the joiner's
 * channel numbers its calls from 1 here, see setup(); the seeds answer
 * under 1 and 2; the keys' answers come over the joiner's link to the
 * hsm, not this channel, which refuses them).  The node database is
 * down (harness.c): queries wait
 * until the end of the input, then fail, and the clients waiting get
 * their error; so no operation gets as far as its call to the hsm, and
 * the answers meet no call (dropped, or an HSM_ERROR logged).  With
 * bit 1 of the first byte the input goes to the joiner's link instead.  The
 * callbacks past kchan_reply() are tested in regress/unit/test_kchan.c
 * (the routing) and the e2e tests (the operations).
 * The first byte picks the setup: bit 0 set, the database was ready
 * (the schema current, the connections made, as joiner.c leaves them
 * once it has connected; it went down since), so requests get as far as
 * their queries; otherwise it never came up and requests are refused.
 *
 * Properties: no crash, leak or sanitizer report; every answer a
 * well-formed frame; the channel ends.  KMD_FUZZ_SEEDS=<dir> writes the
 * seed corpus, with a CSR, certificates and a blob from the hsm worker's
 * real handlers (hsmfix.c).
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "harness.h"
#include "hsmfix.h"
#include "joiner.h"
#include "log.h"
#include "schema.h"
#include "util.h"

int	LLVMFuzzerInitialize(int *, char ***);
int	LLVMFuzzerTestOneInput(const uint8_t *, size_t);

#define CPY(dst, src)	kmd_strlcpy((dst), (src), sizeof(dst))

/* What joiner_open_db() leaves: the three connections, the schema current. */
static void
ready(struct joiner *j)
{
	char	 ci[512];

	snprintf(ci, sizeof(ci), "host=%s dbname=%s user=kmd",
	    j->w->conf.pgsock, SCHEMA_DB);
	j->db = pq_new(j->w->base, ci, NULL, NULL);
	j->jdb = pq_new(j->w->base, ci, NULL, NULL);
	j->kdb = pq_new(j->w->base, ci, NULL, NULL);
	j->ready = 1;
}

#define CALL1	1	/* the id of the joiner's first call, after setup() */

/* One request, then the hsm's answer to the joiner's first call. */
static void
two(const char *name, uint16_t t1, const void *d1, size_t l1, uint16_t t2,
    const void *d2, size_t l2)
{
	struct fz_seed	 s;

	fz_seed_begin(&s, 1);
	fz_seed_frame(&s, t1, 0, 7, d1, l1);
	if (d2 != NULL || t2 != 0)
		fz_seed_frame(&s, t2, 0, CALL1, d2, l2);
	fz_seed_write(&s, name);
}

#define ONE(name, t, req)	two((name), (t), &(req), sizeof(req), 0, NULL, 0)

static void
seeds_keys(void)
{
	struct keys_req		 kq;
	struct hsm_key_made	 km;
	struct key_crypt	 kc;
	struct fz_seed		 s;

	memset(&kq, 0, sizeof(kq));
	kq.op = KEYS_CREATE;
	CPY(kq.name, "k1");
	CPY(kq.algorithm, "aes");
	kq.size = 256;
	memset(&km, 0, sizeof(km));
	CPY(km.key_id, FZ_KEY);
	CPY(km.kcv, "ABCDEF");
	two("keys-create", IMSG_KEYS, &kq, sizeof(kq), IMSG_HSM_KEY_MADE,
	    &km, sizeof(km));
	kq.op = KEYS_LIST;
	kq.limit = 10;
	ONE("keys-list", IMSG_KEYS, kq);
	kq.op = KEYS_ENCRYPT;
	CPY(kq.data, "aGVsbG8=");
	memset(&kc, 0, sizeof(kc));
	CPY(kc.data, "AAAAAQ==");
	two("keys-encrypt", IMSG_KEYS, &kq, sizeof(kq), IMSG_HSM_KEY_DONE,
	    &kc, sizeof(kc));
	kq.op = KEYS_OPS;
	fz_seed_begin(&s, 1);
	fz_seed_frame(&s, IMSG_KEYS, 0, 7, &kq, sizeof(kq));
	fz_seed_write(&s, "keys-badop");

	/* on the link: the hsm's answers, meeting no call */
	fz_seed_begin(&s, 3);
	fz_seed_frame(&s, IMSG_HSM_KEY_MADE, 0, CALL1, &km, sizeof(km));
	fz_seed_frame(&s, IMSG_HSM_KEY_DONE, 0, CALL1 + 1, &kc, sizeof(kc));
	fz_seed_frame(&s, IMSG_HSM_KEY_FORGOTTEN, 0, CALL1 + 2, NULL, 0);
	fz_seed_frame(&s, IMSG_HSM_ERROR, 0, CALL1 + 3, "no", 3);
	fz_seed_write(&s, "link-answers");
	/* a relayed call's answer, which only the parent's channel carries */
	fz_seed_begin(&s, 3);
	fz_seed_frame(&s, IMSG_HSM_ROT_KEYS, 0, CALL1, NULL, 0);
	fz_seed_write(&s, "link-relayed");
}

static void
seeds(const struct hsm_chain *c)
{
	struct cluster_new	 cn;
	struct cluster_csr	 cc;
	struct nodes_create	 nc;
	struct cluster_join	 cj;
	struct user_set		 us;
	struct nodes_delete	 nd;
	struct rotkeys_req	 rq;
	struct hsm_rot_keys	 rk;
	struct tls_result	 tr;
	struct fz_seed		 s;
	const char		 herr[] = "the HSM said no";

	memset(&cn, 0, sizeof(cn));
	CPY(cn.host, FZ_HOST);
	two("cluster-new", IMSG_CLUSTER_NEW, &cn, sizeof(cn),
	    IMSG_HSM_CLUSTER_CREATED, &c->made, sizeof(c->made));
	memset(&tr, 0, sizeof(tr));
	tr.ok = 1;
	fz_seed_begin(&s, 1);
	fz_seed_frame(&s, IMSG_CLUSTER_NEW, 0, 7, &cn, sizeof(cn));
	fz_seed_frame(&s, IMSG_TLS_INSTALLED, 0, CALL1 + 1, &tr, sizeof(tr));
	fz_seed_frame(&s, IMSG_HSM_ERROR, 0, CALL1 + 1, herr, sizeof(herr));
	fz_seed_write(&s, "cluster-new-tls-error");
	CPY(cn.host, "elsewhere.test");
	fz_seed_begin(&s, 0);
	fz_seed_frame(&s, IMSG_CLUSTER_NEW, 0, 7, &cn, sizeof(cn));
	fz_seed_write(&s, "cluster-new-nodb");

	memset(&cc, 0, sizeof(cc));
	CPY(cc.host, FZ_HOST);
	two("cluster-csr", IMSG_CLUSTER_CSR, &cc, sizeof(cc),
	    IMSG_HSM_CSR_MADE, &c->csr, sizeof(c->csr));

	memset(&nc, 0, sizeof(nc));
	CPY(nc.csr, c->csr.csr);
	CPY(nc.host, "node2.test");
	two("nodes-create", IMSG_NODES_CREATE, &nc, sizeof(nc),
	    IMSG_HSM_NODE_SIGNED, &c->node, sizeof(c->node));

	memset(&cj, 0, sizeof(cj));
	CPY(cj.member, "node2.test");
	CPY(cj.host, FZ_HOST);
	CPY(cj.cert, c->node.cert);
	CPY(cj.cachain, c->made.ca_cert);
	CPY(cj.mkek_blob, c->node.mkek_blob);
	ONE("cluster-join", IMSG_CLUSTER_JOIN, cj);

	memset(&us, 0, sizeof(us));
	CPY(us.name, "admin");
	CPY(us.password, "correct horse");
	ONE("auth-check", IMSG_AUTH_CHECK, us);
	CPY(us.password, "short");
	ONE("user-set-short", IMSG_USER_SET, us);

	memset(&nd, 0, sizeof(nd));
	CPY(nd.id, FZ_NODE_B);
	ONE("nodes-delete", IMSG_NODES_DELETE, nd);
	two("cluster-delete", IMSG_CLUSTER_DELETE, NULL, 0, 0, NULL, 0);

	memset(&rq, 0, sizeof(rq));
	memset(&rk, 0, sizeof(rk));
	rk.n = 1;
	CPY(rk.keys[0].id, "software");
	CPY(rk.keys[0].kind, "software");
	two("rotkeys-list", IMSG_ROTKEYS, &rq, sizeof(rq), IMSG_HSM_ROT_KEYS,
	    &rk, sizeof(rk));
	rq.rotate = ROTKEYS_ROTATE;
	CPY(rq.id, "software-1");
	two("rotkeys-rotate", IMSG_ROTKEYS, &rq, sizeof(rq),
	    IMSG_HSM_REWRAPPED, &c->rewrap, sizeof(c->rewrap));
	rq.rotate = ROTKEYS_DELETE;
	two("rotkeys-delete", IMSG_ROTKEYS, &rq, sizeof(rq),
	    IMSG_HSM_ROT_DELETED, &rq, sizeof(rq));
	seeds_keys();
}

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	struct hsmfix		 h;
	struct hsm_chain	*c;

	(void)argc;
	(void)argv;
	fz_rng_fixed();
	fz_pgsock();
	if (fz_seeding()) {
		if ((c = malloc(sizeof(*c))) == NULL)
			abort();
		fz_begin();
		hsmfix_open(&h, hsmfix_rot());
		hsmfix_chain(&h, c);
		hsmfix_close(&h);
		fz_end();
		seeds(c);
		exit(0);
	}
	return 0;
}

/*
 * The first byte's low bit: the database was ready, then went.  The
 * calls are numbered from 1 (joiner_init starts them from the clock),
 * so that an input means the same at every run.  Bit 1: the parent
 * hands the joiner its link to the hsm, and the input goes there, as the
 * hsm's answers (a frame the link's table refuses closes it, which ends
 * the run here where it ends the process in kmd).
 */
static int
setup(struct worker *w, uint8_t b, int ours)
{
	struct joiner	*j = w->ctx;
	size_t		 turns = 0;
	int		 fd, link;

	kchan_calls(w->parent, IMSG_HSM_ERROR, 0);
	if (b & 1)
		ready(j);
	if (!(b & 2))
		return ours;
	link = fz_pair(&fd);
	fz_frame(ours, IMSG_HSM_LINK, 0, fd, NULL, 0);
	while (j->hsm == NULL && ++turns < 1000)
		fz_pump();
	if (j->hsm == NULL)
		abort();
	kchan_calls(j->hsm, IMSG_HSM_ERROR, 0);
	j->hsm->closed = fz_closed;
	return link;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	return fz_worker_input(&joiner_worker, data, size, setup);
}
