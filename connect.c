/*
 * connect.c - CONNECT: each address of the destination that socks.conf
 * permits is tried in turn, the first to answer is granted, and why the
 * last failed is the refusal otherwise.
 * SPDX-License-Identifier: ISC
 */
#define _GNU_SOURCE
#include <sys/socket.h>
#include <netinet/in.h>
#include <errno.h>
#include <string.h>

#include "addr.h"
#include "clock.h"
#include "session.h"
#include "socks.h"
#include "text.h"

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
 * CONNECT: each address the firewall permits is tried in order, each
 * with a fair share of what is left of the deadline.  A denied address is
 * never touched, and the record names the last address tried.
 */
int
do_connect(struct session *s)
{
	struct sockaddr_storage addrs[ADDRS_MAX];
	char rule[REASON_MAX] = "no address to connect to";
	struct text why = TEXT(rule);
	long long deadline, now;
	int n, i, fd, tried = 0, err = 0;

	/* A name is looked up only for a client some rule could permit. */
	if (s->req.host[0] != '\0')
		require_rule_for(s, SOCKS_CONNECT);
	/* -C bounds the name lookup and the connects together. */
	deadline = now_ms() + s->opt->connect_timeout * 1000LL;
	n = resolve(s, addrs, deadline);
	for (i = 0; i < n; i++) {
		if (is_socks4d_itself(s, &addrs[i]))
			reject(s, SOCKS5_NOT_ALLOWED,
			    "destination is socks4d itself", NULL);
		if (!rules_permit(s, SOCKS_CONNECT, &addrs[i], &why))
			continue;
		tried++;
		s->dst = addrs[i];
		now = now_ms();
		fd = connect_within(&addrs[i],
		    now + (deadline - now) / (n - i));
		if (fd != -1) {
			grant_connect(s, fd);
			return fd;
		}
		err = errno;
	}
	if (tried == 0)
		reject(s, SOCKS5_NOT_ALLOWED, rule, NULL);
	reject_connect_error(s, err);
}
