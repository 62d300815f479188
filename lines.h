/*
 * The lines of a configuration text (socks.conf, the users file) and how
 * a message names one: "file:LINE".
 * SPDX-License-Identifier: ISC
 */
#ifndef LINES_H
#define LINES_H

#include <stddef.h>

#include "text.h"

struct lines {
	const char	*text;
	size_t		 len, off;
	unsigned	 number;	/* of the line last returned, from 1 */
};

#define LINES(text, len)	{ (text), (len), 0, 0 }

int	next_line(struct lines *, const char **, size_t *);
void	add_file_line(struct text *, const char *, unsigned);

#endif
