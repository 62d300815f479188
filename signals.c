/*
 * signals.c - what a granted session hears while it relays, on one
 * descriptor its loop polls: the stop signals (SIGTERM from systemd or a
 * draining listener, SIGINT, SIGHUP), after which it ends by its normal
 * path with its record and end line; and a SIGALRM tick, every TICK_MS
 * or the idle timeout if that is shorter, on which it reviews its rules
 * (review.c) and counts idle time.  The
 * signals are blocked and read, never handled: nothing runs in a handler.
 * SPDX-License-Identifier: ISC
 */
#define _GNU_SOURCE
#include <sys/time.h>
#include <errno.h>
#include <signal.h>
#include <unistd.h>
#ifdef __linux__
#include <sys/signalfd.h>
#endif

#include "session.h"

enum heard {
	HEARD_NOTHING,
	HEARD_STOP,		/* a stop signal: end now, by the normal path */
	HEARD_TICK,		/* a tick went by */
};

static void
heard_set(sigset_t *set)
{
	sigemptyset(set);
	sigaddset(set, SIGTERM);
	sigaddset(set, SIGINT);
	sigaddset(set, SIGHUP);
	sigaddset(set, SIGALRM);
}

/*
 * Block the signals and open the descriptor that reads them, ticking
 * every tick_ms: the descriptor, or -1 (and the signals as they were).
 */
int
signals_open(long tick_ms)
{
#ifdef __linux__
	struct timeval every = { tick_ms / 1000, tick_ms % 1000 * 1000 };
	struct itimerval tick = { every, every };
	sigset_t set, old;
	int fd;

	heard_set(&set);
	sigprocmask(SIG_BLOCK, &set, &old);
	if ((fd = signalfd(-1, &set, SFD_NONBLOCK | SFD_CLOEXEC)) == -1) {
		sigprocmask(SIG_SETMASK, &old, NULL);
		return -1;
	}
	setitimer(ITIMER_REAL, &tick, NULL);
	return fd;
#else
	return -1;
#endif
}

/* What was heard since the last read: a stop outweighs a tick. */
static enum heard
signals_read(int fd)
{
	enum heard heard = HEARD_NOTHING;
#ifdef __linux__
	struct signalfd_siginfo si;

	while (read(fd, &si, sizeof si) == (ssize_t)sizeof si)
		if (si.ssi_signo == SIGALRM && heard == HEARD_NOTHING)
			heard = HEARD_TICK;
		else if (si.ssi_signo != SIGALRM)
			heard = HEARD_STOP;
#else
	(void)fd;
#endif
	return heard;
}

/* The tick's period: TICK_MS, or the idle timeout if that is shorter. */
long
tick_ms(const struct session *s)
{
	long idle_ms = s->opt->idle_timeout * 1000;

	return idle_ms > 0 && idle_ms < TICK_MS ? idle_ms : TICK_MS;
}

/*
 * What the session heard, between moves: 1 if it ends (*end says how).
 * Idle is counted in whole ticks without a move (a move sets *quiet_ticks
 * to -1: the tick it falls in is not quiet): it ends up to a tick late.
 */
int
heard_ends(struct session *s, int fd, int *quiet_ticks, enum end *end)
{
	switch (signals_read(fd)) {
	case HEARD_STOP:
		*end = END_STOPPED;
		return 1;
	case HEARD_TICK:
		if (review(s) == -1) {
			*end = END_REVOKED;
			return 1;
		}
		(*quiet_ticks)++;
		*end = END_IDLE;
		return s->opt->idle_timeout > 0 && *quiet_ticks * tick_ms(s) >=
		    s->opt->idle_timeout * 1000;
	default:
		return 0;
	}
}
