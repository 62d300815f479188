/* hw4.cgi's sessions and the query's fields, shared by its files.
   SPDX-License-Identifier: ISC */
#ifndef HW4_H
#define HW4_H

#include <stddef.h>

#include "../socks.h"
#include "escape.h"

#define NSESS		5
#define NFIELD		5		/* h, p, f, sh, sp */
#define HOST_MAX	253		/* a DNS name; bounds the 4a hostname */
#define PORT_MAX	5		/* digits */
#define FNAME_MAX	64		/* test file names are short */
#define SCRIPT_MAX	(64 * 1024)	/* test file size */
/* All a host or test file name may hold: no spaces, no markup, nothing
   a query value would need encoded. */
#define NAME_CHARS	"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz" \
			"0123456789._-"

enum state { S_CONNECTING, S_SOCKS_REPLY, S_RUNNING, S_DONE };
enum field { F_HOST, F_PORT, F_FILE, F_SHOST, F_SPORT };
enum end { END_CLOSED, END_TRUNCATED, END_ERROR };	/* how it ended */

struct session {
	int row;			/* 1..5, as in the form */
	char host[HOST_MAX + 1], shost[HOST_MAX + 1], file[FNAME_MAX + 1];
	char port[PORT_MAX + 1], sport[PORT_MAX + 1];
	const char *why;		/* the row is left out: why ... */
	enum field bad;			/* ... and at which field */
	enum state st;
	int fd;
	unsigned char req[SOCKS4_REPLY_LEN + 1 + HOST_MAX + 1]; /* request */
	const char *out;		/* bytes still to send */
	size_t outlen;
	unsigned char reply[SOCKS4_REPLY_LEN];
	size_t replen;
	char script[SCRIPT_MAX + 1];	/* the test file, '\n' after each */
	size_t scriptlen, next;		/* its length; the next line */
	char tail[2];			/* the last two bytes: the prompt? */
	struct utf8 u8;
	long long deadline;
	long shown;			/* shell bytes put on the page */
};

/* One column of the form: a field of every row. */
struct field_spec {
	const char *key;		/* in the query, before the row */
	const char *title;		/* the column's title */
	const char *label;		/* its aria-label, less the row */
	int width;			/* the input's size */
	const char *attrs;		/* what else the input says */
	size_t offset, size;		/* its buffer in struct session */
};

extern const struct field_spec fields[NFIELD];

const char	*field_value(const struct session *, enum field);
int		 plain_name(const char *);

#endif
