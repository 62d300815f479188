/*
 * resolve.c - names to addresses, by a deadline; and the guard that keeps
 * a client from making socks4d connect to itself.
 *
 * getaddrinfo() has no deadline of its own.  It runs in a thread of its
 * own while the session waits on a pipe by the deadline: past it, the
 * session goes on without the answer (and soon ends), and the thread is
 * left to die with the process.  Nothing runs in a signal handler.
 * SPDX-License-Identifier: ISC
 */
#define _GNU_SOURCE
#include <sys/types.h>
#include <sys/socket.h>
#include <netinet/in.h>
#include <errno.h>
#include <fcntl.h>
#include <ifaddrs.h>
#include <netdb.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <string.h>
#include <unistd.h>

#include "clock.h"
#include "addr.h"
#include "listener.h"
#include "session.h"
#include "socks.h"
#include "text.h"

/*
 * What a name resolves to, IPv4 and IPv6 in the resolver's order, each
 * with port: how many addresses (0: none).
 */
int
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
 * One lookup in its thread.  Static, not on a stack: a thread still
 * running past its deadline writes here, never into a frame that is gone.
 */
static struct {
	char			 name[FIELD_MAX + 1];
	uint16_t		 port;
	struct sockaddr_storage	 addrs[ADDRS_MAX];
	int			 max, n;
	int			 done[2];	/* a byte when it is done */
} job = { .done = { -1, -1 } };

static void *
lookup_thread(void *unused)
{
	(void)unused;
	job.n = lookup(job.name, job.port, job.addrs, job.max);
	while (write(job.done[1], "", 1) == -1 && errno == EINTR)
		;
	return NULL;
}

/* Start the lookup in a thread that takes no signals: 0, or -1. */
static int
start_lookup(void)
{
	pthread_attr_t attr;
	pthread_t tid;
	sigset_t all, old;
	int err;

	if (job.done[0] == -1 && pipe2(job.done, O_CLOEXEC) == -1)
		return -1;
	pthread_attr_init(&attr);
	pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	err = pthread_create(&tid, &attr, lookup_thread, NULL);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	pthread_attr_destroy(&attr);
	return err == 0 ? 0 : -1;
}

/*
 * lookup() by an absolute deadline: how many addresses (0: none), or -1
 * with errno ETIMEDOUT when the deadline passed first.  A lookup that
 * timed out may still be running: the caller must end the session.
 */
int
lookup_within(const char *name, uint16_t port, struct sockaddr_storage *out,
    int max, long long deadline)
{
	char byte;

	if (max > ADDRS_MAX)
		max = ADDRS_MAX;
	memcpy(job.name, name, strnlen(name, FIELD_MAX));
	job.name[strnlen(name, FIELD_MAX)] = '\0';
	job.port = port;
	job.max = max;
	if (start_lookup() == -1)
		return lookup(name, port, out, max);	/* no deadline then */
	if (wait_fd(job.done[0], POLLIN, deadline) != 1) {
		errno = ETIMEDOUT;
		return -1;
	}
	while (read(job.done[0], &byte, 1) == -1 && errno == EINTR)
		;
	memcpy(out, job.addrs, (size_t)job.n * sizeof *out);
	return job.n;
}

/*
 * The request's destination as socket addresses (at most ADDRS_MAX): its
 * address, or what its name resolves to by the deadline.  Rejects a name
 * that resolves to none, or not in time.
 */
int
resolve(struct session *s, struct sockaddr_storage *out, long long deadline)
{
	int n;

	if (s->req.host[0] == '\0') {
		out[0] = s->req.addr;
		return 1;
	}
	n = lookup_within(s->req.host, s->req.port, out, ADDRS_MAX, deadline);
	if (n == -1)
		reject(s, SOCKS5_HOST_UNREACHABLE, "name lookup took too long",
		    NULL);
	if (n == 0)
		reject(s, SOCKS5_HOST_UNREACHABLE, "cannot resolve ",
		    s->req.host);
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
is_served_here(const struct sockaddr_storage *dst,
    const struct sockaddr_storage *serving)
{
	return serving->ss_family != 0 && port_of(dst) == port_of(serving) &&
	    (same_host(dst, serving) || is_own_address(dst));
}

int
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
