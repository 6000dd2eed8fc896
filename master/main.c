/*
 * kmd: the key-manager cluster daemon.  "kmd" starts the privileged
 * parent; "kmd -P role" is how the parent re-executes itself as a worker.
 */
#include <errno.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "kmd.h"
#include "log.h"
#include "util.h"

static void __attribute__((noreturn))
usage(void)
{
	fprintf(stderr, "usage: kmd [-dnv] [-f file]\n");
	exit(1);
}

int
main(int argc, char *argv[])
{
	static struct parent	 p;
	const struct proc_def	*pd;
	const char		*role = NULL;
	char			 err[2048];
	int			 ch, checkonly = 0;
	ssize_t			 n;

	p.conffile = KMD_CONF_DEFAULT;
	while ((ch = getopt(argc, argv, "df:nP:v")) != -1) {
		switch (ch) {
		case 'd':
			p.foreground = 1;
			break;
		case 'f':
			p.conffile = optarg;
			break;
		case 'n':
			checkonly = 1;
			break;
		case 'P':
			role = optarg;
			break;
		case 'v':
			p.verbose++;
			break;
		default:
			usage();
		}
	}
	if (optind != argc)
		usage();
	if (kmd_nodump() == -1) {
		perror("kmd: no core dumps");
		return 1;
	}
	/* Before any sandbox: it may need /dev/urandom on old kernels. */
	if (sodium_init() == -1) {
		fprintf(stderr, "kmd: cannot initialise libsodium\n");
		return 1;
	}

	if (role != NULL) {
		if ((pd = proc_lookup(role)) == NULL) {
			fprintf(stderr, "kmd: unknown role '%s'\n", role);
			return 1;
		}
		return worker_run(pd->worker, p.foreground, p.verbose);
	}

	if (conf_load(p.conffile, &p.conf, err, sizeof(err)) == -1) {
		fprintf(stderr, "%s\n", err);
		if (checkonly)
			return 1;
		fprintf(stderr, "kmd: fix the config file and try again\n");
		return 1;
	}
	if (checkonly) {
		conf_print(stdout, &p.conf);
		return 0;
	}
	if (geteuid() != 0) {
		fprintf(stderr, "kmd: must be started as root (it drops to"
		    " user '%s' in its workers)\n", p.conf.user);
		return 1;
	}
	if ((n = readlink("/proc/self/exe", p.self, sizeof(p.self) - 1)) ==
	    -1) {
		fprintf(stderr, "kmd: /proc/self/exe: %s\n", strerror(errno));
		return 1;
	}
	p.self[n] = '\0';
	log_init(1, p.verbose, "parent");
	return parent_main(&p);
}
