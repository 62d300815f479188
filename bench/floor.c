/*
 * floor - the exec floor for `make bench`: the least a per-connection SOCKS4
 * handler can do.  Run by the same super-server as socks4d (the client on
 * fd 0 and 1), it reads one SOCKS4 CONNECT request, connects, replies 90 and
 * relays with read/write until both directions end.  No SOCKS4a, no BIND,
 * no firewall, no configuration, no logging.  Built -static -O2.
 *
 * It is what socks4d's session rate is compared with: the cost of the
 * super-server's fork+exec and of the sockets themselves, and nothing else.
 *
 * floor -l PORT is the fork floor, what socks4d's listener mode is compared
 * with: the same handler behind its own accept-and-fork loop on
 * 127.0.0.1:PORT.  The parent accepts, forks and closes its copy; the child
 * closes the listening socket, takes the client as fd 0 and 1 and runs the
 * handler; a SIGCHLD handler reaps (with waitpid(), not SA_NOCLDWAIT, so
 * that the children's CPU time reaches the parent's, which the bench reads).
 * No caps, no logging; the least a server of the listener's design can do.
 * SPDX-License-Identifier: ISC
 */
#define _GNU_SOURCE
#include <sys/socket.h>
#include <sys/wait.h>
#include <netinet/in.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define DEADLINE_MS	10000
#define BUF		65536

static char buf[2][BUF];

/* One session: the client on fd 0 and 1.  0 when both directions ended. */
static int
session(void)
{
	unsigned char req[512], rep[8] = { 0, 90 };
	size_t len = 0, off[2] = { 0, 0 }, pend[2] = { 0, 0 };
	struct sockaddr_in dst = { .sin_family = AF_INET };
	struct pollfd p[2];
	int fd, done[2] = { 0, 0 }, eof[2] = { 0, 0 };
	ssize_t n;

	/* The request: 8 bytes and a NUL-terminated user id. */
	p[0].fd = 0, p[0].events = POLLIN;
	while (len < 9 || memchr(req + 8, 0, len - 8) == NULL) {
		if (len == sizeof req || poll(p, 1, DEADLINE_MS) != 1 ||
		    (n = read(0, req + len, sizeof req - len)) <= 0)
			return 1;
		len += n;
	}
	if (req[0] != 4 || req[1] != 1)
		return 1;
	memcpy(&dst.sin_port, req + 2, 2);
	memcpy(&dst.sin_addr, req + 4, 4);
	if ((fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0)) == -1)
		return 1;
	if (connect(fd, (struct sockaddr *)&dst, sizeof dst) == -1) {
		int err = 0;
		socklen_t el = sizeof err;
		p[0].fd = fd, p[0].events = POLLOUT;
		if (errno != EINPROGRESS || poll(p, 1, DEADLINE_MS) != 1 ||
		    getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &el) == -1 || err != 0)
			rep[1] = 91;
	}
	memcpy(rep + 2, req + 2, 6);
	if (write(1, rep, 8) != 8 || rep[1] != 90)
		return 1;
	fcntl(0, F_SETFL, O_NONBLOCK);
	/* Direction 0: client to destination; 1: destination to client. */
	int from[2] = { 0, fd }, to[2] = { fd, 1 };
	while (!done[0] || !done[1]) {
		for (int i = 0; i < 2; i++) {
			p[i].fd = done[i] ? -1 : pend[i] ? to[i] : from[i];
			p[i].events = pend[i] ? POLLOUT : POLLIN;
		}
		if ((n = poll(p, 2, 600000)) == 0 || (n == -1 && errno != EINTR))
			return 1;
		for (int i = 0; i < 2; i++) {
			if (done[i] || !p[i].revents)
				continue;
			if (pend[i] == 0 && !eof[i]) {
				n = read(from[i], buf[i], BUF);
				if (n == 0)
					eof[i] = 1;
				else if (n > 0)
					pend[i] = n, off[i] = 0;
				else if (errno != EAGAIN && errno != EINTR)
					return 1;
			}
			while (pend[i] > 0) {
				n = write(to[i], buf[i] + off[i], pend[i]);
				if (n == -1 && (errno == EAGAIN || errno == EINTR))
					break;
				if (n <= 0)
					return 1;
				pend[i] -= n, off[i] += n;
			}
			if (eof[i] && pend[i] == 0) {
				shutdown(to[i], SHUT_WR);
				done[i] = 1;
			}
		}
	}
	return 0;
}

static void
reap(int sig)
{
	int saved = errno;

	(void)sig;
	while (waitpid(-1, NULL, WNOHANG) > 0)
		;
	errno = saved;
}

/* The fork floor: accept, fork, the child runs the session. */
static int
serve(const char *port)
{
	struct sockaddr_in sin = { .sin_family = AF_INET,
	    .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	struct sigaction sa = { .sa_handler = reap, .sa_flags = SA_RESTART };
	char *end;
	long p = strtol(port, &end, 10);
	int lfd, fd, one = 1;

	if (*port == '\0' || *end != '\0' || p < 1 || p > 65535)
		return 2;
	sin.sin_port = htons((unsigned short)p);
	sigemptyset(&sa.sa_mask);
	if (sigaction(SIGCHLD, &sa, NULL) == -1 ||
	    (lfd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0)) == -1 ||
	    setsockopt(lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one) == -1 ||
	    bind(lfd, (struct sockaddr *)&sin, sizeof sin) == -1 ||
	    listen(lfd, SOMAXCONN) == -1)
		return 1;
	for (;;) {
		if ((fd = accept4(lfd, NULL, NULL, 0)) == -1) {
			if (errno == EMFILE || errno == ENFILE ||
			    errno == ENOBUFS || errno == ENOMEM)
				poll(NULL, 0, 10);
			continue;
		}
		switch (fork()) {
		case 0:
			close(lfd);
			signal(SIGCHLD, SIG_DFL);
			if (dup2(fd, 0) == -1 || dup2(fd, 1) == -1)
				_exit(1);
			if (fd > 1)
				close(fd);
			_exit(session());
		case -1:
			poll(NULL, 0, 10);
			break;
		}
		close(fd);
	}
}

int
main(int argc, char **argv)
{
	signal(SIGPIPE, SIG_IGN);
	if (argc == 3 && strcmp(argv[1], "-l") == 0)
		return serve(argv[2]);
	if (argc != 1)
		return 2;
	return session();
}
