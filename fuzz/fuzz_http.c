/*
 * libFuzzer target for http_parse_connect() and http_response().  The
 * input is what a client sent, fed one growing prefix at a time, each in
 * a buffer of its own so that ASan sees any read past the bytes so far.
 * A complete head took exactly up to its empty line and names one
 * destination a session can use; a verdict, once given, holds however
 * many bytes follow; a password is in the login only when the request is
 * complete; a look that goes on from the last one's (c->scan) finds what
 * one afresh finds.  Then a response from the input's first bytes: within
 * its buffer, and nothing unprintable but its line ends.
 * SPDX-License-Identifier: ISC
 */
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>

#include "../addr.h"
#include "../http_connect.h"

int LLVMFuzzerTestOneInput(const uint8_t *, size_t);

static void
check(int ok)
{
	if (!ok)
		abort();
}

static int
name_byte(uint8_t b)
{
	return (b >= 'a' && b <= 'z') || (b >= 'A' && b <= 'Z') ||
	    (b >= '0' && b <= '9') || b == '.' || b == '-' || b == '_';
}

/* The length of a NUL-terminated field, or its size if it is not. */
static size_t
field_len(const void *p, size_t size)
{
	const uint8_t *nul = memchr(p, '\0', size);

	return nul == NULL ? size : (size_t)(nul - (const uint8_t *)p);
}

static int
all_zero(const void *p, size_t n)
{
	const uint8_t *b = p;

	for (size_t i = 0; i < n; i++)
		if (b[i] != 0)
			return 0;
	return 1;
}

/* What a complete head must be, given the bytes it came from. */
static void
check_complete(const struct http_connect *c, const uint8_t *buf, size_t len)
{
	const struct socks5_login *l = &c->login;
	size_t n;

	check(c->len >= 4 && c->len <= len && c->len <= HTTP_HEAD_MAX);
	check(memcmp(buf, "CONNECT ", 8) == 0 && http_starts(buf, len));
	check(memcmp(buf + c->len - 2, "\n\n", 2) == 0 ||
	    memcmp(buf + c->len - 3, "\n\r\n", 3) == 0);
	check(c->status == 0 && (c->minor == 0 || c->minor == 1));
	check(c->port != 0);
	check((c->host[0] != '\0') != (c->addr.ss_family != AF_UNSPEC));
	n = field_len(c->host, sizeof c->host);
	check(n < sizeof c->host);
	for (size_t i = 0; i < n; i++)
		check(name_byte((uint8_t)c->host[i]));
	if (c->addr.ss_family != AF_UNSPEC)
		check((c->addr.ss_family == AF_INET ||
		    c->addr.ss_family == AF_INET6) &&
		    port_of(&c->addr) == c->port);
	check(c->auth == HTTP_AUTH_NONE || c->auth == HTTP_AUTH_BASIC ||
	    c->auth == HTTP_AUTH_OTHER);
	if (c->auth == HTTP_AUTH_BASIC) {
		check(l->name_len >= 1 && l->name_len <= SOCKS5_NAME_MAX &&
		    field_len(l->name, sizeof l->name) ==
		    l->name_len);
		check(l->password_len <= SOCKS5_NAME_MAX &&
		    field_len(l->password, sizeof l->password) ==
		    l->password_len);
	} else
		check(all_zero(l, sizeof *l));
}

/* A response from the first bytes: status, buffer size, then the body. */
static void
check_response(const uint8_t *data, size_t size)
{
	int status;
	size_t room, n, i;
	char *body;
	uint8_t *out;

	if (size < 3)
		return;
	status = (int16_t)(data[0] << 8 | data[1]);
	if (data[0] & 1)	/* mostly the statuses in use */
		status = 100 + data[1] % 5 * 100 + data[1] / 5 % 10;
	room = data[2] & 1 ? HTTP_RESPONSE_MAX : (size_t)data[2] * 3;
	if ((body = malloc(size - 3 + 1)) == NULL ||
	    (out = malloc(room ? room : 1)) == NULL)
		abort();
	memcpy(body, data + 3, size - 3);
	body[size - 3] = '\0';
	n = http_response(out, room, status, body);
	check(n <= room);
	/* HTTP_RESPONSE_MAX is room enough for any */
	check(room < HTTP_RESPONSE_MAX || n > 0);
	if (n > 0) {
		check(n >= 19 && memcmp(out, "HTTP/1.1 ", 9) == 0);
		for (i = 0; i < n; i++)
			check((out[i] >= 0x20 && out[i] <= 0x7e) ||
			    out[i] == '\n' || (out[i] == '\r' &&
			    i + 1 < n && out[i + 1] == '\n'));
		check(out[n - 1] == '\n');
	}
	free(out);
	free(body);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct http_connect c, kept = { .scan = { 0 } };
	const char *why, *kept_why;
	uint8_t *buf;
	size_t len, big, first_len = 0;
	int r, first = 0;

	check_response(data, size);
	if (size > 2 * HTTP_HEAD_MAX)
		size = 2 * HTTP_HEAD_MAX;
	for (len = 0; len <= size; len++) {
		if ((buf = malloc(len ? len : 1)) == NULL)
			abort();
		memcpy(buf, data, len);
		memset(&c, 0xa5, sizeof c);
		c.scan = (struct http_scan){ 0 };
		why = NULL;
		r = http_parse_connect(buf, len, &c, &why);
		check(r >= -1 && r <= 1);
		/* Looked at afresh or going on from the last look: alike */
		if (first == 0) {
			kept_why = NULL;
			check(http_parse_connect(buf, len, &kept,
			    &kept_why) == r && kept.status == c.status &&
			    (r != 1 || kept.len == c.len) &&
			    (r != -1 || strcmp(kept_why, why) == 0));
		}
		if (r == -1)
			check(why != NULL && why[0] != '\0' &&
			    (c.status == 400 || c.status == 405 ||
			    c.status == 431 || c.status == 505));
		if (r != 1)
			check(all_zero(&c.login, sizeof c.login));
		if (r == 1)
			check_complete(&c, buf, len);
		/* A verdict holds, whatever follows */
		if (first != 0)
			check(r == first && (r != 1 || c.len == first_len));
		else if (r != 0) {
			first = r;
			first_len = c.len;
		}
		free(buf);
	}
	/*
	 * The fuzzer's inputs are short of HTTP_HEAD_MAX: what it has, with
	 * header bytes behind it to past the limit, is judged without a
	 * read past it, and without an end never passes.
	 */
	if (first != 0 || size == 0)
		return 0;
	big = HTTP_HEAD_MAX + 64;
	if ((buf = malloc(big)) == NULL)
		abort();
	memcpy(buf, data, size);
	memset(buf + size, 'a', big - size);
	c.scan = (struct http_scan){ 0 };
	r = http_parse_connect(buf, big, &c, &why);
	check(r == -1 && (c.status == 400 || c.status == 431));
	free(buf);
	return 0;
}
