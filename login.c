/*
 * login.c - SOCKS5 username/password logins (RFC 1929) against the users
 * file: where that file is, and whether a login passes.  users.c parses
 * the file; this is the session's side.
 * SPDX-License-Identifier: ISC
 */
#define _GNU_SOURCE
#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "firewall.h"
#include "session.h"
#include "socks.h"
#include "socks5.h"
#include "text.h"
#include "users.h"

#ifndef SOCKS_PASSWD
#define SOCKS_PASSWD	"/usr/local/etc/socks.passwd"
#endif

/* The users file's text while it is read: its pages go back after. */
static char users_text[CONF_MAX + 1] __attribute__((aligned(4096)));

/*
 * The users file: -u, else the systemd credential socks.passwd when there
 * is one, else the default.  Opened before privileges are dropped, read
 * only when a client logs in.  When it does not exist, no login is asked.
 * Why it cannot be opened is kept (u->error) only if it exists: a session
 * without one (most) writes no page for the message; users_why() says it
 * from the path.
 */
void
users_open(const struct options *opt, struct users_file *u)
{
	static char credential[PATH_MAX], error[PATH_MAX + 64];
	char none[1];
	struct text t = TEXT(credential), why = TEXT(none);
	const char *dir = getenv("CREDENTIALS_DIRECTORY");

	u->path = opt->users_path;
	if (u->path == NULL && dir != NULL) {
		add(&t, dir);
		add(&t, "/socks.passwd");
		if (t.len + 1 < t.size && access(credential, F_OK) == 0)
			u->path = credential;
	}
	if (u->path == NULL)
		u->path = SOCKS_PASSWD;
	u->fd = conf_open(u->path, &why);
	if (u->fd == -1 && errno != ENOENT) {	/* there is one: say why */
		why = (struct text)TEXT(error);
		u->fd = conf_open(u->path, &why);
	}
	u->present = u->fd != -1 || errno != ENOENT;
	u->error = u->fd == -1 && u->present ? error : NULL;
	u->seen.fd = -1;
}

/*
 * Why the users file cannot be opened (u->fd is -1): "PATH: Permission
 * denied", or for none there, "PATH: No such file or directory".
 */
void
users_why(const struct users_file *u, struct text *t)
{
	if (u->error != NULL) {
		add(t, u->error);
		return;
	}
	add(t, u->path);
	add(t, ": ");
	add(t, strerror(ENOENT));
}

/*
 * Whether SOCKS5 logins are on, in words, for the listener's first line
 * and socks4d -t.
 */
void
users_describe(const struct users_file *u, struct text *t)
{
	if (u->fd != -1) {
		add(t, "users file ");
		add(t, u->path);
		return;
	}
	if (u->present) {
		add(t, "users file ");
		users_why(u, t);
		add(t, ": every SOCKS5 login fails");
		return;
	}
	add(t, "no users file (");
	users_why(u, t);
	if (strcmp(u->path, SOCKS_PASSWD) == 0)
		add(t, "; -u names one");
	add(t, "): SOCKS5 clients get no login, 'user' rules never match");
}

/*
 * The login passes against the users file, and the session knows its
 * user; or the client is turned down.  The file is read once, and its
 * hashes and the password leave memory after.
 */
void
check_login(struct session *s, struct socks5_login *l)
{
	char msg[PATH_MAX + 192], more[3 * FIELD_MAX + PATH_MAX + 224];
	struct text why = TEXT(msg), t = TEXT(more);
	size_t len;
	int r = USERS_MALFORMED;

	if (s->users.fd == -1) {
		add(&why, "the users file cannot be opened: ");
		users_why(&s->users, &why);
	} else
		watch(&s->users.seen, s->users.fd);
	if (s->users.fd != -1 && conf_read(s->users.fd, s->users.path,
	    users_text, &len, &why) == 0) {
		r = users_check(users_text, len, s->users.path, l->name,
		    l->name_len, l->password, l->password_len, msg, sizeof msg);
		give_back(users_text, len);
	}
	s->users.fd = -1;
	memset(l->password, 0, sizeof l->password);
	add(&t, (const char *)l->name);
	add(&t, ": ");
	add(&t, msg);
	if (r == USERS_DENIED)		/* the guesser's, not the file's */
		reject_login(s, "login failed for ", more);
	if (r != USERS_OK)
		reject(s, SOCKS5_NOT_ALLOWED, "login failed for ", more);
	memcpy(s->req.user, l->name, l->name_len + 1);
	s->login = s->req.user;
}

/*
 * A running session's user, with the users file's new version from fd
 * (review.c): 0 if it is still named there, or -1 with why.
 */
int
login_current(struct session *s, int fd, struct text *why)
{
	char msg[PATH_MAX + 128];
	size_t len;
	int named = 0, valid;

	if (conf_read(fd, s->users.path, users_text, &len, why) == -1)
		return -1;
	/* A file that fails every login says why, as it does to a login. */
	valid = users_validate(users_text, len, s->users.path, msg,
	    sizeof msg) != USERS_MALFORMED;
	if (valid)
		named = users_names(users_text, len, s->login);
	give_back(users_text, len);
	if (named)
		return 0;
	if (!valid) {
		add(why, msg);
		return -1;
	}
	add(why, "user ");
	add_escaped_str(why, s->login);
	add(why, " is no longer in ");
	add(why, s->users.path);
	return -1;
}
