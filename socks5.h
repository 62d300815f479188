/*
 * SOCKS5 messages: pure parsers over "the bytes so far" and builders.
 * RFC 1928 (SOCKS Protocol Version 5), RFC 1929 (Username/Password).
 *
 * Each parser returns -1 when the bytes are malformed (*why says how),
 * 0 when more bytes are needed, 1 when the message is complete; then its
 * len field says how many bytes it took, and any bytes after those belong
 * to the next message or to the relay.  No I/O, no global state.
 * SPDX-License-Identifier: ISC
 */
#ifndef SOCKS5_H
#define SOCKS5_H

#include <sys/socket.h>
#include <stddef.h>
#include <stdint.h>

#define SOCKS5_NAME_MAX		255	/* ULEN, PLEN, a name's length byte */
#define SOCKS5_GREETING_MAX	(2 + 255)
#define SOCKS5_LOGIN_MAX	(3 + 255 + 255)
#define SOCKS5_REQUEST_MAX	(4 + 1 + 255 + 2)
#define SOCKS5_ADDR_WIRE_MAX	(1 + 16 + 2)	/* ATYP, IPv6 address, port */
#define SOCKS5_REPLY_MAX	(3 + SOCKS5_ADDR_WIRE_MAX)
#define SOCKS5_UDP_HEADER_MAX	(3 + 1 + 1 + 255 + 2)

/* An address as the wire carries it: ATYP, then IPv4, IPv6 or a name. */
struct socks5_addr {
	int		 atyp;		/* SOCKS5_ATYP_IPV4, _NAME or _IPV6 */
	uint8_t		 ip[16];	/* 4 bytes for IPv4, 16 for IPv6 */
	char		 name[SOCKS5_NAME_MAX + 1]; /* ATYP 3, NUL-terminated */
	uint16_t	 port;
};

struct socks5_greeting {
	size_t		 nmethods;		/* 1..255 */
	uint8_t		 methods[255];
	size_t		 len;
};

/* RFC 1929: both fields are 1..255 bytes; NUL-terminated as well. */
struct socks5_login {
	uint8_t		 name[SOCKS5_NAME_MAX + 1];
	size_t		 name_len;
	uint8_t		 password[SOCKS5_NAME_MAX + 1];
	size_t		 password_len;
	size_t		 len;
};

struct socks5_request {
	int		 cmd;		/* SOCKS_CONNECT, _BIND, ... */
	struct socks5_addr dst;
	size_t		 len;
	int		 reply;		/* when malformed: the REP to send */
};

struct socks5_udp {
	int		 frag;		/* 0: a whole datagram */
	struct socks5_addr dst;
	size_t		 len;		/* header length: DATA starts here */
};

int	socks5_parse_greeting(const uint8_t *, size_t, struct socks5_greeting *,
	    const char **);
int	socks5_parse_login(const uint8_t *, size_t, struct socks5_login *,
	    const char **);
int	socks5_parse_request(const uint8_t *, size_t, struct socks5_request *,
	    const char **);
int	socks5_parse_udp(const uint8_t *, size_t, struct socks5_udp *,
	    const char **);

int	socks5_choose_method(const struct socks5_greeting *, int);
size_t	socks5_reply(uint8_t *, int, const struct sockaddr *);
size_t	socks5_udp_header(uint8_t *, const struct sockaddr *);
int	socks5_sockaddr(const struct socks5_addr *, struct sockaddr_storage *);

#endif
