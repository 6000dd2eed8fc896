#include <sys/prctl.h>
#include <sys/resource.h>

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <time.h>

#include "util.h"

/* Copy with truncation; returns strlen(src) so callers can detect it. */
size_t
kmd_strlcpy(char *dst, const char *src, size_t dstsize)
{
	size_t	 len = strlen(src);

	if (dstsize > 0) {
		size_t n = len < dstsize - 1 ? len : dstsize - 1;
		memcpy(dst, src, n);
		dst[n] = '\0';
	}
	return len;
}

/*
 * Take a fixed-width string field out of a received message: it must be
 * NUL-terminated inside its width.  Returns -1 (EBADMSG) otherwise.
 */
int
kmd_strfield(char *dst, size_t dstsize, const void *field, size_t width)
{
	const char	*p = field;

	if (memchr(p, '\0', width) == NULL || strlen(p) >= dstsize) {
		errno = EBADMSG;
		return -1;
	}
	memcpy(dst, p, strlen(p) + 1);
	return 0;
}

int
set_nonblock(int fd)
{
	int	 fl = fcntl(fd, F_GETFL);

	if (fl == -1)
		return -1;
	return fcntl(fd, F_SETFL, fl | O_NONBLOCK);
}

/*
 * No core file and no ptrace by other users: a kmd process holds PINs,
 * passwords and keys in memory.  RLIMIT_CORE 0 goes on to every child.
 */
int
kmd_nodump(void)
{
	struct rlimit	 rl = { 0, 0 };

	return setrlimit(RLIMIT_CORE, &rl) == -1 ||
	    prctl(PR_SET_DUMPABLE, 0, 0, 0, 0) == -1 ? -1 : 0;
}

/* dup(2), but close-on-exec like every other descriptor kmd opens. */
int
dup_cloexec(int fd)
{
	return fcntl(fd, F_DUPFD_CLOEXEC, 0);
}

/* Seconds on the monotonic clock. */
/* Monotonic milliseconds. */
int64_t
mono_ms(void)
{
	struct timespec	 ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int64_t
mono_now(void)
{
	struct timespec	 ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec;
}

/* A UUID's text form: 8-4-4-4-12 hex digits, either case. */
int
kmd_is_uuid(const char *s)
{
	int	 i;

	for (i = 0; i < 36; i++)
		if (i == 8 || i == 13 || i == 18 || i == 23 ? s[i] != '-' :
		    !isxdigit((unsigned char)s[i]))
			return 0;
	return s[36] == '\0';
}

/*
 * The vector registers zeroed.  glibc's memcpy and strlen leave what they
 * moved in them (on AVX-512 machines in ymm16-31, which little else
 * touches, so it stays), and a signal's frame writes every register onto
 * the stack: a core dump then holds a password relayed long before.  A
 * channel calls this after each frame's handler.  x86-64 only (the
 * registers and their spilling are its own), and noinline: the clobbers
 * are the caller-saved registers of a call.  Registers 16-31 are zeroed
 * whole by a 128-bit write (AVX512VL), which unlike a 512-bit one does
 * not lower the core's clock.
 */
#define ZERO16(w) \
	"vpxord %%" w "16, %%" w "16, %%" w "16\n\t" \
	"vpxord %%" w "17, %%" w "17, %%" w "17\n\t" \
	"vpxord %%" w "18, %%" w "18, %%" w "18\n\t" \
	"vpxord %%" w "19, %%" w "19, %%" w "19\n\t" \
	"vpxord %%" w "20, %%" w "20, %%" w "20\n\t" \
	"vpxord %%" w "21, %%" w "21, %%" w "21\n\t" \
	"vpxord %%" w "22, %%" w "22, %%" w "22\n\t" \
	"vpxord %%" w "23, %%" w "23, %%" w "23\n\t" \
	"vpxord %%" w "24, %%" w "24, %%" w "24\n\t" \
	"vpxord %%" w "25, %%" w "25, %%" w "25\n\t" \
	"vpxord %%" w "26, %%" w "26, %%" w "26\n\t" \
	"vpxord %%" w "27, %%" w "27, %%" w "27\n\t" \
	"vpxord %%" w "28, %%" w "28, %%" w "28\n\t" \
	"vpxord %%" w "29, %%" w "29, %%" w "29\n\t" \
	"vpxord %%" w "30, %%" w "30, %%" w "30\n\t" \
	"vpxord %%" w "31, %%" w "31, %%" w "31"

__attribute__((noinline)) void
regs_wipe(void)
{
#if defined(__x86_64__) && defined(__GNUC__)
	static int	 level = -1;

	if (level == -1) {
		__builtin_cpu_init();
		level = __builtin_cpu_supports("avx512vl") ? 3 :
		    __builtin_cpu_supports("avx512f") ? 2 :
		    __builtin_cpu_supports("avx") ? 1 : 0;
	}
	/* 16-31: no clobbers named, this code is built without AVX-512 */
	if (level == 3)
		__asm__ volatile(ZERO16("xmm") ::: "memory");
	else if (level == 2)
		__asm__ volatile(ZERO16("zmm") ::: "memory");
	if (level >= 1)
		__asm__ volatile("vzeroall" ::: "xmm0", "xmm1", "xmm2", "xmm3",
		    "xmm4", "xmm5", "xmm6", "xmm7", "xmm8", "xmm9", "xmm10",
		    "xmm11", "xmm12", "xmm13", "xmm14", "xmm15", "memory");
	else
		__asm__ volatile(
		    "pxor %%xmm0, %%xmm0\n\tpxor %%xmm1, %%xmm1\n\t"
		    "pxor %%xmm2, %%xmm2\n\tpxor %%xmm3, %%xmm3\n\t"
		    "pxor %%xmm4, %%xmm4\n\tpxor %%xmm5, %%xmm5\n\t"
		    "pxor %%xmm6, %%xmm6\n\tpxor %%xmm7, %%xmm7\n\t"
		    "pxor %%xmm8, %%xmm8\n\tpxor %%xmm9, %%xmm9\n\t"
		    "pxor %%xmm10, %%xmm10\n\tpxor %%xmm11, %%xmm11\n\t"
		    "pxor %%xmm12, %%xmm12\n\tpxor %%xmm13, %%xmm13\n\t"
		    "pxor %%xmm14, %%xmm14\n\tpxor %%xmm15, %%xmm15"
		    ::: "xmm0", "xmm1", "xmm2", "xmm3", "xmm4", "xmm5", "xmm6",
		    "xmm7", "xmm8", "xmm9", "xmm10", "xmm11", "xmm12", "xmm13",
		    "xmm14", "xmm15", "memory");
#endif
}
