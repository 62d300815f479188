/*
 * SOCKS protocol numbers, shared by socks4d and hw4.cgi.
 *
 * SOCKS4: Ying-Da Lee, "SOCKS: A protocol for TCP proxy across firewalls";
 * SOCKS4A: the same author's extension.  SOCKS5: RFC 1928, RFC 1929.
 * SPDX-License-Identifier: ISC
 */
#ifndef SOCKS_H
#define SOCKS_H

#define SOCKS4_VERSION		4
#define SOCKS4_REPLY_VERSION	0	/* a reply's VN is 0, not 4 */
#define SOCKS4_REPLY_LEN	8
#define SOCKS4_GRANTED		90
#define SOCKS4_REJECTED		91

/* Commands: the same numbers in SOCKS4 and SOCKS5. */
#define SOCKS_CONNECT		1
#define SOCKS_BIND		2
#define SOCKS_UDP_ASSOCIATE	3	/* SOCKS5 only */

#define SOCKS5_VERSION		5
#define SOCKS5_AUTH_NONE	0x00
#define SOCKS5_AUTH_PASSWORD	0x02
#define SOCKS5_AUTH_NO_METHOD	0xff
#define SOCKS5_PASSWORD_VERSION	1	/* RFC 1929 subnegotiation */

#define SOCKS5_ATYP_IPV4	1
#define SOCKS5_ATYP_NAME	3
#define SOCKS5_ATYP_IPV6	4

/* SOCKS5 reply codes, RFC 1928 section 6. */
#define SOCKS5_SUCCEEDED	0x00
#define SOCKS5_GENERAL_FAILURE	0x01
#define SOCKS5_NOT_ALLOWED	0x02
#define SOCKS5_NET_UNREACHABLE	0x03
#define SOCKS5_HOST_UNREACHABLE	0x04
#define SOCKS5_REFUSED		0x05
#define SOCKS5_TTL_EXPIRED	0x06
#define SOCKS5_CMD_UNSUPPORTED	0x07
#define SOCKS5_ATYP_UNSUPPORTED	0x08

#endif
