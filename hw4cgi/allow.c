/*
 * HW4_ALLOW, read once: every place hw4.cgi may reach.  Entries separated
 * by spaces or commas, each with an optional port or port range (no port:
 * every port):
 *	ADDR[/BITS][:PORT[-PORT]]	an IPv4 address or network
 *	NAME[:PORT[-PORT]]		a host name that does not resolve here
 *					(a SOCKS server resolves it: SOCKS4a)
 * A name has a letter and only the characters of the form's host field.
 * Unset, empty or anything it cannot read: nothing is permitted, and every
 * row says so; a typo must not open the door.
 * SPDX-License-Identifier: ISC
 */
#include <arpa/inet.h>
#include <ctype.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "allow.h"
#include "hw4.h"

#define ALLOW_MAX	64		/* entries */
#define ENTRY_MAX	(HOST_MAX + sizeof ":65535-65535")
#define SEPARATORS	" \t,"
#define HOW_TO_ALLOW	": the server's administrator allows hosts with " \
			"HW4_ALLOW=ADDR[/BITS][:PORT[-PORT]] ..."

struct allow {
	char name[HOST_MAX + 1];	/* a name entry; else "" and ... */
	uint32_t net, mask;		/* ... an address entry */
	unsigned long lo, hi;		/* its ports */
};

static int	permits(const char *, uint32_t, unsigned);
static int	parse_entry(char *, struct allow *);
static int	parse_ports(char *, struct allow *);
static int	parse_name(const char *, struct allow *);
static int	parse_number(const char *, unsigned long *);

static struct allow allow[ALLOW_MAX];
static int nallow;

/* NULL when read, else why no row may run (for every row's pane). */
const char *
allow_parse(const char *spec)
{
	char tok[ENTRY_MAX];
	size_t len;

	if (spec == NULL || spec[strspn(spec, SEPARATORS)] == '\0')
		return "HW4_ALLOW is not set" HOW_TO_ALLOW;
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
	nallow = 0;
	return "HW4_ALLOW cannot be read" HOW_TO_ALLOW;
}

/* An address connected to, or asked of a SOCKS server (SOCKS4). */
int
allow_address(const struct sockaddr_in *sa)
{
	return permits(NULL, ntohl(sa->sin_addr.s_addr), ntohs(sa->sin_port));
}

/* A name that does not resolve here, asked of a SOCKS server (SOCKS4a). */
int
allow_name(const char *name, unsigned port)
{
	return permits(name, 0, port);
}

/* Whether an entry takes port and, for a name, that name, else addr. */
static int
permits(const char *name, uint32_t addr, unsigned port)
{
	const struct allow *a;

	for (a = allow; a < allow + nallow; a++)
		if (port >= a->lo && port <= a->hi && (name != NULL ?
		    a->name[0] && strcasecmp(a->name, name) == 0 :
		    !a->name[0] && (addr & a->mask) == a->net))
			return 1;
	return 0;
}

static int
parse_entry(char *tok, struct allow *a)
{
	char *slash, *colon;
	unsigned long bits = 32;
	struct in_addr in;

	a->lo = 1;
	a->hi = 65535;
	if ((colon = strchr(tok, ':')) != NULL) {
		*colon++ = '\0';
		if (parse_ports(colon, a) == -1)
			return -1;
	}
	if (parse_name(tok, a) == 0)
		return 0;
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

/* PORT or PORT-PORT, 1 to 65535. */
static int
parse_ports(char *s, struct allow *a)
{
	char *dash;

	if ((dash = strchr(s, '-')) != NULL)
		*dash++ = '\0';
	if (parse_number(s, &a->lo) == -1)
		return -1;
	a->hi = a->lo;
	if (dash != NULL && parse_number(dash, &a->hi) == -1)
		return -1;
	return a->lo < 1 || a->hi > 65535 || a->lo > a->hi ? -1 : 0;
}

/* A host name: a letter somewhere, nothing a host name has not. */
static int
parse_name(const char *tok, struct allow *a)
{
	const char *p;

	if (!plain_name(tok) || strlen(tok) > HOST_MAX)
		return -1;
	for (p = tok; !isalpha((unsigned char)*p); p++)
		if (*p == '\0')
			return -1;
	strcpy(a->name, tok);
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
