/*
 * The monitor's pure parts: when a peer counts as down (common/status.c),
 * the summary document built from reporters' stored views and the frames
 * that carry them (common/json.c, common/reply.c), a certificate's end.
 */
#include <stdio.h>
#include <string.h>

#include <check.h>
#include <yajl_gen.h>

#include "cert.h"
#include "json.h"
#include "kmsg.h"
#include "reply.h"
#include "status.h"

START_TEST(t_down)
{
	/* heard from 500 ms ago, known ready for a minute: up */
	ck_assert_int_eq(peer_down(500, 60000, 1, "replicating", 3000), 0);
	/* silent 3.5 s: down, however the connections look */
	ck_assert_int_eq(peer_down(3500, 60000, 1, "replicating", 3000), 1);
	/* never heard from, known for 1 s only: not yet */
	ck_assert_int_eq(peer_down(-1, 1000, 0, "down", 3000), 0);
	/* never heard from for 4 s of knowing it: down */
	ck_assert_int_eq(peer_down(-1, 4000, 0, "down", 3000), 1);
	/* a stale heartbeat from before this monitor started proves nothing */
	ck_assert_int_eq(peer_down(100000, 2000, 1, "replicating", 3000), 0);
	/* known long enough and connected neither way: down at once */
	ck_assert_int_eq(peer_down(200, 60000, 0, "down", 3000), 1);
	ck_assert_int_eq(peer_down(200, 60000, 0, "replicating", 3000), 0);
	ck_assert_int_eq(peer_down(200, 60000, 1, "down", 3000), 0);
}
END_TEST

START_TEST(t_watch)
{
	struct peer_watch	 w = { 0, 0 };

	ck_assert_int_eq(peer_watch(&w, 1, 0, 1000, 3000), 0);
	ck_assert_int_eq(peer_watch(&w, 1, 1, 2000, 3000), 1);
	/* heard again: still down until 3 s without a gap */
	ck_assert_int_eq(peer_watch(&w, 1, 0, 3000, 3000), 1);
	ck_assert_int_eq(peer_watch(&w, 1, 0, 5000, 3000), 1);
	/* a gap: the count starts again */
	ck_assert_int_eq(peer_watch(&w, 1, 1, 5500, 3000), 1);
	ck_assert_int_eq(peer_watch(&w, 1, 0, 6000, 3000), 1);
	ck_assert_int_eq(peer_watch(&w, 1, 0, 8999, 3000), 1);
	ck_assert_int_eq(peer_watch(&w, 1, 0, 9000, 3000), 0);
	ck_assert_int_eq(peer_watch(&w, 1, 0, 9500, 3000), 0);
	/* a node not ready (joining, killed) is never down */
	ck_assert_int_eq(peer_watch(&w, 0, 1, 10000, 3000), 0);
}
END_TEST

static char	 out[8192];

static void
summary(const struct summary_row *rows, size_t n)
{
	yajl_gen		 g = yajl_gen_alloc(NULL);
	const unsigned char	*buf;
	size_t			 len;

	json_summary(g, rows, n);
	ck_assert_int_eq(yajl_gen_get_buf(g, &buf, &len), yajl_gen_status_ok);
	ck_assert_uint_lt(len, sizeof(out));
	memcpy(out, buf, len);
	out[len] = '\0';
	yajl_gen_free(g);
}

static void
row(struct summary_row *r, const char *rep, const char *node,
    const char *view)
{
	memset(r, 0, sizeof(*r));
	strcpy(r->reporter, rep);
	strcpy(r->node, node);
	strcpy(r->updated, "2026-11-24T10:00:00.000000Z");
	strcpy(r->view, view);
}

START_TEST(t_summary)
{
	struct summary_row	 rows[3];

	/* jsonb's key order (short keys first) comes out sorted */
	row(&rows[0], "a", "a", "{\"summary\": \"GOOD\", \"nodeInfo\":"
	    " {\"port\": 5432, \"host\": \"h\", \"status\": {\"description\":"
	    " \"ready\", \"code\": \"r\"}}, \"clusterErrors\": null}");
	row(&rows[1], "a", "b", "[1, 2]");		/* no object: null */
	row(&rows[2], "b", "a", "{\"x\": ");		/* unparsable: null */
	summary(rows, 3);
	ck_assert_str_eq(out, "{\"skip\":0,\"limit\":0,\"total\":2,"
	    "\"resources\":{\"a\":{\"clusterSummary\":{\"a\":{\"clusterErrors\":"
	    "null,\"nodeInfo\":{\"host\":\"h\",\"port\":5432,\"status\":"
	    "{\"code\":\"r\",\"description\":\"ready\"}},\"summary\":\"GOOD\"},"
	    "\"b\":null},\"lastUpdated\":\"2026-11-24T10:00:00.000000Z\"},"
	    "\"b\":{\"clusterSummary\":{\"a\":null},"
	    "\"lastUpdated\":\"2026-11-24T10:00:00.000000Z\"}}}");
	summary(rows, 0);
	ck_assert_str_eq(out, "{\"skip\":0,\"limit\":0,\"total\":0,"
	    "\"resources\":{}}");
}
END_TEST

/* cluster verify's frame m (kind k) into rep: reply_frame()'s answer */
static int
vframe(struct reply *rep, struct verify_row *v, int k, const char *table,
    const char *key, const char *node, const char *hash)
{
	struct kmsg	 m;

	memset(&m, 0, sizeof(m));
	memset(v, 0, sizeof(*v));
	v->kind = k;
	v->ok = k != VERIFY_DIFF;
	strcpy(v->table, table);
	strcpy(v->key, key);
	strcpy(v->nodeid, node);
	strcpy(v->hash, hash);
	m.hdr.type = IMSG_VERIFY_ROW;
	m.data = (uint8_t *)v;
	m.datalen = sizeof(*v);
	return reply_frame(rep, &m);
}

START_TEST(t_verify)
{
	static struct verify_row	 v;
	struct reply			 rep;
	yajl_gen			 g;
	const unsigned char		*buf;
	size_t				 len;

	memset(&rep, 0, sizeof(rep));
	/* the result comes first, once; a kind out of range is refused */
	ck_assert_int_eq(vframe(&rep, &v, VERIFY_NODE, "", "", "a", ""), -1);
	ck_assert_int_eq(vframe(&rep, &v, 7, "", "", "a", ""), -1);
	ck_assert_int_eq(reply_complete(&rep, P_VERIFY), 0);
	ck_assert_int_eq(vframe(&rep, &v, VERIFY_RESULT, "", "", "", ""), 0);
	ck_assert_int_eq(vframe(&rep, &v, VERIFY_RESULT, "", "", "", ""), -1);
	ck_assert_int_eq(vframe(&rep, &v, VERIFY_NODE, "", "", "a", ""), 0);
	ck_assert_int_eq(vframe(&rep, &v, VERIFY_TABLE, "keys", "", "a", "d1"),
	    0);
	ck_assert_int_eq(vframe(&rep, &v, VERIFY_TABLE, "keys", "", "b", "d2"),
	    0);
	ck_assert_int_eq(vframe(&rep, &v, VERIFY_DIFF, "keys", "k1", "a", "h"),
	    0);
	ck_assert_int_eq(vframe(&rep, &v, VERIFY_DIFF, "keys", "k1", "b", ""),
	    0);
	ck_assert_int_eq(vframe(&rep, &v, VERIFY_DIFF, "users", "u", "a", ""),
	    0);
	memset(v.key, 'k', sizeof(v.key));			/* unterminated */
	ck_assert_int_eq(reply_frame(&rep, &(struct kmsg){ .hdr.type =
	    IMSG_VERIFY_ROW, .data = (uint8_t *)&v, .datalen = sizeof(v) }),
	    -1);
	ck_assert_int_eq(reply_complete(&rep, P_VERIFY), 1);

	/* grouped by table, and by table and key; an absent row is null */
	g = yajl_gen_alloc(NULL);
	json_reply(g, &rep, P_VERIFY, NULL);
	ck_assert_int_eq(yajl_gen_get_buf(g, &buf, &len), yajl_gen_status_ok);
	ck_assert_uint_lt(len, sizeof(out));
	memcpy(out, buf, len);
	out[len] = '\0';
	yajl_gen_free(g);
	ck_assert_str_eq(out, "{\"same\":true,\"verdict\":\"\",\"rounds\":0,"
	    "\"rowsDiffering\":0,\"rowsInFlight\":0,\"nodes\":[{\"nodeID\":"
	    "\"a\",\"host\":\"\",\"compared\":true}],\"tables\":[{\"table\":"
	    "\"keys\",\"same\":true,\"nodes\":[{\"nodeID\":\"a\",\"rows\":0,"
	    "\"digest\":\"d1\"},{\"nodeID\":\"b\",\"rows\":0,\"digest\":"
	    "\"d2\"}]}],\"differences\":[{\"table\":\"keys\",\"key\":\"k1\","
	    "\"nodes\":[{\"nodeID\":\"a\",\"row\":\"h\"},{\"nodeID\":\"b\","
	    "\"row\":null}]},{\"table\":\"users\",\"key\":\"u\",\"nodes\":"
	    "[{\"nodeID\":\"a\",\"row\":null}]}],\"differencesTruncated\":"
	    "false}");
	reply_clear(&rep);
}
END_TEST

START_TEST(t_frames)
{
	static struct summary_row	 r;
	static struct alarm_info	 a;
	struct nodes_page		 pg;
	struct reply			 rep;
	struct kmsg			 m;

	memset(&rep, 0, sizeof(rep));
	memset(&m, 0, sizeof(m));
	row(&r, "a", "b", "{}");
	m.hdr.type = IMSG_SUMMARY_ROW;
	m.data = (uint8_t *)&r;
	m.datalen = sizeof(r);
	ck_assert_int_eq(reply_frame(&rep, &m), 0);
	ck_assert_uint_eq(rep.nrows, 1);
	m.datalen = sizeof(r) - 1;			/* short */
	ck_assert_int_eq(reply_frame(&rep, &m), -1);
	memset(r.view, 'x', sizeof(r.view));		/* unterminated */
	m.datalen = sizeof(r);
	ck_assert_int_eq(reply_frame(&rep, &m), -1);

	/* an alarm before its page is refused, after it kept */
	memset(&a, 0, sizeof(a));
	strcpy(a.kind, "node-down");
	m.hdr.type = IMSG_ALARM_INFO;
	m.data = (uint8_t *)&a;
	m.datalen = sizeof(a);
	ck_assert_int_eq(reply_frame(&rep, &m), -1);
	memset(&pg, 0, sizeof(pg));
	m.hdr.type = IMSG_ALARMS_PAGE;
	m.data = (uint8_t *)&pg;
	m.datalen = sizeof(pg);
	ck_assert_int_eq(reply_frame(&rep, &m), 0);
	m.hdr.type = IMSG_ALARM_INFO;
	m.data = (uint8_t *)&a;
	m.datalen = sizeof(a);
	ck_assert_int_eq(reply_frame(&rep, &m), 0);
	memset(a.message, 'm', sizeof(a.message));
	ck_assert_int_eq(reply_frame(&rep, &m), -1);
	ck_assert_uint_eq(rep.nalarms, 1);
	reply_clear(&rep);
}
END_TEST

/* A join's checks past the most kept: taken, the latest last. */
START_TEST(t_checks)
{
	static struct reply	 rep;
	struct join_check	 c;
	struct kmsg		 m;
	int			 i;

	memset(&m, 0, sizeof(m));
	m.hdr.type = IMSG_JOIN_CHECK;
	m.data = (uint8_t *)&c;
	m.datalen = sizeof(c);
	for (i = 0; i < REPLY_CHECKS_MAX + 5; i++) {
		memset(&c, 0, sizeof(c));
		snprintf(c.item, sizeof(c.item), "check %d", i);
		ck_assert_int_eq(reply_frame(&rep, &m), 0);
	}
	ck_assert_uint_eq(rep.nchecks, REPLY_CHECKS_MAX);
	ck_assert_str_eq(rep.checks[0].item, "check 0");
	ck_assert_str_eq(rep.checks[REPLY_CHECKS_MAX - 1].item, "check 20");
	reply_clear(&rep);
}
END_TEST

START_TEST(t_cert_days)
{
	EVP_PKEY	*key = ca_keygen();
	X509		*x;
	char		 pem[8192], date[16];
	int		 days;

	ck_assert_ptr_nonnull(x = ca_make_root(key, "c"));
	ck_assert_int_eq(pem_cert(x, pem, sizeof(pem)), 0);
	ck_assert_int_eq(cert_days_left(pem, &days, date, sizeof(date)), 0);
	ck_assert_int_gt(days, 365);
	ck_assert_uint_eq(strlen(date), 10);
	ck_assert_int_eq(cert_days_left("not a certificate", &days, date,
	    sizeof(date)), -1);
	X509_free(x);
	EVP_PKEY_free(key);
}
END_TEST

Suite *
monitor_suite(void)
{
	Suite	*s = suite_create("monitor");
	TCase	*tc = tcase_create("core");

	tcase_add_test(tc, t_down);
	tcase_add_test(tc, t_watch);
	tcase_add_test(tc, t_summary);
	tcase_add_test(tc, t_frames);
	tcase_add_test(tc, t_verify);
	tcase_add_test(tc, t_checks);
	tcase_add_test(tc, t_cert_days);
	suite_add_tcase(s, tc);
	return s;
}
