/*
 * turnaway.h - clients the listener will not serve: each is told so where
 * its protocol has a way to say it, then closed cleanly, and the listener
 * never waits for one.  At most once a second a kind of refusal is logged;
 * those in between are counted.
 * SPDX-License-Identifier: ISC
 */
#ifndef TURNAWAY_H
#define TURNAWAY_H

#include <sys/socket.h>
#include <poll.h>

#define TURNAWAY_MAX	64	/* clients being turned away at once */
#define TURNAWAY_MS	1000	/* to send a first byte, then to close */

enum refusal { REFUSED_CAP, REFUSED_PENALTY, REFUSED_FORK, REFUSALS };

struct turnaway {
	struct away {
		int		 fd;
		int		 replied;
		long long	 deadline;	/* ms */
	}		 away[TURNAWAY_MAX];
	int		 n;
	struct hush {
		long long	 logged;	/* ms; 0: never */
		unsigned long	 held;		/* refusals since, unlogged */
	}		 hush[REFUSALS];
};

/*
 * Turn the client on fd (nonblocking, as accept4() gave it) away; why is
 * logged unless one was this second.
 */
void	turnaway(struct turnaway *, int, const struct sockaddr_storage *,
	    enum refusal, const char *);

/* The clients to poll (*out, TURNAWAY_MAX at most), and how many. */
int	turnaway_pollfds(const struct turnaway *, struct pollfd *);
/* After the poll, with what it said of them: answer, close, log. */
void	turnaway_serve(struct turnaway *, const struct pollfd *);
/* When turnaway_serve() is due next (ms), or -1: nothing to do. */
long long turnaway_wake(const struct turnaway *);
/* Close every client still being turned away. */
void	turnaway_end(struct turnaway *);

#endif
