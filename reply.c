/*
 * reply.c - what a session tells its client before the relay: SOCKS5's
 * answers to the greeting and the login, the reply that grants (and the
 * address a BIND or UDP reply gives: -A's behind NAT), and the refusal.
 * Which refusal a phase owes is decided here and only here: SOCKS4 has
 * one, 91, for every reason; HTTP a status, and a line of text.
 * SPDX-License-Identifier: ISC
 */
#define _GNU_SOURCE
#include <errno.h>
#include <string.h>

#include "addr.h"
#include "http_connect.h"
#include "session.h"
#include "socks.h"
#include "socks4.h"
#include "socks5.h"

/*
 * Write a reply (or SOCKS5's answer to a greeting or a login), or abandon
 * a client that is gone.
 */
void
reply_send(struct session *s, const uint8_t *p, size_t len)
{
	if (write_within(s->out, p, len, s->opt->request_timeout) < len) {
		s->end_errno = errno;
		abandon(s, "client gone before the reply: ", strerror(errno));
	}
}

/*
 * The reply that grants: SOCKS4's 90 with port and ip, SOCKS5's 00 with
 * bnd (a BIND's first reply, too).
 */
void
reply_grant(struct session *s, uint16_t port, const uint8_t ip[4],
    const struct sockaddr_storage *bnd)
{
	uint8_t reply[HTTP_GRANT_LEN > SOCKS5_REPLY_MAX ? HTTP_GRANT_LEN :
	    SOCKS5_REPLY_MAX];
	size_t len = SOCKS4_REPLY_LEN;

	if (s->protocol == REQUEST_HTTP)
		len = http_response(reply, sizeof reply, 200, NULL);
	else if (s->protocol == SOCKS5_VERSION)
		len = socks5_reply(reply, SOCKS5_SUCCEEDED,
		    (const struct sockaddr *)bnd);
	else
		socks4_reply(reply, SOCKS4_GRANTED, port, ip);
	reply_send(s, reply, len);
}

/*
 * BIND's first reply and UDP ASSOCIATE's: where the client reaches our
 * socket, bound.  Behind NAT that is -A's address of bound's family (an
 * IPv4-mapped address is IPv4), at bound's port; without one, bound.
 */
void
reply_bound(struct session *s, const struct sockaddr_storage *bound)
{
	struct sockaddr_storage told = *bound;
	uint8_t ip[4];
	int family;

	if (addr_bytes(bound, &family) != NULL &&
	    s->opt->advertise[family == AF_INET6].ss_family != AF_UNSPEC) {
		told = s->opt->advertise[family == AF_INET6];
		set_port(&told, port_of(bound));
	}
	ipv4_of(&told, ip);
	reply_grant(s, port_of(&told), ip, &told);
}

/*
 * An HTTP client's refusal: the status for rep (a SOCKS5 REP code, or an
 * HTTP status from the parser), and a line that says why without telling
 * a stranger which rule of socks.conf said no.  A client that gave no
 * login is asked for one (407) where a login would change the answer.
 */
static size_t
http_refusal(struct session *s, int rep, uint8_t *out, size_t size)
{
	int status = rep >= 100 ? rep : rep == SOCKS5_NOT_ALLOWED ? 403 :
	    rep == SOCKS5_TTL_EXPIRED ? 504 : 502;
	const char *body = s->reason;

	if (s->phase == PHASE_LOGIN || (status == 403 && s->login == NULL &&
	    s->users.present && rules_want_login(s))) {
		status = 407;
		body = s->phase == PHASE_LOGIN ? "socks4d: login failed" :
		    "socks4d: this request needs a login";
	} else if (status == 403)
		body = "socks4d: not permitted here";
	else if (rep == SOCKS5_GENERAL_FAILURE)
		body = "socks4d: the request failed";
	return http_response(out, size, status, body);
}

/*
 * The refusal this phase owes, with rep (a SOCKS5 REP code) where the
 * protocol has room for a reason: a request's refusal in SOCKS5 or HTTP.
 * Written once, as well as it can be: the client may be gone.
 */
void
reply_refusal(struct session *s, int rep)
{
	static const uint8_t no_method[2] = {
		SOCKS5_VERSION, SOCKS5_AUTH_NO_METHOD };
	static const uint8_t login_failed[2] = { SOCKS5_PASSWORD_VERSION, 1 };
	uint8_t reply[HTTP_RESPONSE_MAX];
	const uint8_t *p = reply;
	size_t len;

	if (s->phase >= PHASE_GRANTED || s->protocol == 0)
		return;
	if (s->protocol == REQUEST_HTTP)
		len = http_refusal(s, rep, reply, sizeof reply);
	else if (s->protocol == SOCKS4_VERSION) {
		socks4_reply(reply, SOCKS4_REJECTED, s->req.port, s->req.ip4);
		len = SOCKS4_REPLY_LEN;
	} else if (s->phase == PHASE_HELLO) {
		p = no_method;
		len = sizeof no_method;
	} else if (s->phase == PHASE_LOGIN) {
		p = login_failed;
		len = sizeof login_failed;
	} else
		len = socks5_reply(reply, rep, NULL);
	write_within(s->out, p, len, s->opt->request_timeout);
}
