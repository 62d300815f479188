/*
 * review.c - rules that reach running sessions.  On each tick a granted
 * session looks at socks.conf and the users file; when either has changed
 * since it was read (edited in place, or replaced by a rename), it asks
 * its question again with the files as they are now: this client, as
 * logged in, this command, this destination.  A session now denied ends,
 * and its end line names the line that denies it now, or that its user is
 * gone.  A file that cannot be read now denies, as for a new client.
 *
 * A session that dropped root may not be able to look the path up again
 * (a file under /root, say): it keeps the version it read open, and sees
 * edits in place through it; a replacement it cannot see.
 * SPDX-License-Identifier: ISC
 */
#define _GNU_SOURCE
#include <sys/stat.h>
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <unistd.h>

#include "addr.h"
#include "firewall.h"
#include "session.h"
#include "socks.h"
#include "text.h"

#define UNCHANGED	(-2)

static void
file_id_from(const struct stat *st, struct file_id *id)
{
	*id = (struct file_id){ .dev = st->st_dev, .ino = st->st_ino,
	    .size = st->st_size, .mtime = st->st_mtim, .ctime = st->st_ctim };
}

/* Field by field: a struct's padding, if it has any, is not compared. */
static int
file_id_same(const struct file_id *a, const struct file_id *b)
{
	return a->dev == b->dev && a->ino == b->ino && a->size == b->size &&
	    a->mtime.tv_sec == b->mtime.tv_sec &&
	    a->mtime.tv_nsec == b->mtime.tv_nsec &&
	    a->ctime.tv_sec == b->ctime.tv_sec &&
	    a->ctime.tv_nsec == b->ctime.tv_nsec;
}

/*
 * Keep watching the version of a file that fd is, about to be read.  The
 * copy without close-on-exec, as conf_open()'s: socks4d runs nothing, and
 * musl's F_DUPFD_CLOEXEC pays an fcntl() more.
 */
void
watch(struct watched *w, int fd)
{
	struct stat st;

	memset(&w->id, 0, sizeof w->id);
	if (fstat(fd, &st) == 0)
		file_id_from(&st, &w->id);
	w->fd = fcntl(fd, F_DUPFD, 3);
}

/*
 * The new version of a watched file, to read: a descriptor, UNCHANGED, or
 * -1 (why says so) if it is gone or cannot be read.
 */
static int
new_version(const char *path, struct watched *w, struct text *why)
{
	struct file_id now;
	struct stat st;
	int seen = stat(path, &st) == 0, hidden = !seen && errno == EACCES;
	int fd;

	/* Out of this user's sight: an edit in place, if any. */
	if (hidden && (w->fd == -1 || fstat(w->fd, &st) == -1))
		return UNCHANGED;
	memset(&now, 0, sizeof now);
	if (seen || hidden)
		file_id_from(&st, &now);
	if (file_id_same(&now, &w->id))
		return UNCHANGED;
	if (hidden) {
		lseek(w->fd, 0, SEEK_SET);
		fd = fcntl(w->fd, F_DUPFD, 3);
	} else
		fd = conf_open(path, why);
	if (fd == -1)
		return -1;
	if (w->fd != -1)
		close(w->fd);
	watch(w, fd);
	return fd;
}

/* The session's question, asked of the rules as they are now. */
static int
ask_again(struct session *s, struct text *why)
{
	int named = s->req.host[0] != '\0' || !is_unspecified(&s->req.addr);

	if (s->req.cmd == SOCKS_CONNECT)
		return rules_permit(s, SOCKS_CONNECT, &s->dst, s->req.host,
		    why);
	if (s->req.cmd == SOCKS_BIND)
		return rules_permit(s, SOCKS_BIND, named ? &s->dst : &s->peer,
		    named ? s->req.host : NULL, why);
	/* UDP: each datagram is asked as it comes; here, the client. */
	return rules_may(s, SOCKS_UDP_ASSOCIATE, why);
}

/*
 * 0 if the session may go on; -1 if the files deny it now, with the
 * reason in s->reason.
 */
int
review(struct session *s)
{
	struct text why = TEXT(s->reason);
	int fd, permitted;

	if (s->login != NULL) {
		fd = new_version(s->users.path, &s->users.seen, &why);
		if (fd == -1 || (fd != UNCHANGED &&
		    login_current(s, fd, &why) == -1))
			return -1;
	}
	fd = new_version(s->opt->conf_path, &s->conf_seen, &why);
	if (fd == UNCHANGED)
		return 0;
	if (fd == -1 || rules_reload(s, fd, &why) == -1)
		return -1;
	why.len = 0;
	permitted = ask_again(s, &why);
	if (s->req.cmd != SOCKS_UDP_ASSOCIATE)
		forget_rules(s);
	return permitted ? 0 : -1;
}
