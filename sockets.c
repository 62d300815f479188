/*
 * sockets.c - the sockets a session opens: a connection out (begun: its
 * caller waits), a socket near the client's (BIND's listener, UDP's relay),
 * and TCP keepalive for a relay's two ends.
 * SPDX-License-Identifier: ISC
 */
#define _GNU_SOURCE
#include <sys/types.h>
#include <sys/socket.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <errno.h>
#include <unistd.h>

#include "addr.h"
#include "session.h"

/*
 * A nonblocking connect() begun: the socket, connected or connecting (it
 * polls writable once done, and SO_ERROR says how it went), or -1 with
 * errno.
 */
int
connect_start(const struct sockaddr_storage *dst)
{
	int fd, err;

	if ((fd = socket(dst->ss_family, SOCK_STREAM | SOCK_NONBLOCK |
	    SOCK_CLOEXEC, 0)) == -1)
		return -1;
	if (connect(fd, (const struct sockaddr *)dst, addr_len(dst)) == 0 ||
	    errno == EINPROGRESS)
		return fd;
	err = errno;
	close(fd);
	errno = err;
	return -1;
}

/*
 * A socket of type (SOCK_STREAM, listening, or SOCK_DGRAM) on the address
 * the client reached us by, any port: the socket, with its address in
 * *bound, or -1 with errno.
 */
int
socket_near(const struct sockaddr_storage *local, int type,
    struct sockaddr_storage *bound)
{
	socklen_t len = sizeof *bound;
	int fd, err;

	*bound = *local;
	set_port(bound, 0);
	if ((fd = socket(bound->ss_family, type | SOCK_NONBLOCK | SOCK_CLOEXEC,
	    0)) == -1)
		return -1;
	if (bind(fd, (struct sockaddr *)bound, addr_len(bound)) == -1 ||
	    (type == SOCK_STREAM && listen(fd, 1) == -1) ||
	    getsockname(fd, (struct sockaddr *)bound, &len) == -1) {
		err = errno;
		close(fd);
		errno = err;
		return -1;
	}
	return fd;
}

/*
 * A peer that vanishes without a FIN (a host switched off, a route gone)
 * would hold the relay forever: after idle quiet seconds (0: never) it is
 * probed, and if neither probes nor unacknowledged data get an answer
 * within as long again, the relay ends with an error.
 */
void
keep_alive(int fd, long idle_secs)
{
	int on = 1, idle = (int)idle_secs, count = 4;
	int interval = idle / 4 > 0 ? idle / 4 : 1;
	unsigned timeout = (unsigned)idle * 2000;

	if (idle_secs == 0)
		return;
	setsockopt(fd, SOL_SOCKET, SO_KEEPALIVE, &on, sizeof on);
#ifdef TCP_KEEPIDLE
	setsockopt(fd, IPPROTO_TCP, TCP_KEEPIDLE, &idle, sizeof idle);
	setsockopt(fd, IPPROTO_TCP, TCP_KEEPINTVL, &interval, sizeof interval);
	setsockopt(fd, IPPROTO_TCP, TCP_KEEPCNT, &count, sizeof count);
#endif
#ifdef TCP_USER_TIMEOUT
	setsockopt(fd, IPPROTO_TCP, TCP_USER_TIMEOUT, &timeout, sizeof timeout);
#endif
}
