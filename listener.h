/*
 * listener.h - socks4d's listener mode: one parent that binds, drops
 * privileges, accepts and forks a child per client, instead of a
 * super-server.  Each child returns from listener_run() and runs the same
 * session an inetd-started socks4d runs.
 * SPDX-License-Identifier: ISC
 */
#ifndef LISTENER_H
#define LISTENER_H

#include <sys/socket.h>

#include "text.h"

#define LISTENER_ADDRS_MAX	16	/* -l options and inherited sockets */
#define LISTENER_TOTAL		1024	/* socks4d.socket's MaxConnections= */
#define LISTENER_PER_SOURCE	128	/* and its MaxConnectionsPerSource= */
#define LISTENER_GRACE		10	/* seconds sessions get after SIGTERM */
#define LISTENER_PREFIX6	64	/* an IPv6 source: its /64 */
#define LISTENER_FAILS		10	/* failed logins from a source */
#define LISTENER_FAIL_SECS	60	/* within this many seconds */
#define LISTENER_BAN		60	/* bring a penalty this long */

struct listener_options {
	const char	*listen[LISTENER_ADDRS_MAX];	/* -l [ADDR:]PORT */
	int		 nlisten;
	int		 max_total;		/* sessions at once, in all */
	int		 max_per_source;	/* and from one source */
	int		 prefix6;		/* bits of an IPv6 source */
	int		 fails, fail_secs;	/* failed logins in secs */
	int		 ban_secs;		/* and the penalty, secs */
	int		 grace;			/* seconds, after SIGTERM */
	int		 log_to_syslog;		/* stderr was closed */
	int		 inherited;		/* listening sockets systemd
						   passed from fd 3 on */
	const char	*users;			/* whether SOCKS5 logins are
						   on, for the first line */
};

#define LISTENER_DEFAULTS { .max_total = LISTENER_TOTAL, \
	.max_per_source = LISTENER_PER_SOURCE, .grace = LISTENER_GRACE, \
	.prefix6 = LISTENER_PREFIX6, .fails = LISTENER_FAILS, \
	.fail_secs = LISTENER_FAIL_SECS, .ban_secs = LISTENER_BAN }

/*
 * An option of listener mode and its argument: -1 if bad, why saying
 * what is wrong with the value ("is out of range 1..65536").
 */
int	listener_option(struct listener_options *, int, const char *,
	    struct text *);

/*
 * Returns -1 at once when there is nothing to listen on (no -l, and no
 * listening sockets passed by systemd with Accept=no).  Otherwise it never
 * returns in the parent; in each child it returns the client's socket,
 * already nonblocking, with its address in *peer, the listening sockets
 * closed and the signals the listener caught unblocked, at their default
 * dispositions.
 */
int	listener_run(const struct listener_options *, void (*)(void),
	    struct sockaddr_storage *);

/* In a child: every address socks4d listens on (*out), and how many. */
int	listener_addresses(const struct sockaddr_storage **);

#endif
