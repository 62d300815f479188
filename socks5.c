/*
 * SOCKS5 messages: pure parsers over "the bytes so far" and builders.
 * RFC 1928 (SOCKS Protocol Version 5), RFC 1929 (Username/Password).
 * Fields are checked in wire order as soon as their bytes are there, so
 * a bad byte is answered at once rather than after the rest arrives.
 * SPDX-License-Identifier: ISC
 */
#include <netinet/in.h>
#include <string.h>

#include "socks.h"
#include "socks5.h"

static int
malformed(const char **why, const char *reason)
{
	*why = reason;
	return -1;
}

/*
 * The bytes of a name go into logs, records and getaddrinfo(): no control
 * bytes, blanks or bytes past ASCII, as for a SOCKS4a hostname.
 */
static int
name_byte_ok(uint8_t c)
{
	return c > ' ' && c < 0x7f;
}

static uint16_t
get_port(const uint8_t *p)
{
	return (uint16_t)(p[0] << 8 | p[1]);
}

static void
put_port(uint8_t *p, uint16_t port)
{
	p[0] = port >> 8;
	p[1] = port & 0xff;
}

/*
 * ATYP, address and port, as in a request and a UDP header: -1 malformed
 * (*reply is the REP it calls for), 0 need more, else the bytes it took.
 */
static int
parse_addr(const uint8_t *p, size_t len, struct socks5_addr *a,
    const char **why, int *reply)
{
	size_t n, i;

	if (len < 1)
		return 0;
	switch (p[0]) {
	case SOCKS5_ATYP_IPV4:
		n = 4;
		break;
	case SOCKS5_ATYP_IPV6:
		n = 16;
		break;
	case SOCKS5_ATYP_NAME:
		if (len < 2)
			return 0;
		if (p[1] == 0)
			return malformed(why, "empty name");
		n = 1 + (size_t)p[1];
		for (i = 2; i < len && i < 1 + n; i++)
			if (!name_byte_ok(p[i]))
				return malformed(why, "name has control, "
				    "blank or non-ASCII bytes");
		break;
	default:
		*reply = SOCKS5_ATYP_UNSUPPORTED;
		return malformed(why, "address type is not 1, 3 or 4");
	}
	if (len < 1 + n + 2)
		return 0;
	a->atyp = p[0];
	if (a->atyp == SOCKS5_ATYP_NAME) {
		memcpy(a->name, p + 2, n - 1);
		a->name[n - 1] = '\0';
	} else {
		memcpy(a->ip, p + 1, n);
		a->name[0] = '\0';
	}
	a->port = get_port(p + 1 + n);
	return (int)(1 + n + 2);
}

/* VER NMETHODS METHODS */
int
socks5_parse_greeting(const uint8_t *buf, size_t len, struct socks5_greeting *g,
    const char **why)
{
	if (len >= 1 && buf[0] != SOCKS5_VERSION)
		return malformed(why, "version is not 5");
	if (len >= 2 && buf[1] == 0)
		return malformed(why, "no authentication methods offered");
	if (len < 2 || len < 2 + (size_t)buf[1])
		return 0;
	g->nmethods = buf[1];
	memcpy(g->methods, buf + 2, g->nmethods);
	g->len = 2 + g->nmethods;
	return 1;
}

/* RFC 1929: VER ULEN UNAME PLEN PASSWD */
int
socks5_parse_login(const uint8_t *buf, size_t len, struct socks5_login *l,
    const char **why)
{
	size_t ulen, plen;

	if (len >= 1 && buf[0] != SOCKS5_PASSWORD_VERSION)
		return malformed(why, "login version is not 1");
	if (len >= 2 && buf[1] == 0)
		return malformed(why, "empty user name");
	if (len < 2)
		return 0;
	ulen = buf[1];
	if (len >= 3 + ulen && buf[2 + ulen] == 0)
		return malformed(why, "empty password");
	if (len < 3 + ulen)
		return 0;
	plen = buf[2 + ulen];
	if (len < 3 + ulen + plen)
		return 0;
	memcpy(l->name, buf + 2, ulen);
	l->name[ulen] = '\0';
	l->name_len = ulen;
	memcpy(l->password, buf + 3 + ulen, plen);
	l->password[plen] = '\0';
	l->password_len = plen;
	l->len = 3 + ulen + plen;
	return 1;
}

/* VER CMD RSV ATYP DST.ADDR DST.PORT */
int
socks5_parse_request(const uint8_t *buf, size_t len, struct socks5_request *req,
    const char **why)
{
	int n;

	req->reply = SOCKS5_GENERAL_FAILURE;
	if (len >= 1 && buf[0] != SOCKS5_VERSION)
		return malformed(why, "version is not 5");
	if (len >= 2 && buf[1] != SOCKS_CONNECT && buf[1] != SOCKS_BIND &&
	    buf[1] != SOCKS_UDP_ASSOCIATE) {
		req->reply = SOCKS5_CMD_UNSUPPORTED;
		return malformed(why,
		    "command is not CONNECT, BIND or UDP ASSOCIATE");
	}
	if (len >= 3 && buf[2] != 0)
		return malformed(why, "reserved byte is not 0");
	if (len < 4)
		return 0;
	n = parse_addr(buf + 3, len - 3, &req->dst, why, &req->reply);
	if (n <= 0)
		return n;
	req->cmd = buf[1];
	req->len = 3 + (size_t)n;
	return 1;
}

/*
 * RSV RSV FRAG ATYP DST.ADDR DST.PORT DATA.  A datagram comes whole, so
 * 0 (need more) means it is too short to be one.
 */
int
socks5_parse_udp(const uint8_t *buf, size_t len, struct socks5_udp *u,
    const char **why)
{
	int n, reply;

	if ((len >= 1 && buf[0] != 0) || (len >= 2 && buf[1] != 0))
		return malformed(why, "reserved bytes are not 0");
	if (len < 3)
		return 0;
	if ((n = parse_addr(buf + 3, len - 3, &u->dst, why, &reply)) <= 0)
		return n;
	u->frag = buf[2];
	u->len = 3 + (size_t)n;
	return 1;
}

/*
 * The METHOD to answer: username/password when there is a users file to
 * check it against and the client offers it, else none if offered, else
 * "no acceptable method".
 */
int
socks5_choose_method(const struct socks5_greeting *g, int have_users)
{
	int none = 0, password = 0;

	for (size_t i = 0; i < g->nmethods; i++) {
		if (g->methods[i] == SOCKS5_AUTH_NONE)
			none = 1;
		else if (g->methods[i] == SOCKS5_AUTH_PASSWORD)
			password = 1;
	}
	if (have_users && password)
		return SOCKS5_AUTH_PASSWORD;
	if (none)
		return SOCKS5_AUTH_NONE;
	return SOCKS5_AUTH_NO_METHOD;
}

/*
 * ATYP, address and port of sa into out; an IPv4-mapped IPv6 address goes
 * out as the IPv4 address it is, and no address at all as 0.0.0.0 port 0.
 */
static size_t
put_addr(uint8_t *out, const struct sockaddr *sa)
{
	struct sockaddr_in sin;
	struct sockaddr_in6 sin6;

	if (sa != NULL && sa->sa_family == AF_INET6) {
		memcpy(&sin6, sa, sizeof sin6);
		if (!IN6_IS_ADDR_V4MAPPED(&sin6.sin6_addr)) {
			out[0] = SOCKS5_ATYP_IPV6;
			memcpy(out + 1, &sin6.sin6_addr, 16);
			put_port(out + 17, ntohs(sin6.sin6_port));
			return 19;
		}
		out[0] = SOCKS5_ATYP_IPV4;
		memcpy(out + 1, sin6.sin6_addr.s6_addr + 12, 4);
		put_port(out + 5, ntohs(sin6.sin6_port));
		return 7;
	}
	out[0] = SOCKS5_ATYP_IPV4;
	if (sa != NULL && sa->sa_family == AF_INET) {
		memcpy(&sin, sa, sizeof sin);
		memcpy(out + 1, &sin.sin_addr, 4);
		put_port(out + 5, ntohs(sin.sin_port));
	} else
		memset(out + 1, 0, 6);
	return 7;
}

/* VER REP RSV ATYP BND.ADDR BND.PORT into out (SOCKS5_REPLY_MAX bytes). */
size_t
socks5_reply(uint8_t *out, int rep, const struct sockaddr *bnd)
{
	out[0] = SOCKS5_VERSION;
	out[1] = (uint8_t)rep;
	out[2] = 0;
	return 3 + put_addr(out + 3, bnd);
}

/* The header of a datagram to the client, from where its data came. */
size_t
socks5_udp_header(uint8_t *out, const struct sockaddr *from)
{
	out[0] = 0;
	out[1] = 0;
	out[2] = 0;
	return 3 + put_addr(out + 3, from);
}

/* An IPv4 or IPv6 address as a socket address: its length; 0 for a name. */
int
socks5_sockaddr(const struct socks5_addr *a, struct sockaddr_storage *ss)
{
	struct sockaddr_in *sin = (struct sockaddr_in *)ss;
	struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)ss;

	memset(ss, 0, sizeof *ss);
	switch (a->atyp) {
	case SOCKS5_ATYP_IPV4:
		sin->sin_family = AF_INET;
		sin->sin_port = htons(a->port);
		memcpy(&sin->sin_addr, a->ip, 4);
		return sizeof *sin;
	case SOCKS5_ATYP_IPV6:
		sin6->sin6_family = AF_INET6;
		sin6->sin6_port = htons(a->port);
		memcpy(&sin6->sin6_addr, a->ip, 16);
		return sizeof *sin6;
	}
	return 0;
}
