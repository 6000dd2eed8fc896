#include <stddef.h>

#include "proto.h"

#define NAME_MSG(n)			[IMSG_##n] = #n,
#define NAME_LOCAL(n, len, from, fn)	[IMSG_CTL_##n] = "CTL_" #n,
#define NAME_REQ(w, n, len, from, fn)	[IMSG_CTL_##n] = "CTL_" #n, \
					[IMSG_##n] = #n,
#define NAME_REPLY(n, len, from)	[IMSG_##n] = #n,
#define NAME_HSM(q, ql, a, al, fn)	[IMSG_##q] = #q, [IMSG_##a] = #a,

const char *
imsg_type_name(uint16_t type)
{
	static const char *names[IMSG_MAX] = {
		MESSAGES_FIRST(NAME_MSG)
		LOCAL(NAME_LOCAL)
		MESSAGES(NAME_MSG)
		REQUESTS(NAME_REQ)
		REPLIES(NAME_REPLY)
		HSM_CALLS(NAME_HSM)
	};

	if (type >= IMSG_MAX || names[type] == NULL)
		return "unknown";
	return names[type];
}

#define PEER_NAME(n, by, on, what)	[n] = #n,
#define PEER_WHAT(n, by, on, what)	[n] = what,

const char *
peer_call_name(enum peer_call c)
{
	static const char *names[PEER_MAX] = { PEER_CALLS(PEER_NAME) };

	return (unsigned)c < PEER_MAX ? names[c] : "unknown";
}

/* What a call between nodes does, as its errors say it. */
const char *
peer_call_what(enum peer_call c)
{
	static const char *what[PEER_MAX] = { PEER_CALLS(PEER_WHAT) };

	return (unsigned)c < PEER_MAX ? what[c] : "a call to another node";
}

const char *
proc_name(enum proc_id p)
{
	static const char *names[PROC_MAX] = {
		"parent", "replmon", "joiner", "hsm", "api", "postgres", "kmctl"
	};

	return (unsigned)p < PROC_MAX ? names[p] : "unknown";
}
