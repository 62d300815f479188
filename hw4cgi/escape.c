/*
 * Text from a shell or the query, escaped for both places it goes: HTML,
 * and a JavaScript string inside <script>.  Only printable ASCII other
 * than &<>"'\ is left as is, so the result can end neither the string nor
 * the script element.  Non-ASCII is decoded here so that the page is pure
 * ASCII: a character becomes one numeric reference, and what is not a
 * character (invalid, overlong or cut-short UTF-8, surrogates, code points
 * past U+10FFFF) or is a control becomes U+FFFD, in every browser alike.
 * SPDX-License-Identifier: ISC
 */
#include <stdio.h>
#include <string.h>

#include "escape.h"

struct sink {
	char *buf;
	size_t len;
};

static void	escape_byte(struct utf8 *, unsigned char, struct sink *);
static void	start_sequence(struct utf8 *, unsigned char, struct sink *);
static uint32_t	decoded(const struct utf8 *);
static void	put_ref(struct sink *, uint32_t);
static void	put_bytes(struct sink *, const char *, size_t);

/*
 * Escape n bytes into out, which holds ESC_OUT_MAX(n).  A byte is started
 * only while ESC_REF_MAX bytes of room are left, so the output can pass
 * room by what one byte gives past that.  Returns the input bytes taken;
 * *outlen is the output's length.
 */
size_t
escape_text(struct utf8 *u, const unsigned char *in, size_t n, char *out,
    size_t room, size_t *outlen)
{
	struct sink o = { out, 0 };
	size_t i;

	for (i = 0; i < n && o.len + ESC_REF_MAX <= room; i++)
		escape_byte(u, in[i], &o);
	*outlen = o.len;
	return i;
}

/* The text is over: a sequence cut short at its end is U+FFFD. */
size_t
escape_end(struct utf8 *u, char *out)
{
	struct sink o = { out, 0 };

	if (u->need)
		put_ref(&o, 0xfffd);
	*u = (struct utf8){ 0, 0, 0 };
	return o.len;
}

static void
escape_byte(struct utf8 *u, unsigned char c, struct sink *o)
{
	if (u->need) {
		if ((c & 0xc0) == 0x80) {
			u->cp = u->cp << 6 | (c & 0x3f);
			if (--u->need == 0)
				put_ref(o, decoded(u));
			return;
		}
		u->need = 0;	/* cut short: c starts afresh */
		put_ref(o, 0xfffd);
	}
	if (c >= 0x80)
		start_sequence(u, c, o);
	else if (c == '\n')
		put_bytes(o, "<br>", 4);
	else if (c == '\r')
		;		/* CRLF shells: the '\n' does the break */
	else if (c == '\t' || (c >= ' ' && c < 0x7f &&
	    strchr("&<>\"'\\", c) == NULL))
		put_bytes(o, (const char *)&c, 1);
	else
		put_ref(o, c >= ' ' && c < 0x7f ? c : 0xfffd);
}

static void
start_sequence(struct utf8 *u, unsigned char c, struct sink *o)
{
	if ((c & 0xe0) == 0xc0)
		*u = (struct utf8){ c & 0x1f, 0x80, 1 };
	else if ((c & 0xf0) == 0xe0)
		*u = (struct utf8){ c & 0x0f, 0x800, 2 };
	else if ((c & 0xf8) == 0xf0)
		*u = (struct utf8){ c & 0x07, 0x10000, 3 };
	else
		put_ref(o, 0xfffd);
}

/* A whole sequence's code point, or U+FFFD where it is no character. */
static uint32_t
decoded(const struct utf8 *u)
{
	if (u->cp < u->min || u->cp > 0x10ffff ||
	    (u->cp >= 0xd800 && u->cp <= 0xdfff) ||
	    (u->cp >= 0x80 && u->cp <= 0x9f))
		return 0xfffd;
	return u->cp;
}

static void
put_ref(struct sink *o, uint32_t cp)
{
	char ref[ESC_REF_MAX + 1];

	put_bytes(o, ref, snprintf(ref, sizeof ref, "&#x%X;", (unsigned)cp));
}

static void
put_bytes(struct sink *o, const char *p, size_t n)
{
	memcpy(o->buf + o->len, p, n);
	o->len += n;
}
