/*
 * udp.c - UDP ASSOCIATE: a UDP socket for the client beside its TCP
 * connection, relaying datagrams both ways until that connection closes
 * (or the idle deadline passes).  Every datagram from the client is
 * checked: its source, whole (FRAG 0), and a destination socks.conf's u
 * rules permit; from outside, only destinations the client sent to.
 * SPDX-License-Identifier: ISC
 */
#define _GNU_SOURCE
#include <sys/socket.h>
#include <errno.h>
#include <poll.h>
#include <string.h>
#include <unistd.h>

#include "addr.h"
#include "clock.h"
#include "session.h"
#include "socks.h"
#include "socks5.h"
#include "text.h"

#define DATAGRAM_MAX	65535	/* a UDP payload, at most */
#define PEERS_MAX	16	/* destinations a UDP association hears from */
#define NAMES_MAX	8	/* names an association resolves, once each */

/* A UDP association: the client's side, the way out, what it remembers. */
struct association {
	int		 client_fd;		/* where the client's datagrams
						   come */
	int		 out_fd[2];		/* IPv4 and IPv6 out, opened
						   when needed */
	struct sockaddr_storage client;		/* the client's UDP address */
	int		 client_known;
	struct sockaddr_storage peers[PEERS_MAX];	/* whom it may hear */
	int		 n_peers, next_peer;
	struct {
		char			 name[FIELD_MAX + 1];
		struct sockaddr_storage	 addr;	/* AF_UNSPEC: did not
						   resolve */
	}		 names[NAMES_MAX];
	int		 n_names;
};

/*
 * A name in a client's datagram, resolved once per association (within
 * the connect deadline, as a CONNECT's would be) and remembered, failures
 * too: 0, -1 when it does not resolve, -2 when the lookup took too long.
 */
static int
udp_resolve(struct session *s, struct association *a, const char *name,
    struct sockaddr_storage *out)
{
	int i;

	for (i = 0; i < a->n_names; i++)
		if (strcmp(a->names[i].name, name) == 0)
			break;
	if (i == a->n_names) {
		if (i == NAMES_MAX)
			i = --a->n_names;	/* the last one makes room */
		memcpy(a->names[i].name, name, strlen(name) + 1);
		memset(&a->names[i].addr, 0, sizeof a->names[i].addr);
		if (lookup_within(name, 0, &a->names[i].addr, 1, now_ms() +
		    s->opt->connect_timeout * 1000LL) == -1)
			return -2;
		a->n_names++;
	}
	*out = a->names[i].addr;
	return out->ss_family == AF_UNSPEC ? -1 : 0;
}

static int
is_peer(const struct association *a, const struct sockaddr_storage *from)
{
	for (int i = 0; i < a->n_peers; i++)
		if (same_host(&a->peers[i], from) &&
		    port_of(&a->peers[i]) == port_of(from))
			return 1;
	return 0;
}

static void
remember_peer(struct association *a, const struct sockaddr_storage *dst)
{
	if (is_peer(a, dst))
		return;
	if (a->n_peers < PEERS_MAX)
		a->n_peers++;
	a->peers[a->next_peer] = *dst;
	a->next_peer = (a->next_peer + 1) % PEERS_MAX;
}

/*
 * Where a client's datagram goes, if it may: 0, -1 to drop it, -2 when a
 * name's lookup took too long (the association ends).
 */
static int
udp_destination(struct session *s, struct association *a,
    const struct socks5_udp *u, struct sockaddr_storage *dst)
{
	char ignored[REASON_MAX];
	struct text why = TEXT(ignored);
	int r;

	if (u->dst.atyp == SOCKS5_ATYP_NAME) {
		if ((r = udp_resolve(s, a, u->dst.name, dst)) != 0)
			return r;
		set_port(dst, u->dst.port);
	} else
		socks5_sockaddr(&u->dst, dst);
	if (u->dst.port == 0 || is_unspecified(dst) ||
	    !rules_permit(s, SOCKS_UDP_ASSOCIATE, dst, &why))
		return -1;
	return 0;
}

/*
 * One datagram from the client's side: only from the client's address
 * (and the port its request named, if it named one): 1 relayed, 0
 * dropped, -1 when a lookup took too long.
 */
static int
udp_from_client(struct session *s, struct association *a, uint8_t *buf)
{
	struct sockaddr_storage from, dst;
	socklen_t len = sizeof from;
	struct socks5_udp u;
	const char *malformed;
	ssize_t n;
	int *fd, r;

	if ((n = recvfrom(a->client_fd, buf, DATAGRAM_MAX, 0,
	    (struct sockaddr *)&from, &len)) == -1)
		return 0;
	if (!same_host(&from, &s->src) ||
	    (s->req.port != 0 && port_of(&from) != s->req.port) ||
	    (a->client_known && port_of(&from) != port_of(&a->client)) ||
	    socks5_parse_udp(buf, (size_t)n, &u, &malformed) != 1 ||
	    u.frag != 0)
		goto drop;
	if ((r = udp_destination(s, a, &u, &dst)) == -2)
		return -1;
	fd = &a->out_fd[dst.ss_family == AF_INET6];
	if (r == -1 || (*fd == -1 && (*fd = socket(dst.ss_family,
	    SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0)) == -1))
		goto drop;
	a->client = from;
	a->client_known = 1;
	record_first_bytes(s, buf + u.len, (size_t)n - u.len, 0);
	if (sendto(*fd, buf + u.len, (size_t)n - u.len, 0,
	    (struct sockaddr *)&dst, addr_len(&dst)) == -1)
		goto drop;
	remember_peer(a, &dst);
	s->datagrams_received++;
	s->received += (size_t)n - u.len;
	return 1;
drop:
	s->datagrams_dropped++;
	return 0;
}

/* One datagram from outside: only from a destination the client sent to. */
static int
udp_from_peer(struct session *s, struct association *a, int fd, uint8_t *buf)
{
	uint8_t *data = buf + SOCKS5_REPLY_MAX, header[SOCKS5_REPLY_MAX];
	struct sockaddr_storage from;
	socklen_t len = sizeof from;
	size_t h;
	ssize_t n;

	if ((n = recvfrom(fd, data, DATAGRAM_MAX, 0, (struct sockaddr *)&from,
	    &len)) == -1)
		return 0;
	if (!a->client_known || !is_peer(a, &from)) {
		s->datagrams_dropped++;
		return 0;
	}
	h = socks5_udp_header(header, (struct sockaddr *)&from);
	memcpy(data - h, header, h);
	if (sendto(a->client_fd, data - h, h + (size_t)n, 0,
	    (struct sockaddr *)&a->client, addr_len(&a->client)) == -1) {
		s->datagrams_dropped++;
		return 0;
	}
	s->datagrams_sent++;
	s->sent += (size_t)n;
	return 1;
}

/* The relay's socket near the client, and the reply that says where. */
static void
grant_association(struct session *s, struct association *a)
{
	char err[64];
	struct text why = TEXT(err);
	struct sockaddr_storage bound;

	require_rule_for(s, SOCKS_UDP_ASSOCIATE);
	if ((a->client_fd = socket_near(s, SOCK_DGRAM, &bound, &why)) == -1)
		reject(s, SOCKS5_GENERAL_FAILURE, "UDP socket: ", err);
	s->bound_port = port_of(&bound);
	reply_bound(s, &bound);
	s->phase = PHASE_GRANTED;
}

/*
 * Relay until the TCP connection closes.  What the client sends on it
 * meanwhile is read and dropped.  Idle counts ticks without a datagram
 * relayed: dropped ones keep nothing alive.
 */
enum end
do_udp(struct session *s)
{
	static uint8_t buf[SOCKS5_REPLY_MAX + DATAGRAM_MAX];
	struct association a = { .out_fd = { -1, -1 } };
	struct pollfd p[5];
	ssize_t n;
	int i, r, sig, quiet = 0;
	enum end end;

	grant_association(s, &a);
	sig = signals_open(tick_ms(s));
	for (;;) {
		p[0] = (struct pollfd){ .fd = s->in, .events = POLLIN };
		p[1] = (struct pollfd){ .fd = a.client_fd, .events = POLLIN };
		for (i = 0; i < 2; i++)
			p[2 + i] = (struct pollfd){ .fd = a.out_fd[i],
			    .events = POLLIN };
		p[4] = (struct pollfd){ .fd = sig, .events = POLLIN };
		n = poll(p, 5, -1);
		if (n == -1 && errno != EINTR)
			return END_POLL_FAILED;
		if (n == -1)
			continue;
		if (p[4].revents && heard_ends(s, sig, &quiet, &end))
			return end;
		if (p[0].revents) {
			n = read(s->in, buf, sizeof buf);
			if (n == 0)
				return END_CLOSED;
			if (n == -1 && errno != EINTR && errno != EAGAIN) {
				s->end_errno = errno;
				return END_CLIENT_FAILED;
			}
		}
		if (p[1].revents && (r = udp_from_client(s, &a, buf)) != 0) {
			if (r == -1) {
				s->end_errno = ETIMEDOUT;
				return END_DEST_FAILED;
			}
			quiet = -1;	/* this tick's interval was not quiet */
		}
		for (i = 0; i < 2; i++)
			if (p[2 + i].revents &&
			    udp_from_peer(s, &a, a.out_fd[i], buf))
				quiet = -1;
	}
}
