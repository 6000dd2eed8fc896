/*
 * The one privilege drop every worker goes through, in a fixed order:
 * chroot -> chdir("/") -> setgroups -> setresgid -> setresuid -> verify
 * root cannot come back -> NO_NEW_PRIVS -> not dumpable.
 */
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/types.h>

#include <errno.h>
#include <grp.h>
#include <seccomp.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "sandbox.h"

static int
fail(char *err, size_t errlen, const char *what)
{
	snprintf(err, errlen, "%s: %s", what, strerror(errno));
	return -1;
}

int
sandbox_enter(const struct conf_worker *cw, char *err, size_t errlen)
{
	uid_t	 ruid, euid, suid;
	gid_t	 rgid, egid, sgid, gid = cw->gid;

	if (cw->uid == 0) {
		snprintf(err, errlen, "refusing to run a worker as root");
		return -1;
	}
	if (cw->chroot) {
		if (chroot(cw->chrootdir) == -1)
			return fail(err, errlen, "chroot");
		if (chdir("/") == -1)
			return fail(err, errlen, "chdir /");
	}
	if (setgroups(1, &gid) == -1)
		return fail(err, errlen, "setgroups");
	if (setresgid(cw->gid, cw->gid, cw->gid) == -1)
		return fail(err, errlen, "setresgid");
	if (setresuid(cw->uid, cw->uid, cw->uid) == -1)
		return fail(err, errlen, "setresuid");
	if (getresuid(&ruid, &euid, &suid) == -1 ||
	    getresgid(&rgid, &egid, &sgid) == -1)
		return fail(err, errlen, "getresuid");
	if (ruid != cw->uid || euid != cw->uid || suid != cw->uid ||
	    rgid != cw->gid || egid != cw->gid || sgid != cw->gid) {
		snprintf(err, errlen, "ids did not change");
		return -1;
	}
	if (setuid(0) != -1 || seteuid(0) != -1) {
		snprintf(err, errlen, "root could be regained");
		return -1;
	}
	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) == -1)
		return fail(err, errlen, "PR_SET_NO_NEW_PRIVS");
	if (prctl(PR_SET_DUMPABLE, 0, 0, 0, 0) == -1)
		return fail(err, errlen, "PR_SET_DUMPABLE");
	return 0;
}

/*
 * The system calls each worker role may make once it runs, found by
 * tracing the end-to-end suite (strace -f) and kept to what the code
 * needs: the event loop, its channel to the parent, libpq over the local
 * socket, syslog, libsodium's guarded memory.  Anything else kills the
 * worker (SIGSYS); the parent logs it and starts it again.  socket() is
 * allowed for AF_UNIX only: no worker opens a network socket (the api
 * worker's listening socket comes from the parent).
 */
#define SC(name)	SCMP_SYS(name)
static const int sc_base[] = {
	SC(read), SC(write), SC(readv), SC(writev), SC(close), SC(lseek),
	SC(pread64), SC(pwrite64), SC(fstat), SC(newfstatat), SC(statx),
	SC(openat), SC(access), SC(faccessat), SC(faccessat2), SC(fcntl),
	SC(dup), SC(dup3), SC(ioctl),
	SC(mmap), SC(munmap), SC(mprotect), SC(mremap), SC(brk), SC(madvise),
	SC(mlock), SC(munlock), SC(futex), SC(set_robust_list), SC(rseq),
	SC(epoll_create1), SC(epoll_ctl), SC(epoll_wait), SC(epoll_pwait),
	SC(poll), SC(ppoll), SC(pipe2), SC(eventfd2),
	SC(recvmsg), SC(sendmsg), SC(recvfrom), SC(sendto), SC(connect),
	SC(getsockopt), SC(setsockopt), SC(getsockname), SC(getpeername),
	SC(shutdown),
	SC(getrandom), SC(getpid), SC(gettid), SC(getuid), SC(geteuid),
	SC(getgid), SC(getegid), SC(getresuid), SC(getresgid),
	SC(clock_gettime), SC(clock_getres), SC(gettimeofday), SC(time),
	SC(nanosleep), SC(clock_nanosleep), SC(sched_yield),
	SC(rt_sigaction), SC(rt_sigprocmask), SC(rt_sigreturn),
	SC(sigaltstack), SC(restart_syscall), SC(tgkill),
	SC(prlimit64), SC(sysinfo), SC(uname),
	SC(exit), SC(exit_group),
#if defined(__SANITIZE_ADDRESS__)
	/* ASan's runtime, and LeakSanitizer's stop-the-world at exit */
	SC(clone), SC(clone3), SC(ptrace), SC(wait4), SC(waitid), SC(prctl),
	SC(sched_getaffinity), SC(readlink), SC(readlinkat), SC(getdents64),
	SC(kill), SC(getppid), SC(arch_prctl), SC(set_tid_address),
	SC(mincore), SC(setrlimit), SC(getrlimit), SC(pipe), SC(dup2),
	SC(open), SC(stat), SC(lstat), SC(getdents),
#endif
};
/* the api accepts; an uploaded backup goes on as a memory file */
static const int sc_api[] = { SC(accept4), SC(accept), SC(memfd_create) };
/* the joiner writes, names, lists and deletes backup files */
static const int sc_joiner[] = {
	SC(statfs), SC(fstatfs), SC(fsync), SC(rename), SC(renameat),
	SC(renameat2), SC(link), SC(linkat), SC(unlink), SC(unlinkat),
	SC(getdents64),
};
static const int sc_replmon[] = { SC(statfs), SC(fstatfs) };	/* disk-free */
/* SoftHSM2 keeps its token in files it locks, lists and rewrites */
static const int sc_hsm[] = {
	SC(getdents64), SC(ftruncate), SC(fsync), SC(fdatasync), SC(flock),
	SC(mkdir), SC(mkdirat), SC(rename), SC(renameat), SC(renameat2),
	SC(unlink), SC(unlinkat), SC(readlink), SC(umask), SC(fchmod),
	SC(chmod), SC(getcwd), SC(statfs), SC(fstatfs),
};

static int
allow(scmp_filter_ctx ctx, const int *sc, size_t n)
{
	size_t	 i;

	for (i = 0; i < n; i++)
		if (sc[i] >= 0 && seccomp_rule_add(ctx, SCMP_ACT_ALLOW, sc[i],
		    0) != 0)
			return -1;
	return 0;
}

#define ALLOW(ctx, list)	allow((ctx), (list), sizeof(list) / sizeof(list[0]))

int
sandbox_filter(int role, char *err, size_t errlen)
{
	scmp_filter_ctx	 ctx;
	int		 r = -1;

	if ((ctx = seccomp_init(SCMP_ACT_KILL_PROCESS)) == NULL) {
		snprintf(err, errlen, "seccomp_init failed");
		return -1;
	}
	if (ALLOW(ctx, sc_base) == -1 ||
	    seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(socket), 1,
	    SCMP_A0(SCMP_CMP_EQ, AF_UNIX)) != 0 ||
	    (role == PROC_API && ALLOW(ctx, sc_api) == -1) ||
	    (role == PROC_JOINER && ALLOW(ctx, sc_joiner) == -1) ||
	    (role == PROC_REPLMON && ALLOW(ctx, sc_replmon) == -1) ||
	    (role == PROC_HSM && ALLOW(ctx, sc_hsm) == -1))
		snprintf(err, errlen, "seccomp rules could not be added");
	/* every thread, those a role started before it too */
	else if (seccomp_attr_set(ctx, SCMP_FLTATR_CTL_TSYNC, 1) != 0)
		snprintf(err, errlen, "seccomp: no thread synchronization");
	else if (seccomp_load(ctx) != 0)
		snprintf(err, errlen, "seccomp_load failed");
	else
		r = 0;
	seccomp_release(ctx);
	return r;
}
