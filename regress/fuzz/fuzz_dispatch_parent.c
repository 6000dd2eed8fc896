/*
 * libFuzzer target: the parent's two dispatchers (master/control.c).
 * The parent is set up as parent_main() leaves it, its children's
 * channels socketpairs of ours (no process, no PostgreSQL; pid 0, so
 * nothing is signalled) and its data directory a temporary one, where
 * the handlers write PostgreSQL's TLS files and configuration and the
 * software key file.  A kmctl client is connected through the socket's
 * own path (control_adopt), and requests of both the client and the api
 * worker wait for answers from each worker.  The first byte picks who
 * sends the rest of the input: the kmctl client (ctl_handlers), or the
 * replmon, joiner, hsm or api worker (parent_worker_handlers, with the
 * real sender checks); frames flagged with an fd get /dev/null.
 *
 * Properties: no crash, leak or sanitizer report; every frame the
 * parent sends anyone is well formed; the channel ends (a worker's
 * closed as proc.c does, minus the kill); what the parent keeps from a
 * worker (the HSM status it gives replmon at each start) is well formed.
 * KMD_FUZZ_SEEDS=<dir> writes the seed corpus.
 */
#include <sys/stat.h>

#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "harness.h"
#include "kmd.h"
#include "log.h"
#include "util.h"

int	LLVMFuzzerInitialize(int *, char ***);
int	LLVMFuzzerTestOneInput(const uint8_t *, size_t);

#define CPY(dst, src)	kmd_strlcpy((dst), (src), sizeof(dst))

static const enum proc_id senders[] = {
	PROC_CTL, PROC_REPLMON, PROC_JOINER, PROC_HSM, PROC_API
};

static struct parent	 p;
static int		 devnull;
static char		 rotpath[KMD_PATH_MAX + 16];

/*
 * services reset comes due 300 ms after it was asked (relay.c): it
 * would stop the processes, wipe the data directory and start afresh,
 * should an input take that long.  Linked with --wrap=parent_reset, it
 * ends as parent_reset() does, and does nothing else.
 */
void	__wrap_parent_reset(struct parent *);

void
__wrap_parent_reset(struct parent *rp)
{
	rp->resetting = 0;
}

/* As proc.c's proc_channel_closed(), without a process to kill. */
static void
child_closed(struct kchan *ch, const char *why, void *arg)
{
	struct child	*c = arg;

	(void)ch;
	(void)why;
	kchan_free(c->ch);
	c->ch = NULL;
	relay_worker_gone(c->p, c->def->id);
}

static int
gone(void *arg)
{
	const enum proc_id	*who = arg;

	if (*who == PROC_CTL)
		return TAILQ_EMPTY(&p.clients);
	return p.children[*who].ch == NULL;
}

/* Two requests wait for each worker: one from kmctl, one from the api. */
static void
waiting(uint32_t client)
{
	struct pending	*pe;
	size_t		 i, k;

	for (i = 1; i < sizeof(senders) / sizeof(senders[0]); i++)
		for (k = 0; k < 2; k++) {
			if ((pe = calloc(1, sizeof(*pe))) == NULL)
				abort();
			pe->reqid = ++p.next_reqid;
			pe->worker = senders[i];
			pe->client = k == 0 ? client : 0;
			pe->client_reqid = 100 + pe->reqid;
			TAILQ_INSERT_TAIL(&p.pending, pe, entry);
		}
}

/* The parent between two inputs: fresh key file, channels, requests. */
static int
setup(enum proc_id who)
{
	const uint8_t		 key[32] = { 1 };
	struct ctl_client	*cl;
	struct child		*c;
	size_t			 i;
	int			 fd, ours = -1, ctl;

	memset(p.children, 0, sizeof(p.children));
	TAILQ_INIT(&p.clients);
	TAILQ_INIT(&p.pending);
	p.nclients = p.next_client = p.next_reqid = 0;
	p.resetting = 0;
	memset(&p.hsm_status, 0, sizeof(p.hsm_status));
	if (p.auth == NULL)
		auth_init(&p);
	p.conf.token_lifetime = 3600;
	p.base = fz.base;
	p.started = mono_now();
	p.ctl_fd = p.api_fd = -1;
	p.worker_handlers = parent_worker_handlers;
	p.nworker_handlers = parent_worker_nhandlers;
	p.worker_gone = relay_worker_gone;
	p.reset = parent_reset;
	if ((p.rot_fd = open(rotpath, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC,
	    0600)) == -1 || write(p.rot_fd, key, sizeof(key)) != sizeof(key))
		abort();
	for (i = 0; i < proc_table_len; i++) {
		c = &p.children[proc_table[i].id];
		c->def = &proc_table[i];
		c->p = &p;
		if (c->def->worker == NULL)
			continue;
		fd = -1;
		if (c->def->id == who)
			ours = fz_pair(&fd);
		else
			fz_pair(&fd);
		if ((c->ch = kchan_new(p.base, fd, c->def->id,
		    parent_worker_handlers, parent_worker_nhandlers,
		    child_closed, c)) == NULL)
			abort();
	}
	ctl = fz_pair(&fd);
	if ((cl = control_adopt(&p, fd, 0)) == NULL)
		abort();
	waiting(cl->id);
	if (who == PROC_CTL)
		ours = ctl;
	c = who == PROC_CTL ? NULL : &p.children[who];
	fz_give_fd(c != NULL ? c->ch : cl->ch, devnull);
	fz_give_fd(c != NULL ? c->ch : cl->ch, devnull);
	return ours;
}

static void
teardown(void)
{
	struct pending	*pe;
	size_t		 i;

	control_close(&p);
	for (i = 0; i < PROC_MAX; i++)
		if (p.children[i].ch != NULL) {
			kchan_free(p.children[i].ch);
			p.children[i].ch = NULL;
		}
	while ((pe = TAILQ_FIRST(&p.pending)) != NULL) {
		TAILQ_REMOVE(&p.pending, pe, entry);
		free(pe);
	}
	close(p.rot_fd);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	enum proc_id	 who;
	int		 ours;

	if (size < 1)
		return 0;
	log_setverbose(0);
	who = senders[data[0] % (sizeof(senders) / sizeof(senders[0]))];
	fz_begin();
	ours = setup(who);
	fz_run(ours, data + 1, size - 1, gone, &who);
	if (!TERMINATED(p.hsm_status.msg)) {
		fprintf(stderr, "fuzz: the parent keeps a malformed HSM"
		    " status\n");
		abort();
	}
	teardown();
	fz_end();
	return 0;
}

static void
seeds_ctl(void)
{
	struct fz_seed		 s;
	struct cluster_new	 cn;
	struct nodes_query	 nq;
	struct user_set		 us;
	struct rotkeys_req	 rq;

	memset(&cn, 0, sizeof(cn));
	CPY(cn.host, "node1.test");
	memset(&nq, 0, sizeof(nq));
	nq.limit = 20;
	memset(&us, 0, sizeof(us));
	CPY(us.name, "admin");
	CPY(us.password, "correct horse");
	memset(&rq, 0, sizeof(rq));

	fz_seed_begin(&s, 0);
	fz_seed_frame(&s, IMSG_CTL_STATUS, 0, 1, NULL, 0);
	fz_seed_frame(&s, IMSG_CTL_CLUSTER_INFO, 0, 2, NULL, 0);
	fz_seed_frame(&s, IMSG_CTL_CLUSTER_NEW, 0, 3, &cn, sizeof(cn));
	fz_seed_frame(&s, IMSG_CTL_NODES, 0, 4, &nq, sizeof(nq));
	fz_seed_write(&s, "ctl-requests");
	fz_seed_begin(&s, 0);
	fz_seed_frame(&s, IMSG_CTL_USER_SET, 0, 5, &us, sizeof(us));
	fz_seed_frame(&s, IMSG_CTL_ROTKEYS, 0, 6, &rq, sizeof(rq));
	fz_seed_frame(&s, IMSG_CTL_RESET, 0, 7, NULL, 0);
	fz_seed_frame(&s, IMSG_CTL_RESET, 0, 8, NULL, 0);
	fz_seed_write(&s, "ctl-user-rotkeys-reset");
	fz_seed_begin(&s, 0);
	fz_seed_frame(&s, IMSG_CTL_AUTH_CHECK, 0, 9, &us, sizeof(us));
	fz_seed_write(&s, "ctl-auth-refused");
	fz_seed_begin(&s, 4);
	fz_seed_frame(&s, IMSG_CTL_AUTH_CHECK, 0, 9, &us, sizeof(us));
	fz_seed_frame(&s, IMSG_CTL_STATUS, 0, 10, NULL, 0);
	fz_seed_frame(&s, IMSG_CTL_CLUSTER_NEW, 0, 11, &cn, sizeof(cn));
	fz_seed_write(&s, "api-requests");
}

static void
seeds_workers(void)
{
	struct fz_seed		 s;
	struct cluster_info	 ci;
	struct nodes_page	 pg;
	struct node_info	 ni;
	struct hsm_status	 hs;
	struct tls_files	 tf;
	struct rot_slot		 rs;
	struct hsm_rewrap	 rw;
	struct peers_allow	*pd;
	const char		 err[] = "no such node";

	memset(&ci, 0, sizeof(ci));
	CPY(ci.code, "r");
	memset(&pg, 0, sizeof(pg));
	memset(&ni, 0, sizeof(ni));
	CPY(ni.nodeid, "11111111-1111-4111-8111-111111111111");
	fz_seed_begin(&s, 1);
	fz_seed_frame(&s, IMSG_CLUSTER_INFO_REPLY, 0, 1, &ci, sizeof(ci));
	fz_seed_frame(&s, IMSG_CTL_END, 0, 1, NULL, 0);
	fz_seed_frame(&s, IMSG_NODES_PAGE, 0, 2, &pg, sizeof(pg));
	fz_seed_frame(&s, IMSG_NODE_INFO, 0, 2, &ni, sizeof(ni));
	fz_seed_frame(&s, IMSG_CTL_ERROR, 0, 2, err, sizeof(err));
	fz_seed_write(&s, "replmon-replies");

	if ((pd = calloc(1, sizeof(*pd))) == NULL)
		abort();
	pd->n = 2;
	CPY(pd->ids[0], "11111111-1111-4111-8111-111111111111");
	CPY(pd->ids[1], "22222222-2222-4222-8222-222222222222");
	fz_seed_begin(&s, 2);
	fz_seed_frame(&s, IMSG_PEERS_ALLOW, 0, 7, pd, sizeof(*pd));
	fz_seed_frame(&s, IMSG_TLS_REMOVE, 0, 3, NULL, 0);
	fz_seed_frame(&s, IMSG_HSM_ROT_LIST, 0, 3, NULL, 0);
	fz_seed_frame(&s, IMSG_CTL_END, 0, 4, NULL, 0);
	fz_seed_write(&s, "joiner-allow-relay");
	free(pd);

	memset(&hs, 0, sizeof(hs));
	CPY(hs.msg, "the HSM is unavailable");
	memset(&tf, 0, sizeof(tf));
	CPY(tf.key, "-----BEGIN PRIVATE KEY-----\n-----END PRIVATE KEY-----\n");
	CPY(tf.cert, "-----BEGIN CERTIFICATE-----\n");
	CPY(tf.ca, "-----BEGIN CERTIFICATE-----\n");
	memset(&rs, 0, sizeof(rs));
	rs.index = 1;
	CPY(rs.id, "software-1");
	memset(&rw, 0, sizeof(rw));
	CPY(rw.node_id, "11111111-1111-4111-8111-111111111111");
	fz_seed_begin(&s, 3);
	fz_seed_frame(&s, IMSG_HSM_STATUS, 0, 0, &hs, sizeof(hs));
	fz_seed_frame(&s, IMSG_TLS_WRITE, 0, 5, &tf, sizeof(tf));
	fz_seed_frame(&s, IMSG_ROT_GROW, 0, 5, &rw, sizeof(rw));
	fz_seed_frame(&s, IMSG_ROT_ZERO, 0, 6, &rs, sizeof(rs));
	fz_seed_frame(&s, IMSG_HSM_ERROR, 0, 6, err, sizeof(err));
	fz_seed_write(&s, "hsm-status-tls-rot");
	memset(hs.msg, 'x', sizeof(hs.msg));
	fz_seed_begin(&s, 3);
	fz_seed_frame(&s, IMSG_HSM_STATUS, 0, 0, &hs, sizeof(hs));
	fz_seed_write(&s, "hsm-status-unterminated");
}

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	char	 path[KMD_PATH_MAX + 32];
	int	 i;

	(void)argc;
	(void)argv;
	if (fz_seeding()) {
		seeds_ctl();
		seeds_workers();
		exit(0);
	}
	conf_defaults(&p.conf);
	CPY(p.conf.datadir, fz_tmpdir());
	CPY(p.conf.host, "node1.test");
	CPY(p.conf.user, "_kmd");
	CPY(p.conf.dbuser, "postgres");
	p.dbuid = getuid();
	p.dbgid = getgid();
	for (i = 0; i < PROC_MAX; i++) {
		p.children[i].uid = p.dbuid;
		p.children[i].gid = p.dbgid;
		CPY(p.children[i].user, "_kmd");
	}
	snprintf(rotpath, sizeof(rotpath), "%s/rot.key", fz_tmpdir());
	snprintf(path, sizeof(path), "%s/pg", fz_tmpdir());
	if (mkdir(path, 0700) == -1)
		abort();
	snprintf(path, sizeof(path), "%s/pg/data", fz_tmpdir());
	if (mkdir(path, 0700) == -1)
		abort();
	snprintf(path, sizeof(path), "%s/pg/data/kmd-tls", fz_tmpdir());
	if (mkdir(path, 0700) == -1 ||
	    (devnull = open("/dev/null", O_RDWR | O_CLOEXEC)) == -1)
		abort();
	return 0;
}
