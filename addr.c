/*
 * Socket addresses: IPv4, IPv6, and IPv4-mapped IPv6, which is compared
 * and printed as the IPv4 address it carries.
 * SPDX-License-Identifier: ISC
 */
#include <sys/types.h>
#include <netinet/in.h>
#include <arpa/inet.h>
#include <string.h>

#include "addr.h"

uint16_t
port_of(const struct sockaddr_storage *ss)
{
	return ntohs(ss->ss_family == AF_INET6 ?
	    ((const struct sockaddr_in6 *)ss)->sin6_port :
	    ((const struct sockaddr_in *)ss)->sin_port);
}

void
set_port(struct sockaddr_storage *ss, uint16_t port)
{
	if (ss->ss_family == AF_INET6)
		((struct sockaddr_in6 *)ss)->sin6_port = htons(port);
	else
		((struct sockaddr_in *)ss)->sin_port = htons(port);
}

socklen_t
addr_len(const struct sockaddr_storage *ss)
{
	return ss->ss_family == AF_INET6 ? sizeof(struct sockaddr_in6) :
	    sizeof(struct sockaddr_in);
}

/*
 * The address bytes and their family, a mapped address unwrapped to IPv4;
 * NULL for anything that is neither.
 */
const uint8_t *
addr_bytes(const struct sockaddr_storage *ss, int *family)
{
	const uint8_t *a;

	if (ss->ss_family == AF_INET) {
		*family = AF_INET;
		return (const uint8_t *)
		    &((const struct sockaddr_in *)ss)->sin_addr;
	}
	if (ss->ss_family != AF_INET6)
		return NULL;
	a = ((const struct sockaddr_in6 *)ss)->sin6_addr.s6_addr;
	if (IN6_IS_ADDR_V4MAPPED((const struct in6_addr *)a)) {
		*family = AF_INET;
		return a + 12;
	}
	*family = AF_INET6;
	return a;
}

/* The IPv4 address, or 0.0.0.0 for IPv6: a SOCKS4 reply has no room for it. */
void
ipv4_of(const struct sockaddr_storage *ss, uint8_t ip[4])
{
	int family;
	const uint8_t *a = addr_bytes(ss, &family);

	memset(ip, 0, 4);
	if (a != NULL && family == AF_INET)
		memcpy(ip, a, 4);
}

/* Whether ss is in the IPv4 block first.0.0.0/8, or is the IPv6 address v6. */
static int
is_host(const struct sockaddr_storage *ss, uint8_t first,
    const struct in6_addr *v6)
{
	int family;
	const uint8_t *a = addr_bytes(ss, &family);

	if (a == NULL)
		return 0;
	return family == AF_INET ? a[0] == first : memcmp(a, v6, 16) == 0;
}

/*
 * 0.0.0.0/8 and :: (and their mapped forms): connecting there reaches
 * this host, whatever the rules say of loopback.
 */
int
is_unspecified(const struct sockaddr_storage *ss)
{
	return is_host(ss, 0, &in6addr_any);
}

int
is_loopback(const struct sockaddr_storage *ss)
{
	return is_host(ss, 127, &in6addr_loopback);
}

int
same_host(const struct sockaddr_storage *x, const struct sockaddr_storage *y)
{
	int fx, fy;
	const uint8_t *a = addr_bytes(x, &fx), *b = addr_bytes(y, &fy);

	return a != NULL && b != NULL && fx == fy &&
	    memcmp(a, b, fx == AF_INET ? 4 : 16) == 0;
}

/* A numeric IPv4 or IPv6 address: 0, or -1 for anything else. */
int
address_of(const char *text, uint16_t port, struct sockaddr_storage *ss)
{
	struct sockaddr_in *sin = (struct sockaddr_in *)ss;
	struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)ss;

	memset(ss, 0, sizeof *ss);
	if (inet_pton(AF_INET, text, &sin->sin_addr) == 1)
		sin->sin_family = AF_INET;
	else if (inet_pton(AF_INET6, text, &sin6->sin6_addr) == 1)
		sin6->sin6_family = AF_INET6;
	else
		return -1;
	set_port(ss, port);
	return 0;
}

void
add_addr(struct text *t, const struct sockaddr_storage *ss)
{
	char buf[INET6_ADDRSTRLEN];
	int family;
	const uint8_t *a = addr_bytes(ss, &family);

	if (a == NULL)
		add(t, "-");
	else if (family == AF_INET)
		add_ipv4(t, a);
	else
		add(t, inet_ntop(AF_INET6, a, buf, sizeof buf) ? buf : "?");
}

/* "ADDR:PORT", "[ADDR]:PORT" for IPv6. */
void
add_addr_port(struct text *t, const struct sockaddr_storage *ss)
{
	int family;
	const uint8_t *a = addr_bytes(ss, &family);

	if (a != NULL && family == AF_INET6)
		add(t, "[");
	add_addr(t, ss);
	if (a != NULL && family == AF_INET6)
		add(t, "]");
	add(t, ":");
	add_num(t, port_of(ss), 1);
}
