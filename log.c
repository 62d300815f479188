/*
 * The log.  stdout is the client; under inetd stderr is the client too,
 * and then the log goes to syslog, as it does when there is no stderr.
 * Under systemd, whose journal reads stderr, records go to journald as
 * one line with SOCKS_* fields.  Elsewhere stderr gets the classic record.
 * SPDX-License-Identifier: ISC
 */
#include <sys/types.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>
#include <unistd.h>

#include "addr.h"
#include "log.h"
#include "request.h"
#include "socks.h"
#include "text.h"

#define FIELD_TEXT	(255 * 4 + 1)	/* a 255-byte field, escaped */
#define RECORD_MAX	4096
/* add_addr()'s longest, 8 groups of 4 digits: a mapped address is IPv4. */
#define ADDR_TEXT	(8 * 5)

enum log_to {
	LOG_TO_STDERR,		/* "socks4d[PID]: " lines, classic records */
	LOG_TO_SYSLOG,		/* stderr is the client, or closed */
	LOG_TO_JOURNAL		/* stderr: "<N>" lines, one-line records */
};

static enum log_to log_to;
static int journal_fd = -1;	/* journald (or the forwarder): fields */
static int journal_via = -1;	/* the listener's forwarder, or -1 */

/*
 * A record's addresses as text, made before the record's buffer is on
 * the stack: inet_ntop() may be deep (musl's is an snprintf).
 */
struct where {
	char	 src[ADDR_TEXT], dst[ADDR_TEXT], peer[ADDR_TEXT];
	char	 via[ADDR_TEXT];
};

/* Whether fds a and b are the same open file (the client, under inetd). */
int
same_file(int a, int b)
{
	struct stat sa, sb;

	return fstat(a, &sa) == 0 && fstat(b, &sb) == 0 &&
	    sa.st_dev == sb.st_dev && sa.st_ino == sb.st_ino;
}

/*
 * journald's native protocol (systemd's "Native Journal Protocol"): one
 * datagram of FIELD=value lines.  Connected early, while a session may
 * still be root; -1 if there is no journald, and stderr serves instead.
 * flags: 0 or SOCK_NONBLOCK.
 */
int
journal_connect(int flags)
{
	struct sockaddr_un sun = { .sun_family = AF_UNIX,
				   .sun_path = "/run/systemd/journal/socket" };
	int fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC | flags, 0);

	if (fd != -1 &&
	    connect(fd, (struct sockaddr *)&sun, sizeof sun) == -1) {
		close(fd);
		fd = -1;
	}
	return fd;
}

/* Is stderr the journal (JOURNAL_STREAM names it)? */
static int
stderr_is_journal(void)
{
	const char *js = getenv("JOURNAL_STREAM");
	struct stat st;
	unsigned long long dev, ino;

	return js != NULL && sscanf(js, "%llu:%llu", &dev, &ino) == 2 &&
	    fstat(2, &st) == 0 && st.st_dev == dev && st.st_ino == ino;
}

/*
 * log_to becomes to.  Written only if it changes: a listener's child
 * mostly keeps its parent's choice, and a write of the same value would
 * still cost it a private copy of the page (a fault and 4 KiB a session).
 */
static void
log_to_be(enum log_to to)
{
	if (log_to != to)
		log_to = to;
}

/*
 * Choose the log for a client on fd client, or -1 for a listener's child,
 * whose client is a socket of its own and never stderr; no_stderr: fd 2
 * was closed.
 */
void
log_choose(int client, int no_stderr)
{
	if (no_stderr || (client != -1 && same_file(2, client))) {
		log_to_be(LOG_TO_SYSLOG);
		openlog("socks4d", LOG_PID | LOG_NDELAY, LOG_DAEMON);
	} else if (stderr_is_journal()) {
		log_to_be(LOG_TO_JOURNAL);
		/*
		 * Nonblocking: a stalled journald must not stall the relay
		 * (the forwarder's end waits half a second at most); what
		 * it cannot take goes to stderr.
		 */
		journal_fd = journal_via != -1 ? journal_via :
		    journal_connect(SOCK_NONBLOCK);
	} else
		log_to_be(LOG_TO_STDERR);
}

/*
 * The listener's log: syslog without stderr; lines on stderr otherwise,
 * each with its priority ("<N>") when stderr is the journal, which adds
 * the name and PID itself.
 */
void
log_choose_listener(int no_stderr)
{
	if (no_stderr) {
		log_to = LOG_TO_SYSLOG;
		openlog("socks4d", LOG_PID | LOG_NDELAY, LOG_DAEMON);
	} else
		log_to = stderr_is_journal() ? LOG_TO_JOURNAL : LOG_TO_STDERR;
}

/* Whether the listener's log is the journal (and a forwarder is worth it). */
int
log_is_journal(void)
{
	return log_to == LOG_TO_JOURNAL;
}

/*
 * From now on sessions send their journal entries to fd (the listener's
 * forwarder), or with -1 to journald themselves; the fd given before is
 * closed.
 */
void
log_journal_via(int fd)
{
	if (journal_via != -1)
		close(journal_via);
	journal_via = fd;
}

/*
 * In a listener's child, before the session chooses its log: syslog is
 * closed if the listener opened it.  Only then: closelog() writes a page
 * the child would otherwise share with the listener.
 */
void
log_leave_listener(void)
{
	if (log_to == LOG_TO_SYSLOG)
		closelog();
}

/* A line to the log: "socks4d[PID]: text" on stderr, or to syslog. */
void
log_line(int prio, const char *line)
{
	char buf[1024];
	struct text t = { buf, 0, sizeof buf - 1 };

	if (log_to == LOG_TO_SYSLOG) {
		syslog(prio, "%s", line);
		return;
	}
	if (log_to == LOG_TO_JOURNAL) {
		add(&t, "<");
		add_num(&t, (unsigned)prio, 1);
		add(&t, ">");
	} else {
		add(&t, "socks4d[");
		add_num(&t, (unsigned long long)getpid(), 1);
		add(&t, "]: ");
	}
	add(&t, line);
	buf[t.len++] = '\n';
	if (write(2, buf, t.len) < 0)
		return;
}

/* Free-form diagnostics, off the per-session path. */
void
logmsg(int prio, const char *fmt, ...)
{
	char line[1000];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(line, sizeof line, fmt, ap);
	va_end(ap);
	log_line(prio, line);
}

static void
where_of(const struct record *r, struct where *w)
{
	struct text src = TEXT(w->src), dst = TEXT(w->dst);
	struct text peer = TEXT(w->peer), via = TEXT(w->via);

	add_addr(&src, r->src);
	if (r->via != NULL)
		add_addr(&via, r->via);
	if (r->dst != NULL)
		add_addr(&dst, r->dst);
	if (r->peer != NULL)
		add_addr(&peer, r->peer);
}

/* "ADDR:PORT" (an IPv6 address unbracketed), or "-" when there is none. */
static void
add_endpoint(struct text *t, const char *addr,
    const struct sockaddr_storage *ss)
{
	if (ss == NULL) {
		add(t, "-");
		return;
	}
	add(t, addr);
	add(t, ":");
	add_num(t, port_of(ss), 1);
}

/* NULL for no command. */
static const char *
command_name(int cmd)
{
	switch (cmd) {
	case 0: return NULL;
	case SOCKS_CONNECT: return "CONNECT";
	case SOCKS_BIND: return "BIND";
	case SOCKS_UDP_ASSOCIATE: return "UDP";
	default: return "?";
	}
}

/* "4", "5", "HTTP"; "0" before a request. */
static const char *
version_name(int version)
{
	return version == REQUEST_HTTP ? "HTTP" : version == SOCKS5_VERSION ?
	    "5" : version == SOCKS4_VERSION ? "4" : "0";
}

static const char *
reply(const struct record *r)
{
	return r->granted ? "Accept" : "Reject";
}

static const char *
reason(const struct record *r)
{
	return r->reason != NULL ? r->reason : "";
}

/*
 * A field of the classic record, "<NAME> :", its value to follow; every
 * field ends with a newline, which the next one starts with.
 */
static struct text *
field(struct text *t, const char *name)
{
	if (t->len > 0)
		add(t, "\n");
	add(t, "<");
	add(t, name);
	add(t, "> :");
	return t;
}

/* The classic record on stderr, as one block in one write. */
static void
record_classic(const struct record *r, const struct where *w)
{
	char rec[RECORD_MAX];	/* the longest record is about 3300 bytes */
	struct text t = TEXT(rec);

	add(field(&t, "S_IP"), w->src);
	add_num(field(&t, "S_PORT"), port_of(r->src), 1);
	if (r->via != NULL)
		add_endpoint(field(&t, "Via"), w->via, r->via);
	if (r->dst != NULL) {
		add(field(&t, "D_IP"), w->dst);
		add_num(field(&t, "D_PORT"), port_of(r->dst), 1);
		if (r->name[0] != '\0')
			add_escaped_str(field(&t, "D_NAME"), r->name);
		add(field(&t, "Command"), command_name(r->command));
		if (r->version != SOCKS4_VERSION)
			add(field(&t, "Version"), version_name(r->version));
		if (r->login != NULL)
			add_escaped_str(field(&t, "User"), r->login);
	}
	add(field(&t, "Reply"), reply(r));
	if (!r->granted)
		add_escaped_str(field(&t, "Reason"), reason(r));
	if (r->bound_port != 0)
		add_num(field(&t, "B_PORT"), r->bound_port, 1);
	if (r->peer != NULL)
		add_endpoint(field(&t, "Peer"), w->peer, r->peer);
	add_escaped(field(&t, "Content"), r->content, r->content_len);
	add(&t, "\n");
	if (write(2, rec, t.len) < 0)
		return;
}

/*
 * Under systemd the journal also gets the facts as fields, so that
 * `journalctl SOCKS_REPLY=Reject` finds rejections.  Every value is
 * escaped text, one line; the record adds SOCKS_CONTENT, the end line
 * SOCKS_END (either NULL: not this entry).  0 if journald took it.
 */
static int
journal(int prio, const char *msg, const struct record *r,
    const struct where *w, const char *content, const char *end)
{
	char d[JOURNAL_ENTRY_MAX];
	struct text t = TEXT(d);
	const char *cmd = command_name(r->command);

	if (journal_fd == -1)
		return -1;
	add(&t, "MESSAGE=");
	add(&t, msg);
	add(&t, "\nPRIORITY=");
	add_num(&t, (unsigned)prio, 1);
	add(&t, "\nSYSLOG_IDENTIFIER=socks4d\nSOCKS_SRC=");
	add_endpoint(&t, w->src, r->src);
	if (r->via != NULL) {
		add(&t, "\nSOCKS_VIA=");
		add_endpoint(&t, w->via, r->via);
	}
	add(&t, "\nSOCKS_DST=");
	add_endpoint(&t, w->dst, r->dst);
	add(&t, "\nSOCKS_COMMAND=");
	add(&t, cmd != NULL ? cmd : "-");
	add(&t, "\nSOCKS_REPLY=");
	add(&t, reply(r));
	add(&t, "\nSOCKS_BYTES_IN=");
	add_num(&t, r->received, 1);
	add(&t, "\nSOCKS_BYTES_OUT=");
	add_num(&t, r->sent, 1);
	add(&t, "\nSOCKS_VERSION=");
	add(&t, version_name(r->version));
	if (r->login != NULL) {
		add(&t, "\nSOCKS_USER=");
		add_escaped_str(&t, r->login);
	}
	add(&t, "\nSOCKS_REASON=");
	if (!r->granted)
		add_escaped_str(&t, reason(r));
	if (content != NULL) {
		add(&t, "\nSOCKS_CONTENT=");
		add(&t, content);
	}
	if (end != NULL) {
		add(&t, "\nSOCKS_END=");
		add(&t, end);
	}
	add(&t, "\n");
	if (t.len + 1 >= t.size)
		return -1;
	return send(journal_fd, d, t.len, MSG_NOSIGNAL) == (ssize_t)t.len ?
	    0 : -1;
}

static int
record_priority(const struct record *r)
{
	return r->granted ? LOG_INFO : LOG_NOTICE;
}

/*
 * The record as one line, for syslog and the journal, into t; its escaped
 * excerpt into c.
 */
static void
one_line_record(const struct record *r, const struct where *w,
    struct text *t, struct text *c)
{
	const char *cmd = command_name(r->command);

	add_escaped(c, r->content, r->content_len);
	if (r->version == REQUEST_HTTP && cmd != NULL)
		add(t, "HTTP ");
	add(t, cmd != NULL ? cmd : "request");
	add(t, " ");
	add_endpoint(t, w->src, r->src);
	if (r->via != NULL) {
		add(t, " via ");
		add_endpoint(t, w->via, r->via);
	}
	if (r->dst != NULL) {
		add(t, " -> ");
		add_endpoint(t, w->dst, r->dst);
		if (r->name[0] != '\0') {
			add(t, " name ");
			add_escaped_str(t, r->name);
		}
		add(t, " user \"");
		add_escaped_str(t, r->user);
		add(t, "\"");
	}
	add(t, ": ");
	add(t, reply(r));
	if (!r->granted) {
		add(t, " (");
		add_escaped_str(t, reason(r));
		add(t, ")");
	}
	if (r->peer != NULL) {
		add(t, ", bound port ");
		add_num(t, r->bound_port, 1);
		add(t, ", peer ");
		add_endpoint(t, w->peer, r->peer);
	}
	add(t, ", content \"");
	add(t, c->buf);
	add(t, "\"");
}

/* "end: " the bytes each way, the duration and why, into t. */
static void
end_line(const struct record *r, const char *why, unsigned long long ms,
    struct text *t)
{
	add(t, "end: ");
	add_num(t, r->sent, 1);
	add(t, " bytes to client, ");
	add_num(t, r->received, 1);
	add(t, " from client, ");
	add_num(t, ms / 1000, 1);
	add(t, ".");
	add_num(t, ms % 1000, 3);
	add(t, " s, ");
	add(t, why);
}

/* The record on syslog or the journal: one line, and fields for journald. */
static void
record_one_line(const struct record *r, const struct where *w)
{
	char rec[RECORD_MAX], content[FIELD_TEXT];
	struct text t = TEXT(rec), c = TEXT(content);

	one_line_record(r, w, &t, &c);
	if (journal(record_priority(r), rec, r, w, content, NULL) == -1)
		log_line(record_priority(r), rec);
}

/*
 * The record, once per request: on stderr as one block in one write, so
 * that records of concurrent clients never interleave; on syslog and the
 * journal as one line.
 */
void
log_record(const struct record *r)
{
	struct where w;

	where_of(r, &w);
	if (log_to == LOG_TO_STDERR)
		record_classic(r, &w);
	else
		record_one_line(r, &w);
}

/* The end of a relayed session: bytes each way, duration, and why. */
void
log_end(const struct record *r, const char *why, unsigned long long ms)
{
	char line[256];
	struct text t = TEXT(line);
	struct where w;

	where_of(r, &w);
	end_line(r, why, ms, &t);
	if (journal(LOG_INFO, line, r, &w, NULL, why) == -1)
		log_line(LOG_INFO, line);
}

/*
 * Whether a relayed session's record may wait for its end, to go out with
 * the end line as one entry: in the journal, where that halves the entries
 * journald stores (and the work it does) for short sessions.
 */
int
log_holds_record(void)
{
	return journal_fd != -1;
}

/*
 * The record and the end line as one journal entry: "RECORD; end: ...",
 * with SOCKS_CONTENT and SOCKS_END.  As two lines on stderr if journald
 * would not take it.
 */
void
log_record_end(const struct record *r, const char *why,
    unsigned long long ms)
{
	char both[RECORD_MAX + 256], content[FIELD_TEXT], *end;
	struct text t = TEXT(both), c = TEXT(content);
	struct where w;
	size_t rec_len;

	where_of(r, &w);
	one_line_record(r, &w, &t, &c);
	rec_len = t.len;
	add(&t, "; ");
	end = both + t.len;
	end_line(r, why, ms, &t);
	if (journal(record_priority(r), both, r, &w, content, why) == 0)
		return;
	both[rec_len] = '\0';	/* the record alone, then the end line */
	log_line(record_priority(r), both);
	log_line(LOG_INFO, end);
}
