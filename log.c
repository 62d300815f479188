/*
 * The log.  stdout is the client; under inetd stderr is the client too,
 * and then the log goes to syslog, as it does when there is no stderr.
 * Under systemd, whose journal reads stderr, records go to journald as
 * one line with SOCKS_* fields.  Elsewhere stderr gets the classic record.
 */
#include <sys/types.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>
#include <unistd.h>

#include "log.h"
#include "text.h"

#define FIELD_TEXT	(255 * 4 + 1)	/* a 255-byte field, escaped */
#define RECORD_MAX	4096

static int log_to_syslog, log_one_line;
static int journal_stream;		/* stderr is the journal: lines need no name */
static volatile sig_atomic_t in_signal_handler;	/* syslog(3) is not safe there */
static int journal_fd = -1;
static int journal_via = -1;		/* the listener's forwarder, or -1 */

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

	if (fd != -1 && connect(fd, (struct sockaddr *)&sun, sizeof sun) == -1) {
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

	return js != NULL && sscanf(js, "%llu:%llu", &dev, &ino) == 2 && fstat(2, &st) == 0 &&
	    st.st_dev == dev && st.st_ino == ino;
}

/* Choose the log for a client on fd client; no_stderr: fd 2 was closed. */
void
log_choose(int client, int no_stderr)
{
	journal_stream = 0;
	if (no_stderr || same_file(2, client)) {
		log_to_syslog = 1;
		log_one_line = 1;
		openlog("socks4d", LOG_PID | LOG_NDELAY, LOG_DAEMON);
		return;
	}
	if (stderr_is_journal()) {
		log_one_line = 1;
		/*
		 * Nonblocking: a stalled journald must not stall the relay (the
		 * forwarder's end waits half a second at most).
		 */
		journal_fd = journal_via != -1 ? journal_via : journal_connect(SOCK_NONBLOCK);
		/* For a record journald's socket could not take just now. */
		journal_stream = 1;
	}
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
		log_to_syslog = 1;
		openlog("socks4d", LOG_PID | LOG_NDELAY, LOG_DAEMON);
	} else
		journal_stream = stderr_is_journal();
}

/* Whether the listener's log is the journal (and a forwarder is worth it). */
int
log_is_journal(void)
{
	return journal_stream;
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
	if (log_to_syslog)
		closelog();
}

/* A line to the log: "socks4d[PID]: text" on stderr, or to syslog. */
void
log_line(int prio, const char *line)
{
	char buf[1024];
	struct text t = { buf, 0, sizeof buf - 1 };

	if (log_to_syslog) {
		if (!in_signal_handler)
			syslog(prio, "%s", line);
		return;
	}
	if (journal_stream) {
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

/* From a signal handler on, lines meant for syslog are dropped. */
void
log_from_signal_handler(void)
{
	in_signal_handler = 1;
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
add_field(struct text *t, const char *name, const char *value)
{
	add(t, "<");
	add(t, name);
	add(t, "> :");
	add(t, value);
	add(t, "\n");
}

static void
add_field_num(struct text *t, const char *name, unsigned v)
{
	add(t, "<");
	add(t, name);
	add(t, "> :");
	add_num(t, v, 1);
	add(t, "\n");
}

static void
add_field_escaped(struct text *t, const char *name, const void *value, size_t len)
{
	add(t, "<");
	add(t, name);
	add(t, "> :");
	add_escaped(t, value, len);
	add(t, "\n");
}

static int
rejected(const struct record *r)
{
	return r->reason != NULL;
}

/* The classic record on stderr, as one block in one write. */
static void
record_classic(const struct record *r)
{
	char rec[RECORD_MAX];	/* the longest record is about 3300 bytes */
	struct text t = TEXT(rec);

	add_field(&t, "S_IP", r->src);
	add_field_num(&t, "S_PORT", r->src_port);
	if (r->dst != NULL) {
		add_field(&t, "D_IP", r->dst);
		add_field_num(&t, "D_PORT", r->dst_port);
		if (r->name[0] != '\0')
			add_field_escaped(&t, "D_NAME", r->name, strlen(r->name));
		add_field(&t, "Command", r->command);
		if (r->version == 5)
			add_field(&t, "Version", "5");
		if (r->login != NULL)
			add_field_escaped(&t, "User", r->login, strlen(r->login));
	}
	add_field(&t, "Reply", r->reply);
	if (rejected(r))
		add_field_escaped(&t, "Reason", r->reason, strlen(r->reason));
	if (r->bound_port != 0)
		add_field_num(&t, "B_PORT", r->bound_port);
	if (r->peer != NULL) {
		add(&t, "<Peer> :");
		add(&t, r->peer);
		add(&t, ":");
		add_num(&t, r->peer_port, 1);
		add(&t, "\n");
	}
	add_field_escaped(&t, "Content", r->content, r->content_len);
	if (write(2, rec, t.len) < 0)
		return;
}

/* "ADDR:PORT", or "-" when there is no address. */
static void
add_endpoint(struct text *t, const char *addr, unsigned port)
{
	if (addr == NULL) {
		add(t, "-");
		return;
	}
	add(t, addr);
	add(t, ":");
	add_num(t, port, 1);
}

/*
 * Under systemd the journal also gets the facts as fields, so that
 * `journalctl SOCKS_REPLY=Reject` finds rejections.  Every value is
 * escaped text, one line; the record adds SOCKS_CONTENT, the end line
 * SOCKS_END (either NULL: not this entry).  0 if journald took it.
 */
static int
journal(int prio, const char *msg, const struct record *r, const char *content,
    const char *end)
{
	char d[JOURNAL_ENTRY_MAX];
	struct text t = TEXT(d);

	if (journal_fd == -1)
		return -1;
	add(&t, "MESSAGE=");
	add(&t, msg);
	add(&t, "\nPRIORITY=");
	add_num(&t, (unsigned)prio, 1);
	add(&t, "\nSYSLOG_IDENTIFIER=socks4d\nSOCKS_SRC=");
	add_endpoint(&t, r->src, r->src_port);
	add(&t, "\nSOCKS_DST=");
	add_endpoint(&t, r->dst, r->dst_port);
	add(&t, "\nSOCKS_COMMAND=");
	add(&t, r->command != NULL ? r->command : "-");
	add(&t, "\nSOCKS_REPLY=");
	add(&t, r->reply);
	add(&t, "\nSOCKS_BYTES_IN=");
	add_num(&t, r->received, 1);
	add(&t, "\nSOCKS_BYTES_OUT=");
	add_num(&t, r->sent, 1);
	add(&t, "\nSOCKS_VERSION=");
	add_num(&t, (unsigned)r->version, 1);
	if (r->login != NULL) {
		add(&t, "\nSOCKS_USER=");
		add_escaped_str(&t, r->login);
	}
	add(&t, "\nSOCKS_REASON=");
	if (rejected(r))
		add_escaped_str(&t, r->reason);
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
	return send(journal_fd, d, t.len, MSG_NOSIGNAL) == (ssize_t)t.len ? 0 : -1;
}

static int
record_priority(const struct record *r)
{
	return rejected(r) ? LOG_NOTICE : LOG_INFO;
}

/* The record as one line, for syslog and the journal, into t; its escaped excerpt into c. */
static void
one_line_record(const struct record *r, struct text *t, struct text *c)
{
	add_escaped(c, r->content, r->content_len);
	add(t, r->command != NULL ? r->command : "request");
	add(t, " ");
	add_endpoint(t, r->src, r->src_port);
	if (r->dst != NULL) {
		add(t, " -> ");
		add_endpoint(t, r->dst, r->dst_port);
		if (r->name[0] != '\0') {
			add(t, " name ");
			add_escaped_str(t, r->name);
		}
		add(t, " user \"");
		add_escaped_str(t, r->user);
		add(t, "\"");
	}
	add(t, ": ");
	add(t, r->reply);
	if (rejected(r)) {
		add(t, " (");
		add_escaped_str(t, r->reason);
		add(t, ")");
	}
	if (r->peer != NULL) {
		add(t, ", bound port ");
		add_num(t, r->bound_port, 1);
		add(t, ", peer ");
		add_endpoint(t, r->peer, r->peer_port);
	}
	add(t, ", content \"");
	add(t, c->buf);
	add(t, "\"");
}

/* "end: " the bytes each way, the duration and why, into t. */
static void
end_line(const struct record *r, const char *why, unsigned long long ms, struct text *t)
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

/* The record on syslog or the journal: one line, and fields for the journal. */
static void
record_one_line(const struct record *r)
{
	char rec[RECORD_MAX], content[FIELD_TEXT];
	struct text t = TEXT(rec), c = TEXT(content);

	one_line_record(r, &t, &c);
	if (journal(record_priority(r), rec, r, content, NULL) == -1)
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
	if (log_one_line)
		record_one_line(r);
	else
		record_classic(r);
}

/* The end of a relayed session: bytes each way, duration, and why. */
void
log_end(const struct record *r, const char *why, unsigned long long ms)
{
	char line[256];
	struct text t = TEXT(line);

	end_line(r, why, ms, &t);
	if (journal(LOG_INFO, line, r, NULL, why) == -1)
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
log_record_end(const struct record *r, const char *why, unsigned long long ms)
{
	char both[RECORD_MAX + 256], content[FIELD_TEXT], *end;
	struct text t = TEXT(both), c = TEXT(content);
	size_t rec_len;

	one_line_record(r, &t, &c);
	rec_len = t.len;
	add(&t, "; ");
	end = both + t.len;
	end_line(r, why, ms, &t);
	if (journal(record_priority(r), both, r, content, why) == 0)
		return;
	both[rec_len] = '\0';		/* the record alone, then the end line */
	log_line(record_priority(r), both);
	log_line(LOG_INFO, end);
}
