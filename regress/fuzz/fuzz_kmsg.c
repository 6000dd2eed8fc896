/*
 * libFuzzer target: the kmsg frame decoder and the handler-table checks.
 * The first input byte sets the chunk size the rest is fed in, so frames
 * arrive split at every possible point.  Every frame handed out must be
 * self-consistent; nothing may crash, leak or read out of bounds.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "kchan.h"
#include "kmsg.h"

int	LLVMFuzzerTestOneInput(const uint8_t *, size_t);

static int
nop(struct kchan *ch, struct kmsg *m, void *arg)
{
	(void)ch;
	(void)m;
	(void)arg;
	return 0;
}

static const struct kmsg_handler table[] = {
	{ IMSG_CTL_STATUS, 0, FROM(PROC_CTL), nop },
	{ IMSG_CTL_ERROR, KMSG_VARLEN, FROM(PROC_REPLMON), nop },
	{ IMSG_CLUSTER_INFO_REPLY, sizeof(struct cluster_info),
	    FROM(PROC_REPLMON), nop },
};

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct kbuf	 kb;
	struct kmsg	 m;
	char		 err[256];
	size_t		 chunk, off = 1;
	int		 r = 0;

	if (size < 1 || kbuf_init(&kb, -1) == -1)
		return 0;
	chunk = data[0] + 1;
	while (off < size && r != -1) {
		size_t n = size - off < chunk ? size - off : chunk;

		if (kbuf_feed(&kb, data + off, n) == -1)
			break;
		off += n;
		while ((r = kbuf_get(&kb, &m)) == 1) {
			if (m.datalen + KMSG_HDR_SIZE != m.hdr.len ||
			    m.hdr.len > KMSG_MAX || m.fd != -1)
				abort();
			if (m.datalen > 0 && (m.data[0] | m.data[m.datalen - 1]) == 0x100)
				abort();	/* touch both ends */
			kmsg_lookup(table, 3, (enum proc_id)(m.hdr.pid % PROC_MAX),
			    &m, err, sizeof(err));
		}
	}
	kbuf_clear(&kb);
	return 0;
}
