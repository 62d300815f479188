/*
 * proxied.c - the PROXY protocol from a balancer in front: the senders -P
 * names, and the header read from one before its client's request.
 *
 * The client the header names becomes the session's source (s->src) for
 * everything after: the rules' "from", the record, the SOCKS5 UDP relay's
 * check of where datagrams come from.  The balancer is kept in s->via for
 * the record.  The destination the header carries (where the client
 * reached the balancer) is not used: BIND and UDP sockets are on this
 * host, and their replies name its own address.
 *
 * Only a named sender is asked for a header, and it must send one: from
 * anyone else a header is not SOCKS, and from a balancer a connection
 * without one has no client that could be judged.
 * SPDX-License-Identifier: ISC
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <string.h>

#include "addr.h"
#include "clock.h"
#include "number.h"
#include "proxy_header.h"
#include "session.h"
#include "socks.h"
#include "socks4.h"
#include "socks5.h"
#include "text.h"

/*
 * -P ADDR[/BITS]: a sender whose connections start with a PROXY header.
 * A mapped IPv6 address names its IPv4 one, as socks.conf reads it.  -1,
 * why saying what is wrong with arg.
 */
int
balancer_option(struct options *o, const char *arg, struct text *why)
{
	struct balancer *b = &o->balancer[o->nbalancers];
	const char *slash = strchr(arg, '/');
	size_t n = slash != NULL ? (size_t)(slash - arg) : strlen(arg);
	char text[INET6_ADDRSTRLEN];
	struct sockaddr_storage ss;
	const uint8_t *a;
	long bits;

	if (o->nbalancers == BALANCERS_MAX) {
		add(why, "is one balancer too many (at most "
		    XSTR(BALANCERS_MAX) ")");
		return -1;
	}
	if (n < sizeof text) {
		memcpy(text, arg, n);
		text[n] = '\0';
	}
	if (n >= sizeof text || address_of(text, 0, &ss) == -1) {
		add(why, "is not ADDR[/BITS], ADDR an IPv4 or IPv6 address");
		return -1;
	}
	bits = ss.ss_family == AF_INET ? 32 : 128;
	if (slash != NULL && (bits = number(slash + 1, bits)) == -1) {
		add(why, ss.ss_family == AF_INET ?
		    "is not ADDR/BITS with BITS in 0..32" :
		    "is not ADDR/BITS with BITS in 0..128");
		return -1;
	}
	a = addr_bytes(&ss, &b->family);
	if (b->family != ss.ss_family && (bits -= 96) < 0) {
		add(why, "is a mapped IPv4 address with BITS under 96");
		return -1;
	}
	memcpy(b->addr, a, b->family == AF_INET ? 4 : 16);
	b->bits = (int)bits;
	o->nbalancers++;
	return 0;
}

/* Whether the first bits of a and prefix are the same. */
static int
in_prefix(const uint8_t *a, const uint8_t *prefix, int bits)
{
	for (; bits >= 8; bits -= 8)
		if (*a++ != *prefix++)
			return 0;
	return bits == 0 || ((*a ^ *prefix) & (0xff00 >> bits) & 0xff) == 0;
}

/* Whether -P names ss (a mapped address as its IPv4 one). */
static int
is_balancer(const struct options *o, const struct sockaddr_storage *ss)
{
	int family;
	const uint8_t *a = addr_bytes(ss, &family);

	for (int i = 0; a != NULL && i < o->nbalancers; i++)
		if (o->balancer[i].family == family &&
		    in_prefix(a, o->balancer[i].addr, o->balancer[i].bits))
			return 1;
	return 0;
}

/* read_or_abandon() for the balancer's PROXY header. */
static void
read_header(struct session *s, size_t *len, long long deadline)
{
	read_or_abandon(s, len, PROXY_HEADER_MAX, deadline, "balancer",
	    "PROXY header");
}

/*
 * Whether the first byte is SOCKS's: then the protocol is known, and so
 * the refusal it is owed (a SOCKS5 greeting's is 05 FF).
 */
static int
speaks_socks(struct session *s)
{
	if (s->head[0] != SOCKS4_VERSION && s->head[0] != SOCKS5_VERSION)
		return 0;
	s->protocol = s->head[0];
	s->phase = s->protocol == SOCKS4_VERSION ? PHASE_REQUEST : PHASE_HELLO;
	return 1;
}

/* From a balancer, a connection without a header: its client is unknown. */
static NORETURN void
refuse_unproxied(struct session *s)
{
	static const char why[] = "no PROXY header from this balancer, which "
	    "-P says sends one";

	if (speaks_socks(s))
		reject(s, SOCKS5_NOT_ALLOWED, why, NULL);
	abandon(s, why, NULL);
}

/*
 * A balancer's health check (a v2 LOCAL header, v1 UNKNOWN): the request
 * behind it, if any, is read as a client's is, and refused in its
 * protocol, the greeting of a SOCKS5 one; nothing is looked up or
 * relayed, and nothing is logged: checks every few seconds would bury the
 * records.
 */
static NORETURN void
answer_health_check(struct session *s, size_t len, long long deadline)
{
	struct socks5_greeting g;
	const char *why;
	int r = 0;

	while (r == 0) {
		if (len > 0 && s->head[0] == SOCKS5_VERSION)
			r = socks5_parse_greeting(s->head, len, &g, &why);
		else if (len > 0)
			r = socks4_parse(s->head, len, &s->req, &why);
		if (r == 0 && read_some(s, &len, SOCKS4_REQUEST_MAX,
		    deadline) != 1)
			finish(s, END_HEALTH_CHECK);
	}
	if (speaks_socks(s))
		reply_refusal(s, SOCKS5_NOT_ALLOWED);
	finish(s, END_HEALTH_CHECK);
}

/*
 * From a sender -P names, the PROXY header, within the request's
 * deadline: its client becomes the session's; the bytes after it stay in
 * head, the start of the request (read_request() goes on from them).
 */
void
read_proxy_header(struct session *s)
{
	long long deadline = ms_of(&s->start) +
	    s->opt->request_timeout * 1000LL;
	struct proxy_header h;
	const char *why = NULL;
	size_t len = 0;
	int r = 0;

	if (!is_balancer(s->opt, &s->src))
		return;
	while (r == 0) {
		read_header(s, &len, deadline);
		r = proxy_header_parse(s->head, len, &h, &why);
	}
	if (r == -1 && !proxy_header_starts(s->head, len))
		refuse_unproxied(s);
	if (r == -1)
		abandon(s, why, NULL);
	s->head_len = len - h.len;
	memmove(s->head, s->head + h.len, s->head_len);
	if (h.command == PROXY_LOCAL)
		answer_health_check(s, s->head_len, deadline);
	s->via = s->src;
	s->src = h.src;
}
