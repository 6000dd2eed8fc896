/*
 * libFuzzer target: the replmon worker's dispatcher.  The input is a
 * byte stream from "the parent" into a real kchan whose table is the
 * worker's own (replmon_worker.handlers, workers/replmon/replmon.c):
 * kchan checks type, sender and size, each handler its payload (paging
 * bounds, terminated ids and messages).  The node database is down: its
 * socket accepts and hangs up (harness.c), so every query a request
 * queued is answered with the error a client would see.  The first byte
 * is not used (all the dispatch targets' inputs start with a setup byte).
 *
 * Properties: no crash, leak or sanitizer report; every answer a
 * well-formed frame; the channel ends.  KMD_FUZZ_SEEDS=<dir> writes the
 * seed corpus.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "harness.h"
#include "log.h"
#include "util.h"
#include "worker.h"

int	LLVMFuzzerInitialize(int *, char ***);
int	LLVMFuzzerTestOneInput(const uint8_t *, size_t);

static void
seeds(void)
{
	struct fz_seed		 s;
	struct nodes_query	 nq;
	struct alarms_query	 aq;
	struct hsm_status	 hs;
	struct conf_reload	 v = { .verbose = 1, .alarm_wal_mb = 64 };

	memset(&nq, 0, sizeof(nq));
	nq.limit = 20;
	memset(&aq, 0, sizeof(aq));
	aq.limit = 20;
	aq.all = 1;
	memset(&hs, 0, sizeof(hs));
	kmd_strlcpy(hs.msg, "the HSM is unavailable", sizeof(hs.msg));

	fz_seed_begin(&s, 0);
	fz_seed_frame(&s, IMSG_CLUSTER_INFO, 0, 1, NULL, 0);
	fz_seed_frame(&s, IMSG_SUMMARY, 0, 2, NULL, 0);
	fz_seed_write(&s, "info-summary");
	fz_seed_begin(&s, 0);
	fz_seed_frame(&s, IMSG_NODES, 0, 3, &nq, sizeof(nq));
	kmd_strlcpy(nq.id, "11111111-1111-4111-8111-111111111111",
	    sizeof(nq.id));
	fz_seed_frame(&s, IMSG_NODES, 0, 4, &nq, sizeof(nq));
	fz_seed_write(&s, "nodes");
	fz_seed_begin(&s, 0);
	fz_seed_frame(&s, IMSG_ALARMS, 0, 5, &aq, sizeof(aq));
	fz_seed_write(&s, "alarms");
	fz_seed_begin(&s, 0);
	fz_seed_frame(&s, IMSG_CONF_VERBOSE, 0, 0, &v, sizeof(v));
	fz_seed_frame(&s, IMSG_HSM_STATUS, 0, 0, &hs, sizeof(hs));
	fz_seed_write(&s, "verbose-hsm");
	nq.limit = 5000;
	fz_seed_begin(&s, 0);
	fz_seed_frame(&s, IMSG_NODES, 0, 6, &nq, sizeof(nq));
	fz_seed_write(&s, "nodes-limit");
}

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	fz_pgsock();
	if (fz_seeding()) {
		seeds();
		exit(0);
	}
	return 0;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	return fz_worker_input(&replmon_worker, data, size, NULL);
}
