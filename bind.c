/*
 * bind.c - BIND: listen near the client, first reply with our port,
 * accept exactly one peer, check it, second reply with the peer's address.
 * A request naming its peer (DSTIP not 0.0.0.0) is checked now, and the
 * peer must come from one of the permitted addresses; one that does not
 * name it is checked against whoever connects.  Without any rule that
 * permits BIND, nothing listens.
 * SPDX-License-Identifier: ISC
 */
#define _GNU_SOURCE
#include <sys/socket.h>
#include <netinet/in.h>
#include <errno.h>
#include <limits.h>
#include <poll.h>
#include <string.h>
#include <unistd.h>

#include "addr.h"
#include "clock.h"
#include "session.h"
#include "socks.h"
#include "text.h"

/*
 * Wait for the one incoming connection.  The client is watched too: what
 * it sends early is kept for the relay, and if it leaves, nobody is left
 * to reply to.  Past HEAD_MAX early bytes it waits in its socket.
 */
static int
accept_peer(struct session *s, int lfd)
{
	struct pollfd p[2] = { { .fd = lfd, .events = POLLIN },
			       { .fd = s->in, .events = POLLIN } };
	long long deadline = now_ms() + s->opt->bind_timeout * 1000LL, left;
	socklen_t len = sizeof s->peer;
	ssize_t n;
	int fd;

	while ((left = deadline - now_ms()) > 0) {
		if (poll(p, 2, left > INT_MAX ? INT_MAX : (int)left) == -1 &&
		    errno != EINTR)
			break;
		if (p[1].revents) {
			n = read(s->in, s->head + s->head_len,
			    sizeof s->head - s->head_len);
			if (n == 0 || (n == -1 && errno != EAGAIN &&
			    errno != EINTR))
				abandon(s, "client left while BIND waited",
				    NULL);
			if (n > 0 && (s->head_len += (size_t)n) ==
			    sizeof s->head)
				p[1].fd = -1;
		}
		if (p[0].revents && (fd = accept4(lfd,
		    (struct sockaddr *)&s->peer, &len,
		    SOCK_NONBLOCK | SOCK_CLOEXEC)) != -1)
			return fd;
	}
	return -1;
}

/*
 * The addresses a named BIND peer may come from: those of the request's
 * address or name that the firewall permits.  Rejects if none is.
 */
static int
expected_peers(struct session *s, struct sockaddr_storage *addrs)
{
	char rule[REASON_MAX] = "no address to expect";
	struct text why = TEXT(rule);
	int n, i, kept = 0;

	n = resolve(s, addrs, now_ms() + s->opt->connect_timeout * 1000LL);
	for (i = 0; i < n; i++)
		if (rules_permit(s, SOCKS_BIND, &addrs[i], s->req.host,
		    &why))
			addrs[kept++] = addrs[i];
	if (kept == 0)
		reject(s, SOCKS5_NOT_ALLOWED, rule, NULL);
	s->dst = addrs[0];
	return kept;
}

static int
is_expected(const struct sockaddr_storage *peer,
    const struct sockaddr_storage *addrs, int n)
{
	for (int i = 0; i < n; i++)
		if (same_host(&addrs[i], peer))
			return 1;
	return 0;
}

/* The peer that connected is not one the request named. */
static NORETURN void
reject_unexpected_peer(struct session *s, int n_expected)
{
	char more[3 * INET6_ADDRSTRLEN + 80];
	struct text t = TEXT(more);

	add_addr(&t, &s->peer);
	add(&t, " is not the expected ");
	add_addr(&t, &s->dst);
	if (n_expected > 1)
		add(&t, " or the name's other permitted addresses");
	reject(s, SOCKS5_NOT_ALLOWED, "BIND peer ", more);
}

/* Nobody connected to our port within -B seconds. */
static NORETURN void
reject_no_peer(struct session *s)
{
	char secs[64];
	struct text t = TEXT(secs);

	add_num(&t, s->bound_port, 1);
	add(&t, " within ");
	add_num(&t, (unsigned long long)s->opt->bind_timeout, 1);
	add(&t, " s");
	reject(s, SOCKS5_TTL_EXPIRED, "no connection to BIND port ", secs);
}

/* Listen near the client and say where: the first reply. */
static int
listen_for_peer(struct session *s)
{
	char err[64];
	struct text why = TEXT(err);
	struct sockaddr_storage bnd;
	int lfd;

	if ((lfd = socket_near(s, SOCK_STREAM, &bnd, &why)) == -1)
		reject(s, SOCKS5_GENERAL_FAILURE, "BIND listener: ", err);
	s->bound_port = port_of(&bnd);
	reply_bound(s, &bnd);
	return lfd;
}

int
do_bind(struct session *s)
{
	struct sockaddr_storage expected[ADDRS_MAX];
	int named = s->req.host[0] != '\0' || !is_unspecified(&s->req.addr);
	char rule[REASON_MAX];
	struct text why = TEXT(rule);
	uint8_t ip[4];
	int lfd, fd, n_expected = 0;

	require_rule_for(s, SOCKS_BIND);
	if (named)
		n_expected = expected_peers(s, expected);
	lfd = listen_for_peer(s);
	fd = accept_peer(s, lfd);
	close(lfd);
	if (fd == -1)
		reject_no_peer(s);
	if (named && !is_expected(&s->peer, expected, n_expected))
		reject_unexpected_peer(s, n_expected);
	if (!named && !rules_permit(s, SOCKS_BIND, &s->peer, NULL, &why))
		reject(s, SOCKS5_NOT_ALLOWED, rule, NULL);
	ipv4_of(&s->peer, ip);
	reply_grant(s, port_of(&s->peer), ip, &s->peer);
	s->phase = PHASE_GRANTED;
	return fd;
}
