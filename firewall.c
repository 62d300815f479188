/*
 * socks.conf: "permit|deny CMDS ADDRESS [port N[-M]] [from SOURCE]", one
 * rule a line, '#' comments.  First match wins, no match denies, and any
 * malformed line denies everything (fail closed).
 */
#include <sys/types.h>
#include <sys/stat.h>
#include <netinet/in.h>
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <unistd.h>

#include "addr.h"
#include "firewall.h"
#include "lines.h"
#include "number.h"
#include "socks.h"

#define FIELDS_MAX	9	/* permit c ADDR port N from SRC user NAMES */

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
is_blank(char c)
{
	return c == ' ' || c == '\t' || c == '\r';
}

/*
 * The fields of a line, split at blanks in place, up to a '#': how many,
 * or -1 if there are more than max.  By hand: socks.conf is parsed for
 * every client, and strtok_r cost more than the rest of the parse.
 */
static int
split_fields(char *line, char **tok, int max)
{
	char *p = line;
	int n = 0;

	for (;;) {
		while (is_blank(*p))
			p++;
		if (*p == '\0' || *p == '#')
			return n;
		if (n == max)
			return -1;
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
			return "command must be letters of c, b and u";
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
		return "bad port or port range";
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
			return "bad user list";
		name = 0;
	}
	r->users_off = (uint32_t)off;
	r->users_len = (uint16_t)len;
	return NULL;
}

/*
 * One line, which starts at off in the text: 1 a rule, 0 blank or
 * comment, -1 malformed (why says how).
 */
static int
parse_rule(char *line, size_t off, struct rule *r, const char **why)
{
	char *tok[FIELDS_MAX];
	int n, i, seen_port = 0, seen_from = 0, seen_user = 0;

	if ((n = split_fields(line, tok, FIELDS_MAX)) == -1) {
		*why = "too many fields";
		return -1;
	}
	if (n == 0)
		return 0;
	memset(r, 0, sizeof *r);
	r->port_hi = 65535;
	*why = "expected 'permit' or 'deny'";
	if (strcmp(tok[0], "permit") == 0)
		r->permit = 1;
	else if (strcmp(tok[0], "deny") != 0)
		return -1;
	*why = "expected 'permit|deny c|b|u|cbu ADDRESS'";
	if (n < 3 || (*why = parse_commands(tok[1], r)) != NULL)
		return -1;
	*why = "bad address pattern";
	if (parse_pattern(tok[2], &r->dst) == -1)
		return -1;
	for (i = 3; i < n; i += 2) {
		*why = "'port', 'from' and 'user' need a value";
		if (i + 1 == n)
			return -1;
		if (strcmp(tok[i], "from") == 0) {
			*why = seen_from++ ? "'port' or 'from' given twice" :
			    "bad source pattern";
			if (seen_from > 1 ||
			    parse_pattern(tok[i + 1], &r->src) == -1)
				return -1;
		} else if (strcmp(tok[i], "port") == 0) {
			*why = "'port' or 'from' given twice";
			if (seen_port++ ||
			    (*why = parse_ports(tok[i + 1], r)) != NULL)
				return -1;
		} else if (strcmp(tok[i], "user") == 0) {
			*why = "'user' given twice";
			if (seen_user++ || (*why = parse_users(tok[i + 1],
			    off + (size_t)(tok[i + 1] - line), r)) != NULL)
				return -1;
		} else {
			*why = "expected 'port', 'from' or 'user'";
			return -1;
		}
	}
	*why = NULL;
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
	size_t n;
	int bad = 0, got;

	rs->n = 0;
	rs->text = text;
	while (next_line(&ls, &start, &n)) {
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
			    &rs->rule[rs->n], &why);
		}
		if (got == -1 && bad++ < max) {
			errs[bad - 1].line = (int)ls.number;
			errs[bad - 1].why = why;
		}
		if (got == 1)
			rs->rule[rs->n++].line = (int)ls.number;
	}
	return bad;
}

void
conf_error_text(const struct ruleset *rs, const struct conf_error *e,
    struct text *t)
{
	add_file_line(t, rs->path, (unsigned)e->line);
	add(t, ": ");
	add(t, e->why);
}

/*
 * Whether a rule's user list names user, the name a SOCKS5 client logged
 * in as (NULL: none; a SOCKS4 USERID is a claim, not a login).
 */
static int
user_matches(const struct ruleset *rs, const struct rule *r, const char *user)
{
	const char *p = rs->text + r->users_off, *end = p + r->users_len;
	const char *comma;
	size_t len;

	if (r->users_len == 0)
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

/*
 * The first rule that matches decides; no match denies.  A CONNECT to
 * 0.0.0.0/8, :: or port 0 is never made, whatever the rules say.  1
 * permit, 0 deny; why says which line decided.
 */
int
conf_decide(const struct ruleset *rs, int cmd,
    const struct sockaddr_storage *dst, const struct sockaddr_storage *src,
    const char *user, struct text *why)
{
	const struct rule *r;
	uint16_t port = port_of(dst);

	if (cmd == SOCKS_CONNECT && (port == 0 || is_unspecified(dst))) {
		add(why, "destination 0.0.0.0 or port 0");
		return 0;
	}
	for (r = rs->rule; r < rs->rule + rs->n; r++) {
		if (!(r->cmds & 1 << cmd) || !pattern_matches(&r->dst, dst) ||
		    !pattern_matches(&r->src, src) || port < r->port_lo ||
		    port > r->port_hi || !user_matches(rs, r, user))
			continue;
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
 * in) cmd to some destination: a rule for it that permits, before a rule
 * for it that denies every destination and port (*line: that rule's line,
 * else 0).  Asked before anything is done for the client: a listener, a
 * name lookup.
 */
int
conf_may(const struct ruleset *rs, int cmd, const struct sockaddr_storage *src,
    const char *user, int *line)
{
	const struct rule *r;

	*line = 0;
	for (r = rs->rule; r < rs->rule + rs->n; r++) {
		if (!(r->cmds & 1 << cmd) || !pattern_matches(&r->src, src) ||
		    !user_matches(rs, r, user))
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
