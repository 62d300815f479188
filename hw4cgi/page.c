/*
 * The page hw4.cgi writes: the form, or the result page up to its panes
 * and then one <script> chunk per event, flushed as it happens so that
 * the browser shows output as it arrives.  All text from outside goes
 * through the escaper; the rest is the writer's own markup.
 * SPDX-License-Identifier: ISC
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "page.h"
#include "testfile.h"

#define LIST_MAX	200		/* test files offered by the form */
#define PIECE		1024		/* input escaped at a time */

static const char css[] =
#include "hw4css.h"
;

/* a() appends to a pane, which stays at the bottom unless its reader
   scrolled up; st() sets a pane's state and, once final, its time. */
static const char js[] =
#include "hw4js.h"
;

/* How each end shows: the note's class, the state's class and label. */
static const struct {
	const char *note, *state, *label;
} ends[] = {
	[END_CLOSED] =		{ "info", "closed", "closed" },
	[END_TRUNCATED] =	{ "err", "closed", "closed: output truncated" },
	[END_ERROR] =		{ "err", "error", "error" },
};

static void	page_start(const char *);
static void	left_out(const struct session *);
static void	form_field(const struct session *, enum field);
static void	form_files(void);
static void	pane(const struct session *);
static void	put_query(const struct session *);
static void	pane_state(const struct session *, const char *, const char *,
		    long long);
static void	chunk_begin(const struct session *);
static void	chunk_end(void);
static void	put_str(const char *);
static size_t	put_escaped(struct utf8 *, const char *, size_t, long *);
static void	put_end(struct utf8 *);

void
page_http_header(void)
{
	fputs("Content-Type: text/html; charset=utf-8\r\n"
	    "Cache-Control: no-store\r\n\r\n", stdout);
}

/* The form, as form_get2.htm has it, with the query's values and errors. */
void
page_form(const struct session *sess)
{
	int i, k;

	page_start("hw4.cgi: remote shells, direct or through SOCKS");
	fputs("</head><body>\n<header class=\"top\"><h1>Remote shells, "
	    "direct or through SOCKS</h1></header>\n<p>Each row is one "
	    "session: the shell's host and port, a test file (a name from the "
	    "CGI's test directory), and optionally a SOCKS server (SOCKS4, "
	    "SOCKS4a for a name) to go through. Empty "
	    "rows are skipped; a row without a SOCKS server connects "
	    "directly. The CGI reaches only the hosts and SOCKS servers its "
	    "HW4_ALLOW permits.</p>\n", stdout);
	left_out(sess);
	fputs("<form method=\"GET\" action=\"hw4.cgi\">\n<div class=\"rows\">"
	    "<table>\n<tr><th>#</th>", stdout);
	for (k = 0; k < NFIELD; k++)
		printf("<th>%s</th>", fields[k].title);
	fputs("</tr>\n", stdout);
	for (i = 0; i < NSESS; i++) {
		printf("<tr>\n<th>%d</th>\n", i + 1);
		for (k = 0; k < NFIELD; k++)
			form_field(&sess[i], k);
		fputs("</tr>\n", stdout);
	}
	fputs("</table></div>\n", stdout);
	form_files();
	fputs("<p><button type=\"submit\">Run</button></p>\n</form>\n"
	    "</body></html>\n", stdout);
	fflush(stdout);
}

/* The result page up to the panes; chunks for them follow. */
void
page_head(struct session *const *run, int n, const struct session *sess)
{
	int i;

	page_start("hw4.cgi: remote shells");
	printf("<script>\n%s</script>\n</head><body>\n<header class=\"top\">"
	    "<h1>Remote shells, direct or through SOCKS</h1> "
	    "<a id=\"back\" href=\"",
	    js);
	put_query(sess);
	fputs("\">Back to the form</a></header>\n", stdout);
	left_out(sess);
	fputs("<main class=\"panes\" id=\"sessions\">\n", stdout);
	for (i = 0; i < n; i++)
		pane(run[i]);
	fputs("</main>\n", stdout);
	fflush(stdout);
}

void
page_tail(void)
{
	fputs("</body></html>\n", stdout);
	fflush(stdout);
}

/*
 * Shell output into a pane; budget counts down the page bytes left for
 * it.  Returns the input bytes shown: fewer than n when it ran out.
 */
size_t
pane_output(struct session *s, const unsigned char *p, size_t n,
    long *budget)
{
	size_t shown;

	chunk_begin(s);
	shown = put_escaped(&s->u8, (const char *)p, n, budget);
	chunk_end();
	return shown;
}

/* A test file line as sent, in bold. */
void
pane_command(const struct session *s, const char *line, size_t len)
{
	struct utf8 u = { 0, 0, 0 };

	chunk_begin(s);
	fputs("<b>", stdout);
	put_escaped(&u, line, len, NULL);
	put_end(&u);
	fputs("<\\/b><br>", stdout);
	chunk_end();
}

void
pane_running(const struct session *s)
{
	pane_state(s, "running", "running", -1);
}

/*
 * A session's end: a note in its pane, its final state and time.  An
 * error's message is in the note alone: the state says "error".
 */
void
pane_end(struct session *s, enum end how, const char *msg, long long ms)
{
	chunk_begin(s);
	put_end(&s->u8);
	printf("<div class='%s'>[", ends[how].note);
	put_str(msg);
	fputs("]<\\/div>", stdout);
	chunk_end();
	pane_state(s, ends[how].state, ends[how].label, ms);
}

/* Both pages start alike: one stylesheet, light and dark. */
static void
page_start(const char *title)
{
	printf("<!DOCTYPE html>\n<html lang=\"en\"><head>"
	    "<meta charset=\"utf-8\">\n<meta name=\"viewport\" "
	    "content=\"width=device-width, initial-scale=1\">\n"
	    "<title>%s</title>\n<style>\n%s</style>\n", title, css);
}

static void
left_out(const struct session *sess)
{
	int i;

	for (i = 0; i < NSESS; i++)
		if (sess[i].why != NULL)
			printf("<p class=\"err\">Session %d left out: "
			    "%s.</p>\n", i + 1, sess[i].why);
}

static void
form_field(const struct session *s, enum field k)
{
	const struct field_spec *f = &fields[k];
	const char *value = field_value(s, k);

	printf("<td data-label=\"%s\"><input name=\"%s%d\" id=\"%s%d\" "
	    "aria-label=\"%s %d\" size=\"%d\" maxlength=\"%zu\"%s", f->title,
	    f->key, s->row, f->key, s->row, f->label, s->row, f->width,
	    f->size - 1, f->attrs);
	if (value[0]) {
		fputs(" value=\"", stdout);
		put_str(value);
		putchar('"');
	}
	if (s->why != NULL && s->bad == k)
		printf(" aria-invalid=\"true\" aria-describedby=\"%s%d-err\">"
		    "<span class=\"field-err\" id=\"%s%d-err\">%s</span>",
		    f->key, s->row, f->key, s->row, s->why);
	else
		putchar('>');
	fputs("</td>\n", stdout);
}

/* The test files there are, offered as a list beside the file fields. */
static void
form_files(void)
{
	char *names[LIST_MAX];
	int n = test_file_list(names, LIST_MAX), i;

	fputs("<datalist id=\"files\">\n", stdout);
	for (i = 0; i < n; i++) {
		printf("<option value=\"%s\">\n", names[i]);
		free(names[i]);
	}
	fputs("</datalist>\n", stdout);
}

static void
pane(const struct session *s)
{
	/* Host names and ports passed check_row(): nothing to escape. */
	printf("<section class=\"pane\" id=\"pane%d\"><header>"
	    "<h2>%s:%s</h2>\n<div class=\"meta\">", s->row, s->host, s->port);
	if (s->shost[0])
		printf("via SOCKS %s:%s", s->shost, s->sport);
	else
		fputs("direct", stdout);
	fputs("</div>\n<div class=\"meta\">test file ", stdout);
	put_str(s->file);
	printf("</div>\n<div><span class=\"state connecting\" id=\"st%d\" "
	    "data-state=\"connecting\">connecting</span> <span class=\"clock\" "
	    "id=\"tm%d\">0.0 s</span></div></header>\n<div class=\"out\" "
	    "id=\"s%d\" tabindex=\"0\"></div></section>\n", s->row, s->row,
	    s->row);
}

/* The form again, filled in: every value given, percent-encoded. */
static void
put_query(const struct session *sess)
{
	const unsigned char *p;
	int i, k;

	fputs("hw4.cgi?form", stdout);
	for (i = 0; i < NSESS; i++)
		for (k = 0; k < NFIELD; k++) {
			p = (const unsigned char *)field_value(&sess[i], k);
			if (*p)
				printf("&amp;%s%d=", fields[k].key, i + 1);
			for (; *p; p++)
				if (strchr(NAME_CHARS, *p))
					putchar(*p);
				else
					printf("%%%02X", *p);
		}
}

/* A pane's state (a class: running, closed, error) and, once final, time. */
static void
pane_state(const struct session *s, const char *cls, const char *label,
    long long ms)
{
	printf("<script>st(%d,\"%s\",\"%s\",%lld)</script>\n", s->row, cls,
	    label, ms);
	if (fflush(stdout) == EOF)
		exit(0);		/* the client is gone: nobody to tell */
}

static void
chunk_begin(const struct session *s)
{
	printf("<script>a(%d,\"", s->row);
}

/* Flush per chunk, so the browser sees output as it arrives. */
static void
chunk_end(void)
{
	fputs("\")</script>\n", stdout);
	if (fflush(stdout) == EOF)
		exit(0);		/* the client is gone: nobody to tell */
}

/* Text that is whole in itself. */
static void
put_str(const char *str)
{
	struct utf8 u = { 0, 0, 0 };

	put_escaped(&u, str, strlen(str), NULL);
	put_end(&u);
}

/*
 * Every byte from outside reaches the page here, a piece at a time; with
 * a budget, counted against it and stopped where it runs out.
 */
static size_t
put_escaped(struct utf8 *u, const char *p, size_t n, long *budget)
{
	static char out[ESC_OUT_MAX(PIECE)];
	size_t done = 0, piece, took, len, room;

	while (done < n) {
		piece = n - done < PIECE ? n - done : PIECE;
		room = budget == NULL ? SIZE_MAX : *budget > 0 ?
		    (size_t)*budget : 0;
		took = escape_text(u, (const unsigned char *)p + done, piece,
		    out, room, &len);
		fwrite(out, 1, len, stdout);
		if (budget != NULL)
			*budget -= (long)len;
		done += took;
		if (took < piece)
			break;
	}
	return done;
}

static void
put_end(struct utf8 *u)
{
	char out[ESC_REF_MAX];

	fwrite(out, 1, escape_end(u, out), stdout);
}
