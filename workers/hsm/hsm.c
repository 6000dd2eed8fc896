/*
 * hsm: the HSM/root-of-trust agent, the only process that sees key
 * material: the root of trust (software keys, slots of a root-only file
 * the parent opens and passes as an fd, or an AES key in a PKCS#11 token,
 * p11.c), the cluster KEK, the cluster CA and node keys, and the served
 * keys' material.  It keeps no state between requests: what it makes
 * leaves sealed (the CA, node and served keys under the KEK, the KEK
 * under the RoT) and comes back sealed when needed.  With "hsm" in
 * kmd.conf everything the RoT seals is sealed inside the token; the
 * software keys still open what they sealed before.
 *
 * This file is the entry point: the context, the root of trust the
 * parent hands over (key file, token configuration) and the handler
 * table, whose requests the job files answer (see README).
 */
#include <event2/event.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hsm.h"
#include "log.h"
#include "p11.h"
#include "util.h"

static int
hsm_rot_fd(struct kchan *ch, struct kmsg *m, void *arg)
{
	(void)ch;
	kcache_wipe(arg, "the root-of-trust keys changed");
	return rot_load(arg, m);
}

/*
 * Open the configured token, making its key if it has none, and tell the
 * parent how that went.  A token not there (no token of that label yet:
 * an HSM that comes up after kmd, or a token another process is writing
 * at that moment) is looked for again every HSM_REOPEN_MS; once a login
 * was tried it is not (a wrong PIN, tried again and again, locks a real
 * token): the operator fixes kmd.conf and restarts.
 */
static void
hsm_open(struct hsm *h)
{
	struct hsm_conf		*hc = h->conf;
	char			 why[300];
	struct hsm_status	 hs;
	struct timeval		 tv = { HSM_REOPEN_MS / 1000, 0 };
	int			 absent;

	p11_close(h->p11);
	h->reopen_ok = 0;
	if ((h->p11 = p11_open(hc->module, hc->token, hc->pin, hc->key, 1, why,
	    sizeof(why))) == NULL) {
		absent = strncmp(why, "no token labelled", 17) == 0;
		snprintf(h->err, sizeof(h->err), "the HSM is unavailable: %s;"
		    " %s", why, absent ? "looking for it again every few"
		    " seconds; check hsm token in kmd.conf" : "check hsm"
		    " module, token and pin-file in kmd.conf, then restart"
		    " kmd");
		log_warnx("%s", h->err);
		if (absent)
			evtimer_add(h->retry, &tv);
	} else {
		h->reopen_ok = 1;
		log_info("root of trust: key '%s' in HSM token '%s'", hc->key,
		    hc->token);
	}
	memset(&hs, 0, sizeof(hs));
	hs.ok = h->p11 != NULL;
	if (!hs.ok)
		kmd_strlcpy(hs.msg, h->err, sizeof(hs.msg));
	kchan_send(h->w->parent, IMSG_HSM_STATUS, 0, -1, &hs, sizeof(hs));
}

static void
hsm_retry(evutil_socket_t fd, short ev, void *arg)
{
	(void)fd;
	(void)ev;
	hsm_open(arg);
}

/*
 * The node's HSM configuration, from the parent (the PIN read from its
 * root-only file): the token is opened now (hsm_open).
 */
static int
hsm_conf(struct kchan *ch, struct kmsg *m, void *arg)
{
	struct hsm		*h = arg;
	struct hsm_conf		*hc = (struct hsm_conf *)m->data;

	(void)ch;
	if (!TERMINATED(hc->module) || !TERMINATED(hc->token) ||
	    !TERMINATED(hc->key) || !TERMINATED(hc->pin)) {
		sodium_memzero(hc, sizeof(*hc));
		return -1;
	}
	h->hsm = 1;
	if (h->conf == NULL && (h->conf = sodium_malloc(sizeof(*hc))) == NULL)
		fatal("%s", __func__);
	memcpy(h->conf, hc, sizeof(*hc));
	sodium_memzero(hc, sizeof(*hc));
	evtimer_del(h->retry);
	hsm_open(h);
	return 0;
}

#define HSM_LINK_ROW(q, ql, a, al, fn)	{ IMSG_##q, ql, FROM(PROC_JOINER), fn },
static const struct kmsg_handler hsm_link_handlers[] = {
	HSM_LINK_CALLS(HSM_LINK_ROW)
};

/* The parent's new link to the joiner (it or the joiner started). */
static int
hsm_link(struct kchan *ch, struct kmsg *m, void *arg)
{
	struct hsm	*h = arg;

	(void)ch;
	return kchan_link(&h->link, h->w->base, m, PROC_JOINER,
	    hsm_link_handlers, nitems(hsm_link_handlers), h);
}

static int
hsm_init(struct worker *w)
{
	struct hsm	*h;

	if ((h = calloc(1, sizeof(*h))) == NULL)
		return -1;
	kcache_init(h);
	h->w = w;
	if ((h->retry = evtimer_new(w->base, hsm_retry, h)) == NULL)
		fatal("%s", __func__);
	w->ctx = h;
	return 0;
}

static void
hsm_fini(struct worker *w)
{
	struct hsm	*h = w->ctx;

	kchan_free(h->link);
	kcache_free(h);
	event_free(h->retry);
	sodium_free(h->rot);
	sodium_free(h->conf);
	p11_close(h->p11);
	free(h);
}

#define HSM_ROW(q, ql, a, al, fn)	{ IMSG_##q, ql, FROM(PROC_PARENT), fn },
static const struct kmsg_handler hsm_handlers[] = {
	{ IMSG_CONF_VERBOSE, sizeof(struct conf_reload), FROM(PROC_PARENT),
	    worker_conf_reload },
	{ IMSG_HSM_ROT_FD, 0, FROM(PROC_PARENT), hsm_rot_fd },
	{ IMSG_HSM_CONF, sizeof(struct hsm_conf), FROM(PROC_PARENT), hsm_conf },
	HSM_RELAY_CALLS(HSM_ROW)
	{ IMSG_HSM_LINK, 0, FROM(PROC_PARENT), hsm_link },
	{ IMSG_HSM_ROT_GROWN, sizeof(struct hsm_rewrap), FROM(PROC_PARENT),
	    hsm_rot_grown },
	{ IMSG_HSM_TLS_INSTALL, sizeof(struct hsm_tls_install),
	    FROM(PROC_PARENT), hsm_tls_install },
};

const struct worker_def hsm_worker = {
	PROC_HSM, hsm_handlers,
	sizeof(hsm_handlers) / sizeof(hsm_handlers[0]), hsm_init, hsm_fini,
	NULL
};
