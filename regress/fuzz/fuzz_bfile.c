/*
 * libFuzzer target: a backup file as restore and upload read it
 * (workers/joiner/bfile.c): the magic, the header line and its JSON,
 * then the secretstream, under a fixed file key, to its end; and the
 * count of binary COPY rows restore takes for its progress, of each
 * message and of the raw input.  The input is the whole file.  Property: every input is refused with a reason or
 * opens to its FINAL message; never a crash, leak or sanitizer report,
 * and no message larger than the cap is allocated.  KMD_FUZZ_SEEDS=<dir>
 * writes a valid file under that key as the seed.
 */
#include <sys/mman.h>

#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "backup.h"

int	LLVMFuzzerInitialize(int *, char ***);
int	LLVMFuzzerTestOneInput(const uint8_t *, size_t);

static uint8_t	 key[BACKUP_FILEKEY] = { 1, 2, 3, 4, 5 };

/* The seed: a header and three messages, the last FINAL. */
static void
seed(const char *dir)
{
	struct bstream	 bs;
	struct bhead	 h;
	char		 err[256], path[512];
	const char	*m[3] = { "{\"tables\": {\"kmd_keys\": [\"a\"]}}",
			    "kmd_keys\n[{\"a\": 1}]", "{\"rows\": {}}" };
	int		 i;

	memset(&bs, 0, sizeof(bs));
	memset(&h, 0, sizeof(h));
	strcpy(h.info.id, "6b0d9a57-3c1e-4e0a-9f57-2d4b3b1c5e01");
	strcpy(h.info.backup_key, "0c1f9d2e-7a66-4b7e-8b1a-3f5e6d7c8b9a");
	strcpy(h.kek_sealed, "aa");
	strcpy(h.filekey_sealed, "bb");
	snprintf(path, sizeof(path), "%s/valid", dir);
	if ((bs.fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644)) == -1 ||
	    bfile_write_head(&bs, &h, key, err, sizeof(err)) == -1)
		abort();
	for (i = 0; i < 3; i++)
		if (bfile_push(&bs, m[i], strlen(m[i]), i == 2, err,
		    sizeof(err)) == -1)
			abort();
	bfile_close(&bs);
}

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	if (sodium_init() == -1)
		abort();
	if (getenv("KMD_FUZZ_SEEDS") != NULL)
		seed(getenv("KMD_FUZZ_SEEDS"));
	return 0;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t len)
{
	struct bstream	 bs;
	struct bhead	 h;
	char		 err[256];
	uint8_t		*m;
	size_t		 mlen;

	memset(&bs, 0, sizeof(bs));
	if ((bs.fd = memfd_create("bfile", MFD_CLOEXEC)) == -1)
		abort();
	if (write(bs.fd, data, len) != (ssize_t)len)
		abort();
	lseek(bs.fd, 0, SEEK_SET);
	if (bfile_read_head(&bs, &h, err, sizeof(err)) == 0 &&
	    bfile_pull_start(&bs, key, err, sizeof(err)) == 0)
		while (bfile_pull(&bs, &m, &mlen, err, sizeof(err)) == 1) {
			(void)bfile_copy_rows(m, mlen);
			free(m);
		}
	(void)bfile_copy_rows(data, len);
	bfile_close(&bs);
	return 0;
}
