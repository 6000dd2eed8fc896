/*
 * The monitor's state, shared by the tick (monitor.c) and the alarms
 * (alarms.c): this node's view of each peer and the alarms it holds.
 */
#ifndef KMD_MONITOR_H
#define KMD_MONITOR_H

#include <stdint.h>
#include <yajl_gen.h>

#include "proto.h"
#include "status.h"

#define PEERS_MAX	64
#define ALARMS_MAX	256
#define SKEW_SAMPLES	30	/* the last heartbeats the skew is taken from */
#define ISO_MAX		40

struct replmon;
struct event;

enum alarm_state {
	AL_NEW,			/* raised, not yet in kmd_alarms */
	AL_ACTIVE,		/* raised and stored */
	AL_CLEARING		/* cleared, not yet stored as cleared */
};

struct alarm {
	char		 kind[16];
	char		 subject[KMD_NODEID_MAX];
	char		 message[KMD_ERR_MAX];
	char		 raised[ISO_MAX];
	enum alarm_state state;
	int		 live;		/* its condition held this tick */
};

struct peer {
	char		 id[KMD_NODEID_MAX];
	char		 host[KMD_HOST_MAX];
	int		 present;	/* in this tick's rows */
	int64_t		 ready_since;	/* mono ms; 0: not in state r */
	long long	 origin;	/* its WAL applied here, bytes */
	int64_t		 origin_at;
	double		 rate;		/* bytes/s, smoothed */
	long long	 skew[SKEW_SAMPLES];	/* us: its clock - ours */
	int		 nskew, iskew;
	char		 clock[64];	/* the last heartbeat's clock */
	struct peer_watch watch;	/* down or up, over time */
	int		 beats;		/* it beats (beat.c) */
	char		 sent[192];	/* the view last written ... */
	int64_t		 sent_at;	/* ... at (mono ms) */
	/* the last tick's figures, for metrics.c */
	char		 code[16];	/* its status as seen from here */
	int		 connected;	/* its walsender is up */
	long long	 retained;	/* bytes of WAL kept here for it */
	long long	 hb_age;	/* ms since its heartbeat; -1 none */
	long long	 skew_us;	/* its clock - ours */
	int		 skew_ok;
};

/* PostgreSQL's words for a subscription's failed apply (IMSG_APPLY_ERROR) */
struct apply_seen {
	uint32_t	 subid;
	int64_t		 at;		/* mono ms it came */
	char		 when[32];
	char		 msg[KMD_ERR_MAX];
};

struct monitor {
	struct replmon	*rm;
	struct event	*tick;
	int		 busy;
	int		 loaded;	/* active alarms read back */
	int64_t		 sent_at;	/* mono ms: this tick's read went out */
	int64_t		 last_done;	/* the last tick that ran through */
	struct peer	 peers[PEERS_MAX];
	size_t		 npeers;
	struct alarm	 alarms[ALARMS_MAX];
	size_t		 nalarms;
	/* the last tick that ran through, for metrics.c */
	int		 clustered;	/* ready in a cluster */
	int		 read_failed;	/* the last read failed (logged once) */
	char		 me[KMD_NODEID_MAX];
	int		 cert_days;	/* -1: unknown */
	int		 ms;		/* the tick's interval now */
	long long	 disk_size;	/* bytes, the data directory's ... */
	long long	 disk_free;	/* ... filesystem; -1: unknown */
	struct apply_seen applied[PEERS_MAX];
};


/* alarms.c */
void	iso_now(char *, size_t);
void	alarm_want(struct monitor *, const char *, const char *,
	    const char *, ...) __attribute__((format(printf, 4, 5)));
void	alarms_settle(struct monitor *);
int	alarm_up(struct monitor *, const char *, const char *);
void	gen_errors(yajl_gen, const struct monitor *, const char *,
	    const char *, const struct apply_seen *);
void	gen_alarms(yajl_gen, const struct monitor *, enum alarm_state);
void	peer_why(const struct peer *, const char *, int, int, char *, size_t);
void	peer_summary(struct monitor *, const struct peer *, int, int, int,
	    char *, size_t);
const struct apply_seen *apply_seen_of(const struct monitor *, int,
	    const char *);

/* slots.c */
long long wal_alarm_mb(const struct conf_worker *);
void	slots_check(struct monitor *, const char *);
void	disk_check(struct monitor *, const char *);

#endif
