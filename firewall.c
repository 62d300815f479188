/*
 * socks.conf: "permit|deny CMDS ADDRESS [port N[-M]] [from SOURCE]
 * [user NAME[,NAME...]]", one rule a line, '#' comments.  ADDRESS is an
 * address pattern or a host name (".example.com": it and every name under
 * it).  First match wins, no match denies, and any malformed line denies
 * everything (fail closed).
 * SPDX-License-Identifier: ISC
 */
#include <sys/types.h>
#include <sys/stat.h>
#include <netinet/in.h>
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "addr.h"
#include "firewall.h"
#include "lines.h"
#include "number.h"
#include "socks.h"

#define FIELDS_MAX	9	/* permit c ADDR port N from SRC user NAMES */
#define FIELD_SHOWN	64	/* bytes of a bad field quoted in a message */
#define HOST_MAX	253	/* a host name's bytes, RFC 1035 */
#define LABEL_MAX	63

#define PATTERNS	" (a.b.c.d with * octets, ADDR, ADDR/BITS, or *)"
#define NOT_DESTINATION	"is not an address pattern or host name" \
			" (a.b.c.d with * octets, ADDR, ADDR/BITS, *, NAME," \
			" or .DOMAIN: it and every name under it)"
#define RULE_FORM	" (permit|deny c|b|u ADDRESS [port N[-M]] " \
			"[from SOURCE] [user NAME[,NAME...]])"

/*
 * Opened before privileges are dropped, so it may be root's; nonblocking,
 * so that a FIFO in its place cannot hang the session.  -1: why says.
 */
int
conf_open(const char *path, struct text *why)
{
	struct stat st;
	/* No O_CLOEXEC: socks4d runs nothing, and musl pays an fcntl(). */
	int fd = open(path, O_RDONLY | O_NONBLOCK | O_NOCTTY);
	const char *err = NULL;

	if (fd == -1)
		err = strerror(errno);
	else if (fstat(fd, &st) == -1)
		err = strerror(errno);
	else if (!S_ISREG(st.st_mode))
		err = "not a regular file";
	if (err == NULL)
		return fd;
	if (fd != -1) {
		close(fd);
		errno = EINVAL;	/* there is a file, if not of the right kind */
	}
	add(why, path);
	add(why, ": ");
	add(why, err);
	return -1;
}

/* Read it whole into text (CONF_MAX + 1 bytes), and close it. */
int
conf_read(int fd, const char *path, char *text, size_t *len, struct text *why)
{
	ssize_t n = 0;
	size_t got = 0;

	while (got <= CONF_MAX &&
	    (n = read(fd, text + got, CONF_MAX + 1 - got)) > 0)
		got += (size_t)n;
	close(fd);
	if (n == -1 || got > CONF_MAX) {
		add(why, path);
		add(why, ": ");
		add(why, n == -1 ? strerror(errno) :
		    "larger than " XSTR(CONF_KIB) " KiB");
		return -1;
	}
	text[got] = '\0';
	*len = got;
	return 0;
}

/* Where the text goes: CONF_MAX + 1 bytes. */
char *
conf_text(struct conf_space *cs)
{
	return (char *)cs->room;
}

/* The rules of a text of len bytes go right behind it. */
void
conf_rules_after(struct conf_space *cs, size_t len, struct ruleset *rs)
{
	rs->rule = cs->room +
	    (len + 1 + sizeof(struct rule) - 1) / sizeof(struct rule);
}

/* The classic pattern: four dotted fields, each 0-255 or "*". */
static int
parse_octets(const char *s, struct pattern *p)
{
	char field[4];
	size_t n;
	long v;

	p->family = AF_INET;
	for (int i = 0; i < 4; i++) {
		if ((n = strcspn(s, ".")) == 0 || n > 3)
			return -1;
		memcpy(field, s, n);
		field[n] = '\0';
		if (strcmp(field, "*") != 0) {
			if ((v = number(field, 255)) == -1)
				return -1;
			p->addr[i] = (uint8_t)v;
			p->mask[i] = 0xff;
		}
		s += n;
		if (i < 3 && *s++ != '.')
			return -1;
	}
	return *s == '\0' ? 0 : -1;
}

/* "*", "140.113.*.*", "10.0.0.0/8", "::1", "fd00::/8". */
static int
parse_pattern(char *tok, struct pattern *p)
{
	char *slash = strchr(tok, '/');
	long bits;
	int i;

	memset(p, 0, sizeof *p);
	if (strcmp(tok, "*") == 0)
		return 0;
	if (slash != NULL)
		*slash = '\0';
	if (inet_pton(AF_INET, tok, p->addr) == 1)
		p->family = AF_INET;
	else if (inet_pton(AF_INET6, tok, p->addr) == 1)
		p->family = AF_INET6;
	else
		return slash == NULL ? parse_octets(tok, p) : -1;
	bits = p->family == AF_INET ? 32 : 128;
	if (slash != NULL && (bits = number(slash + 1, bits)) == -1)
		return -1;
	/* Mapped addresses are matched as IPv4, so mapped patterns are too. */
	if (p->family == AF_INET6 &&
	    IN6_IS_ADDR_V4MAPPED((struct in6_addr *)p->addr)) {
		if (bits < 96)
			return -1;
		memmove(p->addr, p->addr + 12, 4);
		memset(p->addr + 4, 0, 12);
		p->family = AF_INET;
		bits -= 96;
	}
	for (i = 0; i < 16; i++, bits -= 8)
		p->mask[i] = bits >= 8 ? 0xff :
		    bits > 0 ? (uint8_t)(0xff << (8 - bits)) : 0;
	for (i = 0; i < 16; i++)
		p->addr[i] &= p->mask[i];
	return 0;
}

static int
pattern_matches(const struct pattern *p, const struct sockaddr_storage *ss)
{
	int family;
	const uint8_t *a;

	if (p->family == 0)
		return 1;
	if ((a = addr_bytes(ss, &family)) == NULL || family != p->family)
		return 0;
	for (int i = 0; i < (family == AF_INET ? 4 : 16); i++)
		if ((a[i] & p->mask[i]) != p->addr[i])
			return 0;
	return 1;
}

static int
is_label_byte(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
	    (c >= '0' && c <= '9') || c == '-' || c == '_';
}

/*
 * A host name pattern, at off in the text: "www.example.com" (that name)
 * or ".example.com" (it and every name under it), a trailing dot ignored;
 * labels of letters, digits, '-' and '_'.  A last label of digits alone
 * is an address mistyped (140.113.1), not a name.  NULL, or why not.
 */
static const char *
parse_name(const char *tok, size_t off, struct rule *r)
{
	size_t len = strlen(tok), label = 0, i;
	int suffix = tok[0] == '.', digits = 1;

	if (len > 0 && tok[len - 1] == '.')
		len--;
	if (len <= (size_t)suffix)
		return NOT_DESTINATION;
	if (tok[0] == '*' && tok[1] == '.')
		return "is not a pattern: a name and every name under it are "
		    "written .example.com";
	for (i = (size_t)suffix; i <= len; i++) {
		if (i < len && tok[i] != '.') {
			if (!is_label_byte(tok[i]))
				return NOT_DESTINATION;
			digits &= tok[i] >= '0' && tok[i] <= '9';
			if (++label > LABEL_MAX)
				return "has a label longer than "
				    XSTR(LABEL_MAX) " bytes";
			continue;
		}
		if (label == 0 || (i == len && digits))
			return NOT_DESTINATION;
		label = 0;
		digits = 1;
	}
	if (len - (size_t)suffix > HOST_MAX)
		return "is a name longer than " XSTR(HOST_MAX) " bytes";
	r->dst.family = PATTERN_NAME;
	r->name_suffix = (uint8_t)suffix;
	r->name_off = (uint32_t)(off + (size_t)suffix);
	r->name_len = (uint8_t)(len - (size_t)suffix);
	return NULL;
}

/*
 * Whether a name pattern matches the name a request gave (NULL: it gave
 * an address, which no name pattern matches): the same name, or for a
 * suffix one under it, case aside, a trailing dot ignored.
 */
static int
name_matches(const struct ruleset *rs, const struct rule *r, const char *name)
{
	const char *p = rs->text + r->name_off;
	size_t n, len = r->name_len;

	if (name == NULL || name[0] == '\0')
		return 0;
	n = strlen(name);
	if (name[n - 1] == '.')
		n--;
	if (n == len)
		return strncasecmp(name, p, len) == 0;
	return r->name_suffix && n > len && name[n - len - 1] == '.' &&
	    strncasecmp(name + n - len, p, len) == 0;
}

/* ADDRESS, at off in the text: an address pattern or a host name. */
static const char *
parse_destination(char *tok, size_t off, struct rule *r)
{
	/* No name has a '/', and parse_pattern cuts the field there. */
	int slash = strchr(tok, '/') != NULL;

	if (parse_pattern(tok, &r->dst) == 0)
		return NULL;
	return slash ? NOT_DESTINATION : parse_name(tok, off, r);
}

static int
is_blank(char c)
{
	return c == ' ' || c == '\t' || c == '\r';
}

/*
 * The fields of a line, split at blanks in place, up to a '#': how many,
 * up to max + 1 (tok[max] is a field too many).  By hand: socks.conf is
 * parsed for every client, and strtok_r cost more than the rest of the
 * parse.
 */
static int
split_fields(char *line, char **tok, int max)
{
	char *p = line;
	int n = 0;

	for (;;) {
		while (is_blank(*p))
			p++;
		if (*p == '\0' || *p == '#' || n == max + 1)
			return n;
		tok[n++] = p;
		while (*p != '\0' && *p != '#' && !is_blank(*p))
			p++;
		if (*p == '#')
			*p = '\0';
		else if (*p != '\0')
			*p++ = '\0';
	}
}

static const char *
parse_commands(const char *s, struct rule *r)
{
	for (; *s != '\0'; s++) {
		if (*s == 'c')
			r->cmds |= 1 << SOCKS_CONNECT;
		else if (*s == 'b')
			r->cmds |= 1 << SOCKS_BIND;
		else if (*s == 'u')
			r->cmds |= 1 << SOCKS_UDP_ASSOCIATE;
		else
			return "is not commands: letters of c, b and u";
	}
	return NULL;
}

static const char *
parse_ports(char *s, struct rule *r)
{
	char *dash = strchr(s, '-');
	long lo, hi;

	if (dash != NULL)
		*dash++ = '\0';
	lo = number(s, 65535);
	hi = dash != NULL ? number(dash, 65535) : lo;
	if (lo == -1 || hi == -1 || lo > hi)
		return "is not a port or range (N or N-M, 0..65535)";
	r->port_lo = (uint16_t)lo;
	r->port_hi = (uint16_t)hi;
	return NULL;
}

/* "NAME[,NAME...]": names of 1..255 bytes. */
static const char *
parse_users(const char *s, size_t off, struct rule *r)
{
	size_t len = strlen(s), name = 0;

	for (size_t i = 0; i <= len; i++) {
		if (i < len && s[i] != ',') {
			name++;
			continue;
		}
		if (name == 0 || name > 255)
			return "is not a user list (NAME[,NAME...], no blanks, "
			    "names of 1..255 bytes)";
		name = 0;
	}
	r->users_off = (uint32_t)off;
	r->users_len = (uint16_t)len;
	return NULL;
}

/* 'p', 'f' or 'u' for "port", "from" or "user"; 0 for anything else. */
static int
keyword(const char *s)
{
	if (strcmp(s, "port") == 0)
		return 'p';
	if (strcmp(s, "from") == 0)
		return 'f';
	return strcmp(s, "user") == 0 ? 'u' : 0;
}

/*
 * The 'port', 'from' and 'user' part of a rule, from tok[3] on: NULL, or
 * why it is malformed (*bad: the field it is about).
 */
static const char *
parse_options(char **tok, int n, char *line, size_t off, struct rule *r,
    char **bad)
{
	const char *why;
	int k, seen = 0;

	for (int i = 3; i < n; i += 2) {
		*bad = tok[i];
		k = keyword(tok[i]);
		if (k == 0 && i > 3 && keyword(tok[i - 2]) == 'u')
			return "follows a user list: names are comma-separated "
			    "(user NAME,NAME)";
		if (k == 0)
			return "is not 'port', 'from' or 'user'" RULE_FORM;
		/* Past FIELDS_MAX all three were given: a repeat ends it. */
		if (seen & 1 << (k - 'a'))
			return "is given twice";
		seen |= 1 << (k - 'a');
		if (i + 1 == n)
			return k == 'p' ? "needs a port or range" :
			    k == 'f' ? "needs a source pattern" :
			    "needs names (NAME[,NAME...])";
		*bad = tok[i + 1];
		if (k == 'f') {
			if (parse_pattern(tok[i + 1], &r->src) == -1)
				return "is not a source pattern" PATTERNS;
		} else if (k == 'p') {
			if ((why = parse_ports(tok[i + 1], r)) != NULL)
				return why;
		} else if ((why = parse_users(tok[i + 1],
		    off + (size_t)(tok[i + 1] - line), r)) != NULL)
			return why;
	}
	return NULL;
}

/*
 * One line, which starts at off in the text: 1 a rule, 0 blank or
 * comment, -1 malformed (why says how, about the field *bad, if not NULL).
 */
static int
parse_rule(char *line, size_t off, struct rule *r, const char **why,
    char **bad)
{
	char *tok[FIELDS_MAX + 1];
	int n;

	*bad = NULL;
	if ((n = split_fields(line, tok, FIELDS_MAX)) == 0)
		return 0;
	memset(r, 0, sizeof *r);
	r->port_hi = 65535;
	*bad = tok[0];
	*why = "is not 'permit' or 'deny'";
	if (strcmp(tok[0], "permit") == 0)
		r->permit = 1;
	else if (strcmp(tok[0], "deny") != 0)
		return -1;
	*why = "needs commands and an address after it" RULE_FORM;
	if (n < 2)
		return -1;
	*bad = tok[1];
	if ((*why = parse_commands(tok[1], r)) != NULL)
		return -1;
	*why = "needs an address after it" RULE_FORM;
	if (n < 3)
		return -1;
	*bad = tok[2];
	if ((*why = parse_destination(tok[2], off + (size_t)(tok[2] - line),
	    r)) != NULL)
		return -1;
	if ((*why = parse_options(tok, n, line, off, r, bad)) != NULL)
		return -1;
	*bad = NULL;
	return 1;
}

/*
 * Every rule of text into rs.  Returns how many lines are malformed; the
 * first max of them are described in errs.
 */
int
conf_parse(const char *text, size_t len, struct ruleset *rs,
    struct conf_error *errs, int max)
{
	struct lines ls = LINES(text, len);
	char line[CONF_LINE_MAX + 1];
	const char *start, *why;
	char *field = NULL;
	size_t n;
	int bad = 0, got;

	rs->n = 0;
	rs->text = text;
	while (next_line(&ls, &start, &n)) {
		field = NULL;
		if (n > CONF_LINE_MAX) {
			why = "line longer than " XSTR(CONF_LINE_MAX) " bytes";
			got = -1;
		} else if (memchr(start, '\0', n) != NULL) {
			why = "NUL byte in the line";
			got = -1;
		} else {
			memcpy(line, start, n);
			line[n] = '\0';
			got = parse_rule(line, (size_t)(start - text),
			    &rs->rule[rs->n], &why, &field);
		}
		if (got == -1 && bad++ < max) {
			errs[bad - 1].line = (int)ls.number;
			errs[bad - 1].why = why;
			errs[bad - 1].field = field == NULL ? -1 :
			    (int)(start - text + (field - line));
		}
		if (got == 1)
			rs->rule[rs->n++].line = (int)ls.number;
	}
	return bad;
}

/*
 * "file:LINE: 'FIELD' why", the field as it is in the text (escaped, and
 * cut short if long), or "file:LINE: why" for a line as a whole.
 */
void
conf_error_text(const struct ruleset *rs, const struct conf_error *e,
    struct text *t)
{
	const char *f;
	size_t len;

	add_file_line(t, rs->path, (unsigned)e->line);
	add(t, ": ");
	if (e->field >= 0) {
		f = rs->text + e->field;
		len = strcspn(f, " \t\r\n#");
		add(t, "'");
		add_escaped(t, f, len > FIELD_SHOWN ? FIELD_SHOWN : len);
		add(t, len > FIELD_SHOWN ? "...' " : "' ");
	}
	add(t, e->why);
}

/* The line of the first rule with a user list, or 0: -t's warning. */
int
conf_users_line(const struct ruleset *rs)
{
	for (int i = 0; i < rs->n; i++)
		if (rs->rule[i].users_len != 0)
			return rs->rule[i].line;
	return 0;
}

/* A query's user that every user list names: "would some login do?" */
const char conf_any_login[] = "";

/*
 * Whether a rule's user list names user, the name a SOCKS5 or HTTP client
 * logged in as (NULL: none; a SOCKS4 USERID is a claim, not a login), or
 * is conf_any_login.
 */
static int
user_matches(const struct ruleset *rs, const struct rule *r, const char *user)
{
	const char *p = rs->text + r->users_off, *end = p + r->users_len;
	const char *comma;
	size_t len;

	if (r->users_len == 0 || user == conf_any_login)
		return 1;
	if (user == NULL)
		return 0;
	len = strlen(user);
	for (; p < end; p = comma + 1) {
		if ((comma = memchr(p, ',', (size_t)(end - p))) == NULL)
			comma = end;
		if ((size_t)(comma - p) == len && memcmp(p, user, len) == 0)
			return 1;
	}
	return 0;
}

/* Whether rule r is about q's command, client and port. */
static int
applies(const struct ruleset *rs, const struct rule *r, const struct query *q,
    uint16_t port)
{
	return (r->cmds & 1 << q->cmd) && pattern_matches(&r->src, q->src) &&
	    port >= r->port_lo && port <= r->port_hi &&
	    user_matches(rs, r, q->user);
}

/* Whether r's ADDRESS is q's: a name rule by q's name, any other by address. */
static int
destination_matches(const struct ruleset *rs, const struct rule *r,
    const struct query *q)
{
	return r->dst.family == PATTERN_NAME ? name_matches(rs, r, q->name) :
	    pattern_matches(&r->dst, q->dst);
}

/*
 * The first rule that names addresses (neither * nor a name) and matches
 * q's address, if it denies: a name permit never reaches an address the
 * file shuts by address, since whoever runs a name's DNS, not this file,
 * says what it resolves to.  * stays the catch-all: "permit c
 * .example.com" then "deny c *" does what it says.
 */
static const struct rule *
address_denial(const struct ruleset *rs, const struct query *q, uint16_t port)
{
	for (const struct rule *r = rs->rule; r < rs->rule + rs->n; r++)
		if (r->dst.family != 0 && r->dst.family != PATTERN_NAME &&
		    applies(rs, r, q, port) && pattern_matches(&r->dst, q->dst))
			return r->permit ? NULL : r;
	return NULL;
}

/*
 * The first rule that matches decides (a name rule by the request's name,
 * any other by the address); no match denies.  A name permit still gives
 * way to an address rule that denies (address_denial).  A CONNECT to
 * 0.0.0.0/8, :: or port 0 is never made, whatever the rules say.  1
 * permit, 0 deny; why says which line decided.
 */
int
conf_decide(const struct ruleset *rs, const struct query *q, struct text *why)
{
	const struct rule *r, *d;
	uint16_t port = port_of(q->dst);

	if (q->cmd == SOCKS_CONNECT && (port == 0 || is_unspecified(q->dst))) {
		add(why, "destination 0.0.0.0 or port 0");
		return 0;
	}
	for (r = rs->rule; r < rs->rule + rs->n; r++) {
		if (!applies(rs, r, q, port) || !destination_matches(rs, r, q))
			continue;
		if (r->dst.family == PATTERN_NAME && r->permit &&
		    (d = address_denial(rs, q, port)) != NULL) {
			add_file_line(why, rs->path, (unsigned)d->line);
			add(why, " denies the address (");
			add_file_line(why, rs->path, (unsigned)r->line);
			add(why, " permits the name)");
			return 0;
		}
		add_file_line(why, rs->path, (unsigned)r->line);
		add(why, r->permit ? " permits" : " denies");
		return r->permit;
	}
	add(why, "no rule in ");
	add(why, rs->path);
	add(why, " matches");
	return 0;
}

/*
 * Whether some rule could permit this client (source, and user if logged
 * in) q's command to some destination: a rule for it that permits, before
 * a rule for it that denies every destination and port (*line: that
 * rule's line, else 0).  Asked before anything is done for the client: a
 * listener, a name lookup.
 */
int
conf_may(const struct ruleset *rs, const struct query *q, int *line)
{
	const struct rule *r;

	*line = 0;
	for (r = rs->rule; r < rs->rule + rs->n; r++) {
		if (!(r->cmds & 1 << q->cmd) ||
		    !pattern_matches(&r->src, q->src) ||
		    !user_matches(rs, r, q->user))
			continue;
		if (r->permit)
			return 1;
		if (r->dst.family == 0 && r->port_lo == 0 &&
		    r->port_hi == 65535) {
			*line = r->line;
			return 0;
		}
	}
	return 0;
}

/*
 * Before q's name is looked up: whether any address it may resolve to
 * could be permitted at port.  0 (why names the line) when a rule denies
 * the name, or all addresses, before any rule could permit one: then the
 * name is never looked up.
 */
int
conf_may_name(const struct ruleset *rs, const struct query *q, uint16_t port,
    struct text *why)
{
	const struct rule *r;

	if (q->cmd == SOCKS_CONNECT && port == 0) {
		add(why, "destination 0.0.0.0 or port 0");
		return 0;
	}
	for (r = rs->rule; r < rs->rule + rs->n; r++) {
		if (!applies(rs, r, q, port) ||
		    (r->dst.family == PATTERN_NAME &&
		    !name_matches(rs, r, q->name)))
			continue;
		if (r->permit)
			return 1;
		if (r->dst.family == PATTERN_NAME || r->dst.family == 0) {
			add_file_line(why, rs->path, (unsigned)r->line);
			add(why, " denies");
			return 0;
		}
	}
	add(why, "no rule in ");
	add(why, rs->path);
	add(why, " matches");
	return 0;
}

/*
 * The ports at which a decision may change, ascending, from 1: where a
 * rule's port range begins, and just past where one ends.  How many.
 */
int
conf_port_bounds(const struct ruleset *rs, uint16_t *out, int max)
{
	unsigned long seen[65536 / (8 * sizeof(unsigned long))] = { 0 };
	const size_t w = 8 * sizeof(unsigned long);
	unsigned p;
	int n = 0;

	seen[0] |= 1UL << 1;
	for (int i = 0; i < rs->n; i++) {
		p = rs->rule[i].port_lo;
		seen[p / w] |= 1UL << p % w;
		if ((p = rs->rule[i].port_hi + 1U) <= 65535)
			seen[p / w] |= 1UL << p % w;
	}
	for (p = 1; p <= 65535 && n < max; p++)
		if (seen[p / w] & 1UL << p % w)
			out[n++] = (uint16_t)p;
	return n;
}

/* Whether any rule names a source: then a question without one differs. */
int
conf_has_sources(const struct ruleset *rs)
{
	for (int i = 0; i < rs->n; i++)
		if (rs->rule[i].src.family != 0)
			return 1;
	return 0;
}
