/*
 * libFuzzer target for the SOCKS5 parsers and builders (socks5.c).  The
 * first byte picks a message (greeting, login, request, UDP header, a whole
 * negotiation, or a built reply); the rest is what a client sent, fed as
 * a session reads it: one growing prefix at a time, each in a buffer of its
 * own so that ASan sees any read past the bytes so far.
 * SPDX-License-Identifier: ISC
 */
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>

#include "../socks.h"
#include "../socks5.h"

int LLVMFuzzerTestOneInput(const uint8_t *, size_t);

static void
check(int ok)
{
	if (!ok)
		abort();
}

enum message { GREETING, LOGIN, REQUEST, UDP, NEGOTIATION, BUILT, MESSAGES };

union parsed {
	struct socks5_greeting	 greeting;
	struct socks5_login	 login;
	struct socks5_request	 request;
	struct socks5_udp	 udp;
};

static int
parse(enum message m, const uint8_t *buf, size_t len, union parsed *p,
    const char **why)
{
	switch (m) {
	case GREETING:
		return socks5_parse_greeting(buf, len, &p->greeting, why);
	case LOGIN:
		return socks5_parse_login(buf, len, &p->login, why);
	case REQUEST:
		return socks5_parse_request(buf, len, &p->request, why);
	default:
		return socks5_parse_udp(buf, len, &p->udp, why);
	}
}

static size_t
consumed(enum message m, const union parsed *p)
{
	switch (m) {
	case GREETING:
		return p->greeting.len;
	case LOGIN:
		return p->login.len;
	case REQUEST:
		return p->request.len;
	default:
		return p->udp.len;
	}
}

static size_t
longest(enum message m)
{
	switch (m) {
	case GREETING:
		return SOCKS5_GREETING_MAX;
	case LOGIN:
		return SOCKS5_LOGIN_MAX;
	case REQUEST:
		return SOCKS5_REQUEST_MAX;
	default:
		return SOCKS5_UDP_HEADER_MAX;
	}
}

static void
check_addr(const struct socks5_addr *a, const uint8_t *wire, size_t n)
{
	size_t name_len;

	check(wire[0] == a->atyp);
	switch (a->atyp) {
	case SOCKS5_ATYP_IPV4:
		check(n == 1 + 4 + 2 && memcmp(a->ip, wire + 1, 4) == 0);
		break;
	case SOCKS5_ATYP_IPV6:
		check(n == 1 + 16 + 2 && memcmp(a->ip, wire + 1, 16) == 0);
		break;
	case SOCKS5_ATYP_NAME:
		name_len = strlen(a->name);
		check(name_len >= 1 && name_len <= SOCKS5_NAME_MAX);
		check(name_len == wire[1] && n == 1 + 1 + name_len + 2);
		check(memcmp(a->name, wire + 2, name_len) == 0);
		for (size_t i = 0; i < name_len; i++)
			check(a->name[i] > ' ' && a->name[i] < 0x7f);
		break;
	default:
		check(0);
	}
	check(a->port == (wire[n - 2] << 8 | wire[n - 1]));
}

/* What a complete message must be, given the bytes it came from. */
static void
check_complete(enum message m, const union parsed *p, const uint8_t *buf)
{
	int method;

	switch (m) {
	case GREETING:
		check(p->greeting.nmethods >= 1 && p->greeting.nmethods <= 255);
		check(p->greeting.len == 2 + p->greeting.nmethods);
		for (int users = 0; users < 2; users++) {
			method = socks5_choose_method(&p->greeting, users);
			check(method == SOCKS5_AUTH_NO_METHOD ||
			    memchr(buf + 2, method,
			    p->greeting.nmethods) != NULL);
			check(method != SOCKS5_AUTH_PASSWORD || users);
		}
		break;
	case LOGIN:
		check(p->login.name_len >= 1 && p->login.name_len <= 255);
		check(p->login.password_len >= 1 &&
		    p->login.password_len <= 255);
		check(p->login.len ==
		    3 + p->login.name_len + p->login.password_len);
		check(p->login.name[p->login.name_len] == '\0');
		check(p->login.password[p->login.password_len] == '\0');
		check(memcmp(p->login.name, buf + 2, p->login.name_len) == 0);
		break;
	case REQUEST:
		check(p->request.cmd >= SOCKS_CONNECT &&
		    p->request.cmd <= SOCKS_UDP_ASSOCIATE);
		check_addr(&p->request.dst, buf + 3, p->request.len - 3);
		break;
	default:
		check(p->udp.frag == buf[2]);
		check_addr(&p->udp.dst, buf + 3, p->udp.len - 3);
		break;
	}
}

/*
 * Feeds data[0..size) one growing prefix at a time, as read_request() would:
 * the bytes consumed when the message is complete, 0 when it is not (need
 * more or malformed).
 */
static size_t
feed(enum message m, const uint8_t *data, size_t size)
{
	union parsed p, whole;
	const char *why;
	uint8_t *buf;
	size_t len;
	int r = 0;

	for (len = 1; len <= size && r == 0; len++) {
		if ((buf = malloc(len)) == NULL)
			abort();
		memcpy(buf, data, len);
		memset(&p, 0xa5, sizeof p);
		why = NULL;
		r = parse(m, buf, len, &p, &why);
		check(r >= -1 && r <= 1);
		if (r == -1)
			check(why != NULL && why[0] != '\0');
		if (r == -1 && m == REQUEST)
			check(p.request.reply == SOCKS5_GENERAL_FAILURE ||
			    p.request.reply == SOCKS5_CMD_UNSUPPORTED ||
			    p.request.reply == SOCKS5_ATYP_UNSUPPORTED);
		/* Complete on its last byte: nothing past it was needed. */
		if (r == 1) {
			check(consumed(m, &p) == len);
			check_complete(m, &p, buf);
		}
		free(buf);
	}
	/* No message needs more bytes than its largest form. */
	if (r == 0)
		check(size < longest(m));
	if (r == 0 || size == 0)
		return 0;
	/* Bytes pipelined behind a message do not change how it parses. */
	check(parse(m, data, size, &whole, &why) == r);
	if (r == 1)
		check(consumed(m, &whole) == consumed(m, &p));
	return r == 1 ? consumed(m, &p) : 0;
}

/* A whole negotiation from one buffer: greeting, login, request, data. */
static void
negotiate(const uint8_t *data, size_t size)
{
	size_t off = 0, n;

	if ((n = feed(GREETING, data, size)) == 0)
		return;
	off += n;
	if ((n = feed(LOGIN, data + off, size - off)) == 0)
		return;
	off += n;
	if ((n = feed(REQUEST, data + off, size - off)) == 0)
		return;
	check(off + n <= size);
}

/* A reply and a UDP header built from an address parse back to it. */
static void
built(const uint8_t *data, size_t size)
{
	struct sockaddr_storage ss;
	struct sockaddr_in *sin = (struct sockaddr_in *)&ss;
	struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)&ss;
	uint8_t out[SOCKS5_REPLY_MAX], again[SOCKS5_REPLY_MAX], b[19] = { 0 };
	struct socks5_udp u;
	const char *why;
	size_t n;
	int mapped;

	memcpy(b, data, size < sizeof b ? size : sizeof b);
	memset(&ss, 0, sizeof ss);
	if (b[0] & 1) {
		sin6->sin6_family = AF_INET6;
		memcpy(&sin6->sin6_addr, b + 1, 16);
		if (b[0] & 2)
			memcpy(sin6->sin6_addr.s6_addr,
			    "\0\0\0\0\0\0\0\0\0\0\xff\xff", 12);
		sin6->sin6_port = htons((uint16_t)(b[17] << 8 | b[18]));
	} else {
		sin->sin_family = AF_INET;
		memcpy(&sin->sin_addr, b + 1, 4);
		sin->sin_port = htons((uint16_t)(b[17] << 8 | b[18]));
	}
	mapped = (b[0] & 1) && IN6_IS_ADDR_V4MAPPED(&sin6->sin6_addr);

	n = socks5_reply(out, b[0] >> 2, (struct sockaddr *)&ss);
	check(n == ((b[0] & 1) && !mapped ? 22 : 10));
	check(out[0] == SOCKS5_VERSION && out[1] == b[0] >> 2 && out[2] == 0);

	n = socks5_udp_header(out, (struct sockaddr *)&ss);
	check(socks5_parse_udp(out, n, &u, &why) == 1);
	check(u.len == n && u.frag == 0);
	check(u.dst.port == (b[17] << 8 | b[18]));
	if (mapped)
		check(u.dst.atyp == SOCKS5_ATYP_IPV4 &&
		    memcmp(u.dst.ip, b + 13, 4) == 0);
	else if (b[0] & 1)
		check(u.dst.atyp == SOCKS5_ATYP_IPV6 &&
		    memcmp(u.dst.ip, b + 1, 16) == 0);
	else
		check(u.dst.atyp == SOCKS5_ATYP_IPV4 &&
		    memcmp(u.dst.ip, b + 1, 4) == 0);
	check(socks5_sockaddr(&u.dst, &ss) > 0);
	check(socks5_udp_header(again, (struct sockaddr *)&ss) == n);
	check(memcmp(again, out, n) == 0);

	/* No address at all: 0.0.0.0 port 0. */
	check(socks5_reply(out, 0, NULL) == 10);
	check(memcmp(out, "\x05\0\0\x01\0\0\0\0\0\0", 10) == 0);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	enum message m;

	if (size < 1)
		return 0;
	m = (enum message)(data[0] % MESSAGES);
	if (size > 2048)
		size = 2048;
	data++;
	size--;
	if (m == NEGOTIATION)
		negotiate(data, size);
	else if (m == BUILT)
		built(data, size);
	else
		feed(m, data, size);
	return 0;
}
