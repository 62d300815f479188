/*
 * socks4d - a SOCKS4 and SOCKS4a proxy that serves one client and exits.
 *
 * A super-server (inetd, xinetd, systemd Accept=yes, tcpserver) accepts the
 * connection and runs socks4d with it on stdin/stdout, or, under systemd
 * without StandardInput=socket, as socket-activation fd 3.  socks4d reads one
 * request, checks socks.conf, connects or binds, replies and relays.
 *
 * Protocol: Ying-Da Lee, "SOCKS: A protocol for TCP proxy across firewalls"
 * and "SOCKS 4A: A Simple Extension to SOCKS 4 Protocol".
 */
#define _GNU_SOURCE
#include <sys/types.h>
#include <sys/resource.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#ifdef __linux__
#include <sys/prctl.h>
#endif
#include <netinet/in.h>
#include <arpa/inet.h>
#include <netdb.h>
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>
#include <time.h>
#include <unistd.h>
#include <sys/un.h>

#include "listener.h"

#ifndef RUN_AS_UID		/* whom root becomes: nobody and nogroup on Debian */
#define RUN_AS_UID	65534
#define RUN_AS_GID	65534
#endif
#ifndef SOCKS_CONF
#define SOCKS_CONF	"/usr/local/etc/socks.conf"
#endif

#define REQ_MAX		1024	/* 8 + USERID + NUL + HOSTNAME + NUL, with room */
#define HEAD_MAX	16384	/* the request and what the client sends early */
#define FIELD_MAX	255	/* USERID and SOCKS4a HOSTNAME, without the NUL */
#define CONF_MAX	65536	/* socks.conf is read whole, once per client */
#define CONF_LINE_MAX	512
#define ADDRS_MAX	8	/* SOCKS4a addresses tried, at most */
#define COPY_BUF	HEAD_MAX /* each direction copies until it proves bulky; the
				   client's copies through head[] */
#define PIPE_SIZE	(1 << 20) /* then it splices through a pipe this large */
#define PIPE_MIN	65536	/* a smaller pipe is not worth splicing through */
#define ROUNDS		8	/* moves per direction per poll() wake-up */
#define EXCERPT_MAX	48	/* bytes of relayed data shown in <Content> */

#define EXIT_RELAYED	0	/* session ran and ended */
#define EXIT_REJECTED	1	/* request malformed, denied or failed */
#define EXIT_USAGE	2
#define EXIT_SYSTEM	111	/* started by root and could not stop being root */

enum { CMD_CONNECT = 1, CMD_BIND = 2 };
enum { REPLY_GRANTED = 90, REPLY_REJECTED = 91 };

struct request {
	int		 cmd;
	uint16_t	 port;
	uint8_t		 ip[4];
	char		 userid[FIELD_MAX + 1];
	char		 host[FIELD_MAX + 1];	/* SOCKS4a name, "" otherwise */
	size_t		 len;			/* bytes the request took */
};

/* Everything one client costs: the record that is logged is built here. */
struct session {
	int		 in, out;		/* the client: fd 0 and 1, or 3 */
	struct request	 req;
	size_t		 head_len;
	struct sockaddr_storage src, local, dst, peer;
	const char	*conf;			/* socks.conf, read once */
	size_t		 conf_len;
	uint16_t	 bound_port;		/* BIND: our listening port */
	const char	*reply;			/* "Accept", "Reject" or NULL */
	char		 why[CONF_LINE_MAX + 128];
	unsigned char	 excerpt[EXCERPT_MAX];
	size_t		 excerpt_len;
	int		 recorded;		/* the request record is out */
	unsigned long long sent, received;	/* to and from the client */
	struct timespec	 start;
	/*
	 * Last, so that a short request shares its page with the fields above:
	 * each page a session touches costs it a page fault.
	 */
	uint8_t		 head[HEAD_MAX];	/* the request, then early data */
};

/* One direction of the relay. */
struct flow {
	int		 from, to;
	int		 pipe[2];		/* splice(2) staging, or -1 */
	char		*buf;			/* copy staging until then */
	size_t		 off, pending;
	int		 eof, done, copy_only, filled;	/* filled: a read filled buf */
	unsigned long long *count;
};

/* Options: set once from the command line, read-only after. */
static const char *conf_path = SOCKS_CONF;
static int request_timeout = 10, connect_timeout = 10, bind_timeout = 120;
static int idle_timeout;		/* 0: none */
static int log_to_syslog, log_one_line;
static volatile sig_atomic_t alarm_fd = -1;	/* who gets 91 if the resolver hangs */
static int journal_fd = -1;		/* stderr is the journal: talk to journald */

static int	fill_low_fds(void);
static int	client_socket(void);
static void	choose_log(int, int);
static int	read_request(struct session *);
static int	parse_request(const uint8_t *, size_t, struct request *, const char **);
static int	resolve(const struct request *, int, struct sockaddr_storage *, int);
static int	conf_open(char *, size_t);
static int	conf_load(int, char *, size_t *, char *, size_t);
static void	drop_privileges(void);
static int	conf_allows(const char *, size_t, int, const struct sockaddr_storage *,
		    const struct sockaddr_storage *, char *, size_t);
static int	check_config(int, char **);
static int	do_connect(struct session *);
static int	do_bind(struct session *);
static void	send_reply(struct session *, int, uint16_t, const uint8_t *);
static void	reject(struct session *, const char *, ...);
static const char *relay(struct session *, int);
static void	monotonic(struct timespec *);
static void	log_record(struct session *);
static void	log_end(struct session *, const char *);
static void	logmsg(int, const char *, ...);
static void	usage(void);
static long	number(const char *, long);
static int	same_file(int, int);
static void	ipv4_of(const struct sockaddr_storage *, uint8_t [4]);

int
main(int argc, char *argv[])
{
	/* Static: zero pages cost no memory until written, and most never are. */
	static struct session s;
	static char conf[CONF_MAX + 1];
	size_t conf_len = 0;
	const char *end;
	int ch, check = 0, remote, stderr_closed, conf_fd, on = 1;
	struct listener_options lo = { .max_total = LISTENER_TOTAL,
	    .max_per_source = LISTENER_PER_SOURCE, .grace = LISTENER_GRACE };

	while ((ch = getopt(argc, argv, "B:c:C:g:hI:l:m:s:tT:")) != -1) {
		switch (ch) {
		case 'c': conf_path = optarg; break;
		case 't': check = 1; break;
		case 'T': request_timeout = number(optarg, 86400); break;
		case 'C': connect_timeout = number(optarg, 86400); break;
		case 'B': bind_timeout = number(optarg, 86400); break;
		case 'I': idle_timeout = number(optarg, 86400); break;
		case 'l':
			if (lo.nlisten == LISTENER_ADDRS_MAX)
				usage();
			lo.listen[lo.nlisten++] = optarg;
			break;
		case 'm': lo.max_total = number(optarg, 65536); break;
		case 's': lo.max_per_source = number(optarg, 65536); break;
		case 'g': lo.grace = number(optarg, 86400); break;
		default: usage();
		}
	}
	if (request_timeout <= 0 || connect_timeout <= 0 || bind_timeout <= 0 ||
	    idle_timeout < 0 || lo.max_total <= 0 || lo.max_per_source <= 0 || lo.grace < 0)
		usage();
	if (check)
		return check_config(argc - optind, argv + optind);

	signal(SIGPIPE, SIG_IGN);
	stderr_closed = fill_low_fds();
	lo.log_to_syslog = stderr_closed;
	/* Listener mode: returns only in a child, with its client. */
	s.in = listener_run(&lo, drop_privileges);
	monotonic(&s.start);
	if (s.in == -1 && (s.in = client_socket()) == -1)
		usage();
	s.out = s.in == 0 && same_file(0, 1) ? 1 : s.in;
	choose_log(s.in, stderr_closed);
	socklen_t sl = sizeof s.src;
	getpeername(s.in, (struct sockaddr *)&s.src, &sl);
	ioctl(s.in, FIONBIO, &on);
	/* A socks.conf error waits in s.why until there is a request to reject. */
	conf_fd = conf_open(s.why, sizeof s.why);
	drop_privileges();

	if (read_request(&s) == -1)
		return EXIT_REJECTED;
	if (conf_fd == -1 || conf_load(conf_fd, conf, &conf_len, s.why, sizeof s.why) == -1)
		reject(&s, "%s", s.why);
	s.conf = conf, s.conf_len = conf_len;
	if (s.req.cmd == CMD_CONNECT) {
		remote = do_connect(&s);
		send_reply(&s, REPLY_GRANTED, s.req.port, s.req.ip);
	} else
		remote = do_bind(&s);
	s.reply = "Accept";
	end = relay(&s, remote);
	log_record(&s);
	log_end(&s, end);
	return strcmp(end, "both sides closed") == 0 ? EXIT_RELAYED : EXIT_REJECTED;
}

static void
usage(void)
{
	fprintf(stderr,
"usage: socks4d [-c file] [-T secs] [-C secs] [-B secs] [-I secs]\n"
"       socks4d -l [addr:]port ... [-m max] [-s max] [-g secs] [options above]\n"
"       socks4d -t [-c file] [c|b address [port [source]]]\n"
"socks4d serves one SOCKS4/4a client whose connection is its standard input\n"
"and output; a super-server starts it once per connection, e.g.\n"
"  systemd-socket-activate -a --inetd -l 127.0.0.1:1080 socks4d\n"
"or systemd's socks4d.socket (Accept=yes), inetd or tcpserver. -c names the\n"
"firewall (default %s), -T -C -B -I set the request, connect,\n"
"BIND-accept and idle deadlines in seconds (10, 10, 120, none); -t checks the\n"
"firewall, or asks it about one request, and exits.  With -l (repeatable) or\n"
"listening sockets from systemd (Accept=no), socks4d listens itself and forks\n"
"a session per client: at most -m in all (1024) and -s from one address (128);\n"
"on SIGTERM sessions get -g seconds (10) to end.\n", SOCKS_CONF);
	exit(EXIT_USAGE);
}

/*
 * Started by root (an inetd line with user root, tcpserver run as root),
 * socks4d needs none of it: it becomes RUN_AS_UID before it reads a byte
 * of the request.  Relayed data never goes into a core file.
 */
static void
drop_privileges(void)
{
	static const struct rlimit no_core = { 0, 0 };
	static const gid_t gid = RUN_AS_GID;

	setrlimit(RLIMIT_CORE, &no_core);
#ifdef PR_SET_DUMPABLE
	prctl(PR_SET_DUMPABLE, 0);
#endif
	if (geteuid() != 0)
		return;
	if (setgroups(1, &gid) == -1 || setgid(RUN_AS_GID) == -1 ||
	    setuid(RUN_AS_UID) == -1 || setuid(0) != -1) {
		logmsg(LOG_ERR, "cannot drop root privileges: %s", strerror(errno));
		exit(EXIT_SYSTEM);
	}
}

static int
is_socket(int fd)
{
	int type;
	socklen_t len = sizeof type;

	return getsockopt(fd, SOL_SOCKET, SO_TYPE, &type, &len) == 0 &&
	    type == SOCK_STREAM;
}

/*
 * systemd's socket-activation protocol, sd_listen_fds(3): with Accept=yes
 * and no StandardInput=socket the connection is fd 3, announced by
 * LISTEN_PID and LISTEN_FDS.  Read here rather than through libsystemd,
 * whose loading would cost every client more than the rest of socks4d.
 */
static int
listen_fd(void)
{
	const char *pid = getenv("LISTEN_PID"), *fds = getenv("LISTEN_FDS");
	int ours;

	if (fds == NULL)
		return -1;
	ours = pid && strtol(pid, NULL, 10) == (long)getpid() && strcmp(fds, "1") == 0;
	unsetenv("LISTEN_PID");
	unsetenv("LISTEN_FDS");
	unsetenv("LISTEN_FDNAMES");
	return ours && is_socket(3) ? 3 : -1;
}

/*
 * Keep fds 0-2 taken, so that nothing socks4d opens can become one of them:
 * /dev/null fills each one that is closed.  1 if stderr was closed.
 */
static int
fill_low_fds(void)
{
	int closed = 0;

	for (int fd = 0; fd < 3; fd++)
		if (fcntl(fd, F_GETFD) == -1) {
			closed |= 1 << fd;
			if (open("/dev/null", O_RDWR) == -1)
				break;
		}
	return (closed & 1 << 2) != 0;
}

/* The client is on stdin, or, from systemd without StandardInput=socket, fd 3. */
static int
client_socket(void)
{
	int fd;

	if ((fd = listen_fd()) != -1)
		return fd;
	return is_socket(0) ? 0 : -1;
}

static int
same_file(int a, int b)
{
	struct stat sa, sb;

	return fstat(a, &sa) == 0 && fstat(b, &sb) == 0 &&
	    sa.st_dev == sb.st_dev && sa.st_ino == sb.st_ino;
}

/*
 * journald's native protocol (systemd's "Native Journal Protocol"): one
 * datagram of FIELD=value lines.  Connected now, while socks4d may still
 * be root; -1 if there is no journald, and stderr serves instead.
 */
static int
journal_connect(void)
{
	struct sockaddr_un sun = { .sun_family = AF_UNIX,
				   .sun_path = "/run/systemd/journal/socket" };
	/* Nonblocking: a stalled journald must not stall the relay. */
	int fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);

	if (fd != -1 && connect(fd, (struct sockaddr *)&sun, sizeof sun) == -1) {
		close(fd);
		fd = -1;
	}
	return fd;
}

/*
 * inetd hands the socket over as fds 0, 1 and 2: a log written to stderr
 * would reach the client, so it goes to syslog, as it does when there is
 * no stderr.  The journal, reading stderr under systemd, gets one line per
 * record, as syslog does.
 */
static void
choose_log(int client, int no_stderr)
{
	const char *js = getenv("JOURNAL_STREAM");
	struct stat st;
	unsigned long long dev, ino;

	if (no_stderr || same_file(2, client)) {
		log_to_syslog = log_one_line = 1;
		openlog("socks4d", LOG_PID | LOG_NDELAY, LOG_DAEMON);
		return;
	}
	if (js && sscanf(js, "%llu:%llu", &dev, &ino) == 2 && fstat(2, &st) == 0 &&
	    st.st_dev == dev && st.st_ino == ino) {
		log_one_line = 1;
		journal_fd = journal_connect();
	}
}

/*
 * Text assembled by appending, cut short at the end of its buffer.  What
 * every session logs is built this way: musl's snprintf reads its format
 * twice, and a dozen calls were most of a short session's instructions.
 */
struct text {
	char	*buf;
	size_t	 len, size;
};

static void
add(struct text *t, const char *s)
{
	while (*s != '\0' && t->len + 1 < t->size)
		t->buf[t->len++] = *s++;
	t->buf[t->len] = '\0';
}

/* A decimal number, with leading zeros to at least width digits. */
static void
add_num(struct text *t, unsigned long long v, int width)
{
	char d[24];
	int i = sizeof d - 1;

	d[i] = '\0';
	do
		d[--i] = (char)('0' + v % 10);
	while ((v /= 10) != 0 || sizeof d - 1 - i < (size_t)width);
	add(t, d + i);
}

/* One line of the classic record: "<NAME> :value". */
static void
add_field(struct text *t, const char *name, const char *value)
{
	add(t, "<"), add(t, name), add(t, "> :"), add(t, value), add(t, "\n");
}

static void
add_field_num(struct text *t, const char *name, unsigned v)
{
	add(t, "<"), add(t, name), add(t, "> :"), add_num(t, v, 1), add(t, "\n");
}

/* Dotted IPv4 by hand: musl's inet_ntop is an snprintf. */
static const char *
ipv4_text(const uint8_t *a, char *buf, size_t len)
{
	struct text t = { buf, 0, len };

	for (int i = 0; i < 4; i++) {
		if (i > 0)
			add(&t, ".");
		add_num(&t, a[i], 1);
	}
	return buf;
}

/* A line to the log: "socks4d[PID]: text" on stderr, or to syslog. */
static void
log_line(int prio, const char *line)
{
	char buf[1024];
	struct text t = { buf, 0, sizeof buf - 1 };

	if (log_to_syslog) {
		syslog(prio, "%s", line);
		return;
	}
	add(&t, "socks4d["), add_num(&t, (unsigned long long)getpid(), 1), add(&t, "]: ");
	add(&t, line);
	buf[t.len++] = '\n';
	if (write(2, buf, t.len) < 0)
		return;
}

static void
logmsg(int prio, const char *fmt, ...)
{
	char line[1000];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(line, sizeof line, fmt, ap);
	va_end(ap);
	log_line(prio, line);
}

/*
 * The monotonic clock by system call: a session reads it a few times, and
 * the first read through the vDSO costs two page faults and a symbol
 * lookup, more than all of those system calls together.
 */
static void
monotonic(struct timespec *ts)
{
#ifdef SYS_clock_gettime
	if (syscall(SYS_clock_gettime, CLOCK_MONOTONIC, ts) == 0)
		return;
#endif
	clock_gettime(CLOCK_MONOTONIC, ts);
}

static long long
ms_of(const struct timespec *ts)
{
	return ts->tv_sec * 1000LL + ts->tv_nsec / 1000000;
}

static long long
now_ms(void)
{
	struct timespec ts;

	monotonic(&ts);
	return ms_of(&ts);
}

/* poll() for one event until an absolute deadline: 1 ready, 0 timed out. */
static int
wait_fd(int fd, short events, long long deadline)
{
	struct pollfd p = { .fd = fd, .events = events };
	long long left;
	int n;

	while ((left = deadline - now_ms()) > 0) {
		n = poll(&p, 1, left > INT_MAX ? INT_MAX : (int)left);
		if (n > 0)
			return 1;
		if (n == -1 && errno != EINTR)
			return -1;
	}
	errno = ETIMEDOUT;
	return 0;
}

/*
 * Read until the request is complete.  The request has no length field and
 * may come in any number of segments; bytes past it are the client's first
 * data and stay in the buffer for the relay.  -1: reject or give up.
 */
static int
read_request(struct session *s)
{
	uint8_t *buf = s->head;
	size_t len = 0;
	long long deadline = ms_of(&s->start) + request_timeout * 1000LL;
	const char *why = NULL;
	int r = 0;
	ssize_t n;

	while (r == 0) {
		if (wait_fd(s->in, POLLIN, deadline) != 1) {
			logmsg(LOG_NOTICE, "no complete request within %d s", request_timeout);
			return -1;
		}
		n = read(s->in, buf + len, REQ_MAX - len);
		if (n == 0) {
			logmsg(LOG_NOTICE, "client closed before a complete request");
			return -1;
		}
		if (n == -1) {
			if (errno == EINTR || errno == EAGAIN)
				continue;
			logmsg(LOG_NOTICE, "request read: %s", strerror(errno));
			return -1;
		}
		len += n;
		r = parse_request(buf, len, &s->req, &why);
	}
	if (r == -1) {
		if (len > 0 && buf[0] != 4) {
			/* Not SOCKS4 (a SOCKS5 client sends 5): no reply it could read. */
			logmsg(LOG_NOTICE, "rejected: %s", why);
			return -1;
		}
		reject(s, "%s", why);
	}
	s->head_len = len;
	return 0;
}

/*
 * Pure parser for "the bytes so far": -1 malformed (why says how), 0 need
 * more, 1 complete.  Bounds are checked before any search, and no search
 * goes past the SOCKS4 limits.
 */
static int
parse_request(const uint8_t *buf, size_t len, struct request *req, const char **why)
{
	const uint8_t *p, *nul;
	size_t left, n;

	if (len >= 1 && buf[0] != 4)
		return *why = "version is not 4", -1;
	if (len >= 2 && buf[1] != CMD_CONNECT && buf[1] != CMD_BIND)
		return *why = "command is neither CONNECT nor BIND", -1;
	if (len < 9)
		return 0;
	req->cmd = buf[1];
	req->port = (uint16_t)(buf[2] << 8 | buf[3]);
	memcpy(req->ip, buf + 4, 4);

	p = buf + 8, left = len - 8;
	if ((nul = memchr(p, 0, left < FIELD_MAX + 1 ? left : FIELD_MAX + 1)) == NULL)
		return left > FIELD_MAX ? (*why = "USERID longer than 255 bytes", -1) : 0;
	n = (size_t)(nul - p);
	memcpy(req->userid, p, n);
	req->userid[n] = '\0';
	req->host[0] = '\0';
	req->len = 8 + n + 1;

	/* SOCKS4a uses an invalid IP address 0.0.0.x, x != 0, for "name follows". */
	if (req->ip[0] || req->ip[1] || req->ip[2] || !req->ip[3])
		return 1;
	p = nul + 1, left = len - req->len;
	if ((nul = memchr(p, 0, left < FIELD_MAX + 1 ? left : FIELD_MAX + 1)) == NULL)
		return left > FIELD_MAX ? (*why = "hostname longer than 255 bytes", -1) : 0;
	n = (size_t)(nul - p);
	if (n == 0)
		return *why = "SOCKS4a request without a hostname", -1;
	for (size_t i = 0; i < n; i++)
		if (p[i] <= ' ' || p[i] >= 0x7f)
			return *why = "hostname has control or non-ASCII bytes", -1;
	memcpy(req->host, p, n);
	req->host[n] = '\0';
	req->len += n + 1;
	return 1;
}

static void
on_alarm(int sig)
{
	static const uint8_t gave_up[8] = { 0, REPLY_REJECTED };
	static const char msg[] = "socks4d: rejected: name lookup took too long\n";
	ssize_t ignored;

	(void)sig;
	ignored = write(alarm_fd, gave_up, sizeof gave_up);
	if (!log_to_syslog)
		ignored = write(2, msg, sizeof msg - 1);
	(void)ignored;
	_exit(EXIT_REJECTED);
}

/*
 * The request's destination as socket addresses: its DSTIP, or what its
 * SOCKS4a name resolves to (IPv4 and IPv6, in the resolver's order).
 * getaddrinfo() has no deadline of its own, so alarm() gives it one.
 */
static int
resolve(const struct request *req, int client, struct sockaddr_storage *out, int max)
{
	struct addrinfo hints = { .ai_socktype = SOCK_STREAM }, *res, *ai;
	struct sockaddr_in *sin = (struct sockaddr_in *)out;
	int n = 0;

	if (req->host[0] == '\0') {
		memset(sin, 0, sizeof *out);
		sin->sin_family = AF_INET;
		sin->sin_port = htons(req->port);
		memcpy(&sin->sin_addr, req->ip, 4);
		return 1;
	}
	alarm_fd = client;
	signal(SIGALRM, on_alarm);
	alarm(connect_timeout);
	int err = getaddrinfo(req->host, NULL, &hints, &res);
	alarm(0);
	if (err != 0)
		return -1;
	for (ai = res; ai != NULL && n < max; ai = ai->ai_next) {
		if (ai->ai_family != AF_INET && ai->ai_family != AF_INET6)
			continue;
		memset(&out[n], 0, sizeof out[n]);
		memcpy(&out[n], ai->ai_addr, ai->ai_addrlen);
		if (ai->ai_family == AF_INET)
			((struct sockaddr_in *)&out[n])->sin_port = htons(req->port);
		else
			((struct sockaddr_in6 *)&out[n])->sin6_port = htons(req->port);
		n++;
	}
	freeaddrinfo(res);
	return n > 0 ? n : -1;
}

/* socks.conf is opened before privileges are dropped, so it may be root's. */
static int
conf_open(char *why, size_t whylen)
{
	/* No O_CLOEXEC: socks4d runs nothing, and musl pays an fcntl() for it. */
	int fd = open(conf_path, O_RDONLY);

	if (fd == -1)
		snprintf(why, whylen, "%s: %s", conf_path, strerror(errno));
	return fd;
}

/* Read socks.conf whole, once per client: edits apply to the next one. */
static int
conf_load(int fd, char *text, size_t *len, char *why, size_t whylen)
{
	ssize_t n = 0;
	size_t got = 0;

	while (got <= CONF_MAX && (n = read(fd, text + got, CONF_MAX + 1 - got)) > 0)
		got += n;
	close(fd);
	if (n == -1 || got > CONF_MAX) {
		snprintf(why, whylen, "%s: %s", conf_path,
		    n == -1 ? strerror(errno) : "larger than 64 KiB");
		return -1;
	}
	text[got] = '\0';
	*len = got;
	return 0;
}

/* One address pattern: family 0 matches anything. */
struct pattern {
	int		 family;
	uint8_t		 addr[16], mask[16];
};

struct rule {
	int		 permit;
	unsigned	 cmds;			/* 1 << CMD_CONNECT | 1 << CMD_BIND */
	struct pattern	 dst, src;
	unsigned	 port_lo, port_hi;
};

/* A decimal number in [0, max], all digits, no sign: -1 otherwise. */
static long
number(const char *s, long max)
{
	long v = 0;

	if (*s == '\0' || strlen(s) > 5)
		return -1;
	for (; *s; s++) {
		if (*s < '0' || *s > '9')
			return -1;
		v = v * 10 + (*s - '0');
	}
	return v <= max ? v : -1;
}

/* The classic pattern: four dotted fields, each 0-255 or "*". */
static int
parse_octets(const char *s, struct pattern *p)
{
	char field[4];
	size_t n;
	long v;

	p->family = AF_INET;
	for (int i = 0; i < 4; i++) {
		if ((n = strcspn(s, ".")) == 0 || n > 3)
			return -1;
		memcpy(field, s, n);
		field[n] = '\0';
		if (strcmp(field, "*") != 0) {
			if ((v = number(field, 255)) == -1)
				return -1;
			p->addr[i] = (uint8_t)v;
			p->mask[i] = 0xff;
		}
		s += n;
		if (i < 3 && *s++ != '.')
			return -1;
	}
	return *s == '\0' ? 0 : -1;
}

/* "*", "140.113.*.*", "10.0.0.0/8", "::1", "fd00::/8". */
static int
parse_pattern(char *tok, struct pattern *p)
{
	char *slash = strchr(tok, '/');
	long bits;
	int i;

	memset(p, 0, sizeof *p);
	if (strcmp(tok, "*") == 0)
		return 0;
	if (slash != NULL)
		*slash = '\0';
	if (inet_pton(AF_INET, tok, p->addr) == 1)
		p->family = AF_INET;
	else if (inet_pton(AF_INET6, tok, p->addr) == 1)
		p->family = AF_INET6;
	else
		return slash == NULL ? parse_octets(tok, p) : -1;
	bits = p->family == AF_INET ? 32 : 128;
	if (slash != NULL && (bits = number(slash + 1, bits)) == -1)
		return -1;
	/* Mapped addresses are matched as IPv4, so mapped patterns are too. */
	if (p->family == AF_INET6 && IN6_IS_ADDR_V4MAPPED((struct in6_addr *)p->addr)) {
		if (bits < 96)
			return -1;
		memmove(p->addr, p->addr + 12, 4);
		memset(p->addr + 4, 0, 12);
		p->family = AF_INET, bits -= 96;
	}
	for (i = 0; i < 16; i++, bits -= 8)
		p->mask[i] = bits >= 8 ? 0xff : bits > 0 ? (uint8_t)(0xff << (8 - bits)) : 0;
	for (i = 0; i < 16; i++)
		p->addr[i] &= p->mask[i];
	return 0;
}

static int
pattern_matches(const struct pattern *p, const struct sockaddr_storage *ss)
{
	const uint8_t *a;
	int family = ss->ss_family;

	if (p->family == 0)
		return 1;
	if (family == AF_INET)
		a = (const uint8_t *)&((const struct sockaddr_in *)ss)->sin_addr;
	else if (family == AF_INET6) {
		a = ((const struct sockaddr_in6 *)ss)->sin6_addr.s6_addr;
		if (IN6_IS_ADDR_V4MAPPED((const struct in6_addr *)a))
			a += 12, family = AF_INET;
	} else
		return 0;
	if (family != p->family)
		return 0;
	for (int i = 0; i < (family == AF_INET ? 4 : 16); i++)
		if ((a[i] & p->mask[i]) != p->addr[i])
			return 0;
	return 1;
}

static int
is_blank(char c)
{
	return c == ' ' || c == '\t' || c == '\r';
}

/*
 * The fields of a line, split at blanks in place, up to a '#': how many,
 * or -1 if there are more than max.  By hand: socks.conf is parsed for
 * every client, and strtok_r cost more than the rest of the parse.
 */
static int
split_fields(char *line, char **tok, int max)
{
	char *p = line;
	int n = 0;

	for (;;) {
		while (is_blank(*p))
			p++;
		if (*p == '\0' || *p == '#')
			return n;
		if (n == max)
			return -1;
		tok[n++] = p;
		while (*p != '\0' && *p != '#' && !is_blank(*p))
			p++;
		if (*p == '#')
			*p = '\0';
		else if (*p != '\0')
			*p++ = '\0';
	}
}

/*
 * One line: "permit|deny c|b|cb PATTERN [port N[-M]] [from PATTERN]".
 * 1: a rule, 0: blank or comment, -1: malformed (err says why).
 */
static int
parse_rule(char *line, struct rule *r, const char **err)
{
	char *tok[7], *dash;
	int n, i;
	long lo, hi;

	if ((n = split_fields(line, tok, 7)) == -1)
		return *err = "too many fields", -1;
	if (n == 0)
		return 0;
	memset(r, 0, sizeof *r);
	r->port_hi = 65535;
	if (strcmp(tok[0], "permit") == 0)
		r->permit = 1;
	else if (strcmp(tok[0], "deny") != 0)
		return *err = "expected 'permit' or 'deny'", -1;
	if (n < 3)
		return *err = "expected 'permit|deny c|b|cb ADDRESS'", -1;
	for (const char *c = tok[1]; *c; c++)
		if (*c == 'c')
			r->cmds |= 1 << CMD_CONNECT;
		else if (*c == 'b')
			r->cmds |= 1 << CMD_BIND;
		else
			return *err = "command must be c, b or cb", -1;
	if (parse_pattern(tok[2], &r->dst) == -1)
		return *err = "bad address pattern", -1;
	for (i = 3; i < n; i += 2) {
		if (i + 1 == n)
			return *err = "'port' and 'from' need a value", -1;
		if (i == 5 && strcmp(tok[3], tok[5]) == 0)
			return *err = "'port' or 'from' given twice", -1;
		if (strcmp(tok[i], "from") == 0) {
			if (parse_pattern(tok[i + 1], &r->src) == -1)
				return *err = "bad source pattern", -1;
		} else if (strcmp(tok[i], "port") == 0) {
			if ((dash = strchr(tok[i + 1], '-')) != NULL)
				*dash++ = '\0';
			lo = number(tok[i + 1], 65535);
			hi = dash ? number(dash, 65535) : lo;
			if (lo == -1 || hi == -1 || lo > hi)
				return *err = "bad port or port range", -1;
			r->port_lo = lo, r->port_hi = hi;
		} else
			return *err = "expected 'port' or 'from'", -1;
	}
	return 1;
}

/* The next line of text into line[]: 1 a line, 0 the end, -1 too long. */
static int
next_line(const char *text, size_t len, size_t *pos, char *line)
{
	const char *start = text + *pos, *nl;
	size_t n;

	if (*pos >= len)
		return 0;
	nl = memchr(start, '\n', len - *pos);
	n = nl ? (size_t)(nl - start) : len - *pos;
	*pos += n + 1;
	if (n >= CONF_LINE_MAX)
		return -1;
	memcpy(line, start, n);
	line[n] = '\0';
	return 1;
}

static uint16_t
port_of(const struct sockaddr_storage *ss)
{
	return ntohs(ss->ss_family == AF_INET6 ?
	    ((const struct sockaddr_in6 *)ss)->sin6_port :
	    ((const struct sockaddr_in *)ss)->sin_port);
}

/* "socks.conf:LINE", as the firewall's reasons name a line. */
static void
add_conf_line(struct text *t, int lineno)
{
	add(t, conf_path), add(t, ":"), add_num(t, (unsigned)lineno, 1);
}

/*
 * First matching rule wins, no match denies; any malformed line anywhere
 * denies everything (fail closed).  1 permit, 0 deny, -1 error; why names
 * the deciding line.
 */
static int
conf_allows(const char *text, size_t len, int cmd, const struct sockaddr_storage *dst,
    const struct sockaddr_storage *src, char *why, size_t whylen)
{
	char line[CONF_LINE_MAX];
	const char *err = "line longer than 511 bytes";
	struct rule r;
	struct text t = { why, 0, whylen };
	size_t pos = 0;
	int lineno = 0, decision = -1, decided_at = 0, got;

	while ((got = next_line(text, len, &pos, line)) != 0) {
		lineno++;
		if (got == -1 || (got = parse_rule(line, &r, &err)) == -1) {
			add_conf_line(&t, lineno), add(&t, ": "), add(&t, err);
			return -1;
		}
		if (got == 0 || decision != -1 || !(r.cmds & 1 << cmd) ||
		    !pattern_matches(&r.dst, dst) || !pattern_matches(&r.src, src) ||
		    port_of(dst) < r.port_lo || port_of(dst) > r.port_hi)
			continue;
		decision = r.permit, decided_at = lineno;
	}
	if (decision == -1) {
		add(&t, "no rule in "), add(&t, conf_path), add(&t, " matches");
		return 0;
	}
	add_conf_line(&t, decided_at);
	add(&t, decision ? " permits" : " denies");
	return decision;
}

/*
 * Write all of p, waiting at most secs seconds in all (the clock starts at
 * the first wait, which is seldom needed): how many bytes were written.
 */
static size_t
write_within(int fd, const uint8_t *p, size_t len, int secs)
{
	long long deadline = 0;
	size_t off = 0;
	ssize_t n;

	while (off < len) {
		if ((n = write(fd, p + off, len - off)) > 0) {
			off += (size_t)n;
			continue;
		}
		if (n == -1 && errno != EINTR && errno != EAGAIN)
			break;
		if (deadline == 0)
			deadline = now_ms() + secs * 1000LL;
		if (wait_fd(fd, POLLOUT, deadline) != 1)
			break;
	}
	return off;
}

/* The SOCKS4 reply: always 8 bytes, VN 0, port and address by shifts. */
static void
send_reply(struct session *s, int cd, uint16_t port, const uint8_t *ip)
{
	uint8_t r[8] = { 0, (uint8_t)cd, (uint8_t)(port >> 8), (uint8_t)(port & 0xff) };

	memcpy(r + 4, ip, 4);
	if (write_within(s->out, r, sizeof r, request_timeout) < sizeof r) {
		logmsg(LOG_NOTICE, "client gone before the reply: %s", strerror(errno));
		exit(EXIT_REJECTED);
	}
}

/* How a request is turned down: reply 91, log the record, exit. */
static void
reject(struct session *s, const char *fmt, ...)
{
	va_list ap;

	char why[sizeof s->why];

	va_start(ap, fmt);
	vsnprintf(why, sizeof why, fmt, ap);	/* an argument may be s->why */
	va_end(ap);
	memcpy(s->why, why, sizeof why);
	s->reply = "Reject";
	send_reply(s, REPLY_REJECTED, s->req.port, s->req.ip);
	log_record(s);
	exit(EXIT_REJECTED);
}

static const char *
addr_text(const struct sockaddr_storage *ss, char *buf, size_t len)
{
	if (ss->ss_family == AF_INET)
		return ipv4_text((const uint8_t *)&((const struct sockaddr_in *)ss)->sin_addr,
		    buf, len);
	if (ss->ss_family != AF_INET6)
		return "-";
	return inet_ntop(AF_INET6, &((const struct sockaddr_in6 *)ss)->sin6_addr, buf, len) ?
	    buf : "?";
}

/* A nonblocking connect() with a deadline: the socket, or -1 with errno. */
static int
connect_within(const struct sockaddr_storage *dst, long long deadline)
{
	socklen_t len = dst->ss_family == AF_INET6 ? sizeof(struct sockaddr_in6) :
	    sizeof(struct sockaddr_in);
	int fd, err = 0;
	socklen_t elen = sizeof err;

	if ((fd = socket(dst->ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0)) == -1)
		return -1;
	if (connect(fd, (const struct sockaddr *)dst, len) == 0)
		return fd;
	if (errno == EINPROGRESS) {
		switch (wait_fd(fd, POLLOUT, deadline)) {
		case 1:
			if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &elen) == -1)
				err = errno;
			else if (err == 0)
				return fd;
			break;
		case 0:
			err = ETIMEDOUT;
			break;
		default:
			err = errno;
		}
		errno = err;
	}
	err = errno;
	close(fd);
	errno = err;
	return -1;
}

/*
 * 0.0.0.0/8, :: and ::ffff:0.0.0.0: a name may resolve to them, and
 * connecting there reaches this host, whatever the rules say of loopback.
 */
static int
is_unspecified(const struct sockaddr_storage *ss)
{
	uint8_t ip[4];
	const struct in6_addr *a6 = &((const struct sockaddr_in6 *)ss)->sin6_addr;

	if (ss->ss_family == AF_INET6 && IN6_IS_ADDR_UNSPECIFIED(a6))
		return 1;
	ipv4_of(ss, ip);
	return (ss->ss_family == AF_INET || IN6_IS_ADDR_V4MAPPED(a6)) && ip[0] == 0;
}

/*
 * CONNECT: each address the firewall permits is tried in order, each
 * with a fair share of what is left of the deadline.  A denied address is
 * never touched.
 */
static int
do_connect(struct session *s)
{
	struct sockaddr_storage addrs[ADDRS_MAX];
	char rule[sizeof s->why] = "no address to connect to", ip[INET6_ADDRSTRLEN];
	long long deadline = now_ms() + connect_timeout * 1000LL, now;
	int n, i, fd, tried = 0, err = 0;

	if (s->req.port == 0 || memcmp(s->req.ip, "\0\0\0\0", 4) == 0)
		reject(s, "destination 0.0.0.0 or port 0");
	if ((n = resolve(&s->req, s->out, addrs, ADDRS_MAX)) == -1)
		reject(s, "cannot resolve %s", s->req.host);
	for (i = 0; i < n; i++) {
		s->dst = addrs[i];
		if (is_unspecified(&addrs[i]))
			continue;
		int allowed = conf_allows(s->conf, s->conf_len, CMD_CONNECT, &addrs[i],
		    &s->src, rule, sizeof rule);
		if (allowed == -1)
			reject(s, "%s", rule);
		if (!allowed)
			continue;
		tried++;
		now = now_ms();
		fd = connect_within(&addrs[i], now + (deadline - now) / (n - i));
		if (fd != -1)
			return fd;
		err = errno;
	}
	if (tried == 0)
		reject(s, "%s", rule);
	reject(s, "connect to %s port %u: %s", addr_text(&s->dst, ip, sizeof ip),
	    s->req.port, strerror(err));
	return -1;
}

static int
same_host(const struct sockaddr_storage *a, const struct sockaddr_storage *b)
{
	struct pattern p = { .family = a->ss_family };

	memset(p.mask, 0xff, sizeof p.mask);
	if (a->ss_family == AF_INET)
		memcpy(p.addr, &((const struct sockaddr_in *)a)->sin_addr, 4);
	else if (a->ss_family == AF_INET6)
		memcpy(p.addr, &((const struct sockaddr_in6 *)a)->sin6_addr, 16);
	else
		return 0;
	return pattern_matches(&p, b);
}

static void
ipv4_of(const struct sockaddr_storage *ss, uint8_t ip[4])
{
	const struct in6_addr *a6 = &((const struct sockaddr_in6 *)ss)->sin6_addr;

	memset(ip, 0, 4);
	if (ss->ss_family == AF_INET)
		memcpy(ip, &((const struct sockaddr_in *)ss)->sin_addr, 4);
	else if (ss->ss_family == AF_INET6 && IN6_IS_ADDR_V4MAPPED(a6))
		memcpy(ip, a6->s6_addr + 12, 4);
}

/* A listening socket on the address the client reached us by, any port. */
static int
listen_near(const struct sockaddr_storage *local, uint16_t *port)
{
	struct sockaddr_storage a = *local;
	socklen_t len = sizeof a;
	int fd;

	if (a.ss_family == AF_INET)
		((struct sockaddr_in *)&a)->sin_port = 0;
	else
		((struct sockaddr_in6 *)&a)->sin6_port = 0;
	if ((fd = socket(a.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0)) == -1)
		return -1;
	if (bind(fd, (struct sockaddr *)&a, a.ss_family == AF_INET6 ?
	    sizeof(struct sockaddr_in6) : sizeof(struct sockaddr_in)) == -1 ||
	    listen(fd, 1) == -1 || getsockname(fd, (struct sockaddr *)&a, &len) == -1) {
		int err = errno;
		close(fd);
		errno = err;
		return -1;
	}
	*port = port_of(&a);
	return fd;
}

/*
 * Wait for the one incoming connection.  The client is watched too: what
 * it sends early is kept for the relay, and if it leaves, nobody is left
 * to reply to.  Past HEAD_MAX early bytes it waits in its socket.
 */
static int
accept_peer(struct session *s, int lfd)
{
	struct pollfd p[2] = { { .fd = lfd, .events = POLLIN },
			       { .fd = s->in, .events = POLLIN } };
	long long deadline = now_ms() + bind_timeout * 1000LL, left;
	socklen_t len = sizeof s->peer;
	ssize_t n;
	int fd;

	while ((left = deadline - now_ms()) > 0) {
		if (poll(p, 2, left > INT_MAX ? INT_MAX : (int)left) == -1 && errno != EINTR)
			break;
		if (p[1].revents) {
			n = read(s->in, s->head + s->head_len, sizeof s->head - s->head_len);
			if (n == 0 || (n == -1 && errno != EAGAIN && errno != EINTR)) {
				s->reply = "Reject";
				snprintf(s->why, sizeof s->why, "client left while BIND waited");
				log_record(s);
				exit(EXIT_REJECTED);
			}
			if (n > 0 && (s->head_len += n) == sizeof s->head)
				p[1].fd = -1;
		}
		if (p[0].revents &&
		    (fd = accept4(lfd, (struct sockaddr *)&s->peer, &len, SOCK_NONBLOCK | SOCK_CLOEXEC)) != -1)
			return fd;
	}
	return -1;
}

/*
 * The addresses a named BIND peer may come from: those of the request's
 * DSTIP or SOCKS4a name that the firewall permits.  Rejects if none is.
 */
static int
expected_peers(struct session *s, struct sockaddr_storage *addrs)
{
	char rule[sizeof s->why] = "no address to expect";
	int n, i, kept = 0;

	if ((n = resolve(&s->req, s->out, addrs, ADDRS_MAX)) == -1)
		reject(s, "cannot resolve %s", s->req.host);
	for (i = 0; i < n; i++) {
		int allowed = conf_allows(s->conf, s->conf_len, CMD_BIND, &addrs[i],
		    &s->src, rule, sizeof rule);
		if (allowed == -1)
			reject(s, "%s", rule);
		if (allowed)
			addrs[kept++] = addrs[i];
	}
	if (kept == 0)
		reject(s, "%s", rule);
	s->dst = addrs[0];
	return kept;
}

static int
is_expected(const struct sockaddr_storage *peer, const struct sockaddr_storage *addrs, int n)
{
	for (int i = 0; i < n; i++)
		if (same_host(&addrs[i], peer))
			return 1;
	return 0;
}

/*
 * BIND: listen, first reply with our port, accept exactly one peer, check
 * it, second reply with the peer's address.  A request naming its peer
 * (DSTIP not 0.0.0.0) is checked now, and the peer must come from one of
 * the permitted addresses; one that does not name it is checked against
 * whoever connects.
 */
static int
do_bind(struct session *s)
{
	struct sockaddr_storage expected[ADDRS_MAX];
	int named = memcmp(s->req.ip, "\0\0\0\0", 4) != 0, n_expected = 0;
	uint8_t ip[4];
	char a[INET6_ADDRSTRLEN], b[INET6_ADDRSTRLEN], rule[sizeof s->why];
	socklen_t ll = sizeof s->local;
	int lfd, fd;

	if (named)
		n_expected = expected_peers(s, expected);
	lfd = getsockname(s->in, (struct sockaddr *)&s->local, &ll) == 0 ?
	    listen_near(&s->local, &s->bound_port) : -1;
	if (lfd == -1)
		reject(s, "BIND listener: %s", strerror(errno));
	ipv4_of(&s->local, ip);
	send_reply(s, REPLY_GRANTED, s->bound_port, ip);
	fd = accept_peer(s, lfd);
	close(lfd);
	if (fd == -1)
		reject(s, "no connection to BIND port %u within %d s", s->bound_port, bind_timeout);
	if (named && !is_expected(&s->peer, expected, n_expected))
		reject(s, "BIND peer %s is not the expected %s%s",
		    addr_text(&s->peer, a, sizeof a), addr_text(&s->dst, b, sizeof b),
		    n_expected > 1 ? " or the name's other permitted addresses" : "");
	if (!named && conf_allows(s->conf, s->conf_len, CMD_BIND, &s->peer, &s->src,
	    rule, sizeof rule) != 1)
		reject(s, "%s", rule);
	ipv4_of(&s->peer, ip);
	send_reply(s, REPLY_GRANTED, port_of(&s->peer), ip);
	return fd;
}

/*
 * Keep the first relayed bytes for <Content>, and log the record then.
 * They always pass through a copy buffer: a direction splices only once it
 * has filled one.
 */
static void
record_first_bytes(struct session *s, const uint8_t *p, size_t n)
{
	if (s->recorded)
		return;
	s->excerpt_len = n < sizeof s->excerpt ? n : sizeof s->excerpt;
	memcpy(s->excerpt, p, s->excerpt_len);
	log_record(s);
}

#ifndef __linux__
#define splice(a, b, c, d, e, f) (errno = EINVAL, -1)
#endif

/* Give up splicing for good: the pipe was too small, or splice refused. */
static void
flow_copy_only(struct flow *f)
{
	close(f->pipe[0]);
	close(f->pipe[1]);
	f->pipe[0] = f->pipe[1] = -1;
	f->copy_only = 1;
}

/*
 * A direction that fills its copy buffer is bulky: from then on it moves
 * bytes with splice(2) through a pipe, and they never enter user space.
 * Pipes only for bulky directions keep idle sessions small, and leave the
 * pipe memory a user may hold (pipe-user-pages-soft) to those that use it.
 */
static void
flow_use_pipe(struct flow *f)
{
#ifdef __linux__
	if (pipe2(f->pipe, O_NONBLOCK | O_CLOEXEC) == 0) {
		fcntl(f->pipe[1], F_SETPIPE_SZ, PIPE_SIZE);
		if (fcntl(f->pipe[1], F_GETPIPE_SZ) >= PIPE_MIN)
			return;
		flow_copy_only(f);
		return;
	}
#endif
	f->pipe[0] = f->pipe[1] = -1;
	f->copy_only = 1;
}

/*
 * Move what one direction can move now, a few rounds at most: 0, or on an
 * error, with errno, -1 if reading its source failed and -2 if writing
 * its sink did.
 */
static int
flow_step(struct session *s, struct flow *f)
{
	ssize_t n = 0;

	for (int round = 0; round < ROUNDS && !f->done; round++) {
		if (f->pending == 0 && !f->eof) {
			if (f->pipe[1] != -1)
				n = splice(f->from, NULL, f->pipe[1], NULL, PIPE_SIZE,
				    SPLICE_F_MOVE | SPLICE_F_NONBLOCK);
			else if ((n = read(f->from, f->buf, COPY_BUF)) > 0)
				record_first_bytes(s, (uint8_t *)f->buf, (size_t)n);
			if (n == -1 && errno == EINVAL && f->pipe[1] != -1) {
				flow_copy_only(f);
				continue;
			}
			if (n == -1)
				return errno == EAGAIN || errno == EINTR ? 0 : -1;
			if (n == 0)
				f->eof = 1;
			f->filled |= n == COPY_BUF && f->pipe[0] == -1;
			f->pending = (size_t)n, f->off = 0;
		}
		while (f->pending > 0) {
			ssize_t w = f->pipe[0] != -1 ?
			    splice(f->pipe[0], NULL, f->to, NULL, f->pending,
			    SPLICE_F_MOVE | SPLICE_F_NONBLOCK) :
			    write(f->to, f->buf + f->off, f->pending);
			if (w == -1 && (errno == EAGAIN || errno == EINTR))
				return 0;
			if (w <= 0)
				return -2;
			f->pending -= (size_t)w, f->off += (size_t)w, *f->count += (size_t)w;
		}
		if (f->eof) {
			/* Pass the half-close on once everything before it is written. */
			shutdown(f->to, SHUT_WR);
			f->done = 1;
		} else if (f->filled && f->pipe[0] == -1 && !f->copy_only)
			flow_use_pipe(f);
	}
	return 0;
}

/* Bytes the client sent behind its request go out first. */
static int
send_early_data(struct session *s, int remote)
{
	const uint8_t *p = s->head + s->req.len;
	size_t left = s->head_len - s->req.len, n;

	if (left == 0)
		return 0;
	record_first_bytes(s, p, left);
	n = write_within(remote, p, left, connect_timeout);
	s->received += n;
	return n == left ? 0 : -1;
}

/*
 * Relay until both directions have ended, or either side fails.  Each
 * direction is polled only where it can make progress: its source when its
 * staging is empty, its sink when it is not.
 */
static const char *
relay(struct session *s, int remote)
{
	static char reason[128];
	static char to_client[COPY_BUF];
	/* The request's buffer, its early data sent, carries the client's next bytes. */
	struct flow f[2] = {
		{ .from = s->in, .to = remote, .pipe = { -1, -1 }, .buf = (char *)s->head,
		  .count = &s->received },
		{ .from = remote, .to = s->out, .pipe = { -1, -1 }, .buf = to_client,
		  .count = &s->sent },
	};
	struct pollfd p[2];
	int i, n, failed;

	if (send_early_data(s, remote) == -1) {
		snprintf(reason, sizeof reason, "error: destination: %s", strerror(errno));
		return reason;
	}
	while (!f[0].done || !f[1].done) {
		for (i = 0; i < 2; i++) {
			p[i].fd = f[i].done ? -1 : f[i].pending ? f[i].to : f[i].from;
			p[i].events = f[i].pending ? POLLOUT : POLLIN;
		}
		n = poll(p, 2, idle_timeout > 0 ? idle_timeout * 1000 : -1);
		if (n == 0)
			return "idle timeout";
		if (n == -1 && errno != EINTR)
			return "error: poll";
		for (i = 0; i < 2 && n > 0; i++) {
			if (p[i].revents == 0 || (failed = flow_step(s, &f[i])) == 0)
				continue;
			snprintf(reason, sizeof reason, "error: %s: %s",
			    (failed == -1 ? f[i].from : f[i].to) == remote ? "destination" : "client",
			    strerror(errno));
			return reason;
		}
	}
	return "both sides closed";
}

/*
 * Outside text in the log: printable ASCII stays, \r \n \t \\ are
 * escaped, and the rest becomes \xNN.  Only whole escapes are added.
 */
static void
add_escaped(struct text *t, const unsigned char *in, size_t n)
{
	static const char hex[] = "0123456789abcdef";
	char *out = t->buf;

	for (size_t i = 0; i < n && t->len + 5 < t->size; i++) {
		unsigned char c = in[i];
		if (c == '\r' || c == '\n' || c == '\t' || c == '\\') {
			out[t->len++] = '\\';
			out[t->len++] = c == '\r' ? 'r' : c == '\n' ? 'n' : c == '\t' ? 't' : '\\';
		} else if (c < 0x20 || c >= 0x7f || c == '"') {
			out[t->len++] = '\\', out[t->len++] = 'x';
			out[t->len++] = hex[c >> 4], out[t->len++] = hex[c & 15];
		} else
			out[t->len++] = (char)c;
	}
	out[t->len] = '\0';
}

static void
escape(const void *in, size_t n, char *out, size_t size)
{
	struct text t = { out, 0, size };

	add_escaped(&t, in, n);
}

/* The request's facts as log text, shared by the record and the end line. */
struct facts {
	char		 sip[INET6_ADDRSTRLEN], dip[INET6_ADDRSTRLEN], pip[INET6_ADDRSTRLEN];
	unsigned	 sport, dport;
	const char	*cmd;
};

static void
facts_of(const struct session *s, struct facts *f)
{
	/* CONNECT shows where it went (a SOCKS4a name resolved); BIND the request. */
	const struct sockaddr_storage *d = s->req.cmd == CMD_CONNECT && s->dst.ss_family ?
	    &s->dst : NULL;

	addr_text(&s->src, f->sip, sizeof f->sip);
	addr_text(&s->peer, f->pip, sizeof f->pip);
	if (d)
		addr_text(d, f->dip, sizeof f->dip);
	else
		ipv4_text(s->req.ip, f->dip, sizeof f->dip);
	f->sport = port_of(&s->src);
	f->dport = d ? port_of(d) : s->req.port;
	f->cmd = s->req.cmd == CMD_CONNECT ? "CONNECT" : s->req.cmd == CMD_BIND ? "BIND" : "?";
}

/*
 * Under systemd the journal also gets the facts as fields, so that
 * `journalctl SOCKS_REPLY=Reject` finds rejections.  Every value is
 * escaped text, one line.  0 if journald took it.
 */
static int
journal(int prio, const char *msg, const struct session *s, const struct facts *f,
    const char *name, const char *value)
{
	char d[4096];
	int n;

	if (journal_fd == -1)
		return -1;
	n = snprintf(d, sizeof d, "MESSAGE=%s\nPRIORITY=%d\nSYSLOG_IDENTIFIER=socks4d\n"
	    "SOCKS_SRC=%s:%u\nSOCKS_DST=%s:%u\nSOCKS_COMMAND=%s\nSOCKS_REPLY=%s\n"
	    "SOCKS_BYTES_IN=%llu\nSOCKS_BYTES_OUT=%llu\nSOCKS_REASON=%s\n%s=%s\n",
	    msg, prio, f->sip, f->sport, f->dip, f->dport, f->cmd, s->reply,
	    s->received, s->sent, s->reply[0] == 'R' ? s->why : "", name, value);
	return n > 0 && (size_t)n < sizeof d && send(journal_fd, d, (size_t)n, 0) == n ? 0 : -1;
}

/* The record on syslog or the journal: one line, and fields for the journal. */
static void
record_one_line(struct session *s, const struct facts *f, int prio)
{
	char rec[4096], content[EXCERPT_MAX * 4 + 1];
	char name[FIELD_MAX * 4 + 1], user[FIELD_MAX * 4 + 1];
	char why[sizeof s->why + 16] = "", bind[INET6_ADDRSTRLEN + 48] = "";

	escape(s->excerpt, s->excerpt_len, content, sizeof content);
	escape(s->req.host, strlen(s->req.host), name, sizeof name);
	escape(s->req.userid, strlen(s->req.userid), user, sizeof user);
	if (s->peer.ss_family)
		snprintf(bind, sizeof bind, ", bound port %u, peer %s:%u", s->bound_port,
		    f->pip, port_of(&s->peer));
	if (s->reply[0] == 'R')
		snprintf(why, sizeof why, " (%s)", s->why);
	snprintf(rec, sizeof rec, "%s %s:%u -> %s:%u%s%s user \"%s\": %s%s%s, content \"%s\"",
	    f->cmd, f->sip, f->sport, f->dip, f->dport, *name ? " name " : "", name,
	    user, s->reply, why, bind, content);
	if (journal(prio, rec, s, f, "SOCKS_CONTENT", content) == -1)
		log_line(prio, rec);
}

/* The classic record on stderr, as one block in one write. */
static void
record_classic(struct session *s, const struct facts *f)
{
	char rec[3072];		/* the longest record is about 2300 bytes */
	struct text t = { rec, 0, sizeof rec };

	add_field(&t, "S_IP", f->sip);
	add_field_num(&t, "S_PORT", f->sport);
	add_field(&t, "D_IP", f->dip);
	add_field_num(&t, "D_PORT", f->dport);
	if (s->req.host[0] != '\0') {
		add(&t, "<D_NAME> :");
		add_escaped(&t, (const unsigned char *)s->req.host, strlen(s->req.host));
		add(&t, "\n");
	}
	add_field(&t, "Command", f->cmd);
	add_field(&t, "Reply", s->reply);
	if (s->reply[0] == 'R')
		add_field(&t, "Reason", s->why);
	if (s->bound_port)
		add_field_num(&t, "B_PORT", s->bound_port);
	if (s->peer.ss_family) {
		add(&t, "<Peer> :"), add(&t, f->pip), add(&t, ":");
		add_num(&t, port_of(&s->peer), 1), add(&t, "\n");
	}
	add(&t, "<Content> :");
	add_escaped(&t, s->excerpt, s->excerpt_len);
	add(&t, "\n");
	if (write(2, rec, t.len) < 0)
		return;
}

/*
 * The record, once per request: on stderr as one block in one write, so
 * that records of concurrent clients never interleave; on syslog and the
 * journal as one line.
 */
static void
log_record(struct session *s)
{
	struct facts f;

	if (s->recorded)
		return;
	s->recorded = 1;
	facts_of(s, &f);
	if (log_one_line)
		record_one_line(s, &f, s->reply[0] == 'R' ? LOG_NOTICE : LOG_INFO);
	else
		record_classic(s, &f);
}

/* The end of a relayed session: bytes each way, duration, and why. */
static void
log_end(struct session *s, const char *why)
{
	struct timespec now;
	struct facts f;
	char line[256];
	struct text t = { line, 0, sizeof line };
	unsigned long long ms;

	monotonic(&now);
	ms = (unsigned long long)((now.tv_sec - s->start.tv_sec) * 1000LL +
	    (now.tv_nsec - s->start.tv_nsec) / 1000000);
	add(&t, "end: "), add_num(&t, s->sent, 1), add(&t, " bytes to client, ");
	add_num(&t, s->received, 1), add(&t, " from client, ");
	add_num(&t, ms / 1000, 1), add(&t, "."), add_num(&t, ms % 1000, 3);
	add(&t, " s, "), add(&t, why);
	if (journal_fd != -1) {
		facts_of(s, &f);
		if (journal(LOG_INFO, line, s, &f, "SOCKS_END", why) == 0)
			return;
	}
	log_line(LOG_INFO, line);
}

/* A numeric IPv4 or IPv6 address and port, strictly. */
static int
address_of(const char *addr, const char *port, struct sockaddr_storage *ss)
{
	struct sockaddr_in *sin = (struct sockaddr_in *)ss;
	struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)ss;
	long p = number(port, 65535);

	memset(ss, 0, sizeof *ss);
	if (p == -1)
		return -1;
	if (inet_pton(AF_INET, addr, &sin->sin_addr) == 1) {
		sin->sin_family = AF_INET;
		sin->sin_port = htons((uint16_t)p);
	} else if (inet_pton(AF_INET6, addr, &sin6->sin6_addr) == 1) {
		sin6->sin6_family = AF_INET6;
		sin6->sin6_port = htons((uint16_t)p);
	} else
		return -1;
	return 0;
}

/*
 * socks4d -t: check the whole file, naming every bad line; or, given a
 * request, say what the firewall decides for it.
 */
static int
check_config(int argc, char *argv[])
{
	static char text[CONF_MAX + 1];
	char line[CONF_LINE_MAX], why[CONF_LINE_MAX + 128];
	struct sockaddr_storage dst = { 0 }, src = { 0 };
	const char *err = "line longer than 511 bytes";
	struct rule r;
	size_t len, pos = 0;
	int lineno = 0, bad = 0, got, cmd;

	int fd = conf_open(why, sizeof why);
	if (fd == -1 || conf_load(fd, text, &len, why, sizeof why) == -1) {
		fprintf(stderr, "socks4d: %s\n", why);
		return 1;
	}
	while ((got = next_line(text, len, &pos, line)) != 0) {
		lineno++;
		if (got == -1 || parse_rule(line, &r, &err) == -1) {
			fprintf(stderr, "%s:%d: %s\n", conf_path, lineno, err);
			bad = 1;
		}
	}
	if (bad || argc == 0)
		return bad;
	if (argc < 2 || argc > 4 || (strcmp(argv[0], "c") != 0 && strcmp(argv[0], "b") != 0))
		usage();
	cmd = argv[0][0] == 'c' ? CMD_CONNECT : CMD_BIND;
	if (address_of(argv[1], argc > 2 ? argv[2] : "0", &dst) == -1 ||
	    (argc > 3 && address_of(argv[3], "0", &src) == -1)) {
		fprintf(stderr, "socks4d: bad address or port\n");
		return 1;
	}
	got = conf_allows(text, len, cmd, &dst, &src, why, sizeof why);
	printf("%s (%s)\n", got == 1 ? "permit" : "reject", why);
	return got == 1 ? 0 : 1;
}
