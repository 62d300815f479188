/*
 * rules.c - socks.conf for one session: read and parsed once, asked about
 * each address, and given back before a long relay.  firewall.c parses
 * and decides; this is the session's side.
 */
#define _GNU_SOURCE
#include <sys/mman.h>
#include <limits.h>

#include "firewall.h"
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
	bad = rules_read(s->opt->conf_path, fd, &s->rules, &err, 1, &why);
	if (bad > 0)
		conf_error_text(&s->rules, &err, &why);
	if (bad != 0)
		reject(s, SOCKS5_GENERAL_FAILURE, NULL, NULL);
}

/* Whether socks.conf permits this client cmd to dst; why names the rule. */
int
rules_permit(const struct session *s, int cmd,
    const struct sockaddr_storage *dst, struct text *why)
{
	why->len = 0;
	return conf_decide(&s->rules, cmd, dst, &s->src, s->login, why);
}

/* Nothing in socks.conf could ever permit cmd: turn it down at once. */
void
require_rule_for(struct session *s, int cmd)
{
	char more[PATH_MAX + 48];
	struct text t = TEXT(more);

	if (conf_may(&s->rules, cmd))
		return;
	add(&t, s->rules.path);
	add(&t, cmd == SOCKS_BIND ? " permits BIND" : " permits UDP ASSOCIATE");
	reject(s, SOCKS5_NOT_ALLOWED, "no rule in ", more);
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
