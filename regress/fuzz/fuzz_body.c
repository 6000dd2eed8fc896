/*
 * libFuzzer target: the REST API's request bodies (workers/api/body.c).
 * Properties: a body is accepted with every string terminated and within
 * its field, or refused with a message; never a crash or a leak.  An
 * accepted body re-encoded from its fields is accepted again, equal.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <yajl_gen.h>

#include "body.h"
#include "util.h"

int	LLVMFuzzerTestOneInput(const uint8_t *, size_t);

static size_t
encode(char *out, size_t outlen, const char **kv, size_t n)
{
	yajl_gen		 g = yajl_gen_alloc(NULL);
	const unsigned char	*buf;
	size_t			 i, len = 0;

	if (g == NULL)
		abort();
	yajl_gen_map_open(g);
	for (i = 0; i < n; i++) {
		if (kv[2 * i + 1][0] == '\0')
			continue;
		yajl_gen_string(g, (const unsigned char *)kv[2 * i],
		    strlen(kv[2 * i]));
		yajl_gen_string(g, (const unsigned char *)kv[2 * i + 1],
		    strlen(kv[2 * i + 1]));
	}
	yajl_gen_map_close(g);
	yajl_gen_get_buf(g, &buf, &len);
	if (len > outlen)
		abort();
	memcpy(out, buf, len);
	yajl_gen_free(g);
	return len;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static char		 again[2 * BODY_MAX];
	struct user_set		 u, u2;
	struct cluster_new	 cn, cn2;
	char			 err[256];
	const char		*kv[6];
	size_t			 n;

	err[0] = '\0';
	if (body_login((const char *)data, size, &u, err, sizeof(err)) == 0) {
		if (!TERMINATED(u.name) || !TERMINATED(u.password) ||
		    u.name[0] == '\0' || u.password[0] == '\0')
			abort();
		kv[0] = "username"; kv[1] = u.name;
		kv[2] = "password"; kv[3] = u.password;
		n = encode(again, sizeof(again), kv, 2);
		if (body_login(again, n, &u2, err, sizeof(err)) == -1 ||
		    memcmp(&u, &u2, sizeof(u)) != 0)
			abort();
	} else if (err[0] == '\0')
		abort();	/* a refusal always says why */

	err[0] = '\0';
	if (body_cluster_new((const char *)data, size, &cn, err,
	    sizeof(err)) == 0) {
		if (!TERMINATED(cn.host) || !TERMINATED(cn.url) ||
		    !TERMINATED(cn.pubaddr) || strncmp(cn.url, "https://", 8))
			abort();
		kv[0] = "host"; kv[1] = cn.host;
		kv[2] = "url"; kv[3] = cn.url;
		kv[4] = "publicAddress"; kv[5] = cn.pubaddr;
		n = encode(again, sizeof(again), kv, 3);
		if (body_cluster_new(again, n, &cn2, err, sizeof(err)) == -1 ||
		    memcmp(&cn, &cn2, sizeof(cn)) != 0)
			abort();
	} else if (err[0] == '\0')
		abort();
	/* The other bodies: accepted with terminated fields, or refused
	 * with a reason. */
	{
		static struct cluster_csr	cc;
		static struct nodes_create	nc;
		static struct cluster_join	cj;
		static struct keys_req		kq;
		static struct user_set		us;

		err[0] = '\0';
		if (body_cluster_csr((const char *)data, size, &cc, err,
		    sizeof(err)) == 0 ? !TERMINATED(cc.host) ||
		    !TERMINATED(cc.pubaddr) : err[0] == '\0')
			abort();
		err[0] = '\0';
		if (body_nodes_create((const char *)data, size, &nc, err,
		    sizeof(err)) == 0 ? !TERMINATED(nc.csr) ||
		    !TERMINATED(nc.host) || (nc.shared_hsm != 0 &&
		    nc.shared_hsm != 1) : err[0] == '\0')
			abort();
		err[0] = '\0';
		if (body_cluster_join((const char *)data, size, &cj, err,
		    sizeof(err)) == 0 ? !TERMINATED(cj.member) ||
		    !TERMINATED(cj.cert) || !TERMINATED(cj.mkek_blob) :
		    err[0] == '\0')
			abort();
		err[0] = '\0';
		if (body_key_create((const char *)data, size, &kq, err,
		    sizeof(err)) == 0 ? !TERMINATED(kq.name) ||
		    !TERMINATED(kq.algorithm) || kq.size < 0 ||
		    kq.op != KEYS_CREATE : err[0] == '\0')
			abort();
		err[0] = '\0';
		if (body_crypt((const char *)data, size, size & 1, &kq, err,
		    sizeof(err)) == 0 ? !TERMINATED(kq.name) ||
		    !TERMINATED(kq.data) : err[0] == '\0')
			abort();
		/* users: create, set-password, set-role, by the size */
		memset(&us, 0, sizeof(us));
		us.op = size % 3 == 0 ? USER_CREATE : size % 3 == 1 ?
		    USER_SETPW : USER_SETROLE;
		err[0] = '\0';
		if (body_user((const char *)data, size, &us, err,
		    sizeof(err)) == 0 ? !TERMINATED(us.name) ||
		    !TERMINATED(us.password) || !TERMINATED(us.role) ||
		    (us.op == USER_SETPW && us.password[0] == '\0') :
		    err[0] == '\0')
			abort();
	}
	return 0;
}
