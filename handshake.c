/*
 * handshake.c - from the first byte to a parsed request: SOCKS4 and 4a's
 * one message, SOCKS5's greeting, login and request, or an HTTP CONNECT
 * and its login.  The first byte tells them apart.  Nothing is decided
 * here but whether the messages are well formed and the login passes.
 * SPDX-License-Identifier: ISC
 */
#define _GNU_SOURCE
#include <netinet/in.h>
#include <errno.h>
#include <poll.h>
#include <string.h>
#include <unistd.h>

#include "clock.h"
#include "http_connect.h"
#include "proxy_header.h"
#include "session.h"
#include "sha512crypt.h"
#include "socks.h"
#include "socks4.h"
#include "socks5.h"
#include "text.h"

/*
 * Read what the client (or its balancer, proxied.c) has sent so far into
 * head, up to max bytes in all: 1 when some came, 0 when the deadline
 * passed, -1 when the sender closed (errno 0) or reading failed.
 */
int
read_some(struct session *s, size_t *len, size_t max, long long deadline)
{
	ssize_t n;

	for (;;) {
		if (wait_fd(s->in, POLLIN, deadline) != 1)
			return 0;
		n = read(s->in, s->head + *len, max - *len);
		if (n > 0) {
			*len += (size_t)n;
			return 1;
		}
		if (n == 0)
			errno = 0;
		if (n == 0 || (errno != EINTR && errno != EAGAIN))
			return -1;
	}
}

/*
 * The same, the session abandoned when no more of what (the request, a
 * PROXY header) comes from who (the client, its balancer).
 */
void
read_or_abandon(struct session *s, size_t *len, size_t max,
    long long deadline, const char *who, const char *what)
{
	char why[96];
	struct text t = TEXT(why);
	int r = read_some(s, len, max, deadline);

	if (r == 1)
		return;
	if (r == 0) {
		add(&t, "no complete ");
		add(&t, what);
		add(&t, " within ");
		add_num(&t, (unsigned long long)s->opt->request_timeout, 1);
		add(&t, " s");
	} else if (errno == 0) {
		add(&t, who);
		add(&t, " closed before a complete ");
		add(&t, what);
	} else {
		add(&t, what);
		add(&t, " read: ");
		add(&t, strerror(errno));
	}
	abandon(s, why, NULL);
}

/* read_or_abandon() for the client's request. */
static void
read_more(struct session *s, size_t *len, size_t max, long long deadline)
{
	read_or_abandon(s, len, max, deadline, "client", "request");
}

/* SOCKS5's greeting: the method chosen is answered, or none is. */
static size_t
greet5(struct session *s, size_t *len, long long deadline)
{
	uint8_t method[2] = { SOCKS5_VERSION, 0 };
	struct socks5_greeting g;
	const char *why = NULL;
	int rc;

	while ((rc = socks5_parse_greeting(s->head, *len, &g, &why)) == 0)
		read_more(s, len, sizeof s->head, deadline);
	s->head_len = *len;
	if (rc == -1)
		reject(s, SOCKS5_NOT_ALLOWED, why, NULL);
	method[1] = (uint8_t)socks5_choose_method(&g, s->users.present);
	if (method[1] == SOCKS5_AUTH_NO_METHOD)
		reject(s, SOCKS5_NOT_ALLOWED, "no acceptable method", NULL);
	reply_send(s, method, sizeof method);
	if (method[1] == SOCKS5_AUTH_PASSWORD)
		s->phase = PHASE_LOGIN;
	return g.len;
}

/* RFC 1929's login at off: the bytes it took, or the client turned down. */
static size_t
login5(struct session *s, size_t off, size_t *len, long long deadline)
{
	static const uint8_t login_ok[2] = { SOCKS5_PASSWORD_VERSION, 0 };
	struct socks5_login l;
	const char *why = NULL;
	int rc;

	while ((rc = socks5_parse_login(s->head + off, *len - off, &l,
	    &why)) == 0)
		read_more(s, len, sizeof s->head, deadline);
	s->head_len = *len;
	if (rc == -1)
		reject(s, SOCKS5_NOT_ALLOWED, why, NULL);
	/* The password is read once, and leaves no copy behind. */
	memset(s->head + off, 0, l.len);
	check_login(s, &l);
	reply_send(s, login_ok, sizeof login_ok);
	return l.len;
}

/*
 * SOCKS5 from the greeting to the request.  The client may send it all at
 * once: each message is parsed where the one before it ended.
 */
static void
negotiate5(struct session *s, size_t len, long long deadline)
{
	struct socks5_request r;
	const char *why = NULL;
	size_t off;
	int rc;

	s->req.version = SOCKS5_VERSION;
	off = greet5(s, &len, deadline);
	if (s->phase == PHASE_LOGIN)
		off += login5(s, off, &len, deadline);
	s->phase = PHASE_REQUEST;
	while ((rc = socks5_parse_request(s->head + off, len - off, &r,
	    &why)) == 0)
		read_more(s, &len, sizeof s->head, deadline);
	s->head_len = len;
	if (rc == -1)
		reject(s, r.reply, why, NULL);
	s->req.cmd = r.cmd;
	s->req.port = r.dst.port;
	socks5_sockaddr(&r.dst, &s->req.addr);
	if (r.dst.atyp == SOCKS5_ATYP_IPV4)
		memcpy(s->req.ip4, r.dst.ip, 4);
	memcpy(s->req.host, r.dst.name, sizeof s->req.host);
	s->req.len = off + r.len;
}

/*
 * An HTTP CONNECT, its head read whole (HTTP_HEAD_MAX at most), and its
 * Proxy-Authorization checked as a SOCKS5 login is, if logins are on,
 * before the request is taken: a failure is recorded as SOCKS5's are.
 * Without a login, a refused request that a login would let through gets
 * 407 (reply.c).
 */
static void
read_http(struct session *s, size_t len, long long deadline)
{
	struct http_connect h = { .scan = { 0 } };
	const char *why = NULL;
	int rc;

	s->protocol = s->req.version = REQUEST_HTTP;
	s->phase = PHASE_REQUEST;
	while ((rc = http_parse_connect(s->head, len, &h, &why)) == 0)
		read_more(s, &len, HTTP_HEAD_MAX, deadline);
	s->head_len = len;
	if (rc == -1)
		reject(s, h.status, why, NULL);
	/* The credentials are read once, and leave no copy behind. */
	memset(s->head, 0, h.len);
	if (h.auth == HTTP_AUTH_BASIC && s->users.present) {
		s->phase = PHASE_LOGIN;
		check_login(s, &h.login);
		s->phase = PHASE_REQUEST;
	}
	crypt_wipe(&h.login, sizeof h.login);	/* not a dead store */
	s->req.cmd = SOCKS_CONNECT;
	s->req.port = h.port;
	s->req.addr = h.addr;
	if (h.addr.ss_family == AF_INET)
		memcpy(s->req.ip4, &((struct sockaddr_in *)&h.addr)->sin_addr,
		    4);
	memcpy(s->req.host, h.host, sizeof s->req.host);
	s->req.len = h.len;
}

/*
 * Read until the request is complete.  The request has no length field
 * and may come in any number of segments; bytes past it are the client's
 * first data and stay in the buffer for the relay.  Bytes that came
 * behind a PROXY header (proxied.c) are in the buffer already.
 */
void
read_request(struct session *s)
{
	long long deadline = ms_of(&s->start) +
	    s->opt->request_timeout * 1000LL;
	const char *why = NULL;
	size_t len = s->head_len;
	int r;

	if (len == 0)
		read_more(s, &len, SOCKS4_REQUEST_MAX, deadline);
	if (s->head[0] == SOCKS5_VERSION) {
		s->protocol = SOCKS5_VERSION;
		negotiate5(s, len, deadline);
		return;
	}
	if (http_starts(s->head, len)) {
		read_http(s, len, deadline);
		return;
	}
	while ((r = socks4_parse(s->head, len, &s->req, &why)) == 0)
		read_more(s, &len, SOCKS4_REQUEST_MAX, deadline);
	s->head_len = len;
	/* Not SOCKS: no reply it could read. */
	if (r == -1 && s->head[0] != SOCKS4_VERSION)
		abandon(s, len >= PROXY_SIGNATURE_MIN &&
		    proxy_header_starts(s->head, len) ? "not SOCKS but a PROXY "
		    "header, from a sender -P does not name" : why, NULL);
	s->protocol = SOCKS4_VERSION;
	s->phase = PHASE_REQUEST;
	if (r == -1)
		reject(s, SOCKS5_GENERAL_FAILURE, why, NULL);
}
