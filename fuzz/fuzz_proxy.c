/*
 * libFuzzer target for proxy_header_parse(): the input is what a balancer
 * sent, fed as read_proxy_header() sees it, one growing prefix at a time,
 * each in a buffer of its own so that ASan sees any read past the bytes
 * so far.  A complete header took exactly the bytes it needed, carries a
 * client of a family a rule can judge, and parses the same with bytes
 * behind it.
 * SPDX-License-Identifier: ISC
 */
#include <netinet/in.h>
#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../proxy_header.h"

int LLVMFuzzerTestOneInput(const uint8_t *, size_t);

static void
check(int ok)
{
	if (!ok)
		abort();
}

static uint16_t
port_in(const struct sockaddr_storage *ss)
{
	return ntohs(ss->ss_family == AF_INET6 ?
	    ((const struct sockaddr_in6 *)ss)->sin6_port :
	    ((const struct sockaddr_in *)ss)->sin_port);
}

/* A v1 TCP4 line is strict enough to be printed back byte for byte. */
static void
check_v1_tcp4(const struct proxy_header *h, const uint8_t *buf)
{
	char src[INET_ADDRSTRLEN], dst[INET_ADDRSTRLEN], line[PROXY_V1_MAX + 1];

	inet_ntop(AF_INET, &((const struct sockaddr_in *)&h->src)->sin_addr,
	    src, sizeof src);
	inet_ntop(AF_INET, &((const struct sockaddr_in *)&h->dst)->sin_addr,
	    dst, sizeof dst);
	snprintf(line, sizeof line, "PROXY TCP4 %s %s %u %u\r\n", src, dst,
	    port_in(&h->src), port_in(&h->dst));
	check(strlen(line) == h->len && memcmp(line, buf, h->len) == 0);
}

/* What a complete header must be, given the bytes it came from. */
static void
check_complete(const struct proxy_header *h, const uint8_t *buf, size_t len)
{
	check(h->len >= 8 && h->len <= len && h->len <= PROXY_HEADER_MAX);
	check(h->version == 1 || h->version == 2);
	check(h->version != 1 || (h->len <= PROXY_V1_MAX &&
	    memcmp(buf + h->len - 2, "\r\n", 2) == 0));
	check(h->version != 2 || h->len == 16u + (buf[14] << 8 | buf[15]));
	if (h->command == PROXY_LOCAL) {
		check(h->src.ss_family == 0 && h->dst.ss_family == 0);
		return;
	}
	check(h->command == PROXY_PROXY);
	check(h->src.ss_family == AF_INET || h->src.ss_family == AF_INET6);
	check(h->dst.ss_family == h->src.ss_family);
	if (h->version == 2 && h->src.ss_family == AF_INET)
		check(memcmp(&((const struct sockaddr_in *)&h->src)->sin_addr,
		    buf + 16, 4) == 0 && port_in(&h->src) ==
		    (buf[24] << 8 | buf[25]));
	if (h->version == 2 && h->src.ss_family == AF_INET6)
		check(memcmp(&((const struct sockaddr_in6 *)&h->src)->sin6_addr,
		    buf + 16, 16) == 0 && port_in(&h->src) ==
		    (buf[48] << 8 | buf[49]));
	if (h->version == 1 && h->src.ss_family == AF_INET)
		check_v1_tcp4(h, buf);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct proxy_header h, whole;
	const char *why;
	uint8_t *buf;
	size_t len;
	int r = 0, starts;

	if (size > 2 * PROXY_HEADER_MAX)
		size = 2 * PROXY_HEADER_MAX;
	for (len = 1; len <= size && r == 0; len++) {
		if ((buf = malloc(len)) == NULL)
			abort();
		memcpy(buf, data, len);
		memset(&h, 0xa5, sizeof h);
		why = NULL;
		r = proxy_header_parse(buf, len, &h, &why);
		starts = proxy_header_starts(buf, len);
		check(r >= -1 && r <= 1);
		check(r != -1 || (why != NULL && why[0] != '\0'));
		/* Not a header: from the first byte that says so. */
		check(starts || r == -1);
		/* Complete on its last byte: nothing past it was needed. */
		if (r == 1) {
			check(starts && h.len == len);
			check_complete(&h, buf, len);
		}
		free(buf);
	}
	/* No header needs more than the buffer read_proxy_header() has. */
	if (r == 0)
		check(size < PROXY_HEADER_MAX);
	if (r == 0 || size == 0)
		return 0;
	/* Bytes behind a header do not change how it parses. */
	check(proxy_header_parse(data, size, &whole, &why) == r);
	if (r == 1)
		check(whole.len == h.len && whole.command == h.command &&
		    memcmp(&whole.src, &h.src, sizeof h.src) == 0 &&
		    memcmp(&whole.dst, &h.dst, sizeof h.dst) == 0);
	return 0;
}
