/*
 * GET /metrics, the api's part: its requests by route and status, and
 * their latency, after what replmon wrote (the monitor's figures).  A
 * route is the catalogue's (common/ops.h: "GET vault/keys2/{key}"), so
 * that no client can make up new series: a path of no route counts as
 * "other".  The served keys' operations are their routes (POST
 * crypto/encrypt, ...).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api.h"
#include "ops.h"
#include "util.h"

#define CODES_MAX	512		/* (route, status) pairs counted */
#define ROUTES_MAX	128

static const double	 bounds[] = { 0.001, 0.005, 0.01, 0.025, 0.05, 0.1,
			    0.25, 0.5, 1, 2.5, 5, 10 };
#define NBOUNDS		(sizeof(bounds) / sizeof(bounds[0]))

struct route_hist {
	unsigned long long	 buckets[NBOUNDS];	/* not cumulative */
	unsigned long long	 count;
	double			 sum;
};

static struct {
	int			 route;		/* op_rows index; -1 other */
	int			 code;
	unsigned long long	 n;
} codes[CODES_MAX];
static size_t			 ncodes;
static struct route_hist	 hists[ROUTES_MAX + 1];	/* [0]: other */

/*
 * The catalogue's path of a request's path: under /api/v1/, and /metrics
 * where Prometheus looks for it.  NULL: none of kmd's.
 */
const char *
route_of(const char *path)
{
	if (path == NULL)
		return NULL;
	if (strcmp(path, "/metrics") == 0)
		return "metrics";
	if (strncmp(path, API "/", strlen(API "/")) == 0)
		return path + strlen(API "/");
	return NULL;
}

static int
route_index(const char *method, const char *path)
{
	const char		*rel = route_of(path);
	const struct op_row	*op;
	char			 allowed[64];

	if (rel == NULL || (op = op_route(rel, method, allowed,
	    sizeof(allowed))) == NULL || op - op_rows >= ROUTES_MAX)
		return -1;
	return (int)(op - op_rows);
}

/* One request answered: its method, path, status and time (respond.c). */
void
metrics_count(const char *method, const char *path, int code, double secs)
{
	struct route_hist	*h;
	int			 route = route_index(method, path);
	size_t			 i, b;

	for (i = 0; i < ncodes; i++)
		if (codes[i].route == route && codes[i].code == code)
			break;
	if (i == ncodes && ncodes < CODES_MAX) {
		codes[i].route = route;
		codes[i].code = code;
		ncodes++;
	}
	if (i < ncodes)
		codes[i].n++;
	h = &hists[route + 1];
	for (b = 0; b < NBOUNDS && secs > bounds[b]; b++)
		;
	if (b < NBOUNDS)
		h->buckets[b]++;
	h->count++;
	h->sum += secs;
}

static void
route_label(int route, char *buf, size_t len)
{
	if (route < 0)
		snprintf(buf, len, "other");
	else
		snprintf(buf, len, "%s %s", op_rows[route].method,
		    op_rows[route].path);
}

/* The api's counters, in the text format, after replmon's. */
void
metrics_text(FILE *f)
{
	char			 r[160];
	size_t			 i, b;
	unsigned long long	 cum;
	int			 k;

	fprintf(f, "# HELP kmd_api_requests_total API requests answered, by"
	    " route and status\n# TYPE kmd_api_requests_total counter\n");
	for (i = 0; i < ncodes; i++) {
		route_label(codes[i].route, r, sizeof(r));
		fprintf(f, "kmd_api_requests_total{route=\"%s\",code=\"%d\"}"
		    " %llu\n", r, codes[i].code, codes[i].n);
	}
	fprintf(f, "# HELP kmd_api_request_duration_seconds time from a"
	    " request's arrival to its answer, by route\n"
	    "# TYPE kmd_api_request_duration_seconds histogram\n");
	for (k = -1; k < ROUTES_MAX && k < (int)op_nrows; k++) {
		if (hists[k + 1].count == 0)
			continue;
		route_label(k, r, sizeof(r));
		for (b = 0, cum = 0; b < NBOUNDS; b++) {
			cum += hists[k + 1].buckets[b];
			fprintf(f, "kmd_api_request_duration_seconds_bucket{"
			    "route=\"%s\",le=\"%g\"} %llu\n", r, bounds[b],
			    cum);
		}
		fprintf(f, "kmd_api_request_duration_seconds_bucket{route="
		    "\"%s\",le=\"+Inf\"} %llu\n", r, hists[k + 1].count);
		fprintf(f, "kmd_api_request_duration_seconds_sum{route="
		    "\"%s\"} %.6f\n", r, hists[k + 1].sum);
		fprintf(f, "kmd_api_request_duration_seconds_count{route="
		    "\"%s\"} %llu\n", r, hists[k + 1].count);
	}
}

