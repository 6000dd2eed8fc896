/*
 * The one privilege drop every worker goes through, in a fixed order:
 * chroot -> chdir("/") -> setgroups -> setresgid -> setresuid -> verify
 * root cannot come back -> NO_NEW_PRIVS -> not dumpable.
 */
#include <sys/prctl.h>
#include <sys/types.h>

#include <errno.h>
#include <grp.h>
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
