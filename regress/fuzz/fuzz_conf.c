/*
 * libFuzzer target: the kmd.conf parser.  Property: whatever parses must
 * print back (conf_print) to text that parses to the very same config.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"

int	LLVMFuzzerTestOneInput(const uint8_t *, size_t);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct kmd_conf	 a, b;
	char		 err[2048], *out = NULL;
	size_t		 outlen = 0;
	FILE		*f;

	if (size > CONF_FILE_MAX)
		return 0;
	if (conf_parse_buf("fuzz", (const char *)data, size, &a, err,
	    sizeof(err)) == -1) {
		if (strncmp(err, "fuzz:", 5) != 0)
			abort();	/* every error names file:line */
		return 0;
	}
	if ((f = open_memstream(&out, &outlen)) == NULL)
		return 0;
	conf_print(f, &a);
	fclose(f);
	if (conf_parse_buf("again", out, outlen, &b, err, sizeof(err)) == -1 ||
	    memcmp(&a, &b, sizeof(a)) != 0)
		abort();
	free(out);
	return 0;
}
