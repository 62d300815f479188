/*
 * The one escaper for text from outside (a shell, the query) on its way
 * into the page: the result is safe both in HTML and inside a JavaScript
 * string in a <script> element, and it is pure ASCII.
 * SPDX-License-Identifier: ISC
 */
#ifndef ESCAPE_H
#define ESCAPE_H

#include <stddef.h>
#include <stdint.h>

#define ESC_REF_MAX	10	/* longest reference: "&#x10FFFF;" */
/* Most output n input bytes can give: a byte after a cut-short sequence
   gives two references of U+FFFD. */
#define ESC_OUT_MAX(n)	((n) * 16)

struct utf8 {			/* decoder state carried across reads */
	uint32_t cp, min;
	int need;
};

size_t	escape_text(struct utf8 *, const unsigned char *, size_t, char *,
	    size_t, size_t *);
size_t	escape_end(struct utf8 *, char *);

#endif
