/*
 * listener.c - socks4d -l: socks4d as its own super-server.
 *
 * The parent binds (or takes the listening sockets systemd passes with
 * Accept=no), drops privileges, forks a journal forwarder if the log is
 * the journal (journal_fwd.c), and from then on only accepts, forks and
 * reaps.  It never reads a byte from a client it serves: each child
 * returns from listener_run() with its client's socket and runs the
 * session an inetd-started socks4d runs.  A fork without an exec is what
 * makes this faster than a super-server: the child starts with socks4d
 * already loaded.
 *
 * The parent's only per-client state is what its limits need: the
 * children's PIDs and sources, the sources whose logins failed (caps.c),
 * and the clients over a limit it is refusing (turnaway.c).
 * SPDX-License-Identifier: ISC
 */
#define _GNU_SOURCE
#include <sys/types.h>
#include <sys/mman.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
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

#include "activation.h"
#include "addr.h"
#include "caps.h"
#include "clock.h"
#include "exits.h"
#include "journal_fwd.h"
#include "listener.h"
#include "log.h"
#include "number.h"
#include "text.h"
#include "turnaway.h"

#define ACCEPTS_PER_WAKE 64	/* then reap, and serve the other sockets */
#define STOP_MS		1500	/* SIGTERM to SIGKILL, at the drain's end */

/* Set before the first fork, only read after: children share these pages. */
static int listening[LISTENER_ADDRS_MAX];
static int nlistening;
static struct sockaddr_storage bound[LISTENER_ADDRS_MAX];
static int nbound;
static sigset_t old_mask;		/* as inherited */
static int signals = -1;		/* caught[], read (signalfd) */

/*
 * What the parent changes while children run.  Not inherited
 * (MADV_DONTFORK): a fork copies none of it, the parent's writes cause no
 * copy-on-write faults, and no child keeps a copy.  In the program's own
 * zero pages, after all others (.lbss), not mmap()ed: a mapping of its own
 * would sit beside the vDSO, and each child would get page tables for
 * that corner of the address space (12 KiB).
 */
static struct {
	struct caps	 caps;		/* the sessions, failing sources */
	struct turnaway	 away;		/* clients being refused */
	struct pollfd	 ready[LISTENER_ADDRS_MAX + TURNAWAY_MAX + 1];
	int		 draining;
	int		 stop_requested, hup_requested;
	pid_t		 forwarder;	/* journal_fwd.c's, or -1 */
} parent __attribute__((section(".lbss"), aligned(4096)));

/*
 * "[ADDR:]PORT": 127.0.0.1:1080, [::1]:1080, or a bare 1080 for every
 * address, IPv4 and IPv6 (one dual-stack socket), as systemd reads
 * ListenStream=1080.  Numeric only.  *v6only: 0 for the bare port.
 */
static int
parse_listen(const char *arg, struct sockaddr_storage *ss, int *v6only)
{
	struct sockaddr_in *sin = (struct sockaddr_in *)ss;
	struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)ss;
	char host[INET6_ADDRSTRLEN];
	const char *colon = strrchr(arg, ':'), *port = colon ? colon + 1 : arg;
	size_t hlen = colon ? (size_t)(colon - arg) : 0;
	char *end;
	long p;

	memset(ss, 0, sizeof *ss);
	errno = 0;
	p = strtol(port, &end, 10);
	if (*port < '0' || *port > '9' || *end != '\0' || errno || p < 1 ||
	    p > 65535)
		return -1;
	*v6only = 1;
	if (colon == NULL) {
		sin6->sin6_family = AF_INET6;
		sin6->sin6_addr = in6addr_any;
		sin6->sin6_port = htons((uint16_t)p);
		*v6only = 0;
		return 0;
	}
	if (hlen >= 2 && arg[0] == '[' && arg[hlen - 1] == ']') {
		if (hlen - 2 >= sizeof host)
			return -1;
		memcpy(host, arg + 1, hlen - 2);
		host[hlen - 2] = '\0';
		sin6->sin6_family = AF_INET6;
		sin6->sin6_port = htons((uint16_t)p);
		return inet_pton(AF_INET6, host, &sin6->sin6_addr) == 1 ?
		    0 : -1;
	}
	if (hlen >= sizeof host)
		return -1;
	memcpy(host, arg, hlen);
	host[hlen] = '\0';
	sin->sin_family = AF_INET;
	sin->sin_port = htons((uint16_t)p);
	return inet_pton(AF_INET, host, &sin->sin_addr) == 1 ? 0 : -1;
}

static void
add_listening(int fd)
{
	int on = 1;

	fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);
	/* Requests are small and the reply is one segment: no Nagle delay. */
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &on, sizeof on);
	listening[nlistening++] = fd;
}

/* Bind one -l address, or exit: a listener that cannot listen is useless. */
static void
open_listening(const char *arg)
{
	struct sockaddr_storage ss;
	socklen_t len;
	int fd, v6only, on = 1;

	if (parse_listen(arg, &ss, &v6only) == -1 ||
	    nlistening == LISTENER_ADDRS_MAX) {
		logmsg(LOG_ERR, "cannot listen on %s: not an address, "
		    "or more than %d sockets", arg, LISTENER_ADDRS_MAX);
		exit(EXIT_SYSTEM);
	}
	fd = socket(ss.ss_family, SOCK_STREAM, 0);
	if (fd == -1 && errno == EAFNOSUPPORT && !v6only) {
		/* No IPv6 here: every IPv4 address, then. */
		struct sockaddr_in *sin = (struct sockaddr_in *)&ss;
		uint16_t port = ((struct sockaddr_in6 *)&ss)->sin6_port;

		memset(&ss, 0, sizeof ss);
		sin->sin_family = AF_INET;
		sin->sin_port = port;
		fd = socket(AF_INET, SOCK_STREAM, 0);
	}
	len = addr_len(&ss);
	if (fd == -1 ||
	    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &on, sizeof on) == -1 ||
	    (ss.ss_family == AF_INET6 && setsockopt(fd, IPPROTO_IPV6,
	    IPV6_V6ONLY, &v6only, sizeof v6only) == -1) ||
	    bind(fd, (struct sockaddr *)&ss, len) == -1 ||
	    listen(fd, SOMAXCONN) == -1) {
		logmsg(LOG_ERR, "cannot listen on %s: %s", arg,
		    strerror(errno));
		exit(EXIT_SYSTEM);
	}
	add_listening(fd);
}

/*
 * The listening sockets systemd passed with Accept=no, from fd 3 on
 * (activation.c counted them).  With Accept=yes fd 3 is a connected
 * client, and o->inherited is 0.
 */
static void
take_inherited(const struct listener_options *o)
{
	for (int fd = 3; fd < 3 + o->inherited; fd++) {
		if (!is_listening(fd) || nlistening == LISTENER_ADDRS_MAX) {
			logmsg(LOG_WARNING, "LISTEN_FDS: fd %d is no listening "
			    "socket, or one too many: closed", fd);
			close(fd);
			continue;
		}
		add_listening(fd);
	}
}

static const int caught[] = { SIGCHLD, SIGTERM, SIGINT, SIGHUP };

/*
 * The signals the parent handles are blocked, and read from a signalfd
 * that its poll() waits on with the sockets: no handler, so a child's end
 * costs no signal frame, and a child, whose dispositions are the default
 * already (even where they came ignored), need only unblock them.
 */
static void
catch_signals(void)
{
	sigset_t block;

	sigemptyset(&block);
	for (size_t i = 0; i < sizeof caught / sizeof *caught; i++)
		sigaddset(&block, caught[i]);
	sigprocmask(SIG_BLOCK, &block, &old_mask);
	for (size_t i = 0; i < sizeof caught / sizeof *caught; i++)
		signal(caught[i], SIG_DFL);
	if ((signals = signalfd(-1, &block, SFD_NONBLOCK)) == -1) {
		logmsg(LOG_ERR, "signalfd: %s", strerror(errno));
		exit(EXIT_SYSTEM);
	}
}

/*
 * What the signals say: stop, or SIGHUP.  SIGCHLD needs nothing, the loop
 * reaps on every pass.  Each is pending once at most: one read takes all.
 */
static void
heard(void)
{
	struct signalfd_siginfo si[sizeof caught / sizeof *caught];
	ssize_t n = read(signals, si, sizeof si);

	for (ssize_t i = 0; i < n / (ssize_t)sizeof *si; i++)
		if (si[i].ssi_signo == SIGHUP)
			parent.hup_requested = 1;
		else if (si[i].ssi_signo != SIGCHLD)
			parent.stop_requested = 1;
}

static void
close_listening(void)
{
	for (int i = 0; i < nlistening; i++)
		close(listening[i]);
}

/* What a child (a session, the journal forwarder) must not hold. */
static void
close_inherited(void)
{
	close_listening();
	close(signals);
}

/* The child: nothing of the parent's but its client. */
static void
become_session(void)
{
	close_inherited();
	sigprocmask(SIG_SETMASK, &old_mask, NULL);
	/*
	 * A process group of its own: Ctrl-C at the listener's terminal is
	 * for the listener, which drains, not for every session at once.
	 */
	setpgid(0, 0);
	log_leave_listener();		/* the session chooses its own log */
}

/*
 * Children that ended: one whose login failed counts against its source;
 * one killed by a signal is logged, unless killed here.
 */
static void
reap(const struct listener_options *o)
{
	struct source from;
	pid_t pid;
	int status;

	while ((pid = waitpid(-1, &status, WNOHANG)) > 0) {
		if (pid == parent.forwarder) {
			logmsg(LOG_ERR, "journal forwarder ended: sessions "
			    "send to journald themselves");
			log_journal_via(-1);
			parent.forwarder = -1;
			continue;
		}
		if (caps_end(&parent.caps, pid, &from) && WIFEXITED(status) &&
		    WEXITSTATUS(status) == EXIT_LOGIN_FAILED)
			caps_login_failed(&parent.caps, o, &from);
		if (WIFSIGNALED(status) && !parent.draining)
			logmsg(LOG_WARNING, "session %ld ended by signal %d "
			    "(%s)", (long)pid, WTERMSIG(status),
			    strsignal(WTERMSIG(status)));
	}
}

/* Whether the client may have a session; if not, it is turned away. */
static int
admitted(int fd, const struct sockaddr_storage *ss,
    const struct source *from, const struct listener_options *o)
{
	char buf[INET6_ADDRSTRLEN + 96];
	struct text why = TEXT(buf);
	enum verdict v;

	if (caps_check(&parent.caps, o, from, &why) == CAPS_OK)
		return 1;
	reap(o);		/* sessions that ended are not sessions */
	why.len = 0;
	if ((v = caps_check(&parent.caps, o, from, &why)) == CAPS_OK)
		return 1;
	turnaway(&parent.away, fd, ss, v == CAPS_PENALTY ? REFUSED_PENALTY :
	    REFUSED_CAP, buf);
	return 0;
}

/* fork() failed: the client is refused, and the log says why. */
static void
fork_failed(int fd, const struct sockaddr_storage *ss)
{
	char buf[128];
	struct text why = TEXT(buf);

	add(&why, "fork: ");
	add(&why, strerror(errno));
	turnaway(&parent.away, fd, ss, REFUSED_FORK, buf);
}

/*
 * Accept what one listening socket has waiting: 1 in a child (*client is
 * its socket, nonblocking, and *peer its address), 0 in the parent.
 */
static int
accept_some(int lfd, const struct listener_options *o, int *client,
    struct sockaddr_storage *peer)
{
	struct sockaddr_storage ss;
	struct source from;
	socklen_t len;
	pid_t pid;
	int fd;

	for (int i = 0; i < ACCEPTS_PER_WAKE; i++) {
		len = sizeof ss;
		if ((fd = accept4(lfd, (struct sockaddr *)&ss, &len,
		    SOCK_NONBLOCK)) == -1) {
			if (errno == EINTR || errno == ECONNABORTED)
				continue;
			if (errno != EAGAIN && errno != EWOULDBLOCK) {
				/* Out of fds or memory: let children end. */
				logmsg(LOG_ERR, "accept: %s", strerror(errno));
				poll(NULL, 0, 100);
			}
			return 0;
		}
		source_of(&ss, o->prefix6, &from);
		if (!admitted(fd, &ss, &from, o))
			continue;
		if ((pid = fork()) == 0) {
			become_session();
			*client = fd;
			memcpy(peer, &ss, len < sizeof ss ? len : sizeof ss);
			return 1;
		}
		if (pid == -1) {
			fork_failed(fd, &ss);
			continue;
		}
		caps_take(&parent.caps, pid, &from);
		close(fd);
	}
	return 0;
}

/* poll()'s timeout for a wait until the moment wake (ms); -1: none. */
static int
wait_until(long long wake)
{
	long long left;

	if (wake == -1)
		return -1;
	left = wake - now_ms();
	return left < 0 ? 0 : left > INT_MAX ? INT_MAX : (int)left;
}

/* Reap sessions as they end, until none is left or the deadline (ms). */
static void
reap_until(const struct listener_options *o, long long deadline)
{
	while (parent.caps.used > 0 && now_ms() < deadline) {
		if (wait_fd(signals, POLLIN, deadline) == 1)
			heard();
		reap(o);
	}
}

/*
 * SIGTERM or SIGINT: accept no more, give the sessions o->grace seconds to
 * end, stop what is left, exit 0.  Stopped with SIGTERM first: a session
 * whose record waits for its end (in the journal) puts it out, within
 * STOP_MS, then ends; SIGKILL for any still there.
 */
static void
drain(const struct listener_options *o)
{
	struct source from;
	int killed;
	pid_t pid;

	parent.draining = 1;
	close_listening();
	turnaway_end(&parent.away);
	reap(o);
	logmsg(LOG_INFO, "stopping: no new clients; %d sessions have %d s "
	    "to end", parent.caps.used, o->grace);
	reap_until(o, now_ms() + o->grace * 1000LL);
	killed = caps_signal(&parent.caps, SIGTERM);
	reap_until(o, now_ms() + STOP_MS);
	caps_signal(&parent.caps, SIGKILL);
	while (parent.caps.used > 0 && (pid = waitpid(-1, NULL, 0)) > 0)
		caps_end(&parent.caps, pid, &from);
	if (parent.forwarder != -1)
		journal_fwd_stop(parent.forwarder);
	if (killed > 0)
		logmsg(LOG_WARNING, "stopped: killed %d sessions still "
		    "running after %d s", killed, o->grace);
	else
		logmsg(LOG_INFO, "stopped: every session ended");
	exit(0);
}

/* "a 60 s penalty for 10 failed logins within 60 s". */
static const char *
penalty_text(const struct listener_options *o, char *buf, size_t size)
{
	struct text t = { buf, 0, size };

	if (o->fails == 0) {
		add(&t, "no penalty for failed logins");
		return buf;
	}
	add(&t, "a ");
	add_num(&t, (unsigned)o->ban_secs, 1);
	add(&t, " s penalty for ");
	add_num(&t, (unsigned)o->fails, 1);
	add(&t, " failed logins within ");
	add_num(&t, (unsigned)o->fail_secs, 1);
	add(&t, " s");
	return buf;
}

/* SIGHUP, which would end a daemon that did not catch it. */
static void
hangup(void)
{
	parent.hup_requested = 0;
	logmsg(LOG_INFO, "SIGHUP: nothing to reload: every session reads "
	    "socks.conf and the users file afresh");
}

static void
announce(const struct listener_options *o)
{
	char addrs[LISTENER_ADDRS_MAX * (INET6_ADDRSTRLEN + 10)], pen[80];
	struct text t = TEXT(addrs);
	socklen_t len;

	for (int i = 0; i < nlistening; i++) {
		len = sizeof bound[i];
		if (getsockname(listening[i], (struct sockaddr *)&bound[nbound],
		    &len) == -1)
			continue;
		if (nbound > 0)
			add(&t, " ");
		add_addr_port(&t, &bound[nbound]);
		nbound++;
	}
	logmsg(LOG_INFO, "listening on %s; at most %d sessions, %d from one "
	    "source (IPv6: a /%d); %s%s%s", addrs, o->max_total,
	    o->max_per_source, o->prefix6, penalty_text(o, pen, sizeof pen),
	    o->users != NULL ? "; " : "", o->users != NULL ? o->users : "");
}

/* -l [ADDR:]PORT, checked now: it is bound only once options are read. */
static int
listen_option(struct listener_options *o, const char *arg, struct text *why)
{
	struct sockaddr_storage ss;
	int v6only;

	if (parse_listen(arg, &ss, &v6only) == -1) {
		add(why, "is not [ADDR:]PORT (127.0.0.1:1080, [::1]:1080, "
		    "1080)");
		return -1;
	}
	if (o->nlisten == LISTENER_ADDRS_MAX) {
		add(why, "is one address too many (at most "
		    XSTR(LISTENER_ADDRS_MAX) ")");
		return -1;
	}
	o->listen[o->nlisten++] = arg;
	return 0;
}

int
listener_option(struct listener_options *o, int opt, const char *arg,
    struct text *why)
{
	long max = opt == 'g' ? CAPS_SECS_MAX : opt == 'S' ? 128 :
	    CAPS_SLOTS_MAX, v;
	int min = opt == 'g' ? 0 : 1;

	if (opt == 'l')
		return listen_option(o, arg, why);
	if (opt == 'f')
		return caps_penalty_option(o, arg, why);
	if ((v = number_in(arg, min, max, why)) == -1)
		return -1;
	*(opt == 'm' ? &o->max_total : opt == 's' ? &o->max_per_source :
	    opt == 'S' ? &o->prefix6 : &o->grace) = (int)v;
	return 0;
}

int
listener_run(const struct listener_options *o, void (*drop_privileges)(void),
    struct sockaddr_storage *peer)
{
	int client = -1;

	log_choose_listener(o->log_to_syslog);
	take_inherited(o);
	for (int i = 0; i < o->nlisten; i++)
		open_listening(o->listen[i]);
	if (nlistening == 0)
		return -1;
	/* Should it fail, children merely share these pages copy-on-write. */
	madvise(&parent, (sizeof parent + 4095) / 4096 * 4096, MADV_DONTFORK);
	for (int i = 0; i < nlistening; i++)
		parent.ready[i] = (struct pollfd){ .fd = listening[i],
						   .events = POLLIN };
	announce(o);
	catch_signals();
	drop_privileges();
	parent.forwarder = log_is_journal() ?
	    journal_fwd_start(close_inherited) : -1;
	for (;;) {
		int n = nlistening + turnaway_pollfds(&parent.away,
		    parent.ready + nlistening);

		parent.ready[n] = (struct pollfd){ .fd = signals,
						   .events = POLLIN };
		poll(parent.ready, (nfds_t)n + 1,
		    wait_until(turnaway_wake(&parent.away)));
		if (parent.ready[n].revents & POLLIN)
			heard();
		if (parent.stop_requested)
			drain(o);
		if (parent.hup_requested)
			hangup();
		/* Every time: a session that ended frees its slot at once. */
		reap(o);
		turnaway_serve(&parent.away, parent.ready + nlistening);
		for (int i = 0; i < nlistening; i++)
			if ((parent.ready[i].revents & POLLIN) &&
			    accept_some(listening[i], o, &client, peer) == 1)
				return client;
	}
}

int
listener_addresses(const struct sockaddr_storage **out)
{
	*out = bound;
	return nbound;
}
