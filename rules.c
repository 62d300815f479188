/*
 * rules.c - socks.conf for one session: read and parsed once, asked about
 * each address, and given back before a long relay.  firewall.c parses
 * and decides; this is the session's side.
 * SPDX-License-Identifier: ISC
 */
#define _GNU_SOURCE
#include <sys/mman.h>
#include <sys/socket.h>

#include "firewall.h"
#include "lines.h"
#include "session.h"
#include "socks.h"
#include "text.h"

/* socks.conf's text and rules; page-aligned, to be given back. */
static struct conf_space conf_space __attribute__((aligned(4096)));

/*
 * socks.conf from fd, read whole and parsed, the live way and -t's alike:
 * how many lines are malformed (the first max in errs), or -1 if it could
 * not be read (why says so).
 */
int
rules_read(const char *path, int fd, struct ruleset *rules,
    struct conf_error *errs, int max, struct text *why)
{
	char *text = conf_text(&conf_space);
	size_t len;

	if (conf_read(fd, path, text, &len, why) == -1)
		return -1;
	conf_rules_after(&conf_space, len, rules);
	rules->path = path;
	return conf_parse(text, len, rules, errs, max);
}

/*
 * socks.conf, read and parsed once for this client, or the request
 * rejected: it fails closed.
 */
void
load_rules(struct session *s, int fd, const char *open_error)
{
	struct conf_error err;
	struct text why = TEXT(s->reason);
	int bad;

	if (fd == -1)
		reject(s, SOCKS5_GENERAL_FAILURE, open_error, NULL);
	watch(&s->conf_seen, fd);
	bad = rules_read(s->opt->conf_path, fd, &s->rules, &err, 1, &why);
	if (bad > 0)
		conf_error_text(&s->rules, &err, &why);
	if (bad != 0)
		reject(s, SOCKS5_GENERAL_FAILURE, NULL, NULL);
}

/*
 * socks.conf's new version, from fd, for a running session (review.c): 0,
 * or -1 if it cannot be read or is malformed now, with why.
 */
int
rules_reload(struct session *s, int fd, struct text *why)
{
	struct conf_error err;
	int bad;

	bad = rules_read(s->opt->conf_path, fd, &s->rules, &err, 1, why);
	if (bad > 0)
		conf_error_text(&s->rules, &err, why);
	return bad == 0 ? 0 : -1;
}

/*
 * Whether socks.conf permits this client cmd to dst, an address of name
 * (NULL: the request gave the address); why names the rule.
 */
int
rules_permit(const struct session *s, int cmd,
    const struct sockaddr_storage *dst, const char *name, struct text *why)
{
	struct query q = { .cmd = cmd, .dst = dst, .src = &s->src,
	    .user = s->login, .name = name != NULL && name[0] != '\0' ?
	    name : NULL };

	why->len = 0;
	return conf_decide(&s->rules, &q, why);
}

/*
 * Whether some rule could permit this client cmd, whatever the
 * destination; if none could, why names the rule that shuts it out, or
 * says that none lets it in.
 */
int
rules_may(const struct session *s, int cmd, struct text *why)
{
	static const char *const names[] = {
		[SOCKS_CONNECT] = "CONNECT", [SOCKS_BIND] = "BIND",
		[SOCKS_UDP_ASSOCIATE] = "UDP ASSOCIATE" };
	struct query q = { .cmd = cmd, .src = &s->src, .user = s->login };
	int line;

	if (conf_may(&s->rules, &q, &line))
		return 1;
	if (line != 0) {
		add_file_line(why, s->rules.path, (unsigned)line);
		add(why, " denies");
		return 0;
	}
	add(why, "no rule in ");
	add(why, s->rules.path);
	add(why, " permits ");
	add(why, names[cmd]);
	add(why, " for this client");
	return 0;
}

/*
 * Before name is looked up: whether some address of it could be permitted
 * to this client cmd at port; if none could, why names the rule.
 */
int
rules_may_name(const struct session *s, int cmd, const char *name,
    uint16_t port, struct text *why)
{
	struct query q = { .cmd = cmd, .name = name, .src = &s->src,
	    .user = s->login };

	return conf_may_name(&s->rules, &q, port, why);
}

/*
 * Whether a login would change the answer to this client's request, which
 * it made without one and socks.conf denied: HTTP then asks for one (407).
 * Asked of the address it was denied (s->dst, for a name its first), or
 * for a name refused before its lookup, of the name.
 */
int
rules_want_login(const struct session *s)
{
	char buf[REASON_MAX];
	struct text t = TEXT(buf);
	struct query q = { .cmd = s->req.cmd, .src = &s->src,
	    .user = conf_any_login,
	    .name = s->req.host[0] != '\0' ? s->req.host : NULL,
	    .dst = s->req.host[0] != '\0' ? &s->dst : &s->req.addr };

	if (s->rules.rule == NULL || s->req.cmd == 0 ||
	    (q.dst->ss_family != AF_UNSPEC && is_socks4d_itself(s, q.dst)))
		return 0;
	if (q.dst->ss_family == AF_UNSPEC)
		return conf_may_name(&s->rules, &q, s->req.port, &t);
	return conf_decide(&s->rules, &q, &t);
}

/*
 * Nothing in socks.conf could permit this client cmd (to the name its
 * request gave, if it gave one): turn it down before anything is done for
 * it (a listener, a relay socket, a name lookup), with the same reply
 * whatever it asked.
 */
void
require_rule_for(struct session *s, int cmd)
{
	char why[REASON_MAX];
	struct text t = TEXT(why);

	if (!rules_may(s, cmd, &t) || (cmd != SOCKS_UDP_ASSOCIATE &&
	    s->req.host[0] != '\0' &&
	    !rules_may_name(s, cmd, s->req.host, s->req.port, &t)))
		reject(s, SOCKS5_NOT_ALLOWED, why, NULL);
}

/*
 * The pages of a page-aligned buffer, len bytes in use, to the kernel:
 * zero if read again.
 */
void
give_back(void *buf, size_t len)
{
	madvise(buf, (len + 4095) / 4096 * 4096, MADV_DONTNEED);
}

/*
 * A TCP relay never consults the rules again: the pages that hold them and
 * socks.conf go back to the kernel rather than stay with a session that
 * may idle for hours.  Rules that are gone match nothing.
 */
void
forget_rules(struct session *s)
{
	give_back(&conf_space, (size_t)((char *)(s->rules.rule + s->rules.n) -
	    (char *)&conf_space));
	s->rules.rule = NULL;
	s->rules.n = 0;
}
