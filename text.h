/*
 * Text assembled by appending into a fixed buffer, cut short at its end.
 * The one way socks4d builds what it logs: musl's snprintf reads its format
 * twice, and a dozen calls were most of a short session's instructions.
 * SPDX-License-Identifier: ISC
 */
#ifndef TEXT_H
#define TEXT_H

#include <stddef.h>

struct text {
	char	*buf;
	size_t	 len, size;	/* size includes the terminating NUL */
};

#define TEXT(buf)	{ (buf), 0, sizeof(buf) }

/* A limit's value in a fixed message: "longer than " XSTR(MAX) " bytes". */
#define STR(x)		#x
#define XSTR(x)		STR(x)

void	add(struct text *, const char *);
void	add_num(struct text *, unsigned long long, int);
void	add_escaped(struct text *, const void *, size_t);
void	add_escaped_str(struct text *, const char *);
void	add_ipv4(struct text *, const unsigned char *);

#endif
