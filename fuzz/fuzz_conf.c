/*
 * libFuzzer target for the socks.conf parser and matcher: the input's
 * first 35 bytes are a request (command, destination, source), the next
 * up to a NUL, if the request is by name, its name; the rest is the file.
 * SPDX-License-Identifier: ISC
 */
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>

#include "../addr.h"
#include "../firewall.h"
#include "../socks.h"

int LLVMFuzzerTestOneInput(const uint8_t *, size_t);

static void
address_from(const uint8_t *b, struct sockaddr_storage *ss)
{
	memset(ss, 0, sizeof *ss);
	if (b[0] & 1) {
		struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)ss;
		s6->sin6_family = AF_INET6;
		memcpy(&s6->sin6_addr, b + 1, 16);
	} else {
		struct sockaddr_in *s4 = (struct sockaddr_in *)ss;
		s4->sin_family = AF_INET;
		memcpy(&s4->sin_addr, b + 1, 4);
		s4->sin_port = (in_port_t)(b[5] << 8 | b[6]);
	}
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct ruleset rules = { .path = "socks.conf" };
	static struct conf_space space;
	char *text = conf_text(&space);
	struct conf_error errs[4];
	char why[CONF_LINE_MAX + 128];
	struct text t = TEXT(why);
	char name[256] = "";
	struct sockaddr_storage dst, src;
	struct query q = { .dst = &dst, .src = &src };
	const uint8_t *nul;
	size_t skip = 35;
	int bad, r, line;

	if (size < 35)
		return 0;
	address_from(data + 1, &dst);
	address_from(data + 18, &src);
	if (data[0] & 8 && (nul = memchr(data + 35, '\0', size - 35)) != NULL &&
	    nul - (data + 35) < (long)sizeof name) {
		memcpy(name, data + 35, (size_t)(nul - (data + 35)) + 1);
		skip += (size_t)(nul - (data + 35)) + 1;
		q.name = name;
	}
	size -= skip;
	if (size > CONF_MAX)
		size = CONF_MAX;
	memcpy(text, data + skip, size);
	text[size] = '\0';
	/* Rules behind the text, as socks4d lays them: ASan sees overlaps. */
	conf_rules_after(&space, size, &rules);
	bad = conf_parse(text, size, &rules, errs, 4);
	if (bad < 0 || rules.n < 0 || rules.n > RULES_MAX)
		abort();
	for (int i = 0; i < bad && i < 4; i++) {
		if (errs[i].why == NULL || errs[i].line < 1 ||
		    errs[i].field < -1 || errs[i].field >= (int)size)
			abort();
		/* The message quotes the field from the text, bounded. */
		t.len = 0;
		conf_error_text(&rules, &errs[i], &t);
		if (t.len >= sizeof why || why[t.len] != '\0')
			abort();
	}
	t.len = 0;
	q.cmd = data[0] & 4 ? SOCKS_UDP_ASSOCIATE : data[0] & 1 ? SOCKS_BIND :
	    SOCKS_CONNECT;
	q.user = data[0] & 2 ? "alice" : NULL;
	r = conf_decide(&rules, &q, &t);
	if (r < 0 || r > 1 || t.len >= sizeof why || why[t.len] != '\0')
		abort();
	/*
	 * The early checks never turn down a client, or a name before its
	 * lookup, that a rule would permit.
	 */
	if (r == 1 && !conf_may(&rules, &q, &line))
		abort();
	t.len = 0;
	if (r == 1 && q.name != NULL && !conf_may_name(&rules, &q,
	    port_of(&dst), &t))
		abort();
	/* No name rule matches a request by address. */
	if (q.name == NULL) {
		for (int i = 0; i < rules.n; i++)
			if (rules.rule[i].dst.family == PATTERN_NAME)
				rules.rule[i].cmds = 0;
		t.len = 0;
		if (conf_decide(&rules, &q, &t) != r)
			abort();
	}
	return 0;
}
