/*
 * wait.c - the bounded waits a session makes: for one event on one
 * descriptor, and for a whole write, each by a deadline.
 * SPDX-License-Identifier: ISC
 */
#define _GNU_SOURCE
#include <errno.h>
#include <limits.h>
#include <poll.h>
#include <stdint.h>
#include <unistd.h>

#include "clock.h"
#include "session.h"

/* poll() for one event until an absolute deadline: 1 ready, 0 timed out. */
int
wait_fd(int fd, short events, long long deadline)
{
	struct pollfd p = { .fd = fd, .events = events };
	long long left;
	int n;

	while ((left = deadline - now_ms()) > 0) {
		n = poll(&p, 1, left > INT_MAX ? INT_MAX : (int)left);
		if (n > 0)
			return 1;
		if (n == -1 && errno != EINTR)
			return -1;
	}
	errno = ETIMEDOUT;
	return 0;
}

/*
 * Write all of p, waiting at most secs seconds in all (the clock starts at
 * the first wait, which is seldom needed): how many bytes were written.
 */
size_t
write_within(int fd, const uint8_t *p, size_t len, long secs)
{
	long long deadline = 0;
	size_t off = 0;
	ssize_t n;

	while (off < len) {
		if ((n = write(fd, p + off, len - off)) > 0) {
			off += (size_t)n;
			continue;
		}
		if (n == -1 && errno != EINTR && errno != EAGAIN)
			break;
		if (deadline == 0)
			deadline = now_ms() + secs * 1000LL;
		if (wait_fd(fd, POLLOUT, deadline) != 1)
			break;
	}
	return off;
}
