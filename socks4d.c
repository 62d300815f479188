/*
 * socks4d - a SOCKS4, SOCKS4a, SOCKS5 and HTTP CONNECT proxy that serves
 * one client and exits.
 *
 * A super-server (inetd, xinetd, systemd Accept=yes, tcpserver) accepts the
 * connection and runs socks4d with it on stdin/stdout, or, under systemd
 * without StandardInput=socket, as socket-activation fd 3; or, in listener
 * mode (-l, or listening sockets from systemd), listener.c accepts and
 * forks and each child carries on here with its client.  main() reads the
 * options, takes the client, drops privileges, then runs the phases of a
 * session in the order they happen: read a balancer's PROXY header
 * (proxied.c) and the request (handshake.c), load socks.conf (rules.c),
 * then CONNECT, BIND or UDP ASSOCIATE (connect.c, bind.c, udp.c), the
 * relay (relay.c), and the end (finish.c).
 *
 * Protocol: Ying-Da Lee, "SOCKS: A protocol for TCP proxy across firewalls"
 * and "SOCKS 4A: A Simple Extension to SOCKS 4 Protocol"; RFC 1928 (SOCKS
 * Protocol Version 5) and RFC 1929 (Username/Password Authentication).
 * SPDX-License-Identifier: ISC
 */
#define _GNU_SOURCE
#include <sys/types.h>
#include <sys/auxv.h>
#include <sys/ioctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#ifdef __linux__
#include <sys/prctl.h>
#endif
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>
#include <unistd.h>

#include "activation.h"
#include "addr.h"
#include "clock.h"
#include "exits.h"
#include "firewall.h"
#include "listener.h"
#include "log.h"
#include "number.h"
#include "session.h"
#include "socks.h"
#include "text.h"

#ifndef VERSION
#define VERSION		"1.2"
#endif
#ifndef SOCKS_CONF
#define SOCKS_CONF	"/usr/local/etc/socks.conf"
#endif
#ifndef SOCKS_PASSWD
#define SOCKS_PASSWD	"/usr/local/etc/socks.passwd"
#endif

#define SECS_MAX	86400	/* longest deadline an option may set */
#define KEEPALIVE_MAX	32767	/* Linux's longest TCP_KEEPIDLE */

/* Set once, by options(); read-only after. */
static struct options opt = {
	.conf_path = SOCKS_CONF, .request_timeout = 10,
	.connect_timeout = 10, .bind_timeout = 120, .keepalive_idle = 120,
};

static NORETURN void	usage(FILE *, int);
static NORETURN void	usage_error(int, const char *, const char *);
static NORETURN void	version(void);

/* -h and --help: to stdout, exit 0; from a terminal: to stderr, exit 2. */
static void
usage(FILE *f, int status)
{
	fprintf(f,
"usage: socks4d [-c file] [-u file] [-T secs] [-C secs] [-B secs] [-I secs]\n"
"               [-K secs] [-x] [-P addr[/bits] ...] [-A addr] [-U low-high]\n"
"       socks4d -l [addr:]port ... [-m max] [-s max] [-S bits]\n"
"               [-f count/secs/ban] [-g secs] [options above]\n"
"       socks4d -t [-c file] [-u file] [c|b|u address [port [source [user]]]]\n"
"       socks4d -h | -V\n"
"socks4d serves one SOCKS4/4a, SOCKS5 or HTTP CONNECT client whose\n"
"connection is its standard input and output; a super-server starts it\n"
"once per connection, e.g.\n"
"  systemd-socket-activate -a --inetd -l 127.0.0.1:1080 socks4d\n"
"or systemd's socks4d.socket (Accept=yes), inetd or tcpserver.\n"
"-c names the firewall (default %s),\n"
"-u the users file for SOCKS5 and HTTP logins (default %s;\n"
"without one, clients get no login and 'user' rules never match);\n"
"-T -C -B -I set the request, connect, BIND-accept and idle deadlines in\n"
"seconds (10, 10, 120, none; 1..86400, -I 0..86400); -K the TCP keepalive\n"
"idle time (120; 0: off; 0..32767); -x keeps relayed bytes out of records;\n"
"-P names a balancer (up to 16) whose connections start with a PROXY header\n"
"(v1 or v2) that names the client;\n"
"-A names the address (numeric; one IPv4, one IPv6) that BIND and UDP\n"
"ASSOCIATE replies give clients, for a host behind NAT; -U the ports their\n"
"sockets take (low-high in 1..65535; default: any);\n"
"-t checks the firewall and the users file, or asks the firewall about one\n"
"request (address a host name, too), and exits; -h prints this; -V prints\n"
"the version and build.\n"
"With -l (repeatable) or listening sockets from systemd (Accept=no)\n"
"socks4d listens itself and forks a session per client: at most -m in all\n"
"(1024) and -s from one source (128; both 1..65536), an IPv6 source being\n"
"its first -S bits (64; 1..128); a source failing count logins within secs\n"
"is refused for ban seconds (-f 10/60/60; -f 0: never); after SIGTERM\n"
"sessions get -g seconds (10; 0..86400) to end.\n", SOCKS_CONF,
	    SOCKS_PASSWD);
	exit(status);
}

/*
 * Every bad option, value or argument, in one line of one form: "socks4d:
 * -T: '0' is out of range 1..86400; see socks4d -h".  Exit 2.
 */
static void
usage_error(int o, const char *value, const char *what)
{
	fputs("socks4d: ", stderr);
	if (o != 0)
		fprintf(stderr, "-%c: ", o);
	if (value != NULL)
		fprintf(stderr, "'%s' ", value);
	fprintf(stderr, "%s; see socks4d -h\n", what);
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

/* The value of -X secs, in [min, max], or a usage error. */
static long
option_secs(int o, const char *arg, long min, long max)
{
	char buf[64];
	struct text why = TEXT(buf);
	long v = number_in(arg, min, max, &why);

	if (v == -1)
		usage_error(o, arg, buf);
	return v;
}

/* -A ADDR: the address BIND and UDP replies give, one per family. */
static void
option_advertise(const char *arg)
{
	struct sockaddr_storage a;
	int family;

	if (address_of(arg, 0, &a) == -1)
		usage_error('A', arg, "is not a numeric IPv4 or IPv6 address");
	addr_bytes(&a, &family);
	if (opt.advertise[family == AF_INET6].ss_family != AF_UNSPEC)
		usage_error('A', arg, family == AF_INET6 ?
		    "is a second IPv6 address (one -A a family)" :
		    "is a second IPv4 address (one -A a family)");
	opt.advertise[family == AF_INET6] = a;
}

/* -U LOW-HIGH: the ports BIND and UDP sockets take. */
static void
option_ports(const char *arg)
{
	const char *dash = strchr(arg, '-');
	char low[8] = "";
	long l = -1, h = -1;

	if (dash != NULL && (size_t)(dash - arg) < sizeof low) {
		memcpy(low, arg, (size_t)(dash - arg));
		l = number(low, 99999);
		h = number(dash + 1, 99999);
	}
	if (l == -1 || h == -1)
		usage_error('U', arg, "is not LOW-HIGH (40000-40009)");
	if (l < 1 || h > 65535 || l > h)
		usage_error('U', arg, "is out of range: 1..65535, LOW no more "
		    "than HIGH");
	opt.ports_low = (uint16_t)l;
	opt.ports_high = (uint16_t)h;
}

/* An option getopt did not take: unknown, or its value missing. */
static void
option_unknown(int ch, char *argv[])
{
	/* "--help" is getopt's option '-', the rest of the word to come. */
	const char *word = argv[optind];

	if (ch == ':')
		usage_error(optopt, NULL, "needs a value");
	if (optopt == '-' && word != NULL && strncmp(word, "--", 2) == 0) {
		if (strcmp(word, "--help") == 0)
			usage(stdout, 0);
		fprintf(stderr, "socks4d: %s: no such option (the one long "
		    "option is --help); see socks4d -h\n", word);
		exit(EXIT_USAGE);
	}
	usage_error(optopt, NULL, "no such option");
}

/* The command line into opt and lo: 1 for -t, else 0. */
static int
options(int argc, char *argv[], struct listener_options *lo)
{
	char buf[128];
	struct text why = TEXT(buf);
	int ch, check = 0;

	opterr = 0;
	while ((ch = getopt(argc, argv,
	    ":A:B:c:C:f:g:hI:K:l:m:P:s:S:tT:u:U:Vx")) != -1) {
		switch (ch) {
		case 'c': opt.conf_path = optarg; break;
		case 'u': opt.users_path = optarg; break;
		case 't': check = 1; break;
		case 'x': opt.no_content = 1; break;
		case 'T': opt.request_timeout = option_secs(ch, optarg, 1,
		    SECS_MAX); break;
		case 'C': opt.connect_timeout = option_secs(ch, optarg, 1,
		    SECS_MAX); break;
		case 'B': opt.bind_timeout = option_secs(ch, optarg, 1,
		    SECS_MAX); break;
		case 'I': opt.idle_timeout = option_secs(ch, optarg, 0,
		    SECS_MAX); break;
		case 'K': opt.keepalive_idle = option_secs(ch, optarg, 0,
		    KEEPALIVE_MAX); break;
		case 'A': option_advertise(optarg); break;
		case 'U': option_ports(optarg); break;
		case 'P':
			if (balancer_option(&opt, optarg, &why) == -1)
				usage_error(ch, optarg, buf);
			break;
		case 'h': usage(stdout, 0);
		case 'V': version();
		case 'f': case 'g': case 'l': case 'm': case 's': case 'S':
			if (listener_option(lo, ch, optarg, &why) == -1)
				usage_error(ch, optarg, buf);
			break;
		default: option_unknown(ch, argv);
		}
	}
	return check;
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
		logmsg(LOG_ERR, "cannot drop root privileges: %s",
		    strerror(errno));
		exit(EXIT_SYSTEM);
	}
}

/*
 * Listener mode: the sessions read socks.conf and the users file as the
 * user the listener became, so say at once if that user cannot (a clone
 * under /root, say), rather than in every session's record.
 */
static void
drop_privileges_and_look(void)
{
	char why[REASON_MAX];
	struct text t = TEXT(why);
	struct users_file u;
	int fd;

	drop_privileges();
	if ((fd = conf_open(opt.conf_path, &t)) != -1)
		close(fd);
	else
		logmsg(LOG_WARNING, "%s: every request will be rejected until "
		    "uid %d can read it", why, (int)geteuid());
	users_open(&opt, &u);
	if (u.fd != -1)
		close(u.fd);
	else if (u.present)
		logmsg(LOG_WARNING, "%s: every SOCKS5 login will fail until "
		    "uid %d can read it", u.error, (int)geteuid());
}

/* Whether SOCKS5 logins are on, for the listener's first line. */
static const char *
users_state(void)
{
	static char line[PATH_MAX + 192];
	struct text t = TEXT(line);
	struct users_file u;

	users_open(&opt, &u);
	if (u.fd != -1)
		close(u.fd);
	users_describe(&u, &t);
	return line;
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

/*
 * The client: on stdin, or, from systemd with Accept=yes and without
 * StandardInput=socket, the one socket passed as fd 3.  -1 if neither.
 */
static int
client_socket(int passed)
{
	if (passed == 1 && is_stream_socket(3))
		return 3;
	return is_stream_socket(0) ? 0 : -1;
}

/*
 * The session's ends and addresses, from its client's socket.  A
 * listener's child (forked) has its client's address and a nonblocking
 * socket from the listener already, and its client is never stderr.
 */
static void
take_client(struct session *s, int fd, int forked, int stderr_closed)
{
	socklen_t len;
	int on = 1;

	s->opt = &opt;
	s->in = fd;
	s->out = s->in == 0 && same_file(0, 1) ? 1 : s->in;
	log_choose(forked ? -1 : s->in, stderr_closed);
	len = sizeof s->src;
	if (!forked)
		getpeername(s->in, (struct sockaddr *)&s->src, &len);
	len = sizeof s->local;
	getsockname(s->in, (struct sockaddr *)&s->local, &len);
	if (!forked)
		ioctl(s->in, FIONBIO, &on);
}

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
	struct listener_options lo = LISTENER_DEFAULTS;
	int stderr_closed, conf_fd, remote, passed, fd, forked, r;

	if (options(argc, argv, &lo)) {
		r = check_config(&opt, argc - optind, argv + optind, &why);
		if (r == -1)
			usage_error('t', NULL, conf_why);
		return r;
	}
	if (optind != argc)
		usage_error(0, argv[optind], "is not an option (only -t takes "
		    "arguments after its options)");

	signal(SIGPIPE, SIG_IGN);
	stderr_closed = fill_low_fds();
	lo.log_to_syslog = stderr_closed;
	passed = activation_fds();
	lo.inherited = passed > 0 && is_listening(3) ? passed : 0;
	if (lo.nlisten > 0 || lo.inherited > 0)
		lo.users = users_state();
	/* Listener mode: returns only in a child, with its client. */
	fd = listener_run(&lo, drop_privileges_and_look, &s.src);
	forked = fd != -1;
	monotonic(&s.start);
	if (!forked && (fd = client_socket(passed)) == -1)
		usage(stderr, EXIT_USAGE);
	take_client(&s, fd, forked, stderr_closed);
	conf_fd = conf_open(opt.conf_path, &why);
	users_open(&opt, &s.users);
	/* A listener's child inherits the privileges its parent dropped. */
	if (!forked)
		drop_privileges();

	read_proxy_header(&s);
	read_request(&s);
	if (s.users.fd != -1)		/* no login was asked for */
		close(s.users.fd);
	load_rules(&s, conf_fd, conf_why);
	keep_alive(s.in, opt.keepalive_idle);
	if (s.req.cmd == SOCKS_UDP_ASSOCIATE)
		finish(&s, do_udp(&s));
	remote = s.req.cmd == SOCKS_CONNECT ? do_connect(&s) : do_bind(&s);
	forget_rules(&s);
	keep_alive(remote, opt.keepalive_idle);
	finish(&s, relay(&s, remote));
}
