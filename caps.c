/*
 * caps.c - the listener's books: the sessions each source has, and the
 * penalties of sources whose SOCKS5 logins fail.
 *
 * A source is an IPv4 address (an IPv4-mapped client is its IPv4
 * address), or the first -S bits (64) of an IPv6 one: a host given a /64
 * has 2^64 addresses to come from, and counted by address it would hold
 * every slot.  A source that fails -f COUNT logins within SECS seconds is
 * refused for BAN seconds; the table of failing sources is fixed, and a
 * new one takes the place of the one that matters for the shortest time.
 * SPDX-License-Identifier: ISC
 */
#define _GNU_SOURCE
#include <sys/syscall.h>
#include <netinet/in.h>
#include <arpa/inet.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <syslog.h>
#include <time.h>
#include <unistd.h>

#include "addr.h"
#include "caps.h"
#include "clock.h"
#include "log.h"
#include "number.h"

static const uint8_t v4mapped[12] = { [10] = 0xff, [11] = 0xff };

void
source_of(const struct sockaddr_storage *ss, int prefix6, struct source *s)
{
	int family;
	const uint8_t *a = addr_bytes(ss, &family);

	memset(s, 0, sizeof *s);
	if (a == NULL)
		return;
	if (family == AF_INET) {
		memcpy(s->key, v4mapped, sizeof v4mapped);
		memcpy(s->key + 12, a, 4);
		return;
	}
	memcpy(s->key, a, (size_t)prefix6 / 8);
	if (prefix6 % 8 != 0)
		s->key[prefix6 / 8] = a[prefix6 / 8] &
		    (uint8_t)(0xff00 >> prefix6 % 8);
}

/* "127.0.0.1", "2001:db8::/64". */
void
add_source(struct text *t, const struct source *s, int prefix6)
{
	char buf[INET6_ADDRSTRLEN];

	if (memcmp(s->key, v4mapped, sizeof v4mapped) == 0) {
		add_ipv4(t, s->key + 12);
		return;
	}
	add(t, inet_ntop(AF_INET6, s->key, buf, sizeof buf) ? buf : "?");
	if (prefix6 < 128) {
		add(t, "/");
		add_num(t, (unsigned)prefix6, 1);
	}
}

/* The wall clock by system call: see clock.h for why not by the vDSO. */
static time_t
wall_clock(void)
{
	struct timespec ts = { 0, 0 };

#ifdef SYS_clock_gettime
	if (syscall(SYS_clock_gettime, CLOCK_REALTIME, &ts) == 0)
		return ts.tv_sec;
#endif
	clock_gettime(CLOCK_REALTIME, &ts);
	return ts.tv_sec;
}

/* A moment of the monotonic clock (ms) as local time, to the second. */
static void
add_clock(struct text *t, long long ms)
{
	time_t when = wall_clock() + (time_t)((ms - now_ms() + 999) / 1000);
	char buf[32];
	struct tm tm;

	if (localtime_r(&when, &tm) != NULL &&
	    strftime(buf, sizeof buf, "%Y-%m-%d %H:%M:%S", &tm) > 0)
		add(t, buf);
}

static int
sessions_from(const struct caps *c, const struct source *from)
{
	int n = 0;

	for (int i = 0; i < c->used; i++)
		if (memcmp(&c->slot[i].from, from, sizeof *from) == 0)
			n++;
	return n;
}

/*
 * The failing source's entry, or NULL.  An entry is in use once it has
 * failed: last is a monotonic time, never 0 after boot.
 */
static struct failing *
failing_of(const struct caps *c, const struct source *from)
{
	for (int i = 0; i < CAPS_FAILING; i++)
		if (c->failing[i].last != 0 && memcmp(&c->failing[i].from,
		    from, sizeof *from) == 0)
			return (struct failing *)&c->failing[i];
	return NULL;
}

/* "3 sessions in all, limit 3", "4 sessions from 2001:db8::/64, limit 4". */
static void
add_cap(struct text *why, int n, const struct source *from, int prefix6,
    int max)
{
	add_num(why, (unsigned)n, 1);
	add(why, " sessions ");
	if (from == NULL)
		add(why, "in all");
	else {
		add(why, "from ");
		add_source(why, from, prefix6);
	}
	add(why, ", limit ");
	add_num(why, (unsigned)max, 1);
}

enum verdict
caps_check(const struct caps *c, const struct listener_options *o,
    const struct source *from, struct text *why)
{
	const struct failing *f = o->fails ? failing_of(c, from) : NULL;
	int n;

	if (f != NULL && f->until > now_ms()) {
		add_source(why, from, o->prefix6);
		add(why, " has a penalty until ");
		add_clock(why, f->until);
		return CAPS_PENALTY;
	}
	if (c->used >= o->max_total) {
		add_cap(why, c->used, NULL, 0, o->max_total);
		return CAPS_TOTAL;
	}
	if ((n = sessions_from(c, from)) >= o->max_per_source) {
		add_cap(why, n, from, o->prefix6, o->max_per_source);
		return CAPS_SOURCE;
	}
	return CAPS_OK;
}

/* Below the limit -m: caps_check() said so. */
void
caps_take(struct caps *c, pid_t pid, const struct source *from)
{
	c->slot[c->used].pid = pid;
	c->slot[c->used].from = *from;
	c->used++;
}

/* The session pid ended: 1, and its source in *from; 0 if not a session. */
int
caps_end(struct caps *c, pid_t pid, struct source *from)
{
	for (int i = 0; i < c->used; i++)
		if (c->slot[i].pid == pid) {
			*from = c->slot[i].from;
			c->slot[i] = c->slot[--c->used];
			return 1;
		}
	return 0;
}

/* sig to every session: how many were there to get it. */
int
caps_signal(const struct caps *c, int sig)
{
	int n = 0;

	for (int i = 0; i < c->used; i++)
		if (kill(c->slot[i].pid, sig) == 0)
			n++;
	return n;
}

/* Until when a failing source's entry is worth keeping (ms). */
static long long
matters_until(const struct failing *f, const struct listener_options *o)
{
	long long end = f->last + o->fail_secs * 1000LL;

	return f->until > end ? f->until : end;
}

/*
 * Whether entry e is a better one to clear than f: a source under penalty
 * goes last (else a guesser failing from 256 other sources, other /64s of
 * one /48, would clear its own ban), then the one that would matter for
 * the shortest time.
 */
static int
clears_before(const struct failing *e, const struct failing *f,
    const struct listener_options *o, long long now)
{
	int e_banned = e->until > now, f_banned = f->until > now;

	if (e_banned != f_banned)
		return f_banned;
	return matters_until(e, o) < matters_until(f, o);
}

/*
 * The entry of a source that failed: its own, or a free one, or else the
 * one clears_before() picks, cleared.
 */
static struct failing *
failing_entry(struct caps *c, const struct listener_options *o,
    const struct source *from, long long now)
{
	struct failing *f = failing_of(c, from), *e;

	if (f != NULL)
		return f;
	f = &c->failing[0];
	for (int i = 0; i < CAPS_FAILING; i++) {
		e = &c->failing[i];
		if (e->last == 0) {
			f = e;
			break;
		}
		if (clears_before(e, f, o, now))
			f = e;
	}
	memset(f, 0, sizeof *f);
	f->from = *from;
	return f;
}

/*
 * The ring holds the times of the source's last COUNT fails; when it is
 * full and the oldest is within SECS, the penalty begins, and the count
 * starts again.
 */
void
caps_login_failed(struct caps *c, const struct listener_options *o,
    const struct source *from)
{
	char who[INET6_ADDRSTRLEN + 8], until[32];
	struct text t = TEXT(who), u = TEXT(until);
	long long now = now_ms();
	struct failing *f;

	if (o->fails == 0)
		return;
	f = failing_entry(c, o, from, now);
	f->last = now;
	f->at[f->next] = now;
	f->next = (f->next + 1) % o->fails;
	if (f->n < o->fails)
		f->n++;
	if (f->n < o->fails || now - f->at[f->next] >= o->fail_secs * 1000LL ||
	    f->until > now)
		return;
	f->until = now + o->ban_secs * 1000LL;
	f->n = f->next = 0;
	add_source(&t, from, o->prefix6);
	add_clock(&u, f->until);
	logmsg(LOG_WARNING, "penalty: %s failed %d logins within %d s: its "
	    "clients are refused until %s", who, o->fails, o->fail_secs,
	    until);
}

/* A field of -f: digits only, in [min, max]; -2 if not digits. */
static long
penalty_field(const char *s, size_t len, long min, long max)
{
	char buf[8];
	long v;

	if (len == 0 || len >= sizeof buf || strspn(s, "0123456789") < len)
		return -2;
	memcpy(buf, s, len);
	buf[len] = '\0';
	v = number(buf, max);
	return v >= min ? v : -1;
}

int
caps_penalty_option(struct listener_options *o, const char *arg,
    struct text *why)
{
	const char *secs = strchr(arg, '/'), *ban;
	long v[3];

	if (strcmp(arg, "0") == 0) {
		o->fails = 0;
		return 0;
	}
	if (secs == NULL || (ban = strchr(secs + 1, '/')) == NULL ||
	    (v[0] = penalty_field(arg, (size_t)(secs - arg), 1,
	    CAPS_FAILS_MAX)) == -2 ||
	    (v[1] = penalty_field(secs + 1, (size_t)(ban - secs - 1), 1,
	    CAPS_SECS_MAX)) == -2 ||
	    (v[2] = penalty_field(ban + 1, strlen(ban + 1), 1,
	    CAPS_SECS_MAX)) == -2) {
		add(why, "is not COUNT/SECS/BAN (10/60/60), or 0 for no "
		    "penalties");
		return -1;
	}
	if (v[0] == -1 || v[1] == -1 || v[2] == -1) {
		add(why, "is out of range: COUNT 1.." XSTR(CAPS_FAILS_MAX)
		    ", SECS and BAN 1.." XSTR(CAPS_SECS_MAX));
		return -1;
	}
	o->fails = (int)v[0];
	o->fail_secs = (int)v[1];
	o->ban_secs = (int)v[2];
	return 0;
}
