/*
 * activation.c - the sockets systemd passes: LISTEN_FDS of them from fd 3
 * on, for the process LISTEN_PID names.  With Accept=no they listen (the
 * listener takes them); with Accept=yes and no StandardInput=socket,
 * fd 3 is the one client.
 * SPDX-License-Identifier: ISC
 */
#define _GNU_SOURCE
#include <sys/types.h>
#include <sys/socket.h>
#include <stdlib.h>
#include <unistd.h>

#include "activation.h"

#define PASSED_MAX	1024	/* no one passes more: a bad value */

/*
 * How many sockets systemd passed this process (0: none), once: the
 * variables are unset, so that nothing started later takes them as its own.
 */
int
activation_fds(void)
{
	const char *pid = getenv("LISTEN_PID"), *fds = getenv("LISTEN_FDS");
	long n = 0;

	if (pid != NULL && fds != NULL &&
	    strtol(pid, NULL, 10) == (long)getpid())
		n = strtol(fds, NULL, 10);
	unsetenv("LISTEN_PID");
	unsetenv("LISTEN_FDS");
	unsetenv("LISTEN_FDNAMES");
	if (n < 0)
		return 0;
	return n > PASSED_MAX ? PASSED_MAX : (int)n;
}

int
is_listening(int fd)
{
	int on = 0;
	socklen_t len = sizeof on;

	return getsockopt(fd, SOL_SOCKET, SO_ACCEPTCONN, &on, &len) == 0 &&
	    on;
}

int
is_stream_socket(int fd)
{
	int type;
	socklen_t len = sizeof type;

	return getsockopt(fd, SOL_SOCKET, SO_TYPE, &type, &len) == 0 &&
	    type == SOCK_STREAM;
}
