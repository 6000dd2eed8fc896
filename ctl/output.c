/*
 * JSON at the edge: typed replies from kmd become the reference's JSON
 * (common/json.c), pretty-printed with yajl.  Remote replies arrive as
 * JSON already and are re-printed the same way.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <yajl_gen.h>
#include <yajl_tree.h>

#include "json.h"
#include "output.h"

static yajl_gen
gen_new(void)
{
	yajl_gen	 g;

	if ((g = yajl_gen_alloc(NULL)) == NULL)
		return NULL;
	yajl_gen_config(g, yajl_gen_beautify, 1);
	yajl_gen_config(g, yajl_gen_indent_string, "  ");
	return g;
}

static int	 as_table;	/* -o table */

void
output_table(int on)
{
	as_table = on;
}

/* A cell: a scalar as it reads, a status by its description. */
static void
cell(yajl_val v, char *buf, size_t len)
{
	const char	*dp[] = { "description", NULL };
	yajl_val	 d;

	if (YAJL_IS_STRING(v))
		snprintf(buf, len, "%s", YAJL_GET_STRING(v));
	else if (YAJL_IS_NUMBER(v))
		snprintf(buf, len, "%s", YAJL_GET_NUMBER(v));
	else if (YAJL_IS_TRUE(v) || YAJL_IS_FALSE(v))
		snprintf(buf, len, "%s", YAJL_IS_TRUE(v) ? "true" : "false");
	else if (YAJL_IS_OBJECT(v) &&
	    (d = yajl_tree_get(v, dp, yajl_t_string)) != NULL)
		snprintf(buf, len, "%s", YAJL_GET_STRING(d));
	else
		snprintf(buf, len, "-");
	buf[strcspn(buf, "\n")] = '\0';
}

#define TABLE_COLS	24
#define CELL_MAX	512

/*
 * A list-like answer ({"resources": [objects]}) as a table: a column per
 * member of its first row, named in capitals, cells aligned; what is not
 * a list stays JSON.  0: printed; 1: not a list.
 */
static int
print_table(const char *text)
{
	const char	*rp[] = { "resources", NULL };
	yajl_val	 doc, res, row;
	size_t		 ncol, i, c, w[TABLE_COLS];
	char		 buf[CELL_MAX];
	int		 r = 1;

	if ((doc = yajl_tree_parse(text, NULL, 0)) == NULL)
		return 1;
	if ((res = yajl_tree_get(doc, rp, yajl_t_array)) == NULL ||
	    (YAJL_GET_ARRAY(res)->len > 0 &&
	    !YAJL_IS_OBJECT(YAJL_GET_ARRAY(res)->values[0])))
		goto out;
	r = 0;
	if (YAJL_GET_ARRAY(res)->len == 0)
		goto out;
	row = YAJL_GET_ARRAY(res)->values[0];
	ncol = YAJL_GET_OBJECT(row)->len;
	if (ncol > TABLE_COLS)
		ncol = TABLE_COLS;
	for (c = 0; c < ncol; c++)
		w[c] = strlen(YAJL_GET_OBJECT(row)->keys[c]);
	for (i = 0; i < YAJL_GET_ARRAY(res)->len; i++) {
		row = YAJL_GET_ARRAY(res)->values[i];
		for (c = 0; YAJL_IS_OBJECT(row) && c < ncol &&
		    c < YAJL_GET_OBJECT(row)->len; c++) {
			cell(YAJL_GET_OBJECT(row)->values[c], buf, sizeof(buf));
			if (strlen(buf) > w[c])
				w[c] = strlen(buf);
		}
	}
	row = YAJL_GET_ARRAY(res)->values[0];
	for (c = 0; c < ncol; c++) {
		const char	*k = YAJL_GET_OBJECT(row)->keys[c];

		for (i = 0; k[i] != '\0'; i++)
			putchar(k[i] >= 'a' && k[i] <= 'z' ? k[i] - 32 : k[i]);
		printf("%*s", c + 1 < ncol ? (int)(w[c] - i + 2) : 0, "");
	}
	putchar('\n');
	for (i = 0; i < YAJL_GET_ARRAY(res)->len; i++) {
		row = YAJL_GET_ARRAY(res)->values[i];
		for (c = 0; YAJL_IS_OBJECT(row) && c < ncol &&
		    c < YAJL_GET_OBJECT(row)->len; c++) {
			cell(YAJL_GET_OBJECT(row)->values[c], buf, sizeof(buf));
			printf("%s%*s", buf, c + 1 < ncol ?
			    (int)(w[c] - strlen(buf) + 2) : 0, "");
		}
		putchar('\n');
	}
out:
	yajl_tree_free(doc);
	return r;
}

static int
gen_print(yajl_gen g)
{
	const unsigned char	*buf;
	size_t			 len;
	int			 r = -1;
	char			*text;

	if (as_table && yajl_gen_get_buf(g, &buf, &len) ==
	    yajl_gen_status_ok && (text = strndup((const char *)buf, len)) !=
	    NULL) {
		r = print_table(text);
		free(text);
		if (r == 0) {
			yajl_gen_free(g);
			return fflush(stdout) == 0 ? 0 : -1;
		}
		r = -1;
	}
	if (yajl_gen_get_buf(g, &buf, &len) == yajl_gen_status_ok &&
	    fwrite(buf, 1, len, stdout) == len && fflush(stdout) == 0)
		r = 0;
	yajl_gen_free(g);
	return r;
}

int
print_reply(const struct reply *r, enum print_what what)
{
	yajl_gen	 g;

	if (what == P_NONE)
		return 0;
	if (what == P_BKEY_FILE)	/* the exported key's own text */
		return fputs(r->bkeys[0].file, stdout) == EOF ? -1 : 0;
	if ((g = gen_new()) == NULL)
		return -1;
	json_reply(g, r, what, KMD_VERSION);
	return gen_print(g);
}

int
print_json(yajl_val v)
{
	yajl_gen	 g;

	if ((g = gen_new()) == NULL)
		return -1;
	json_value(g, v, 0);
	return gen_print(g);
}

/* kmctl version with --url: the node's answer, and kmctl's own. */
int
print_version(yajl_val v)
{
	const char		*kp[] = { "kmdVersion", NULL };
	const char		*sp[] = { "schemaVersion", NULL };
	yajl_val		 k, n;
	struct version_info	 vi;
	yajl_gen		 g;

	memset(&vi, 0, sizeof(vi));
	vi.schema_version = -1;
	if ((k = yajl_tree_get(v, kp, yajl_t_string)) != NULL)
		snprintf(vi.kmd_version, sizeof(vi.kmd_version), "%s",
		    YAJL_GET_STRING(k));
	if ((n = yajl_tree_get(v, sp, yajl_t_number)) != NULL &&
	    YAJL_IS_INTEGER(n))
		vi.schema_version = (int32_t)YAJL_GET_INTEGER(n);
	if ((g = gen_new()) == NULL)
		return -1;
	json_version(g, &vi, KMD_VERSION);
	return gen_print(g);
}

/*
 * A preflight item of cluster join (what: "preflight"), or nodes
 * create's advice, one line on stderr.
 */
void
print_check(const char *what, const struct join_check *c)
{
	fprintf(stderr, "%s: %-12s %s  %s\n", what, c->item,
	    c->ok ? "ok    " : "FAILED", c->detail);
}
