/*
 * turnaway.c - clients the listener will not serve (over a cap, under a
 * penalty, or when fork() fails).  A reset tells a client nothing, so each
 * is refused in its protocol: a SOCKS4 client (first byte 4) gets reply
 * 91, a SOCKS5 one (5) "no acceptable method" (05 ff), an HTTP CONNECT
 * (C) 503, anything else nothing.  Then the write side is shut and what
 * the client sends is read until it closes: closed with bytes unread, the
 * socket would be reset.
 * All of it without blocking: what a client has sent when it is accepted
 * is answered at once, the rest from the listener's poll(), TURNAWAY_MS
 * for each step.  Of TURNAWAY_MAX clients at once, one only being read
 * until it closes gives its place to a new one; with none such, the new
 * one is closed cleanly with no reply.
 * SPDX-License-Identifier: ISC
 */
#define _GNU_SOURCE
#include <sys/socket.h>
#include <netinet/in.h>
#include <errno.h>
#include <syslog.h>
#include <unistd.h>

#include "addr.h"
#include "clock.h"
#include "http_connect.h"
#include "log.h"
#include "text.h"
#include "turnaway.h"

#define DRAIN_MAX	65536	/* bytes read from a client at a time */

static const char *const kinds[REFUSALS] = {
	[REFUSED_CAP] = "over a cap",
	[REFUSED_PENALTY] = "under a penalty",
	[REFUSED_FORK] = "fork failed",
};

/*
 * Read what is there, DRAIN_MAX at most (a client sending without pause
 * must not hold the listener): 1 once the client has closed, or failed.
 */
static int
drained(int fd)
{
	char buf[4096];
	ssize_t n = 1;

	for (int i = 0; i < DRAIN_MAX / (int)sizeof buf && n > 0; i++)
		n = read(fd, buf, sizeof buf);
	return n == 0 || (n == -1 && errno != EAGAIN &&
	    errno != EWOULDBLOCK && errno != EINTR);
}

static void
close_cleanly(int fd)
{
	shutdown(fd, SHUT_WR);
	drained(fd);
	close(fd);
}

/* The refusal a client's first byte asks for. */
static void
answer(int fd, unsigned char first)
{
	static const unsigned char socks4[8] = { 0, 91 }, socks5[2] = {
		5, 0xff };
	uint8_t http[HTTP_RESPONSE_MAX];

	if (first == 4)
		send(fd, socks4, sizeof socks4, MSG_NOSIGNAL);
	else if (first == 5)
		send(fd, socks5, sizeof socks5, MSG_NOSIGNAL);
	else if (first == 'C')	/* CONNECT; not a balancer's "PROXY " */
		send(fd, http, http_response(http, sizeof http, 503,
		    "socks4d: too busy, try again later"), MSG_NOSIGNAL);
	shutdown(fd, SHUT_WR);
}

/* The first refusal of a kind in a second is logged; the rest counted. */
static void
note(struct hush *h, const struct sockaddr_storage *ss, const char *why)
{
	char who[INET6_ADDRSTRLEN + 8];
	struct text t = TEXT(who);
	long long now = now_ms();

	if (h->logged != 0 && now - h->logged < 1000) {
		h->held++;
		return;
	}
	add_addr_port(&t, ss);
	logmsg(LOG_WARNING, "refused a client from %s: %s", who, why);
	h->logged = now;
}

/* The counts held back, each once its second is over. */
static void
flush(struct turnaway *t, long long now)
{
	for (int k = 0; k < REFUSALS; k++) {
		struct hush *h = &t->hush[k];

		if (h->held == 0 || now - h->logged < 1000)
			continue;
		logmsg(LOG_WARNING, "%s: %lu more clients refused", kinds[k],
		    h->held);
		h->held = 0;
		h->logged = now;
	}
}

/* One client: its first bytes answered, or its close seen; 1 when done. */
static int
serve_one(struct away *a, int readable, long long now)
{
	char first;
	ssize_t n;

	if (readable && !a->replied) {
		if ((n = read(a->fd, &first, 1)) <= 0)
			return n == 0 || (errno != EAGAIN && errno != EINTR);
		answer(a->fd, (unsigned char)first);
		a->replied = 1;
		a->deadline = now + TURNAWAY_MS;
	}
	if (readable && drained(a->fd))
		return 1;
	return now >= a->deadline;
}

/* A place for one more client, or -1. */
static int
free_place(struct turnaway *t)
{
	if (t->n < TURNAWAY_MAX)
		return t->n++;
	for (int i = 0; i < t->n; i++)
		if (t->away[i].replied) {
			close_cleanly(t->away[i].fd);
			return i;
		}
	return -1;
}

void
turnaway(struct turnaway *t, int fd, const struct sockaddr_storage *ss,
    enum refusal kind, const char *why)
{
	long long now = now_ms();
	struct away a = { .fd = fd, .deadline = now + TURNAWAY_MS };
	int i;

	note(&t->hush[kind], ss, why);
	if (serve_one(&a, 1, now) || (i = free_place(t)) == -1)
		close_cleanly(fd);
	else
		t->away[i] = a;
}

int
turnaway_pollfds(const struct turnaway *t, struct pollfd *out)
{
	for (int i = 0; i < t->n; i++)
		out[i] = (struct pollfd){ .fd = t->away[i].fd,
		    .events = POLLIN };
	return t->n;
}

void
turnaway_serve(struct turnaway *t, const struct pollfd *polled)
{
	long long now;

	if (turnaway_wake(t) == -1)	/* no client, no count held */
		return;
	now = now_ms();

	/* From the end: the last client takes the place of one done with. */
	for (int i = t->n - 1; i >= 0; i--)
		if (serve_one(&t->away[i], polled[i].revents != 0, now)) {
			close_cleanly(t->away[i].fd);
			t->away[i] = t->away[--t->n];
		}
	flush(t, now);
}

static long long
earliest(long long a, long long b)
{
	return a == -1 || b < a ? b : a;
}

long long
turnaway_wake(const struct turnaway *t)
{
	long long wake = -1;

	for (int i = 0; i < t->n; i++)
		wake = earliest(wake, t->away[i].deadline);
	for (int k = 0; k < REFUSALS; k++)
		if (t->hush[k].held != 0)
			wake = earliest(wake, t->hush[k].logged + 1000);
	return wake;
}

void
turnaway_end(struct turnaway *t)
{
	while (t->n > 0)
		close_cleanly(t->away[--t->n].fd);
	flush(t, now_ms() + 1000);
}
