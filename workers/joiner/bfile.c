/*
 * bfile: a backup file's format (see backup.h): its clear header line,
 * and the secretstream of its messages, written and read back with
 * every size capped before it is trusted.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <yajl_gen.h>
#include <yajl_tree.h>

#include "backup.h"
#include "util.h"

#define SS_HEADER	crypto_secretstream_xchacha20poly1305_HEADERBYTES
#define SS_ABYTES	crypto_secretstream_xchacha20poly1305_ABYTES

static int	fail(char *, size_t, const char *, ...)
		    __attribute__((format(printf, 3, 4)));

static int
fail(char *err, size_t len, const char *fmt, ...)
{
	va_list	 ap;

	va_start(ap, fmt);
	vsnprintf(err, len, fmt, ap);
	va_end(ap);
	return -1;
}

static int
write_all(struct bstream *bs, const void *buf, size_t len, char *err,
    size_t errlen)
{
	const uint8_t	*p = buf;
	ssize_t		 n;

	while (len > 0) {
		if ((n = write(bs->fd, p, len)) == -1) {
			if (errno == EINTR)
				continue;
			return fail(err, errlen, "cannot write the backup"
			    " file: %s", strerror(errno));
		}
		p += n;
		len -= (size_t)n;
		bs->size += n;
	}
	return 0;
}

/* 1: read all of it; 0: the file ended first; -1: an error. */
static int
read_all(struct bstream *bs, void *buf, size_t len)
{
	uint8_t	*p = buf;
	ssize_t	 n;

	while (len > 0) {
		if ((n = read(bs->fd, p, len)) == -1) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		if (n == 0)
			return 0;
		p += n;
		len -= (size_t)n;
		bs->size += n;
	}
	return 1;
}

static void
gstr(yajl_gen g, const char *k, const char *v)
{
	yajl_gen_string(g, (const unsigned char *)k, strlen(k));
	yajl_gen_string(g, (const unsigned char *)v, strlen(v));
}

static void
gint(yajl_gen g, const char *k, long long v)
{
	yajl_gen_string(g, (const unsigned char *)k, strlen(k));
	yajl_gen_integer(g, v);
}

/* The header as one line of JSON (malloc'd into bs->line). */
static int
head_line(struct bstream *bs, const struct bhead *h)
{
	const struct backup_info	*i = &h->info;
	yajl_gen			 g;
	const unsigned char		*buf;
	size_t				 len;
	int				 r = -1;

	if ((g = yajl_gen_alloc(NULL)) == NULL)
		return -1;
	yajl_gen_map_open(g);
	gstr(g, "id", i->id);
	gstr(g, "createdAt", i->created);
	gstr(g, "description", i->description);
	gstr(g, "madeOnNode", i->node);
	gstr(g, "kmdVersion", i->kmd_version);
	gint(g, "schemaVersion", i->schema);
	gint(g, "keyVersions", i->keys);
	gint(g, "users", i->users);
	gstr(g, "backupKey", i->backup_key);
	gstr(g, "kek", h->kek_sealed);
	gstr(g, "fileKey", h->filekey_sealed);
	yajl_gen_map_close(g);
	if (yajl_gen_get_buf(g, &buf, &len) == yajl_gen_status_ok &&
	    len + 1 < BACKUP_HEAD_MAX && (bs->line = malloc(len + 1)) != NULL) {
		memcpy(bs->line, buf, len);
		bs->line[len] = '\n';
		bs->linelen = len + 1;
		r = 0;
	}
	yajl_gen_free(g);
	return r;
}

/* Magic, header line, the stream's header: the file is ready for push. */
int
bfile_write_head(struct bstream *bs, const struct bhead *h,
    const uint8_t *key, char *err, size_t errlen)
{
	uint8_t	 ssh[SS_HEADER];

	if (head_line(bs, h) == -1)
		return fail(err, errlen, "%s", "cannot make the backup's"
		    " header (the description is too long?)");
	crypto_secretstream_xchacha20poly1305_init_push(&bs->st, ssh, key);
	if (write_all(bs, BACKUP_MAGIC, strlen(BACKUP_MAGIC), err, errlen) ==
	    -1 || write_all(bs, bs->line, bs->linelen, err, errlen) == -1 ||
	    write_all(bs, ssh, sizeof(ssh), err, errlen) == -1)
		return -1;
	return 0;
}

/* One message; the first is bound to the header, the last is FINAL. */
int
bfile_push(struct bstream *bs, const void *m, size_t len, int final,
    char *err, size_t errlen)
{
	uint8_t		*c;
	uint8_t		 lb[4];
	size_t		 clen = len + SS_ABYTES;
	int		 r;

	if (len > BACKUP_MSG_MAX)
		return fail(err, errlen, "%s", "a batch of rows is larger than"
		    " a backup message may be");
	if ((c = malloc(clen)) == NULL)
		return fail(err, errlen, "%s", "out of memory");
	crypto_secretstream_xchacha20poly1305_push(&bs->st, c, NULL, m, len,
	    bs->n == 0 ? (const uint8_t *)bs->line : NULL, bs->n == 0 ?
	    bs->linelen : 0, final ? crypto_secretstream_xchacha20poly1305_TAG_FINAL :
	    0);
	bs->n++;
	lb[0] = (uint8_t)(clen >> 24);
	lb[1] = (uint8_t)(clen >> 16);
	lb[2] = (uint8_t)(clen >> 8);
	lb[3] = (uint8_t)clen;
	r = write_all(bs, lb, 4, err, errlen) == -1 ||
	    write_all(bs, c, clen, err, errlen) == -1 ? -1 : 0;
	free(c);
	return r;
}

static const char *
hstr(yajl_val root, const char *name, char *out, size_t len)
{
	const char	*path[] = { name, NULL };
	yajl_val	 v = yajl_tree_get(root, path, yajl_t_string);

	if (v == NULL || kmd_strlcpy(out, YAJL_GET_STRING(v), len) >= len)
		return name;
	return NULL;
}

static const char *
hint(yajl_val root, const char *name, int64_t *out)
{
	const char	*path[] = { name, NULL };
	yajl_val	 v = yajl_tree_get(root, path, yajl_t_number);

	if (v == NULL || !YAJL_IS_INTEGER(v) || YAJL_GET_INTEGER(v) < 0)
		return name;
	*out = YAJL_GET_INTEGER(v);
	return NULL;
}

/* The header line's members; the name of the first one missing or bad. */
static const char *
head_parse(yajl_val root, struct bhead *h)
{
	struct backup_info	*i = &h->info;
	const char		*bad;
	int64_t			 schema = 0;

	if ((bad = hstr(root, "id", i->id, sizeof(i->id))) == NULL &&
	    (bad = hstr(root, "createdAt", i->created, sizeof(i->created))) ==
	    NULL && (bad = hstr(root, "description", i->description,
	    sizeof(i->description))) == NULL && (bad = hstr(root,
	    "madeOnNode", i->node, sizeof(i->node))) == NULL &&
	    (bad = hstr(root, "kmdVersion", i->kmd_version,
	    sizeof(i->kmd_version))) == NULL && (bad = hint(root,
	    "schemaVersion", &schema)) == NULL && (bad = hint(root,
	    "keyVersions", &i->keys)) == NULL && (bad = hint(root, "users",
	    &i->users)) == NULL && (bad = hstr(root, "backupKey",
	    i->backup_key, sizeof(i->backup_key))) == NULL && (bad =
	    hstr(root, "kek", h->kek_sealed, sizeof(h->kek_sealed))) == NULL)
		bad = hstr(root, "fileKey", h->filekey_sealed,
		    sizeof(h->filekey_sealed));
	if (bad == NULL && (!kmd_is_uuid(i->id) ||
	    !kmd_is_uuid(i->backup_key) || schema > 100000))
		bad = "id";
	i->schema = (int32_t)schema;
	return bad;
}

/* The magic and the header line, read and checked. */
int
bfile_read_head(struct bstream *bs, struct bhead *h, char *err,
    size_t errlen)
{
	char		 magic[sizeof(BACKUP_MAGIC) - 1];
	yajl_val	 root;
	const char	*bad;
	size_t		 n = 0;
	int		 r;

	memset(h, 0, sizeof(*h));
	if (read_all(bs, magic, sizeof(magic)) != 1)
		return fail(err, errlen, "%s", "it is not a kmd backup (no"
		    " KMDBACKUP at its start)");
	if (memcmp(magic, BACKUP_MAGIC, sizeof(magic)) == 0)
		bs->format = 2;
	else if (memcmp(magic, BACKUP_MAGIC_V1, sizeof(magic)) == 0)
		bs->format = 1;
	else if (memcmp(magic, BACKUP_MAGIC, sizeof(magic) - 2) == 0)
		return fail(err, errlen, "%s", "it is of a backup format this"
		    " kmd does not read (it reads KMDBACKUP 1 and 2): made by"
		    " a newer kmd? upgrade kmd first");
	else
		return fail(err, errlen, "%s", "it is not a kmd backup (no"
		    " KMDBACKUP at its start)");
	if ((bs->line = malloc(BACKUP_HEAD_MAX)) == NULL)
		return fail(err, errlen, "%s", "out of memory");
	do {
		if ((r = read_all(bs, bs->line + n, 1)) != 1)
			return fail(err, errlen, "%s", "its header is cut"
			    " short");
	} while (bs->line[n++] != '\n' && n < BACKUP_HEAD_MAX - 1);
	if (bs->line[n - 1] != '\n')
		return fail(err, errlen, "%s", "its header is longer than a"
		    " backup's may be");
	bs->linelen = n;
	bs->line[n - 1] = '\0';
	root = yajl_tree_parse(bs->line, NULL, 0);
	bs->line[n - 1] = '\n';
	if (root == NULL || !YAJL_IS_OBJECT(root)) {
		yajl_tree_free(root);
		return fail(err, errlen, "%s", "its header is not JSON");
	}
	bad = head_parse(root, h);
	yajl_tree_free(root);
	if (bad != NULL)
		return fail(err, errlen, "its header's %s is missing or"
		    " wrong", bad);
	return 0;
}

/* The stream's own header, under the file key the hsm opened. */
int
bfile_pull_start(struct bstream *bs, const uint8_t *key, char *err,
    size_t errlen)
{
	uint8_t	 ssh[SS_HEADER];

	if (read_all(bs, ssh, sizeof(ssh)) != 1 ||
	    crypto_secretstream_xchacha20poly1305_init_pull(&bs->st, ssh,
	    key) != 0)
		return fail(err, errlen, "%s", "the file is cut short after"
		    " its header");
	return 0;
}

/*
 * The next message (malloc'd into *out): 0 and *out NULL at the end,
 * which must be just after the FINAL one; -1 and err otherwise.
 */
int
bfile_pull(struct bstream *bs, uint8_t **out, size_t *len, char *err,
    size_t errlen)
{
	uint8_t			 lb[4], tag = 0, *c;
	unsigned long long	 mlen = 0;
	size_t			 clen;
	int			 r;

	*out = NULL;
	clen = (size_t)bs->size;
	if ((r = read_all(bs, lb, 4)) == 0 && bs->final &&
	    (size_t)bs->size == clen)
		return 0;
	if (bs->final)
		return fail(err, errlen, "%s", "it goes on after its last"
		    " message: it was altered");
	if (r != 1)
		return fail(err, errlen, "%s", "it is cut short: its last"
		    " message is missing (truncated, or not all written)");
	clen = (size_t)lb[0] << 24 | (size_t)lb[1] << 16 |
	    (size_t)lb[2] << 8 | lb[3];
	if (clen < SS_ABYTES || clen > BACKUP_MSG_MAX + SS_ABYTES)
		return fail(err, errlen, "%s", "a message's length is out of"
		    " range: it was altered");
	if ((c = malloc(clen)) == NULL || (*out = malloc(clen)) == NULL) {
		free(c);
		return fail(err, errlen, "%s", "out of memory");
	}
	if (read_all(bs, c, clen) != 1)
		r = fail(err, errlen, "%s", "it is cut short inside a"
		    " message");
	else if (crypto_secretstream_xchacha20poly1305_pull(&bs->st, *out,
	    &mlen, &tag, c, clen, bs->n == 0 ? (const uint8_t *)bs->line :
	    NULL, bs->n == 0 ? bs->linelen : 0) != 0)
		r = fail(err, errlen, "%s", "a message does not open: the file"
		    " was altered, or another file key made it");
	else
		r = 1;
	free(c);
	if (r != 1) {
		free(*out);
		*out = NULL;
		return -1;
	}
	bs->n++;
	bs->final = tag == crypto_secretstream_xchacha20poly1305_TAG_FINAL;
	*len = (size_t)mlen;
	return 1;
}

/*
 * The rows of binary COPY data, counted for progress only (the server
 * checks the data and counts what it took): the signature and its
 * extension skipped, then each row's field count and its fields'
 * lengths walked, bounded by the buffer.
 */
int64_t
bfile_copy_rows(const uint8_t *p, size_t len)
{
	size_t		 o = 0;
	int64_t		 rows = 0;
	uint32_t	 l;
	int		 n;

	if (len >= 19 && memcmp(p, "PGCOPY\n\377\r\n\0", 11) == 0) {
		l = (uint32_t)p[15] << 24 | (uint32_t)p[16] << 16 |
		    (uint32_t)p[17] << 8 | p[18];
		o = l > len - 19 ? len : 19 + l;
	}
	while (o + 2 <= len) {
		n = (int16_t)(p[o] << 8 | p[o + 1]);
		o += 2;
		if (n < 0)
			break;
		for (; n > 0; n--) {	/* a row cut short is not counted */
			if (o + 4 > len)
				return rows;
			l = (uint32_t)p[o] << 24 | (uint32_t)p[o + 1] << 16 |
			    (uint32_t)p[o + 2] << 8 | p[o + 3];
			o += 4;
			if (l == UINT32_MAX)	/* -1: NULL */
				continue;
			if (l > len - o)
				return rows;
			o += l;
		}
		rows++;
	}
	return rows;
}

void
bfile_close(struct bstream *bs)
{
	if (bs->fd != -1)
		close(bs->fd);
	bs->fd = -1;
	free(bs->line);
	bs->line = NULL;
	sodium_memzero(&bs->st, sizeof(bs->st));
}
