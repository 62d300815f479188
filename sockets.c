/*
 * sockets.c - the sockets a session opens: a connection out (begun: its
 * caller waits), a socket near the client's (BIND's listener, UDP's relay)
 * on a port of -U's range if there is one, and TCP keepalive for a relay's
 * two ends.
 * SPDX-License-Identifier: ISC
 */
#define _GNU_SOURCE
#include <sys/types.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <errno.h>
#include <string.h>
#include <unistd.h>

#include "addr.h"
#include "clock.h"
#include "session.h"
#include "text.h"

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
 * Where a walk of -U's range starts: anywhere in it, so that sessions
 * (forked ones too) do not all queue for its first ports.
 */
static unsigned
walk_start(unsigned n)
{
	unsigned r;

	if (getrandom(&r, sizeof r, GRND_NONBLOCK) != sizeof r)
		r = (unsigned)getpid() ^ (unsigned)now_ms();
	return r % n;
}

/*
 * A socket of type bound to bound and, a stream, listening: the socket,
 * or -1 with errno.  reuse: a port a finished BIND left in TIME_WAIT is
 * free to listen on (-U's few ports are used again soon).
 */
static int
socket_on(int type, const struct sockaddr_storage *bound, int reuse)
{
	int fd, err, on = 1;

	if ((fd = socket(bound->ss_family, type | SOCK_NONBLOCK | SOCK_CLOEXEC,
	    0)) == -1)
		return -1;
	if ((!reuse || setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &on,
	    sizeof on) == 0) &&
	    bind(fd, (const struct sockaddr *)bound, addr_len(bound)) == 0 &&
	    (type != SOCK_STREAM || listen(fd, 1) == 0))
		return fd;
	err = errno;
	close(fd);
	errno = err;
	return -1;
}

/*
 * socket_on() at bound's address: any port, or one of -U's.  The range is
 * walked once from a random port, each port tried once: a port taken
 * (EADDRINUSE, at bind() or, when another session bound it first, at
 * listen()) moves on to the next, any other error ends the walk.
 */
static int
socket_on_near(const struct options *o, int type,
    struct sockaddr_storage *bound, struct text *why)
{
	unsigned n, start, i;
	int fd;

	if (o->ports_low == 0)
		return socket_on(type, bound, 0);
	n = (unsigned)o->ports_high - o->ports_low + 1;
	start = walk_start(n);
	for (i = 0; i < n; i++) {
		set_port(bound, (uint16_t)(o->ports_low + (start + i) % n));
		if ((fd = socket_on(type, bound, type == SOCK_STREAM)) != -1)
			return fd;
		if (errno != EADDRINUSE)
			return -1;
	}
	add(why, "no free port in -U ");
	add_num(why, o->ports_low, 1);
	add(why, "-");
	add_num(why, o->ports_high, 1);
	return -1;
}

/*
 * A socket of type (SOCK_STREAM, listening, or SOCK_DGRAM) on the address
 * the client reached us by, any port or one of -U's: the socket, with its
 * address in *bound, or -1 with why saying why not.
 */
int
socket_near(const struct session *s, int type, struct sockaddr_storage *bound,
    struct text *why)
{
	socklen_t len = sizeof *bound;
	int fd;

	*bound = s->local;
	set_port(bound, 0);
	if ((fd = socket_on_near(s->opt, type, bound, why)) == -1 ||
	    getsockname(fd, (struct sockaddr *)bound, &len) == -1) {
		if (why->len == 0)
			add(why, strerror(errno));
		if (fd != -1)
			close(fd);
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
