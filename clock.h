/*
 * clock.h - the monotonic clock in milliseconds, read by system call
 * rather than through the vDSO.  A session reads it a few times, and its
 * first read through the vDSO would cost two page faults and a symbol
 * lookup, more than all of those system calls together.  The listener
 * reads it so too: a parent that has touched the vDSO's data passes page
 * tables for it to every child (12 KiB each).
 * SPDX-License-Identifier: ISC
 */
#ifndef CLOCK_H
#define CLOCK_H

#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

static inline void
monotonic(struct timespec *ts)
{
#ifdef SYS_clock_gettime
	if (syscall(SYS_clock_gettime, CLOCK_MONOTONIC, ts) == 0)
		return;
#endif
	clock_gettime(CLOCK_MONOTONIC, ts);
}

static inline long long
ms_of(const struct timespec *ts)
{
	return ts->tv_sec * 1000LL + ts->tv_nsec / 1000000;
}

static inline long long
now_ms(void)
{
	struct timespec ts;

	monotonic(&ts);
	return ms_of(&ts);
}

/* wait.c: poll fd for events until deadline (ms): 1 ready, 0 timed out. */
int	wait_fd(int, short, long long);

#endif
