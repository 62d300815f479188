/*
 * connect.c - CONNECT: the addresses of the destination that socks.conf
 * permits raced as RFC 8305 (Happy Eyeballs) says, the first to connect
 * granted, and why an attempt failed the refusal otherwise.
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

#define ATTEMPT_DELAY_MS 250	/* RFC 8305's Connection Attempt Delay */

/*
 * One CONNECT's attempts: those in flight, in the order they began (at
 * most one an address, and resolve() gives at most ADDRS_MAX), and the
 * failure its refusal will give if none connects.
 */
struct race {
	const struct sockaddr_storage *addrs;
	int		 n, next;		/* addresses; the next to try */
	long long	 next_at;		/* when it is due (ms) */
	long long	 deadline;
	struct pollfd	 fds[ADDRS_MAX];	/* in flight, oldest first */
	int		 of[ADDRS_MAX];		/* fds[k] is to addrs[of[k]] */
	int		 flying, tried;
	int		 err;			/* the refusal's errno */
	int		 named;			/* the address recorded */
};

/* The SOCKS5 reply for why a connect failed. */
static int
connect_error_reply(int err)
{
	switch (err) {
	case ECONNREFUSED: return SOCKS5_REFUSED;
	case ENETUNREACH: return SOCKS5_NET_UNREACHABLE;
	case EHOSTUNREACH: return SOCKS5_HOST_UNREACHABLE;
	case ETIMEDOUT: return SOCKS5_TTL_EXPIRED;
	default: return SOCKS5_GENERAL_FAILURE;
	}
}

/* "connect to ADDR port N: error", the reason a failed CONNECT gives. */
static NORETURN void
reject_connect_error(struct session *s, int err)
{
	char more[INET6_ADDRSTRLEN + 160];
	struct text t = TEXT(more);

	add_addr(&t, &s->dst);
	add(&t, " port ");
	add_num(&t, s->req.port, 1);
	add(&t, ": ");
	add(&t, strerror(err));
	reject(s, connect_error_reply(err), "connect to ", more);
}

/* Connected: the reply that grants, with the address used to connect out. */
static void
grant_connect(struct session *s, int fd)
{
	struct sockaddr_storage bnd;
	socklen_t len = sizeof bnd;

	memset(&bnd, 0, sizeof bnd);
	if (s->protocol == SOCKS5_VERSION)
		getsockname(fd, (struct sockaddr *)&bnd, &len);
	reply_grant(s, s->req.port, s->req.ip4, &bnd);
	s->phase = PHASE_GRANTED;
}

/*
 * RFC 8305's order: the family of the resolver's first address first,
 * then the families in turn, each in the resolver's order, so that one
 * broken family costs one attempt's delay, not the deadline.
 */
static void
interleave(struct sockaddr_storage *addrs, int n)
{
	struct sockaddr_storage first[ADDRS_MAX], other[ADDRS_MAX];
	int i, nf = 0, no = 0, f = 0, o = 0;

	for (i = 0; i < n; i++)
		if (addrs[i].ss_family == addrs[0].ss_family)
			first[nf++] = addrs[i];
		else
			other[no++] = addrs[i];
	for (i = 0; i < n; i++)
		addrs[i] = (f < nf && (i % 2 == 0 || o == no)) ?
		    first[f++] : other[o++];
}

/*
 * How much a failure tells the client: the destination refused (it was
 * reached), some other answer came (unreachable, ...), or none came.
 */
static int
telling(int err)
{
	return err == ECONNREFUSED ? 2 : err == ETIMEDOUT ? 0 : 1;
}

/* An attempt failed: keep what tells the client most (of equals, the last). */
static void
failed(struct race *r, int i, int err)
{
	if (r->err == 0 || telling(err) >= telling(r->err)) {
		r->err = err;
		r->named = i;
	}
	r->next_at = 0;		/* the next attempt starts at once */
}

/* Stop the attempt fds[k]: closed, and taken out of the race. */
static void
drop(struct race *r, int k)
{
	close(r->fds[k].fd);
	r->flying--;
	memmove(&r->fds[k], &r->fds[k + 1], (size_t)(r->flying - k) *
	    sizeof r->fds[0]);
	memmove(&r->of[k], &r->of[k + 1], (size_t)(r->flying - k) *
	    sizeof r->of[0]);
}

/*
 * Close every attempt in flight, each failed with err (0: none kept), the
 * youngest first: of timeouts, the oldest attempt's is the one kept.
 */
static void
give_up(struct race *r, int err)
{
	while (r->flying > 0) {
		if (err != 0)
			failed(r, r->of[r->flying - 1], err);
		drop(r, r->flying - 1);
	}
}

/* The next address socks.conf permits, or -1; socks4d itself is refused. */
static int
next_permitted(struct session *s, struct race *r, struct text *why)
{
	while (r->next < r->n) {
		const struct sockaddr_storage *a = &r->addrs[r->next++];

		if (is_socks4d_itself(s, a)) {
			s->dst = *a;
			give_up(r, 0);
			reject(s, SOCKS5_NOT_ALLOWED,
			    "destination is socks4d itself", NULL);
		}
		if (rules_permit(s, SOCKS_CONNECT, a, s->req.host, why))
			return (int)(a - r->addrs);
	}
	return -1;
}

/* Begin a connect to the next address socks.conf permits, if any is left. */
static void
start_next(struct session *s, struct race *r, struct text *why, long long now)
{
	int i, fd;

	if ((i = next_permitted(s, r, why)) == -1)
		return;
	r->tried++;
	r->next_at = now + ATTEMPT_DELAY_MS;
	if ((fd = connect_start(&r->addrs[i])) == -1) {
		failed(r, i, errno);
		return;
	}
	r->fds[r->flying] = (struct pollfd){ .fd = fd, .events = POLLOUT };
	r->of[r->flying++] = i;
}

/* The winner fds[k]: every other attempt closed; its socket. */
static int
win(struct race *r, int k)
{
	int fd = r->fds[k].fd;

	r->named = r->of[k];
	for (int j = r->flying - 1; j >= 0; j--)
		if (j != k)
			close(r->fds[j].fd);
	r->flying = 0;
	return fd;
}

/*
 * Poll the attempts in flight until one is done or until: the socket of
 * the first to connect (the oldest, if several did), else -1.
 */
static int
await(struct race *r, long long until)
{
	long long left = until - now_ms();
	int k, err;
	socklen_t len = sizeof err;

	k = poll(r->fds, (nfds_t)r->flying, left <= 0 ? 0 :
	    left > INT_MAX ? INT_MAX : (int)left);
	if (k == -1 && errno != EINTR)
		give_up(r, errno);
	if (k <= 0)
		return -1;	/* on time, or EINTR: the caller looks again */
	for (k = 0; k < r->flying; k++) {
		if (r->fds[k].revents == 0)
			continue;
		if (getsockopt(r->fds[k].fd, SOL_SOCKET, SO_ERROR, &err,
		    &len) == -1)
			err = errno;
		if (err == 0)
			return win(r, k);
		failed(r, r->of[k], err);
		drop(r, k--);
	}
	return -1;
}

/*
 * Attempts begun one after another, the next ATTEMPT_DELAY_MS after the
 * last began or as soon as one fails, until one connects (its socket),
 * all have failed or the deadline passed (-1).  Those in flight are
 * polled before each new one begins: none begins once one has connected.
 * The first begins even past the deadline, to fail with ETIMEDOUT as a
 * lone attempt always has.
 */
static int
race(struct session *s, struct race *r, struct text *why)
{
	long long now;
	int fd;

	for (;;) {
		if (r->flying > 0 && (fd = await(r, r->next < r->n &&
		    r->next_at < r->deadline ? r->next_at : r->deadline)) != -1)
			return fd;
		now = now_ms();
		if (r->next < r->n && now >= r->next_at &&
		    (now < r->deadline || r->tried == 0))
			start_next(s, r, why, now);
		else if (r->flying == 0)
			return -1;
		else if (now >= r->deadline)
			break;
	}
	give_up(r, ETIMEDOUT);
	return -1;
}

/*
 * CONNECT: the addresses the firewall permits raced (race() above) within
 * what the lookup left of the deadline.  A denied address is never
 * touched; the record names the address that connected, the one whose
 * failure the refusal gives, or, none permitted, the first.
 */
int
do_connect(struct session *s)
{
	struct sockaddr_storage addrs[ADDRS_MAX];
	char rule[REASON_MAX] = "no address to connect to";
	struct text why = TEXT(rule);
	struct race r = { .addrs = addrs };
	int fd;

	/* A name is looked up only for a client some rule could permit. */
	if (s->req.host[0] != '\0')
		require_rule_for(s, SOCKS_CONNECT);
	/* -C bounds the name lookup and the connects together. */
	r.deadline = now_ms() + s->opt->connect_timeout * 1000LL;
	r.n = resolve(s, addrs, r.deadline);
	interleave(addrs, r.n);
	fd = race(s, &r, &why);
	s->dst = addrs[r.named];
	if (r.tried == 0)
		reject(s, SOCKS5_NOT_ALLOWED, rule, NULL);
	if (fd == -1)
		reject_connect_error(s, r.err);
	grant_connect(s, fd);
	return fd;
}
