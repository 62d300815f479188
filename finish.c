/*
 * finish.c - the one way a session ends.  reject() turns the request down
 * where the reason is known, with the reply code that goes with it;
 * abandon() gives up on a client there is no reply for; both, and the end
 * of a relay, go through finish(): the record if it is not out yet, the
 * end line of a relay, and the exit status.
 * SPDX-License-Identifier: ISC
 */
#define _GNU_SOURCE
#include <errno.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include "clock.h"
#include "exits.h"
#include "session.h"
#include "socks.h"
#include "text.h"

#define DRAIN_MS	1000	/* how long a turned-down client is read */

static void
set_reason(struct session *s, const char *why, const char *more)
{
	struct text t = TEXT(s->reason);

	add(&t, why);
	if (more != NULL)
		add(&t, more);
}

/*
 * Turn the request down: why followed by more (NULL: nothing more) is the
 * record's reason (why NULL: s->reason has it already), rep the SOCKS5
 * reply code that goes with it (reply.c maps it for other protocols).
 */
void
reject(struct session *s, int rep, const char *why, const char *more)
{
	if (why != NULL)
		set_reason(s, why, more);
	reply_refusal(s, rep);
	finish(s, END_REJECTED);
}

/* A login that failed by the client's fault: its own exit status. */
void
reject_login(struct session *s, const char *why, const char *more)
{
	set_reason(s, why, more);
	reply_refusal(s, SOCKS5_NOT_ALLOWED);
	finish(s, END_LOGIN_FAILED);
}

/* Give up on a client that cannot take a reply: not SOCKS, or gone. */
void
abandon(struct session *s, const char *why, const char *more)
{
	set_reason(s, why, more);
	finish(s, END_ABANDONED);
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
 * The one way a session ends: a granted one with its end line (and its
 * record, if that is not out yet); one turned down with its record, after
 * a drain of what the client still sends; a balancer's health check with
 * the drain alone, and as a success.  A failed login from behind a
 * balancer exits as any refusal: the listener would count it against
 * the balancer, and a penalty would shut out all its clients.
 */
void
finish(struct session *s, enum end end)
{
	if (s->phase >= PHASE_GRANTED) {
		record_end(s, end);
	} else {
		if (end != END_HEALTH_CHECK)
			record_now(s);
		close_gracefully(s);
	}
	_exit(end == END_CLOSED || end == END_HEALTH_CHECK ? EXIT_RELAYED :
	    end == END_LOGIN_FAILED && s->via.ss_family == AF_UNSPEC ?
	    EXIT_LOGIN_FAILED : EXIT_REJECTED);
}
