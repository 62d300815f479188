/*
 * loadtool - the load generator, sink and meter behind `make bench`.
 *
 *   loadtool serve   -l HOST:PORT [-t SECS]        sink / source / echo server
 *   loadtool stream  [-x PROXY] -d DEST [-n N] [-b BYTES] [-r] [-K] [-t SECS]
 *   loadtool rate    [-x PROXY] -d DEST [-c C] [-t SECS]
 *   loadtool idle    [-x PROXY] -d DEST [-k K] [-t SECS]
 *   loadtool startup -x PROXY -d DEST [-m M]
 *   loadtool udp     [-x PROXY [-U USER:PASS]] -d DEST [-t SECS] [-s SIZE] [-w W]
 *   loadtool proc    PID...                        CPU and memory of process trees
 *   loadtool freeport                              a free TCP port on 127.0.0.1
 *
 * PROXY and DEST are IPv4 HOST:PORT.  With -x every connection is a SOCKS4
 * CONNECT through PROXY to DEST; without it, a direct connection to DEST.
 * With -5 it is a SOCKS5 CONNECT instead (RFC 1928, ATYP 1), asking for no
 * authentication, or with -U USER:PASS (which implies -5) for method 02 and
 * logging in (RFC 1929); each message waits for the answer to the last, as
 * curl's does.  With -H it is an HTTP CONNECT (RFC 9110), "CONNECT DEST
 * HTTP/1.1" with DEST as Host too, and the proxy's response head is read to
 * its blank line, 1 KiB at most: a session whose head does not start
 * "HTTP/1.1 200 " fails, and so does one with bytes behind its head (the
 * sink speaks only when spoken to).  udp sends SIZE-byte datagrams to the
 * UDP echo at DEST for SECS seconds, at most W unanswered at a time (0: no
 * limit), through a SOCKS5 UDP ASSOCIATE when -x is given, and counts the
 * echoes that come back intact.  serve answers UDP too, on the port it
 * prints as udp_port=.
 * Each connection to the server starts with a 16-byte header: "LTv1", a mode
 * byte ('S' sink, 'R' source, 'E' echo), a flags byte (1: no checksum; 2:
 * the echo closes first, once it has sent back the byte count), two zero
 * bytes, and a little-endian 64-bit byte count.  A sink answers EOF with 24
 * bytes: count, and the two 64-bit sums of a Fletcher-style checksum over
 * the payload read as little-endian words.  The payload is a fixed pseudo-random
 * pattern of PAT_LEN bytes repeated, so the sender spends no CPU on it and
 * the expected checksum is computed in closed form.
 *
 * Results go to stdout as one line of key=value pairs; errors to stderr.
 * Everything is nonblocking, driven by epoll or poll, and every wait has a
 * deadline.  Exit status: 0 when every byte was verified, 1 otherwise.
 * SPDX-License-Identifier: ISC
 */
#define _GNU_SOURCE
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define HDR_LEN		16
#define REPORT_LEN	24
#define PAT_LEN		(1048576 - 32)	/* a multiple of 32, not a power of two */
#define IO_MAX		(256 * 1024)	/* bytes per read or write call */
#define ECHO_BUF	16384
#define MSG_LEN		100		/* rate, idle: bytes each way, header included */
#define SESSION_MS	5000		/* rate/idle/startup: deadline per session */
#define MAX_CONNS	20000
#define FLAG_NOCK	1		/* header flag: skip the checksum */
#define FLAG_CLOSE	2		/* header flag: echo, then close first */
#define UDP_MAX		65507		/* a UDP payload over IPv4, at most */
#define UDP_HDR5	10		/* SOCKS5 UDP header with an IPv4 address */
#define HTTP_HEAD_MAX	1024		/* -H: the proxy's response head, at most */

enum { M_SINK = 'S', M_SOURCE = 'R', M_ECHO = 'E' };

static uint8_t *pattern;
static volatile sig_atomic_t stop;
static int errors_shown;

static void
die(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	fprintf(stderr, "loadtool: ");
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	exit(2);
}

/* Up to 5 messages per run, so a failing run stays readable. */
static void
complain(const char *fmt, ...)
{
	va_list ap;

	if (errors_shown++ >= 5)
		return;
	va_start(ap, fmt);
	fprintf(stderr, "loadtool: ");
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
}

static long long
now_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000000LL + ts.tv_nsec / 1000;
}

static long long
now_ms(void)
{
	return now_us() / 1000;
}

static void
on_signal(int sig)
{
	(void)sig;
	stop = 1;
}

/* ---- checksum ------------------------------------------------------- */

/*
 * Four interleaved Fletcher-style sums over the payload read as little-
 * endian 64-bit words (word i goes to lane i % 4): order-sensitive within
 * each lane, and four independent chains run about twice as fast as one.
 */
struct ck {
	uint64_t	 a[4], b[4], part;
	unsigned	 np;			/* bytes in part */
	unsigned	 lane;			/* lane of the next whole word */
};

static inline uint64_t
le64(const uint8_t *p)
{
	return (uint64_t)p[0] | (uint64_t)p[1] << 8 | (uint64_t)p[2] << 16 |
	    (uint64_t)p[3] << 24 | (uint64_t)p[4] << 32 | (uint64_t)p[5] << 40 |
	    (uint64_t)p[6] << 48 | (uint64_t)p[7] << 56;
}

static void
put_le64(uint8_t *p, uint64_t v)
{
	for (int i = 0; i < 8; i++)
		p[i] = (uint8_t)(v >> (8 * i));
}

static inline void
ck_word(struct ck *c, uint64_t w)
{
	c->a[c->lane] += w;
	c->b[c->lane] += c->a[c->lane];
	c->lane = (c->lane + 1) & 3;
}

static void
ck_update(struct ck *c, const uint8_t *p, size_t n)
{
	uint64_t a0, a1, a2, a3, b0, b1, b2, b3;
	size_t g, i;

	while (n > 0 && (c->np > 0 || c->lane != 0)) {
		c->part |= (uint64_t)*p++ << (8 * c->np);
		n--;
		if (++c->np == 8) {
			ck_word(c, c->part);
			c->part = 0, c->np = 0;
		}
	}
	a0 = c->a[0], a1 = c->a[1], a2 = c->a[2], a3 = c->a[3];
	b0 = c->b[0], b1 = c->b[1], b2 = c->b[2], b3 = c->b[3];
	for (g = n / 32, i = 0; i < g; i++, p += 32) {
		a0 += le64(p), a1 += le64(p + 8), a2 += le64(p + 16), a3 += le64(p + 24);
		b0 += a0, b1 += a1, b2 += a2, b3 += a3;
	}
	c->a[0] = a0, c->a[1] = a1, c->a[2] = a2, c->a[3] = a3;
	c->b[0] = b0, c->b[1] = b1, c->b[2] = b2, c->b[3] = b3;
	for (n -= 32 * g; n > 0; n--) {
		c->part |= (uint64_t)*p++ << (8 * c->np);
		if (++c->np == 8) {
			ck_word(c, c->part);
			c->part = 0, c->np = 0;
		}
	}
}

/* Fold a partial last word in; the two numbers a sink reports. */
static void
ck_final(struct ck *c, uint64_t *s1, uint64_t *s2)
{
	if (c->np > 0) {
		ck_word(c, c->part);
		c->part = 0, c->np = 0;
	}
	*s1 = *s2 = 0;
	for (int i = 0; i < 4; i++) {
		*s1 = (*s1 << 17 | *s1 >> 47) ^ c->a[i];
		*s2 = (*s2 << 17 | *s2 >> 47) ^ c->b[i];
	}
}

static uint64_t pat_a[4], pat_c[4];	/* per lane: word sum, weighted sum */

static void
make_pattern(void)
{
	uint64_t x = 0x9e3779b97f4a7c15ULL, n = PAT_LEN / 32;

	if ((pattern = malloc(PAT_LEN)) == NULL)
		die("out of memory");
	for (size_t i = 0; i < PAT_LEN; i += 8) {
		x ^= x >> 12, x ^= x << 25, x ^= x >> 27;
		put_le64(pattern + i, x * 0x2545f4914f6cdd1dULL);
	}
	for (uint64_t i = 0; i < n; i++)
		for (int l = 0; l < 4; l++) {
			uint64_t w = le64(pattern + 32 * i + 8 * l);
			pat_a[l] += w;
			pat_c[l] += (n - i) * w;
		}
}

/*
 * The checksum of the first `bytes` bytes of the repeated pattern: whole
 * repetitions in closed form (a block of n words adds n*a + C to b and A
 * to a, per lane), the rest word by word.
 */
static void
ck_expected(uint64_t bytes, uint64_t *s1, uint64_t *s2)
{
	struct ck c = { 0 };
	uint64_t q = bytes / PAT_LEN, n = PAT_LEN / 32;

	for (uint64_t i = 0; i < q; i++)
		for (int l = 0; l < 4; l++) {
			c.b[l] += n * c.a[l] + pat_c[l];
			c.a[l] += pat_a[l];
		}
	ck_update(&c, pattern, bytes % PAT_LEN);
	ck_final(&c, s1, s2);
}

/* ---- addresses and sockets ------------------------------------------ */

static void
parse_addr(const char *s, struct sockaddr_in *sin)
{
	char host[64];
	const char *colon = strrchr(s, ':');
	long port;

	if (colon == NULL || (size_t)(colon - s) >= sizeof host)
		die("bad address %s (want IPv4:PORT)", s);
	memcpy(host, s, colon - s);
	host[colon - s] = '\0';
	port = strtol(colon + 1, NULL, 10);
	memset(sin, 0, sizeof *sin);
	sin->sin_family = AF_INET;
	sin->sin_port = htons((uint16_t)port);
	if (port < 0 || port > 65535 || inet_pton(AF_INET, host, &sin->sin_addr) != 1)
		die("bad address %s (want IPv4:PORT)", s);
}

static uint64_t
parse_size(const char *s)
{
	char *end;
	double v = strtod(s, &end);

	switch (*end) {
	case 'k': case 'K': v *= 1024; break;
	case 'm': case 'M': v *= 1024 * 1024; break;
	case 'g': case 'G': v *= 1024.0 * 1024 * 1024; break;
	case '\0': break;
	default: die("bad size %s", s);
	}
	if (v < 0)
		die("bad size %s", s);
	return (uint64_t)v;
}

static struct sockaddr_in dest, proxy;
static int use_proxy, socks5, http;
static const char *login;		/* -U USER:PASS */
static char http_req[96];		/* -H: the CONNECT request, made once */
static size_t http_req_len;

/* A nonblocking socket with a connect() under way: to the proxy or to DEST. */
static int
start_connect(void)
{
	const struct sockaddr_in *to = use_proxy ? &proxy : &dest;
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);

	if (fd == -1)
		return -1;
	if (connect(fd, (const struct sockaddr *)to, sizeof *to) == -1 &&
	    errno != EINPROGRESS) {
		int e = errno;
		close(fd);
		errno = e;
		return -1;
	}
	return fd;
}

/* The SOCKS4 CONNECT request for DEST, user id empty: 9 bytes. */
static void
socks_request(uint8_t req[9])
{
	req[0] = 4, req[1] = 1;
	memcpy(req + 2, &dest.sin_port, 2);
	memcpy(req + 4, &dest.sin_addr, 4);
	req[8] = 0;
}

/* -H: "CONNECT A.B.C.D:PORT HTTP/1.1", Host the same, into http_req. */
static void
http_request(void)
{
	char ip[INET_ADDRSTRLEN], target[INET_ADDRSTRLEN + 6];
	int n;

	inet_ntop(AF_INET, &dest.sin_addr, ip, sizeof ip);
	snprintf(target, sizeof target, "%s:%u", ip, ntohs(dest.sin_port));
	n = snprintf(http_req, sizeof http_req,
	    "CONNECT %s HTTP/1.1\r\nHost: %s\r\n\r\n", target, target);
	if (n < 0 || (size_t)n >= sizeof http_req)
		die("HTTP request too long");
	http_req_len = (size_t)n;
}

/* SOCKS5 greeting: one method offered, 02 with a login, else 00. */
static size_t
socks5_greeting(uint8_t m[3])
{
	m[0] = 5;
	m[1] = 1;
	m[2] = login != NULL ? 2 : 0;
	return 3;
}

/* RFC 1929 username/password request (-U checked the lengths). */
static size_t
socks5_login(uint8_t m[513])
{
	const char *colon = strchr(login, ':');
	size_t ulen = colon - login, plen = strlen(colon + 1);

	m[0] = 1;
	m[1] = (uint8_t)ulen;
	memcpy(m + 2, login, ulen);
	m[2 + ulen] = (uint8_t)plen;
	memcpy(m + 3 + ulen, colon + 1, plen);
	return 3 + ulen + plen;
}

/* SOCKS5 request CMD for an IPv4 address: 10 bytes. */
static size_t
socks5_request(uint8_t m[10], int cmd, const struct sockaddr_in *to)
{
	m[0] = 5;
	m[1] = (uint8_t)cmd;
	m[2] = 0;
	m[3] = 1;		/* ATYP: IPv4 */
	memcpy(m + 4, &to->sin_addr, 4);
	memcpy(m + 8, &to->sin_port, 2);
	return 10;
}

/* The length of a SOCKS5 reply from its first 5 bytes; 0 if no ATYP fits. */
static size_t
socks5_reply_len(const uint8_t r[5])
{
	switch (r[3]) {
	case 1: return 10;
	case 3: return 7 + (size_t)r[4];
	case 4: return 22;
	}
	return 0;
}

static void
make_header(uint8_t h[HDR_LEN], int mode, int flags, uint64_t count)
{
	memcpy(h, "LTv1", 4);
	h[4] = (uint8_t)mode, h[5] = (uint8_t)flags, h[6] = h[7] = 0;
	put_le64(h + 8, count);
}

/* ---- the client side: one state machine for stream, rate and idle ---- */

enum {
	C_FREE, C_CONNECTING, C_METHOD, C_AUTH, C_HEAD, C_REPLY, C_READY, /* handshake */
	C_SEND, C_REPORT, C_RECV,		/* stream */
	C_ECHO, C_EOF,				/* rate and idle */
	C_IDLE, C_DONE
};

struct conn {
	int		 fd, state, reg;
	uint32_t	 events;
	long long	 deadline;		/* ms */
	uint8_t		 small[MSG_LEN];	/* reply, report, echo */
	size_t		 have, need;		/* of the proxy's answer (-H: need
						   counts the bytes of its
						   "\r\n\r\n" matched) */
	uint8_t		 hdr[HDR_LEN];
	size_t		 hdr_sent;
	uint64_t	 sent, got;
	size_t		 msg_sent;
	struct ck	 ck;
};

static int epfd = -1;
static struct conn *conns;
static int mode_reverse, mode_nock;
static uint64_t stream_bytes;
static uint8_t echo_msg[MSG_LEN];

static void
want(struct conn *c, uint32_t ev)
{
	struct epoll_event e = { .events = ev, .data.ptr = c };

	if (c->reg && c->events == ev)
		return;
	if (epoll_ctl(epfd, c->reg ? EPOLL_CTL_MOD : EPOLL_CTL_ADD, c->fd, &e) == -1)
		die("epoll_ctl: %s", strerror(errno));
	c->events = ev, c->reg = 1;
}

static void
conn_close(struct conn *c, int state)
{
	if (c->fd != -1) {
		epoll_ctl(epfd, EPOLL_CTL_DEL, c->fd, NULL);
		close(c->fd);
	}
	c->fd = -1, c->events = 0, c->reg = 0, c->state = state;
}

static int
conn_open(struct conn *c)
{
	memset(c, 0, sizeof *c);
	if ((c->fd = start_connect()) == -1) {
		complain("connect: %s", strerror(errno));
		c->state = C_DONE;
		return -1;
	}
	c->state = C_CONNECTING;
	c->deadline = now_ms() + SESSION_MS;
	want(c, EPOLLOUT);
	return 0;
}

/*
 * Send a handshake message, whole (it is small and the socket fresh), and
 * wait in STATE for the first NEED bytes of the answer.  0, or -1 failed.
 */
static int
ask(struct conn *c, const uint8_t *m, size_t len, int state, size_t need)
{
	if (write(c->fd, m, len) != (ssize_t)len) {
		complain("request: %s", strerror(errno));
		return -1;
	}
	c->state = state;
	c->have = 0;
	c->need = need;
	want(c, EPOLLIN);
	return 0;
}

/* The proxy's answer is in: check it, ask the next question.  As below. */
static int
answered(struct conn *c)
{
	uint8_t m[513];
	size_t len;

	switch (c->state) {
	case C_METHOD:
		if (c->small[0] != 5 || c->small[1] != (login != NULL ? 2 : 0)) {
			complain("proxy chose method %u %u", c->small[0], c->small[1]);
			return -1;
		}
		if (login != NULL)
			return ask(c, m, socks5_login(m), C_AUTH, 2);
		return ask(c, m, socks5_request(m, 1, &dest), C_REPLY, 5);
	case C_AUTH:
		if (c->small[0] != 1 || c->small[1] != 0) {
			complain("login refused: %u %u", c->small[0], c->small[1]);
			return -1;
		}
		return ask(c, m, socks5_request(m, 1, &dest), C_REPLY, 5);
	}
	if (!socks5) {
		if (c->small[0] != 0 || c->small[1] != 90) {
			complain("proxy replied %u %u, not 0 90", c->small[0], c->small[1]);
			return -1;
		}
	} else if (c->small[0] != 5 || c->small[1] != 0) {
		complain("proxy replied %u %u, not 5 0", c->small[0], c->small[1]);
		return -1;
	} else if (c->need == 5) {	/* now the address type tells the rest */
		len = socks5_reply_len(c->small);
		if (len == 0 || len > sizeof c->small) {
			complain("proxy replied with address type %u", c->small[3]);
			return -1;
		}
		c->need = len;
		return 0;
	}
	c->state = C_READY;
	c->have = 0;
	return 1;
}

/* The length of the status line among the first bytes of a response head. */
static int
status_len(const struct conn *c)
{
	size_t n = c->have < sizeof c->small ? c->have : sizeof c->small, i;

	for (i = 0; i < n && c->small[i] != '\r' && c->small[i] != '\n'; i++)
		;
	return (int)i;
}

/*
 * -H: the proxy's response head, read up to its blank line, HTTP_HEAD_MAX
 * bytes at most, its first bytes kept in small.  Nothing may follow it yet:
 * the sink speaks only when spoken to.  As handshake_step.
 */
static int
head_step(struct conn *c)
{
	static const char blank[4] = "\r\n\r\n";
	char buf[HTTP_HEAD_MAX];
	ssize_t n = read(c->fd, buf, HTTP_HEAD_MAX - c->have), i;

	if (n == -1 && (errno == EAGAIN || errno == EINTR))
		return 0;
	if (n <= 0) {
		complain("proxy closed after %zu bytes of its response head%s%s: \"%.*s\"",
		    c->have, n ? ": " : "", n ? strerror(errno) : "", status_len(c),
		    c->small);
		return -1;
	}
	for (i = 0; i < n && c->need < sizeof blank; i++)
		c->need = buf[i] == blank[c->need] ? c->need + 1 : buf[i] == '\r';
	if (c->have < sizeof c->small)	/* for a complaint */
		memcpy(c->small + c->have, buf, (size_t)n < sizeof c->small - c->have ?
		    (size_t)n : sizeof c->small - c->have);
	c->have += n;
	if (c->need < sizeof blank) {
		if (c->have < HTTP_HEAD_MAX)
			return 0;
		complain("response head over %d bytes: \"%.*s\"", HTTP_HEAD_MAX,
		    status_len(c), c->small);
		return -1;
	}
	if (c->have < 13 || memcmp(c->small, "HTTP/1.1 200 ", 13) != 0) {
		complain("proxy answered \"%.*s\"", status_len(c), c->small);
		return -1;
	}
	if (i < n) {
		complain("%zd bytes behind the response head", n - i);
		return -1;
	}
	c->state = C_READY;
	c->have = 0;
	return 1;
}

/*
 * The handshake: connected, then (through a proxy) SOCKS4's request out and
 * its 8-byte reply in, SOCKS5's greeting, login and request, each answer
 * awaited, or HTTP's CONNECT out and its response head in.  1 when ready,
 * 0 in progress, -1 failed.
 */
static int
handshake_step(struct conn *c)
{
	uint8_t m[9];
	int err = 0;
	socklen_t len = sizeof err;
	ssize_t n;

	if (c->state == C_CONNECTING) {
		if (getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &err, &len) == -1 || err != 0) {
			complain("connect: %s", strerror(err ? err : errno));
			return -1;
		}
		if (!use_proxy)
			return c->state = C_READY, 1;
		if (socks5)
			return ask(c, m, socks5_greeting(m), C_METHOD, 2);
		if (http)
			return ask(c, (const uint8_t *)http_req, http_req_len, C_HEAD, 0);
		socks_request(m);
		return ask(c, m, sizeof m, C_REPLY, 8);
	}
	if (c->state == C_HEAD)
		return head_step(c);
	/* Read no further than the answer; nothing follows it yet. */
	n = read(c->fd, c->small + c->have, c->need - c->have);
	if (n == -1 && (errno == EAGAIN || errno == EINTR))
		return 0;
	if (n <= 0) {
		complain("proxy closed before its reply%s%s", n ? ": " : "",
		    n ? strerror(errno) : "");
		return -1;
	}
	if ((c->have += n) < c->need)
		return 0;
	return answered(c);
}

/* Between connect() and the proxy's last answer. */
static int
in_handshake(const struct conn *c)
{
	return c->state >= C_CONNECTING && c->state <= C_REPLY;
}

/* ---- stream: N parallel bulk transfers -------------------------------- */

static void
stream_begin(struct conn *c)
{
	make_header(c->hdr, mode_reverse ? M_SOURCE : M_SINK, mode_nock ? FLAG_NOCK : 0,
	    stream_bytes);
	c->hdr_sent = 0, c->sent = c->got = 0, c->have = 0;
	memset(&c->ck, 0, sizeof c->ck);
	c->state = C_SEND;
	want(c, EPOLLOUT);
}

/* 1 finished and verified, 0 in progress, -1 failed. */
static int
stream_step(struct conn *c, uint8_t *buf, const uint64_t expect[2])
{
	uint64_t s1, s2;
	ssize_t n;
	int i;

	if (c->state == C_SEND) {
		for (i = 0; i < 64; i++) {
			if (c->hdr_sent < HDR_LEN)
				n = write(c->fd, c->hdr + c->hdr_sent, HDR_LEN - c->hdr_sent);
			else if (!mode_reverse && c->sent < stream_bytes) {
				size_t off = c->sent % PAT_LEN, len = PAT_LEN - off;
				if (len > IO_MAX)
					len = IO_MAX;
				if (len > stream_bytes - c->sent)
					len = stream_bytes - c->sent;
				n = write(c->fd, pattern + off, len);
			} else
				break;
			if (n == -1 && (errno == EAGAIN || errno == EINTR))
				return 0;
			if (n <= 0) {
				complain("send: %s", strerror(errno));
				return -1;
			}
			if (c->hdr_sent < HDR_LEN)
				c->hdr_sent += n;
			else
				c->sent += n;
		}
		if (c->hdr_sent < HDR_LEN || (!mode_reverse && c->sent < stream_bytes))
			return 0;
		if (!mode_reverse)
			shutdown(c->fd, SHUT_WR);
		c->state = mode_reverse ? C_RECV : C_REPORT;
		want(c, EPOLLIN);
		return 0;
	}
	for (i = 0; i < 64; i++) {
		if (c->state == C_REPORT)
			n = read(c->fd, c->small + c->have, sizeof c->small - c->have);
		else
			n = read(c->fd, buf, IO_MAX);
		if (n == -1 && (errno == EAGAIN || errno == EINTR))
			return 0;
		if (n == -1) {
			complain("receive: %s", strerror(errno));
			return -1;
		}
		if (n == 0)
			break;
		if (c->state == C_REPORT)
			c->have += n;
		else {
			c->got += n;
			if (!mode_nock)
				ck_update(&c->ck, buf, n);
		}
	}
	if (i == 64)
		return 0;
	/* EOF: now every byte must be accounted for. */
	if (c->state == C_REPORT) {
		if (c->have != REPORT_LEN) {
			complain("sink report is %zu bytes, not %d", c->have, REPORT_LEN);
			return -1;
		}
		c->got = le64(c->small);
		s1 = le64(c->small + 8), s2 = le64(c->small + 16);
	} else
		ck_final(&c->ck, &s1, &s2);
	if (c->got != stream_bytes) {
		complain("%llu bytes arrived, %llu were sent", (unsigned long long)c->got,
		    (unsigned long long)stream_bytes);
		return -1;
	}
	if (!mode_nock && (s1 != expect[0] || s2 != expect[1])) {
		complain("checksum mismatch after %llu bytes", (unsigned long long)c->got);
		return -1;
	}
	return 1;
}

static int
run_stream(int n, int timeout)
{
	struct epoll_event ev[64];
	uint64_t expect[2];
	uint8_t *buf = malloc(IO_MAX);
	long long t0 = 0, t1, deadline = now_ms() + timeout * 1000LL;
	int ready = 0, done = 0, failed = 0, k, r;

	if (buf == NULL)
		die("out of memory");
	ck_expected(stream_bytes, &expect[0], &expect[1]);
	for (int i = 0; i < n; i++)
		if (conn_open(&conns[i]) == -1)
			failed++;
	/* Phase 1: every stream through its handshake; then the clock starts. */
	while (ready + failed < n && !stop) {
		if (now_ms() > deadline)
			die("handshakes not done within %d s", timeout);
		k = epoll_wait(epfd, ev, 64, 1000);
		for (int i = 0; i < k; i++) {
			struct conn *c = ev[i].data.ptr;
			if (!in_handshake(c))
				continue;
			if ((r = handshake_step(c)) == 1)
				ready++, want(c, 0);	/* quiet until the start */
			else if (r == -1)
				failed++, conn_close(c, C_DONE);
		}
	}
	t0 = now_us();
	for (int i = 0; i < n; i++)
		if (conns[i].state == C_READY)
			stream_begin(&conns[i]);
	/* Phase 2: the payload, then each stream's proof. */
	while (done + failed < n && !stop) {
		if (now_ms() > deadline) {
			complain("transfer not done within %d s", timeout);
			failed = n - done;
			break;
		}
		k = epoll_wait(epfd, ev, 64, 1000);
		for (int i = 0; i < k; i++) {
			struct conn *c = ev[i].data.ptr;
			if ((r = stream_step(c, buf, expect)) == 1)
				done++, conn_close(c, C_DONE);
			else if (r == -1)
				failed++, conn_close(c, C_DONE);
		}
	}
	t1 = now_us();
	double secs = (t1 - t0) / 1e6, total = (double)stream_bytes * done;
	struct rusage ru;	/* the client's own CPU, for what the whole path costs */
	getrusage(RUSAGE_SELF, &ru);
	printf("mode=stream streams=%d bytes_each=%llu verified=%d failed=%d secs=%.3f "
	    "gbps=%.3f gibps=%.3f checksum=%s direction=%s cpu_s=%.3f\n", n,
	    (unsigned long long)stream_bytes, done, failed, secs, total / secs / 1e9,
	    total / secs / 1073741824.0, mode_nock ? "off" : "on",
	    mode_reverse ? "download" : "upload",
	    ru.ru_utime.tv_sec + ru.ru_stime.tv_sec +
	    (ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e6);
	return failed == 0 && done == n ? 0 : 1;
}

/* ---- rate: full sessions, C at a time, for T seconds --------------------- */

static int eof_step(struct conn *);

/* 1 session complete and verified, 0 in progress, -1 failed. */
static int
echo_step(struct conn *c)
{
	ssize_t n;

	if (c->state == C_READY) {
		c->state = C_ECHO, c->msg_sent = 0, c->have = 0;
		want(c, EPOLLIN | EPOLLOUT);
	}
	if (c->msg_sent < sizeof echo_msg) {
		n = write(c->fd, echo_msg + c->msg_sent, sizeof echo_msg - c->msg_sent);
		if (n > 0)
			c->msg_sent += n;
		else if (n == -1 && errno != EAGAIN && errno != EINTR) {
			complain("echo send: %s", strerror(errno));
			return -1;
		}
		if (c->msg_sent == sizeof echo_msg)
			want(c, EPOLLIN);
	}
	n = read(c->fd, c->small + c->have, sizeof echo_msg - c->have);
	if (n == -1 && (errno == EAGAIN || errno == EINTR))
		return 0;
	if (n <= 0) {
		complain("echo: %s after %zu bytes", n ? strerror(errno) : "EOF", c->have);
		return -1;
	}
	if ((c->have += n) < sizeof echo_msg)
		return 0;
	if (memcmp(c->small, echo_msg, sizeof echo_msg) != 0) {
		complain("echo came back altered");
		return -1;
	}
	if (!(echo_msg[5] & FLAG_CLOSE))
		return 1;
	c->state = C_EOF;
	return eof_step(c);
}

/* Rate sessions end when the server's close has come through: 1. */
static int
eof_step(struct conn *c)
{
	uint8_t extra;
	ssize_t n = read(c->fd, &extra, 1);

	if (n == -1 && (errno == EAGAIN || errno == EINTR))
		return 0;
	if (n != 0) {
		complain("echo: %s instead of EOF", n > 0 ? "more bytes" : strerror(errno));
		return -1;
	}
	return 1;
}

/* Advance one connection; 1 a session completed, -1 failed, 0 otherwise. */
static int
session_step(struct conn *c)
{
	int r;

	if (in_handshake(c)) {
		if ((r = handshake_step(c)) != 1)
			return r;
	}
	return c->state == C_EOF ? eof_step(c) : echo_step(c);
}

static int
run_rate(int n, int secs)
{
	struct epoll_event ev[64];
	long long t0 = now_ms(), t_end = t0 + secs * 1000LL, last_check = t0, now;
	unsigned long long ok = 0, late = 0, failed = 0;
	int active = 0, k, r;

	/*
	 * The server closes first, as an HTTP/1.0 server does: TIME_WAIT stays
	 * on its side, and a proxy's outgoing ports are free again at once (a
	 * proxy that binds before it connects, as danted does, would run out
	 * of them otherwise).  The session ends when that close reaches us.
	 */
	echo_msg[5] |= FLAG_CLOSE;
	for (int i = 0; i < n; i++)
		if (conn_open(&conns[i]) == 0)
			active++;
		else
			failed++;
	while (active > 0) {
		k = epoll_wait(epfd, ev, 64, 50);
		now = now_ms();
		for (int i = 0; i < k; i++) {
			struct conn *c = ev[i].data.ptr;
			if (c->state == C_FREE || c->state == C_DONE)
				continue;
			if ((r = session_step(c)) == 0)
				continue;
			conn_close(c, C_DONE);
			active--;
			if (r == 1 && now <= t_end)
				ok++;
			else if (r == 1)
				late++;
			else
				failed++;
			if (now < t_end && !stop) {
				if (conn_open(c) == 0)
					active++;
				else
					failed++;
			}
		}
		if (now - last_check >= 50) {
			last_check = now;
			for (int i = 0; i < n; i++)
				if (conns[i].fd != -1 && conns[i].state != C_DONE &&
				    now > conns[i].deadline) {
					complain("session took longer than %d ms", SESSION_MS);
					conn_close(&conns[i], C_DONE);
					active--, failed++;
				}
		}
		if (stop)
			t_end = now < t_end ? now : t_end;
	}
	double elapsed = (t_end - t0) / 1000.0;
	printf("mode=rate clients=%d secs=%.3f sessions=%llu failed=%llu late=%llu rate=%.1f\n",
	    n, elapsed, ok, failed, late, ok / elapsed);
	return failed == 0 ? 0 : 1;
}

/* ---- idle: hold K relayed sessions open until told -------------------- */

static int
run_idle(int n, int hold)
{
	struct epoll_event ev[64];
	long long deadline = now_ms() + (SESSION_MS + n * 20LL), now;
	int next = 0, opening = 0, idle = 0, failed = 0, dropped = 0, k, r;
	char line[64];
	ssize_t got;

	/* The 100-byte message goes both ways, so each relay has really run. */
	while (idle + failed < n) {
		while (next < n && opening < 64) {
			if (conn_open(&conns[next++]) == 0)
				opening++;
			else
				failed++;
		}
		if ((now = now_ms()) > deadline) {
			complain("%d sessions not idle in time", n - idle - failed);
			failed = n - idle;
			break;
		}
		k = epoll_wait(epfd, ev, 64, 200);
		for (int i = 0; i < k; i++) {
			struct conn *c = ev[i].data.ptr;
			if (c->state == C_IDLE || c->state == C_DONE)
				continue;
			if ((r = session_step(c)) == 0)
				continue;
			opening--;
			if (r == 1) {
				idle++, c->state = C_IDLE;
				want(c, EPOLLIN);	/* to notice a drop */
			} else
				failed++, conn_close(c, C_DONE);
		}
	}
	printf("mode=idle state=ready sessions=%d failed=%d\n", idle, failed);
	fflush(stdout);
	/* Hold until a line or EOF on stdin, a signal, or the hold limit. */
	deadline = now_ms() + hold * 1000LL;
	while (!stop && (now = now_ms()) < deadline) {
		struct pollfd p = { .fd = 0, .events = POLLIN };
		if (poll(&p, 1, 200) == 1) {
			got = read(0, line, sizeof line);
			if (got <= 0 || memchr(line, '\n', got) != NULL)
				break;
		}
		k = epoll_wait(epfd, ev, 64, 0);
		for (int i = 0; i < k; i++) {
			struct conn *c = ev[i].data.ptr;
			if (c->state == C_IDLE)
				dropped++, conn_close(c, C_DONE);
		}
	}
	for (int i = 0; i < n; i++)
		if (conns[i].fd != -1)
			conn_close(&conns[i], C_DONE);
	printf("mode=idle state=released sessions=%d failed=%d dropped=%d\n", idle, failed,
	    dropped);
	return failed == 0 && dropped == 0 ? 0 : 1;
}

/* ---- startup: connect() to the 8-byte reply, one at a time --------------- */

static int
cmp_ll(const void *a, const void *b)
{
	long long x = *(const long long *)a, y = *(const long long *)b;

	return x < y ? -1 : x > y;
}

static int
run_startup(int m)
{
	long long *t = calloc(m, sizeof *t);
	int ok = 0, failed = 0;
	uint8_t req[9], rep[8];

	if (t == NULL)
		die("out of memory");
	socks_request(req);
	for (int i = 0; i < m && !stop; i++) {
		long long t0 = now_us(), deadline = t0 / 1000 + SESSION_MS;
		struct pollfd p = { .events = POLLOUT };
		size_t have = 0;
		int err = 0;
		socklen_t len = sizeof err;
		ssize_t n;

		if ((p.fd = start_connect()) == -1) {
			complain("connect: %s", strerror(errno));
			failed++;
			continue;
		}
		if (poll(&p, 1, SESSION_MS) != 1 ||
		    getsockopt(p.fd, SOL_SOCKET, SO_ERROR, &err, &len) == -1 || err ||
		    write(p.fd, req, sizeof req) != sizeof req) {
			complain("connect or request failed: %s", strerror(err ? err : errno));
			close(p.fd);
			failed++;
			continue;
		}
		p.events = POLLIN;
		while (have < 8 && now_ms() < deadline) {
			if (poll(&p, 1, (int)(deadline - now_ms()) + 1) != 1)
				continue;
			n = read(p.fd, rep + have, 8 - have);
			if (n == 0 || (n == -1 && errno != EAGAIN && errno != EINTR))
				break;
			if (n > 0)
				have += n;
		}
		long long t1 = now_us();
		close(p.fd);
		if (have < 8 || rep[0] != 0 || rep[1] != 90) {
			complain("no 90 reply");
			failed++;
			continue;
		}
		t[ok++] = t1 - t0;
	}
	if (ok == 0) {
		printf("mode=startup samples=0 failed=%d\n", failed);
		return 1;
	}
	qsort(t, ok, sizeof *t, cmp_ll);
	long long sum = 0;
	for (int i = 0; i < ok; i++)
		sum += t[i];
	printf("mode=startup samples=%d failed=%d median_us=%lld p10_us=%lld p90_us=%lld "
	    "mean_us=%lld\n", ok, failed, t[ok / 2], t[ok / 10], t[ok * 9 / 10], sum / ok);
	return failed == 0 ? 0 : 1;
}

/* ---- udp: datagrams through a UDP ASSOCIATE, or straight to the echo ---- */

#define UDP_DRAIN_MS	500		/* after the last send, for late echoes */
#define UDP_STALL_MS	100		/* a full window silent this long is lost */

/* Exactly LEN bytes from FD by DEADLINE (ms): 0, or -1. */
static int
read_full(int fd, uint8_t *buf, size_t len, long long deadline)
{
	struct pollfd p = { .fd = fd, .events = POLLIN };
	size_t have = 0;
	ssize_t n;

	while (have < len) {
		long long left = deadline - now_ms();
		if (left <= 0 || poll(&p, 1, (int)left) != 1)
			return -1;
		n = read(fd, buf + have, len - have);
		if (n == 0 || (n == -1 && errno != EAGAIN && errno != EINTR))
			return -1;
		if (n > 0)
			have += n;
	}
	return 0;
}

/* Send all of a small message and read the first LEN bytes of the answer. */
static int
exchange(int fd, const uint8_t *m, size_t mlen, uint8_t *ans, size_t len, long long deadline)
{
	if (write(fd, m, mlen) != (ssize_t)mlen)
		return -1;
	return read_full(fd, ans, len, deadline);
}

/*
 * Through PROXY: greeting, login with -U, and UDP ASSOCIATE naming the
 * address our datagrams come from (ME).  Returns the TCP connection, which
 * holds the association open; the relay's address goes to RELAY.
 */
static int
udp_associate(const struct sockaddr_in *me, struct sockaddr_in *relay)
{
	uint8_t m[513], r[10];
	long long deadline = now_ms() + SESSION_MS;
	struct pollfd p = { .events = POLLOUT };
	int err = 0;
	socklen_t len = sizeof err;

	if ((p.fd = start_connect()) == -1 || poll(&p, 1, SESSION_MS) != 1 ||
	    getsockopt(p.fd, SOL_SOCKET, SO_ERROR, &err, &len) == -1 || err != 0)
		die("connect to the proxy: %s", strerror(err ? err : errno));
	if (exchange(p.fd, m, socks5_greeting(m), r, 2, deadline) == -1 || r[0] != 5 ||
	    r[1] != (login != NULL ? 2 : 0))
		die("proxy refused the greeting");
	if (login != NULL && (exchange(p.fd, m, socks5_login(m), r, 2, deadline) == -1 ||
	    r[1] != 0))
		die("proxy refused the login");
	if (exchange(p.fd, m, socks5_request(m, 3, me), r, 5, deadline) == -1 || r[0] != 5 ||
	    r[1] != 0)
		die("UDP ASSOCIATE refused (reply %u)", r[1]);
	if (r[3] != 1 || read_full(p.fd, r + 5, 5, deadline) == -1)
		die("UDP ASSOCIATE reply with address type %u", r[3]);
	memset(relay, 0, sizeof *relay);
	relay->sin_family = AF_INET;
	memcpy(&relay->sin_addr, r + 4, 4);
	memcpy(&relay->sin_port, r + 8, 2);
	if (relay->sin_addr.s_addr == htonl(INADDR_ANY))
		relay->sin_addr = proxy.sin_addr;
	return p.fd;
}

/*
 * An echo of one of the SENT datagrams not seen before, whole, from DEST
 * (in the SOCKS5 header, when HL is not 0): 1, and marked seen.
 */
static int
echo_intact(const uint8_t *in, size_t n, size_t hl, size_t size, uint64_t sent,
    uint8_t *seen)
{
	static const uint8_t head[4] = { 0, 0, 0, 1 };
	uint64_t seq;

	if (n != hl + size)
		return 0;
	if (hl != 0 && (memcmp(in, head, 4) != 0 || memcmp(in + 4, &dest.sin_addr, 4) != 0 ||
	    memcmp(in + 8, &dest.sin_port, 2) != 0))
		return 0;
	seq = le64(in + hl);
	if (seq >= sent || (seen[seq / 8] & 1 << seq % 8) ||
	    memcmp(in + hl + 8, pattern, size - 8) != 0)
		return 0;
	seen[seq / 8] |= 1 << seq % 8;
	return 1;
}

static int
run_udp(int secs, size_t size, long long window)
{
	struct sockaddr_in me = { .sin_family = AF_INET }, to = dest;
	socklen_t len = sizeof me;
	size_t hl = use_proxy ? UDP_HDR5 : 0;
	uint64_t sent = 0, echoed = 0, lost_early = 0, bad = 0, cap = secs * 4000000ULL;
	uint8_t *out = malloc(UDP_HDR5 + UDP_MAX), *in = malloc(UDP_MAX + 1);
	uint8_t *seen = calloc(cap / 8 + 1, 1);
	long long t0, t_end, last_echo, now;
	int fd, tcp = -1;
	ssize_t n;

	if (out == NULL || in == NULL || seen == NULL)
		die("out of memory");
	if (size < 8 || size + hl > UDP_MAX)
		die("datagram size %zu: from 8 to %zu bytes", size, UDP_MAX - hl);
	me.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if ((fd = socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0)) == -1 ||
	    bind(fd, (struct sockaddr *)&me, sizeof me) == -1 ||
	    getsockname(fd, (struct sockaddr *)&me, &len) == -1)
		die("UDP socket: %s", strerror(errno));
	if (use_proxy)
		tcp = udp_associate(&me, &to);
	if (connect(fd, (struct sockaddr *)&to, sizeof to) == -1)
		die("UDP connect: %s", strerror(errno));
	/* The RFC's header: RSV, FRAG 0, ATYP 1, DEST; then sequence, pattern. */
	if (hl != 0) {
		memset(out, 0, hl);
		out[3] = 1;
		memcpy(out + 4, &dest.sin_addr, 4);
		memcpy(out + 8, &dest.sin_port, 2);
	}
	memcpy(out + hl + 8, pattern, size - 8);
	t0 = last_echo = now_ms();
	t_end = t0 + secs * 1000LL;
	while (!stop && (now = now_ms()) < t_end + UDP_DRAIN_MS && (now < t_end || echoed < sent)) {
		long long open_now = (long long)(sent - echoed - lost_early);
		int more;

		for (int i = 0; i < 64 && now < t_end && sent < cap &&
		    (window == 0 || open_now < window); i++, open_now++) {
			put_le64(out + hl, sent);
			if (send(fd, out, hl + size, 0) == -1)
				break;
			sent++;
		}
		more = now < t_end && (window == 0 || open_now < window);
		struct pollfd p = { .fd = fd, .events = POLLIN };
		poll(&p, 1, more ? 0 : 10);
		while ((n = recv(fd, in, UDP_MAX + 1, 0)) >= 0) {
			if (echo_intact(in, (size_t)n, hl, size, sent, seen)) {
				echoed++;
				last_echo = now_ms();
			} else
				bad++;
		}
		/* A window that has gone silent was lost: open it again. */
		if (window != 0 && open_now >= window && now_ms() - last_echo > UDP_STALL_MS) {
			lost_early = sent - echoed;
			last_echo = now_ms();
		}
	}
	if (tcp != -1)
		close(tcp);
	printf("mode=udp size=%zu window=%lld secs=%d sent=%llu echoed=%llu bad=%llu dgps=%.0f "
	    "loss_pct=%.3f\n", size, window, secs, (unsigned long long)sent,
	    (unsigned long long)echoed, (unsigned long long)bad, echoed / (double)secs,
	    sent ? 100.0 * (sent - echoed) / sent : 100.0);
	return echoed > 0 && bad == 0 ? 0 : 1;
}

/* ---- serve: sink, source and echo ----------------------------------------- */

struct sconn {
	int		 fd, mode, flags, state;
	uint32_t	 events;
	uint8_t		 hdr[HDR_LEN];
	size_t		 hlen;
	uint64_t	 count, done;
	struct ck	 ck;
	uint8_t		*ebuf;			/* echo: pending bytes */
	size_t		 eoff, elen;
	uint8_t		 rep[REPORT_LEN];
	size_t		 rep_sent;
	long long	 last;			/* ms of last activity */
};

enum { S_HDR, S_SINK, S_REPORT, S_SOURCE, S_DRAIN, S_ECHO };

static void
swant(struct sconn *c, uint32_t ev)
{
	struct epoll_event e = { .events = ev, .data.ptr = c };

	if (c->events == ev)
		return;
	if (epoll_ctl(epfd, c->events == 0 ? EPOLL_CTL_ADD : EPOLL_CTL_MOD, c->fd, &e) == -1)
		die("epoll_ctl: %s", strerror(errno));
	c->events = ev;
}

static void
sclose(struct sconn *c)
{
	epoll_ctl(epfd, EPOLL_CTL_DEL, c->fd, NULL);
	close(c->fd);
	free(c->ebuf);
	free(c);
}

/* 0 keep going, -1 close it. */
static int
serve_step(struct sconn *c, uint8_t *buf)
{
	ssize_t n;
	int i;

	c->last = now_ms();
	if (c->state == S_HDR) {
		n = read(c->fd, c->hdr + c->hlen, HDR_LEN - c->hlen);
		if (n == -1 && (errno == EAGAIN || errno == EINTR))
			return 0;
		if (n <= 0)
			return -1;		/* e.g. a start-up probe: no header */
		if ((c->hlen += n) < HDR_LEN)
			return 0;
		if (memcmp(c->hdr, "LTv1", 4) != 0)
			return -1;
		c->mode = c->hdr[4], c->flags = c->hdr[5], c->count = le64(c->hdr + 8);
		switch (c->mode) {
		case M_SINK:
			c->state = S_SINK;
			swant(c, EPOLLIN);
			return 0;
		case M_SOURCE:
			c->state = S_SOURCE;
			swant(c, EPOLLOUT);
			return 0;
		case M_ECHO:
			if ((c->ebuf = malloc(ECHO_BUF)) == NULL)
				return -1;
			memcpy(c->ebuf, c->hdr, HDR_LEN);
			c->elen = HDR_LEN, c->eoff = 0;
			c->state = S_ECHO;
			break;
		default:
			return -1;
		}
	}
	switch (c->state) {
	case S_SINK:
		for (i = 0; i < 64; i++) {
			n = read(c->fd, buf, IO_MAX);
			if (n == -1 && (errno == EAGAIN || errno == EINTR))
				return 0;
			if (n == -1)
				return -1;
			if (n == 0)
				break;
			c->done += n;
			if (!(c->flags & FLAG_NOCK))
				ck_update(&c->ck, buf, n);
		}
		if (i == 64)
			return 0;
		uint64_t s1, s2;
		ck_final(&c->ck, &s1, &s2);
		put_le64(c->rep, c->done);
		put_le64(c->rep + 8, s1);
		put_le64(c->rep + 16, s2);
		c->state = S_REPORT;
		swant(c, EPOLLOUT);
		/* FALLTHROUGH */
	case S_REPORT:
		n = write(c->fd, c->rep + c->rep_sent, REPORT_LEN - c->rep_sent);
		if (n == -1 && (errno == EAGAIN || errno == EINTR))
			return 0;
		if (n <= 0)
			return -1;
		return (c->rep_sent += n) == REPORT_LEN ? -1 : 0;
	case S_SOURCE:
		for (i = 0; i < 64 && c->done < c->count; i++) {
			size_t off = c->done % PAT_LEN, len = PAT_LEN - off;
			if (len > IO_MAX)
				len = IO_MAX;
			if (len > c->count - c->done)
				len = c->count - c->done;
			n = write(c->fd, pattern + off, len);
			if (n == -1 && (errno == EAGAIN || errno == EINTR))
				return 0;
			if (n <= 0)
				return -1;
			c->done += n;
		}
		if (c->done < c->count)
			return 0;
		shutdown(c->fd, SHUT_WR);
		c->state = S_DRAIN;
		swant(c, EPOLLIN);
		return 0;
	case S_DRAIN:
		n = read(c->fd, buf, IO_MAX);
		return n == 0 || (n == -1 && errno != EAGAIN && errno != EINTR) ? -1 : 0;
	case S_ECHO:
		for (i = 0; i < 64; i++) {
			if (c->elen > 0) {
				n = write(c->fd, c->ebuf + c->eoff, c->elen);
				if (n == -1 && (errno == EAGAIN || errno == EINTR)) {
					swant(c, EPOLLOUT);
					return 0;
				}
				if (n <= 0)
					return -1;
				c->eoff += n, c->elen -= n, c->done += n;
				if (c->elen == 0 && (c->flags & FLAG_CLOSE) && c->done >= c->count)
					return -1;	/* all echoed: close first */
				continue;
			}
			swant(c, EPOLLIN);
			n = read(c->fd, c->ebuf, ECHO_BUF);
			if (n == -1 && (errno == EAGAIN || errno == EINTR))
				return 0;
			if (n <= 0)
				return -1;	/* EOF: all echoed, close */
			c->eoff = 0, c->elen = n;
		}
		return 0;
	}
	return -1;
}

static int udp_tag;			/* epoll's mark for the UDP echo */

/* Echo what datagrams have come, to their senders; one dropped if the
 * socket will not take it now, as a router would. */
static void
udp_echo(int fd, uint8_t *buf)
{
	struct sockaddr_in from;
	socklen_t len;
	ssize_t n;

	for (int i = 0; i < 64; i++) {
		len = sizeof from;
		n = recvfrom(fd, buf, UDP_MAX, 0, (struct sockaddr *)&from, &len);
		if (n == -1)
			return;
		sendto(fd, buf, n, 0, (struct sockaddr *)&from, len);
	}
}

/* A UDP echo on HOST, any port, in the epoll set; its port. */
static unsigned
udp_listen(const struct sockaddr_in *host)
{
	struct sockaddr_in sin = *host;
	socklen_t len = sizeof sin;
	struct epoll_event e = { .events = EPOLLIN, .data.ptr = &udp_tag };
	int fd = socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);

	sin.sin_port = 0;
	if (fd == -1 || bind(fd, (struct sockaddr *)&sin, sizeof sin) == -1 ||
	    getsockname(fd, (struct sockaddr *)&sin, &len) == -1)
		die("UDP echo: %s", strerror(errno));
	if (epoll_ctl(epfd, EPOLL_CTL_ADD, fd, &e) == -1)
		die("epoll_ctl: %s", strerror(errno));
	udp_tag = fd;
	return ntohs(sin.sin_port);
}

static int
run_serve(const char *addr, int lifetime)
{
	struct sockaddr_in sin;
	socklen_t len = sizeof sin;
	struct epoll_event ev[64], e = { .events = EPOLLIN };
	uint8_t *buf = malloc(IO_MAX);
	long long end = now_ms() + lifetime * 1000LL;
	int lfd, one = 1, k;

	parse_addr(addr, &sin);
	if (buf == NULL)
		die("out of memory");
	if ((lfd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0)) == -1 ||
	    setsockopt(lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one) == -1 ||
	    bind(lfd, (struct sockaddr *)&sin, sizeof sin) == -1 || listen(lfd, 4096) == -1 ||
	    getsockname(lfd, (struct sockaddr *)&sin, &len) == -1)
		die("listen on %s: %s", addr, strerror(errno));
	e.data.ptr = NULL;
	if (epoll_ctl(epfd, EPOLL_CTL_ADD, lfd, &e) == -1)
		die("epoll_ctl: %s", strerror(errno));
	printf("port=%u\n", ntohs(sin.sin_port));
	printf("udp_port=%u\n", udp_listen(&sin));
	fflush(stdout);
	while (!stop && now_ms() < end) {
		k = epoll_wait(epfd, ev, 64, 1000);
		for (int i = 0; i < k; i++) {
			struct sconn *c = ev[i].data.ptr;
			if (ev[i].data.ptr == &udp_tag) {
				udp_echo(udp_tag, buf);
				continue;
			}
			if (c == NULL) {
				for (int j = 0; j < 64; j++) {
					int fd = accept4(lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
					if (fd == -1)
						break;
					if ((c = calloc(1, sizeof *c)) == NULL) {
						close(fd);
						break;
					}
					c->fd = fd, c->state = S_HDR;
					swant(c, EPOLLIN);
				}
				continue;
			}
			if (serve_step(c, buf) == -1)
				sclose(c);
		}
	}
	return 0;
}

/* ---- proc: CPU ticks and memory of process trees ------------------------ */

struct pinfo {
	int		 pid, ppid, mark;
	unsigned long long ticks;		/* utime+stime+cutime+cstime */
};

static int
read_pinfo(int pid, struct pinfo *p)
{
	char path[64], buf[1024], *rp;
	unsigned long long ut, st;
	long long cut, cst;
	int fd;
	ssize_t n;

	snprintf(path, sizeof path, "/proc/%d/stat", pid);
	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) == -1)
		return -1;
	n = read(fd, buf, sizeof buf - 1);
	close(fd);
	if (n <= 0)
		return -1;
	buf[n] = '\0';
	/* Fields after the command, which may hold spaces and parentheses. */
	if ((rp = strrchr(buf, ')')) == NULL ||
	    sscanf(rp + 2, "%*c %d %*s %*s %*s %*s %*s %*s %*s %*s %*s %llu %llu %lld %lld",
	    &p->ppid, &ut, &st, &cut, &cst) != 5)
		return -1;
	p->pid = pid, p->mark = 0;
	p->ticks = ut + st + (unsigned long long)cut + (unsigned long long)cst;
	return 0;
}

/* Sum "Key:   N kB" lines of a /proc file. */
static long long
proc_kb(int pid, const char *file, const char *key)
{
	char path[64], buf[4096], *p;
	size_t klen = strlen(key);
	long long v = 0;
	int fd;
	ssize_t n;

	snprintf(path, sizeof path, "/proc/%d/%s", pid, file);
	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) == -1)
		return 0;
	n = read(fd, buf, sizeof buf - 1);
	close(fd);
	if (n <= 0)
		return 0;
	buf[n] = '\0';
	for (p = buf; (p = strstr(p, key)) != NULL; p += klen)
		if ((p == buf || p[-1] == '\n') && p[klen] == ':')
			v += strtoll(p + klen + 1, NULL, 10);
	return v;
}

/*
 * For the given PIDs and all their descendants: CPU ticks (user+sys of
 * each live process plus what its reaped children used), PSS and page
 * tables, split into the roots themselves and their descendants.
 */
static int
run_proc(int argc, char **argv)
{
	static struct pinfo ps[65536];
	int n = 0, changed = 1, roots = 0, kids = 0;
	unsigned long long ticks = 0;
	long long pss_root = 0, pte_root = 0, pss_kids = 0, pte_kids = 0;
	DIR *d = opendir("/proc");
	struct dirent *de;

	if (d == NULL)
		die("/proc: %s", strerror(errno));
	while ((de = readdir(d)) != NULL && n < 65536) {
		int pid = atoi(de->d_name);
		if (pid > 0 && read_pinfo(pid, &ps[n]) == 0)
			n++;
	}
	closedir(d);
	for (int i = 0; i < n; i++)
		for (int a = 0; a < argc; a++)
			if (ps[i].pid == atoi(argv[a]))
				ps[i].mark = 1;
	while (changed) {		/* mark descendants: 2 */
		changed = 0;
		for (int i = 0; i < n; i++) {
			if (ps[i].mark)
				continue;
			for (int j = 0; j < n; j++)
				if (ps[j].mark && ps[j].pid == ps[i].ppid) {
					ps[i].mark = 2, changed = 1;
					break;
				}
		}
	}
	for (int i = 0; i < n; i++) {
		if (!ps[i].mark)
			continue;
		long long pss = proc_kb(ps[i].pid, "smaps_rollup", "Pss");
		long long pte = proc_kb(ps[i].pid, "status", "VmPTE");
		ticks += ps[i].ticks;
		if (ps[i].mark == 1)
			roots++, pss_root += pss, pte_root += pte;
		else
			kids++, pss_kids += pss, pte_kids += pte;
	}
	printf("mode=proc roots=%d children=%d ticks=%llu clk_tck=%ld root_pss_kib=%lld "
	    "root_pte_kib=%lld child_pss_kib=%lld child_pte_kib=%lld\n", roots, kids, ticks,
	    sysconf(_SC_CLK_TCK), pss_root, pte_root, pss_kids, pte_kids);
	return roots > 0 ? 0 : 1;
}

static int
run_freeport(void)
{
	struct sockaddr_in sin = { .sin_family = AF_INET };
	socklen_t len = sizeof sin;
	int fd = socket(AF_INET, SOCK_STREAM, 0);

	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (fd == -1 || bind(fd, (struct sockaddr *)&sin, sizeof sin) == -1 ||
	    getsockname(fd, (struct sockaddr *)&sin, &len) == -1)
		die("freeport: %s", strerror(errno));
	printf("%u\n", ntohs(sin.sin_port));
	close(fd);
	return 0;
}

static void
usage(void)
{
	fprintf(stderr,
"usage: loadtool serve -l HOST:PORT [-t SECS]\n"
"       loadtool stream [-x PROXY] -d DEST [-n N] [-b BYTES] [-r] [-K] [-t SECS]\n"
"       loadtool rate [-x PROXY] -d DEST [-c C] [-t SECS]\n"
"       loadtool idle [-x PROXY] -d DEST [-k K] [-t HOLD_SECS]\n"
"       loadtool startup -x PROXY -d DEST [-m M]\n"
"       loadtool udp [-x PROXY [-U USER:PASS]] -d DEST [-t SECS] [-s SIZE] [-w W]\n"
"       (stream, rate, idle: -5 for SOCKS5, -U USER:PASS to log in,\n"
"        -H for HTTP CONNECT)\n"
"       loadtool proc PID...\n"
"       loadtool freeport\n");
	exit(2);
}

int
main(int argc, char *argv[])
{
	const char *cmd, *listen_addr = NULL;
	int ch, n = 1, clients = 32, idle = 500, samples = 300, secs = -1;
	long long dgram = 512, window = 64;
	const char *colon;
	struct sigaction sa = { .sa_handler = on_signal };

	if (argc < 2)
		usage();
	cmd = argv[1];
	if (strcmp(cmd, "proc") == 0)
		return argc > 2 ? run_proc(argc - 2, argv + 2) : (usage(), 2);
	if (strcmp(cmd, "freeport") == 0)
		return run_freeport();
	optind = 2;
	stream_bytes = 1 << 30;
	while ((ch = getopt(argc, argv, "5b:c:d:Hk:Kl:m:n:rs:t:U:w:x:")) != -1) {
		switch (ch) {
		case '5': socks5 = 1; break;
		case 'b': stream_bytes = parse_size(optarg); break;
		case 'c': clients = atoi(optarg); break;
		case 'd': parse_addr(optarg, &dest); break;
		case 'H': http = 1; break;
		case 'k': idle = atoi(optarg); break;
		case 'K': mode_nock = 1; break;
		case 'l': listen_addr = optarg; break;
		case 'm': samples = atoi(optarg); break;
		case 'n': n = atoi(optarg); break;
		case 'r': mode_reverse = 1; break;
		case 's': dgram = atoll(optarg); break;
		case 't': secs = atoi(optarg); break;
		case 'U':
			colon = strchr(optarg, ':');
			if (colon == NULL || colon == optarg || colon - optarg > 255 ||
			    colon[1] == '\0' || strlen(colon + 1) > 255)
				die("-U wants USER:PASS, each 1 to 255 bytes");
			login = optarg;
			socks5 = 1;
			break;
		case 'w': window = atoll(optarg); break;
		case 'x': parse_addr(optarg, &proxy), use_proxy = 1; break;
		default: usage();
		}
	}
	if (n < 1 || clients < 1 || idle < 1 || samples < 1 || n > MAX_CONNS ||
	    clients > MAX_CONNS || idle > MAX_CONNS)
		usage();
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);
	make_pattern();
	if ((epfd = epoll_create1(EPOLL_CLOEXEC)) == -1)
		die("epoll: %s", strerror(errno));
	if ((conns = calloc(MAX_CONNS, sizeof *conns)) == NULL)
		die("out of memory");
	for (int i = 0; i < MAX_CONNS; i++)
		conns[i].fd = -1;
	make_header(echo_msg, M_ECHO, 0, MSG_LEN);
	memcpy(echo_msg + HDR_LEN, pattern, MSG_LEN - HDR_LEN);

	if (strcmp(cmd, "serve") == 0) {
		if (listen_addr == NULL)
			usage();
		return run_serve(listen_addr, secs > 0 ? secs : 3600);
	}
	if (dest.sin_family != AF_INET || dest.sin_port == 0 || (use_proxy && proxy.sin_port == 0))
		usage();
	if (http) {		/* through a proxy, and for stream, rate and idle */
		if (!use_proxy || socks5 || (strcmp(cmd, "stream") != 0 &&
		    strcmp(cmd, "rate") != 0 && strcmp(cmd, "idle") != 0))
			usage();
		http_request();
	}
	if (strcmp(cmd, "stream") == 0)
		return run_stream(n, secs > 0 ? secs : 300);
	if (strcmp(cmd, "rate") == 0)
		return run_rate(clients, secs > 0 ? secs : 10);
	if (strcmp(cmd, "idle") == 0)
		return run_idle(idle, secs > 0 ? secs : 120);
	if (strcmp(cmd, "udp") == 0) {
		if (dgram < 8 || dgram > UDP_MAX || window < 0)
			usage();
		return run_udp(secs > 0 ? secs : 3, (size_t)dgram, window);
	}
	if (strcmp(cmd, "startup") == 0) {
		if (!use_proxy || socks5)
			usage();
		return run_startup(samples);
	}
	usage();
	return 2;
}
