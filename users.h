/*
 * The users file for SOCKS5 username/password logins (RFC 1929): one
 * "name:hash" a line, as `openssl passwd -6` makes the hash (or any hash
 * the C library's crypt(3) verifies), "#" comments and blank lines.
 * The text is read whole by the caller; nothing here does I/O.
 * SPDX-License-Identifier: ISC
 */
#ifndef USERS_H
#define USERS_H

#include <stddef.h>
#include <stdint.h>

#define USERS_FILE_MAX	65536	/* bytes in the whole file */
#define USERS_LINE_MAX	1024	/* bytes in a line, without its newline */
#define USERS_NAME_MAX	255	/* as RFC 1929's ULEN */

enum users_verdict {
	USERS_MALFORMED = -1,	/* the file is: every login fails */
	USERS_DENIED = 0,	/* unknown name or wrong password */
	USERS_OK = 1
};

int	users_validate(const char *, size_t, const char *, char *, size_t);
int	users_unverifiable(const char *, size_t, const char *, char *, size_t);
int	users_names(const char *, size_t, const char *);
int	users_check(const char *, size_t, const char *, const uint8_t *, size_t,
	    const uint8_t *, size_t, char *, size_t);

#endif
