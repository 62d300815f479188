/*
 * hw4.cgi: a web console that drives up to five remote shells ("ras/rwg"),
 * directly or through a SOCKS4/SOCKS4a server, and streams their output
 * into one HTML page as it arrives.
 *
 * One process per request, started by the web server.  One poll() loop
 * drives every session; a session goes
 *	connecting -> SOCKS reply pending -> running -> done
 * (direct sessions skip the SOCKS step).  Whenever a shell's output ends in
 * the "% " prompt, the next line of that session's test file is sent and
 * shown in bold.  After the last line (normally "exit") the session waits
 * for the shell to close.
 *
 * Query: h1..h5 (host), p1..p5 (port), f1..f5 (test file name),
 * sh1..sh5, sp1..sp5 (SOCKS server; both empty means connect directly).
 * Environment: HW4_TEST_DIR (where test files live; default test_case/
 * beside the CGI), HW4_TIMEOUT (seconds without bytes before a session is
 * dropped; default 30).
 *
 * SOCKS: h is resolved here (IPv4) and sent as a SOCKS4 request; only when
 * it does not resolve here is it sent as SOCKS4a, so that the SOCKS server
 * resolves it.  See the SOCKS 4 and SOCKS 4A protocol documents.
 *
 * Everything from a shell is HTML-escaped and the page is pure ASCII:
 * non-ASCII becomes numeric character references, invalid UTF-8 and
 * control characters become U+FFFD.  Nothing is written to stderr.
 */

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define NSESS		5
#define HOST_MAX	253		/* a DNS name; also bounds the 4a hostname */
#define PORT_MAX	5		/* digits */
#define FNAME_MAX	64		/* test file names are short, plain names */
#define SCRIPT_MAX	(64 * 1024)	/* test file size */
#define OUTPUT_MAX	(16L * 1024 * 1024) /* per session; a runaway shell ends */
#define READ_MAX	4096		/* one read, one <script> chunk */
#define TIMEOUT_DEFAULT	30
#define PAGE_MAX	600		/* seconds: no page runs longer */

enum state { S_CONNECTING, S_SOCKS_REPLY, S_RUNNING, S_DONE };

struct utf8 {			/* decoder state carried across reads */
	uint32_t cp, min;
	int need;
};

struct session {
	int row;			/* 1..5, as in the form */
	char host[HOST_MAX + 1], shost[HOST_MAX + 1], file[FNAME_MAX + 1];
	char port[PORT_MAX + 1], sport[PORT_MAX + 1];
	enum state st;
	int fd;
	unsigned char req[8 + 1 + HOST_MAX + 1]; /* SOCKS request */
	const char *out;		/* bytes still to send */
	size_t outlen;
	unsigned char reply[8];
	size_t replen;
	char script[SCRIPT_MAX + 1];	/* the test file, '\n' after each line */
	size_t scriptlen, next;
	char tail[2];			/* last two bytes seen: the prompt test */
	struct utf8 u8;
	long long deadline;
	long total;
};

struct field {			/* one query value being decoded */
	char *buf;
	size_t max;
};

static int	parse_query(const char *, struct session *, const char **);
static int	decode_value(const char *, size_t, char *, size_t);
static int	hexval(int);
static int	check_row(struct session *, const char **);
static void	page_head(const struct session *, int, const char **);
static void	page_tail(void);
static void	start(struct session *);
static int	load_script(struct session *);
static int	resolve(const char *, const char *, struct sockaddr_in *);
static void	run(struct session *, int);
static void	step(struct session *, short, long long);
static void	on_output(struct session *, const unsigned char *, size_t);
static void	send_line(struct session *);
static int	flush_out(struct session *);
static void	unreachable(struct session *, int);
static void	fail(struct session *, const char *, ...);
static void	end_session(struct session *, const char *, const char *);
static void	put_str(const char *);
static void	put_mem(const char *, size_t);
static void	put_text(struct utf8 *, const unsigned char *, size_t);
static void	put_cp(uint32_t);
static void	chunk_begin(const struct session *);
static void	chunk_end(void);
static long long now_ms(void);

static int timeout_s = TIMEOUT_DEFAULT;
static long long page_deadline;	/* no session outlives the page limit */

int
main(void)
{
	static struct session sess[NSESS];
	const char *t, *leftout[NSESS];
	int i, n;

	/* A client that goes away must not kill us mid-page with SIGPIPE. */
	signal(SIGPIPE, SIG_IGN);
	if ((t = getenv("HW4_TIMEOUT")) != NULL && atoi(t) > 0 &&
	    atoi(t) <= 3600)
		timeout_s = atoi(t);

	fputs("Content-Type: text/html; charset=utf-8\r\n"
	    "Cache-Control: no-store\r\n\r\n", stdout);
	n = parse_query(getenv("QUERY_STRING"), sess, leftout);
	page_head(sess, n, leftout);
	/* Each lookup waits 2 s at most, not glibc's 5 s per server and try. */
	setenv("RES_OPTIONS", "timeout:2 attempts:1", 0);
	page_deadline = now_ms() + PAGE_MAX * 1000LL;
	for (i = 0; i < n; i++)
		start(&sess[i]);
	run(sess, n);
	page_tail();
	return 0;
}

/*
 * Whitelist parse: only the 25 known keys are looked at, each value
 * decoded into its fixed buffer.  A value that does not decode or does not
 * fit leaves its row out, with the reason in leftout[row].  Returns the
 * number of sessions kept, packed in row order at the front of sess[].
 */
static int
parse_query(const char *q, struct session *sess, const char **leftout)
{
	static const char *keys[] = { "h", "p", "f", "sh", "sp" };
	int bad[NSESS] = { 0 }, i, k, n = 0;
	const char *amp, *eq;
	struct session *s;
	size_t klen;

	for (; q != NULL && *q != '\0'; q = *amp ? amp + 1 : amp) {
		amp = q + strcspn(q, "&;");
		if ((eq = memchr(q, '=', amp - q)) == NULL)
			continue;
		klen = eq - q;
		if (klen < 2 || klen > 3 || eq[-1] < '1' || eq[-1] > '5')
			continue;
		s = &sess[eq[-1] - '1'];
		for (k = 0; k < 5; k++)
			if (strlen(keys[k]) == klen - 1 &&
			    memcmp(keys[k], q, klen - 1) == 0)
				break;
		if (k == 5)
			continue;
		struct field f[] = {
			{ s->host, sizeof s->host },
			{ s->port, sizeof s->port },
			{ s->file, sizeof s->file },
			{ s->shost, sizeof s->shost },
			{ s->sport, sizeof s->sport },
		};
		if (decode_value(eq + 1, amp - eq - 1, f[k].buf, f[k].max) == -1)
			bad[s - sess] = 1;
	}
	for (i = 0; i < NSESS; i++) {
		sess[i].row = i + 1;
		leftout[i] = bad[i] ? "a value is malformed or too long" : NULL;
		if (leftout[i] != NULL || check_row(&sess[i], &leftout[i]) < 1)
			continue;
		if (i != n)
			memcpy(&sess[n], &sess[i], sizeof sess[i]);
		n++;
	}
	return n;
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
 * 0: the row is empty (skipped silently); 1: keep it; -1: leave it out,
 * *why says why.  The file name is checked later, in start(), so that a
 * refused name is reported in the session's own column.
 */
static int
check_row(struct session *s, const char **why)
{
	char *ports[] = { s->port, s->sport }, *hosts[] = { s->host, s->shost };
	const char *p;
	long v;
	int i;

	if (!s->host[0] && !s->port[0] && !s->file[0] && !s->shost[0] &&
	    !s->sport[0])
		return 0;
	*why = "host, port and test file are all needed";
	if (!s->host[0] || !s->port[0] || !s->file[0])
		return -1;
	*why = "SOCKS host and SOCKS port go together";
	if (!s->shost[0] != !s->sport[0])
		return -1;
	for (i = 0; i < 2; i++) {
		*why = "a port must be a number from 1 to 65535";
		if (ports[i][0]) {
			if (strspn(ports[i], "0123456789") != strlen(ports[i]))
				return -1;
			v = strtol(ports[i], NULL, 10);
			if (v < 1 || v > 65535)
				return -1;
		}
		/* Names and dotted addresses only: no spaces, no markup. */
		*why = "a host name has a character hosts do not have";
		for (p = hosts[i]; *p; p++)
			if (!isalnum((unsigned char)*p) && !strchr(".-_", *p))
				return -1;
	}
	*why = NULL;
	return 1;
}

static void
page_head(const struct session *sess, int n, const char **leftout)
{
	int i;

	fputs("<!DOCTYPE html>\n<html lang=\"en\"><head>"
	    "<meta charset=\"utf-8\"><title>hw4.cgi: remote shells</title>\n"
	    "<style>body{font-family:monospace;background:#111;color:#ddd}"
	    "table{width:100%;border-collapse:collapse;table-layout:fixed}"
	    "th,td{border:1px solid #555;vertical-align:top;padding:4px;"
	    "text-align:left}td{white-space:pre-wrap;word-break:break-all}"
	    "b{color:#8cf}.err{color:#f66}.info{color:#999}</style>\n"
	    "<script>function a(i,s){document.getElementById(\"s\"+i)"
	    ".insertAdjacentHTML(\"beforeend\",s)}</script>\n"
	    "</head><body>\n", stdout);
	for (i = 0; i < NSESS; i++)
		if (leftout[i] != NULL)
			printf("<p class=\"err\">Session %d left out: %s.</p>\n",
			    i + 1, leftout[i]);
	if (n == 0)
		fputs("<p>No session given: fill in a row of the form.</p>\n",
		    stdout);
	fputs("<table id=\"sessions\"><tr>", stdout);
	for (i = 0; i < n; i++) {
		printf("<th>%s:%s", sess[i].host, sess[i].port);
		if (sess[i].shost[0])
			printf(" via %s:%s", sess[i].shost, sess[i].sport);
		fputs("<br>", stdout);
		put_str(sess[i].file);
		fputs("</th>", stdout);
	}
	fputs("</tr>\n<tr>", stdout);
	for (i = 0; i < n; i++)
		printf("<td id=\"s%d\"></td>", sess[i].row);
	fputs("</tr></table>\n", stdout);
	fflush(stdout);
}

static void
page_tail(void)
{
	fputs("</body></html>\n", stdout);
	fflush(stdout);
}

/* Load the test file, resolve, open the socket and begin connecting. */
static void
start(struct session *s)
{
	struct sockaddr_in sa, dst;
	size_t hl;

	s->fd = -1;
	s->st = S_CONNECTING;
	if (load_script(s) == -1)
		return;
	if (s->shost[0]) {
		if (resolve(s->shost, s->sport, &sa) == -1) {
			fail(s, "cannot resolve SOCKS server %s", s->shost);
			return;
		}
		/* VN CD DSTPORT DSTIP USERID(empty) [HOSTNAME for 4a] */
		s->req[0] = 4;
		s->req[1] = 1;
		s->req[2] = (unsigned char)(atoi(s->port) >> 8);
		s->req[3] = (unsigned char)(atoi(s->port) & 0xff);
		s->outlen = 9;
		if (resolve(s->host, s->port, &dst) == 0) {
			/* 0.0.0.x would read as the SOCKS4a marker. */
			if ((ntohl(dst.sin_addr.s_addr) >> 24) == 0) {
				fail(s, "%s cannot be sent in a SOCKS4 request", s->host);
				return;
			}
			memcpy(&s->req[4], &dst.sin_addr, 4);
		} else {
			/* 4a: 0.0.0.x, x != 0, says "resolve the name". */
			memcpy(&s->req[4], "\0\0\0\1", 4);
			hl = strlen(s->host) + 1;
			memcpy(&s->req[9], s->host, hl);
			s->outlen += hl;
		}
		s->req[8] = '\0';
		s->out = (const char *)s->req;
	} else if (resolve(s->host, s->port, &sa) == -1) {
		fail(s, "cannot resolve host %s", s->host);
		return;
	}
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
 * Test files are plain names looked up in one directory.  No '/', no
 * leading '.', and no symlinks, so nothing outside that directory can be
 * read through the form.
 */
static int
load_script(struct session *s)
{
	const char *dir = getenv("HW4_TEST_DIR"), *sf, *p;
	char path[4096];
	struct stat st;
	ssize_t r;
	size_t i, o;
	int dfd = -1, fd = -1;

	if (s->file[0] == '.' ||
	    strspn(s->file, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
	    "0123456789._-") != strlen(s->file)) {
		fail(s, "refused test file name \"%s\": names only, no / or ..",
		    s->file);
		return -1;
	}
	if (dir == NULL || *dir == '\0') {
		/* Beside the CGI: the web server names it in SCRIPT_FILENAME. */
		dir = "test_case";
		sf = getenv("SCRIPT_FILENAME");
		if (sf != NULL && (p = strrchr(sf, '/')) != NULL &&
		    snprintf(path, sizeof path, "%.*s/test_case",
		    (int)(p - sf), sf) < (int)sizeof path)
			dir = path;
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
	/* Shells want bare '\n': drop '\r' before it; end the last line. */
	for (i = o = 0; i < s->scriptlen; i++)
		if (!(s->script[i] == '\r' && (i + 1 == s->scriptlen ||
		    s->script[i + 1] == '\n')))
			s->script[o++] = s->script[i];
	if (o == 0) {
		fail(s, "test file \"%s\" is empty", s->file);
		goto err;
	}
	if (o > 0 && s->script[o - 1] != '\n')
		s->script[o++] = '\n';
	s->scriptlen = o;
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
run(struct session *sess, int n)
{
	struct pollfd pfd[NSESS];
	struct session *which[NSESS];
	long long now, wait;
	int i, k, r;

	for (;;) {
		now = now_ms();
		wait = -1;
		for (i = k = 0; i < n; i++) {
			if (sess[i].st == S_DONE)
				continue;
			if (now >= page_deadline) {
				fail(&sess[i], "page time limit (%d s) reached", PAGE_MAX);
				continue;
			}
			if (now >= sess[i].deadline) {
				fail(&sess[i], "timeout: %s %s for %d s",
				    sess[i].st == S_CONNECTING ? "no connection to" :
				    "nothing from", sess[i].st == S_RUNNING ?
				    "the shell" : sess[i].shost[0] ?
				    "the SOCKS server" : "the host", timeout_s);
				continue;
			}
			if (wait == -1 || sess[i].deadline - now < wait)
				wait = sess[i].deadline - now;
			if (page_deadline - now < wait)
				wait = page_deadline - now;
			pfd[k].fd = sess[i].fd;
			pfd[k].events = sess[i].st == S_CONNECTING ? POLLOUT :
			    POLLIN | (sess[i].outlen ? POLLOUT : 0);
			which[k++] = &sess[i];
		}
		if (k == 0)
			return;
		if ((r = poll(pfd, k, (int)wait)) == -1) {
			if (errno == EINTR)
				continue;
			for (i = 0; i < k; i++)
				fail(which[i], "poll: %s", strerror(errno));
			return;
		}
		now = now_ms();
		for (i = 0; r > 0 && i < k; i++)
			if (pfd[i].revents)
				step(which[i], pfd[i].revents, now);
	}
}

/* Advance one session's state machine by what poll() reported. */
static void
step(struct session *s, short ev, long long now)
{
	unsigned char buf[READ_MAX];
	socklen_t len = sizeof(int);
	ssize_t r;
	int err = 0;

	if (s->st == S_CONNECTING) {
		if (getsockopt(s->fd, SOL_SOCKET, SO_ERROR, &err, &len) == -1)
			err = errno;
		if (err != 0) {
			unreachable(s, err);
			return;
		}
		s->st = s->shost[0] ? S_SOCKS_REPLY : S_RUNNING;
		s->deadline = now + timeout_s * 1000LL;
		ev = POLLOUT;
	}
	if ((ev & POLLOUT) && s->outlen && flush_out(s) == -1)
		return;
	if (!(ev & (POLLIN | POLLHUP | POLLERR)))
		return;
	/* Read no further than the 8-byte reply: what follows is the shell's. */
	r = read(s->fd, buf, s->st == S_SOCKS_REPLY ? 8 - s->replen : READ_MAX);
	if (r == -1 && (errno == EAGAIN || errno == EINTR))
		return;
	if (r == -1) {
		fail(s, "%s: %s", s->st == S_SOCKS_REPLY ? "SOCKS server" :
		    "connection", strerror(errno));
		return;
	}
	if (r == 0) {
		if (s->st == S_SOCKS_REPLY)
			fail(s, "SOCKS server closed the connection without "
			    "a reply");
		else
			end_session(s, "info", "connection closed");
		return;
	}
	s->deadline = now + timeout_s * 1000LL;
	if (s->st == S_RUNNING) {
		on_output(s, buf, r);
		return;
	}
	memcpy(s->reply + s->replen, buf, r);
	if ((s->replen += r) < 8)
		return;
	if (s->reply[0] == 0 && s->reply[1] == 90)
		s->st = S_RUNNING;
	else if (s->reply[0] == 0 && s->reply[1] >= 91 && s->reply[1] <= 93)
		fail(s, "rejected by SOCKS server (reply %d)", s->reply[1]);
	else
		fail(s, "bad SOCKS reply (not a SOCKS4 server?)");
}

/* Show shell output; on the "% " prompt, send the next test-file line. */
static void
on_output(struct session *s, const unsigned char *p, size_t n)
{
	if ((s->total += n) > OUTPUT_MAX) {
		fail(s, "more than %ld bytes of output: dropped", OUTPUT_MAX);
		return;
	}
	chunk_begin(s);
	put_text(&s->u8, p, n);
	chunk_end();
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

static void
send_line(struct session *s)
{
	char *line = s->script + s->next;
	size_t len = (char *)memchr(line, '\n', s->scriptlen - s->next) -
	    line + 1;

	s->next += len;
	s->out = line;
	s->outlen = len;
	chunk_begin(s);
	fputs("<b>", stdout);
	put_mem(line, len - 1);
	fputs("<\\/b><br>", stdout);
	chunk_end();
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

/* The one error path of a session: say why in its column, close, done. */
static void
fail(struct session *s, const char *fmt, ...)
{
	char msg[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof msg, fmt, ap);
	va_end(ap);
	end_session(s, "err", msg);
}

static void
end_session(struct session *s, const char *cls, const char *msg)
{
	chunk_begin(s);
	/* A sequence cut off by the close is shown as U+FFFD. */
	if (s->u8.need)
		put_cp(0xfffd);
	printf("<div class='%s'>[", cls);
	put_str(msg);
	fputs("]<\\/div>", stdout);
	chunk_end();
	if (s->fd != -1)
		close(s->fd);
	s->fd = -1;
	s->outlen = 0;
	s->st = S_DONE;
}

static void
put_str(const char *str)
{
	put_mem(str, strlen(str));
}

/* Text that is whole in itself: a sequence cut short at its end is U+FFFD. */
static void
put_mem(const char *p, size_t n)
{
	struct utf8 u = { 0, 0, 0 };

	put_text(&u, (const unsigned char *)p, n);
	if (u.need)
		put_cp(0xfffd);
}

/*
 * Escape for both places the text goes: HTML, and a JavaScript string
 * inside <script>.  Only printable ASCII other than &<>"'\ is left as is,
 * so the result can neither end the string nor the script element.
 */
static void
put_text(struct utf8 *u, const unsigned char *p, size_t n)
{
	size_t i;
	int c;

	for (i = 0; i < n; i++) {
		c = p[i];
		if (u->need) {
			if ((c & 0xc0) == 0x80) {
				u->cp = u->cp << 6 | (c & 0x3f);
				if (--u->need == 0)
					put_cp(u->cp < u->min || u->cp > 0x10ffff ||
					    (u->cp >= 0xd800 && u->cp <= 0xdfff) ||
					    (u->cp >= 0x80 && u->cp <= 0x9f) ?
					    0xfffd : u->cp);
				continue;
			}
			u->need = 0;	/* cut short: c starts afresh */
			put_cp(0xfffd);
		}
		if (c >= 0x80) {
			if ((c & 0xe0) == 0xc0)
				*u = (struct utf8){ c & 0x1f, 0x80, 1 };
			else if ((c & 0xf0) == 0xe0)
				*u = (struct utf8){ c & 0x0f, 0x800, 2 };
			else if ((c & 0xf8) == 0xf0)
				*u = (struct utf8){ c & 0x07, 0x10000, 3 };
			else
				put_cp(0xfffd);
		} else if (c == '\n')
			fputs("<br>", stdout);
		else if (c == '\r')
			;		/* CRLF shells: the '\n' does the break */
		else if (c == '\t' || (c >= ' ' && c < 0x7f &&
		    strchr("&<>\"'\\", c) == NULL))
			putchar(c);
		else
			put_cp(c >= ' ' && c < 0x7f ? (uint32_t)c : 0xfffd);
	}
}

static void
put_cp(uint32_t cp)
{
	printf("&#x%X;", (unsigned)cp);
}

static void
chunk_begin(const struct session *s)
{
	printf("<script>a(%d,\"", s->row);
}

/* Flush per chunk, so the browser sees output as it arrives. */
static void
chunk_end(void)
{
	fputs("\")</script>\n", stdout);
	if (fflush(stdout) == EOF)
		exit(0);		/* the client is gone: nobody to tell */
}

static long long
now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000LL + ts.tv_nsec / 1000000;
}
