/*
 * relay.c - a TCP relay: both directions until both are done, half-closes
 * passed on once everything before them is written.  Each direction
 * copies through a buffer until it proves bulky, then splices through a
 * pipe, and its bytes never enter user space.
 * SPDX-License-Identifier: ISC
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include "session.h"

#define COPY_BUF	HEAD_MAX /* a direction copies until it fills this;
				    the client's copies through head[] */
#define PIPE_SIZE	(1 << 20) /* then it splices through this pipe */
#define PIPE_MIN	65536	/* a smaller pipe is not worth it */
#define ROUNDS		8	/* moves per direction per poll() wake-up */

#ifndef __linux__
#define splice(a, b, c, d, e, f) (errno = EINVAL, -1)
#endif

/* One direction of the relay. */
struct flow {
	int		 from, to;
	int		 pipe[2];		/* splice(2) staging, or -1 */
	char		*buf;			/* copy staging until then */
	size_t		 off, pending;
	int		 eof, done, copy_only;
	int		 filled;		/* a read filled buf */
	unsigned long long *count;
};

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
 * bytes with splice(2) through a pipe.  Pipes only for bulky directions
 * keep idle sessions small, and leave the pipe memory a user may hold
 * (pipe-user-pages-soft) to those that use it.
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

/* Write what is staged: 0 when all is out or the sink is full, -1. */
static int
flow_write(struct flow *f)
{
	ssize_t w;

	while (f->pending > 0) {
		w = f->pipe[0] != -1 ?
		    splice(f->pipe[0], NULL, f->to, NULL, f->pending,
		    SPLICE_F_MOVE | SPLICE_F_NONBLOCK) :
		    write(f->to, f->buf + f->off, f->pending);
		if (w == -1 && (errno == EAGAIN || errno == EINTR))
			return 0;
		if (w <= 0)
			return -1;
		f->pending -= (size_t)w;
		f->off += (size_t)w;
		*f->count += (size_t)w;
	}
	return 0;
}

/*
 * Move what one direction can move now, a few rounds at most: 0, or on an
 * error, with errno, -1 if reading its source failed and -2 if writing
 * its sink did.
 */
static int
flow_step(struct session *s, struct flow *f)
{
	ssize_t n;

	for (int round = 0; round < ROUNDS && !f->done; round++) {
		if (f->pending == 0 && !f->eof) {
			n = flow_read(s, f);
			if (n == -1 && errno == EINVAL && f->pipe[1] != -1) {
				flow_copy_only(f);
				continue;
			}
			if (n == -1)
				return errno == EAGAIN || errno == EINTR ?
				    0 : -1;
			f->eof = n == 0;
			f->filled |= n == COPY_BUF && f->pipe[0] == -1;
			f->pending = (size_t)n;
			f->off = 0;
		}
		if (flow_write(f) == -1)
			return -2;
		if (f->pending > 0)
			return 0;
		if (f->eof) {
			/* The half-close, once everything before it is out. */
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
	n = write_within(remote, p, left, s->opt->connect_timeout);
	s->received += n;
	return n == left ? 0 : -1;
}

/*
 * Relay until both directions have ended, or either side fails, or the
 * session hears it should end.  Each direction is polled only where it
 * can make progress: its source when its staging is empty, its sink when
 * it is not.
 */
enum end
relay(struct session *s, int remote)
{
	static char to_client[COPY_BUF];
	/* The request's buffer, early data sent, carries the client's next. */
	struct flow f[2] = {
		{ .from = s->in, .to = remote, .pipe = { -1, -1 },
		  .buf = (char *)s->head, .count = &s->received },
		{ .from = remote, .to = s->out, .pipe = { -1, -1 },
		  .buf = to_client, .count = &s->sent },
	};
	struct pollfd p[3] = { [2] = { .fd = signals_open(tick_ms(s)),
				       .events = POLLIN } };
	int i, n, failed, quiet = 0;
	enum end end;

	if (send_early_data(s, remote) == -1) {
		s->end_errno = errno;
		return END_DEST_FAILED;
	}
	while (!f[0].done || !f[1].done) {
		for (i = 0; i < 2; i++) {
			p[i].fd = f[i].done ? -1 :
			    f[i].pending ? f[i].to : f[i].from;
			p[i].events = f[i].pending ? POLLOUT : POLLIN;
		}
		n = poll(p, 3, record_wait_ms(s));
		record_if_due(s, n == 0);
		if (n == -1 && errno != EINTR)
			return END_POLL_FAILED;
		if (n > 0 && p[2].revents &&
		    heard_ends(s, p[2].fd, &quiet, &end))
			return end;
		for (i = 0; i < 2 && n > 0; i++) {
			if (p[i].revents == 0)
				continue;
			quiet = -1;	/* this tick's interval was not quiet */
			if ((failed = flow_step(s, &f[i])) == 0)
				continue;
			s->end_errno = errno;
			return (failed == -1 ? f[i].from : f[i].to) ==
			    remote ? END_DEST_FAILED : END_CLIENT_FAILED;
		}
	}
	return END_CLOSED;
}
