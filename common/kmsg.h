/*
 * kmsg: kmd's imsg-like framing, used on the workers' socketpairs and on
 * the control socket alike.
 *
 * A frame is a 16-byte header followed by the payload.  All header fields
 * are in host byte order (both ends are on the same machine):
 *
 *	uint16 type	one of enum imsg_type (msgtypes.h)
 *	uint16 flags	KMSG_F_FD: one fd travels with this frame
 *	uint32 len	header + payload, at most KMSG_MAX
 *	uint32 reqid	request id, assigned by the receiver of a request
 *	uint32 pid	pid of the sender
 *
 * The decoder is pure (no I/O): bytes go in with kbuf_feed() or
 * kbuf_read(), whole frames come out of kbuf_get().  It never allocates
 * more than KMSG_MAX for one frame, whatever the header says.
 */
#ifndef KMD_KMSG_H
#define KMD_KMSG_H

#include <stddef.h>
#include <stdint.h>
#include <sys/queue.h>
#include <sys/types.h>

#define KMSG_HDR_SIZE	16
#define KMSG_MAX	(1024 * 1024)		/* header + payload */
#define KMSG_DATA_MAX	(KMSG_MAX - KMSG_HDR_SIZE)
#define KMSG_F_FD	0x0001
#define KMSG_MAXFDS	8			/* fds queued, not yet claimed */

struct kmsg_hdr {
	uint16_t	 type;
	uint16_t	 flags;
	uint32_t	 len;
	uint32_t	 reqid;
	uint32_t	 pid;
};

struct kmsg {
	struct kmsg_hdr	 hdr;
	int		 fd;		/* -1, or the fd passed with the frame */
	const uint8_t	*data;		/* valid until the next kbuf_get() */
	size_t		 datalen;
};

struct kout {
	TAILQ_ENTRY(kout) entry;
	size_t		 len;
	size_t		 off;
	int		 fd;		/* sent with the first byte, then closed */
	uint8_t		 buf[];
};

struct kbuf {
	int		 fd;
	uint8_t		*rbuf;
	size_t		 rlen;		/* bytes held */
	size_t		 rcap;
	size_t		 consumed;	/* bytes of the last frame handed out */
	int		 fds[KMSG_MAXFDS];
	size_t		 nfds;
	TAILQ_HEAD(, kout) outq;
	size_t		 outlen;	/* bytes queued for writing */
};

int	kbuf_init(struct kbuf *, int);
void	kbuf_clear(struct kbuf *);
int	kbuf_feed(struct kbuf *, const void *, size_t);
ssize_t	kbuf_read(struct kbuf *);
int	kbuf_get(struct kbuf *, struct kmsg *);
int	kbuf_compose(struct kbuf *, uint16_t, uint32_t, uint32_t, int,
	    const void *, size_t);
int	kbuf_flush(struct kbuf *);
void	kmsg_closefd(struct kmsg *);

#endif
