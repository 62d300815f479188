/* Walking a text line by line, and naming a line: see lines.h.
   SPDX-License-Identifier: ISC */
#include <string.h>

#include "lines.h"

/*
 * The next line and its length without the newline: 0 at the end.  The
 * last line counts with or without its newline, and may hold NUL bytes:
 * the caller decides what they mean.
 */
int
next_line(struct lines *ls, const char **line, size_t *len)
{
	const char *nl;

	if (ls->off >= ls->len)
		return 0;
	*line = ls->text + ls->off;
	nl = memchr(*line, '\n', ls->len - ls->off);
	*len = nl != NULL ? (size_t)(nl - *line) : ls->len - ls->off;
	ls->off += *len + 1;
	ls->number++;
	return 1;
}

void
add_file_line(struct text *t, const char *file, unsigned line)
{
	add(t, file);
	add(t, ":");
	add_num(t, line, 1);
}
