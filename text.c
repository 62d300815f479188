/* Appending text: see text.h.
   SPDX-License-Identifier: ISC */
#include <string.h>

#include "text.h"

void
add(struct text *t, const char *s)
{
	while (*s != '\0' && t->len + 1 < t->size)
		t->buf[t->len++] = *s++;
	t->buf[t->len] = '\0';
}

/* A decimal number, with leading zeros to at least width digits. */
void
add_num(struct text *t, unsigned long long v, int width)
{
	char d[24];
	int i = sizeof d - 1;

	d[i] = '\0';
	do
		d[--i] = (char)('0' + v % 10);
	while ((v /= 10) != 0 || sizeof d - 1 - i < (size_t)width);
	add(t, d + i);
}

/*
 * Outside text in the log: printable ASCII stays, \r \n \t \\ are
 * escaped, and the rest (and '"', which one-line records quote with)
 * becomes \xNN.  Only whole escapes are added.
 */
void
add_escaped(struct text *t, const void *in, size_t n)
{
	static const char hex[] = "0123456789abcdef";
	const unsigned char *p = in;
	char *out = t->buf;

	for (size_t i = 0; i < n && t->len + 5 < t->size; i++) {
		unsigned char c = p[i];

		if (c == '\r' || c == '\n' || c == '\t' || c == '\\') {
			out[t->len++] = '\\';
			out[t->len++] = c == '\r' ? 'r' : c == '\n' ? 'n' :
			    c == '\t' ? 't' : '\\';
		} else if (c < 0x20 || c >= 0x7f || c == '"') {
			out[t->len++] = '\\';
			out[t->len++] = 'x';
			out[t->len++] = hex[c >> 4];
			out[t->len++] = hex[c & 15];
		} else
			out[t->len++] = (char)c;
	}
	if (t->size > 0)
		out[t->len] = '\0';
}

void
add_escaped_str(struct text *t, const char *s)
{
	add_escaped(t, s, strlen(s));
}

/* Dotted IPv4 by hand: musl's inet_ntop is an snprintf. */
void
add_ipv4(struct text *t, const unsigned char *a)
{
	for (int i = 0; i < 4; i++) {
		if (i > 0)
			add(t, ".");
		add_num(t, a[i], 1);
	}
}
