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
 *	HW4_TEST_DIR	where test files live (default test_case/ beside the CGI)
 *	HW4_TIMEOUT	seconds without bytes before a session is dropped (30)
 *	HW4_MAX_OUTPUT	bytes of shell output the whole page may carry, as
 *			escaped for it (4 MiB); past it every session ends
 *	HW4_ALLOW	where rows without a SOCKS server may connect: entries
 *			ADDR[/BITS][:PORT[-PORT]], separated by spaces or commas.
 *			Unset or empty: such rows are refused; SOCKS rows run and
 *			the SOCKS server's own rules decide.
 *
 * SOCKS: h is resolved here (IPv4) and sent as a SOCKS4 request; only when
 * it does not resolve here is it sent as SOCKS4a, so that the SOCKS server
 * resolves it.  See the SOCKS 4 and SOCKS 4A protocol documents.
 *
 * Everything from a shell is HTML-escaped and the page is pure ASCII:
 * non-ASCII becomes numeric character references, invalid UTF-8 and
 * control characters become U+FFFD.  Nothing is written to stderr.
 */

#include <arpa/inet.h>
#include <ctype.h>
#include <dirent.h>
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

#include "../socks.h"

#define NSESS		5
#define NFIELD		5		/* h, p, f, sh, sp */
#define HOST_MAX	253		/* a DNS name; also bounds the 4a hostname */
#define PORT_MAX	5		/* digits */
#define FNAME_MAX	64		/* test file names are short, plain names */
#define SCRIPT_MAX	(64 * 1024)	/* test file size */
#define BUDGET_DEFAULT	(4L * 1024 * 1024)
#define BUDGET_MAX	(1L << 30)
#define READ_MAX	4096		/* one read, one <script> chunk */
#define TIMEOUT_DEFAULT	30
#define PAGE_MAX	600		/* seconds: no page runs longer */
#define ALLOW_MAX	64		/* HW4_ALLOW entries */
#define LIST_MAX	200		/* test files offered by the form */
#define ESC_MAX		10		/* longest escape: "&#x10FFFF;" */

static const char css[] =
#include "hw4css.h"
;

enum state { S_CONNECTING, S_SOCKS_REPLY, S_RUNNING, S_DONE };
enum field { F_HOST, F_PORT, F_FILE, F_SHOST, F_SPORT };

struct utf8 {			/* decoder state carried across reads */
	uint32_t cp, min;
	int need;
};

struct session {
	int row;			/* 1..5, as in the form */
	char host[HOST_MAX + 1], shost[HOST_MAX + 1], file[FNAME_MAX + 1];
	char port[PORT_MAX + 1], sport[PORT_MAX + 1];
	const char *why;		/* the row is left out: why ... */
	enum field bad;			/* ... and at which field */
	enum state st;
	int fd;
	unsigned char req[SOCKS4_REPLY_LEN + 1 + HOST_MAX + 1]; /* request */
	const char *out;		/* bytes still to send */
	size_t outlen;
	unsigned char reply[SOCKS4_REPLY_LEN];
	size_t replen;
	char script[SCRIPT_MAX + 1];	/* the test file, '\n' after each line */
	size_t scriptlen, next;
	char tail[2];			/* last two bytes seen: the prompt test */
	struct utf8 u8;
	long long deadline;
	long shown;			/* shell bytes put on the page */
};

struct allow {			/* one HW4_ALLOW entry */
	uint32_t net, mask;
	unsigned lo, hi;
};

static void	parse_query(const char *, struct session *, int *);
static int	decode_value(const char *, size_t, char *, size_t);
static int	hexval(int);
static void	check_row(struct session *);
static const char *check_value(enum field, const char *);
static void	parse_allow(const char *);
static int	allowed(const struct sockaddr_in *);
static const char *test_dir(char *, size_t);
static void	page_start(const char *);
static void	page_form(const struct session *);
static void	form_field(const struct session *, enum field);
static void	form_files(void);
static int	cmp_names(const void *, const void *);
static void	page_head(struct session **, int, const struct session *);
static void	pane(const struct session *);
static void	put_query(const struct session *);
static void	page_tail(void);
static void	start(struct session *);
static int	load_script(struct session *);
static int	resolve(const char *, const char *, struct sockaddr_in *);
static void	run(struct session **, int);
static void	step(struct session *, short, long long);
static void	on_output(struct session *, const unsigned char *, size_t);
static void	truncate_all(void);
static void	send_line(struct session *);
static int	flush_out(struct session *);
static void	unreachable(struct session *, int);
static void	fail(struct session *, const char *, ...);
static void	end_session(struct session *, const char *, const char *);
static void	set_state(const struct session *, const char *, const char *,
	    const char *, long long);
static void	put_str(const char *);
static void	put_mem(const char *, size_t);
static size_t	put_text(struct utf8 *, const unsigned char *, size_t, long *);
static void	put_cp(uint32_t, long *);
static void	emit(const char *, size_t, long *);
static void	chunk_begin(const struct session *);
static void	chunk_end(void);
static long long now_ms(void);

static const char *field_key[NFIELD] = { "h", "p", "f", "sh", "sp" };
static int timeout_s = TIMEOUT_DEFAULT;
static long budget = BUDGET_DEFAULT;	/* page bytes left for shell output */
static long budget_total = BUDGET_DEFAULT;
static struct allow allow[ALLOW_MAX];
static int nallow;
static const char *allow_refusal;	/* set: every direct row is refused */
static long long page_start_ms;
static long long page_deadline;		/* no session outlives the page limit */
static struct session **live;		/* the sessions being run ... */
static int nlive;			/* ... and how many */

int
main(void)
{
	static struct session sess[NSESS];
	struct session *run_these[NSESS];
	const char *t;
	int i, n = 0, want_form = 0;

	/* A client that goes away must not kill us mid-page with SIGPIPE. */
	signal(SIGPIPE, SIG_IGN);
	page_start_ms = now_ms();
	if ((t = getenv("HW4_TIMEOUT")) != NULL && atoi(t) > 0 &&
	    atoi(t) <= 3600)
		timeout_s = atoi(t);
	if ((t = getenv("HW4_MAX_OUTPUT")) != NULL && atol(t) > 0 &&
	    atol(t) <= BUDGET_MAX)
		budget = budget_total = atol(t);
	parse_allow(getenv("HW4_ALLOW"));

	fputs("Content-Type: text/html; charset=utf-8\r\n"
	    "Cache-Control: no-store\r\n\r\n", stdout);
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
		    eq[-1] > '5')
			continue;
		s = &sess[eq[-1] - '1'];
		for (k = 0; k < NFIELD; k++)
			if (strlen(field_key[k]) == klen - 1 &&
			    memcmp(field_key[k], q, klen - 1) == 0)
				break;
		if (k == NFIELD)
			continue;
		buf = k == F_HOST ? s->host : k == F_PORT ? s->port :
		    k == F_FILE ? s->file : k == F_SHOST ? s->shost : s->sport;
		if (decode_value(eq + 1, amp - eq - 1, buf, k == F_HOST ||
		    k == F_SHOST ? HOST_MAX + 1 : k == F_FILE ? FNAME_MAX + 1 :
		    PORT_MAX + 1) == -1 && s->why == NULL) {
			buf[0] = '\0';
			s->why = "a value is malformed or too long";
			s->bad = k;
		}
	}
	for (i = 0; i < NSESS; i++)
		check_row(&sess[i]);
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
	const char *text[NFIELD] = { s->host, s->port, s->file, s->shost,
	    s->sport };
	int k;

	for (k = 0; k < NFIELD && !text[k][0]; k++)
		;
	if (k == NFIELD || s->why != NULL)
		return;
	for (k = F_HOST; k <= F_FILE; k++)
		if (!text[k][0]) {
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
		if ((s->why = check_value(k, text[k])) != NULL) {
			s->bad = k;
			return;
		}
}

/* What is wrong with one value, or NULL. */
static const char *
check_value(enum field k, const char *v)
{
	const char *p;
	long port;

	if ((k == F_PORT || k == F_SPORT) && v[0]) {
		port = strspn(v, "0123456789") == strlen(v) ?
		    strtol(v, NULL, 10) : 0;
		if (port < 1 || port > 65535)
			return "a port must be a number from 1 to 65535";
	}
	/* Names and dotted addresses only: no spaces, no markup. */
	if (k == F_HOST || k == F_SHOST)
		for (p = v; *p; p++)
			if (!isalnum((unsigned char)*p) && !strchr(".-_", *p))
				return "a host name has a character hosts "
				    "do not have";
	return NULL;
}

/*
 * HW4_ALLOW, read once.  Anything it cannot read refuses every direct row:
 * a typo must not open the door.
 */
static void
parse_allow(const char *spec)
{
	char tok[64], *slash, *colon, *dash, *end;
	struct in_addr a;
	unsigned long bits, lo, hi;
	size_t len;

	if (spec == NULL || spec[strspn(spec, " \t,")] == '\0') {
		allow_refusal = "HW4_ALLOW is not set, so only rows with a "
		    "SOCKS server run";
		return;
	}
	allow_refusal = "HW4_ALLOW cannot be read, so only rows with a "
	    "SOCKS server run";
	for (;;) {
		spec += strspn(spec, " \t,");
		if (*spec == '\0')
			break;
		len = strcspn(spec, " \t,");
		if (len >= sizeof tok || nallow == ALLOW_MAX)
			return;
		memcpy(tok, spec, len);
		tok[len] = '\0';
		spec += len;
		bits = 32;
		lo = 1;
		hi = 65535;
		if ((colon = strchr(tok, ':')) != NULL) {
			*colon++ = '\0';
			if ((dash = strchr(colon, '-')) != NULL)
				*dash++ = '\0';
			if (!isdigit((unsigned char)*colon))
				return;
			lo = hi = strtoul(colon, &end, 10);
			if (*end != '\0')
				return;
			if (dash != NULL) {
				if (!isdigit((unsigned char)*dash))
					return;
				hi = strtoul(dash, &end, 10);
				if (*end != '\0')
					return;
			}
			if (lo < 1 || hi > 65535 || lo > hi)
				return;
		}
		if ((slash = strchr(tok, '/')) != NULL) {
			*slash++ = '\0';
			if (!isdigit((unsigned char)*slash))
				return;
			bits = strtoul(slash, &end, 10);
			if (*end != '\0' || bits > 32)
				return;
		}
		if (inet_pton(AF_INET, tok, &a) != 1)
			return;
		allow[nallow].mask = bits == 0 ? 0 :
		    0xffffffffU << (32 - bits);
		allow[nallow].net = ntohl(a.s_addr) & allow[nallow].mask;
		allow[nallow].lo = lo;
		allow[nallow].hi = hi;
		nallow++;
	}
	allow_refusal = NULL;
}

static int
allowed(const struct sockaddr_in *sa)
{
	uint32_t addr = ntohl(sa->sin_addr.s_addr);
	unsigned port = ntohs(sa->sin_port);
	int i;

	for (i = 0; i < nallow; i++)
		if ((addr & allow[i].mask) == allow[i].net &&
		    port >= allow[i].lo && port <= allow[i].hi)
			return 1;
	return 0;
}

/* Where test files live: HW4_TEST_DIR, else test_case/ beside the CGI. */
static const char *
test_dir(char *buf, size_t size)
{
	const char *dir = getenv("HW4_TEST_DIR"), *sf, *p;

	if (dir != NULL && *dir != '\0')
		return dir;
	/* The web server names the CGI in SCRIPT_FILENAME. */
	sf = getenv("SCRIPT_FILENAME");
	if (sf != NULL && (p = strrchr(sf, '/')) != NULL &&
	    snprintf(buf, size, "%.*s/test_case", (int)(p - sf), sf) <
	    (int)size)
		return buf;
	return "test_case";
}

/* Both pages start alike: one stylesheet, light and dark. */
static void
page_start(const char *title)
{
	printf("<!DOCTYPE html>\n<html lang=\"en\"><head>"
	    "<meta charset=\"utf-8\">\n<meta name=\"viewport\" "
	    "content=\"width=device-width, initial-scale=1\">\n"
	    "<title>%s</title>\n<style>\n%s</style>\n", title, css);
}

/* The form, as form_get2.htm has it, with the query's values and errors. */
static void
page_form(const struct session *sess)
{
	static const char *heads[NFIELD] = { "Host", "Port", "Test file",
	    "SOCKS host", "SOCKS port" };
	int i, k;

	page_start("hw4.cgi: remote shells through SOCKS4");
	fputs("</head><body>\n<header class=\"top\"><h1>Remote shells through "
	    "SOCKS4</h1></header>\n<p>Each row is one session: the shell's "
	    "host and port, a test file (a name from the CGI's test "
	    "directory), and optionally a SOCKS4 server to go through. Empty "
	    "rows are skipped; a row without a SOCKS server connects "
	    "directly, where the CGI's HW4_ALLOW lets it.</p>\n", stdout);
	for (i = 0; i < NSESS; i++)
		if (sess[i].why != NULL)
			printf("<p class=\"err\">Session %d left out: %s.</p>\n",
			    i + 1, sess[i].why);
	fputs("<form method=\"GET\" action=\"hw4.cgi\">\n<div class=\"rows\">"
	    "<table>\n<tr><th>#</th>", stdout);
	for (k = 0; k < NFIELD; k++)
		printf("<th>%s</th>", heads[k]);
	fputs("</tr>\n", stdout);
	for (i = 0; i < NSESS; i++) {
		printf("<tr>\n<th>%d</th>\n", i + 1);
		for (k = 0; k < NFIELD; k++)
			form_field(&sess[i], k);
		fputs("</tr>\n", stdout);
	}
	fputs("</table></div>\n", stdout);
	form_files();
	fputs("<p><button type=\"submit\">Run</button></p>\n</form>\n"
	    "</body></html>\n", stdout);
	fflush(stdout);
}

static void
form_field(const struct session *s, enum field k)
{
	static const char *labels[NFIELD] = { "host", "port", "test file",
	    "SOCKS host", "SOCKS port" };
	static const char *heads[NFIELD] = { "Host", "Port", "Test file",
	    "SOCKS host", "SOCKS port" };
	const char *text[NFIELD] = { s->host, s->port, s->file, s->shost,
	    s->sport };
	const char *key = field_key[k];
	int bad = s->why != NULL && s->bad == k;

	printf("<td data-label=\"%s\"><input name=\"%s%d\" id=\"%s%d\" "
	    "aria-label=\"%s %d\"", heads[k], key, s->row, key, s->row,
	    labels[k], s->row);
	if (k == F_PORT || k == F_SPORT)
		fputs(" size=\"5\" maxlength=\"5\" inputmode=\"numeric\" "
		    "pattern=\"[0-9]{1,5}\"", stdout);
	else if (k == F_FILE)
		fputs(" size=\"12\" maxlength=\"64\" list=\"files\"", stdout);
	else
		fputs(" size=\"18\" maxlength=\"253\" "
		    "pattern=\"[A-Za-z0-9._\\-]+\"", stdout);
	if (text[k][0]) {
		fputs(" value=\"", stdout);
		put_str(text[k]);
		putchar('"');
	}
	if (bad)
		printf(" aria-invalid=\"true\" aria-describedby=\"%s%d-err\">"
		    "<span class=\"field-err\" id=\"%s%d-err\">%s</span>",
		    key, s->row, key, s->row, s->why);
	else
		putchar('>');
	fputs("</td>\n", stdout);
}

/* The test files there are, offered as a list beside the file fields. */
static void
form_files(void)
{
	char buf[4096], *names[LIST_MAX];
	const char *dir = test_dir(buf, sizeof buf);
	struct dirent *de;
	struct stat st;
	int n = 0, i;
	DIR *d;

	fputs("<datalist id=\"files\">\n", stdout);
	if ((d = opendir(dir)) != NULL) {
		while (n < LIST_MAX && (de = readdir(d)) != NULL) {
			/* Only the names load_script() would open. */
			if (de->d_name[0] == '.' ||
			    strlen(de->d_name) > FNAME_MAX ||
			    strspn(de->d_name, "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
			    "abcdefghijklmnopqrstuvwxyz0123456789._-") !=
			    strlen(de->d_name) ||
			    fstatat(dirfd(d), de->d_name, &st,
			    AT_SYMLINK_NOFOLLOW) == -1 || !S_ISREG(st.st_mode))
				continue;
			if ((names[n] = strdup(de->d_name)) != NULL)
				n++;
		}
		closedir(d);
	}
	qsort(names, n, sizeof names[0], cmp_names);
	for (i = 0; i < n; i++) {
		printf("<option value=\"%s\">\n", names[i]);
		free(names[i]);
	}
	fputs("</datalist>\n", stdout);
}

static int
cmp_names(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/*
 * The result page up to the panes; every chunk after it calls a() (append
 * to a pane, which stays at the bottom unless its reader scrolled up) or
 * st() (a pane's state and time).
 */
static void
page_head(struct session **run, int n, const struct session *sess)
{
	int i;

	page_start("hw4.cgi: remote shells");
	fputs("<script>\n"
	    "var t0 = Date.now(), tick = setInterval(clocks, 200);\n"
	    "function el(p, i) { return document.getElementById(p + i); }\n"
	    "function a(i, h) {\n"
	    "  var e = el(\"s\", i);\n"
	    "  var pin = e.scrollTop + e.clientHeight >= e.scrollHeight - 8;\n"
	    "  e.insertAdjacentHTML(\"beforeend\", h);\n"
	    "  if (pin) e.scrollTop = e.scrollHeight;\n"
	    "}\n"
	    "function st(i, c, h, ms) {\n"
	    "  var e = el(\"st\", i), k = el(\"tm\", i);\n"
	    "  e.className = \"state \" + c; e.setAttribute(\"data-state\", c);\n"
	    "  e.innerHTML = h;\n"
	    "  if (ms >= 0) { k.className = \"clock final\";\n"
	    "    k.textContent = (ms / 1e3).toFixed(1) + \" s\"; }\n"
	    "}\n"
	    "function clocks() {\n"
	    "  var l = document.querySelectorAll(\".clock:not(.final)\");\n"
	    "  for (var k = 0; k < l.length; k++)\n"
	    "    l[k].textContent = ((Date.now() - t0) / 1e3).toFixed(1) + \" s\";\n"
	    "}\n"
	    "addEventListener(\"load\", function () {\n"
	    "  clearInterval(tick);\n"
	    "  var l = document.querySelectorAll(\".state.connecting, .state.running\");\n"
	    "  for (var k = 0; k < l.length; k++)\n"
	    "    st(l[k].id.slice(2), \"error\", \"error: the page ended first\",\n"
	    "      Date.now() - t0);\n"
	    "});\n"
	    "</script>\n</head><body>\n<header class=\"top\"><h1>Remote shells "
	    "through SOCKS4</h1> <a id=\"back\" href=\"", stdout);
	put_query(sess);
	fputs("\">Back to the form</a></header>\n", stdout);
	for (i = 0; i < NSESS; i++)
		if (sess[i].why != NULL)
			printf("<p class=\"err\">Session %d left out: %s.</p>\n",
			    i + 1, sess[i].why);
	fputs("<main class=\"panes\" id=\"sessions\">\n", stdout);
	for (i = 0; i < n; i++)
		pane(run[i]);
	fputs("</main>\n", stdout);
	fflush(stdout);
}

static void
pane(const struct session *s)
{
	/* Host names and ports passed check_row(): nothing to escape. */
	printf("<section class=\"pane\" id=\"pane%d\"><header>"
	    "<h2>%s:%s</h2>\n<div class=\"meta\">", s->row, s->host, s->port);
	if (s->shost[0])
		printf("via SOCKS %s:%s", s->shost, s->sport);
	else
		fputs("direct", stdout);
	fputs("</div>\n<div class=\"meta\">test file ", stdout);
	put_str(s->file);
	printf("</div>\n<div><span class=\"state connecting\" id=\"st%d\" "
	    "data-state=\"connecting\">connecting</span> <span class=\"clock\" "
	    "id=\"tm%d\">0.0 s</span></div></header>\n<div class=\"out\" "
	    "id=\"s%d\" tabindex=\"0\"></div></section>\n", s->row, s->row,
	    s->row);
}

/* The form again, filled in: every value given, percent-encoded. */
static void
put_query(const struct session *sess)
{
	const unsigned char *p;
	const char *text[NFIELD];
	int i, k;

	fputs("hw4.cgi?form", stdout);
	for (i = 0; i < NSESS; i++) {
		text[F_HOST] = sess[i].host;
		text[F_PORT] = sess[i].port;
		text[F_FILE] = sess[i].file;
		text[F_SHOST] = sess[i].shost;
		text[F_SPORT] = sess[i].sport;
		for (k = 0; k < NFIELD; k++) {
			if (!text[k][0])
				continue;
			printf("&amp;%s%d=", field_key[k], i + 1);
			for (p = (const unsigned char *)text[k]; *p; p++)
				if (isalnum(*p) || strchr("._-", *p))
					putchar(*p);
				else
					printf("%%%02X", *p);
		}
	}
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
		s->req[0] = SOCKS4_VERSION;
		s->req[1] = SOCKS_CONNECT;
		s->req[2] = (unsigned char)(atoi(s->port) >> 8);
		s->req[3] = (unsigned char)(atoi(s->port) & 0xff);
		s->outlen = SOCKS4_REPLY_LEN + 1;
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
			memcpy(&s->req[SOCKS4_REPLY_LEN + 1], s->host, hl);
			s->outlen += hl;
		}
		s->req[SOCKS4_REPLY_LEN] = '\0';
		s->out = (const char *)s->req;
	} else if (resolve(s->host, s->port, &sa) == -1) {
		fail(s, "cannot resolve host %s", s->host);
		return;
	} else if (allow_refusal != NULL) {
		fail(s, "direct connection refused: %s", allow_refusal);
		return;
	} else if (!allowed(&sa)) {
		/* The address checked is the one connected to. */
		fail(s, "direct connection to %s:%s refused: not in HW4_ALLOW",
		    inet_ntoa(sa.sin_addr), s->port);
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
	char buf[4096];
	const char *dir = test_dir(buf, sizeof buf);
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
run(struct session **sess, int n)
{
	struct pollfd pfd[NSESS];
	struct session *which[NSESS], *s;
	long long now, wait;
	int i, k, r;

	for (;;) {
		now = now_ms();
		wait = -1;
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
				    "nothing from", s->st == S_RUNNING ?
				    "the shell" : s->shost[0] ?
				    "the SOCKS server" : "the host", timeout_s);
				continue;
			}
			if (wait == -1 || s->deadline - now < wait)
				wait = s->deadline - now;
			if (page_deadline - now < wait)
				wait = page_deadline - now;
			pfd[k].fd = s->fd;
			pfd[k].events = s->st == S_CONNECTING ? POLLOUT :
			    POLLIN | (s->outlen ? POLLOUT : 0);
			which[k++] = s;
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
		/* A session may end others (the output budget): check st. */
		for (i = 0; r > 0 && i < k; i++)
			if (pfd[i].revents && which[i]->st != S_DONE)
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
		if (s->st == S_RUNNING)
			set_state(s, "running", "running", "", -1);
		s->deadline = now + timeout_s * 1000LL;
		ev = POLLOUT;
	}
	if ((ev & POLLOUT) && s->outlen && flush_out(s) == -1)
		return;
	if (!(ev & (POLLIN | POLLHUP | POLLERR)))
		return;
	/* Read no further than the 8-byte reply: what follows is the shell's. */
	r = read(s->fd, buf, s->st == S_SOCKS_REPLY ?
	    SOCKS4_REPLY_LEN - s->replen : READ_MAX);
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
			end_session(s, "closed", "connection closed");
		return;
	}
	s->deadline = now + timeout_s * 1000LL;
	if (s->st == S_RUNNING) {
		on_output(s, buf, r);
		return;
	}
	memcpy(s->reply + s->replen, buf, r);
	if ((s->replen += r) < SOCKS4_REPLY_LEN)
		return;
	/* 92 and 93, the identd refusals, follow 91. */
	if (s->reply[0] == SOCKS4_REPLY_VERSION &&
	    s->reply[1] == SOCKS4_GRANTED) {
		s->st = S_RUNNING;
		set_state(s, "running", "running", "", -1);
	} else if (s->reply[0] == SOCKS4_REPLY_VERSION &&
	    s->reply[1] >= SOCKS4_REJECTED && s->reply[1] <= SOCKS4_REJECTED + 2)
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
	size_t shown;

	chunk_begin(s);
	shown = put_text(&s->u8, p, n, &budget);
	chunk_end();
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
		end_session(live[i], "truncated", msg);
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

/* The one error path of a session: say why in its pane, close, done. */
static void
fail(struct session *s, const char *fmt, ...)
{
	char msg[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof msg, fmt, ap);
	va_end(ap);
	end_session(s, "error", msg);
}

/*
 * A session's end: a note in its pane, its final state and time in the
 * header.  how is "closed" (the shell closed), "truncated" or "error".
 */
static void
end_session(struct session *s, const char *how, const char *msg)
{
	int closed = strcmp(how, "closed") == 0;

	chunk_begin(s);
	/* A sequence cut off by the close is shown as U+FFFD. */
	if (s->u8.need)
		put_cp(0xfffd, NULL);
	printf("<div class='%s'>[", closed ? "info" : "err");
	put_str(msg);
	fputs("]<\\/div>", stdout);
	chunk_end();
	if (strcmp(how, "error") == 0)
		set_state(s, "error", "error: ", msg, now_ms() - page_start_ms);
	else
		set_state(s, "closed", closed ? "closed" :
		    "closed: output truncated", "", now_ms() - page_start_ms);
	if (s->fd != -1)
		close(s->fd);
	s->fd = -1;
	s->outlen = 0;
	s->st = S_DONE;
}

/* A pane's state (a class: running, closed, error) and, once final, time. */
static void
set_state(const struct session *s, const char *cls, const char *label,
    const char *detail, long long ms)
{
	printf("<script>st(%d,\"%s\",\"%s", s->row, cls, label);
	put_str(detail);
	printf("\",%lld)</script>\n", ms);
	if (fflush(stdout) == EOF)
		exit(0);		/* the client is gone: nobody to tell */
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

	put_text(&u, (const unsigned char *)p, n, NULL);
	if (u.need)
		put_cp(0xfffd, NULL);
}

/*
 * Escape for both places the text goes: HTML, and a JavaScript string
 * inside <script>.  Only printable ASCII other than &<>"'\ is left as is,
 * so the result can neither end the string nor the script element.
 * With room, stops before the page bytes it counts down run out; returns
 * how many input bytes it took.
 */
static size_t
put_text(struct utf8 *u, const unsigned char *p, size_t n, long *room)
{
	size_t i;
	int c;

	for (i = 0; i < n; i++) {
		if (room != NULL && *room < ESC_MAX)
			break;
		c = p[i];
		if (u->need) {
			if ((c & 0xc0) == 0x80) {
				u->cp = u->cp << 6 | (c & 0x3f);
				if (--u->need == 0)
					put_cp(u->cp < u->min || u->cp > 0x10ffff ||
					    (u->cp >= 0xd800 && u->cp <= 0xdfff) ||
					    (u->cp >= 0x80 && u->cp <= 0x9f) ?
					    0xfffd : u->cp, room);
				continue;
			}
			u->need = 0;	/* cut short: c starts afresh */
			put_cp(0xfffd, room);
		}
		if (c >= 0x80) {
			if ((c & 0xe0) == 0xc0)
				*u = (struct utf8){ c & 0x1f, 0x80, 1 };
			else if ((c & 0xf0) == 0xe0)
				*u = (struct utf8){ c & 0x0f, 0x800, 2 };
			else if ((c & 0xf8) == 0xf0)
				*u = (struct utf8){ c & 0x07, 0x10000, 3 };
			else
				put_cp(0xfffd, room);
		} else if (c == '\n')
			emit("<br>", 4, room);
		else if (c == '\r')
			;		/* CRLF shells: the '\n' does the break */
		else if (c == '\t' || (c >= ' ' && c < 0x7f &&
		    strchr("&<>\"'\\", c) == NULL))
			emit((const char *)&p[i], 1, room);
		else
			put_cp(c >= ' ' && c < 0x7f ? (uint32_t)c : 0xfffd, room);
	}
	return i;
}

static void
put_cp(uint32_t cp, long *room)
{
	char ref[ESC_MAX + 1];

	emit(ref, snprintf(ref, sizeof ref, "&#x%X;", (unsigned)cp), room);
}

/* Every byte of shell output reaches the page here, counted when asked. */
static void
emit(const char *p, size_t n, long *room)
{
	fwrite(p, 1, n, stdout);
	if (room != NULL)
		*room -= n;
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
