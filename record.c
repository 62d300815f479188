/*
 * record.c - a session's record: the request's facts and the first bytes
 * relayed, logged once (log.c writes it); and a relay's end line.  In the
 * journal a relayed session's record is held for up to RECORD_HOLD_MS
 * after its first bytes, so that a session that ends by then is one entry
 * with its end line, not two: journald stores (and works on) half as many.
 * That hold lives here and only here.  A stop signal does not lose a held
 * record: a granted session reads those signals (signals.c) and ends by
 * finish(), which writes it.
 * SPDX-License-Identifier: ISC
 */
#define _GNU_SOURCE
#include <netinet/in.h>
#include <string.h>

#include "addr.h"
#include "clock.h"
#include "log.h"
#include "session.h"
#include "socks.h"
#include "text.h"

#define RECORD_HOLD_MS	1000	/* in the journal, a record waits for its end */

/*
 * The request's destination as the record names it, into s->named (not a
 * stack frame: the record's path is the deepest a session takes): where
 * CONNECT went (the address tried, a name resolved), else what the
 * request said.
 */
static void
name_destination(struct session *s)
{
	struct sockaddr_in *sin = (struct sockaddr_in *)&s->named;

	if (s->req.cmd == SOCKS_CONNECT && s->dst.ss_family != 0) {
		s->named = s->dst;
		return;
	}
	if (s->req.version != SOCKS4_VERSION && s->req.addr.ss_family != 0) {
		s->named = s->req.addr;
	} else {
		memset(&s->named, 0, sizeof s->named);
		sin->sin_family = AF_INET;
		memcpy(&sin->sin_addr, s->req.ip4, 4);
	}
	set_port(&s->named, s->req.port);
}

/* The session's facts as log.c takes them. */
static void
describe(struct session *s, struct record *r)
{
	int granted = s->phase >= PHASE_GRANTED;

	name_destination(s);
	*r = (struct record){
		.src = &s->src, .dst = s->req.cmd != 0 ? &s->named : NULL,
		.via = s->via.ss_family != 0 ? &s->via : NULL,
		.name = s->req.host, .user = s->req.user,
		.version = s->req.version, .login = s->login,
		.command = s->req.cmd, .granted = granted,
		.reason = granted ? NULL : s->reason,
		.bound_port = s->bound_port,
		.peer = s->peer.ss_family != 0 ? &s->peer : NULL,
		.content = s->excerpt, .content_len = s->excerpt_len,
		.sent = s->sent, .received = s->received,
	};
}

/* The request's record, now. */
void
record_now(struct session *s)
{
	struct record r;

	describe(s, &r);
	log_record(&r);
	if (s->phase >= PHASE_GRANTED)
		s->phase = PHASE_RECORDED;
}

/*
 * Keep a granted session's first relayed bytes for <Content>, and log the
 * record then: at once, or, where the caller can wait (may_hold: relay()
 * polls with record_wait_ms()) and the log is the journal, when the hold
 * is up.  Early data (a write that may block) and a UDP association's
 * first datagram (its loop has no deadline for it) log it at once.  The
 * bytes always pass through a copy buffer: a direction splices only once
 * it has filled one.
 */
void
record_first_bytes(struct session *s, const uint8_t *p, size_t n,
    int may_hold)
{
	if (s->phase != PHASE_GRANTED)
		return;
	if (!s->opt->no_content) {
		s->excerpt_len = n < sizeof s->excerpt ? n : sizeof s->excerpt;
		memcpy(s->excerpt, p, s->excerpt_len);
	}
	if (may_hold && log_holds_record()) {
		s->record_due = now_ms() + RECORD_HOLD_MS;
		s->phase = PHASE_HELD;
	} else
		record_now(s);
}

/* How long relay() may poll: forever (-1), or until a held record is due. */
int
record_wait_ms(const struct session *s)
{
	long long left;

	if (s->phase != PHASE_HELD)
		return -1;
	left = s->record_due - now_ms();
	return left > 0 ? (int)left : 0;
}

/*
 * After relay()'s poll: a held record that is due goes out, even if every
 * wake-up is busy.
 */
void
record_if_due(struct session *s, int timed_out)
{
	if (s->phase == PHASE_HELD && (timed_out || now_ms() >= s->record_due))
		record_now(s);
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
	case END_STOPPED: add(&t, "stopped by a signal"); break;
	case END_REVOKED: add(&t, "revoked: "); add(&t, s->reason); break;
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
 * A granted session's end line, after its record if that is not out yet:
 * in the journal both as one entry.
 */
void
record_end(struct session *s, enum end end)
{
	struct record r;
	char buf[256];
	const char *why = end_text(s, end, buf, sizeof buf);
	unsigned long long ms = (unsigned long long)(now_ms() -
	    ms_of(&s->start));

	if (s->phase != PHASE_RECORDED && log_holds_record()) {
		describe(s, &r);
		log_record_end(&r, why, ms);
		return;
	}
	if (s->phase != PHASE_RECORDED)
		record_now(s);
	describe(s, &r);
	log_end(&r, why, ms);
}
