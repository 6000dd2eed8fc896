/*
 * The operation catalogue as data (common/ops.h): one row per command
 * with what every process may need of it at run time, and the matching
 * of a REST path against the catalogue's path patterns.
 */
#include <string.h>

#include "kchan.h"
#include "ops.h"
#include "proto.h"
#include "util.h"

#define OP_ROW(act, type, print, role, cls, method, path, build, rest, \
    prompt)	{ #act, type, role, cls, method, path, prompt },
const struct op_row op_rows[] = {
	OPS(OP_ROW)
};
const size_t op_nrows = nitems(op_rows);

/*
 * Whether a path (under /api/v1/, without its query) fits a pattern,
 * where "{x}" stands for one non-empty segment: 0 when not, 1 when it
 * fits through a segment, 2 when literally.
 */
int
op_path_fits(const char *pattern, const char *path)
{
	size_t	 n;
	int	 literal = 2;

	while (*pattern != '\0') {
		if (*pattern == '{') {
			literal = 1;
			if ((n = strcspn(path, "/")) == 0)
				return 0;
			path += n;
			pattern += strcspn(pattern, "}");
			if (*pattern == '}')
				pattern++;
			continue;
		}
		if (*pattern++ != *path++)
			return 0;
	}
	return *path == '\0' ? literal : 0;
}

/*
 * The row for a REST request, or NULL.  A literal path wins over one
 * through a segment, so that DELETE system/rot-keys/rotate is not the
 * key "rotate".  *methods gets the methods the path allows (0: no such
 * path), for a 405's Allow header.
 */
const struct op_row *
op_route(const char *path, const char *method, char *methods, size_t len)
{
	const struct op_row	*hit = NULL;
	size_t			 i;
	int			 fit, best = 0;

	if (len > 0)
		methods[0] = '\0';
	for (i = 0; i < op_nrows; i++)
		if (op_rows[i].method != NULL &&
		    (fit = op_path_fits(op_rows[i].path, path)) > best)
			best = fit;
	for (i = 0; best > 0 && i < op_nrows; i++) {
		if (op_rows[i].method == NULL ||
		    op_path_fits(op_rows[i].path, path) != best)
			continue;
		if (strcmp(op_rows[i].method, method) == 0)
			hit = &op_rows[i];
		if (strstr(methods, op_rows[i].method) == NULL &&
		    strlen(methods) + strlen(op_rows[i].method) + 3 < len) {
			if (methods[0] != '\0')
				strcat(methods, ", ");
			strcat(methods, op_rows[i].method);
		}
	}
	return hit;
}

static const char *const role_names[] = {
	[ROLE_NONE] = "none", [ROLE_VIEWER] = "viewer", [ROLE_KEYS] = "keys",
	[ROLE_ADMIN] = "admin"
};

const char *
role_name(enum op_role r)
{
	return (unsigned)r < nitems(role_names) ? role_names[r] : "?";
}

/* An API user's role by name; -1 if it is none of them. */
int
role_parse(const char *s)
{
	int	 r;

	for (r = ROLE_VIEWER; r <= ROLE_ADMIN; r++)
		if (strcmp(s, role_names[r]) == 0)
			return r;
	return -1;
}

/*
 * The least role a request from the api worker needs: that of the
 * catalogue's REST row of its type; where rows of one type need
 * different roles (keys), the row its payload names; ROLE_ADMIN for a
 * type no REST row has (the api cannot send those).
 */
enum op_role
op_request_role(uint16_t type, const void *data, size_t len)
{
	static const char *const keys_act[KEYS_OPS] = {
		[KEYS_CREATE] = "A_KEYS_CREATE", [KEYS_LIST] = "A_KEYS_LIST",
		[KEYS_GET] = "A_KEYS_GET", [KEYS_DELETE] = "A_KEYS_DELETE",
		[KEYS_ROTATE] = "A_KEYS_ROTATE",
		[KEYS_ENCRYPT] = "A_KEYS_ENCRYPT",
		[KEYS_DECRYPT] = "A_KEYS_DECRYPT"
	};
	const struct keys_req	*kr = data;
	enum op_role		 need = ROLE_ADMIN;
	size_t			 i;

	if (type == IMSG_CTL_KEYS && (len != sizeof(*kr) || kr->op < 0 ||
	    kr->op >= KEYS_OPS))
		return ROLE_ADMIN;
	for (i = 0; i < op_nrows; i++) {
		if (op_rows[i].type != type || op_rows[i].method == NULL)
			continue;
		if (type == IMSG_CTL_KEYS) {
			if (strcmp(op_rows[i].name, keys_act[kr->op]) == 0)
				return op_rows[i].role;
			continue;
		}
		if (op_rows[i].role < need)
			need = op_rows[i].role;
	}
	return need;
}
