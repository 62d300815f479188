/*
 * socks4d - a SOCKS4, SOCKS4a and SOCKS5 proxy that serves one client and exits.
 *
 * A super-server (inetd, xinetd, systemd Accept=yes, tcpserver) accepts the
 * connection and runs socks4d with it on stdin/stdout, or, under systemd
 * without StandardInput=socket, as socket-activation fd 3; or, in listener
 * mode (-l, or listening sockets from systemd), listener.c accepts and forks
 * and each child carries on here with its client.  socks4d reads one request,
 * checks socks.conf, connects, binds or associates, replies, relays, and ends
 * through finish(), which owns the reply owed, the record, the end line and
 * the exit status.
 *
 * Protocol: Ying-Da Lee, "SOCKS: A protocol for TCP proxy across firewalls"
 * and "SOCKS 4A: A Simple Extension to SOCKS 4 Protocol"; RFC 1928 (SOCKS
 * Protocol Version 5) and RFC 1929 (Username/Password Authentication).
 */
#define _GNU_SOURCE
#include <sys/types.h>
#include <sys/auxv.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#ifdef __linux__
#include <sys/prctl.h>
#endif
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <ifaddrs.h>
#include <limits.h>
#include <netdb.h>
#include <poll.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>
#include <time.h>
#include <unistd.h>

#include "addr.h"
#include "clock.h"
#include "firewall.h"
#include "listener.h"
#include "log.h"
#include "request.h"
#include "socks.h"
#include "socks4.h"
#include "socks5.h"
#include "text.h"
#include "users.h"

#ifndef VERSION
#define VERSION		"1.1"
#endif
#ifndef RUN_AS_UID		/* whom root becomes: nobody and nogroup on Debian */
#define RUN_AS_UID	65534
#endif
#ifndef RUN_AS_GID
#define RUN_AS_GID	65534
#endif
#ifndef SOCKS_CONF
#define SOCKS_CONF	"/usr/local/etc/socks.conf"
#endif
#ifndef SOCKS_PASSWD
#define SOCKS_PASSWD	"/usr/local/etc/socks.passwd"
#endif

#define SECS_MAX	86400	/* longest deadline an option may set */
#define KEEPALIVE_MAX	32767	/* Linux's longest TCP_KEEPIDLE */
#define HEAD_MAX	16384	/* the request and what the client sends early */
#define ADDRS_MAX	8	/* addresses of a name tried, at most */
#define COPY_BUF	HEAD_MAX /* each direction copies until it proves bulky; the
				   client's copies through head[] */
#define PIPE_SIZE	(1 << 20) /* then it splices through a pipe this large */
#define PIPE_MIN	65536	/* a smaller pipe is not worth splicing through */
#define ROUNDS		8	/* moves per direction per poll() wake-up */
#define EXCERPT_MAX	48	/* bytes of relayed data shown in <Content> */
#define DRAIN_MS	1000	/* how long a turned-down client is read, at most */
#define RECORD_HOLD_MS	1000	/* in the journal, a record waits this long for its end */
#define REASON_MAX	(CONF_LINE_MAX + 2 * FIELD_MAX + 128)
#define DATAGRAM_MAX	65535	/* a UDP payload, at most */
#define PEERS_MAX	16	/* destinations a UDP association hears back from */
#define NAMES_MAX	8	/* names a UDP association resolves, once each */

#define EXIT_RELAYED	0	/* session ran and both sides closed */
#define EXIT_REJECTED	1	/* request malformed, denied or failed; relay failed */
#define EXIT_USAGE	2
#define EXIT_SYSTEM	111	/* started by root and could not stop being root */

/* How a session ends: finish() takes one of these. */
enum end {
	END_CLOSED,		/* the relay ran until both sides closed */
	END_IDLE,		/* the relay saw nothing for -I seconds */
	END_CLIENT_FAILED,	/* reading or writing the client failed: errno */
	END_DEST_FAILED,	/* the same for the destination */
	END_POLL_FAILED,
	END_REJECTED,		/* the request was turned down: the refusal is owed */
	END_ABANDONED,		/* no request to answer: not SOCKS, incomplete, gone */
};

/* Everything one client costs: the record that is logged is built here. */
struct session {
	int		 in, out;		/* the client: fd 0 and 1, or 3 */
	struct request	 req;
	size_t		 head_len;
	struct sockaddr_storage src, local, dst, peer;
	struct ruleset	 rules;			/* socks.conf, parsed once */
	uint16_t	 bound_port;		/* BIND: our listening port */
	uint8_t		 refusal[SOCKS5_REPLY_MAX];	/* the reply owed on rejection */
	size_t		 refusal_len;		/* 0: none is owed */
	int		 granted;		/* the last reply said yes: relaying */
	int		 logged_in;		/* SOCKS5: req.user passed a login */
	int		 recorded;		/* the record is out (at the first bytes) */
	long long	 record_due;		/* held until then (ms), or 0 */
	int		 end_errno;
	char		 reason[REASON_MAX];	/* why it was turned down */
	unsigned char	 excerpt[EXCERPT_MAX];
	size_t		 excerpt_len;
	unsigned long long sent, received;	/* to and from the client */
	unsigned long long datagrams_sent, datagrams_received, datagrams_dropped;
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
static const char *users_path;		/* -u, or where the users file is found */
static int users_fd;			/* the users file, or -1: set by open_users() */
static int users_present;		/* it exists: SOCKS5 logins are asked for */
static long request_timeout = 10, connect_timeout = 10, bind_timeout = 120;
static long idle_timeout;		/* 0: none */
static long keepalive_idle = 120;	/* 0: no TCP keepalive */
static struct session *alarm_session;	/* whom finish() ends if the resolver hangs */
/* socks.conf's text and rules; page-aligned, to be given back (forget_rules()). */
static struct conf_space conf_space __attribute__((aligned(4096)));

static void	usage(void) __attribute__((noreturn));
static void	version(void) __attribute__((noreturn));
static long	option_secs(int, const char *, long, long);
static int	fill_low_fds(void);
static int	client_socket(void);
static void	drop_privileges(void);
static void	drop_privileges_and_look(void);
/*
 * The phases main() calls in turn each get a frame of their own, used and
 * given back: inlined into main(), their buffers made its frame 18 KiB,
 * and each stack page a session touches is a page fault and 4 KiB more.
 */
#define PHASE	__attribute__((noinline))
static PHASE void	read_request(struct session *);
static PHASE void	open_users(void);
static PHASE void	load_rules(struct session *, int, const char *);
static PHASE int	do_connect(struct session *);
static PHASE int	do_bind(struct session *);
static PHASE enum end	do_udp(struct session *);
static PHASE enum end	relay(struct session *, int);
static void	negotiate5(struct session *, size_t, long long);
static void	record_first_bytes(struct session *, const uint8_t *, size_t, int);
static void	keep_alive(int);
static void	forget_rules(struct session *);
static void	give_back(void *, size_t);
static void	reject(struct session *, const char *, const char *) __attribute__((noreturn));
static void	owe(struct session *, int);
static void	abandon(struct session *, const char *, const char *) __attribute__((noreturn));
static void	reject_connect_error(struct session *, int) __attribute__((noreturn));
static void	reject_no_bind_rule(struct session *) __attribute__((noreturn));
static void	end_with_reason(struct session *, enum end, const char *, const char *)
		    __attribute__((noreturn));
static void	finish(struct session *, enum end) __attribute__((noreturn));
static PHASE int	check_config(int, char **);
static void	log_request(struct session *);

int
main(int argc, char *argv[])
{
	/*
	 * Static: zero pages cost no memory until written, and most never
	 * are.  Page-aligned: a short request leaves the fields and the head
	 * of the buffer in one page.
	 */
	static struct session s __attribute__((aligned(4096)));
	char conf_why[REASON_MAX];
	struct text why = TEXT(conf_why);
	int ch, check = 0, stderr_closed, conf_fd, remote, forked, on = 1;
	socklen_t len;
	struct listener_options lo = LISTENER_DEFAULTS;

	while ((ch = getopt(argc, argv, "B:c:C:g:hI:K:l:m:s:tT:u:V")) != -1) {
		switch (ch) {
		case 'c': conf_path = optarg; break;
		case 'u': users_path = optarg; break;
		case 't': check = 1; break;
		case 'T': request_timeout = option_secs(ch, optarg, 1, SECS_MAX); break;
		case 'C': connect_timeout = option_secs(ch, optarg, 1, SECS_MAX); break;
		case 'B': bind_timeout = option_secs(ch, optarg, 1, SECS_MAX); break;
		case 'I': idle_timeout = option_secs(ch, optarg, 0, SECS_MAX); break;
		case 'K': keepalive_idle = option_secs(ch, optarg, 0, KEEPALIVE_MAX); break;
		case 'V': version();
		case 'g': case 'l': case 'm': case 's':
			if (listener_option(&lo, ch, optarg) == -1)
				usage();
			break;
		default: usage();
		}
	}
	if (check)
		return check_config(argc - optind, argv + optind);
	if (optind != argc)
		usage();

	signal(SIGPIPE, SIG_IGN);
	stderr_closed = fill_low_fds();
	lo.log_to_syslog = stderr_closed;
	/* Listener mode: returns only in a child, with its client. */
	s.in = listener_run(&lo, drop_privileges_and_look);
	forked = s.in != -1;
	monotonic(&s.start);
	if (!forked && (s.in = client_socket()) == -1)
		usage();
	s.out = s.in == 0 && same_file(0, 1) ? 1 : s.in;
	log_choose(s.in, stderr_closed);
	len = sizeof s.src;
	getpeername(s.in, (struct sockaddr *)&s.src, &len);
	len = sizeof s.local;
	getsockname(s.in, (struct sockaddr *)&s.local, &len);
	ioctl(s.in, FIONBIO, &on);
	conf_fd = conf_open(conf_path, &why);
	open_users();
	if (!forked)		/* a listener's child inherits what its parent dropped */
		drop_privileges();

	read_request(&s);
	if (users_fd != -1)		/* no login was asked for */
		close(users_fd);
	load_rules(&s, conf_fd, conf_why);
	keep_alive(s.in);
	if (s.req.cmd == SOCKS_UDP_ASSOCIATE)
		finish(&s, do_udp(&s));
	remote = s.req.cmd == SOCKS_CONNECT ? do_connect(&s) : do_bind(&s);
	forget_rules(&s);
	keep_alive(remote);
	finish(&s, relay(&s, remote));
}

static void
usage(void)
{
	fprintf(stderr,
"usage: socks4d [-c file] [-u file] [-T secs] [-C secs] [-B secs] [-I secs]\n"
"               [-K secs]\n"
"       socks4d -l [addr:]port ... [-m max] [-s max] [-g secs] [options above]\n"
"       socks4d -t [-c file] [-u file] [c|b|u address [port [source [user]]]]\n"
"       socks4d -V\n"
"socks4d serves one SOCKS4/4a or SOCKS5 client whose connection is its\n"
"standard input and output; a super-server starts it once per connection, e.g.\n"
"  systemd-socket-activate -a --inetd -l 127.0.0.1:1080 socks4d\n"
"or systemd's socks4d.socket (Accept=yes), inetd or tcpserver. -c names the\n"
"firewall (default %s), -u the SOCKS5 users file\n"
"(default %s); -T -C -B -I set the request, connect,\n"
"BIND-accept and idle deadlines in seconds (10, 10, 120, none); -K the TCP\n"
"keepalive idle time (120; 0: off); -t checks the firewall and the users file,\n"
"or asks the firewall about one request, and exits; -V prints the version and\n"
"build.  With -l (repeatable) or listening sockets from systemd (Accept=no)\n"
"socks4d listens itself and forks a session per client: at most -m in all\n"
"(1024) and -s from one address (128); after SIGTERM sessions get -g seconds\n"
"(10) to end.\n", SOCKS_CONF, SOCKS_PASSWD);
	exit(EXIT_USAGE);
}

static void
version(void)
{
#ifdef __GLIBC__
	const char *libc = "glibc";
#else
	const char *libc = "musl";
#endif
	/* A static program has no interpreter, so no base address for one. */
	printf("socks4d %s (%s, %s)\n", VERSION, libc,
	    getauxval(AT_BASE) == 0 ? "static" : "dynamic");
	exit(0);
}

/* The value of -X secs, in [min, max], or usage. */
static long
option_secs(int opt, const char *arg, long min, long max)
{
	long v = number(arg, max);

	if (v >= min)
		return v;
	if (v == -1 && strspn(arg, "0123456789") != strlen(arg))
		fprintf(stderr, "socks4d: -%c: '%s' is not a number of seconds\n", opt, arg);
	else
		fprintf(stderr, "socks4d: -%c: %s is out of range %ld..%ld\n", opt, arg, min, max);
	usage();
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

/*
 * Listener mode: the sessions read socks.conf as the user the listener
 * became, so say at once if that user cannot (a clone under /root, say),
 * rather than in every session's record.
 */
static void
drop_privileges_and_look(void)
{
	char why[REASON_MAX];
	struct text t = TEXT(why);
	int fd;

	drop_privileges();
	if ((fd = conf_open(conf_path, &t)) != -1)
		close(fd);
	else
		logmsg(LOG_WARNING, "%s: every request will be rejected until uid %d can read it",
		    why, (int)geteuid());
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
 * Write all of p, waiting at most secs seconds in all (the clock starts at
 * the first wait, which is seldom needed): how many bytes were written.
 */
static size_t
write_within(int fd, const uint8_t *p, size_t len, long secs)
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

/* The reason is why followed by more (NULL: nothing more). */
static void
end_with_reason(struct session *s, enum end end, const char *why, const char *more)
{
	struct text t = TEXT(s->reason);

	add(&t, why);
	if (more != NULL)
		add(&t, more);
	finish(s, end);
}

/* Turn the request down with a reason: the refusal is written by finish(). */
static void
reject(struct session *s, const char *why, const char *more)
{
	end_with_reason(s, END_REJECTED, why, more);
}

/* Give up before there is a request to answer. */
static void
abandon(struct session *s, const char *why, const char *more)
{
	end_with_reason(s, END_ABANDONED, why, more);
}

/*
 * Read what the client has sent so far into head, up to max bytes in all;
 * the session is abandoned when the deadline passes or the client leaves.
 */
static void
read_more(struct session *s, size_t *len, size_t max, long long deadline)
{
	char secs[24];
	struct text t = TEXT(secs);
	ssize_t n;

	for (;;) {
		if (wait_fd(s->in, POLLIN, deadline) != 1) {
			add_num(&t, (unsigned long long)request_timeout, 1);
			add(&t, " s");
			abandon(s, "no complete request within ", secs);
		}
		n = read(s->in, s->head + *len, max - *len);
		if (n == 0)
			abandon(s, "client closed before a complete request", NULL);
		if (n > 0) {
			*len += (size_t)n;
			return;
		}
		if (errno != EINTR && errno != EAGAIN)
			abandon(s, "request read: ", strerror(errno));
	}
}

/*
 * Read until the request is complete.  The request has no length field and
 * may come in any number of segments; bytes past it are the client's first
 * data and stay in the buffer for the relay.  The first byte tells SOCKS5
 * from SOCKS4.
 */
static void
read_request(struct session *s)
{
	long long deadline = ms_of(&s->start) + request_timeout * 1000LL;
	const char *why = NULL;
	size_t len = 0;
	int r;

	read_more(s, &len, SOCKS4_REQUEST_MAX, deadline);
	if (s->head[0] == SOCKS5_VERSION) {
		negotiate5(s, len, deadline);
		return;
	}
	while ((r = socks4_parse(s->head, len, &s->req, &why)) == 0)
		read_more(s, &len, SOCKS4_REQUEST_MAX, deadline);
	s->head_len = len;
	/* Not SOCKS: no reply it could read. */
	if (r == -1 && s->head[0] != SOCKS4_VERSION)
		abandon(s, why, NULL);
	s->refusal_len = SOCKS4_REPLY_LEN;
	socks4_reply(s->refusal, SOCKS4_REJECTED, s->req.port, s->req.ip4);
	if (r == -1)
		reject(s, why, NULL);
}

/* The SOCKS5 refusal owed from here on says rep; SOCKS4's stays 91. */
static void
owe(struct session *s, int rep)
{
	if (s->req.version == SOCKS5_VERSION && s->refusal_len > 0)
		s->refusal_len = socks5_reply(s->refusal, rep, NULL);
}

/* Send a negotiation answer, or abandon a client that is gone. */
static void
answer(struct session *s, const uint8_t *p, size_t len)
{
	if (write_within(s->out, p, len, request_timeout) < len) {
		s->end_errno = errno;
		abandon(s, "client gone before the reply: ", strerror(errno));
	}
}

/*
 * The users file: -u, else the systemd credential socks.passwd when there
 * is one, else the default.  Opened before privileges are dropped, read
 * only when a client logs in.  When it does not exist, no login is asked.
 */
static void
open_users(void)
{
	static char credential[PATH_MAX];
	struct text t = TEXT(credential);
	const char *dir = getenv("CREDENTIALS_DIRECTORY");
	char ignored[PATH_MAX + 64];
	struct text why = TEXT(ignored);

	if (users_path == NULL && dir != NULL) {
		add(&t, dir);
		add(&t, "/socks.passwd");
		if (t.len + 1 < t.size && access(credential, F_OK) == 0)
			users_path = credential;
	}
	if (users_path == NULL)
		users_path = SOCKS_PASSWD;
	users_fd = conf_open(users_path, &why);
	users_present = users_fd != -1 || errno != ENOENT;
}

/* RFC 1929: the login passes against the users file, or the client is turned down. */
static void
check_login(struct session *s, struct socks5_login *l)
{
	static char text[CONF_MAX + 1] __attribute__((aligned(4096)));
	char msg[PATH_MAX + 128], more[3 * FIELD_MAX + PATH_MAX + 160];
	struct text why = TEXT(msg), t = TEXT(more);
	size_t len;
	int r = USERS_MALFORMED;

	if (users_fd == -1)
		add(&why, "the users file cannot be opened");
	else if (conf_read(users_fd, users_path, text, &len, &why) == 0) {
		r = users_check(text, len, users_path, l->name, l->name_len, l->password,
		    l->password_len, msg, sizeof msg);
		give_back(text, len);	/* the hashes, too, leave memory */
	}
	users_fd = -1;
	memset(l->password, 0, sizeof l->password);
	add(&t, (const char *)l->name);
	add(&t, ": ");
	add(&t, msg);
	if (r != USERS_OK)
		reject(s, "login failed for ", more);
	memcpy(s->req.user, l->name, l->name_len + 1);
	s->logged_in = 1;
}

/*
 * SOCKS5 from the greeting to the request: choose a method, check a login,
 * read the request.  The client may send it all at once: each message is
 * parsed where the one before it ended.
 */
static void
negotiate5(struct session *s, size_t len, long long deadline)
{
	static const uint8_t no_method[2] = { SOCKS5_VERSION, SOCKS5_AUTH_NO_METHOD };
	static const uint8_t login_failed[2] = { SOCKS5_PASSWORD_VERSION, 1 };
	static const uint8_t login_ok[2] = { SOCKS5_PASSWORD_VERSION, 0 };
	struct socks5_greeting g;
	struct socks5_login l;
	struct socks5_request r;
	uint8_t method[2] = { SOCKS5_VERSION, 0 };
	const char *why = NULL;
	size_t off;
	int rc;

	s->req.version = SOCKS5_VERSION;
	memcpy(s->refusal, no_method, sizeof no_method);
	s->refusal_len = sizeof no_method;
	while ((rc = socks5_parse_greeting(s->head, len, &g, &why)) == 0)
		read_more(s, &len, sizeof s->head, deadline);
	s->head_len = len;
	if (rc == -1)
		reject(s, why, NULL);
	off = g.len;
	method[1] = (uint8_t)socks5_choose_method(&g, users_present);
	if (method[1] == SOCKS5_AUTH_NO_METHOD)
		reject(s, "no acceptable method", NULL);
	answer(s, method, sizeof method);

	if (method[1] == SOCKS5_AUTH_PASSWORD) {
		memcpy(s->refusal, login_failed, sizeof login_failed);
		while ((rc = socks5_parse_login(s->head + off, len - off, &l, &why)) == 0)
			read_more(s, &len, sizeof s->head, deadline);
		s->head_len = len;
		if (rc == -1)
			reject(s, why, NULL);
		/* The password is read once, and leaves no copy behind. */
		memset(s->head + off, 0, l.len);
		check_login(s, &l);
		answer(s, login_ok, sizeof login_ok);
		off += l.len;
	}

	s->refusal_len = socks5_reply(s->refusal, SOCKS5_GENERAL_FAILURE, NULL);
	while ((rc = socks5_parse_request(s->head + off, len - off, &r, &why)) == 0)
		read_more(s, &len, sizeof s->head, deadline);
	s->head_len = len;
	if (rc == -1) {
		owe(s, r.reply);
		reject(s, why, NULL);
	}
	s->req.cmd = r.cmd;
	s->req.port = r.dst.port;
	socks5_sockaddr(&r.dst, &s->req.addr);
	if (r.dst.atyp == SOCKS5_ATYP_IPV4)
		memcpy(s->req.ip4, r.dst.ip, 4);
	memcpy(s->req.host, r.dst.name, sizeof s->req.host);
	s->req.len = off + r.len;
}

/* The name the client logged in as, for socks.conf's user lists; or NULL. */
static const char *
login_of(const struct session *s)
{
	return s->logged_in ? s->req.user : NULL;
}

/* The reply that grants: SOCKS4's 90 with port and ip, SOCKS5's 00 with bnd. */
static size_t
granted_reply(const struct session *s, uint8_t *out, uint16_t port, const uint8_t ip[4],
    const struct sockaddr_storage *bnd)
{
	if (s->req.version == SOCKS5_VERSION)
		return socks5_reply(out, SOCKS5_SUCCEEDED, (const struct sockaddr *)bnd);
	socks4_reply(out, SOCKS4_GRANTED, port, ip);
	return SOCKS4_REPLY_LEN;
}

/*
 * socks.conf from fd, read whole and parsed, the live way and -t's alike:
 * how many lines are malformed (the first max in errs), or -1 if it could
 * not be read (why says so).
 */
static int
read_rules(int fd, struct ruleset *rules, struct conf_error *errs, int max, struct text *why)
{
	char *text = conf_text(&conf_space);
	size_t len;

	if (conf_read(fd, conf_path, text, &len, why) == -1)
		return -1;
	conf_rules_after(&conf_space, len, rules);
	rules->path = conf_path;
	return conf_parse(text, len, rules, errs, max);
}

/* socks.conf, read and parsed once for this client, or the request rejected. */
static void
load_rules(struct session *s, int fd, const char *open_error)
{
	struct conf_error err;
	struct text why = TEXT(s->reason);
	int bad;

	if (fd == -1)
		reject(s, open_error, NULL);
	if ((bad = read_rules(fd, &s->rules, &err, 1, &why)) == -1)
		finish(s, END_REJECTED);
	if (bad > 0) {
		conf_error_text(&s->rules, &err, &why);
		finish(s, END_REJECTED);
	}
}

/*
 * A TCP relay never consults the rules again: the pages that hold them and
 * socks.conf go back to the kernel rather than stay with a session that
 * may idle for hours.  Rules that are gone match nothing.
 */
static void
forget_rules(struct session *s)
{
	give_back(&conf_space, (size_t)((char *)(s->rules.rule + s->rules.n) - (char *)&conf_space));
	s->rules.rule = NULL;
	s->rules.n = 0;
}

/* The pages of a page-aligned buffer, len bytes in use, to the kernel: zero if read again. */
static void
give_back(void *buf, size_t len)
{
	madvise(buf, (len + 4095) / 4096 * 4096, MADV_DONTNEED);
}

/*
 * The lookup's deadline passed (SIGALRM, in getaddrinfo()): the reply
 * owed and the record are written, and the session ends.  finish() only
 * builds text in its own buffers and writes it, which is safe here, but
 * syslog(3) is not, so the record is not sent there.
 */
static void
on_alarm(int sig)
{
	struct session *s = alarm_session;

	(void)sig;
	log_from_signal_handler();
	if (s->granted) {		/* an association's datagram: it ends */
		s->end_errno = ETIMEDOUT;
		finish(s, END_DEST_FAILED);
	}
	owe(s, SOCKS5_HOST_UNREACHABLE);
	reject(s, "name lookup took too long", NULL);
}

/*
 * What a name resolves to, IPv4 and IPv6 in the resolver's order, each
 * with port: how many addresses (0: none).
 */
static int
lookup(const char *name, uint16_t port, struct sockaddr_storage *out, int max)
{
	struct addrinfo hints = { .ai_socktype = SOCK_STREAM }, *res, *ai;
	int n = 0;

	if (getaddrinfo(name, NULL, &hints, &res) != 0)
		return 0;
	for (ai = res; ai != NULL && n < max; ai = ai->ai_next) {
		if (ai->ai_family != AF_INET && ai->ai_family != AF_INET6)
			continue;
		memset(&out[n], 0, sizeof out[n]);
		memcpy(&out[n], ai->ai_addr, ai->ai_addrlen);
		set_port(&out[n], port);
		n++;
	}
	freeaddrinfo(res);
	return n;
}

/*
 * lookup() by the deadline: getaddrinfo() has none of its own, so alarm()
 * gives it one, rounded up to a whole second.
 */
static int
lookup_by(struct session *s, const char *name, uint16_t port, struct sockaddr_storage *out,
    int max, long long deadline)
{
	long long left = deadline - now_ms();
	sigset_t alrm;
	int n;

	sigemptyset(&alrm);
	sigaddset(&alrm, SIGALRM);
	sigprocmask(SIG_UNBLOCK, &alrm, NULL);
	alarm_session = s;
	signal(SIGALRM, on_alarm);
	alarm(left > 1000 ? (unsigned)((left + 999) / 1000) : 1);
	n = lookup(name, port, out, max);
	alarm(0);
	return n;
}

/*
 * The request's destination as socket addresses: its address, or what its
 * name resolves to by the deadline.  Rejects a name that resolves to none.
 */
static int
resolve(struct session *s, struct sockaddr_storage *out, int max, long long deadline)
{
	int n;

	if (s->req.host[0] == '\0') {
		out[0] = s->req.addr;
		return 1;
	}
	n = lookup_by(s, s->req.host, s->req.port, out, max, deadline);
	owe(s, SOCKS5_HOST_UNREACHABLE);
	if (n == 0)
		reject(s, "cannot resolve ", s->req.host);
	return n;
}

/* Whether a is one of this host's own addresses. */
static int
is_own_address(const struct sockaddr_storage *a)
{
	struct ifaddrs *ifs, *i;
	struct sockaddr_storage ss;
	int own = 0;

	if (is_loopback(a) || is_unspecified(a))
		return 1;
	if (getifaddrs(&ifs) == -1)
		return 1;	/* cannot tell: assume the worst */
	for (i = ifs; i != NULL && !own; i = i->ifa_next) {
		if (i->ifa_addr == NULL || (i->ifa_addr->sa_family != AF_INET &&
		    i->ifa_addr->sa_family != AF_INET6))
			continue;
		memset(&ss, 0, sizeof ss);
		memcpy(&ss, i->ifa_addr, i->ifa_addr->sa_family == AF_INET ?
		    sizeof(struct sockaddr_in) : sizeof(struct sockaddr_in6));
		own = same_host(&ss, a);
	}
	freeifaddrs(ifs);
	return own;
}

/*
 * A CONNECT to a port socks4d serves on (the one this client reached, and
 * in listener mode every one it listens on), at any address of this host,
 * would start another socks4d, which could be asked the same: a chain of
 * processes paid for by one client.  The port is compared first, so the
 * interface list is read only for such requests.
 */
static int
is_served_here(const struct sockaddr_storage *dst, const struct sockaddr_storage *serving)
{
	return serving->ss_family != 0 && port_of(dst) == port_of(serving) &&
	    (same_host(dst, serving) || is_own_address(dst));
}

static int
is_socks4d_itself(const struct session *s, const struct sockaddr_storage *dst)
{
	const struct sockaddr_storage *listening;
	int n = listener_addresses(&listening);

	if (is_served_here(dst, &s->local))
		return 1;
	for (int i = 0; i < n; i++)
		if (is_served_here(dst, &listening[i]))
			return 1;
	return 0;
}

/* A nonblocking connect() with a deadline: the socket, or -1 with errno. */
static int
connect_within(const struct sockaddr_storage *dst, long long deadline)
{
	int fd, err = 0;
	socklen_t elen = sizeof err;

	if ((fd = socket(dst->ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0)) == -1)
		return -1;
	if (connect(fd, (const struct sockaddr *)dst, addr_len(dst)) == 0)
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

/* The SOCKS5 reply for why a connect failed. */
static int
connect_error_reply(int err)
{
	switch (err) {
	case ECONNREFUSED: return SOCKS5_REFUSED;
	case ENETUNREACH: return SOCKS5_NET_UNREACHABLE;
	case EHOSTUNREACH: return SOCKS5_HOST_UNREACHABLE;
	case ETIMEDOUT: return SOCKS5_TTL_EXPIRED;
	default: return SOCKS5_GENERAL_FAILURE;
	}
}

/* "connect to ADDR port N: error", the reason a failed CONNECT gives. */
static void
reject_connect_error(struct session *s, int err)
{
	char more[INET6_ADDRSTRLEN + 160];
	struct text t = TEXT(more);

	add_addr(&t, &s->dst);
	add(&t, " port ");
	add_num(&t, s->req.port, 1);
	add(&t, ": ");
	add(&t, strerror(err));
	owe(s, connect_error_reply(err));
	reject(s, "connect to ", more);
}

/*
 * CONNECT: each address the firewall permits is tried in order, each
 * with a fair share of what is left of the deadline.  A denied address is
 * never touched, and the record names the last address tried.
 */
static int
do_connect(struct session *s)
{
	struct sockaddr_storage addrs[ADDRS_MAX];
	char rule[REASON_MAX] = "no address to connect to";
	struct text why = TEXT(rule);
	long long deadline, now;
	int n, i, fd, tried = 0, err = 0;
	uint8_t granted[SOCKS5_REPLY_MAX];
	struct sockaddr_storage bnd;
	socklen_t bnd_len = sizeof bnd;
	size_t len;

	/* -C bounds the name lookup and the connects together. */
	deadline = now_ms() + connect_timeout * 1000LL;
	n = resolve(s, addrs, ADDRS_MAX, deadline);
	owe(s, SOCKS5_NOT_ALLOWED);
	for (i = 0; i < n; i++) {
		if (is_socks4d_itself(s, &addrs[i]))
			reject(s, "destination is socks4d itself", NULL);
		why.len = 0;
		if (!conf_decide(&s->rules, SOCKS_CONNECT, &addrs[i], &s->src, login_of(s), &why))
			continue;
		tried++;
		s->dst = addrs[i];
		now = now_ms();
		if ((fd = connect_within(&addrs[i], now + (deadline - now) / (n - i))) != -1) {
			memset(&bnd, 0, sizeof bnd);
			if (s->req.version == SOCKS5_VERSION)
				getsockname(fd, (struct sockaddr *)&bnd, &bnd_len);
			len = granted_reply(s, granted, s->req.port, s->req.ip4, &bnd);
			if (write_within(s->out, granted, len, request_timeout) < len) {
				s->end_errno = errno;
				abandon(s, "client gone before the reply: ", strerror(errno));
			}
			s->refusal_len = 0;
			s->granted = 1;
			return fd;
		}
		err = errno;
	}
	if (tried == 0)
		reject(s, rule, NULL);
	reject_connect_error(s, err);
}

/* A listening socket on the address the client reached us by, any port. */
static int
listen_near(const struct sockaddr_storage *local, uint16_t *port)
{
	struct sockaddr_storage a = *local;
	socklen_t len = sizeof a;
	int fd, err;

	set_port(&a, 0);
	if ((fd = socket(a.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0)) == -1)
		return -1;
	if (bind(fd, (struct sockaddr *)&a, addr_len(&a)) == -1 || listen(fd, 1) == -1 ||
	    getsockname(fd, (struct sockaddr *)&a, &len) == -1) {
		err = errno;
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
				s->refusal_len = 0;	/* nobody to tell */
				reject(s, "client left while BIND waited", NULL);
			}
			if (n > 0 && (s->head_len += (size_t)n) == sizeof s->head)
				p[1].fd = -1;
		}
		if (p[0].revents && (fd = accept4(lfd, (struct sockaddr *)&s->peer, &len,
		    SOCK_NONBLOCK | SOCK_CLOEXEC)) != -1)
			return fd;
	}
	return -1;
}

/*
 * The addresses a named BIND peer may come from: those of the request's
 * address or name that the firewall permits.  Rejects if none is.
 */
static int
expected_peers(struct session *s, struct sockaddr_storage *addrs)
{
	char rule[REASON_MAX] = "no address to expect";
	struct text why = TEXT(rule);
	int n, i, kept = 0;

	n = resolve(s, addrs, ADDRS_MAX, now_ms() + connect_timeout * 1000LL);
	for (i = 0; i < n; i++) {
		why.len = 0;
		if (conf_decide(&s->rules, SOCKS_BIND, &addrs[i], &s->src, login_of(s), &why))
			addrs[kept++] = addrs[i];
	}
	owe(s, SOCKS5_NOT_ALLOWED);
	if (kept == 0)
		reject(s, rule, NULL);
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

/* The second BIND reply's peer is not the one the request named. */
static void
reject_unexpected_peer(struct session *s, int n_expected)
{
	char more[3 * INET6_ADDRSTRLEN + 80];
	struct text t = TEXT(more);

	add_addr(&t, &s->peer);
	add(&t, " is not the expected ");
	add_addr(&t, &s->dst);
	if (n_expected > 1)
		add(&t, " or the name's other permitted addresses");
	reject(s, "BIND peer ", more);
}

/* Nothing in socks.conf could ever permit this BIND: say so at once. */
static void
reject_no_bind_rule(struct session *s)
{
	char more[PATH_MAX + 32];
	struct text t = TEXT(more);

	add(&t, s->rules.path);
	add(&t, " permits BIND");
	reject(s, "no rule in ", more);
}

/*
 * BIND: listen, first reply with our port, accept exactly one peer, check
 * it, second reply with the peer's address.  A request naming its peer
 * (DSTIP not 0.0.0.0) is checked now, and the peer must come from one of
 * the permitted addresses; one that does not name it is checked against
 * whoever connects.  Without any rule that permits BIND, nothing listens.
 */
static int
do_bind(struct session *s)
{
	struct sockaddr_storage expected[ADDRS_MAX];
	int named = s->req.host[0] != '\0' || !is_unspecified(&s->req.addr), n_expected = 0;
	char rule[REASON_MAX], secs[64];
	struct text why = TEXT(rule), t = TEXT(secs);
	uint8_t reply[SOCKS5_REPLY_MAX], ip[4];
	struct sockaddr_storage bnd = s->local;
	size_t len;
	int lfd, fd;

	owe(s, SOCKS5_NOT_ALLOWED);
	if (!conf_may(&s->rules, SOCKS_BIND))
		reject_no_bind_rule(s);
	if (named)
		n_expected = expected_peers(s, expected);
	owe(s, SOCKS5_GENERAL_FAILURE);
	if ((lfd = listen_near(&s->local, &s->bound_port)) == -1)
		reject(s, "BIND listener: ", strerror(errno));
	ipv4_of(&s->local, ip);
	set_port(&bnd, s->bound_port);
	len = granted_reply(s, reply, s->bound_port, ip, &bnd);
	if (write_within(s->out, reply, len, request_timeout) < len)
		abandon(s, "client gone before the reply: ", strerror(errno));
	fd = accept_peer(s, lfd);
	close(lfd);
	if (fd == -1) {
		add_num(&t, s->bound_port, 1);
		add(&t, " within ");
		add_num(&t, (unsigned long long)bind_timeout, 1);
		add(&t, " s");
		owe(s, SOCKS5_TTL_EXPIRED);
		reject(s, "no connection to BIND port ", secs);
	}
	owe(s, SOCKS5_NOT_ALLOWED);
	if (named && !is_expected(&s->peer, expected, n_expected))
		reject_unexpected_peer(s, n_expected);
	if (!named && !conf_decide(&s->rules, SOCKS_BIND, &s->peer, &s->src, login_of(s), &why))
		reject(s, rule, NULL);
	ipv4_of(&s->peer, ip);
	len = granted_reply(s, reply, port_of(&s->peer), ip, &s->peer);
	if (write_within(s->out, reply, len, request_timeout) < len)
		abandon(s, "client gone before the reply: ", strerror(errno));
	s->refusal_len = 0;
	s->granted = 1;
	return fd;
}

/* A UDP association: the client's side, the way out, and what it remembers. */
struct association {
	int		 client_fd;		/* where the client's datagrams come */
	int		 out_fd[2];		/* IPv4 and IPv6 out, opened when needed */
	struct sockaddr_storage client;		/* the client's UDP address, once seen */
	int		 client_known;
	struct sockaddr_storage peers[PEERS_MAX];	/* whom it may hear back from */
	int		 n_peers, next_peer;
	struct {
		char			 name[FIELD_MAX + 1];
		struct sockaddr_storage	 addr;	/* AF_UNSPEC: did not resolve */
	}		 names[NAMES_MAX];
	int		 n_names;
};

/* A UDP socket on the address the client reached us by, any port. */
static int
udp_near(const struct sockaddr_storage *local, struct sockaddr_storage *bound)
{
	socklen_t len = sizeof *bound;
	int fd, err;

	*bound = *local;
	set_port(bound, 0);
	if ((fd = socket(bound->ss_family, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0)) == -1)
		return -1;
	if (bind(fd, (struct sockaddr *)bound, addr_len(bound)) == -1 ||
	    getsockname(fd, (struct sockaddr *)bound, &len) == -1) {
		err = errno;
		close(fd);
		errno = err;
		return -1;
	}
	return fd;
}

/*
 * A name in a client's datagram, resolved once per association (within
 * the connect deadline, as a CONNECT's would be) and remembered, failures
 * too: 0, or -1 when it does not resolve.
 */
static int
udp_resolve(struct session *s, struct association *a, const char *name,
    struct sockaddr_storage *out)
{
	int i;

	for (i = 0; i < a->n_names; i++)
		if (strcmp(a->names[i].name, name) == 0)
			break;
	if (i == a->n_names) {
		if (i == NAMES_MAX)
			i = --a->n_names;	/* the last one makes room */
		memcpy(a->names[i].name, name, strlen(name) + 1);
		memset(&a->names[i].addr, 0, sizeof a->names[i].addr);
		lookup_by(s, name, 0, &a->names[i].addr, 1, now_ms() + connect_timeout * 1000LL);
		a->n_names++;
	}
	*out = a->names[i].addr;
	return out->ss_family == AF_UNSPEC ? -1 : 0;
}

static void
remember_peer(struct association *a, const struct sockaddr_storage *dst)
{
	for (int i = 0; i < a->n_peers; i++)
		if (same_host(&a->peers[i], dst) && port_of(&a->peers[i]) == port_of(dst))
			return;
	if (a->n_peers < PEERS_MAX)
		a->n_peers++;
	a->peers[a->next_peer] = *dst;
	a->next_peer = (a->next_peer + 1) % PEERS_MAX;
}

static int
is_peer(const struct association *a, const struct sockaddr_storage *from)
{
	for (int i = 0; i < a->n_peers; i++)
		if (same_host(&a->peers[i], from) && port_of(&a->peers[i]) == port_of(from))
			return 1;
	return 0;
}

/*
 * One datagram from the client's side: only from the client's address (and
 * the port its request named, if it named one), whole (FRAG 0), to a
 * destination socks.conf's u rules permit.  Anything else is dropped.
 */
static int
udp_from_client(struct session *s, struct association *a, uint8_t *buf)
{
	struct sockaddr_storage from, dst;
	socklen_t len = sizeof from;
	struct socks5_udp u;
	char ignored[REASON_MAX];
	struct text why = TEXT(ignored);
	const char *malformed;
	ssize_t n;
	int *fd;

	if ((n = recvfrom(a->client_fd, buf, DATAGRAM_MAX, 0, (struct sockaddr *)&from,
	    &len)) == -1)
		return 0;
	if (!same_host(&from, &s->src) || (s->req.port != 0 && port_of(&from) != s->req.port) ||
	    (a->client_known && port_of(&from) != port_of(&a->client)))
		goto drop;
	if (socks5_parse_udp(buf, (size_t)n, &u, &malformed) != 1 || u.frag != 0)
		goto drop;
	if (u.dst.atyp == SOCKS5_ATYP_NAME) {
		if (udp_resolve(s, a, u.dst.name, &dst) == -1)
			goto drop;
		set_port(&dst, u.dst.port);
	} else
		socks5_sockaddr(&u.dst, &dst);
	if (u.dst.port == 0 || is_unspecified(&dst) ||
	    !conf_decide(&s->rules, SOCKS_UDP_ASSOCIATE, &dst, &s->src, login_of(s), &why))
		goto drop;
	fd = &a->out_fd[dst.ss_family == AF_INET6];
	if (*fd == -1 && (*fd = socket(dst.ss_family, SOCK_DGRAM | SOCK_NONBLOCK |
	    SOCK_CLOEXEC, 0)) == -1)
		goto drop;
	a->client = from;
	a->client_known = 1;
	record_first_bytes(s, buf + u.len, (size_t)n - u.len, 0);
	if (sendto(*fd, buf + u.len, (size_t)n - u.len, 0, (struct sockaddr *)&dst,
	    addr_len(&dst)) == -1)
		goto drop;
	remember_peer(a, &dst);
	s->datagrams_received++;
	s->received += (size_t)n - u.len;
	return 1;
drop:
	s->datagrams_dropped++;
	return 0;
}

/* One datagram from outside: only from a destination the client sent to. */
static int
udp_from_peer(struct session *s, struct association *a, int fd, uint8_t *buf)
{
	uint8_t *data = buf + SOCKS5_REPLY_MAX, header[SOCKS5_REPLY_MAX];
	struct sockaddr_storage from;
	socklen_t len = sizeof from;
	size_t h;
	ssize_t n;

	if ((n = recvfrom(fd, data, DATAGRAM_MAX, 0, (struct sockaddr *)&from, &len)) == -1)
		return 0;
	if (!a->client_known || !is_peer(a, &from)) {
		s->datagrams_dropped++;
		return 0;
	}
	h = socks5_udp_header(header, (struct sockaddr *)&from);
	memcpy(data - h, header, h);
	if (sendto(a->client_fd, data - h, h + (size_t)n, 0, (struct sockaddr *)&a->client,
	    addr_len(&a->client)) == -1) {
		s->datagrams_dropped++;
		return 0;
	}
	s->datagrams_sent++;
	s->sent += (size_t)n;
	return 1;
}

/*
 * UDP ASSOCIATE: a UDP socket for the client beside its TCP connection,
 * relaying until that connection closes (or the idle deadline passes).
 * What the client sends on the TCP connection meanwhile is read and dropped.
 */
static enum end
do_udp(struct session *s)
{
	static uint8_t buf[SOCKS5_REPLY_MAX + DATAGRAM_MAX];
	struct association a = { .out_fd = { -1, -1 } };
	struct sockaddr_storage bound;
	uint8_t reply[SOCKS5_REPLY_MAX];
	struct pollfd p[4];
	char more[PATH_MAX + 48];
	struct text t = TEXT(more);
	long long last, left;
	size_t len;
	ssize_t n;
	int i;

	owe(s, SOCKS5_NOT_ALLOWED);
	add(&t, s->rules.path);
	add(&t, " permits UDP ASSOCIATE");
	if (!conf_may(&s->rules, SOCKS_UDP_ASSOCIATE))
		reject(s, "no rule in ", more);
	owe(s, SOCKS5_GENERAL_FAILURE);
	if ((a.client_fd = udp_near(&s->local, &bound)) == -1)
		reject(s, "UDP socket: ", strerror(errno));
	s->bound_port = port_of(&bound);
	len = socks5_reply(reply, SOCKS5_SUCCEEDED, (struct sockaddr *)&bound);
	if (write_within(s->out, reply, len, request_timeout) < len) {
		s->end_errno = errno;
		abandon(s, "client gone before the reply: ", strerror(errno));
	}
	s->refusal_len = 0;
	s->granted = 1;
	/* Idle counts from the last datagram relayed: dropped ones keep nothing alive. */
	last = now_ms();
	for (;;) {
		p[0] = (struct pollfd){ .fd = s->in, .events = POLLIN };
		p[1] = (struct pollfd){ .fd = a.client_fd, .events = POLLIN };
		for (i = 0; i < 2; i++)
			p[2 + i] = (struct pollfd){ .fd = a.out_fd[i], .events = POLLIN };
		left = last + idle_timeout * 1000LL - now_ms();
		if (idle_timeout > 0 && left <= 0)
			return END_IDLE;
		n = poll(p, 4, idle_timeout > 0 ? (int)left : -1);
		if (n == -1 && errno != EINTR)
			return END_POLL_FAILED;
		if (n == -1)
			continue;
		if (p[0].revents) {
			n = read(s->in, buf, sizeof buf);
			if (n == 0)
				return END_CLOSED;
			if (n == -1 && errno != EINTR && errno != EAGAIN) {
				s->end_errno = errno;
				return END_CLIENT_FAILED;
			}
		}
		if (p[1].revents && udp_from_client(s, &a, buf))
			last = now_ms();
		for (i = 0; i < 2; i++)
			if (p[2 + i].revents && udp_from_peer(s, &a, a.out_fd[i], buf))
				last = now_ms();
	}
}

/*
 * A peer that vanishes without a FIN (a host switched off, a route gone)
 * would hold the relay forever: after keepalive_idle quiet seconds it is
 * probed, and if neither probes nor unacknowledged data get an answer
 * within as long again, the relay ends with an error.
 */
static void
keep_alive(int fd)
{
	int on = 1, idle = (int)keepalive_idle, interval = idle / 4 > 0 ? idle / 4 : 1;
	int count = 4;
	unsigned timeout = (unsigned)idle * 2000;

	if (keepalive_idle == 0)
		return;
	setsockopt(fd, SOL_SOCKET, SO_KEEPALIVE, &on, sizeof on);
#ifdef TCP_KEEPIDLE
	setsockopt(fd, IPPROTO_TCP, TCP_KEEPIDLE, &idle, sizeof idle);
	setsockopt(fd, IPPROTO_TCP, TCP_KEEPINTVL, &interval, sizeof interval);
	setsockopt(fd, IPPROTO_TCP, TCP_KEEPCNT, &count, sizeof count);
#endif
#ifdef TCP_USER_TIMEOUT
	setsockopt(fd, IPPROTO_TCP, TCP_USER_TIMEOUT, &timeout, sizeof timeout);
#endif
}

/*
 * While the record is held, a stop (SIGTERM from systemd, SIGINT, SIGHUP)
 * waits for it: the session ends once the record is out, not without it.
 */
static void
defer_stop_signals(int how)
{
	sigset_t stop;

	sigemptyset(&stop);
	sigaddset(&stop, SIGTERM);
	sigaddset(&stop, SIGINT);
	sigaddset(&stop, SIGHUP);
	sigprocmask(how, &stop, NULL);
}

/*
 * Keep the first relayed bytes for <Content>, and log the record then.  In
 * the journal, where relay() may wait (wait: 1), up to RECORD_HOLD_MS
 * later, so that a session ending by then is one entry with its end line,
 * not two; early data (a write that may block) and a UDP association's
 * first datagram (its loop has no deadline for it) log it at once.  The
 * bytes always pass through a copy buffer: a direction splices only once
 * it has filled one.
 */
static void
record_first_bytes(struct session *s, const uint8_t *p, size_t n, int wait)
{
	if (s->recorded || s->record_due != 0)
		return;
	s->excerpt_len = n < sizeof s->excerpt ? n : sizeof s->excerpt;
	memcpy(s->excerpt, p, s->excerpt_len);
	if (wait && log_holds_record()) {
		s->record_due = now_ms() + RECORD_HOLD_MS;
		defer_stop_signals(SIG_BLOCK);
	} else
		log_request(s);
}

/*
 * relay()'s poll() timeout: the idle timeout, or less while the record is
 * held.  The idle timeout (whole seconds) is never the shorter then, and
 * starts again once the record is out: it may end a second late, once.
 */
static int
relay_wait_ms(const struct session *s)
{
	int idle = idle_timeout > 0 ? (int)idle_timeout * 1000 : -1;
	long long left;

	if (s->record_due == 0)
		return idle;
	left = s->record_due - now_ms();
	if (left < 0)
		left = 0;
	return idle == -1 || left < idle ? (int)left : idle;
}

#ifndef __linux__
#define splice(a, b, c, d, e, f) (errno = EINVAL, -1)
#endif

/* Give up splicing for good: the pipe was too small, or splice refused. */
static void
flow_copy_only(struct flow *f)
{
	if (f->pipe[0] != -1) {
		close(f->pipe[0]);
		close(f->pipe[1]);
	}
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
	} else
		f->pipe[0] = -1;
#endif
	flow_copy_only(f);
}

/* Read what the source has into the flow's staging: bytes, 0 at EOF, -1. */
static ssize_t
flow_read(struct session *s, struct flow *f)
{
	ssize_t n;

	if (f->pipe[1] != -1)
		return splice(f->from, NULL, f->pipe[1], NULL, PIPE_SIZE,
		    SPLICE_F_MOVE | SPLICE_F_NONBLOCK);
	if ((n = read(f->from, f->buf, COPY_BUF)) > 0)
		record_first_bytes(s, (uint8_t *)f->buf, (size_t)n, 1);
	return n;
}

/*
 * Move what one direction can move now, a few rounds at most: 0, or on an
 * error, with errno, -1 if reading its source failed and -2 if writing
 * its sink did.
 */
static int
flow_step(struct session *s, struct flow *f)
{
	ssize_t n, w;

	for (int round = 0; round < ROUNDS && !f->done; round++) {
		if (f->pending == 0 && !f->eof) {
			n = flow_read(s, f);
			if (n == -1 && errno == EINVAL && f->pipe[1] != -1) {
				flow_copy_only(f);
				continue;
			}
			if (n == -1)
				return errno == EAGAIN || errno == EINTR ? 0 : -1;
			f->eof = n == 0;
			f->filled |= n == COPY_BUF && f->pipe[0] == -1;
			f->pending = (size_t)n;
			f->off = 0;
		}
		while (f->pending > 0) {
			w = f->pipe[0] != -1 ?
			    splice(f->pipe[0], NULL, f->to, NULL, f->pending,
			    SPLICE_F_MOVE | SPLICE_F_NONBLOCK) :
			    write(f->to, f->buf + f->off, f->pending);
			if (w == -1 && (errno == EAGAIN || errno == EINTR))
				return 0;
			if (w <= 0)
				return -2;
			f->pending -= (size_t)w;
			f->off += (size_t)w;
			*f->count += (size_t)w;
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

/* Bytes the client sent behind its request go out first: 0, or -1. */
static int
send_early_data(struct session *s, int remote)
{
	const uint8_t *p = s->head + s->req.len;
	size_t left = s->head_len - s->req.len, n;

	if (left == 0)
		return 0;
	record_first_bytes(s, p, left, 0);
	n = write_within(remote, p, left, connect_timeout);
	s->received += n;
	return n == left ? 0 : -1;
}

/*
 * Relay until both directions have ended, or either side fails.  Each
 * direction is polled only where it can make progress: its source when its
 * staging is empty, its sink when it is not.
 */
static enum end
relay(struct session *s, int remote)
{
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
		s->end_errno = errno;
		return END_DEST_FAILED;
	}
	while (!f[0].done || !f[1].done) {
		for (i = 0; i < 2; i++) {
			p[i].fd = f[i].done ? -1 : f[i].pending ? f[i].to : f[i].from;
			p[i].events = f[i].pending ? POLLOUT : POLLIN;
		}
		n = poll(p, 2, relay_wait_ms(s));
		/* Due (even with every wake-up busy): the session goes on, the record alone. */
		if (s->record_due != 0 && (n == 0 || now_ms() >= s->record_due)) {
			log_request(s);
			if (n == 0)
				continue;
		}
		if (n == 0)
			return END_IDLE;
		if (n == -1 && errno != EINTR)
			return END_POLL_FAILED;
		for (i = 0; i < 2 && n > 0; i++) {
			if (p[i].revents == 0 || (failed = flow_step(s, &f[i])) == 0)
				continue;
			s->end_errno = errno;
			return (failed == -1 ? f[i].from : f[i].to) == remote ?
			    END_DEST_FAILED : END_CLIENT_FAILED;
		}
	}
	return END_CLOSED;
}

static const char *
command_name(int cmd)
{
	switch (cmd) {
	case SOCKS_CONNECT: return "CONNECT";
	case SOCKS_BIND: return "BIND";
	case SOCKS_UDP_ASSOCIATE: return "UDP";
	default: return "?";
	}
}

/* A session's facts as the log writes them, and room for their text. */
struct facts {
	char		 src[INET6_ADDRSTRLEN], dst[INET6_ADDRSTRLEN], peer[INET6_ADDRSTRLEN];
	struct record	 r;
};

/*
 * CONNECT names where it went (the address tried, a SOCKS4a name
 * resolved); otherwise what the request said.
 */
static void
describe(const struct session *s, struct facts *f)
{
	struct text ts = TEXT(f->src), td = TEXT(f->dst), tp = TEXT(f->peer);
	int tried = s->req.cmd == SOCKS_CONNECT && s->dst.ss_family != 0;
	struct record r = {
		.src = f->src, .src_port = port_of(&s->src),
		.dst = s->req.cmd != 0 ? f->dst : NULL,
		.dst_port = tried ? port_of(&s->dst) : s->req.port,
		.name = s->req.host, .user = s->req.user,
		.command = s->req.cmd != 0 ? command_name(s->req.cmd) : NULL,
		.version = s->req.version, .login = s->logged_in ? s->req.user : NULL,
		.reply = s->granted ? "Accept" : "Reject",
		.reason = s->granted ? NULL : s->reason,
		.bound_port = s->bound_port,
		.peer = s->peer.ss_family != 0 ? f->peer : NULL, .peer_port = port_of(&s->peer),
		.content = s->excerpt, .content_len = s->excerpt_len,
		.sent = s->sent, .received = s->received,
	};

	add_addr(&ts, &s->src);
	add_addr(&tp, &s->peer);
	if (tried)
		add_addr(&td, &s->dst);
	else if (s->req.version == SOCKS5_VERSION && s->req.addr.ss_family != 0)
		add_addr(&td, &s->req.addr);
	else
		add_ipv4(&td, s->req.ip4);
	f->r = r;
}

/* The request's record, once: at the first relayed bytes, or at the end. */
static void
log_request(struct session *s)
{
	struct facts f;

	s->recorded = 1;
	describe(s, &f);
	log_record(&f.r);
	if (s->record_due != 0) {
		s->record_due = 0;
		defer_stop_signals(SIG_UNBLOCK);
	}
}

static const char *
end_text(const struct session *s, enum end end, char *buf, size_t size)
{
	struct text t = { buf, 0, size };

	switch (end) {
	case END_CLOSED: add(&t, "both sides closed"); break;
	case END_IDLE: add(&t, "idle timeout"); break;
	case END_POLL_FAILED: add(&t, "error: poll"); break;
	case END_CLIENT_FAILED: add(&t, "error: client: "); break;
	case END_DEST_FAILED: add(&t, "error: destination: "); break;
	default: return "rejected";
	}
	if (end == END_CLIENT_FAILED || end == END_DEST_FAILED)
		add(&t, strerror(s->end_errno));
	if (s->req.cmd == SOCKS_UDP_ASSOCIATE) {
		add(&t, "; datagrams: ");
		add_num(&t, s->datagrams_sent, 1);
		add(&t, " to client, ");
		add_num(&t, s->datagrams_received, 1);
		add(&t, " from client, ");
		add_num(&t, s->datagrams_dropped, 1);
		add(&t, " dropped");
	}
	return buf;
}

/*
 * A client turned down may still be sending: closing with its bytes
 * unread would reset the connection, and it might never read the reply.
 * So the write side is shut, and what comes is read and dropped until it
 * closes too, DRAIN_MS at most.
 */
static void
close_gracefully(struct session *s)
{
	long long deadline = now_ms() + DRAIN_MS;
	ssize_t n;

	shutdown(s->out, SHUT_WR);
	while (wait_fd(s->in, POLLIN, deadline) == 1) {
		n = read(s->in, s->head, sizeof s->head);
		if (n == 0 || (n == -1 && errno != EINTR && errno != EAGAIN))
			break;
	}
}

/*
 * A relayed session's end line, after its record if that is not out yet:
 * in the journal both as one entry.
 */
static void
log_ending(struct session *s, enum end end)
{
	struct timespec now;
	struct facts f;
	char buf[256];
	const char *why = end_text(s, end, buf, sizeof buf);
	unsigned long long ms;

	monotonic(&now);
	ms = (unsigned long long)(ms_of(&now) - ms_of(&s->start));
	if (!s->recorded && log_holds_record()) {
		describe(s, &f);
		log_record_end(&f.r, why, ms);
		return;
	}
	if (!s->recorded)
		log_request(s);
	describe(s, &f);
	log_end(&f.r, why, ms);
}

/*
 * The one way a session ends: the refusal if one is owed, the record if it
 * is not out yet, the end line of a relay, and the exit status.
 */
static void
finish(struct session *s, enum end end)
{
	if (end == END_REJECTED && s->refusal_len > 0)
		write_within(s->out, s->refusal, s->refusal_len, request_timeout);
	if (end == END_REJECTED || end == END_ABANDONED)
		s->granted = 0;
	if (end < END_REJECTED) {
		log_ending(s, end);
	} else {
		if (!s->recorded)
			log_request(s);
		close_gracefully(s);
	}
	_exit(end == END_CLOSED ? EXIT_RELAYED : EXIT_REJECTED);
}

/* socks4d -t ... c|b ADDRESS: the addresses the question is about. */
static int
check_addresses(const char *host, uint16_t port, struct sockaddr_storage *out, int max)
{
	if (address_of(host, port, out) == 0)
		return 1;
	return lookup(host, port, out, max);
}

/* One answer of socks4d -t: "permit (why)" or "reject (why)". */
static int
check_one(const struct ruleset *rules, int cmd, const struct sockaddr_storage *dst,
    const struct sockaddr_storage *src, const char *user)
{
	char buf[REASON_MAX];
	struct text t = TEXT(buf);
	int permit = conf_decide(rules, cmd, dst, src, user, &t);

	printf("%s (%s)\n", permit ? "permit" : "reject", buf);
	return permit;
}

/*
 * The answer for every port: one line if all ports get the same, else a
 * line for each range of ports the rules treat alike.
 */
static int
check_ports(const struct ruleset *rules, int cmd, const struct sockaddr_storage *dst,
    const struct sockaddr_storage *src, const char *user)
{
	static uint16_t bound[2 * RULES_MAX + 1];
	static char why[2][REASON_MAX];
	struct sockaddr_storage d = *dst;
	struct text t;
	int n = conf_port_bounds(rules, bound, 2 * RULES_MAX + 1), i, first = 0, any = 0;
	int verdict[2];
	unsigned last;

	for (i = 0; i <= n; i++) {
		if (i < n) {
			set_port(&d, bound[i]);
			t = (struct text)TEXT(why[i % 2]);
			verdict[i % 2] = conf_decide(rules, cmd, &d, src, user, &t);
			if (i == 0 || (verdict[i % 2] == verdict[(i - 1) % 2] &&
			    strcmp(why[0], why[1]) == 0))
				continue;
		}
		/* The range that began at bound[first] ends before bound[i]. */
		if (first == 0 && i == n) {
			any = verdict[0];
			printf("%s (%s)\n", any ? "permit" : "reject", why[0]);
			break;
		}
		last = i < n ? bound[i] - 1U : 65535U;
		if (last == bound[first])
			printf("port %u: ", last);
		else
			printf("ports %u-%u: ", bound[first], last);
		printf("%s (%s)\n", verdict[(i - 1) % 2] ? "permit" : "reject",
		    why[(i - 1) % 2]);
		any |= verdict[(i - 1) % 2];
		first = i;
	}
	return any;
}

/* socks4d -t: the users file too, when there is one. */
static int
check_users(void)
{
	static char text[CONF_MAX + 1];
	char buf[PATH_MAX + 128];
	struct text t = TEXT(buf);
	size_t len;
	int n, bad;

	open_users();
	if (!users_present)
		return 0;
	if (users_fd == -1) {
		fprintf(stderr, "socks4d: %s: %s\n", users_path, strerror(errno));
		return 1;
	}
	if (conf_read(users_fd, users_path, text, &len, &t) == -1) {
		fprintf(stderr, "socks4d: %s\n", buf);
		return 1;
	}
	if ((n = users_validate(text, len, users_path, buf, sizeof buf)) == USERS_MALFORMED) {
		fprintf(stderr, "%s\n%s: every SOCKS5 login fails until fixed\n", buf, users_path);
		return 1;
	}
	if ((bad = users_unverifiable(text, len, users_path, buf, sizeof buf)) > 0) {
		fprintf(stderr, "%s\n", buf);
		if (bad > 1)
			fprintf(stderr, "%s: %d more such lines\n", users_path, bad - 1);
		return 1;
	}
	printf("%s: %d user%s, OK\n", users_path, n, n == 1 ? "" : "s");
	return 0;
}

/*
 * socks4d -t: check the whole file, naming every bad line; or, given a
 * request, say what the firewall decides for it, with the same code a
 * live request goes through.
 */
static int
check_config(int argc, char *argv[])
{
	static struct ruleset rules;
	struct conf_error errs[64];
	struct sockaddr_storage dst[ADDRS_MAX], src = { 0 };
	char buf[PATH_MAX + 2 * REASON_MAX];
	struct text t = TEXT(buf);
	long port = 0;
	const char *user;
	int fd, bad, n, i, cmd, permitted = 0;

	if ((fd = conf_open(conf_path, &t)) == -1 ||
	    (bad = read_rules(fd, &rules, errs, 64, &t)) == -1) {
		fprintf(stderr, "socks4d: %s\n", buf);
		return 1;
	}
	for (i = 0; i < bad && i < 64; i++) {
		t.len = 0;
		conf_error_text(&rules, &errs[i], &t);
		fprintf(stderr, "%s\n", buf);
	}
	if (bad > 64)
		fprintf(stderr, "%s: %d more malformed lines\n", conf_path, bad - 64);
	if (bad > 0)
		fprintf(stderr, "%s: rejects every request until fixed\n", conf_path);
	if (bad > 0)
		return 1;
	if (argc == 0) {
		printf("%s: %d rule%s, OK\n", conf_path, rules.n, rules.n == 1 ? "" : "s");
		return check_users();
	}
	if (argc < 2 || argc > 5 || (strcmp(argv[0], "c") != 0 && strcmp(argv[0], "b") != 0 &&
	    strcmp(argv[0], "u") != 0))
		usage();
	cmd = argv[0][0] == 'c' ? SOCKS_CONNECT : argv[0][0] == 'b' ? SOCKS_BIND :
	    SOCKS_UDP_ASSOCIATE;
	user = argc > 4 ? argv[4] : NULL;
	if (argc > 2 && (port = number(argv[2], 65535)) == -1) {
		fprintf(stderr, "socks4d: port '%s' is not 0..65535\n", argv[2]);
		return 1;
	}
	if (argc > 3 && address_of(argv[3], 0, &src) == -1) {
		fprintf(stderr, "socks4d: source '%s' is not a numeric address\n", argv[3]);
		return 1;
	}
	if ((n = check_addresses(argv[1], (uint16_t)port, dst, ADDRS_MAX)) == 0) {
		fprintf(stderr, "socks4d: cannot resolve %s\n", argv[1]);
		return 1;
	}
	if (argc < 4 && conf_has_sources(&rules))
		fprintf(stderr, "socks4d: no source given: rules with 'from' do not match\n");
	for (i = 0; i < n; i++) {
		t.len = 0;
		add_addr(&t, &dst[i]);
		if (n > 1)
			printf("%s: ", buf);
		permitted |= argc < 3 ? check_ports(&rules, cmd, &dst[i], &src, user) :
		    check_one(&rules, cmd, &dst[i], &src, user);
	}
	return permitted ? 0 : 1;
}
