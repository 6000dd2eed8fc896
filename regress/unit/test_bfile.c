/*
 * The backup file's format (workers/joiner/bfile.c), attacked: a small
 * file written, then read back whole, cut short at every length, with
 * every byte of it flipped in turn, and under another file key.  Only
 * the file as written opens to its end; every other one fails before
 * its FINAL message is taken.
 */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <check.h>
#include <sodium.h>

#include "backup.h"

static uint8_t	 key[BACKUP_FILEKEY];
static uint8_t	*file;
static size_t	 filelen;

/* A file of a header and three messages, the last FINAL, into memory. */
static void
make(void)
{
	struct bstream	 bs;
	struct bhead	 h;
	char		 err[256], path[] = "/tmp/kmd-bfile-XXXXXX";
	const char	*m[3] = { "{\"tables\": {}}", "kmd_keys\n[{\"a\": 1}]",
			    "{\"rows\": {}}" };
	int		 i;

	randombytes_buf(key, sizeof(key));
	memset(&bs, 0, sizeof(bs));
	memset(&h, 0, sizeof(h));
	strcpy(h.info.id, "6b0d9a57-3c1e-4e0a-9f57-2d4b3b1c5e01");
	strcpy(h.info.backup_key, "0c1f9d2e-7a66-4b7e-8b1a-3f5e6d7c8b9a");
	strcpy(h.info.created, "2026-12-07T00:00:00Z");
	strcpy(h.kek_sealed, "aa");
	strcpy(h.filekey_sealed, "bb");
	h.info.schema = 15;
	ck_assert_int_ne(bs.fd = mkstemp(path), -1);
	unlink(path);
	ck_assert_int_eq(bfile_write_head(&bs, &h, key, err, sizeof(err)), 0);
	for (i = 0; i < 3; i++)
		ck_assert_int_eq(bfile_push(&bs, m[i], strlen(m[i]), i == 2,
		    err, sizeof(err)), 0);
	filelen = (size_t)bs.size;
	ck_assert_ptr_nonnull(file = malloc(filelen));
	ck_assert_int_eq(pread(bs.fd, file, filelen, 0), (ssize_t)filelen);
	bfile_close(&bs);
}

/*
 * Read len bytes of buf as a backup: 1 if it opened to its end after
 * the FINAL message and nothing else, 0 if it was refused anywhere.
 */
static int
opens(const uint8_t *buf, size_t len, const uint8_t *k)
{
	struct bstream	 bs;
	struct bhead	 h;
	char		 err[256], path[] = "/tmp/kmd-bfile-XXXXXX";
	uint8_t		*m;
	size_t		 mlen;
	int		 n, ok = 0;

	memset(&bs, 0, sizeof(bs));
	ck_assert_int_ne(bs.fd = mkstemp(path), -1);
	unlink(path);
	ck_assert_int_eq(pwrite(bs.fd, buf, len, 0), (ssize_t)len);
	lseek(bs.fd, 0, SEEK_SET);
	if (bfile_read_head(&bs, &h, err, sizeof(err)) == 0 &&
	    bfile_pull_start(&bs, k, err, sizeof(err)) == 0) {
		while ((n = bfile_pull(&bs, &m, &mlen, err, sizeof(err))) == 1)
			free(m);
		ok = n == 0 && bs.final;
	}
	bfile_close(&bs);
	return ok;
}

START_TEST(t_whole)
{
	make();
	ck_assert_int_eq(opens(file, filelen, key), 1);
	free(file);
}
END_TEST

START_TEST(t_truncated)
{
	size_t	 n;

	make();
	for (n = 0; n < filelen; n++)
		ck_assert_msg(opens(file, n, key) == 0, "cut at %zu of %zu",
		    n, filelen);
	free(file);
}
END_TEST

START_TEST(t_flipped)
{
	size_t	 i;
	uint8_t	*c;

	make();
	ck_assert_ptr_nonnull(c = malloc(filelen));
	for (i = 0; i < filelen; i++) {
		memcpy(c, file, filelen);
		c[i] ^= 0x01;
		/* the header's own bytes are bound to the first message */
		ck_assert_msg(opens(c, filelen, key) == 0, "byte %zu of %zu",
		    i, filelen);
	}
	free(c);
	free(file);
}
END_TEST

START_TEST(t_other_key_and_tail)
{
	uint8_t	 other[BACKUP_FILEKEY], *longer;

	make();
	randombytes_buf(other, sizeof(other));
	ck_assert_int_eq(opens(file, filelen, other), 0);
	ck_assert_ptr_nonnull(longer = calloc(1, filelen + 1));
	memcpy(longer, file, filelen);
	ck_assert_int_eq(opens(longer, filelen + 1, key), 0);
	free(longer);
	free(file);
}
END_TEST

/*
 * Binary COPY data as PostgreSQL gives it: the signature (with an
 * extension area here), two rows (a NULL field in the second), the
 * trailer.  Counted whole, and cut anywhere never counts more or reads
 * past the end.
 */
START_TEST(t_copy_rows)
{
	static const uint8_t	 d[] = {
		'P', 'G', 'C', 'O', 'P', 'Y', '\n', 0xff, '\r', '\n', 0,
		0, 0, 0, 0,  0, 0, 0, 2,  0xaa, 0xbb,
		0, 2,  0, 0, 0, 3, 'a', 'b', 'c',  0, 0, 0, 1, 'x',
		0, 2,  0xff, 0xff, 0xff, 0xff,  0, 0, 0, 0,
		0xff, 0xff };
	size_t			 n;
	uint8_t			*cut;

	ck_assert_int_eq(bfile_copy_rows(d, sizeof(d)), 2);
	/* a later batch: rows only */
	ck_assert_int_eq(bfile_copy_rows(d + 21, sizeof(d) - 21), 2);
	ck_assert_int_eq(bfile_copy_rows(d, 0), 0);
	for (n = 0; n < sizeof(d); n++) {
		ck_assert_ptr_nonnull(cut = malloc(n ? n : 1));
		memcpy(cut, d, n);
		ck_assert_int_le(bfile_copy_rows(cut, n), 2);
		free(cut);
	}
}
END_TEST

Suite *
bfile_suite(void)
{
	Suite	*s = suite_create("bfile");
	TCase	*tc = tcase_create("attacks");

	tcase_add_test(tc, t_whole);
	tcase_add_test(tc, t_truncated);
	tcase_add_test(tc, t_flipped);
	tcase_add_test(tc, t_other_key_and_tail);
	tcase_add_test(tc, t_copy_rows);
	tcase_set_timeout(tc, 60);
	suite_add_tcase(s, tc);
	return s;
}
