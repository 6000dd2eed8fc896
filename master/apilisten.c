/*
 * The parent's part of the HTTPS API: it opens the listening socket (so
 * the api worker needs no privilege to bind) and reads the node-local
 * interface certificate, made self-signed on first start in
 * <datadir>/api/ and replaceable by the admin (SIGHUP re-reads it); both
 * go to the api worker at every start of it.
 */
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/types.h>

#include <netinet/in.h>
#include <netinet/tcp.h>

#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <openssl/err.h>

#include "cert.h"
#include "kmd.h"
#include "log.h"
#include "util.h"

static void
api_path(const struct parent *p, char *buf, size_t len, const char *leaf)
{
	snprintf(buf, len, "%s/api%s%s", p->conf.datadir, *leaf ? "/" : "",
	    leaf);
}

static int
write_file(const char *path, const char *text, mode_t mode)
{
	size_t	 len = strlen(text);
	int	 fd;

	if ((fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, mode)) ==
	    -1)
		return -1;
	if (write(fd, text, len) != (ssize_t)len || fsync(fd) == -1) {
		close(fd);
		unlink(path);
		return -1;
	}
	return close(fd);
}

/* First start: a self-signed certificate for the listen address. */
static int
api_make_cert(const struct parent *p, const char *keypath,
    const char *certpath)
{
	EVP_PKEY	*key = ca_keygen();
	X509		*x = NULL;
	char		*kpem, cpem[KMD_PEM_MAX];
	int		 r = -1;

	if ((kpem = sodium_malloc(KMD_PEM_MAX)) == NULL)
		fatal("%s", __func__);
	if (key != NULL && (x = cert_self_signed(key, p->conf.api_addr)) !=
	    NULL && pem_key(key, kpem, KMD_PEM_MAX) == 0 &&
	    pem_cert(x, cpem, sizeof(cpem)) == 0 &&
	    write_file(keypath, kpem, 0600) == 0 &&
	    write_file(certpath, cpem, 0644) == 0) {
		log_info("made a self-signed API certificate %s", certpath);
		r = 0;
	} else
		log_warn("%s: cannot make %s", __func__, certpath);
	sodium_free(kpem);
	EVP_PKEY_free(key);
	X509_free(x);
	return r;
}

static int
read_file(const char *path, char *buf, size_t len)
{
	ssize_t	 n;
	int	 fd;

	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) == -1)
		return -1;
	n = read(fd, buf, len - 1);
	close(fd);
	if (n <= 0 || (size_t)n == len - 1) {
		errno = EFBIG;
		return -1;
	}
	buf[n] = '\0';
	return 0;
}

/* The key and the first certificate must parse and belong together. */
static int
pair_check(const struct api_conf *ac, char *err, size_t errlen)
{
	EVP_PKEY	*k = pem_read_key(ac->key);
	X509		*x = pem_read_cert(ac->cert);
	int		 r = -1;

	if (k == NULL)
		snprintf(err, errlen, "api.key is not a PEM private key");
	else if (x == NULL)
		snprintf(err, errlen, "api.crt is not a PEM certificate");
	else if (X509_check_private_key(x, k) != 1)
		snprintf(err, errlen, "api.key is not the key of api.crt");
	else
		r = 0;
	EVP_PKEY_free(k);
	X509_free(x);
	ERR_clear_error();
	return r;
}

/*
 * Read (or make) the interface certificate into p->apiconf.  A pair that
 * does not parse or match leaves the one in use in place.
 */
int
api_load_cert(struct parent *p)
{
	struct api_conf	*ac;
	char		 dir[PATH_MAX], key[PATH_MAX], cert[PATH_MAX], err[256];

	api_path(p, dir, sizeof(dir), "");
	api_path(p, key, sizeof(key), "api.key");
	api_path(p, cert, sizeof(cert), "api.crt");
	if (mkdir(dir, 0700) == -1 && errno != EEXIST) {
		log_warn("%s: %s", __func__, dir);
		return -1;
	}
	if (access(key, F_OK) == -1 && api_make_cert(p, key, cert) == -1)
		return -1;
	if ((ac = sodium_malloc(sizeof(*ac))) == NULL)
		fatal("%s", __func__);
	memset(ac, 0, sizeof(*ac));
	if (read_file(key, ac->key, sizeof(ac->key)) == -1 ||
	    read_file(cert, ac->cert, sizeof(ac->cert)) == -1) {
		log_warn("API certificate: cannot read %s or %s%s", key, cert,
		    p->apiconf ? "; keeping the one in use" : "");
		sodium_free(ac);
		return -1;
	}
	if (pair_check(ac, err, sizeof(err)) == -1) {
		log_warnx("API certificate %s: %s%s", cert, err,
		    p->apiconf ? "; keeping the one in use" : "");
		sodium_free(ac);
		return -1;
	}
	api_conf_limits(p, ac);
	sodium_free(p->apiconf);
	p->apiconf = ac;
	return 0;
}

/* Bind the API's address before kmd detaches: a busy port is fatal. */
int
api_listen(struct parent *p)
{
	struct addrinfo	 hints, *res;
	char		 port[8];
	int		 fd, on = 1, e;

	memset(&hints, 0, sizeof(hints));
	hints.ai_socktype = SOCK_STREAM;
	hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV;
	snprintf(port, sizeof(port), "%u", p->conf.api_port);
	if ((e = getaddrinfo(p->conf.api_addr, port, &hints, &res)) != 0) {
		log_warnx("api listen %s: %s", p->conf.api_addr,
		    gai_strerror(e));
		return -1;
	}
	fd = socket(res->ai_family, res->ai_socktype | SOCK_NONBLOCK |
	    SOCK_CLOEXEC, 0);
	/* Accepted sockets inherit TCP_NODELAY on Linux: no Nagle delay
	 * between a reply's header and body records. */
	if (fd == -1 || setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &on,
	    sizeof(on)) == -1 || setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &on,
	    sizeof(on)) == -1 || bind(fd, res->ai_addr, res->ai_addrlen) ==
	    -1 || listen(fd, 128) == -1) {
		log_warn("cannot listen on %s port %s (api listen in kmd.conf)",
		    p->conf.api_addr, port);
		if (fd != -1)
			close(fd);
		freeaddrinfo(res);
		return -1;
	}
	freeaddrinfo(res);
	p->api_fd = fd;
	return 0;
}

/* The api worker's settings from kmd.conf, with its certificate. */
void
api_conf_limits(const struct parent *p, struct api_conf *ac)
{
	ac->token_lifetime = p->conf.token_lifetime;
	ac->max_conn = p->conf.api_max_conn;
	ac->read_timeout = p->conf.api_read_timeout;
	ac->login_rate = p->conf.api_login_rate;
}

/* To a (re)started api worker, or after SIGHUP: socket and certificate. */
void
api_send_conf(struct parent *p, struct kchan *ch)
{
	if (p->apiconf == NULL || p->api_fd == -1)
		return;
	if (kchan_send(ch, IMSG_API_LISTEN, 0, dup_cloexec(p->api_fd),
	    p->apiconf, sizeof(*p->apiconf)) == -1)
		log_warn("%s", __func__);
}
