/*
 * libFuzzer target for hw4.cgi's escaper.  The input's first two bytes
 * are a budget (0xffff: none), the third where to split the rest, the
 * text.  Whatever the text, the output must be what the page writer can
 * put both into HTML and into a JavaScript string: printable ASCII or
 * tab (so valid UTF-8), '<' only in "<br>" (one a newline), '&' only in
 * a reference to a real character, and no '>', '"', '\'' or '\\' of its
 * own, so neither the string nor the <script> element can end inside it.
 * It must also fit its buffer, not depend on how the text is split
 * between reads, and stop where the budget says, as a prefix of the whole.
 * SPDX-License-Identifier: ISC
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../hw4cgi/escape.h"

int LLVMFuzzerTestOneInput(const uint8_t *, size_t);

struct out {
	char *buf;
	size_t len;
};

/* Escaped into a buffer of the size the contract promises and extra
   bytes more: ASan sees a byte written past it. */
static struct out
escape_into(struct utf8 *u, const uint8_t *in, size_t n, size_t room,
    size_t extra, size_t *took)
{
	size_t size = ESC_OUT_MAX(n) + extra;
	struct out o;

	if ((o.buf = malloc(size > 0 ? size : 1)) == NULL)
		abort();
	*took = escape_text(u, in, n, o.buf, room, &o.len);
	if (*took > n || o.len > ESC_OUT_MAX(n))
		abort();
	return o;
}

/* A reference the escaper may write: a character that is real, and in
   ASCII only the ones that would be markup or end a string. */
static int
ref_ok(unsigned long cp)
{
	if (cp < 0x80)
		return cp != 0 && strchr("&<>\"'\\", (int)cp) != NULL;
	return cp >= 0xa0 && cp <= 0x10ffff && !(cp >= 0xd800 && cp <= 0xdfff);
}

/* How many "<br>" the output holds, or -1 if it breaks the contract. */
static long
breaks(const char *p, size_t n)
{
	const char *end = p + n, *semi;
	char ref[16], *hexend;
	unsigned long cp;
	long br = 0;

	while (p < end) {
		if (*p == '<') {
			if (end - p < 4 || memcmp(p, "<br>", 4) != 0)
				return -1;
			p += 4;
			br++;
		} else if (*p == '&') {
			semi = memchr(p, ';', end - p);
			if (semi == NULL || semi - p > 9 || semi - p < 4 ||
			    memcmp(p, "&#x", 3) != 0)
				return -1;
			cp = strtoul(p + 3, &hexend, 16);
			/* As written: upper case, no leading zeros. */
			if (hexend != semi || !ref_ok(cp) ||
			    snprintf(ref, sizeof ref, "&#x%lX;", cp) !=
			    semi - p + 1 || memcmp(ref, p, semi - p + 1) != 0)
				return -1;
			p = semi + 1;
		} else if ((*p == '\t' || (*p >= ' ' && *p < 0x7f)) &&
		    strchr(">\"'\\", *p) == NULL)
			p++;
		else
			return -1;
	}
	return br;
}

static long
newlines(const uint8_t *p, size_t n)
{
	long k = 0;

	while (n-- > 0)
		k += *p++ == '\n';
	return k;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct utf8 u = { 0, 0, 0 }, v = { 0, 0, 0 };
	struct out whole, a, b;
	char tail[ESC_REF_MAX];
	size_t n, cut, room, took, tlen;

	if (size < 3)
		return 0;
	room = data[0] == 0xff && data[1] == 0xff ? SIZE_MAX :
	    (size_t)data[0] << 8 | data[1];
	n = size - 3;
	cut = n * data[2] / 255;
	data += 3;

	/* The whole text, and its end. */
	whole = escape_into(&u, data, n, SIZE_MAX, ESC_REF_MAX, &took);
	tlen = escape_end(&u, tail);
	memcpy(whole.buf + whole.len, tail, tlen);
	if (took != n || tlen > ESC_REF_MAX || u.need != 0 ||
	    breaks(whole.buf, whole.len + tlen) != newlines(data, n))
		abort();

	/* In two reads, the decoder's state carried between them. */
	a = escape_into(&v, data, cut, SIZE_MAX, 0, &took);
	b = escape_into(&v, data + cut, n - cut, SIZE_MAX, 0, &took);
	if (a.len + b.len != whole.len ||
	    memcmp(a.buf, whole.buf, a.len) != 0 ||
	    memcmp(b.buf, whole.buf + a.len, b.len) != 0)
		abort();
	free(a.buf);
	free(b.buf);

	/* With a budget: a prefix, started only with ESC_REF_MAX left. */
	memset(&v, 0, sizeof v);
	a = escape_into(&v, data, n, room, 0, &took);
	if (memcmp(a.buf, whole.buf, a.len) != 0 ||
	    (took < n && a.len + ESC_REF_MAX <= room) ||
	    (took > 0 && room < SIZE_MAX &&
	    a.len + ESC_REF_MAX > room + ESC_OUT_MAX(1)))
		abort();
	free(a.buf);
	free(whole.buf);
	return 0;
}
