/*
 * HW4_ALLOW, read once: entries ADDR[/BITS][:PORT[-PORT]], separated by
 * spaces or commas.  Anything it cannot read refuses every direct row: a
 * typo must not open the door.
 */
#include <arpa/inet.h>
#include <ctype.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "allow.h"

#define ALLOW_MAX	64		/* entries */
#define SEPARATORS	" \t,"

struct allow {
	uint32_t net, mask;
	unsigned long lo, hi;
};

static int	parse_entry(char *, struct allow *);
static int	parse_number(const char *, unsigned long *);

static struct allow allow[ALLOW_MAX];
static int nallow;

/* NULL when read, else why no direct row may run. */
const char *
allow_parse(const char *spec)
{
	char tok[64];
	size_t len;

	if (spec == NULL || spec[strspn(spec, SEPARATORS)] == '\0')
		return "HW4_ALLOW is not set, so only rows with a SOCKS server "
		    "run";
	for (;;) {
		spec += strspn(spec, SEPARATORS);
		if (*spec == '\0')
			return NULL;
		len = strcspn(spec, SEPARATORS);
		if (len >= sizeof tok || nallow == ALLOW_MAX)
			break;
		memcpy(tok, spec, len);
		tok[len] = '\0';
		spec += len;
		if (parse_entry(tok, &allow[nallow]) == -1)
			break;
		nallow++;
	}
	return "HW4_ALLOW cannot be read, so only rows with a SOCKS server run";
}

int
allow_permits(const struct sockaddr_in *sa)
{
	uint32_t addr = ntohl(sa->sin_addr.s_addr);
	unsigned port = ntohs(sa->sin_port);
	int i;

	for (i = 0; i < nallow; i++)
		if ((addr & allow[i].mask) == allow[i].net &&
		    port >= allow[i].lo && port <= allow[i].hi)
			return 1;
	return 0;
}

static int
parse_entry(char *tok, struct allow *a)
{
	char *slash, *colon, *dash;
	unsigned long bits = 32;
	struct in_addr in;

	a->lo = 1;
	a->hi = 65535;
	if ((colon = strchr(tok, ':')) != NULL) {
		*colon++ = '\0';
		if ((dash = strchr(colon, '-')) != NULL)
			*dash++ = '\0';
		if (parse_number(colon, &a->lo) == -1)
			return -1;
		a->hi = a->lo;
		if (dash != NULL && parse_number(dash, &a->hi) == -1)
			return -1;
		if (a->lo < 1 || a->hi > 65535 || a->lo > a->hi)
			return -1;
	}
	if ((slash = strchr(tok, '/')) != NULL) {
		*slash++ = '\0';
		if (parse_number(slash, &bits) == -1 || bits > 32)
			return -1;
	}
	if (inet_pton(AF_INET, tok, &in) != 1)
		return -1;
	a->mask = bits == 0 ? 0 : 0xffffffffU << (32 - bits);
	a->net = ntohl(in.s_addr) & a->mask;
	return 0;
}

/* Digits only, not strtoul's leading space or sign. */
static int
parse_number(const char *s, unsigned long *v)
{
	char *end;

	if (!isdigit((unsigned char)*s))
		return -1;
	*v = strtoul(s, &end, 10);
	return *end == '\0' ? 0 : -1;
}
