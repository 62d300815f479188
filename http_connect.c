/*
 * HTTP CONNECT on the SOCKS port: RFC 9110 section 9.3.6 (CONNECT), RFC
 * 9112 (the message syntax), RFC 7617 (Basic).  Pure: no I/O.  Like
 * socks4.c it takes the bytes so far and says malformed, need more or
 * done.  The head is found first, with the checks its bytes allow on the
 * way, and only a whole head is parsed: no line is judged before its end
 * is here, and a password is decoded once, into the login alone.
 * SPDX-License-Identifier: ISC
 */
#include <sys/types.h>
#include <netinet/in.h>
#include <arpa/inet.h>
#include <string.h>

#include "http_connect.h"
#include "sha512crypt.h"
#include "text.h"

static int
malformed(struct http_connect *c, const char **why, int status,
    const char *reason)
{
	c->status = status;
	*why = reason;
	return -1;
}

/* RFC 9110 section 5.6.2: a token's bytes, tchar. */
static int
tchar(uint8_t b)
{
	return (b >= 'a' && b <= 'z') || (b >= 'A' && b <= 'Z') ||
	    (b >= '0' && b <= '9') || (b != '\0' &&
	    strchr("!#$%&'*+-.^_`|~", b) != NULL);
}

/*
 * A name's bytes: letters, digits, '.', '-' and '_'.  Narrower than RFC
 * 3986's reg-name, whose escapes and sub-delims no resolver wants, and
 * safe in a log, a record and getaddrinfo().
 */
static int
name_byte(uint8_t b)
{
	return (b >= 'a' && b <= 'z') || (b >= 'A' && b <= 'Z') ||
	    (b >= '0' && b <= '9') || b == '.' || b == '-' || b == '_';
}

static uint8_t
lower(uint8_t b)
{
	return b >= 'A' && b <= 'Z' ? (uint8_t)(b - 'A' + 'a') : b;
}

/* Whether a and b are the same bytes, ASCII case aside: no locale's rules. */
static int
same_bytes(const uint8_t *a, size_t an, const uint8_t *b, size_t bn)
{
	if (an != bn)
		return 0;
	for (size_t i = 0; i < an; i++)
		if (lower(a[i]) != lower(b[i]))
			return 0;
	return 1;
}

/* Whether p (n bytes) is the text s, case aside. */
static int
same(const uint8_t *p, size_t n, const char *s)
{
	return same_bytes(p, n, (const uint8_t *)s, strlen(s));
}

/* Whether the bytes so far can begin an HTTP request: a method's first
   byte, and not a PROXY v1 header, whose "PROXY " is a method's shape. */
int
http_starts(const uint8_t *buf, size_t len)
{
	static const uint8_t proxy_v1[6] = "PROXY ";

	return len > 0 && buf[0] >= 'A' && buf[0] <= 'Z' &&
	    memcmp(buf, proxy_v1, len < 6 ? len : 6) != 0;
}

/*
 * The bytes the head takes, up to its empty line; 0 when that is not here
 * yet; -1 when the bytes so far are already wrong, whatever follows: a
 * NUL, a method byte that is no token's, a CR before anything but LF, or
 * no end within HTTP_HEAD_MAX.  Only the first HTTP_HEAD_MAX bytes are
 * looked at, so a longer read is judged as a shorter one was.  The look
 * goes on from where the last one stopped (c->scan): a head dribbled a
 * byte a read costs its length once, not its square.
 */
static long
head_end(const uint8_t *buf, size_t len, struct http_connect *c,
    const char **why)
{
	struct http_scan *sc = &c->scan;
	size_t n = len < HTTP_HEAD_MAX ? len : HTTP_HEAD_MAX, i;

	for (i = sc->at; i < n; i++) {
		if (buf[i] == '\0')
			return malformed(c, why, 400,
			    "NUL byte in the request");
		if (!sc->past_method && buf[i] == ' ')
			sc->past_method = 1;
		else if (!sc->past_method && !tchar(buf[i]))
			return malformed(c, why, 400,
			    "request line does not begin with METHOD SP");
		/* RFC 9112 section 2.2: a bare LF ends a line, a bare CR
		   does not (nor does it anything else); a CR last is judged
		   with the byte after it */
		if (buf[i] == '\r' && i + 1 == n)
			break;
		if (buf[i] == '\r' && buf[i + 1] != '\n')
			return malformed(c, why, 400, "CR not followed by LF");
		if (buf[i] != '\n')
			continue;
		if (sc->line > 0 && (i == sc->line ||
		    (i == sc->line + 1 && buf[sc->line] == '\r')))
			return (long)(i + 1);
		sc->line = i + 1;
	}
	sc->at = i;
	if (len >= HTTP_HEAD_MAX)
		return malformed(c, why, 431, "request line and headers "
		    "longer than " XSTR(HTTP_HEAD_MAX) " bytes");
	return 0;
}

/* The line at *pos, its CR or LF not counted; *pos moves past its LF,
   which head_end() has seen before the head's end. */
static size_t
next_line(const uint8_t *buf, size_t end, size_t *pos, const uint8_t **line)
{
	const uint8_t *lf = memchr(buf + *pos, '\n', end - *pos);
	size_t n = (size_t)(lf - (buf + *pos));

	*line = buf + *pos;
	*pos += n + 1;
	return n > 0 && (*line)[n - 1] == '\r' ? n - 1 : n;
}

/*
 * The request target in authority-form (RFC 9112 section 3.2.3), all that
 * CONNECT takes: host ":" port, the host a name, a dotted IPv4 address
 * or a bracketed IPv6 one.  *host_len: the host's bytes, brackets too,
 * for the Host header.
 */
static int
parse_target(const uint8_t *p, size_t n, struct http_connect *c,
    size_t *host_len, const char **why)
{
	struct sockaddr_in *sin = (struct sockaddr_in *)&c->addr;
	struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)&c->addr;
	char text[FIELD_MAX + 1];
	size_t h, i;
	long port = 0;

	/* an absolute URI (http://host/), or a path: no authority-form */
	if (memchr(p, '/', n) != NULL)
		return malformed(c, why, 400,
		    "target is not host:port (CONNECT's authority-form)");
	if (n > 0 && p[0] == '[') {
		const uint8_t *close = memchr(p, ']', n);

		/* no zone ID: RFC 9110 section 4.2.4 has none in a URI */
		h = close == NULL ? 0 : (size_t)(close - p) - 1;
		if (h == 0 || h >= INET6_ADDRSTRLEN)
			return malformed(c, why, 400,
			    "target in brackets is not an IPv6 address");
		memcpy(text, p + 1, h);
		text[h] = '\0';
		if (inet_pton(AF_INET6, text, &sin6->sin6_addr) != 1)
			return malformed(c, why, 400,
			    "target in brackets is not an IPv6 address");
		c->addr.ss_family = AF_INET6;
		h += 2;
	} else {
		for (h = 0; h < n && p[h] != ':'; h++)
			if (!name_byte(p[h]))
				return malformed(c, why, 400, "target is not "
				    "host:port (CONNECT's authority-form)");
		if (h == 0 || h > FIELD_MAX)
			return malformed(c, why, 400, "target's host is not "
			    "1.." XSTR(FIELD_MAX) " bytes");
		memcpy(text, p, h);
		text[h] = '\0';
		if (inet_pton(AF_INET, text, &sin->sin_addr) == 1)
			c->addr.ss_family = AF_INET;
		else
			memcpy(c->host, text, h + 1);
	}
	if (h >= n || p[h] != ':')
		return malformed(c, why, 400,
		    "target is not host:port (CONNECT's authority-form)");
	for (i = h + 1; i < n && i <= h + 5 && p[i] >= '0' && p[i] <= '9'; i++)
		port = port * 10 + (p[i] - '0');
	if (i == h + 1 || i != n || port < 1 || port > 65535)
		return malformed(c, why, 400, "port is not 1..65535");
	c->port = (uint16_t)port;
	if (c->addr.ss_family == AF_INET6)
		sin6->sin6_port = htons(c->port);
	else if (c->addr.ss_family == AF_INET)
		sin->sin_port = htons(c->port);
	*host_len = h;
	return 0;
}

/* RFC 4648's base64 alphabet: a byte's six bits, or -1. */
static int
b64(uint8_t b)
{
	if (b >= 'A' && b <= 'Z')
		return b - 'A';
	if (b >= 'a' && b <= 'z')
		return b - 'a' + 26;
	if (b >= '0' && b <= '9')
		return b - '0' + 52;
	return b == '+' ? 62 : b == '/' ? 63 : -1;
}

/* One decoded byte of user-id ":" password into the login; -1 when it
   does not fit or is a NUL. */
static int
login_byte(struct socks5_login *l, int *in_password, uint8_t b)
{
	if (b == '\0')
		return -1;
	if (!*in_password && b == ':')
		*in_password = 1;
	else if (!*in_password && l->name_len < SOCKS5_NAME_MAX)
		l->name[l->name_len++] = b;
	else if (*in_password && l->password_len < SOCKS5_NAME_MAX)
		l->password[l->password_len++] = b;
	else
		return -1;
	return 0;
}

/*
 * RFC 7617's credentials, strict base64 (RFC 4648 section 4: padded, no
 * blanks, the unused bits 0), decoded straight into the login: no other
 * buffer ever holds the password.
 */
static int
parse_basic(const uint8_t *p, size_t n, struct socks5_login *l)
{
	size_t pad = 0, i, j, k, bytes;
	uint32_t w;
	int d, in_password = 0;

	if (n == 0 || n % 4 != 0)
		return -1;
	if (p[n - 1] == '=')
		pad = p[n - 2] == '=' ? 2 : 1;
	for (i = 0; i < n; i += 4) {
		for (w = 0, j = 0; j < 4; j++) {
			d = i + j < n - pad ? b64(p[i + j]) : 0;
			if (d < 0)
				return -1;
			w = w << 6 | (uint32_t)d;
		}
		bytes = i + 4 < n ? 3 : 3 - pad;
		if (i + 4 == n && (w & (pad == 2 ? 0xffff : pad ? 0xff : 0)))
			return -1;
		for (k = 0; k < bytes; k++)
			if (login_byte(l, &in_password,
			    (uint8_t)(w >> (16 - 8 * k))) == -1)
				return -1;
	}
	if (!in_password || l->name_len == 0)
		return -1;
	l->name[l->name_len] = '\0';
	l->password[l->password_len] = '\0';
	return 0;
}

/* credentials = auth-scheme [ 1*SP ( token68 / #auth-param ) ] */
static int
parse_authorization(const uint8_t *v, size_t n, struct http_connect *c,
    const char **why)
{
	size_t s, i;

	for (s = 0; s < n && tchar(v[s]); s++)
		;
	if (s == 0 || (s < n && v[s] != ' '))
		return malformed(c, why, 400,
		    "Proxy-Authorization is not a scheme and credentials");
	if (!same(v, s, "basic")) {
		c->auth = HTTP_AUTH_OTHER;
		return 0;
	}
	for (i = s; i < n && v[i] == ' '; i++)
		;
	if (i == s || parse_basic(v + i, n - i, &c->login) == -1)
		return malformed(c, why, 400, "Proxy-Authorization Basic is "
		    "not base64 of user:password (1..255, 0..255 bytes)");
	c->auth = HTTP_AUTH_BASIC;
	return 0;
}

/*
 * field-line = field-name ":" OWS field-value OWS (RFC 9112 section 5),
 * without obs-fold; the few fields CONNECT cares about acted on.
 */
static int
parse_field(const uint8_t *p, size_t n, struct http_connect *c,
    const uint8_t *target, size_t target_len, size_t host_len,
    int seen[3], const char **why)
{
	const uint8_t *value;
	size_t name, v, e, i;

	if (p[0] == ' ' || p[0] == '\t')
		return malformed(c, why, 400,
		    "obsolete line folding in the headers");
	if (memchr(p, ':', n) == NULL)
		return malformed(c, why, 400, "header line without a colon");
	/* the colon ends the name: no read past the line */
	for (name = 0; tchar(p[name]); name++)
		;
	/* RFC 9112 section 5.1: a MUST, as smuggling hides there */
	if (p[name] == ' ' || p[name] == '\t')
		return malformed(c, why, 400,
		    "whitespace between a header field name and its colon");
	if (name == 0 || p[name] != ':')
		return malformed(c, why, 400,
		    "header field name is not a token");
	for (v = name + 1; v < n && (p[v] == ' ' || p[v] == '\t'); v++)
		;
	for (e = n; e > v && (p[e - 1] == ' ' || p[e - 1] == '\t'); e--)
		;
	for (i = v; i < e; i++)
		if ((p[i] < 0x20 && p[i] != '\t') || p[i] == 0x7f)
			return malformed(c, why, 400,
			    "control byte in a header field value");
	value = p + v;
	e -= v;
	if (same(p, name, "proxy-authorization")) {
		if (seen[0]++)
			return malformed(c, why, 400,
			    "Proxy-Authorization header twice");
		return parse_authorization(value, e, c, why);
	}
	if (same(p, name, "host")) {
		if (seen[1]++)
			return malformed(c, why, 400, "Host header twice");
		if (!same_bytes(value, e, target, target_len) &&
		    !same_bytes(value, e, target, host_len))
			return malformed(c, why, 400,
			    "Host header differs from the request target");
	}
	/* RFC 9110 section 9.3.6: a CONNECT request has no content, and
	   bytes after the head are the tunnel's */
	if ((same(p, name, "content-length") &&
	    (seen[2]++ || !same(value, e, "0"))) ||
	    same(p, name, "transfer-encoding"))
		return malformed(c, why, 400, "CONNECT carries no content");
	return 0;
}

/* The request line and headers, end (from head_end()) bytes in all. */
static int
parse_head(const uint8_t *buf, size_t end, struct http_connect *c,
    const char **why)
{
	const uint8_t *line, *sp1, *sp2, *target;
	size_t pos = 0, n, target_len, host_len = 0;
	int seen[3] = { 0, 0, 0 };	/* Proxy-Authorization, Host,
					   Content-Length */

	n = next_line(buf, end, &pos, &line);
	sp1 = memchr(line, ' ', n);
	sp2 = sp1 == NULL ? NULL : memchr(sp1 + 1, ' ', n - (size_t)(sp1 + 1 -
	    line));
	if (sp2 == NULL || sp1 == line || sp2 == sp1 + 1 ||
	    memchr(sp2 + 1, ' ', n - (size_t)(sp2 + 1 - line)) != NULL)
		return malformed(c, why, 400,
		    "request line is not METHOD SP TARGET SP HTTP-VERSION");
	target = sp1 + 1;
	target_len = (size_t)(sp2 - target);
	/* HTTP-version = "HTTP" "/" DIGIT "." DIGIT, its name case-sensitive */
	if (line + n - (sp2 + 1) != 8 || memcmp(sp2 + 1, "HTTP/", 5) != 0 ||
	    sp2[6] < '0' || sp2[6] > '9' || sp2[7] != '.' ||
	    sp2[8] < '0' || sp2[8] > '9')
		return malformed(c, why, 400,
		    "request line does not end in an HTTP version");
	if (sp2[6] != '1' || sp2[8] > '1')
		return malformed(c, why, 505,
		    "HTTP version is neither 1.0 nor 1.1");
	c->minor = sp2[8] - '0';
	if (sp1 - line != 7 || memcmp(line, "CONNECT", 7) != 0)
		return malformed(c, why, 405, "method is not CONNECT: only "
		    "CONNECT is served here (not a forwarding proxy)");
	if (parse_target(target, target_len, c, &host_len, why) == -1)
		return -1;
	while ((n = next_line(buf, end, &pos, &line)) > 0)
		if (parse_field(line, n, c, target, target_len, host_len, seen,
		    why) == -1)
			return -1;
	c->len = end;
	return 1;
}

/*
 * The bytes so far: -1 malformed (why says how, c->status what to
 * answer), 0 need more, 1 complete (c->len bytes; what follows is the
 * tunnel's).  The login is wiped unless the request is complete.  c->scan
 * is zero before the first call on a head, and kept while it grows.
 */
int
http_parse_connect(const uint8_t *buf, size_t len, struct http_connect *c,
    const char **why)
{
	struct http_scan scan = c->scan;
	long end;
	int r;

	memset(c, 0, sizeof *c);
	c->scan = scan;
	if ((end = head_end(buf, len, c, why)) <= 0)
		return (int)end;
	if ((r = parse_head(buf, (size_t)end, c, why)) == -1) {
		crypt_wipe(&c->login, sizeof c->login);
		c->auth = HTTP_AUTH_NONE;
	}
	return r;
}

static const char *
reason_phrase(int status)
{
	switch (status) {
	case 400: return "Bad Request";
	case 403: return "Forbidden";
	case 405: return "Method Not Allowed";
	case 407: return "Proxy Authentication Required";
	case 431: return "Request Header Fields Too Large";
	case 500: return "Internal Server Error";
	case 502: return "Bad Gateway";
	case 503: return "Service Unavailable";
	case 504: return "Gateway Timeout";
	case 505: return "HTTP Version Not Supported";
	}
	return "Error";
}

/*
 * The response to a CONNECT: 200 and the tunnel, or a status, its
 * headers and a one-line reason (body, cut to HTTP_BODY_MAX bytes, what
 * is not printable ASCII made '?').  The length; 0 if size is too small.
 * A status not of HTTP's three digits goes out as 500.
 */
size_t
http_response(uint8_t *out, size_t size, int status, const char *body)
{
	char buf[HTTP_RESPONSE_MAX];
	struct text t = TEXT(buf);
	size_t body_len = 0;

	if (status == 200 && size >= HTTP_GRANT_LEN) {
		memcpy(out, HTTP_GRANT, HTTP_GRANT_LEN);
		return HTTP_GRANT_LEN;
	}
	if (status < 100 || status > 599)
		status = 500;
	add(&t, "HTTP/1.1 ");
	add_num(&t, (unsigned long long)status, 3);
	add(&t, " ");
	add(&t, reason_phrase(status));
	add(&t, "\r\n");
	if (status != 200) {
		if (status == 407)
			add(&t, "Proxy-Authenticate: Basic realm=\"socks4d\", "
			    "charset=\"UTF-8\"\r\n");
		if (status == 405)
			add(&t, "Allow: CONNECT\r\n");
		while (body != NULL && body[body_len] != '\0' &&
		    body_len < HTTP_BODY_MAX)
			body_len++;
		add(&t, "Content-Type: text/plain; charset=utf-8\r\n"
		    "Content-Length: ");
		add_num(&t, body_len + 1, 1);
		add(&t, "\r\nConnection: close\r\n");
	}
	add(&t, "\r\n");
	for (size_t i = 0; i < body_len && t.len + 1 < t.size; i++) {
		uint8_t b = (uint8_t)body[i];

		t.buf[t.len++] = b >= 0x20 && b <= 0x7e ? (char)b : '?';
	}
	if (status != 200 && t.len + 1 < t.size)
		t.buf[t.len++] = '\n';
	/* full: something was cut (HTTP_RESPONSE_MAX has room for all) */
	if (t.len + 1 >= t.size || t.len > size)
		return 0;
	memcpy(out, buf, t.len);
	return t.len;
}
