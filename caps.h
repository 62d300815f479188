/*
 * caps.h - the listener's books: which source a client counts as, the
 * sessions each source has, and the penalties of sources whose logins
 * fail.  The state is listener.c's, in memory no child inherits; these
 * functions only keep it.
 * SPDX-License-Identifier: ISC
 */
#ifndef CAPS_H
#define CAPS_H

#include <sys/types.h>
#include <sys/socket.h>
#include <stdint.h>

#include "listener.h"
#include "text.h"

#define CAPS_SLOTS_MAX	65536	/* -m and -s at most */
#define CAPS_FAILING	256	/* failing sources remembered at once */
#define CAPS_FAILS_MAX	100	/* -f COUNT at most */
#define CAPS_SECS_MAX	86400	/* and SECS and BAN */

/* A source: IPv4 as ::ffff:a.b.c.d, IPv6 cut to its first -S bits. */
struct source {
	uint8_t		 key[16];
};

struct caps {
	struct {
		pid_t		 pid;
		struct source	 from;
	}		 slot[CAPS_SLOTS_MAX];	/* the sessions running */
	int		 used;
	struct failing {
		struct source	 from;
		long long	 at[CAPS_FAILS_MAX];	/* fails, ms: a ring */
		int		 n, next;		/* in it; the oldest */
		long long	 last, until;		/* last fail; penalty */
	}		 failing[CAPS_FAILING];
};

enum verdict { CAPS_OK, CAPS_TOTAL, CAPS_SOURCE, CAPS_PENALTY };

void	source_of(const struct sockaddr_storage *, int, struct source *);
void	add_source(struct text *, const struct source *, int);

/* Whether one more session from this source may start; if not, *why. */
enum verdict caps_check(const struct caps *, const struct listener_options *,
	    const struct source *, struct text *);
void	caps_take(struct caps *, pid_t, const struct source *);
int	caps_end(struct caps *, pid_t, struct source *);
int	caps_signal(const struct caps *, int);

/* A session from this source ended with a failed login. */
void	caps_login_failed(struct caps *, const struct listener_options *,
	    const struct source *);

/* -f COUNT/SECS/BAN or -f 0: -1 (and a message) if it is bad. */
int	caps_penalty_option(struct listener_options *, const char *,
	    struct text *);

#endif
