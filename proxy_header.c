/*
 * The header a balancer sends before its client's bytes: HAProxy's "The
 * PROXY protocol, Versions 1 & 2".  Pure: no I/O.  Like socks4.c it takes
 * the bytes so far and says malformed, need more or done; bounds come
 * before any search, and no search goes past them.
 * SPDX-License-Identifier: ISC
 */
#include <sys/types.h>
#include <netinet/in.h>
#include <string.h>

#include "addr.h"
#include "number.h"
#include "proxy_header.h"
#include "text.h"

#define V1_SIG_LEN	6
#define V2_SIG_LEN	12
#define V2_FIXED	16	/* signature, version and command, family,
				   length */

static const uint8_t v1_sig[V1_SIG_LEN] = "PROXY ";
static const uint8_t v2_sig[V2_SIG_LEN] = {
	0x0d, 0x0a, 0x0d, 0x0a, 0x00, 0x0d, 0x0a, 0x51, 0x55, 0x49, 0x54, 0x0a
};

/* Whether buf agrees with sig as far as both go. */
static int
agrees(const uint8_t *buf, size_t len, const uint8_t *sig, size_t sig_len)
{
	return memcmp(buf, sig, len < sig_len ? len : sig_len) == 0;
}

/* Whether the bytes so far can be the start of a header, of either version. */
int
proxy_header_starts(const uint8_t *buf, size_t len)
{
	return agrees(buf, len, v1_sig, V1_SIG_LEN) ||
	    agrees(buf, len, v2_sig, V2_SIG_LEN);
}

/* v1's port: "0" to "65535", without a sign or a leading zero. */
static long
v1_port(const char *s)
{
	return s[0] == '0' && s[1] != '\0' ? -1 : number(s, 65535);
}

/* v1's address: numeric, of the family the line named. */
static int
v1_address(const char *s, int family, long port, struct sockaddr_storage *ss)
{
	return port != -1 && address_of(s, (uint16_t)port, ss) == 0 &&
	    ss->ss_family == family ? 0 : -1;
}

/*
 * "PROXY TCP4 SRC DST SPORT DPORT\r\n", TCP6 alike, or "PROXY UNKNOWN" and
 * anything up to the CRLF: one space between fields.
 */
static int
parse_v1(const uint8_t *buf, size_t len, struct proxy_header *h,
    const char **why)
{
	char line[PROXY_V1_MAX], *field[7], *p;
	const uint8_t *lf = memchr(buf, '\n',
	    len < PROXY_V1_MAX ? len : PROXY_V1_MAX);
	size_t n;
	int nfields = 0, family;

	*why = "PROXY v1 header longer than " XSTR(PROXY_V1_MAX) " bytes";
	if (lf == NULL)
		return len >= PROXY_V1_MAX ? -1 : 0;
	n = (size_t)(lf - buf);
	*why = "PROXY v1 header does not end in CRLF";
	if (buf[n - 1] != '\r')
		return -1;
	n--;
	*why = "PROXY v1 header has a NUL byte";
	if (memchr(buf, '\0', n) != NULL)
		return -1;
	memcpy(line, buf, n);
	line[n] = '\0';
	for (p = line; p != NULL && nfields < 7; nfields++) {
		field[nfields] = p;
		if ((p = strchr(p, ' ')) != NULL)
			*p++ = '\0';
	}
	h->len = n + 2;
	h->version = 1;
	if (strcmp(field[1], "UNKNOWN") == 0) {
		h->command = PROXY_LOCAL;
		return 1;
	}
	*why = "PROXY v1 protocol is not TCP4, TCP6 or UNKNOWN";
	if (strcmp(field[1], "TCP4") == 0)
		family = AF_INET;
	else if (strcmp(field[1], "TCP6") == 0)
		family = AF_INET6;
	else
		return -1;
	*why = "PROXY v1 header is not PROXY TCP4|TCP6 SRC DST SPORT DPORT";
	if (nfields != 6 ||
	    v1_address(field[2], family, v1_port(field[4]), &h->src) == -1 ||
	    v1_address(field[3], family, v1_port(field[5]), &h->dst) == -1)
		return -1;
	h->command = PROXY_PROXY;
	return 1;
}

/* An address and port of v2's address block into ss. */
static void
v2_address(struct sockaddr_storage *ss, int family, const uint8_t *addr,
    const uint8_t *port)
{
	struct sockaddr_in *sin = (struct sockaddr_in *)ss;
	struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)ss;

	memset(ss, 0, sizeof *ss);
	ss->ss_family = (sa_family_t)family;
	if (family == AF_INET)
		memcpy(&sin->sin_addr, addr, 4);
	else
		memcpy(&sin6->sin6_addr, addr, 16);
	set_port(ss, (uint16_t)(port[0] << 8 | port[1]));
}

/*
 * v2: the signature, version 2 and a command, the family and protocol,
 * the length of the rest, then the addresses and TLVs (skipped).  A
 * connection carried over anything but TCP over IPv4 or IPv6 names no
 * client a rule could judge: malformed, as the balancer's own address
 * would wrongly stand for it.
 */
static int
parse_v2(const uint8_t *buf, size_t len, struct proxy_header *h,
    const char **why)
{
	size_t body;
	int ip6;

	*why = "PROXY v2 version is not 2";
	if (len > 12 && buf[12] >> 4 != 2)
		return -1;
	*why = "PROXY v2 command is neither LOCAL nor PROXY";
	if (len > 12 && (buf[12] & 0x0f) > 1)
		return -1;
	*why = "PROXY v2 carries no TCP over IPv4 or IPv6";
	if (len > 13 && (buf[12] & 0x0f) == 1 && buf[13] != 0x11 &&
	    buf[13] != 0x21)
		return -1;
	if (len < V2_FIXED)
		return 0;
	body = (size_t)(buf[14] << 8 | buf[15]);
	*why = "PROXY v2 header longer than 16 + " XSTR(PROXY_V2_BODY_MAX)
	    " bytes";
	if (body > PROXY_V2_BODY_MAX)
		return -1;
	ip6 = buf[13] == 0x21;
	*why = "PROXY v2 address block shorter than its family's";
	if ((buf[12] & 0x0f) == 1 && body < (ip6 ? 36u : 12u))
		return -1;
	if (len < V2_FIXED + body)
		return 0;
	h->len = V2_FIXED + body;
	h->version = 2;
	if ((buf[12] & 0x0f) == 0) {
		h->command = PROXY_LOCAL;
		return 1;
	}
	h->command = PROXY_PROXY;
	buf += V2_FIXED;
	if (ip6) {
		v2_address(&h->src, AF_INET6, buf, buf + 32);
		v2_address(&h->dst, AF_INET6, buf + 16, buf + 34);
	} else {
		v2_address(&h->src, AF_INET, buf, buf + 8);
		v2_address(&h->dst, AF_INET, buf + 4, buf + 10);
	}
	return 1;
}

/*
 * The bytes so far: -1 not a header or a malformed one (why says which),
 * 0 need more, 1 complete (h->len bytes; what follows is the client's).
 */
int
proxy_header_parse(const uint8_t *buf, size_t len, struct proxy_header *h,
    const char **why)
{
	memset(h, 0, sizeof *h);
	*why = "not a PROXY header";
	if (!proxy_header_starts(buf, len))
		return -1;
	if (len > 0 && buf[0] == v1_sig[0])
		return len < V1_SIG_LEN ? 0 : parse_v1(buf, len, h, why);
	return len < V2_SIG_LEN ? 0 : parse_v2(buf, len, h, why);
}
