/*
 * hw4.cgi: a web console that drives up to five remote shells ("ras/rwg"),
 * directly or through a SOCKS4/SOCKS4a server, and streams their output
 * into one HTML page as it arrives.
 *
 * One process per request, started by the web server.  With no session in
 * the query (or with "form" in it) it shows the form, filled in with the
 * query's values and each problem beside its field.  Otherwise one poll()
 * loop drives every session; a session goes
 *	connecting -> SOCKS reply pending -> running -> done
 * (direct sessions skip the SOCKS step).  Whenever a shell's output ends in
 * the "% " prompt, the next line of that session's test file is sent and
 * shown in bold.  After the last line (normally "exit") the session waits
 * for the shell to close.  Each pane's header shows its state (connecting,
 * running, closed, error: why) and the time it took.
 *
 * Query: h1..h5 (host), p1..p5 (port), f1..f5 (test file name),
 * sh1..sh5, sp1..sp5 (SOCKS server; both empty means connect directly).
 * Environment:
 *   HW4_TEST_DIR    where test files live (default test_case/ beside the
 *                   CGI)
 *   HW4_TIMEOUT     seconds without bytes before a session is dropped (30)
 *   HW4_MAX_OUTPUT  bytes of shell output the whole page may carry, as
 *                   escaped for it (4 MiB); past it every session ends
 *   HW4_ALLOW       every place hw4.cgi may reach (allow.c): entries
 *                   ADDR[/BITS][:PORT[-PORT]] or NAME[:PORT[-PORT]],
 *                   separated by spaces or commas.  A direct row's host,
 *                   and a SOCKS row's SOCKS server and the host it asks
 *                   that server for, must each be in it, checked before
 *                   anything is connected to.  Unset, empty or unreadable:
 *                   no row runs, and each pane says how to allow it.
 *
 * SOCKS: h is resolved here (IPv4) and sent as a SOCKS4 request; only when
 * it does not resolve here is it sent as SOCKS4a, so that the SOCKS server
 * resolves it.  See the SOCKS 4 and SOCKS 4A protocol documents.  HW4_ALLOW
 * checks what is sent: the address, or the name (4a).  A host it refuses
 * gets one answer, whether it resolves or not, and whether anything
 * listens there or not: the console is no scanner.
 *
 * The page is written by page.c, and everything from a shell or the query
 * goes through escape.c.  Nothing is written to stderr.
 * SPDX-License-Identifier: ISC
 */

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "allow.h"
#include "hw4.h"
#include "page.h"
#include "testfile.h"

#define BUDGET_DEFAULT	(4L * 1024 * 1024)
#define BUDGET_MAX	(1L << 30)
#define READ_MAX	4096		/* one read, one <script> chunk */
#define TIMEOUT_DEFAULT	30
#define PAGE_MAX	600		/* seconds: no page runs longer */

#define HOST_ATTRS	" pattern=\"[A-Za-z0-9._\\-]+\""
#define PORT_ATTRS	" inputmode=\"numeric\" pattern=\"[0-9]{1,5}\""
#define BUFFER(m)	offsetof(struct session, m), \
			sizeof ((struct session *)0)->m

const struct field_spec fields[NFIELD] = {
	[F_HOST] =	{ "h", "Host", "host", 18, HOST_ATTRS, BUFFER(host) },
	[F_PORT] =	{ "p", "Port", "port", 5, PORT_ATTRS, BUFFER(port) },
	[F_FILE] =	{ "f", "Test file", "test file", 12, " list=\"files\"",
			  BUFFER(file) },
	[F_SHOST] =	{ "sh", "SOCKS host", "SOCKS host", 18, HOST_ATTRS,
			  BUFFER(shost) },
	[F_SPORT] =	{ "sp", "SOCKS port", "SOCKS port", 5, PORT_ATTRS,
			  BUFFER(sport) },
};

static void	read_settings(void);
static void	parse_query(const char *, struct session *, int *);
static int	field_of(const char *, size_t);
static int	decode_value(const char *, size_t, char *, size_t);
static int	hexval(int);
static void	check_row(struct session *);
static const char *check_value(enum field, const char *);
static void	start(struct session *);
static int	target(struct session *, struct sockaddr_in *);
static int	permitted(struct session *, const char *, const char *,
		    const char *, struct sockaddr_in *);
static int	socks_request(struct session *);
static int	load_script(struct session *);
static size_t	bare_newlines(char *, size_t);
static int	resolve(const char *, const char *, struct sockaddr_in *);
static void	run(struct session **, int);
static int	poll_set(struct session **, int, struct pollfd *,
		    struct session **, long long *);
static void	step(struct session *, short, long long);
static int	connected(struct session *, long long);
static void	on_reply(struct session *, const unsigned char *, size_t);
static void	on_output(struct session *, const unsigned char *, size_t);
static void	truncate_all(void);
static void	send_line(struct session *);
static int	flush_out(struct session *);
static void	unreachable(struct session *, int);
static void	fail(struct session *, const char *, ...);
static void	end_session(struct session *, enum end, const char *);
static long long now_ms(void);

static int timeout_s = TIMEOUT_DEFAULT;
static long budget = BUDGET_DEFAULT;	/* page bytes left for shell output */
static long budget_total = BUDGET_DEFAULT;
static const char *allow_refusal;	/* set: every row is refused */
static long long page_start_ms;
static long long page_deadline;		/* no session outlives the page limit */
static struct session **live;		/* the sessions being run ... */
static int nlive;			/* ... and how many */

int
main(void)
{
	static struct session sess[NSESS];
	struct session *run_these[NSESS];
	int i, n = 0, want_form = 0;

	/* A client that goes away must not kill us mid-page with SIGPIPE. */
	signal(SIGPIPE, SIG_IGN);
	page_start_ms = now_ms();
	read_settings();
	page_http_header();
	parse_query(getenv("QUERY_STRING"), sess, &want_form);
	for (i = 0; i < NSESS; i++)
		if (sess[i].why == NULL && sess[i].host[0])
			run_these[n++] = &sess[i];
	/* Nothing to run: the form, with what was wrong beside each field. */
	if (want_form || n == 0) {
		page_form(sess);
		return 0;
	}
	page_head(run_these, n, sess);
	/* Each lookup waits 2 s at most, not glibc's 5 s per server and try. */
	setenv("RES_OPTIONS", "timeout:2 attempts:1", 0);
	page_deadline = now_ms() + PAGE_MAX * 1000LL;
	live = run_these;
	nlive = n;
	for (i = 0; i < n; i++)
		start(run_these[i]);
	run(run_these, n);
	page_tail();
	return 0;
}

const char *
field_value(const struct session *s, enum field k)
{
	return (const char *)s + fields[k].offset;
}

int
plain_name(const char *name)
{
	return name[strspn(name, NAME_CHARS)] == '\0';
}

/* The environment's settings; what is out of range keeps the default. */
static void
read_settings(void)
{
	const char *t;

	if ((t = getenv("HW4_TIMEOUT")) != NULL && atoi(t) > 0 &&
	    atoi(t) <= 3600)
		timeout_s = atoi(t);
	if ((t = getenv("HW4_MAX_OUTPUT")) != NULL && atol(t) > 0 &&
	    atol(t) <= BUDGET_MAX)
		budget = budget_total = atol(t);
	allow_refusal = allow_parse(getenv("HW4_ALLOW"));
}

/*
 * Whitelist parse: only the 25 known keys (and "form") are looked at, each
 * value decoded into its fixed buffer.  A row with a value that does not
 * decode, does not fit or does not check out gets why and bad set.
 */
static void
parse_query(const char *q, struct session *sess, int *want_form)
{
	int i, k;
	const char *amp, *eq;
	struct session *s;
	size_t klen;
	char *buf;

	for (i = 0; i < NSESS; i++)
		sess[i].row = i + 1;
	for (; q != NULL && *q != '\0'; q = *amp ? amp + 1 : amp) {
		amp = q + strcspn(q, "&;");
		eq = memchr(q, '=', amp - q);
		klen = (eq != NULL ? eq : amp) - q;
		if (klen == 4 && memcmp(q, "form", 4) == 0)
			*want_form = 1;
		if (eq == NULL || klen < 2 || klen > 3 || eq[-1] < '1' ||
		    eq[-1] > '5' || (k = field_of(q, klen - 1)) == -1)
			continue;
		s = &sess[eq[-1] - '1'];
		buf = (char *)s + fields[k].offset;
		if (decode_value(eq + 1, amp - eq - 1, buf, fields[k].size) ==
		    -1 && s->why == NULL) {
			buf[0] = '\0';
			s->why = "a value is malformed or too long";
			s->bad = k;
		}
	}
	for (i = 0; i < NSESS; i++)
		check_row(&sess[i]);
}

/* The field a query key names (without its row), or -1. */
static int
field_of(const char *key, size_t len)
{
	int k;

	for (k = 0; k < NFIELD; k++)
		if (strlen(fields[k].key) == len &&
		    memcmp(fields[k].key, key, len) == 0)
			return k;
	return -1;
}

/* Percent- and plus-decoding into buf; -1 if malformed, NUL or too long. */
static int
decode_value(const char *s, size_t len, char *buf, size_t max)
{
	size_t i, o = 0;
	int c;

	for (i = 0; i < len; i++) {
		c = (unsigned char)s[i];
		if (c == '+')
			c = ' ';
		else if (c == '%') {
			if (i + 2 >= len || hexval(s[i + 1]) == -1 ||
			    hexval(s[i + 2]) == -1)
				return -1;
			c = hexval(s[i + 1]) << 4 | hexval(s[i + 2]);
			i += 2;
		}
		if (c == '\0' || o + 1 >= max)
			return -1;
		buf[o++] = (char)c;
	}
	buf[o] = '\0';
	return 0;
}

static int
hexval(int c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/*
 * A row left out gets s->why and s->bad (the field); an empty row is
 * skipped silently.  The file name is checked later, in start(), so that
 * a refused name is reported in the session's own pane.
 */
static void
check_row(struct session *s)
{
	int k;

	for (k = 0; k < NFIELD && !field_value(s, k)[0]; k++)
		;
	if (k == NFIELD || s->why != NULL)
		return;
	for (k = F_HOST; k <= F_FILE; k++)
		if (!field_value(s, k)[0]) {
			s->why = "host, port and test file are all needed";
			s->bad = k;
			return;
		}
	if (!s->shost[0] != !s->sport[0]) {
		s->why = "SOCKS host and SOCKS port go together";
		s->bad = s->shost[0] ? F_SPORT : F_SHOST;
		return;
	}
	for (k = 0; k < NFIELD; k++)
		if ((s->why = check_value(k, field_value(s, k))) != NULL) {
			s->bad = k;
			return;
		}
}

/* What is wrong with one value, or NULL. */
static const char *
check_value(enum field k, const char *v)
{
	long port;

	if ((k == F_PORT || k == F_SPORT) && v[0]) {
		port = strspn(v, "0123456789") == strlen(v) ?
		    strtol(v, NULL, 10) : 0;
		if (port < 1 || port > 65535)
			return "a port must be a number from 1 to 65535";
	}
	/* Names and dotted addresses only: no spaces, no markup. */
	if ((k == F_HOST || k == F_SHOST) && !plain_name(v))
		return "a host name has a character hosts do not have";
	return NULL;
}

/*
 * Load the test file, find where to connect, open the socket and begin
 * connecting: only where HW4_ALLOW permits, and with HW4_ALLOW unset
 * nothing at all.
 */
static void
start(struct session *s)
{
	struct sockaddr_in sa;

	s->fd = -1;
	s->st = S_CONNECTING;
	if (allow_refusal != NULL) {
		fail(s, "%s", allow_refusal);
		return;
	}
	if (load_script(s) == -1 || target(s, &sa) == -1)
		return;
	/* The lookups above may have taken a while: the deadline starts now. */
	s->deadline = now_ms() + timeout_s * 1000LL;
	s->fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (s->fd == -1) {
		fail(s, "socket: %s", strerror(errno));
		return;
	}
	if (connect(s->fd, (struct sockaddr *)&sa, sizeof sa) == -1 &&
	    errno != EINPROGRESS)
		unreachable(s, errno);
}

/*
 * Where the row connects, into sa: its host, or its SOCKS server with the
 * request for the host ready.  0, or -1 when the row has failed.
 */
static int
target(struct session *s, struct sockaddr_in *sa)
{
	int socks = s->shost[0] != '\0', r;
	const char *what = socks ? "SOCKS server" : "host";
	const char *host = socks ? s->shost : s->host;

	r = permitted(s, what, host, socks ? s->sport : s->port, sa);
	if (r == 1)
		fail(s, "cannot resolve %s %s", what, host);
	if (r != 0)
		return -1;
	return socks ? socks_request(s) : 0;
}

/*
 * Whether HW4_ALLOW permits host:port, the row's what (host or SOCKS
 * server): by the address it resolves to, into sa (0), or by its name
 * when it does not resolve here (1).  Else the row fails (-1), saying the
 * same whether the name resolves or not.
 */
static int
permitted(struct session *s, const char *what, const char *host,
    const char *port, struct sockaddr_in *sa)
{
	int named = resolve(host, port, sa) == -1;

	if (named ? allow_name(host, atoi(port)) : allow_address(sa))
		return named;
	fail(s, "%s %s:%s is not in HW4_ALLOW", what, host, port);
	return -1;
}

/* The CONNECT request, pending: VN CD DSTPORT DSTIP USERID(empty) [4a
   HOSTNAME]. */
static int
socks_request(struct session *s)
{
	struct sockaddr_in dst;
	size_t hl;
	int named = permitted(s, "host", s->host, s->port, &dst);

	if (named == -1)
		return -1;
	/* 0.0.0.x would read as the SOCKS4a marker. */
	if (!named && (ntohl(dst.sin_addr.s_addr) >> 24) == 0) {
		fail(s, "%s cannot be sent in a SOCKS4 request", s->host);
		return -1;
	}
	s->req[0] = SOCKS4_VERSION;
	s->req[1] = SOCKS_CONNECT;
	s->req[2] = (unsigned char)(atoi(s->port) >> 8);
	s->req[3] = (unsigned char)(atoi(s->port) & 0xff);
	s->outlen = SOCKS4_REPLY_LEN + 1;
	if (named) {
		/* 4a: 0.0.0.x, x != 0, says "resolve the name". */
		memcpy(&s->req[4], "\0\0\0\1", 4);
		hl = strlen(s->host) + 1;
		memcpy(&s->req[SOCKS4_REPLY_LEN + 1], s->host, hl);
		s->outlen += hl;
	} else
		memcpy(&s->req[4], &dst.sin_addr, 4);
	s->req[SOCKS4_REPLY_LEN] = '\0';
	s->out = (const char *)s->req;
	return 0;
}

/* The session's test file, from the one directory testfile.c allows. */
static int
load_script(struct session *s)
{
	char buf[4096];
	const char *dir = test_dir(buf, sizeof buf);
	struct stat st;
	ssize_t r;
	int dfd = -1, fd = -1;

	if (!test_file_name_ok(s->file)) {
		fail(s, "refused test file name \"%s\": names only, no / or ..",
		    s->file);
		return -1;
	}
	if ((dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) == -1) {
		fail(s, "cannot open the test file directory: %s",
		    strerror(errno));
		goto err;
	}
	/* O_NONBLOCK: a FIFO put there must not hang the page. */
	fd = openat(dfd, s->file, O_RDONLY | O_NOFOLLOW | O_NONBLOCK |
	    O_CLOEXEC);
	if (fd == -1 && errno == ENOENT)
		fail(s, "unknown test file \"%s\"", s->file);
	else if (fd == -1)
		fail(s, "cannot open test file \"%s\": %s", s->file,
		    strerror(errno));
	if (fd == -1)
		goto err;
	if (fstat(fd, &st) == -1 || !S_ISREG(st.st_mode) ||
	    st.st_size > SCRIPT_MAX) {
		fail(s, "test file \"%s\" is not a regular file of at most "
		    "%d bytes", s->file, SCRIPT_MAX);
		goto err;
	}
	while (s->scriptlen < SCRIPT_MAX && (r = read(fd,
	    s->script + s->scriptlen, SCRIPT_MAX - s->scriptlen)) > 0)
		s->scriptlen += r;
	if ((s->scriptlen = bare_newlines(s->script, s->scriptlen)) == 0) {
		fail(s, "test file \"%s\" is empty", s->file);
		goto err;
	}
	close(fd);
	close(dfd);
	return 0;
err:
	if (fd != -1)
		close(fd);
	if (dfd != -1)
		close(dfd);
	return -1;
}

/* Shells want bare '\n': drop '\r' before it; end the last line (p has
   room for one more byte). */
static size_t
bare_newlines(char *p, size_t n)
{
	size_t i, o;

	for (i = o = 0; i < n; i++)
		if (!(p[i] == '\r' && (i + 1 == n || p[i + 1] == '\n')))
			p[o++] = p[i];
	if (o > 0 && p[o - 1] != '\n')
		p[o++] = '\n';
	return o;
}

static int
resolve(const char *host, const char *port, struct sockaddr_in *sa)
{
	struct addrinfo hints, *ai;

	/* SOCKS4 carries IPv4 only, so the whole console speaks IPv4. */
	memset(&hints, 0, sizeof hints);
	hints.ai_family = AF_INET;
	hints.ai_socktype = SOCK_STREAM;
	hints.ai_flags = AI_NUMERICSERV;
	if (getaddrinfo(host, port, &hints, &ai) != 0)
		return -1;
	memcpy(sa, ai->ai_addr, sizeof *sa);
	freeaddrinfo(ai);
	return 0;
}

/* One poll() over every live session until all are done. */
static void
run(struct session **sess, int n)
{
	struct pollfd pfd[NSESS];
	struct session *which[NSESS];
	long long now, wait;
	int i, k, r;

	for (;;) {
		if ((k = poll_set(sess, n, pfd, which, &wait)) == 0)
			return;
		if ((r = poll(pfd, k, (int)wait)) == -1) {
			if (errno == EINTR)
				continue;
			for (i = 0; i < k; i++)
				fail(which[i], "poll: %s", strerror(errno));
			return;
		}
		now = now_ms();
		/* A session may end others (the output budget): check st. */
		for (i = 0; r > 0 && i < k; i++)
			if (pfd[i].revents && which[i]->st != S_DONE)
				step(which[i], pfd[i].revents, now);
	}
}

/*
 * What each session still going waits for, into pfd and which; a session
 * past its deadline or the page's ends here.  *wait is the time to the
 * nearest deadline.  Returns how many are polled.
 */
static int
poll_set(struct session **sess, int n, struct pollfd *pfd,
    struct session **which, long long *wait)
{
	long long now = now_ms();
	struct session *s;
	int i, k;

	*wait = -1;
	for (i = k = 0; i < n; i++) {
		s = sess[i];
		if (s->st == S_DONE)
			continue;
		if (now >= page_deadline) {
			fail(s, "page time limit (%d s) reached", PAGE_MAX);
			continue;
		}
		if (now >= s->deadline) {
			fail(s, "timeout: %s %s for %d s",
			    s->st == S_CONNECTING ? "no connection to" :
			    "nothing from", s->st == S_RUNNING ? "the shell" :
			    s->shost[0] ? "the SOCKS server" : "the host",
			    timeout_s);
			continue;
		}
		if (*wait == -1 || s->deadline - now < *wait)
			*wait = s->deadline - now;
		if (page_deadline - now < *wait)
			*wait = page_deadline - now;
		pfd[k].fd = s->fd;
		pfd[k].events = s->st == S_CONNECTING ? POLLOUT :
		    POLLIN | (s->outlen ? POLLOUT : 0);
		which[k++] = s;
	}
	return k;
}

/* Advance one session's state machine by what poll() reported. */
static void
step(struct session *s, short ev, long long now)
{
	unsigned char buf[READ_MAX];
	ssize_t r;

	if (s->st == S_CONNECTING) {
		if (connected(s, now) == -1)
			return;
		ev = POLLOUT;
	}
	if ((ev & POLLOUT) && s->outlen && flush_out(s) == -1)
		return;
	if (!(ev & (POLLIN | POLLHUP | POLLERR)))
		return;
	/* No further than the 8-byte reply: what follows is the shell's. */
	r = read(s->fd, buf, s->st == S_SOCKS_REPLY ?
	    SOCKS4_REPLY_LEN - s->replen : READ_MAX);
	if (r == -1 && (errno == EAGAIN || errno == EINTR))
		return;
	if (r == -1)
		fail(s, "%s: %s", s->st == S_SOCKS_REPLY ? "SOCKS server" :
		    "connection", strerror(errno));
	else if (r == 0 && s->st == S_SOCKS_REPLY)
		fail(s, "SOCKS server closed the connection without a reply");
	else if (r == 0)
		end_session(s, END_CLOSED, "connection closed");
	else {
		s->deadline = now + timeout_s * 1000LL;
		if (s->st == S_RUNNING)
			on_output(s, buf, r);
		else
			on_reply(s, buf, r);
	}
}

/* The connect finished: on to the SOCKS reply, or running. */
static int
connected(struct session *s, long long now)
{
	socklen_t len = sizeof(int);
	int err = 0;

	if (getsockopt(s->fd, SOL_SOCKET, SO_ERROR, &err, &len) == -1)
		err = errno;
	if (err != 0) {
		unreachable(s, err);
		return -1;
	}
	s->st = s->shost[0] ? S_SOCKS_REPLY : S_RUNNING;
	if (s->st == S_RUNNING)
		pane_running(s);
	s->deadline = now + timeout_s * 1000LL;
	return 0;
}

/* Bytes of the SOCKS reply; once all 8 are in, running or refused. */
static void
on_reply(struct session *s, const unsigned char *p, size_t n)
{
	memcpy(s->reply + s->replen, p, n);
	if ((s->replen += n) < SOCKS4_REPLY_LEN)
		return;
	/* 92 and 93, the identd refusals, follow 91. */
	if (s->reply[0] == SOCKS4_REPLY_VERSION &&
	    s->reply[1] == SOCKS4_GRANTED) {
		s->st = S_RUNNING;
		pane_running(s);
	} else if (s->reply[0] == SOCKS4_REPLY_VERSION &&
	    s->reply[1] >= SOCKS4_REJECTED &&
	    s->reply[1] <= SOCKS4_REJECTED + 2)
		fail(s, "rejected by SOCKS server (reply %d)", s->reply[1]);
	else
		fail(s, "bad SOCKS reply (not a SOCKS4 server?)");
}

/*
 * Show shell output; on the "% " prompt, send the next test-file line.
 * What does not fit in the page's output budget ends every session.
 */
static void
on_output(struct session *s, const unsigned char *p, size_t n)
{
	size_t shown = pane_output(s, p, n, &budget);

	s->shown += shown;
	if (shown < n) {
		truncate_all();
		return;
	}
	if (n >= 2) {
		s->tail[0] = p[n - 2];
		s->tail[1] = p[n - 1];
	} else {
		s->tail[0] = s->tail[1];
		s->tail[1] = p[0];
	}
	/*
	 * The shell prints "% " and waits, so the prompt is what a read ends
	 * with; not always at the start of a line, since a command's output
	 * need not end in a newline.  Answered once, and only when the last
	 * line is all sent.
	 */
	if (s->tail[0] == '%' && s->tail[1] == ' ' && s->next < s->scriptlen &&
	    s->outlen == 0) {
		s->tail[0] = s->tail[1] = '\0';
		send_line(s);
	}
}

/* The budget is spent: every session still going says so and ends. */
static void
truncate_all(void)
{
	char msg[128];
	int i;

	for (i = 0; i < nlive; i++) {
		if (live[i]->st == S_DONE)
			continue;
		snprintf(msg, sizeof msg, "output truncated at %ld bytes "
		    "(HW4_MAX_OUTPUT %ld for the page)", live[i]->shown,
		    budget_total);
		end_session(live[i], END_TRUNCATED, msg);
	}
}

static void
send_line(struct session *s)
{
	char *line = s->script + s->next;
	size_t len = (char *)memchr(line, '\n', s->scriptlen - s->next) -
	    line + 1;

	s->next += len;
	s->out = line;
	s->outlen = len;
	pane_command(s, line, len - 1);
	flush_out(s);
}

/* Write what is pending; a short write leaves the rest for POLLOUT. */
static int
flush_out(struct session *s)
{
	ssize_t w;

	while (s->outlen > 0) {
		w = write(s->fd, s->out, s->outlen);
		if (w == -1 && (errno == EAGAIN || errno == EINTR))
			return 0;
		if (w == -1) {
			fail(s, "sending to %s: %s", s->st == S_SOCKS_REPLY ?
			    "the SOCKS server" : "the shell", strerror(errno));
			return -1;
		}
		s->out += w;
		s->outlen -= w;
	}
	return 0;
}

static void
unreachable(struct session *s, int err)
{
	if (s->shost[0])
		fail(s, "SOCKS server %s:%s unreachable: %s", s->shost,
		    s->sport, strerror(err));
	else
		fail(s, "host %s:%s unreachable: %s", s->host, s->port,
		    strerror(err));
}

/* The one error path of a session: say why in its pane, close, done. */
static void
fail(struct session *s, const char *fmt, ...)
{
	char msg[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof msg, fmt, ap);
	va_end(ap);
	end_session(s, END_ERROR, msg);
}

/* Every session ends here, once: its pane says how, its socket closes. */
static void
end_session(struct session *s, enum end how, const char *msg)
{
	pane_end(s, how, msg, now_ms() - page_start_ms);
	if (s->fd != -1)
		close(s->fd);
	s->fd = -1;
	s->outlen = 0;
	s->st = S_DONE;
}

static long long
now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000LL + ts.tv_nsec / 1000000;
}
