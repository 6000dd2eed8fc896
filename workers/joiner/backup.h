/*
 * Backup files (bfile.c), shared by backups create (backup.c) and
 * restore (restore.c).  A file is:
 *
 *   "KMDBACKUP 2\n" (the format; 1 is still read)
 *   the header: one line of JSON, in clear (what backups list shows, and
 *     the KEK and the file key, each sealed under the backup key)
 *   a libsodium secretstream (XChaCha20-Poly1305) under the file key:
 *     its 24-byte header, then messages, each a 4-byte big-endian length
 *     and its ciphertext.  The first message has the header line as its
 *     associated data; the last carries the FINAL tag, so a file cut
 *     short, reordered or altered anywhere does not open.
 *
 * Messages: the manifest (JSON: each table's columns, and in format 2
 * "rows": "pgcopy-binary"), then batches of one table's rows, then the
 * final one (JSON: each table's row count).  A batch is "table\n" and
 * then, in format 2, whole rows of PostgreSQL's binary COPY format (a
 * table's first batch begins with its signature, its last ends with its
 * trailer): what COPY ... TO STDOUT (FORMAT binary) gave, about
 * BACKUP_MSG_TARGET at a time, for COPY ... FROM STDIN to take back
 * unparsed; in format 1, a JSON array of row objects (row_to_json).
 * Binary COPY is several times faster both ways than JSON rows (no text
 * form of each value, no hex for bytea, nothing to parse in kmd), and
 * checks every value's type as it loads.
 */
#ifndef KMD_BACKUP_H
#define KMD_BACKUP_H

#include <sodium.h>
#include <stddef.h>
#include <stdint.h>

#include "pq.h"
#include "proto.h"

#define BACKUP_MAGIC		"KMDBACKUP 2\n"
#define BACKUP_MAGIC_V1		"KMDBACKUP 1\n"
#define BACKUP_ROWS_V2		"pgcopy-binary"
#define BACKUP_HEAD_MAX		8192
#define BACKUP_MSG_MAX		(64 * 1024 * 1024)
#define BACKUP_MSG_TARGET	(1024 * 1024)
#define BACKUP_SUFFIX		".kmdb"

struct bhead {
	struct backup_info	 info;
	char			 kek_sealed[KMD_WRAPPED_MAX];
	char			 filekey_sealed[KMD_WRAPPED_MAX];
};

struct bstream {
	int			 fd;
	crypto_secretstream_xchacha20poly1305_state st;
	char			*line;		/* the header line: AD */
	size_t			 linelen;
	int			 n;		/* messages so far */
	int			 final;		/* the FINAL one was read */
	int			 format;	/* the file's: 1 or 2 */
	int64_t			 size;		/* bytes written or read */
};

int	bfile_write_head(struct bstream *, const struct bhead *,
	    const uint8_t *, char *, size_t);
int	bfile_push(struct bstream *, const void *, size_t, int, char *,
	    size_t);
int	bfile_read_head(struct bstream *, struct bhead *, char *, size_t);
int	bfile_pull_start(struct bstream *, const uint8_t *, char *, size_t);
int	bfile_pull(struct bstream *, uint8_t **, size_t *, char *, size_t);
void	bfile_close(struct bstream *);
int64_t	bfile_copy_rows(const uint8_t *, size_t);

/* A kmd_backups row as backups list shows it (bcatalog.c). */
#define SQL_BACKUP_COLS \
	"backup_id, description, backup_key, origin, coalesce(made_on::text," \
	" '') AS made_on, kmd_version, schema_version, size, keys, users, " \
	SQL_ISO("created") " AS created"

/* bcatalog.c, backup.c, restore.c */
struct joiner;
void	backup_path(struct joiner *, const char *, const char *, char *,
	    size_t);
void	backup_answer(struct joiner *, const char *);
void	backup_prune(struct joiner *);
void	backup_rescan(struct joiner *);
void	backup_insert(struct joiner *, const struct bhead *, int64_t,
	    const char *, pq_cb, void *);
void	backups_listed(struct pq *, PGresult *, void *);
void	backup_restore(struct joiner *, const char *);
void	backup_upload(struct joiner *, int);

#endif
