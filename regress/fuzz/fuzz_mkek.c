/*
 * libFuzzer target: a joining node opening its mkek_blob (cluster join,
 * hsm_join_open in workers/hsm/hsm_join.c): "kmd1:" and base64 of a sealed
 * box to the CSR's key, or "kmd2:" and a blob wrapped in a shared HSM
 * token.  The input is the blob, any bytes up to its field's size; the
 * rest of the request is real and valid: the setup runs the chain of a
 * cluster (hsmfix_chain) through the hsm worker's real handlers, so the
 * CSR, the join keys sealed under the root of trust, the certificate
 * and the CA all check out, and only the blob decides.
 *
 * Each blob goes to two hsm workers: one with the software root of
 * trust, one with a SoftHSM2 token as well (skipped, with a note, when
 * SoftHSM2 is not installed), where "kmd2:" blobs are opened in the
 * token.  Properties: the answer is HSM_JOIN_OPENED for this cluster, or
 * a refusal about --mkek-blob; never a crash, leak or sanitizer report.
 * With the fixed randomness the setup's blob is the same on every run;
 * KMD_FUZZ_SEEDS=<dir> writes it and its kin as the seed corpus.
 */
#include <sys/stat.h>
#include <sys/wait.h>

#include <fcntl.h>
#include <spawn.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "harness.h"
#include "hsmfix.h"
#include "log.h"
#include "util.h"

int	LLVMFuzzerInitialize(int *, char ***);
int	LLVMFuzzerTestOneInput(const uint8_t *, size_t);

extern char	**environ;

static struct hsmfix		 soft, token;
static int			 have_token;
static struct hsm_join_open	 req;

/* A SoftHSM2 token of our own, in the temporary directory. */
static int
softhsm_init(void)
{
	char		 conf[256];
	char		*argv[] = { "softhsm2-util", "--init-token", "--free",
			    "--label", "kmd-fuzz", "--pin", "1234", "--so-pin",
			    "123456", NULL };
	posix_spawn_file_actions_t fa;
	FILE		*f;
	pid_t		 pid;
	int		 st;

	if (access(FZ_SOFTHSM, R_OK) == -1)
		return -1;
	snprintf(conf, sizeof(conf), "%s/tokens", fz_tmpdir());
	if (mkdir(conf, 0700) == -1)
		return -1;
	snprintf(conf, sizeof(conf), "%s/softhsm2.conf", fz_tmpdir());
	if ((f = fopen(conf, "we")) == NULL)
		return -1;
	fprintf(f, "directories.tokendir = %s/tokens\n"
	    "objectstore.backend = file\nlog.level = ERROR\n", fz_tmpdir());
	fclose(f);
	setenv("SOFTHSM2_CONF", conf, 1);
	posix_spawn_file_actions_init(&fa);
	posix_spawn_file_actions_addopen(&fa, 1, "/dev/null", O_WRONLY, 0);
	posix_spawn_file_actions_addopen(&fa, 2, "/dev/null", O_WRONLY, 0);
	st = posix_spawnp(&pid, argv[0], &fa, NULL, argv, environ);
	posix_spawn_file_actions_destroy(&fa);
	if (st != 0 || waitpid(pid, &st, 0) == -1 || !WIFEXITED(st) ||
	    WEXITSTATUS(st) != 0)
		return -1;
	return 0;
}

/* The token worker: the software keys, then the HSM, as at start. */
static int
token_open(int rot)
{
	struct hsm_conf		 hc;
	struct hsm_rot_keys	 rk;
	int			 i;

	hsmfix_open(&token, rot);
	memset(&hc, 0, sizeof(hc));
	kmd_strlcpy(hc.module, FZ_SOFTHSM, sizeof(hc.module));
	kmd_strlcpy(hc.token, "kmd-fuzz", sizeof(hc.token));
	kmd_strlcpy(hc.key, "kmd-rot", sizeof(hc.key));
	kmd_strlcpy(hc.pin, "1234", sizeof(hc.pin));
	fz_frame(token.ours, IMSG_HSM_CONF, 0, -1, &hc, sizeof(hc));
	hsmfix_get(&token, IMSG_HSM_ROT_LIST, NULL, 0, IMSG_HSM_ROT_KEYS, &rk,
	    sizeof(rk));
	for (i = 0; i < rk.n && i < KMD_ROTKEYS_MAX; i++)
		if (strcmp(rk.keys[i].kind, "hsm") == 0)
			return 0;
	return -1;
}

static void
seed(const char *name, const char *blob)
{
	struct fz_seed	 s;

	s.p = (uint8_t *)strdup(blob);
	s.len = strlen(blob);
	fz_seed_write(&s, name);
}

static void
seeds(const struct hsm_chain *c, const char *kmd2)
{
	char	 b[KMD_BLOB_MAX];

	seed("kmd1", c->node.mkek_blob);
	kmd_strlcpy(b, c->node.mkek_blob, sizeof(b));
	b[10] ^= 1;
	seed("kmd1-flipped", b);
	b[strlen(b) - 8] = '\0';
	seed("kmd1-short", b);
	seed("kmd1-empty", "kmd1:");
	seed("kmd1-notbase64", "kmd1:!!!!");
	seed("kmd2", kmd2 != NULL ? kmd2 : "kmd2:7031313a00");
	seed("kmd2-notp11", "kmd2:00112233");
	seed("none", "");
	seed("kmd3", "kmd3:AAAA");
}

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	struct hsm_chain	*c;
	struct hsm_node_sign	 ns;
	struct hsm_node_signed	 nd;
	char			*kmd2 = NULL;
	int			 rot;

	(void)argc;
	(void)argv;
	fz_rng_fixed();
	rot = hsmfix_rot();
	if ((c = malloc(sizeof(*c))) == NULL)
		abort();
	fz_begin();
	hsmfix_open(&soft, rot);
	hsmfix_chain(&soft, c);
	req = c->join;
	if (softhsm_init() == 0 && token_open(rot) == 0) {
		have_token = 1;
		ns = c->sign;
		ns.shared_hsm = 1;
		hsmfix_get(&token, IMSG_HSM_NODE_SIGN, &ns, sizeof(ns),
		    IMSG_HSM_NODE_SIGNED, &nd, sizeof(nd));
		kmd2 = nd.mkek_blob;
	} else
		fprintf(stderr, "fuzz_mkek: no SoftHSM2 token (%s): \"kmd2:\""
		    " blobs are tried without an HSM only\n", FZ_SOFTHSM);
	if (fz_seeding()) {
		seeds(c, kmd2);
		exit(0);
	}
	free(c);
	return 0;
}

/* The blob through one worker; the answer must be one of the two. */
static void
join_open(struct hsmfix *h)
{
	struct fz_reply			 r;
	const struct hsm_join_opened	*jo;

	if (fz_call(h->ours, IMSG_HSM_JOIN_OPEN, &req, sizeof(req), &r) == -1)
		abort();
	jo = (const struct hsm_join_opened *)r.data;
	if (r.type == IMSG_HSM_JOIN_OPENED ? r.len != sizeof(*jo) ||
	    strcmp(jo->cluster_id, FZ_CLUSTER) != 0 : r.type !=
	    IMSG_HSM_ERROR || strncmp((char *)r.data, "--mkek-blob", 11) !=
	    0) {
		fprintf(stderr, "fuzz_mkek: answered %s: %s\n",
		    imsg_type_name(r.type), r.type == IMSG_HSM_ERROR ?
		    (char *)r.data : "");
		abort();
	}
	free(r.data);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size >= sizeof(req.mkek_blob))
		return 0;
	memset(req.mkek_blob, 0, sizeof(req.mkek_blob));
	memcpy(req.mkek_blob, data, size);
	join_open(&soft);
	if (have_token)
		join_open(&token);
	return 0;
}
