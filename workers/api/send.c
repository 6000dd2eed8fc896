/*
 * What the api's request readers share: the query's numbers, the body
 * (capped at BODY_MAX), and the typed request handed to the parent with
 * the caller's token, its answer to come to http_finish().  Below
 * http.c and backups.c; it calls neither.
 */
#include <event2/buffer.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "api.h"
#include "body.h"
#include "util.h"

int
query_int(struct evhttp_request *req, const char *name, int def, int max,
    int *out, char *err, size_t errlen)
{
	struct evkeyvalq	 q;
	const char		*v, *s = evhttp_uri_get_query(
				    evhttp_request_get_evhttp_uri(req));
	char			*end;
	long			 n;
	int			 r = 0;

	*out = def;
	TAILQ_INIT(&q);
	if (s == NULL)
		return 0;
	if (evhttp_parse_query_str(s, &q) == -1) {
		snprintf(err, errlen, "malformed query string");
		return -1;
	}
	if ((v = evhttp_find_header(&q, name)) != NULL) {
		n = strtol(v, &end, 10);
		if (*v == '\0' || *end != '\0' || n < 0 || n > max) {
			snprintf(err, errlen, "query parameter '%s' must be a"
			    " whole number from 0 to %d", name, max);
			r = -1;
		} else
			*out = (int)n;
	}
	evhttp_clear_headers(&q);
	return r;
}

int
read_body(struct evhttp_request *req, char *buf, size_t *len)
{
	struct evbuffer	*in = evhttp_request_get_input_buffer(req);
	size_t		 n = evbuffer_get_length(in);

	if (n > BODY_MAX)
		return -1;
	evbuffer_remove(in, buf, n);
	*len = n;
	return 0;
}

/*
 * The caller's token goes to the parent ahead of its request, under the
 * same id: the parent checks its signature and role again.
 */
static void
api_auth(struct api *a, uint32_t id)
{
	struct api_auth	 aa;

	memset(&aa, 0, sizeof(aa));
	kmd_strlcpy(aa.token, a->caller->tok, sizeof(aa.token));
	kchan_send(a->w->parent, IMSG_API_AUTH, id, -1, &aa, sizeof(aa));
}

/*
 * Hand a request to the parent; the answer comes to http_finish().  NULL:
 * it could not go, and the client has its error.
 */
struct areq *
api_send(struct api *a, struct evhttp_request *req, enum areq_kind kind,
    const char *user, uint16_t type, const void *data, size_t len)
{
	return api_send_fd(a, req, kind, user, type, -1, data, len);
}

/* ... with an open file for the parent (the channel closes fd). */
struct areq *
api_send_fd(struct api *a, struct evhttp_request *req, enum areq_kind kind,
    const char *user, uint16_t type, int fd, const void *data, size_t len)
{
	struct areq	*r;

	if (kind == R_NEW || kind == R_CSR || kind == R_CREATE ||
	    kind == R_JOIN || kind == R_CHANGE)
		a->info_at = 0;		/* a change may follow */
	if ((r = calloc(1, sizeof(*r))) == NULL)
		fatal("%s", __func__);
	clock_gettime(CLOCK_MONOTONIC, &r->t0);
	r->id = ++a->next_id;
	r->kind = kind;
	r->fd = -1;
	r->req = req;
	kmd_strlcpy(r->user, user, sizeof(r->user));
	peer_of(req, r->peer, sizeof(r->peer));
	TAILQ_INSERT_TAIL(&a->pending, r, entry);
	if (a->caller != NULL)
		api_auth(a, r->id);
	if (kchan_send(a->w->parent, type, r->id, fd, data, len) == -1) {
		TAILQ_REMOVE(&a->pending, r, entry);
		respond_error(req, 503, "kmd is busy; try again", &r->t0, user);
		free(r);
		return NULL;
	}
	return r;
}
