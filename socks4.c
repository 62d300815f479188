/*
 * SOCKS4 and SOCKS4a requests: Ying-Da Lee, "SOCKS: A protocol for TCP
 * proxy across firewalls" and "SOCKS 4A: A Simple Extension to SOCKS 4
 * Protocol".  Pure: no I/O.
 * SPDX-License-Identifier: ISC
 */
#include <netinet/in.h>
#include <string.h>

#include "socks.h"
#include "socks4.h"
#include "text.h"

/* The NUL-ended field at p, of at most FIELD_MAX bytes: its length, -1 if
 * too long, -2 if not all here yet. */
static long
field(const uint8_t *p, size_t left)
{
	const uint8_t *nul = memchr(p, 0,
	    left < FIELD_MAX + 1 ? left : FIELD_MAX + 1);

	if (nul != NULL)
		return nul - p;
	return left > FIELD_MAX ? -1 : -2;
}

/*
 * Parse "the bytes so far": -1 malformed (why says how), 0 need more, 1
 * complete.  Bounds are checked before any search, and no search goes
 * past the SOCKS4 limits.
 */
int
socks4_parse(const uint8_t *buf, size_t len, struct request *req,
    const char **why)
{
	struct sockaddr_in *sin = (struct sockaddr_in *)&req->addr;
	const uint8_t *p;
	long n;

	*why = "version is not 4";
	if (len >= 1 && buf[0] != SOCKS4_VERSION)
		return -1;
	*why = "command is neither CONNECT nor BIND";
	if (len >= 2 && buf[1] != SOCKS_CONNECT && buf[1] != SOCKS_BIND)
		return -1;
	if (len < 9)
		return 0;
	req->version = SOCKS4_VERSION;
	req->cmd = buf[1];
	req->port = (uint16_t)(buf[2] << 8 | buf[3]);
	memcpy(req->ip4, buf + 4, 4);

	*why = "USERID longer than " XSTR(FIELD_MAX) " bytes";
	if ((n = field(buf + 8, len - 8)) < 0)
		return n == -1 ? -1 : 0;
	memcpy(req->user, buf + 8, (size_t)n);
	req->user[n] = '\0';
	req->host[0] = '\0';
	req->len = 8 + (size_t)n + 1;

	memset(&req->addr, 0, sizeof req->addr);
	/* SOCKS4a uses an invalid IP address 0.0.0.x, x != 0: a name follows */
	if (req->ip4[0] || req->ip4[1] || req->ip4[2] || !req->ip4[3]) {
		sin->sin_family = AF_INET;
		sin->sin_port = htons(req->port);
		memcpy(&sin->sin_addr, req->ip4, 4);
		return 1;
	}
	p = buf + req->len;
	*why = "hostname longer than " XSTR(FIELD_MAX) " bytes";
	if ((n = field(p, len - req->len)) < 0)
		return n == -1 ? -1 : 0;
	*why = "SOCKS4a request without a hostname";
	if (n == 0)
		return -1;
	*why = "hostname has control or non-ASCII bytes";
	for (long i = 0; i < n; i++)
		if (p[i] <= ' ' || p[i] >= 0x7f)
			return -1;
	memcpy(req->host, p, (size_t)n);
	req->host[n] = '\0';
	req->len += (size_t)n + 1;
	return 1;
}

/* The reply: always 8 bytes, VN 0, port and address by shifts. */
void
socks4_reply(uint8_t r[8], int cd, uint16_t port, const uint8_t ip[4])
{
	r[0] = SOCKS4_REPLY_VERSION;
	r[1] = (uint8_t)cd;
	r[2] = (uint8_t)(port >> 8);
	r[3] = (uint8_t)(port & 0xff);
	memcpy(r + 4, ip, 4);
}
