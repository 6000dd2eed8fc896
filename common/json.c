/*
 * The JSON documents of kmd's replies, in the reference's shapes and key
 * order.  kmctl prints them (pretty) and the API sends them (compact) from
 * this one place, so local and remote output cannot drift apart.
 */
#include <stdlib.h>
#include <string.h>
#include <yajl_tree.h>

#include "json.h"
#include "status.h"
#include "util.h"

void
json_str(yajl_gen g, const char *s)
{
	yajl_gen_string(g, (const unsigned char *)s, strlen(s));
}

/* A string value's text; "" when the value is no string. */
const char *
json_string(yajl_val v)
{
	const char	*s = YAJL_IS_STRING(v) ? YAJL_GET_STRING(v) : NULL;

	return s != NULL ? s : "";
}

static void
json_status(yajl_gen g, const char *code, const char *desc)
{
	json_str(g, "status");
	yajl_gen_map_open(g);
	json_str(g, "code");
	json_str(g, code);
	json_str(g, "description");
	json_str(g, desc);
	yajl_gen_map_close(g);
}

void
json_cluster_info(yajl_gen g, const struct cluster_info *ci)
{
	yajl_gen_map_open(g);
	json_str(g, "nodeID");
	json_str(g, ci->nodeid);
	json_status(g, ci->code, ci->desc);
	if (ci->nodecount >= 0) {
		json_str(g, "nodeCount");
		yajl_gen_integer(g, ci->nodecount);
	}
	if (ci->error[0] != '\0') {
		json_str(g, "error");
		json_str(g, ci->error);
	}
	if (ci->progress[0] != '\0') {
		json_str(g, "progress");
		json_str(g, ci->progress);
	}
	yajl_gen_map_close(g);
}

void
json_node(yajl_gen g, const struct node_info *n)
{
	yajl_gen_map_open(g);
	json_str(g, "nodeID");
	json_str(g, n->nodeid);
	json_status(g, n->code, n->desc);
	json_str(g, "host");
	json_str(g, n->host);
	json_str(g, "port");
	yajl_gen_integer(g, n->port);
	json_str(g, "publicAddress");
	json_str(g, n->pubaddr);
	json_str(g, "isThisNode");
	yajl_gen_bool(g, n->this_node);
	if (n->expires[0] != '\0') {
		json_str(g, "expires");
		json_str(g, n->expires);
	}
	json_str(g, "kmdVersion");
	json_str(g, n->kmd_version);
	if (n->schema > 0) {
		json_str(g, "schemaVersion");
		yajl_gen_integer(g, n->schema);
	}
	yajl_gen_map_close(g);
}

/* A page's head: skip, limit, total, and "resources" opened. */
static void
page_open(yajl_gen g, const struct nodes_page *pg)
{
	yajl_gen_map_open(g);
	json_str(g, "skip");
	yajl_gen_integer(g, pg->skip);
	json_str(g, "limit");
	yajl_gen_integer(g, pg->limit);
	json_str(g, "total");
	yajl_gen_integer(g, pg->total);
	json_str(g, "resources");
}

void
json_nodes(yajl_gen g, const struct nodes_page *pg,
    const struct node_info *nodes, size_t n)
{
	size_t	 i;

	page_open(g, pg);
	yajl_gen_array_open(g);
	for (i = 0; i < n; i++)
		json_node(g, &nodes[i]);
	yajl_gen_array_close(g);
	yajl_gen_map_close(g);
}

static const char	**sort_keys;

static int
key_cmp(const void *a, const void *b)
{
	return strcmp(sort_keys[*(const size_t *)a],
	    sort_keys[*(const size_t *)b]);
}

/*
 * Copy a parsed value into g, numbers verbatim; with sorted, an object's
 * keys in byte order (the reference's order for the summary, whatever
 * order jsonb stored them in).
 */
void
json_value(yajl_gen g, yajl_val v, int sorted)
{
	size_t	 i, n, *idx;

	if (YAJL_IS_OBJECT(v)) {
		n = v->u.object.len;
		if ((idx = calloc(n ? n : 1, sizeof(*idx))) == NULL) {
			yajl_gen_null(g);
			return;
		}
		for (i = 0; i < n; i++)
			idx[i] = i;
		if (sorted) {
			sort_keys = v->u.object.keys;
			qsort(idx, n, sizeof(*idx), key_cmp);
		}
		yajl_gen_map_open(g);
		for (i = 0; i < n; i++) {
			json_str(g, v->u.object.keys[idx[i]]);
			json_value(g, v->u.object.values[idx[i]], sorted);
		}
		yajl_gen_map_close(g);
		free(idx);
	} else if (YAJL_IS_ARRAY(v)) {
		yajl_gen_array_open(g);
		for (i = 0; i < v->u.array.len; i++)
			json_value(g, v->u.array.values[i], sorted);
		yajl_gen_array_close(g);
	} else if (YAJL_IS_STRING(v))
		json_str(g, v->u.string);
	else if (YAJL_IS_NUMBER(v))
		yajl_gen_number(g, v->u.number.r, strlen(v->u.number.r));
	else if (YAJL_IS_TRUE(v))
		yajl_gen_bool(g, 1);
	else if (YAJL_IS_FALSE(v))
		yajl_gen_bool(g, 0);
	else
		yajl_gen_null(g);
}

/*
 * cluster summary: rows sorted by reporter, then node.  Each reporter's
 * views of every node under "clusterSummary", and when it last wrote.
 * A view that does not parse as an object (it came from another node's
 * database) is shown as null.
 */
void
json_summary(yajl_gen g, const struct summary_row *rows, size_t n)
{
	struct nodes_page	 pg;
	yajl_val		 v;
	char			 err[128];
	size_t			 i, j;

	memset(&pg, 0, sizeof(pg));
	for (i = 0; i < n; i++)
		if (i == 0 || strcmp(rows[i].reporter, rows[i - 1].reporter))
			pg.total++;
	page_open(g, &pg);
	yajl_gen_map_open(g);
	for (i = 0; i < n; i = j) {
		json_str(g, rows[i].reporter);
		yajl_gen_map_open(g);
		json_str(g, "clusterSummary");
		yajl_gen_map_open(g);
		for (j = i; j < n && strcmp(rows[j].reporter,
		    rows[i].reporter) == 0; j++) {
			json_str(g, rows[j].node);
			v = yajl_tree_parse(rows[j].view, err, sizeof(err));
			if (YAJL_IS_OBJECT(v))
				json_value(g, v, 1);
			else
				yajl_gen_null(g);
			yajl_tree_free(v);
		}
		yajl_gen_map_close(g);
		json_str(g, "lastUpdated");
		json_str(g, rows[i].updated);
		yajl_gen_map_close(g);
	}
	yajl_gen_map_close(g);
	yajl_gen_map_close(g);
}

void
json_alarms(yajl_gen g, const struct nodes_page *pg,
    const struct alarm_info *a, size_t n)
{
	size_t	 i;

	page_open(g, pg);
	yajl_gen_array_open(g);
	for (i = 0; i < n; i++) {
		yajl_gen_map_open(g);
		json_str(g, "id");
		yajl_gen_integer(g, a[i].id);
		json_str(g, "kind");
		json_str(g, a[i].kind);
		json_str(g, "subject");
		json_str(g, a[i].subject);
		json_str(g, "message");
		json_str(g, a[i].message);
		json_str(g, "raised");
		json_str(g, a[i].raised);
		json_str(g, "cleared");
		if (a[i].cleared[0] != '\0')
			json_str(g, a[i].cleared);
		else
			yajl_gen_null(g);
		json_str(g, "active");
		yajl_gen_bool(g, a[i].cleared[0] == '\0');
		yajl_gen_map_close(g);
	}
	yajl_gen_array_close(g);
	yajl_gen_map_close(g);
}

/* A served key, in the vendor's names (vault/keys2). */
void
json_key(yajl_gen g, const struct key_info *k)
{
	char	 alg[16];
	size_t	 i;

	for (i = 0; k->algorithm[i] != '\0' && i < sizeof(alg) - 1; i++)
		alg[i] = (k->algorithm[i] >= 'a' && k->algorithm[i] <= 'z') ?
		    k->algorithm[i] - 'a' + 'A' : k->algorithm[i];
	alg[i] = '\0';
	yajl_gen_map_open(g);
	json_str(g, "id");
	json_str(g, k->id);
	json_str(g, "name");
	json_str(g, k->name);
	json_str(g, "objectType");
	json_str(g, "Symmetric Key");
	json_str(g, "algorithm");
	json_str(g, alg);
	json_str(g, "size");
	yajl_gen_integer(g, k->size);
	json_str(g, "version");
	yajl_gen_integer(g, k->version);
	json_str(g, "kcv");
	json_str(g, k->kcv);
	json_str(g, "createdAt");
	json_str(g, k->created);
	json_str(g, "updatedAt");
	json_str(g, k->updated);
	yajl_gen_map_close(g);
}

void
json_keys(yajl_gen g, const struct nodes_page *pg, const struct key_info *k,
    size_t n)
{
	size_t	 i;

	page_open(g, pg);
	yajl_gen_array_open(g);
	for (i = 0; i < n; i++)
		json_key(g, &k[i]);
	yajl_gen_array_close(g);
	yajl_gen_map_close(g);
}

/* encrypt: {"id", "name", "version", "mode", "ciphertext"}; decrypt:
 * the same with "plaintext", both base64. */
void
json_crypt(yajl_gen g, const struct key_crypt *c)
{
	yajl_gen_map_open(g);
	json_str(g, "id");
	json_str(g, c->id);
	json_str(g, "name");
	json_str(g, c->name);
	json_str(g, "version");
	yajl_gen_integer(g, c->version);
	json_str(g, "mode");
	json_str(g, "gcm");
	json_str(g, c->decrypt ? "plaintext" : "ciphertext");
	json_str(g, c->data);
	yajl_gen_map_close(g);
}

/* An unpaged list: {"total": N, "resources": [, the caller's elements. */
static void
list_open(yajl_gen g, size_t n)
{
	yajl_gen_map_open(g);
	json_str(g, "total");
	yajl_gen_integer(g, (long long)n);
	json_str(g, "resources");
	yajl_gen_array_open(g);
}

/* rot-keys: {"total": N, "resources": [{"id", "kind", "inUse"}, ...]} */
void
json_rotkeys(yajl_gen g, const struct rotkey_info *k, size_t n)
{
	size_t	 i;

	list_open(g, n);
	for (i = 0; i < n; i++) {
		yajl_gen_map_open(g);
		json_str(g, "id");
		json_str(g, k[i].id);
		json_str(g, "kind");
		json_str(g, k[i].kind);
		json_str(g, "inUse");
		yajl_gen_bool(g, k[i].in_use);
		yajl_gen_map_close(g);
	}
	yajl_gen_array_close(g);
	yajl_gen_map_close(g);
}

/* A map of n string members: kv holds each name, then its value. */
static void
json_strmap(yajl_gen g, const char *const *kv, size_t n)
{
	size_t	 i;

	yajl_gen_map_open(g);
	for (i = 0; i < 2 * n; i++)
		json_str(g, kv[i]);
	yajl_gen_map_close(g);
}

/* An API user: {"name", "role", "createdAt"}; a list of them. */
static void
json_user(yajl_gen g, const struct user_info *u)
{
	const char	*kv[] = {
		"name", u->name, "role", u->role, "createdAt", u->created
	};

	json_strmap(g, kv, nitems(kv) / 2);
}

static void
json_users(yajl_gen g, const struct user_info *u, size_t n)
{
	size_t	 i;

	list_open(g, n);
	for (i = 0; i < n; i++)
		json_user(g, &u[i]);
	yajl_gen_array_close(g);
	yajl_gen_map_close(g);
}

void
json_procs(yajl_gen g, const struct ctl_proc *p, size_t n)
{
	size_t	 i;

	yajl_gen_map_open(g);
	json_str(g, "processes");
	yajl_gen_array_open(g);
	for (i = 0; i < n; i++) {
		yajl_gen_map_open(g);
		json_str(g, "role");
		json_str(g, p[i].role);
		json_str(g, "pid");
		yajl_gen_integer(g, p[i].pid);
		json_str(g, "user");
		json_str(g, p[i].user);
		json_str(g, "uptime");
		yajl_gen_integer(g, p[i].uptime);
		json_str(g, "restarts");
		yajl_gen_integer(g, p[i].restarts);
		yajl_gen_map_close(g);
	}
	yajl_gen_array_close(g);
	yajl_gen_map_close(g);
}

/* {"code": N, "codeDesc": "...", "message": "..."} */
void
json_error(yajl_gen g, int code, const char *desc, const char *msg)
{
	yajl_gen_map_open(g);
	json_str(g, "code");
	yajl_gen_integer(g, code);
	json_str(g, "codeDesc");
	json_str(g, desc);
	json_str(g, "message");
	json_str(g, msg);
	yajl_gen_map_close(g);
}

/* cluster csr: {"csr": PEM} */
void
json_csr(yajl_gen g, const struct csr_reply *c)
{
	yajl_gen_map_open(g);
	json_str(g, "csr");
	json_str(g, c->csr);
	yajl_gen_map_close(g);
}

/* cluster nodes create: {"cert", "cachain", "mkek_blob"} */
void
json_credentials(yajl_gen g, const struct node_credentials *c)
{
	const char	*kv[] = {
		"cert", c->cert, "cachain", c->cachain, "mkek_blob",
		c->mkek_blob
	};

	json_strmap(g, kv, nitems(kv) / 2);
}

/* One preflight item, as cluster join reports it. */
void
json_check(yajl_gen g, const struct join_check *c)
{
	yajl_gen_map_open(g);
	json_str(g, "check");
	json_str(g, c->item);
	json_str(g, "ok");
	yajl_gen_bool(g, c->ok);
	json_str(g, "detail");
	json_str(g, c->detail);
	yajl_gen_map_close(g);
}

/* A count or version, null when negative (not known, not there). */
static void
json_int_or_null(yajl_gen g, int64_t v)
{
	if (v < 0)
		yajl_gen_null(g);
	else
		yajl_gen_integer(g, v);
}

/*
 * cluster upgrade status: {"committedSchema" (null: not clustered),
 * "kmdVersion" and "knowsSchema" of this node's kmd, "windowOpen", "next"
 * (what to do now), "nodes": each as nodes get shows it}.
 */
static void
json_upgrade(yajl_gen g, const struct upgrade_info *u,
    const struct node_info *nodes, size_t n)
{
	size_t	 i;

	yajl_gen_map_open(g);
	json_str(g, "committedSchema");
	json_int_or_null(g, u->committed);
	json_str(g, "kmdVersion");
	json_str(g, u->kmd_version);
	json_str(g, "knowsSchema");
	yajl_gen_integer(g, u->knows);
	json_str(g, "windowOpen");
	yajl_gen_bool(g, u->window);
	json_str(g, "next");
	json_str(g, u->next);
	json_str(g, "nodes");
	yajl_gen_array_open(g);
	for (i = 0; i < n; i++)
		json_node(g, &nodes[i]);
	yajl_gen_array_close(g);
	yajl_gen_map_close(g);
}

/*
 * kmctl version: {"kmdVersion", "schemaVersion"} as the node answers it,
 * with "kmctlVersion" when kmctl prints it.  A schema of -1 (the database
 * is down) is null.
 */
void
json_version(yajl_gen g, const struct version_info *vi, const char *kmctl)
{
	yajl_gen_map_open(g);
	json_str(g, "kmdVersion");
	json_str(g, vi->kmd_version);
	json_str(g, "schemaVersion");
	json_int_or_null(g, vi->schema_version);
	if (kmctl != NULL) {
		json_str(g, "kmctlVersion");
		json_str(g, kmctl);
	}
	yajl_gen_map_close(g);
}

static const char *const health_names[HEALTH_STATES] = {
	[HEALTH_READY] = "ready", [HEALTH_JOINING] = "joining",
	[HEALTH_REMOVED] = "removed", [HEALTH_NOTCLUSTERED] = "notclustered",
	[HEALTH_UNAVAILABLE] = "unavailable"
};

/* A health state's name, as health's JSON and its query parameters say it. */
const char *
health_name(int state)
{
	return state >= 0 && state < HEALTH_STATES ? health_names[state] :
	    "unavailable";
}

/*
 * Health: {"health", "status": {"code", "description"}, "hsm", "error"}:
 * whether the node serves (health_name()), its status as cluster info
 * shows it (null while its database does not answer), whether its root
 * of trust answered a probe (null: not probed), and why it does not
 * serve (only then).
 */
void
json_health(yajl_gen g, const struct health_info *h)
{
	yajl_gen_map_open(g);
	json_str(g, "health");
	json_str(g, health_name(h->state));
	json_str(g, "status");
	if (h->code[0] == '\0')
		yajl_gen_null(g);
	else {
		yajl_gen_map_open(g);
		json_str(g, "code");
		json_str(g, h->code);
		json_str(g, "description");
		json_str(g, status_desc(h->code));
		yajl_gen_map_close(g);
	}
	json_str(g, "hsm");
	if (h->hsm_ok < 0)		/* not probed */
		yajl_gen_null(g);
	else
		json_str(g, h->hsm_ok ? "ok" : "unusable");
	if (h->state == HEALTH_UNAVAILABLE) {
		json_str(g, "error");
		json_str(g, h->error);
	}
	yajl_gen_map_close(g);
}

/* One node's part of a table's or a differing row's account. */
static void
json_verify_node(yajl_gen g, const struct verify_row *v)
{
	yajl_gen_map_open(g);
	json_str(g, "nodeID");
	json_str(g, v->nodeid);
	if (v->kind == VERIFY_TABLE) {
		json_str(g, "rows");
		yajl_gen_integer(g, v->rows);
		json_str(g, "digest");
		json_str(g, v->hash);
	} else {
		json_str(g, "row");
		if (v->hash[0] == '\0')
			yajl_gen_null(g);
		else
			json_str(g, v->hash);
	}
	yajl_gen_map_close(g);
}

/*
 * The entries of one kind (TABLE or DIFF) as an array, the consecutive
 * rows of one table (and key) grouped under it.
 */
static void
json_verify_group(yajl_gen g, const struct verify_row *v, size_t n,
    int kind)
{
	const struct verify_row	*open = NULL;
	size_t			 i;

	yajl_gen_array_open(g);
	for (i = 0; i < n; i++) {
		if (v[i].kind != kind)
			continue;
		if (open == NULL || strcmp(open->table, v[i].table) != 0 ||
		    strcmp(open->key, v[i].key) != 0) {
			if (open != NULL) {
				yajl_gen_array_close(g);
				yajl_gen_map_close(g);
			}
			open = &v[i];
			yajl_gen_map_open(g);
			json_str(g, "table");
			json_str(g, v[i].table);
			if (kind == VERIFY_TABLE) {
				json_str(g, "same");
				yajl_gen_bool(g, v[i].ok);
			} else {
				json_str(g, "key");
				json_str(g, v[i].key);
			}
			json_str(g, "nodes");
			yajl_gen_array_open(g);
		}
		json_verify_node(g, &v[i]);
	}
	if (open != NULL) {
		yajl_gen_array_close(g);
		yajl_gen_map_close(g);
	}
	yajl_gen_array_close(g);
}

/* kmctl cluster verify: the verdict, the nodes, the tables, the rows. */
static void
json_verify(yajl_gen g, const struct verify_row *v, size_t n)
{
	size_t	 i;

	yajl_gen_map_open(g);
	json_str(g, "same");
	yajl_gen_bool(g, v[0].ok);
	json_str(g, "verdict");
	json_str(g, v[0].text);
	json_str(g, "rounds");
	yajl_gen_integer(g, v[0].rounds);
	json_str(g, "rowsDiffering");
	yajl_gen_integer(g, v[0].rows);
	json_str(g, "rowsInFlight");
	yajl_gen_integer(g, v[0].inflight);
	json_str(g, "nodes");
	yajl_gen_array_open(g);
	for (i = 1; i < n; i++) {
		if (v[i].kind != VERIFY_NODE)
			continue;
		yajl_gen_map_open(g);
		json_str(g, "nodeID");
		json_str(g, v[i].nodeid);
		json_str(g, "host");
		json_str(g, v[i].host);
		json_str(g, "compared");
		yajl_gen_bool(g, v[i].ok);
		if (!v[i].ok) {
			json_str(g, "error");
			json_str(g, v[i].text);
		}
		yajl_gen_map_close(g);
	}
	yajl_gen_array_close(g);
	json_str(g, "tables");
	json_verify_group(g, v, n, VERIFY_TABLE);
	json_str(g, "differences");
	json_verify_group(g, v, n, VERIFY_DIFF);
	json_str(g, "differencesTruncated");
	yajl_gen_bool(g, v[0].truncated);
	yajl_gen_map_close(g);
}

/*
 * A complete reply as the JSON of its shape, for kmctl (kmctl: its
 * version, for kmctl version) and the api worker (kmctl: NULL) alike.
 */
void
json_reply(yajl_gen g, const struct reply *r, enum print_what what,
    const char *kmctl)
{
	switch (what) {
	case P_INFO:
		json_cluster_info(g, &r->info);
		break;
	case P_STATUS:
		json_procs(g, r->procs, r->nprocs);
		break;
	case P_NODES:
		json_nodes(g, &r->page, r->nodes, r->nnodes);
		break;
	case P_NODE:
		json_node(g, &r->nodes[0]);
		break;
	case P_SUMMARY:
		json_summary(g, r->rows, r->nrows);
		break;
	case P_ALARMS:
		json_alarms(g, &r->page, r->alarms, r->nalarms);
		break;
	case P_ROTKEYS:
		json_rotkeys(g, r->rotkeys, r->nrotkeys);
		break;
	case P_KEYS:
		json_keys(g, &r->page, r->keys, r->nkeys);
		break;
	case P_KEY:
		json_key(g, &r->keys[0]);
		break;
	case P_CRYPT:
		json_crypt(g, r->crypt);
		break;
	case P_CSR:
		json_csr(g, r->csr);
		break;
	case P_CRED:
		json_credentials(g, r->cred);
		break;
	case P_VERSION:
		json_version(g, &r->version, kmctl);
		break;
	case P_UPGRADE:
		json_upgrade(g, &r->upgrade, r->nodes, r->nnodes);
		break;
	case P_HEALTH:
		json_health(g, &r->health);
		break;
	case P_USERS:
		json_users(g, r->users, r->nusers);
		break;
	case P_USER:
		json_user(g, &r->users[0]);
		break;
	case P_BKEY:
		json_bkey(g, &r->bkeys[0]);
		break;
	case P_BKEYS:
		json_backup_list(g, r, 1);
		break;
	case P_BACKUP:
		json_backup(g, &r->backups[0]);
		break;
	case P_BACKUPS:
		json_backup_list(g, r, 0);
		break;
	case P_VERIFY:
		json_verify(g, r->verify, r->nverify);
		break;
	case P_NONE:
	case P_METRICS:		/* text, not JSON */
	case P_BKEY_FILE:	/* the file's own text */
		break;
	}
}
