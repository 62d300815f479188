/*
 * libFuzzer target for the socks.conf parser and matcher: the input's
 * first 35 bytes are a request (command, destination, source), the rest
 * is the file.
 * SPDX-License-Identifier: ISC
 */
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>

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
	struct sockaddr_storage dst, src;
	int bad, r, cmd, line;

	if (size < 35)
		return 0;
	address_from(data + 1, &dst);
	address_from(data + 18, &src);
	size -= 35;
	if (size > CONF_MAX)
		size = CONF_MAX;
	memcpy(text, data + 35, size);
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
	cmd = data[0] & 4 ? SOCKS_UDP_ASSOCIATE : data[0] & 1 ? SOCKS_BIND :
	    SOCKS_CONNECT;
	r = conf_decide(&rules, cmd, &dst, &src, data[0] & 2 ? "alice" : NULL,
	    &t);
	if (r < 0 || r > 1 || t.len >= sizeof why || why[t.len] != '\0')
		abort();
	/* The early check never turns down a client a rule would permit. */
	if (r == 1 && !conf_may(&rules, cmd, &src,
	    data[0] & 2 ? "alice" : NULL, &line))
		abort();
	return 0;
}
