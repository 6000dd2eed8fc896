/*
 * libFuzzer target: kmctl's command-line parser (ctl/parser.c).  The
 * input is argv, words separated by newlines.  Properties: parse() either
 * refuses with a message or names an action whose every required flag is
 * given and every given flag allowed; the usage printer copes with any
 * result.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "parser.h"

#define WORDS_MAX	32

int	LLVMFuzzerTestOneInput(const uint8_t *, size_t);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct parse_result	 res;
	char			*buf, *argv[WORDS_MAX + 2], *p, *nl;
	char			 err[1024];
	FILE			*devnull;
	int			 argc = 1, f;

	if (size > 4096 || (buf = malloc(size + 1)) == NULL)
		return 0;
	memcpy(buf, data, size);
	buf[size] = '\0';
	argv[0] = "kmctl";
	for (p = buf; argc <= WORDS_MAX; p = nl + 1) {
		argv[argc++] = p;
		if ((nl = strchr(p, '\n')) == NULL)
			break;
		*nl = '\0';
	}
	argv[argc] = NULL;
	memset(&res, 0, sizeof(res));
	err[0] = '\0';
	if (parse(argc, argv, &res, err, sizeof(err)) == -1) {
		if (err[0] == '\0')
			abort();	/* a refusal says why */
	} else if (!res.help) {
		if (res.action <= A_NONE || res.action >= A_MAX ||
		    res.leaf == NULL)
			abort();
		for (f = 0; f < F_MAX; f++) {
			if ((res.leaf->required & FM(f)) &&
			    res.flag[f] == NULL)
				abort();	/* a required flag is missing */
			if (res.flag[f] != NULL &&
			    !(res.leaf->flags & FM(f)))
				abort();	/* a flag it does not take */
		}
	}
	if ((devnull = fopen("/dev/null", "w")) != NULL) {
		parse_usage(devnull, &res);
		fclose(devnull);
	}
	free(buf);
	return 0;
}
