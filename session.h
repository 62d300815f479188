/*
 * session.h - one client's session: the options it runs with, what it
 * knows of its client and request, where it is (its phase), and the
 * functions main() and the phases call, file by file.
 * SPDX-License-Identifier: ISC
 */
#ifndef SESSION_H
#define SESSION_H

#include <sys/types.h>
#include <sys/socket.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "firewall.h"
#include "request.h"

struct socks5_login;

#define HEAD_MAX	16384	/* the request and the client's early data */
#define ADDRS_MAX	8	/* addresses of a name tried, at most */
#define EXCERPT_MAX	48	/* bytes of relayed data shown in <Content> */
#define REASON_MAX	(CONF_LINE_MAX + 2 * FIELD_MAX + 128)
#define TICK_MS		2000	/* a relay reviews its rules this often */
#define BALANCERS_MAX	16	/* -P options */

/*
 * The phases main() calls in turn each get a frame of their own, used and
 * given back: inlined into main(), their buffers made its frame 18 KiB,
 * and each stack page a session touches is a page fault and 4 KiB more.
 */
#define PHASE	__attribute__((noinline))
#define NORETURN __attribute__((noreturn))

#ifndef RUN_AS_UID		/* whom root becomes: nobody and nogroup */
#define RUN_AS_UID	65534
#endif
#ifndef RUN_AS_GID
#define RUN_AS_GID	65534
#endif

/* A balancer (-P ADDR/BITS): an IPv4 or IPv6 prefix, a mapped one as IPv4. */
struct balancer {
	int		 family;
	uint8_t		 addr[16];
	int		 bits;
};

/* Options: set once by main() from the command line, read-only after. */
struct options {
	const char	*conf_path;
	const char	*users_path;		/* -u, or NULL: looked for */
	long		 request_timeout, connect_timeout, bind_timeout;
	long		 idle_timeout;		/* 0: none */
	long		 keepalive_idle;	/* 0: no TCP keepalive */
	int		 no_content;		/* -x: no relayed bytes in
						   records */
	/* -P: the senders whose connections start with a PROXY header */
	struct balancer	 balancer[BALANCERS_MAX];
	int		 nbalancers;
	struct sockaddr_storage advertise[2];	/* -A: IPv4's, IPv6's; or
						   AF_UNSPEC: our own */
	uint16_t	 ports_low, ports_high;	/* -U: BIND and UDP ports;
						   0: any */
};

/* Which version of a file a session read: to see that it changed. */
struct file_id {
	dev_t		 dev;
	ino_t		 ino;
	off_t		 size;
	struct timespec	 mtime, ctime;
};

/*
 * A file a granted session keeps watching (review.c): the version it
 * read, kept open, so that an edit in place is seen even where the
 * session's user may not look the path up again.
 */
struct watched {
	int		 fd;			/* or -1 */
	struct file_id	 id;
};

/* The SOCKS5 users file: where it is, and whether logins are asked for. */
struct users_file {
	const char	*path;
	int		 fd;			/* opened early, or -1 */
	const char	*error;			/* then "PATH: why", or NULL
						   if there is none (ENOENT):
						   users_why() says it */
	int		 present;		/* it exists: logins asked */
	struct watched	 seen;			/* the version a login read */
};

/*
 * Where a session is.  Before a grant, it says what a refusal looks like
 * (reply.c); after, whether the record is out (record.c).
 */
enum phase {
	PHASE_HELLO,		/* SOCKS5 greeting: a refusal is 05 FF */
	PHASE_LOGIN,		/* SOCKS5 login: a refusal is 01 01
				   (HTTP's: 407) */
	PHASE_REQUEST,		/* the request: its protocol's failure reply */
	PHASE_GRANTED,		/* the last reply said yes: relaying */
	PHASE_HELD,		/* and the record waits until record_due */
	PHASE_RECORDED,		/* and the record is out */
};

/* How a session ends: finish() takes one of these. */
enum end {
	END_CLOSED,		/* the relay ran until both sides closed */
	END_IDLE,		/* the relay saw nothing for -I seconds */
	END_CLIENT_FAILED,	/* reading or writing the client: errno */
	END_DEST_FAILED,	/* the same for the destination */
	END_POLL_FAILED,
	END_STOPPED,		/* SIGTERM, SIGINT or SIGHUP */
	END_REVOKED,		/* socks.conf or the users file denies it now */
	END_REJECTED,		/* the request was turned down */
	END_LOGIN_FAILED,	/* and by a failed login */
	END_ABANDONED,		/* no request to answer: not SOCKS, gone */
	END_HEALTH_CHECK,	/* a balancer's health check: no record */
};

/* Everything one client costs: the record that is logged is built here. */
struct session {
	const struct options *opt;
	int		 in, out;		/* the client: 0 and 1, or 3 */
	enum phase	 phase;
	int		 protocol;		/* 4, 5, REQUEST_HTTP, or 0:
						   not known */
	struct request	 req;
	const char	*login;			/* SOCKS5 or HTTP: req.user
						   logged in */
	size_t		 head_len;
	struct sockaddr_storage src, local, dst, peer;
	struct sockaddr_storage via;		/* the balancer whose PROXY
						   header named src, or
						   AF_UNSPEC */
	struct sockaddr_storage named;		/* the destination the record
						   names (record.c) */
	struct ruleset	 rules;			/* socks.conf, parsed once */
	struct watched	 conf_seen;		/* the socks.conf it read */
	struct users_file users;
	uint16_t	 bound_port;		/* BIND and UDP: our port */
	long long	 record_due;		/* PHASE_HELD: until (ms) */
	int		 end_errno;
	char		 reason[REASON_MAX];	/* why it was turned down */
	unsigned char	 excerpt[EXCERPT_MAX];
	size_t		 excerpt_len;
	unsigned long long sent, received;	/* to and from the client */
	unsigned long long datagrams_sent, datagrams_received;
	unsigned long long datagrams_dropped;
	struct timespec	 start;
	/*
	 * Last, so that a short request shares its page with the fields above:
	 * each page a session touches costs it a page fault.
	 */
	uint8_t		 head[HEAD_MAX];	/* the request, early data */
};

/* proxied.c: the balancers -P names, and their PROXY headers */
int	balancer_option(struct options *, const char *, struct text *);
PHASE void	read_proxy_header(struct session *);

/* handshake.c: the request, and SOCKS5's greeting and login before it */
PHASE void	read_request(struct session *);
int	read_some(struct session *, size_t *, size_t, long long);
void	read_or_abandon(struct session *, size_t *, size_t, long long,
	    const char *, const char *);

/* login.c: the users file and RFC 1929 logins */
void	users_open(const struct options *, struct users_file *);
void	users_describe(const struct users_file *, struct text *);
void	users_why(const struct users_file *, struct text *);
void	check_login(struct session *, struct socks5_login *);
int	login_current(struct session *, int, struct text *);

/* rules.c: socks.conf, loaded for this client and asked */
int	rules_read(const char *, int, struct ruleset *, struct conf_error *,
	    int, struct text *);
PHASE void	load_rules(struct session *, int, const char *);
int	rules_permit(const struct session *, int,
	    const struct sockaddr_storage *, const char *, struct text *);
int	rules_may(const struct session *, int, struct text *);
int	rules_may_name(const struct session *, int, const char *, uint16_t,
	    struct text *);
void	require_rule_for(struct session *, int);
int	rules_want_login(const struct session *);
int	rules_reload(struct session *, int, struct text *);
void	forget_rules(struct session *);
void	give_back(void *, size_t);

/* resolve.c: names, by a deadline; and the guard against self-loops */
int	lookup(const char *, uint16_t, struct sockaddr_storage *, int);
int	lookup_within(const char *, uint16_t, struct sockaddr_storage *, int,
	    long long);
int	resolve(struct session *, struct sockaddr_storage *, long long);
int	is_socks4d_itself(const struct session *,
	    const struct sockaddr_storage *);

/* sockets.c: the sockets a session opens */
int	connect_start(const struct sockaddr_storage *);
int	socket_near(const struct session *, int, struct sockaddr_storage *,
	    struct text *);
void	keep_alive(int, long);

/* signals.c and review.c: a granted session's stop, tick and review */
long	tick_ms(const struct session *);
int	signals_open(long);
int	heard_ends(struct session *, int, int *, enum end *);
void	watch(struct watched *, int);
int	review(struct session *);

/* wait.c: bounded waits */
size_t	write_within(int, const uint8_t *, size_t, long);

/* reply.c: what the client is told before the relay */
void	reply_send(struct session *, const uint8_t *, size_t);
void	reply_grant(struct session *, uint16_t, const uint8_t [4],
	    const struct sockaddr_storage *);
void	reply_bound(struct session *, const struct sockaddr_storage *);
void	reply_refusal(struct session *, int);

/* connect.c, bind.c, udp.c: the three commands */
PHASE int	do_connect(struct session *);
PHASE int	do_bind(struct session *);
PHASE enum end	do_udp(struct session *);

/* relay.c: both directions until both are done */
PHASE enum end	relay(struct session *, int);

/* record.c: the request's record and the end line */
void	record_first_bytes(struct session *, const uint8_t *, size_t, int);
int	record_wait_ms(const struct session *);
void	record_if_due(struct session *, int);
void	record_now(struct session *);
void	record_end(struct session *, enum end);

/* finish.c: the one way a session ends */
NORETURN void	reject(struct session *, int, const char *, const char *);
NORETURN void	reject_login(struct session *, const char *, const char *);
NORETURN void	abandon(struct session *, const char *, const char *);
NORETURN void	finish(struct session *, enum end);

/* check.c: socks4d -t */
PHASE int	check_config(const struct options *, int, char **,
	    struct text *);

#endif
