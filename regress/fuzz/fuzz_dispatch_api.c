/*
 * libFuzzer target: the api worker's dispatcher.  The input is a byte
 * stream from "the parent" into a real kchan whose table is the worker's
 * own (api_worker.handlers, workers/api/api.c): the listening socket and
 * certificate (IMSG_API_LISTEN; frames flagged with an fd get a
 * listening socket of ours), and the reply frames to REST requests
 * waiting for the parent.  One request of every kind is waiting, with
 * ids 1 to R_CRYPT + 1, its HTTP client gone (as when it hung up), so
 * the reply frames are read and checked as for a live one (reply.c).
 * The first byte is not used.
 *
 * Properties: no crash, leak or sanitizer report; every answer a
 * well-formed frame; the channel ends.  KMD_FUZZ_SEEDS=<dir> writes the
 * seed corpus, with a certificate and key made by common/cert.c.
 */
#include <sys/socket.h>
#include <sys/un.h>

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "api.h"
#include "cert.h"
#include "harness.h"
#include "log.h"
#include "util.h"

int	LLVMFuzzerInitialize(int *, char ***);
int	LLVMFuzzerTestOneInput(const uint8_t *, size_t);

#define CPY(dst, src)	kmd_strlcpy((dst), (src), sizeof(dst))

static int	 lfd = -1;

/* A frame answering request `id` (kind id - 1). */
#define REPLY(t, id, x)	fz_seed_frame(&s, (t), 0, (id), &(x), sizeof(x))
#define END(id)		fz_seed_frame(&s, IMSG_CTL_END, 0, (id), NULL, 0)

static void
seeds_replies(void)
{
	struct fz_seed		 s;
	struct cluster_info	 ci;
	struct nodes_page	 pg;
	struct node_info	 ni;
	struct auth_result	 ar = { 1 };
	struct key_crypt	 kc;
	struct summary_row	 sr;
	const char		 err[] = "the node database is not ready";

	memset(&ci, 0, sizeof(ci));
	CPY(ci.code, "r");
	ci.nodecount = 1;
	memset(&pg, 0, sizeof(pg));
	pg.limit = 20;
	pg.total = 1;
	memset(&ni, 0, sizeof(ni));
	CPY(ni.nodeid, "11111111-1111-4111-8111-111111111111");
	CPY(ni.code, "r");
	memset(&kc, 0, sizeof(kc));
	CPY(kc.data, "AAAAAQ==");
	memset(&sr, 0, sizeof(sr));
	CPY(sr.view, "{}");

	fz_seed_begin(&s, 0);
	REPLY(IMSG_CLUSTER_INFO_REPLY, R_INFO + 1, ci);
	END(R_INFO + 1);
	REPLY(IMSG_NODES_PAGE, R_NODES + 1, pg);
	REPLY(IMSG_NODE_INFO, R_NODES + 1, ni);
	END(R_NODES + 1);
	REPLY(IMSG_AUTH_RESULT, R_LOGIN + 1, ar);
	fz_seed_write(&s, "info-nodes-login");
	fz_seed_begin(&s, 0);
	REPLY(IMSG_KEY_CRYPT, R_CRYPT + 1, kc);
	END(R_CRYPT + 1);
	REPLY(IMSG_SUMMARY_ROW, R_SUMMARY + 1, sr);
	END(R_SUMMARY + 1);
	fz_seed_frame(&s, IMSG_CTL_ERROR, 0, R_NEW + 1, err, sizeof(err));
	fz_seed_write(&s, "crypt-summary-error");
	fz_seed_begin(&s, 0);
	REPLY(IMSG_NODE_INFO, R_NODE + 1, ni);
	fz_seed_frame(&s, IMSG_CTL_ERROR, 0, R_HEALTH + 1, NULL, 0);
	fz_seed_write(&s, "unexpected-bad-error");
}

static void
seeds(void)
{
	struct fz_seed		 s;
	struct api_conf		*ac;
	EVP_PKEY		*k;
	X509			*x;

	if ((ac = calloc(1, sizeof(*ac))) == NULL ||
	    (k = ca_keygen()) == NULL ||
	    (x = cert_self_signed(k, "node1.test")) == NULL ||
	    pem_key(k, ac->key, sizeof(ac->key)) == -1 ||
	    pem_cert(x, ac->cert, sizeof(ac->cert)) == -1)
		abort();
	ac->token_lifetime = 3600;
	fz_seed_begin(&s, 0);
	fz_seed_frame(&s, IMSG_API_LISTEN, KMSG_F_FD, 0, ac, sizeof(*ac));
	fz_seed_frame(&s, IMSG_API_LISTEN, KMSG_F_FD, 0, ac, sizeof(*ac));
	fz_seed_write(&s, "listen-twice");
	ac->token_lifetime = 5;
	fz_seed_begin(&s, 0);
	fz_seed_frame(&s, IMSG_API_LISTEN, KMSG_F_FD, 0, ac, sizeof(*ac));
	fz_seed_write(&s, "listen-lifetime");
	ac->token_lifetime = 3600;
	ac->key[100] ^= 1;
	fz_seed_begin(&s, 0);
	fz_seed_frame(&s, IMSG_API_LISTEN, 0, 0, ac, sizeof(*ac));
	fz_seed_write(&s, "listen-badkey-nofd");
	EVP_PKEY_free(k);
	X509_free(x);
	free(ac);
	seeds_replies();
}

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	struct sockaddr_un	 sun = { .sun_family = AF_UNIX };

	(void)argc;
	(void)argv;
	fz_rng_fixed();
	if (fz_seeding()) {
		seeds();
		exit(0);
	}
	/* An abstract address of the kernel's choosing: nobody connects. */
	if ((lfd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC,
	    0)) == -1 || bind(lfd, (struct sockaddr *)&sun,
	    sizeof(sa_family_t)) == -1 || listen(lfd, 1) == -1)
		abort();
	return 0;
}

/* A REST request of each kind waits for its answer; its client is gone. */
static void
pending(struct api *a)
{
	struct areq	*r;
	int		 k;

	for (k = R_INFO; k <= R_CRYPT; k++) {
		if ((r = calloc(1, sizeof(*r))) == NULL)
			abort();
		r->id = ++a->next_id;
		r->kind = k;
		clock_gettime(CLOCK_MONOTONIC, &r->t0);
		CPY(r->user, "admin");
		CPY(r->peer, "127.0.0.1");
		TAILQ_INSERT_TAIL(&a->pending, r, entry);
	}
}

/* Requests waiting for replies, and the listening socket to take. */
static int
setup(struct worker *w, uint8_t b, int ours)
{
	(void)b;
	pending(w->ctx);
	fz_give_fd(w->parent, lfd);
	fz_give_fd(w->parent, lfd);
	return ours;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	return fz_worker_input(&api_worker, data, size, setup);
}
