/*
 * journal_fwd.c - the listener's journal forwarder.
 *
 * journald learns who sent an entry from /proc, the first time it sees a
 * PID: its unit, command line, user.  Every listener session is a new PID,
 * so entries sent by the sessions themselves cost journald about 80 µs a
 * session, and those of a session that had ended before journald looked
 * had no unit (`journalctl -u` missed three records in four at 4,000
 * sessions/s).  Under systemd the listener therefore forks one forwarder:
 * the sessions send their entries to it over a socket pair, and it passes
 * them on to journald as one long-lived sender of the unit, adding each
 * session's PID as SYSLOG_PID= (from the kernel's credentials, not from
 * what the session wrote).  A session waits half a second at most for the
 * forwarder; then its line goes to stderr, as when journald's socket is
 * full.
 * SPDX-License-Identifier: ISC
 */
#define _GNU_SOURCE
#include <sys/types.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

#include "journal_fwd.h"
#include "log.h"
#include "text.h"

#define BATCH_MS	2	/* an entry waits at most this long here */

/* Room for the longest entry log.c sends, and the PID after it. */
#define ENTRY_ROOM	(JOURNAL_ENTRY_MAX + sizeof "SYSLOG_PID=4294967295\n")

/* The sender's credentials; descriptors a sender passed are closed. */
static const struct ucred *
sender_of(struct msghdr *m)
{
	const struct ucred *sender = NULL;

	struct cmsghdr *c;
	size_t fds;

	for (c = CMSG_FIRSTHDR(m); c != NULL; c = CMSG_NXTHDR(m, c)) {
		if (c->cmsg_level != SOL_SOCKET)
			continue;
		fds = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);
		if (c->cmsg_type == SCM_CREDENTIALS)
			sender = (const struct ucred *)CMSG_DATA(c);
		else if (c->cmsg_type == SCM_RIGHTS)
			for (size_t i = 0; i < fds; i++)
				close(((int *)CMSG_DATA(c))[i]);
	}
	return sender;
}

/*
 * journald's socket holds few datagrams (net.unix.max_dgram_qlen, 10 by
 * default), and waiting for room woke journald and the forwarder once an
 * entry.  A short pause instead lets journald empty it in one go; after a
 * second of pauses, a plain wait.
 */
static ssize_t
send_paced(int fd, const char *entry, size_t len)
{
	struct timespec pause = { 0, 200000 };
	ssize_t n;

	for (int pauses = 0;; pauses++) {
		n = send(fd, entry, len,
		    MSG_NOSIGNAL | (pauses < 5000 ? MSG_DONTWAIT : 0));
		if (n != -1 || (errno != EAGAIN && errno != EWOULDBLOCK &&
		    errno != EINTR))
			return n;
		if (errno != EINTR)
			nanosleep(&pause, NULL);
	}
}

/*
 * One entry to journald, at journald's pace (the sessions' entries wait in
 * the pair meanwhile); on a new socket if journald was restarted.  Lost
 * if journald is not there.
 */
static void
pass_on(int *journald, const char *entry, size_t len)
{
	ssize_t n;

	for (int attempt = 0; attempt < 2; attempt++) {
		if (*journald == -1 && (*journald = journal_connect(0)) == -1)
			return;
		n = send_paced(*journald, entry, len);
		if (n != -1 || (errno != ECONNREFUSED && errno != ENOTCONN))
			return;
		close(*journald);
		*journald = -1;
	}
}

/*
 * Until every session and the listener have closed their end.  Entries go
 * on in batches: woken by one, the forwarder waits BATCH_MS for others and
 * then passes on all it has, so that it and journald wake once a batch
 * rather than once an entry (with send_paced(): 1.3 and 1.2 wake-ups a
 * session at 4,000 sessions/s, against 3.4 and 3.3).
 */
static void
forward(int from_sessions, int to_journald)
{
	char entry[ENTRY_ROOM];
	union {
		struct cmsghdr	 align;
		char		 space[CMSG_SPACE(sizeof(struct ucred)) +
				       CMSG_SPACE(sizeof(int) * 4)];
	} control;
	int in_batch = 0;

	for (;;) {
		struct iovec iov = { entry, JOURNAL_ENTRY_MAX };
		struct msghdr m = { .msg_iov = &iov, .msg_iovlen = 1,
				    .msg_control = control.space,
				    .msg_controllen = sizeof control.space };
		ssize_t n = recvmsg(from_sessions, &m, MSG_CMSG_CLOEXEC |
		    (in_batch ? MSG_DONTWAIT : 0));
		const struct ucred *sender;
		struct text t = TEXT(entry);

		if (n == -1 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
			in_batch = 0;
			continue;
		}
		/* End of file (an empty entry carries credentials). */
		if ((n == 0 && m.msg_controllen == 0) ||
		    (n == -1 && errno != EINTR))
			return;
		if (!in_batch) {
			poll(NULL, 0, BATCH_MS);
			in_batch = 1;
		}
		if (n == -1)		/* EINTR */
			continue;
		sender = sender_of(&m);	/* which closes what came along */
		if (n == 0 || sender == NULL || (m.msg_flags & MSG_TRUNC) ||
		    entry[n - 1] != '\n')
			continue;
		t.len = (size_t)n;
		add(&t, "SYSLOG_PID=");
		add_num(&t, (unsigned long long)sender->pid, 1);
		add(&t, "\n");
		pass_on(&to_journald, entry, t.len);
	}
}

/*
 * Forks the forwarder if journald is there to take entries; its end of
 * the pair goes to log.c for the sessions.  close_others closes, in the
 * forwarder, what it must not hold (the listening sockets).  Its PID, or
 * -1 if there is none (the sessions then send to journald themselves).
 */
pid_t
journal_fwd_start(void (*close_others)(void))
{
	/* A session waits this long for room before its line goes to stderr. */
	struct timeval patience = { 0, 500000 };
	int pair[2], journald = journal_connect(0), on = 1;
	pid_t pid;

	if (journald == -1)
		return -1;
	if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, pair) == -1) {
		close(journald);
		return -1;
	}
	/* Without the senders' credentials, no SYSLOG_PID: no forwarder. */
	if (setsockopt(pair[0], SOL_SOCKET, SO_PASSCRED, &on,
	    sizeof on) == -1) {
		close(pair[0]);
		close(pair[1]);
		close(journald);
		return -1;
	}
	setsockopt(pair[1], SOL_SOCKET, SO_SNDTIMEO, &patience,
	    sizeof patience);
	pid = fork();
	if (pid == 0) {
		close(pair[1]);
		close_others();
		/* It ends with the sessions, not before. */
		signal(SIGTERM, SIG_IGN);
		signal(SIGINT, SIG_IGN);
		forward(pair[0], journald);
		_exit(0);
	}
	close(pair[0]);
	close(journald);
	if (pid == -1)
		close(pair[1]);
	else
		log_journal_via(pair[1]);
	return pid;
}

/*
 * When the listener stops: its end closed, the forwarder gets its end of
 * file once the sessions are gone, and has a second to pass on what it
 * still holds.
 */
void
journal_fwd_stop(pid_t pid)
{
	log_journal_via(-1);
	for (int i = 0; i < 100; i++) {
		if (waitpid(pid, NULL, WNOHANG) != 0)
			return;
		poll(NULL, 0, 10);
	}
	kill(pid, SIGKILL);
	waitpid(pid, NULL, 0);
}
